//! People ↔ CRM contacts/leads: preparing a person, the blocking keys that find candidates, and
//! the field-by-field comparison with its weights.

use crate::company_name::{CompanyName, domain_label, registrable_domain};
use crate::email::{Email, is_free_mail};
use crate::explain::{Agreement, Detail, Field, FieldEvidence};
use crate::fields::{Address, AddressWeights, Packed, Scorer, postal_code, street, title};
use crate::index::{BlockKey, Entity, Frequencies, MatchConfig, MatchIndex};
use crate::keys::{key, key_u64};
use crate::person_name::{PersonName, canonical_given, formal_names, nickname_equivalent};
use crate::phone::Phone;
use crate::record::PersonRecord;
use crate::text::{compact, fold, same_ignoring_spaces, within_one_edit, words_contained};
use crate::{country, profile_url};

/// The index of CRM contacts/leads that workspace people are matched against.
pub type PeopleIndex = MatchIndex<People>;

/// Marker type: people as an [`Entity`].
pub struct People;

const FIRST: usize = 0;
const GIVEN: usize = 1;
const LAST: usize = 2;
const EMAIL: usize = 3;
const URL: usize = 4;
const COMPANY: usize = 5;
const TITLE: usize = 6;
const STREET: usize = 7;
const CITY: usize = 8;
const POSTAL: usize = 9;
const REGION: usize = 10;
const COUNTRY: usize = 11;
/// The employer an email domain names: `acme` for `ann@mail.acme.co.uk`; empty for free mail.
const EMAIL_ORG: usize = 12;
/// Earlier employers' compacted cores, one per line, most recent first.
const PAST: usize = 13;

/// Earlier employers kept for comparison: enough for a career, not a CV.
const MAX_PAST_COMPANIES: usize = 5;

/// A person normalised for matching.
pub struct PreparedPerson {
    text: Packed<14>,
    phone: Option<Phone>,
    /// Frequency keys of the family name, canonical given name and company (0 when missing),
    /// kept so that comparisons do not rebuild them.
    last_key: u64,
    given_key: u64,
    company_key: u64,
    title_key: u64,
    /// Frequency key of the canonical given name and family name together.
    full_key: u64,
    /// Whether the given name is a listed nickname, so that only those pay for the lookup.
    nickname: bool,
}

/// How much each part of an address counts when comparing two of these records.
const ADDRESS_WEIGHTS: AddressWeights = AddressWeights {
    street: (3.0, 2.0, -0.5),
    city: (2.0, 1.5, -2.0),
    postal_code: (3.0, 1.0, -1.0),
    region: (0.5, 0.3, -0.5),
    country: (0.5, -3.0),
};

impl PreparedPerson {
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

    /// First given-name token, e.g. `mary` of `mary ann`.
    fn given(&self) -> &str {
        self.get(FIRST).split(' ').next().unwrap_or("")
    }

    fn email(&self) -> Option<(&str, &str)> {
        self.get(EMAIL).rsplit_once('@')
    }

    /// Earlier employers, as compacted cores.
    fn past_companies(&self) -> impl Iterator<Item = &str> {
        self.get(PAST).split('\n').filter(|c| !c.is_empty())
    }

    /// Whether `company` (a compacted core) is one of this person's earlier employers.
    fn worked_at(&self, company: &str) -> bool {
        !company.is_empty() && self.past_companies().any(|c| c == company)
    }
}

/// A company name as people are compared on it: the core without legal form, spaces removed.
fn company_core(name: &str) -> String {
    compact(&CompanyName::parse(name).core)
}

fn past_cores(past: &[String]) -> String {
    let mut cores: Vec<String> = Vec::new();
    for core in past.iter().map(|c| company_core(c)) {
        if !core.is_empty() && !cores.contains(&core) && cores.len() < MAX_PAST_COMPANIES {
            cores.push(core);
        }
    }
    cores.join("\n")
}

