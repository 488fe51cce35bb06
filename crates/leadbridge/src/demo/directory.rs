//! The demo workspace's directory, derived from the emulator's seed so that it overlaps the CRM
//! the way a real one does: people found by e-mail, people found only by a fuzzy name or company
//! (a nickname, a typo, a legal suffix left off), CRM rows nobody in the workspace knows, and
//! people and companies the CRM has never heard of.

use dataverse_emulator::seed::{SeedAccount, SeedContact, SeedLead, SeedOrg};
use store::directory::{NewCompany, NewPerson};

/// Companies the CRM does not know: Microsoft's other fictitious names.
const UNKNOWN_COMPANIES: &[(&str, &str)] = &[
    ("Blue Yonder Airlines", "blueyonderairlines.example"),
    ("Coho Winery", "cohowinery.example"),
    ("Graphic Design Institute", "graphicdesigninstitute.example"),
    ("Humongous Insurance", "humongousinsurance.example"),
    ("Lucerne Publishing", "lucernepublishing.example"),
    ("Margie's Travel", "margiestravel.example"),
    ("Trey Research", "treyresearch.example"),
    ("Woodgrove Bank", "woodgrovebank.example"),
];

const UNKNOWN_GIVEN: &[&str] = &[
    "Amara", "Bastien", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiroshi", "Ines", "Jonas",
    "Kalani", "Lorenzo",
];
const UNKNOWN_FAMILY: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Marchetti",
    "Haddad",
    "Van der Berg",
    "Oliveira",
];
const UNKNOWN_TITLES: &[&str] = &[
    "Head of Operations",
    "Procurement Manager",
    "Chief Financial Officer",
    "IT Director",
    "Marketing Lead",
    "Office Manager",
];

/// Legal suffixes a profile often leaves off a company's name.
const LEGAL_SUFFIXES: &[&str] = &[
    "Inc.", "Ltd", "Ltd.", "LLC", "GmbH", "AG", "S.r.l.", "S.p.A.", "B.V.", "N.V.", "SAS", "SARL",
    "S.A.", "SA", "S.L.", "Lda.", "plc", "Corp.", "Co.",
];

/// The directory: companies first (people refer to them by external id).
pub struct Directory {
    pub companies: Vec<NewCompany>,
    /// Each person with the external id of their company, if the directory has it.
    pub people: Vec<(NewPerson, Option<String>)>,
}

/// The name with its legal suffix taken off, or one added when it has none: how a profile and a
/// CRM record of the same company usually differ.
pub fn other_legal_form(name: &str) -> String {
    let trimmed = name.trim_end();
    for suffix in LEGAL_SUFFIXES {
        if let Some(base) = trimmed.strip_suffix(suffix) {
            let base = base.trim_end().trim_end_matches(',').trim_end();
            if !base.is_empty() && base.len() < trimmed.len() {
                return base.to_owned();
            }
        }
    }
    format!("{trimmed} Ltd")
}

