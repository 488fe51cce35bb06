//! Customer companies and their people: accounts with country-consistent names, addresses,
//! websites and phones, and contacts spread over them with e-mails on the company's domain.

use std::collections::HashSet;

use uuid::Uuid;

use super::locale::{Country, ENGLISH_TITLES, LOCALES, Locale, NameOrder};
use super::org::Staff;
use super::rng::{Rng, fnv1a};
use super::text::{landline, mobile, postal_code, push_capitalised, push_folded, push_num, street};
use super::{SeedAccount, SeedContact};

/// What the rest of the generator needs to know about an account beyond its public fields.
pub(super) struct AccountMeta {
    pub locale: u8,
    pub city: u8,
    pub owner: u32,
    /// Length of the name before its legal suffix ("Rossi Trasporti" of "Rossi Trasporti S.r.l.").
    pub base_len: u16,
    /// The company's mail and web domain, also when `websiteurl` is left empty.
    pub domain: String,
    /// The account's contacts: `contacts[first_contact..first_contact + contact_count]`.
    pub first_contact: u32,
    pub contact_count: u32,
}

pub(super) struct Customers {
    pub accounts: Vec<SeedAccount>,
    pub meta: Vec<AccountMeta>,
    pub contacts: Vec<SeedContact>,
    /// Running totals of how "busy" each account is; opportunities follow the same skew.
    pub activity: Vec<u64>,
}

impl Customers {
    /// An account index in proportion to its activity weight.
    pub(super) fn busy_account(&self, rng: &mut Rng) -> usize {
        weighted_index(&self.activity, rng)
    }
}

fn weighted_index(cumulative: &[u64], rng: &mut Rng) -> usize {
    let total = cumulative.last().copied().unwrap_or(0);
    let r = rng.below(total.max(1) as usize) as u64;
    cumulative
        .partition_point(|c| *c <= r)
        .min(cumulative.len().saturating_sub(1))
}

/// A person's name as the CRM stores it, plus the surname mail admins use.
pub(super) struct Person {
    pub first: &'static str,
    pub last: String,
    /// The first family name only: Spaniards' second surname stays out of their address.
    pub mail_last: &'static str,
}

pub(super) fn person(locale: &Locale, rng: &mut Rng) -> Person {
    let first = if rng.chance(50) {
        rng.pick_common(locale.female)
    } else {
        rng.pick_common(locale.male)
    };
    let mail_last = rng.pick_common(locale.surnames);
    let mut last = String::with_capacity(mail_last.len() * 2 + 1);
    last.push_str(mail_last);
    if locale.country == Country::Spain && rng.chance(35) {
        last.push(' ');
        last.push_str(rng.pick_common(locale.surnames));
    }
    Person {
        first,
        last,
        mail_last,
    }
}

/// Appends the local part of a work address in one of the common corporate patterns.
pub(super) fn push_local_part(out: &mut String, person: &Person, rng: &mut Rng) {
    let r = rng.below(100);
    if r < 60 {
        push_folded(out, person.first);
        out.push('.');
        push_folded(out, person.mail_last);
    } else if r < 82 {
        push_initial(out, person.first);
        out.push('.');
        push_folded(out, person.mail_last);
    } else if r < 90 {
        push_folded(out, person.first);
    } else {
        push_initial(out, person.first);
        push_folded(out, person.mail_last);
    }
}

fn push_initial(out: &mut String, first: &str) {
    let start = out.len();
    push_folded(out, first);
    out.truncate(start + 1);
}

/// Appends a private address at a consumer mailbox ("giulia.rossi84@libero.it").
pub(super) fn push_private_address(
    out: &mut String,
    person: &Person,
    locale: &Locale,
    rng: &mut Rng,
) {
    push_folded(out, person.first);
    out.push(rng.pick(&['.', '_', '.']));
    push_folded(out, person.mail_last);
    if rng.chance(60) {
        push_num(out, 60 + rng.below(40) as u64, 2);
    }
    out.push('@');
    out.push_str(rng.pick(locale.mailboxes));
}

/// A job title in the country's language, or in English as many companies use.
pub(super) fn job_title(locale: &Locale, rng: &mut Rng) -> String {
    let titles = if rng.chance(60) {
        locale.titles
    } else {
        ENGLISH_TITLES
    };
    (rng.pick(titles)).to_owned()
}

