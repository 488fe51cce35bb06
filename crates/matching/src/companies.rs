//! Companies ↔ CRM accounts: preparing a company, its blocking keys, and the field-by-field
//! comparison (website domain, name without legal form, location, phone).

use crate::company_name::{CompanyName, domain_label, registrable_domain};
use crate::country;
use crate::explain::{Agreement, Detail, Field, FieldEvidence};
use crate::fields::{Address, AddressWeights, Packed, Scorer, postal_code, street};
use crate::index::{BlockKey, Entity, Frequencies, MatchConfig, MatchIndex};
use crate::keys::{key, key_u64};
use crate::phone::Phone;
use crate::record::CompanyRecord;
use crate::text::{compact, fold, similarity, within_one_edit};

/// The index of CRM accounts that workspace companies are matched against.
pub type CompanyIndex = MatchIndex<Companies>;

/// Marker type: companies as an [`Entity`].
pub struct Companies;

const NAME: usize = 0;
const CORE: usize = 1;
const DOMAIN: usize = 2;
const STREET: usize = 3;
const CITY: usize = 4;
const POSTAL: usize = 5;
const REGION: usize = 6;
const COUNTRY: usize = 7;
const INDUSTRY: usize = 8;
/// `CORE` without spaces: `acmelogistics`.
const CORE_COMPACT: usize = 9;
/// `CORE`'s words sorted and joined, so reordered names compare equal.
const CORE_SORTED: usize = 10;

/// A company normalised for matching.
pub struct PreparedCompany {
    text: Packed<11>,
    phone: Option<Phone>,
    employees: Option<u32>,
    /// Frequency key of the compact core name (0 when there is no name).
    name_key: u64,
    /// Frequency key of the industry (0 when there is none).
    industry_key: u64,
}

/// How much each part of an address counts when comparing two of these records.
const ADDRESS_WEIGHTS: AddressWeights = AddressWeights {
    street: (3.0, 2.0, -0.5),
    city: (2.0, 1.5, -1.5),
    postal_code: (2.5, 1.0, -1.0),
    region: (0.5, 0.3, -0.5),
    country: (1.0, -4.0),
};

impl PreparedCompany {
    fn get(&self, i: usize) -> &str {
        self.text.get(i)
    }

    fn address(&self) -> Address<'_> {
        Address {
            street: self.get(STREET),
            city: self.get(CITY),
            postal_code: self.get(POSTAL),
            region: self.get(REGION),
            country: self.get(COUNTRY),
        }
    }

    fn core_compact(&self) -> &str {
        self.get(CORE_COMPACT)
    }
}