pub fn prepare_person(r: &PersonRecord) -> PreparedPerson {
    let name = PersonName::parse(
        r.first_name.as_deref(),
        r.last_name.as_deref(),
        r.full_name.as_deref(),
    );
    let given = canonical_given(name.given()).to_string();
    let email = r.email.as_deref().and_then(Email::parse);
    let email_org = email
        .as_ref()
        .filter(|e| !is_free_mail(e.domain()))
        .and_then(|e| registrable_domain(e.domain()))
        .map(|d| domain_label(&d).replace('-', ""))
        .unwrap_or_default();
    let email = email.map(|e| e.address).unwrap_or_default();
    let url = r
        .profile_url
        .as_deref()
        .and_then(profile_url::canonical)
        .unwrap_or_default();
    let company = r.company.as_deref().map(company_core).unwrap_or_default();
    let country = r
        .country
        .as_deref()
        .map(country::normalise)
        .unwrap_or_default();
    let opt = |v: &Option<String>, f: fn(&str) -> String| v.as_deref().map(f).unwrap_or_default();
    let text = Packed::new([
        &cap(name.first),
        &cap(given),
        &cap(name.last),
        &cap(email),
        &cap(url),
        &cap(company),
        &cap(opt(&r.title, title)),
        &cap(opt(&r.street, street)),
        &cap(opt(&r.city, fold)),
        &cap(opt(&r.postal_code, postal_code)),
        &cap(opt(&r.region, fold)),
        &cap(country),
        &cap(email_org),
        &cap(past_cores(&r.past_companies)),
    ]);
    let phone = r
        .phone
        .as_deref()
        .and_then(|p| Phone::parse(p, r.country.as_deref()));
    let tf_key = |tag: u8, v: &str| if v.is_empty() { 0 } else { key(tag, &[v]) };
    let last_key = tf_key(b'l', &compact(text.get(LAST)));
    let given_key = tf_key(b'f', text.get(GIVEN));
    let company_key = tf_key(b'c', text.get(COMPANY));
    let title_key = tf_key(b't', text.get(TITLE));
    let full_key = if given_key == 0 || last_key == 0 {
        0
    } else {
        key(b'n', &[text.get(GIVEN), &compact(text.get(LAST))])
    };
    let nickname = !formal_names(text.get(FIRST).split(' ').next().unwrap_or("")).is_empty();
    PreparedPerson {
        text,
        phone,
        last_key,
        given_key,
        company_key,
        title_key,
        full_key,
        nickname,
    }
}

fn cap(mut s: String) -> String {
    crate::text::truncate_at_char(&mut s, crate::text::MAX_FIELD_BYTES);
    s
}

impl Entity for People {
    type Record = PersonRecord;
    type Prepared = PreparedPerson;

    fn id(record: &PersonRecord) -> &str {
        &record.id
    }

    fn prepare(record: &PersonRecord) -> PreparedPerson {
        prepare_person(record)
    }

    fn block_keys(p: &PreparedPerson, out: &mut Vec<BlockKey>) {
        let given = p.get(GIVEN);
        let last_compact = compact(p.get(LAST));
        let last = last_compact.as_str();
        if !p.get(EMAIL).is_empty() {
            out.push(BlockKey::new(key(b'E', &[p.get(EMAIL)])));
        }
        if let Some((local, _)) = p.email()
            && local.len() >= 3
            && !crate::email::is_role_local(local)
        {
            out.push(BlockKey::name(key(b'M', &[local])));
        }
        if !p.get(URL).is_empty() {
            out.push(BlockKey::new(key(b'U', &[p.get(URL)])));
        }
        if let Some(phone) = p.phone {
            out.push(BlockKey::new(key_u64(b'P', phone.tail())));
        }
        if !last.is_empty() {
            let initial = given.get(..1).unwrap_or("");
            out.push(BlockKey::name(key(b'A', &[last, initial])));
        }
        if !last.is_empty() {
            // Consonant skeleton: survives vowel typos and doubled letters ("withoof", "withof").
            let initial = given.get(..1).unwrap_or("");
            out.push(BlockKey::name(key(b'K', &[&skeleton(last), initial])));
        }
        if !given.is_empty() && !last.is_empty() {
            // Order-free, so a swapped first/last name lands in the same block.
            let (a, b) = if given <= last {
                (given, last)
            } else {
                (last, given)
            };
            out.push(BlockKey::name(key(b'B', &[a, b])));
        }
        // Either name with the company, whatever its role: catches a mistyped, abbreviated or
        // unlisted given name, a mistyped family name, and a swapped pair with a typo in one.
        // Earlier employers too, which is where a person who changed jobs is still on record.
        for company in std::iter::once(p.get(COMPANY)).chain(p.past_companies()) {
            if company.is_empty() {
                continue;
            }
            for name in [given, last] {
                if !name.is_empty() {
                    out.push(BlockKey::new(key(b'C', &[name, company])));
                }
            }
        }
    }

    fn frequency_keys(p: &PreparedPerson, out: &mut Vec<u64>) {
        out.extend(
            [
                p.last_key,
                p.given_key,
                p.company_key,
                p.title_key,
                p.full_key,
            ]
            .into_iter()
            .filter(|k| *k != 0),
        );
    }