const QUALIFIERS: &[&str] = &[" Group", " Holding", " International", " Partners"];

/// Appends a company name in the country's style; returns the length before the legal suffix and
/// the industry the name implies.
pub(super) fn push_company_name(
    out: &mut String,
    locale: &Locale,
    rng: &mut Rng,
) -> (usize, Option<i64>) {
    let start = out.len();
    let (sector, code) = rng.pick(locale.sectors);
    let sector_first = matches!(locale.order, NameOrder::Either) && rng.chance(50);
    let r = rng.below(100);
    let industry = if r < 35 {
        if sector_first {
            out.push_str(sector);
            out.push(' ');
            out.push_str(rng.pick(locale.surnames));
        } else {
            push_capitalised(out, rng.pick(locale.surnames));
            out.push(' ');
            out.push_str(sector);
        }
        Some(code)
    } else if r < 50 {
        push_capitalised(out, rng.pick(locale.surnames));
        out.push_str(" & ");
        push_capitalised(out, rng.pick(locale.surnames));
        Some(1 + rng.below(33) as i64)
    } else if r < 65 {
        push_brand(out, locale, rng);
        Some(1 + rng.below(33) as i64)
    } else if r < 88 {
        push_brand(out, locale, rng);
        out.push(' ');
        out.push_str(sector);
        Some(code)
    } else {
        let city = locale.cities[rng.below(locale.cities.len())].name;
        if sector_first {
            out.push_str(sector);
            out.push(' ');
            out.push_str(city);
        } else {
            out.push_str(city);
            out.push(' ');
            out.push_str(sector);
        }
        Some(code)
    };
    if rng.chance(8) {
        out.push_str(rng.pick(QUALIFIERS));
    }
    let base_len = out.len() - start;
    let suffix = rng.pick_weighted(locale.legal);
    if !suffix.is_empty() {
        let comma = match suffix {
            "Inc." => rng.chance(30),
            "Lda." => rng.chance(50),
            _ => false,
        };
        out.push_str(if comma { ", " } else { " " });
        out.push_str(suffix);
    }
    (base_len, if rng.chance(85) { industry } else { None })
}

fn push_brand(out: &mut String, locale: &Locale, rng: &mut Rng) {
    out.push_str(rng.pick(locale.brand_heads));
    out.push_str(rng.pick(locale.brand_tails));
}

/// Appends the web-name of a company name ("rossitrasporti", "rossi-trasporti"); very long names
/// keep their first two words, as companies do when they register a domain.
pub(super) fn push_slug(out: &mut String, base: &str, hyphen: bool) {
    let start = out.len();
    let mut words = 0;
    for word in base.split(' ') {
        let before = out.len();
        if words > 0 && hyphen {
            out.push('-');
        }
        let folded_start = out.len();
        push_folded(out, word);
        if out.len() == folded_start {
            out.truncate(before);
            continue;
        }
        words += 1;
        if words >= 2 && out.len() - start > 22 {
            break;
        }
    }
    if out.len() == start {
        out.push_str("company");
    }
}

/// The company domains handed out so far (as fixed hashes, to stay small at 200,000 accounts).
struct DomainRegistry {
    taken: HashSet<u64>,
}

impl DomainRegistry {
    /// A domain nobody else in the org has: the plain slug first, then the other spelling, then
    /// with the city, then numbered, the way latecomers register theirs.
    fn claim(&mut self, base: &str, locale: &Locale, city: &str, rng: &mut Rng) -> String {
        let tld = match (locale.country, rng.below(100)) {
            (Country::Us, 0..=89) => "com",
            (Country::Us, 90..=94) => "net",
            (Country::Us, _) => "io",
            (_, 0..=79) => locale.tld,
            (_, 80..=94) => "com",
            (_, _) => "eu",
        };
        let hyphen = rng.chance(25);
        let mut domain = String::with_capacity(base.len() + 12);
        for attempt in 0.. {
            domain.clear();
            match attempt {
                0 => push_slug(&mut domain, base, hyphen),
                1 => push_slug(&mut domain, base, !hyphen),
                2 => {
                    push_slug(&mut domain, base, hyphen);
                    domain.push('-');
                    push_folded(&mut domain, city);
                }
                n => {
                    push_slug(&mut domain, base, hyphen);
                    push_num(&mut domain, n - 1, 1);
                }
            }
            domain.push('.');
            domain.push_str(tld);
            if self.taken.insert(fnv1a(domain.as_bytes())) {
                break;
            }
        }
        domain
    }
}