pub fn prepare_company(r: &CompanyRecord) -> PreparedCompany {
    let name = r
        .name
        .as_deref()
        .map(CompanyName::parse)
        .unwrap_or_default();
    let domain = r
        .website
        .as_deref()
        .and_then(registrable_domain)
        .unwrap_or_default();
    let opt = |v: &Option<String>, f: fn(&str) -> String| v.as_deref().map(f).unwrap_or_default();
    let cap = |mut s: String| {
        crate::text::truncate_at_char(&mut s, crate::text::MAX_FIELD_BYTES);
        s
    };
    let core = cap(name.core);
    let core_compact = compact(&core);
    let mut words: Vec<&str> = core.split(' ').collect();
    words.sort_unstable();
    let core_sorted = words.concat();
    let name_key = if core_compact.is_empty() {
        0
    } else {
        key(b'n', &[&core_compact])
    };
    let text = Packed::new([
        &cap(name.full),
        &core,
        &cap(domain),
        &cap(opt(&r.street, street)),
        &cap(opt(&r.city, fold)),
        &cap(opt(&r.postal_code, postal_code)),
        &cap(opt(&r.region, fold)),
        &cap(opt(&r.country, country::normalise)),
        &cap(opt(&r.industry, fold)),
        &core_compact,
        &core_sorted,
    ]);
    let phone = r
        .phone
        .as_deref()
        .and_then(|p| Phone::parse(p, r.country.as_deref()));
    let employees = r.employees.as_deref().and_then(|e| {
        let digits: String = e
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
            .filter(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    });
    let industry_key = match text.get(INDUSTRY) {
        "" => 0,
        industry => key(b'i', &[industry]),
    };
    PreparedCompany {
        text,
        phone,
        employees,
        name_key,
        industry_key,
    }
}

impl Entity for Companies {
    type Record = CompanyRecord;
    type Prepared = PreparedCompany;

    fn id(record: &CompanyRecord) -> &str {
        &record.id
    }

    fn prepare(record: &CompanyRecord) -> PreparedCompany {
        prepare_company(record)
    }

    fn block_keys(p: &PreparedCompany, out: &mut Vec<BlockKey>) {
        let domain = p.get(DOMAIN);
        if !domain.is_empty() {
            out.push(BlockKey::new(key(b'D', &[domain])));
            out.push(BlockKey::new(key(b'd', &[domain_label(domain)])));
        }
        let core = p.core_compact();
        if !core.is_empty() {
            out.push(BlockKey::new(key(b'N', &[core])));
            // Each half of the name within a country: a typo spoils only one of them.
            let mid = core
                .char_indices()
                .nth(core.chars().count() / 2)
                .map_or(core.len(), |(i, _)| i);
            if mid >= 3 && core.len() - mid >= 3 {
                out.push(BlockKey::name(key(b'H', &[&core[..mid], p.get(COUNTRY)])));
                out.push(BlockKey::name(key(b'T', &[&core[mid..], p.get(COUNTRY)])));
            }
            // A name many companies share (Global Solutions) has a block too large to scan;
            // within a country or a city it is small again.
            for place in [COUNTRY, CITY] {
                if !p.get(place).is_empty() {
                    out.push(BlockKey::new(key(
                        b'Q' + place as u8,
                        &[core, p.get(place)],
                    )));
                }
            }
            // Sorted words catch reordered names.
            if p.get(CORE).contains(' ') {
                out.push(BlockKey::new(key(b'S', &[p.get(CORE_SORTED)])));
            }
        }
        if let Some(phone) = p.phone {
            out.push(BlockKey::new(key_u64(b'P', phone.tail())));
        }
    }

    fn frequency_keys(p: &PreparedCompany, out: &mut Vec<u64>) {
        out.extend([p.name_key, p.industry_key].into_iter().filter(|k| *k != 0));
    }

    fn compare(
        l: &PreparedCompany,
        r: &PreparedCompany,
        freq: &Frequencies<'_>,
        out: &mut Vec<FieldEvidence>,
    ) -> f32 {
        let mut s = Scorer { out, score: 0.0 };
        compare_names(l, r, freq, &mut s);
        match (l.get(DOMAIN), r.get(DOMAIN)) {
            ("", "") => {}
            // With a website on one side only, it may still spell the other side's name.
            (d, "") => website_names(d, l, r, &mut s),
            ("", d) => website_names(d, r, l, &mut s),
            (a, b) if a == b => s.add(Field::Website, Agreement::Exact, None, 10.0),
            (a, b) if domain_label(a) == domain_label(b) => s.add(
                Field::Website,
                Agreement::Equivalent,
                Some(Detail::DomainAlias),
                5.0,
            ),
            _ => s.add(Field::Website, Agreement::Different, None, -3.0),
        }
        s.phone(l.phone, r.phone, (8.0, 6.0, -1.0));
        s.address(&l.address(), &r.address(), &ADDRESS_WEIGHTS);
        compare_industry(l, r, freq, &mut s);
        if let (Some(a), Some(b)) = (l.employees, r.employees) {
            // Sources count staff differently, but rarely by more than half as much again; two
            // unrelated companies land that close about a quarter of the time.
            let ratio = a.max(b) as f32 / a.min(b).max(1) as f32;
            if ratio <= 1.5 {
                s.add(Field::Employees, Agreement::Similar, None, 1.0);
            } else if ratio >= 3.0 {
                s.add(Field::Employees, Agreement::Different, None, -1.0);
            }
        }
        s.score
    }

    fn default_config() -> MatchConfig {
        MatchConfig {
            threshold: 0.95,
            prior_bits: 8.5,
            max_block: 500,
            max_name_block: 50,
        }
    }
}

/// Industries: sources use different taxonomies, so the same company often gets another label
/// (m = 0.5 for agreeing, and disagreeing counts little); agreeing on a label few companies have
/// says more than agreeing on a common one.
fn compare_industry(
    l: &PreparedCompany,
    r: &PreparedCompany,
    freq: &Frequencies<'_>,
    s: &mut Scorer<'_>,
) {
    let (li, ri) = (l.get(INDUSTRY), r.get(INDUSTRY));
    if li.is_empty() || ri.is_empty() {
        return;
    }
    if li == ri {
        let (w, common) = freq.agreement_weight(r.industry_key, 0.5, 1.0 / 30.0, (0.5, 3.0));
        s.add(
            Field::Industry,
            Agreement::Exact,
            common.then_some(Detail::CommonValue),
            w,
        );
    } else {
        s.add(Field::Industry, Agreement::Different, None, -0.8);
    }
}

/// A website on one side that spells the other side's name. Only counted when the names differ
/// (a typo in one), since with equal names it would count the same agreement twice.
fn website_names(
    domain: &str,
    owner: &PreparedCompany,
    other: &PreparedCompany,
    s: &mut Scorer<'_>,
) {
    if owner.core_compact() == other.core_compact() {
        return;
    }
    let label: String = domain_label(domain).chars().filter(|c| *c != '-').collect();
    if label.len() >= 4 && (label == other.core_compact() || label == compact(other.get(NAME))) {
        s.add(
            Field::Website,
            Agreement::Equivalent,
            Some(Detail::NameDomain),
            5.0,
        );
    }
}

fn compare_names(
    l: &PreparedCompany,
    r: &PreparedCompany,
    freq: &Frequencies<'_>,
    s: &mut Scorer<'_>,
) {
    let (lc, rc) = (l.core_compact(), r.core_compact());
    if lc.is_empty() || rc.is_empty() {
        return;
    }
    // A distinctive name can carry a match with one more agreeing field (the country); a name
    // alone never does.
    let exact = || freq.agreement_weight(r.name_key, 0.95, 1.0 / 20000.0, (2.0, 12.0));
    if lc == rc {
        let (w, common) = exact();
        let agreement = if l.get(NAME) == r.get(NAME) {
            Agreement::Exact
        } else {
            Agreement::Equivalent
        };
        s.add(
            Field::Name,
            agreement,
            common.then_some(Detail::CommonValue),
            w,
        );
        return;
    }
    if l.get(CORE_SORTED) == r.get(CORE_SORTED) {
        s.add(
            Field::Name,
            Agreement::Equivalent,
            Some(Detail::Reordered),
            exact().0 - 1.0,
        );
    } else if lc.len() >= 10 && within_one_edit(lc, rc) {
        // One slip in a long name: nearly as telling as the name itself, since long names are
        // rarely a single letter apart.
        s.add(
            Field::Name,
            Agreement::Similar,
            Some(Detail::Typo),
            exact().0.min(10.0),
        );
    } else if lc.len() >= 5
        && (within_one_edit(lc, rc)
            || (lc.len().abs_diff(rc.len()) <= 2 && similarity(lc, rc) >= 0.95))
    {
        s.add(Field::Name, Agreement::Similar, Some(Detail::Typo), 5.0);
    } else if contains_words(l.get(CORE), r.get(CORE)) || contains_words(r.get(CORE), l.get(CORE)) {
        s.add(Field::Name, Agreement::Partial, None, 2.0);
    } else {
        s.add(Field::Name, Agreement::Different, None, -5.0);
    }
}

/// Every word of `short` (at least one of four letters or more) appears in `long`.
fn contains_words(short: &str, long: &str) -> bool {
    let lw: Vec<&str> = long.split(' ').collect();
    short.split(' ').any(|w| w.len() >= 4) && short.split(' ').all(|w| lw.contains(&w))
}