    fn compare(
        l: &PreparedPerson,
        r: &PreparedPerson,
        freq: &Frequencies<'_>,
        out: &mut Vec<FieldEvidence>,
    ) -> f32 {
        let mut s = Scorer { out, score: 0.0 };
        compare_names(l, r, freq, &mut s);
        compare_email(l, r, &mut s);
        match (l.get(URL), r.get(URL)) {
            ("", _) | (_, "") => {}
            (a, b) if a == b => s.add(Field::ProfileUrl, Agreement::Exact, None, 16.0),
            _ => s.add(Field::ProfileUrl, Agreement::Different, None, -8.0),
        }
        s.phone(l.phone, r.phone, (9.0, 7.0, -1.0));
        let company_differs = compare_company(l, r, freq, &mut s);
        compare_title(l, r, company_differs, freq, &mut s);
        s.address(&l.address(), &r.address(), &ADDRESS_WEIGHTS);
        s.score
    }

    fn default_config() -> MatchConfig {
        MatchConfig {
            threshold: 0.95,
            prior_bits: PEOPLE_PRIOR_BITS,
            max_block: 500,
            max_name_block: 50,
        }
    }
}

fn skeleton(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s
        .chars()
        .filter(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y'))
    {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

type Comparison = (Agreement, Option<Detail>, f32);

/// Caps on what agreeing names can add. Together (16 bits) they stay just below what a match
/// needs at the default threshold (16.25), so a name alone, however rare, never makes a match:
/// some other field has to agree too, if only the country.
const LAST_NAME_MAX: f32 = 9.5;
const FIRST_NAME_MAX: f32 = 6.5;
const TITLE_MAX: f32 = 4.0;
/// The most an earlier employer can count: a little less than a current one (8), since a
/// work history is typed by the person and a CRM company by whoever entered the contact.
const PAST_EMPLOYER_MAX: f32 = 7.0;
/// The most a rare full name can count (see `rare_name_weight`): a match on it still needs
/// some other field not to disagree.
const RARE_NAME_MAX: f32 = 19.0;
/// Uncertainty in a name's expected frequency: however rare the names, at least this many
/// others are assumed to share them.
const RARE_FLOOR: f32 = 0.01;
const PEOPLE_PRIOR_BITS: f32 = 12.0;
const LAST_PRIOR_U: f32 = 1.0 / 5000.0;
const GIVEN_PRIOR_U: f32 = 1.0 / 300.0;

fn compare_last(l: &str, r: &str, r_key: u64, freq: &Frequencies<'_>) -> Comparison {
    let exact = || freq.agreement_weight(r_key, 0.95, LAST_PRIOR_U, (3.0, LAST_NAME_MAX));
    if same_ignoring_spaces(l, r) {
        let (w, common) = exact();
        (Agreement::Exact, common.then_some(Detail::CommonValue), w)
    } else if l.len() >= 4 && within_one_edit(&compact(l), &compact(r)) {
        // Short names one letter apart are often different names (Meyer, Meier); long ones
        // rarely are, so a slip in a long name costs only a little of what agreeing is worth.
        let weight = if l.len() >= 8 {
            (exact().0 - 2.0).max(5.0)
        } else {
            5.0
        };
        (Agreement::Similar, Some(Detail::Typo), weight)
    } else if words_contained(l, r) {
        // A double surname written in full on one side only: "garcia lopez" and "garcia".
        (Agreement::Partial, None, 3.0)
    } else {
        (Agreement::Different, None, -6.0)
    }
}

/// `nicknames`: whether either name is a listed nickname.
fn compare_given(
    l: &str,
    r: &str,
    nicknames: bool,
    r_key: u64,
    freq: &Frequencies<'_>,
) -> Comparison {
    let exact_weight = || freq.agreement_weight(r_key, 0.95, GIVEN_PRIOR_U, (2.0, FIRST_NAME_MAX));
    if l == r {
        let (w, common) = exact_weight();
        (Agreement::Exact, common.then_some(Detail::CommonValue), w)
    } else if nicknames && nickname_equivalent(l, r) {
        (
            Agreement::Equivalent,
            Some(Detail::Nickname),
            exact_weight().0 - 0.5,
        )
    } else if (l.len() == 1 || r.len() == 1) && l.get(..1) == r.get(..1) {
        (Agreement::Partial, Some(Detail::Initial), 1.0)
    } else if l.len() >= 4 && within_one_edit(l, r) {
        (Agreement::Similar, Some(Detail::Typo), 3.0)
    } else {
        (Agreement::Different, None, -4.0)
    }
}

/// What a full name agreeing exactly is worth when it is so rare that it is itself evidence.
///
/// The capped weights of the two names stop a name from matching alone, which is right for most
/// names: another person of that name is likely to turn up among the workspace's people. For a
/// rare combination (a rare family name with a given name that is not common either) that
/// likelihood is itself tiny, and what the name is worth follows from it: the odds that the
/// workspace person is this CRM person rather than a newcomer of the same name are about
/// 1 / (number of people expected to carry the name). The expectation comes from the two names'
/// frequencies (as if independent) among at least a million people, the size of a prospecting
/// tool's reach, and is never below the number of other CRM records with the full name: any
/// other holder takes the bonus away.
fn rare_name_weight(r: &PreparedPerson, freq: &Frequencies<'_>) -> f32 {
    if r.full_key == 0 {
        return 0.0;
    }
    let people = (freq.records() as f32).max(1_000_000.0);
    let independent =
        people * freq.rate(r.last_key, LAST_PRIOR_U) * freq.rate(r.given_key, GIVEN_PRIOR_U);
    let expected = independent.max(freq.others_with(r.full_key) as f32);
    (PEOPLE_PRIOR_BITS - (expected + RARE_FLOOR).log2()).min(RARE_NAME_MAX)
}

fn compare_names(
    l: &PreparedPerson,
    r: &PreparedPerson,
    freq: &Frequencies<'_>,
    s: &mut Scorer<'_>,
) {
    let (lg, ll, rg, rl) = (l.given(), l.get(LAST), r.given(), r.get(LAST));
    let direct_last =
        (!ll.is_empty() && !rl.is_empty()).then(|| compare_last(ll, rl, r.last_key, freq));
    let direct_given = (!lg.is_empty() && !rg.is_empty())
        .then(|| compare_given(lg, rg, l.nickname || r.nickname, r.given_key, freq));
    let total = |c: &[Option<Comparison>]| c.iter().flatten().map(|c| c.2).sum::<f32>();
    let direct = [direct_last, direct_given];
    let mut chosen = direct;
    let mut detail_override = None;
    if direct.iter().flatten().any(|c| c.0 == Agreement::Different)
        && !lg.is_empty()
        && !ll.is_empty()
        && !rg.is_empty()
        && !rl.is_empty()
    {
        // Family and given name swapped on one side ("Smith John").
        let swapped = [
            Some(compare_last(lg, rl, r.last_key, freq)),
            Some(compare_given(ll, rg, r.nickname, r.given_key, freq)),
        ];
        // Swapped names are a little less telling than names in place; the penalty goes on the
        // given name so the explanation's weights still add up to the score.
        const SWAP_PENALTY: f32 = 1.0;
        if total(&swapped) - SWAP_PENALTY > total(&direct) {
            chosen = swapped;
            if let Some(given) = chosen[1].as_mut() {
                given.2 -= SWAP_PENALTY;
            }
            detail_override = Some(Detail::Reordered);
        }
    }
    if detail_override.is_none()
        && let [Some(last), Some(given)] = &mut chosen
        && last.0 == Agreement::Exact
        && given.0 == Agreement::Exact
        && lg.len() > 1
    {
        let rare = rare_name_weight(r, freq);
        if rare > last.2 + given.2 {
            last.2 = rare - given.2;
            last.1 = Some(Detail::RareName);
        }
    }
    for (field, c) in [(Field::LastName, chosen[0]), (Field::FirstName, chosen[1])] {
        if let Some((agreement, detail, weight)) = c {
            s.add(field, agreement, detail_override.or(detail), weight);
        }
    }
}

fn compare_email(l: &PreparedPerson, r: &PreparedPerson, s: &mut Scorer<'_>) {
    let (Some((ll, ld)), Some((rl, rd))) = (l.email(), r.email()) else {
        return;
    };
    let role = crate::email::is_role_local(ll) || crate::email::is_role_local(rl);
    if ll == rl && ld == rd {
        if role {
            s.add(
                Field::Email,
                Agreement::Exact,
                Some(Detail::RoleMailbox),
                3.0,
            );
        } else {
            s.add(Field::Email, Agreement::Exact, None, 14.0);
        }
    } else if ll == rl && !role && ll.len() >= 4 {
        // Local parts are mostly built from the name, which already counted; digits are not,
        // so a shared `ann.lee74` says much more than a shared `ann.lee`.
        let digits = ll.bytes().filter(u8::is_ascii_digit).count();
        let weight = if digits >= 2 { 6.0 } else { 1.0 };
        s.add(
            Field::Email,
            Agreement::Similar,
            Some(Detail::SameLocalPart),
            weight,
        );
    } else if ld == rd && !is_free_mail(ld) {
        // Two mailboxes at one organisation are usually two colleagues.
        s.add(
            Field::Email,
            Agreement::Different,
            Some(Detail::SameDomain),
            -5.0,
        );
    } else {
        s.add(Field::Email, Agreement::Different, None, -2.5);
    }
}

/// Job titles. Agreeing on a rare title says more than agreeing on a common one, as for names;
/// titles drift between sources (promotions, wording), so agreement is far from certain even
/// for the same person (m = 0.5) and a different title counts little against.
///
/// A title goes with a job: when the companies differ (another person, or the same one after a
/// job change, which usually brings a new title too) an equal title is mostly coincidence and
/// counts only as much as a similar one.
fn compare_title(
    l: &PreparedPerson,
    r: &PreparedPerson,
    company_differs: bool,
    freq: &Frequencies<'_>,
    s: &mut Scorer<'_>,
) {
    let (lt, rt) = (l.get(TITLE), r.get(TITLE));
    if !lt.is_empty() && lt == rt {
        let max = if company_differs { 1.0 } else { TITLE_MAX };
        let (w, common) = freq.agreement_weight(r.title_key, 0.5, 1.0 / 200.0, (1.0, max));
        s.add(
            Field::Title,
            Agreement::Exact,
            common.then_some(Detail::CommonValue),
            w,
        );
    } else {
        s.words(Field::Title, lt, rt, (TITLE_MAX, 1.0, -0.5));
    }
}

/// Whether an email's domain names this company: `lomarese.it` for Lomarese, `acme-group.com`
/// for Acme.
fn domain_names_company(org: &str, company: &str) -> bool {
    company.len() >= 4 && org.starts_with(company)
}

/// Compares the employers; returns whether they differ.
fn compare_company(
    lp: &PreparedPerson,
    rp: &PreparedPerson,
    freq: &Frequencies<'_>,
    s: &mut Scorer<'_>,
) -> bool {
    let (l, r) = (lp.get(COMPANY), rp.get(COMPANY));
    // One side's company among the other side's earlier employers: the same person, who has
    // moved on since one of the sources last looked. Frequency-adjusted like a current
    // employer, by the CRM side's counts. Only looked up when the current companies disagree.
    let past_employer = || {
        if lp.worked_at(r) {
            Some(rp.company_key)
        } else if rp.worked_at(l) {
            Some(lp.company_key)
        } else {
            None
        }
    };
    let add_past_employer = |s: &mut Scorer<'_>, key: u64| {
        let (w, _) = freq.agreement_weight(key, 0.9, 1.0 / 1000.0, (2.0, PAST_EMPLOYER_MAX));
        s.add(
            Field::Company,
            Agreement::Equivalent,
            Some(Detail::PastEmployer),
            w,
        );
    };
    if l.is_empty() || r.is_empty() {
        if let Some(key) = past_employer() {
            add_past_employer(s, key);
            return true;
        }
        // With the company on one side only, the other side's work email may still name it.
        let (company, org) = if l.is_empty() {
            (r, lp.get(EMAIL_ORG))
        } else {
            (l, rp.get(EMAIL_ORG))
        };
        if company.is_empty() || org.is_empty() {
            return false;
        }
        if domain_names_company(org, company) {
            s.add(
                Field::Company,
                Agreement::Equivalent,
                Some(Detail::EmailDomain),
                4.0,
            );
        } else {
            s.add(
                Field::Company,
                Agreement::Different,
                Some(Detail::EmailDomain),
                -2.0,
            );
            return true;
        }
        return false;
    }
    if l == r {
        // Sharing an employer says more at a small company than at one with thousands of contacts.
        let (w, common) = freq.agreement_weight(rp.company_key, 0.9, 1.0 / 1000.0, (2.0, 8.0));
        s.add(
            Field::Company,
            Agreement::Exact,
            common.then_some(Detail::CommonValue),
            w,
        );
    } else if l.len() >= 4 && within_one_edit(l, r) {
        s.add(Field::Company, Agreement::Similar, Some(Detail::Typo), 5.0);
    } else if l.len().min(r.len()) >= 4 && (l.starts_with(r) || r.starts_with(l)) {
        s.add(Field::Company, Agreement::Partial, None, 1.5);
    } else if let Some(key) = past_employer() {
        add_past_employer(s, key);
        return true;
    } else {
        // Mostly a different person; sometimes the same one after a job change.
        s.add(Field::Company, Agreement::Different, None, -3.0);
        return true;
    }
    false
}