/// Share of contacts without a company (private persons, former employees).
const UNPARENTED_PERCENT: usize = 8;

pub(super) fn generate(
    accounts_wanted: usize,
    contacts_wanted: usize,
    staff: &Staff,
    user_ids: &[Uuid],
    account_rng: &mut Rng,
    contact_rng: &mut Rng,
) -> Customers {
    let mut customers = accounts(accounts_wanted, staff, user_ids, account_rng);
    add_contacts(
        &mut customers,
        contacts_wanted,
        staff,
        user_ids,
        contact_rng,
    );
    customers
}

fn accounts(wanted: usize, staff: &Staff, user_ids: &[Uuid], rng: &mut Rng) -> Customers {
    let locale_weights: Vec<u32> = LOCALES.iter().map(|l| l.weight).collect();
    let mut accounts = Vec::with_capacity(wanted);
    let mut meta = Vec::with_capacity(wanted);
    let mut activity = Vec::with_capacity(wanted);
    let mut names: HashSet<u64> = HashSet::with_capacity(wanted);
    let mut domains = DomainRegistry {
        taken: HashSet::with_capacity(wanted),
    };
    let mut next_account_number = 100_000 + rng.below(800_000) as u64;
    let mut total_activity = 0u64;
    for _ in 0..wanted {
        let locale_index = rng.weighted(&locale_weights);
        let locale = &LOCALES[locale_index];
        let city_index = rng.common_index(locale.cities.len());
        let city = &locale.cities[city_index];
        // Names repeat in real books of business, but rarely: retry a few times first.
        let mut name = String::with_capacity(40);
        let mut shape = (0, None);
        for _ in 0..6 {
            name.clear();
            shape = push_company_name(&mut name, locale, rng);
            if names.insert(fnv1a(name.as_bytes())) {
                break;
            }
        }
        let (base_len, industry_code) = shape;
        let domain = domains.claim(&name[..base_len], locale, city.name, rng);
        let website = website(&domain, rng);
        let account_number = if rng.chance(40) {
            next_account_number += 1 + rng.below(5) as u64;
            let mut n = String::with_capacity(10);
            n.push_str("ACC-");
            push_num(&mut n, next_account_number, 6);
            Some(n)
        } else {
            None
        };
        let owner = staff.owner(locale_index, rng);
        let us = locale.country == Country::Us;
        accounts.push(SeedAccount {
            id: rng.uuid(),
            name,
            account_number,
            website,
            phone: rng.chance(80).then(|| landline(locale, city, rng)),
            street: rng.chance(85).then(|| street(locale, rng)),
            city: rng.chance(95).then(|| city.name.to_owned()),
            postal_code: rng
                .chance(85)
                .then(|| postal_code(locale.country, city, rng)),
            region: rng
                .chance(if us { 95 } else { 75 })
                .then(|| city.region.to_owned()),
            country: rng.chance(95).then(|| locale.country_name.to_owned()),
            industry_code,
            employees: employees(rng),
            owner: user_ids[owner as usize],
        });
        meta.push(AccountMeta {
            locale: locale_index as u8,
            city: city_index as u8,
            owner,
            base_len: base_len as u16,
            domain,
            first_contact: 0,
            contact_count: 0,
        });
        total_activity += rng.pick(&[
            1u64, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 8, 8, 8, 25, 25,
        ]);
        activity.push(total_activity);
    }
    Customers {
        accounts,
        meta,
        contacts: Vec::new(),
        activity,
    }
}