/// A first name as people shorten it (William → Bill), when it has a common nickname.
fn nickname(given: &str) -> Option<String> {
    let formal = given.to_lowercase();
    matching::person_name::nicknames_of(&formal)
        .next()
        .map(capitalised)
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A typing slip: two letters in the middle of the name swapped.
fn typo(name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    if chars.len() >= 4 {
        let i = chars.len() / 2;
        if chars[i] != chars[i - 1] {
            chars.swap(i - 1, i);
            return chars.into_iter().collect();
        }
    }
    format!("{name}e")
}

fn domain_of(website: Option<&str>) -> Option<String> {
    let site = website?;
    let host = site
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()?;
    Some(host.trim_start_matches("www.").to_owned()).filter(|h| !h.is_empty())
}

fn profile_url(external_id: &str) -> String {
    format!("https://profiles.example/in/{external_id}")
}

fn company_of(account: &SeedAccount, name: String, with_site: bool) -> NewCompany {
    NewCompany {
        external_id: Some(format!("company-{}", account.id.simple())),
        name,
        website: account.website.clone().filter(|_| with_site),
        domain: domain_of(account.website.as_deref()).filter(|_| with_site),
        industry: None,
        location: match (&account.city, &account.country) {
            (Some(city), Some(country)) => Some(format!("{city}, {country}")),
            (Some(city), None) => Some(city.clone()),
            (None, country) => country.clone(),
        },
        size: account
            .employees
            .and_then(domain::directory::CompanySize::from_employee_count),
    }
}

/// Derives the directory from the seed: the same seed always gives the same directory.
pub fn derive(seed: &SeedOrg) -> Directory {
    let mut companies = Vec::new();
    let mut known_accounts = std::collections::HashMap::new();
    for (i, account) in seed.accounts.iter().enumerate() {
        let company = match i % 5 {
            // One account in five has no workspace company.
            4 => continue,
            // The name as a profile shows it, without the website to match on.
            3 => company_of(account, other_legal_form(&account.name), false),
            _ => company_of(account, account.name.clone(), true),
        };
        known_accounts.insert(
            account.id,
            (company.external_id.clone(), company.name.clone()),
        );
        companies.push(company);
    }
    for (name, domain) in UNKNOWN_COMPANIES {
        companies.push(NewCompany {
            external_id: Some(format!("company-{domain}")),
            name: (*name).to_owned(),
            website: Some(format!("https://www.{domain}")),
            domain: Some((*domain).to_owned()),
            industry: None,
            location: None,
            size: None,
        });
    }

    let mut people = Vec::new();
    let account_name = |contact: &SeedContact| {
        contact.parent_account.and_then(|a| {
            seed.accounts
                .iter()
                .find(|acc| acc.id == a)
                .map(|acc| (acc.id, acc.name.clone()))
        })
    };
    for (i, contact) in seed.contacts.iter().enumerate() {
        let external_id = format!("person-{}", contact.id.simple());
        let account = account_name(contact);
        let company_ref = account
            .as_ref()
            .and_then(|(id, _)| known_accounts.get(id))
            .and_then(|(external, _)| external.clone());
        let mut past = Vec::new();
        let (first, last, email, company_name) = match i % 10 {
            // The same person with the same e-mail address: an exact match.
            0..=4 => (
                contact.first_name.clone(),
                contact.last_name.clone(),
                contact.email.clone(),
                account.map(|(_, name)| name),
            ),
            // A nickname, no e-mail, the company without its legal suffix.
            5 => (
                nickname(&contact.first_name).unwrap_or_else(|| contact.first_name.clone()),
                contact.last_name.clone(),
                None,
                account.map(|(_, name)| other_legal_form(&name)),
            ),
            // A job change: another company now, the CRM's one in the work history, no e-mail.
            6 if i % 20 == 16 => {
                let (new_company, _) = UNKNOWN_COMPANIES[i % UNKNOWN_COMPANIES.len()];
                past = account.iter().map(|(_, name)| name.clone()).collect();
                (
                    contact.first_name.clone(),
                    contact.last_name.clone(),
                    None,
                    Some(new_company.to_owned()),
                )
            }
            // A typo in the family name, no e-mail.
            6 => (
                contact.first_name.clone(),
                typo(&contact.last_name),
                None,
                account.map(|(_, name)| name),
            ),
            // Three contacts in ten are unknown to the workspace.
            _ => continue,
        };
        // Someone who left the account is no longer linked to its company.
        let company_ref = if past.is_empty() { company_ref } else { None };
        people.push((
            NewPerson {
                profile_url: Some(profile_url(&external_id)),
                external_id: Some(external_id),
                full_name: format!("{first} {last}"),
                title: contact.job_title.clone(),
                company_name,
                company: None,
                location: contact.city.clone(),
                email,
                phone: None,
                past_companies: past,
            },
            company_ref,
        ));
    }
    for (i, lead) in seed.leads.iter().enumerate() {
        if i % 4 != 0 {
            continue;
        }
        people.push((lead_person(lead), None));
    }
    for (i, given) in UNKNOWN_GIVEN.iter().enumerate() {
        let family = UNKNOWN_FAMILY[i % UNKNOWN_FAMILY.len()];
        let (company, domain) = UNKNOWN_COMPANIES[i % UNKNOWN_COMPANIES.len()];
        let external_id = format!("person-new-{}", i + 1);
        people.push((
            NewPerson {
                profile_url: Some(profile_url(&external_id)),
                external_id: Some(external_id),
                full_name: format!("{given} {family}"),
                title: Some(UNKNOWN_TITLES[i % UNKNOWN_TITLES.len()].to_owned()),
                company_name: Some(company.to_owned()),
                company: None,
                location: None,
                email: Some(format!(
                    "{}.{}@{domain}",
                    given.to_lowercase(),
                    family.to_lowercase().replace(' ', "")
                )),
                phone: None,
                past_companies: Vec::new(),
            },
            Some(format!("company-{domain}")),
        ));
    }
    Directory { companies, people }
}

fn lead_person(lead: &SeedLead) -> NewPerson {
    let external_id = format!("person-{}", lead.id.simple());
    NewPerson {
        profile_url: Some(profile_url(&external_id)),
        external_id: Some(external_id),
        full_name: format!("{} {}", lead.first_name, lead.last_name),
        title: lead.job_title.clone(),
        company_name: lead.company_name.clone(),
        company: None,
        location: lead.city.clone(),
        email: lead.email.clone(),
        phone: None,
        past_companies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataverse_emulator::seed::{SeedSize, generate};

    #[test]
    fn legal_forms_come_off_and_go_on() {
        assert_eq!(
            other_legal_form("Rossi Trasporti S.r.l."),
            "Rossi Trasporti"
        );
        assert_eq!(other_legal_form("Fabrikam, Inc."), "Fabrikam");
        assert_eq!(
            other_legal_form("Northwind Traders"),
            "Northwind Traders Ltd"
        );
    }

    #[test]
    fn the_directory_overlaps_the_crm_exactly_fuzzily_and_not_at_all() {
        let seed = generate(SeedSize::Small, 1);
        let directory = derive(&seed);
        let crm_emails: std::collections::HashSet<_> = seed
            .contacts
            .iter()
            .filter_map(|c| c.email.clone())
            .chain(seed.leads.iter().filter_map(|l| l.email.clone()))
            .collect();
        let exact = directory
            .people
            .iter()
            .filter(|(p, _)| p.email.as_ref().is_some_and(|e| crm_emails.contains(e)))
            .count();
        let without_email = directory
            .people
            .iter()
            .filter(|(p, _)| p.email.is_none())
            .count();
        let unknown = directory
            .people
            .iter()
            .filter(|(p, _)| {
                p.external_id
                    .as_deref()
                    .is_some_and(|id| id.starts_with("person-new-"))
            })
            .count();
        assert!(exact > 50, "{exact} exact matches");
        assert!(without_email > 30, "{without_email} fuzzy ones");
        assert_eq!(unknown, UNKNOWN_GIVEN.len());
        // Some moved on: the CRM's company is in their work history, not on their profile.
        let moved_on = directory
            .people
            .iter()
            .filter(|(p, company)| {
                company.is_none()
                    && !p.past_companies.is_empty()
                    && p.company_name.as_ref() != p.past_companies.first()
            })
            .count();
        assert!(moved_on > 0, "no job changes");
        assert!(directory.people.len() < seed.contacts.len() + seed.leads.len());
        // Derived, not random: the same seed gives the same directory.
        let again = derive(&seed);
        assert_eq!(
            again
                .people
                .iter()
                .map(|(p, _)| &p.full_name)
                .collect::<Vec<_>>(),
            directory
                .people
                .iter()
                .map(|(p, _)| &p.full_name)
                .collect::<Vec<_>>()
        );
    }
}