/// Spreads `wanted` contacts over the accounts, busy accounts getting more, plus a few without a
/// company; each account's contacts are stored together (see `AccountMeta::first_contact`).
fn add_contacts(
    customers: &mut Customers,
    wanted: usize,
    staff: &Staff,
    user_ids: &[Uuid],
    rng: &mut Rng,
) {
    let locale_weights: Vec<u32> = LOCALES.iter().map(|l| l.weight).collect();
    let Customers {
        accounts,
        meta,
        contacts,
        activity,
    } = customers;
    let parented = wanted - wanted * UNPARENTED_PERCENT / 100;
    let mut counts = vec![0u32; accounts.len()];
    if !accounts.is_empty() {
        for _ in 0..parented {
            counts[weighted_index(activity, rng)] += 1;
        }
    }
    contacts.reserve_exact(wanted);
    let mut local_parts: Vec<u64> = Vec::new();
    for (a, count) in counts.iter().enumerate() {
        let m = &mut meta[a];
        m.first_contact = contacts.len() as u32;
        m.contact_count = *count;
        local_parts.clear();
        let account_locale = &LOCALES[m.locale as usize];
        let account_city = &account_locale.cities[m.city as usize];
        for _ in 0..*count {
            // Some staff come from abroad; they still work at the company's address.
            let origin = if rng.chance(92) {
                account_locale
            } else {
                &LOCALES[rng.weighted(&locale_weights)]
            };
            let who = person(origin, rng);
            let email = match rng.below(100) {
                0..=9 => None,
                10..=19 => {
                    let mut e = String::with_capacity(32);
                    push_private_address(&mut e, &who, origin, rng);
                    Some(e)
                }
                _ => {
                    let mut e = String::with_capacity(40);
                    push_local_part(&mut e, &who, rng);
                    // Two namesakes at one company: the second gets a number.
                    let base = e.len();
                    let mut n = 2;
                    while local_parts.contains(&fnv1a(e.as_bytes())) {
                        e.truncate(base);
                        push_num(&mut e, n, 1);
                        n += 1;
                    }
                    local_parts.push(fnv1a(e.as_bytes()));
                    e.push('@');
                    e.push_str(&m.domain);
                    Some(e)
                }
            };
            let job_title = rng.chance(85).then(|| job_title(account_locale, rng));
            let phone = match rng.below(100) {
                0..=38 => Some(landline(account_locale, account_city, rng)),
                39..=64 => Some(mobile(account_locale, rng)),
                _ => None,
            };
            let city = match rng.below(100) {
                0..=84 => Some(account_city.name.to_owned()),
                85..=94 => Some(
                    account_locale.cities[rng.below(account_locale.cities.len())]
                        .name
                        .to_owned(),
                ),
                _ => None,
            };
            let owner_index = if rng.chance(90) {
                m.owner
            } else {
                staff.owner(m.locale as usize, rng)
            };
            contacts.push(SeedContact {
                id: rng.uuid(),
                first_name: who.first.to_owned(),
                last_name: who.last,
                email,
                job_title,
                phone,
                city,
                country: rng
                    .chance(90)
                    .then(|| account_locale.country_name.to_owned()),
                parent_account: Some(accounts[a].id),
                owner: user_ids[owner_index as usize],
            });
        }
    }
    while contacts.len() < wanted {
        let locale_index = rng.weighted(&locale_weights);
        let locale = &LOCALES[locale_index];
        let who = person(locale, rng);
        let email = rng.chance(60).then(|| {
            let mut e = String::with_capacity(32);
            push_private_address(&mut e, &who, locale, rng);
            e
        });
        let phone = rng.chance(50).then(|| mobile(locale, rng));
        let owner_index = staff.owner(locale_index, rng);
        contacts.push(SeedContact {
            id: rng.uuid(),
            first_name: who.first.to_owned(),
            last_name: who.last,
            email,
            job_title: rng.chance(40).then(|| job_title(locale, rng)),
            phone,
            city: rng.chance(80).then(|| {
                locale.cities[rng.common_index(locale.cities.len())]
                    .name
                    .to_owned()
            }),
            country: rng.chance(85).then(|| locale.country_name.to_owned()),
            parent_account: None,
            owner: user_ids[owner_index as usize],
        });
    }
}

fn website(domain: &str, rng: &mut Rng) -> Option<String> {
    let prefix = match rng.below(100) {
        0..=54 => "https://www.",
        55..=64 => "http://www.",
        65..=72 => "www.",
        73..=79 => "https://",
        80..=84 => "",
        _ => return None,
    };
    let mut url = String::with_capacity(prefix.len() + domain.len());
    url.push_str(prefix);
    url.push_str(domain);
    Some(url)
}

/// Head count: most customers are small businesses, a few are large enterprises.
fn employees(rng: &mut Rng) -> Option<i64> {
    let (lo, hi) = match rng.below(100) {
        0..=19 => return None,
        20..=39 => (1, 10),
        40..=63 => (11, 50),
        64..=83 => (51, 250),
        84..=93 => (251, 1000),
        94..=98 => (1001, 10_000),
        _ => (10_001, 100_000),
    };
    Some(rng.range(lo, hi))
}
