//! Workspace people and companies matched to the CRM's contacts, leads and accounts with the
//! matching engine: records converted both ways, reps' rejections replayed, and the automatic
//! matches that changed since the last sync worked out. No IO.
//!
//! A person a rep pinned keeps the pin (it outranks anything automatic), and people and companies
//! the import created from a CRM row already carry that link, so neither is matched again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::crm::{CrmAccount, CrmContact, CrmLead, CrmPersonRef};
use domain::directory::{Company, CompanyOrigin, Person, PersonOrigin};
use domain::ids::{CompanyId, CrmAccountId, CrmContactId, CrmLeadId, PersonId};
use domain::matches::{CompanyMatch, Confidence, MatchOrigin, PersonMatch};
use matching::{MatchOutcome, Method};
use uuid::Uuid;

const CONTACT: &str = "contact:";
const LEAD: &str = "lead:";

pub(crate) fn person_key(crm: CrmPersonRef) -> String {
    match crm {
        CrmPersonRef::Contact(c) => format!("{CONTACT}{}", c.0),
        CrmPersonRef::Lead(l) => format!("{LEAD}{}", l.0),
    }
}

pub(crate) fn person_ref(key: &str) -> Option<CrmPersonRef> {
    if let Some(id) = key.strip_prefix(CONTACT) {
        return Uuid::parse_str(id)
            .ok()
            .map(|id| CrmPersonRef::Contact(CrmContactId(id)));
    }
    key.strip_prefix(LEAD)
        .and_then(|id| Uuid::parse_str(id).ok())
        .map(|id| CrmPersonRef::Lead(CrmLeadId(id)))
}

/// "City, Country" as the mirror keeps it, back into its two parts.
fn city_country(location: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(location) = location else {
        return (None, None);
    };
    match location.rsplit_once(',') {
        Some((city, country)) => (
            Some(city.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(country.trim().to_owned()).filter(|s| !s.is_empty()),
        ),
        None => (None, Some(location.trim().to_owned())),
    }
}

pub(crate) fn contact_record(
    contact: &CrmContact,
    account_names: &HashMap<CrmAccountId, String>,
) -> matching::PersonRecord {
    let (city, country) = city_country(contact.location.as_deref());
    matching::PersonRecord {
        id: person_key(CrmPersonRef::Contact(contact.id)),
        full_name: Some(contact.full_name.clone()),
        email: contact.email.clone(),
        phone: contact.phone.clone(),
        title: contact.job_title.clone(),
        company: contact.account.and_then(|a| account_names.get(&a)).cloned(),
        city,
        country,
        ..Default::default()
    }
}

pub(crate) fn lead_record(lead: &CrmLead) -> matching::PersonRecord {
    matching::PersonRecord {
        id: person_key(CrmPersonRef::Lead(lead.id)),
        full_name: Some(lead.full_name.clone()),
        email: lead.email.clone(),
        phone: lead.phone.clone(),
        title: lead.job_title.clone(),
        company: lead.company_name.clone(),
        ..Default::default()
    }
}

pub(crate) fn workspace_person(person: &Person) -> matching::PersonRecord {
    let (city, country) = city_country(person.location.as_deref());
    matching::PersonRecord {
        id: person.id.0.to_string(),
        full_name: Some(person.full_name.clone()),
        email: person.email.clone(),
        phone: person.phone.clone(),
        title: person.title.clone(),
        company: person.company_name.clone(),
        city,
        country,
        profile_url: person.profile_url.clone(),
        past_companies: person.past_companies.clone(),
        ..Default::default()
    }
}

pub(crate) fn account_record(account: &CrmAccount) -> matching::CompanyRecord {
    let (city, country) = city_country(account.location.as_deref());
    matching::CompanyRecord {
        id: account.id.0.to_string(),
        name: Some(account.name.clone()),
        website: account.website.clone(),
        industry: account.industry.clone(),
        employees: account.employees.map(|e| e.to_string()),
        city,
        country,
        ..Default::default()
    }
}

pub(crate) fn workspace_company(company: &Company) -> matching::CompanyRecord {
    let (city, country) = city_country(company.location.as_deref());
    matching::CompanyRecord {
        id: company.id.0.to_string(),
        name: Some(company.name.clone()),
        website: company.website.clone().or_else(|| company.domain.clone()),
        industry: company.industry.clone(),
        city,
        country,
        ..Default::default()
    }
}

/// An engine decision as a stored match: exact keys and scores keep their own origin, and the
/// explanation is kept as JSON for the UI to render field by field.
fn decided(outcome: &MatchOutcome) -> Option<(&str, Confidence, MatchOrigin, String)> {
    let MatchOutcome::Matched {
        right_id,
        confidence,
        explanation,
    } = outcome
    else {
        return None;
    };
    let origin = match explanation.method {
        Method::ExactKey => MatchOrigin::Exact,
        Method::Scored | Method::Pinned => MatchOrigin::Scored,
    };
    let percent = (confidence.clamp(0.0, 1.0) * 100.0).round() as u8;
    let explanation = serde_json::to_string(explanation).unwrap_or_default();
    Some((right_id, Confidence::new(percent), origin, explanation))
}

/// The CRM side of people matching.
#[cfg(test)]
pub(crate) struct CrmPeople<'a> {
    pub contacts: &'a [CrmContact],
    pub leads: &'a [CrmLead],
    pub accounts: &'a BTreeMap<CrmAccountId, CrmAccount>,
}

/// What changes in the stored automatic matches of a kind of record.
#[derive(Debug, PartialEq)]
pub(crate) struct MatchChanges<K, M> {
    /// Records whose automatic matches are replaced: cleared, then `upsert` recorded.
    pub cleared: Vec<K>,
    pub upsert: Vec<M>,
}

impl<K, M> Default for MatchChanges<K, M> {
    fn default() -> Self {
        MatchChanges {
            cleared: Vec::new(),
            upsert: Vec::new(),
        }
    }
}

/// Matches every workspace person the import did not create and no rep pinned. `current` holds
/// the stored matches of the tenant, `rejected` the pairs reps refused.
#[cfg(test)]
pub(crate) fn match_people(
    crm: &CrmPeople<'_>,
    people: &[Person],
    current: &[PersonMatch],
    rejected: &[(PersonId, CrmPersonRef)],
) -> MatchChanges<PersonId, PersonMatch> {
    let names: HashMap<CrmAccountId, String> = crm
        .accounts
        .values()
        .map(|a| (a.id, a.name.clone()))
        .collect();
    let mut index = matching::PeopleIndex::default();
    for contact in crm.contacts {
        index.upsert(&contact_record(contact, &names));
    }
    for lead in crm.leads {
        index.upsert(&lead_record(lead));
    }
    for (person, crm) in rejected {
        index.reject(&person.0.to_string(), &person_key(*crm));
    }
    rematch::<People>(&index, people, current)
}

/// One kind of workspace record matched against the CRM: people against contacts and leads,
/// companies against accounts. What [`rematch`] needs to know of each.
pub(crate) trait Side {
    type Entity: matching::Entity;
    /// The workspace record (a person, a company) and its id.
    type Record;
    type Id: Ord + Copy;
    /// The CRM record a match points at.
    type Crm: Ord + Copy;
    /// A stored match.
    type Match;

    fn id(record: &Self::Record) -> Self::Id;
    /// Created by the import from a CRM row: it carries that link already.
    fn from_crm(record: &Self::Record) -> bool;
    fn input(record: &Self::Record) -> <Self::Entity as matching::Entity>::Record;
    /// The CRM record behind an id of the index, if it is one.
    fn crm(index_id: &str) -> Option<Self::Crm>;
    fn parts(m: &Self::Match) -> (Self::Id, Self::Crm, MatchOrigin);
    fn new_match(
        id: Self::Id,
        crm: Self::Crm,
        confidence: Confidence,
        origin: MatchOrigin,
        explanation: String,
    ) -> Self::Match;
}

/// Workspace people against the CRM's contacts and leads.
pub(crate) enum People {}

impl Side for People {
    type Entity = matching::People;
    type Record = Person;
    type Id = PersonId;
    type Crm = CrmPersonRef;
    type Match = PersonMatch;

    fn id(person: &Person) -> PersonId {
        person.id
    }

    fn from_crm(person: &Person) -> bool {
        matches!(person.origin, PersonOrigin::CreatedFromCrm { .. })
    }

    fn input(person: &Person) -> matching::PersonRecord {
        workspace_person(person)
    }

    fn crm(index_id: &str) -> Option<CrmPersonRef> {
        person_ref(index_id)
    }

    fn parts(m: &PersonMatch) -> (PersonId, CrmPersonRef, MatchOrigin) {
        (m.person, m.crm, m.origin)
    }

    fn new_match(
        person: PersonId,
        crm: CrmPersonRef,
        confidence: Confidence,
        origin: MatchOrigin,
        explanation: String,
    ) -> PersonMatch {
        PersonMatch {
            person,
            crm,
            confidence,
            origin,
            explanation,
        }
    }
}

/// Workspace companies against the CRM's accounts.
pub(crate) enum Companies {}

impl Side for Companies {
    type Entity = matching::Companies;
    type Record = Company;
    type Id = CompanyId;
    type Crm = CrmAccountId;
    type Match = CompanyMatch;

    fn id(company: &Company) -> CompanyId {
        company.id
    }

    fn from_crm(company: &Company) -> bool {
        matches!(company.origin, CompanyOrigin::CreatedFromCrm { .. })
    }

    fn input(company: &Company) -> matching::CompanyRecord {
        workspace_company(company)
    }

    fn crm(index_id: &str) -> Option<CrmAccountId> {
        Uuid::parse_str(index_id).ok().map(CrmAccountId)
    }

    fn parts(m: &CompanyMatch) -> (CompanyId, CrmAccountId, MatchOrigin) {
        (m.company, m.account, m.origin)
    }

    fn new_match(
        company: CompanyId,
        account: CrmAccountId,
        confidence: Confidence,
        origin: MatchOrigin,
        explanation: String,
    ) -> CompanyMatch {
        CompanyMatch {
            company,
            account,
            confidence,
            origin,
            explanation,
        }
    }
}

/// The changes to the stored automatic matches of `records` against the CRM's `index`:
/// `current` holds their stored matches (any others are ignored). Records the import created and
/// records a rep pinned are left as they are.
pub(crate) fn rematch<S: Side>(
    index: &matching::MatchIndex<S::Entity>,
    records: &[S::Record],
    current: &[S::Match],
) -> MatchChanges<S::Id, S::Match> {
    let mut automatic: BTreeMap<S::Id, BTreeSet<S::Crm>> = BTreeMap::new();
    let mut pinned = BTreeSet::new();
    for m in current {
        let (id, crm, origin) = S::parts(m);
        match origin {
            MatchOrigin::ByRep => {
                pinned.insert(id);
            }
            MatchOrigin::Scored | MatchOrigin::Exact => {
                automatic.entry(id).or_default().insert(crm);
            }
            MatchOrigin::CreatedFromCrm => {}
        }
    }
    let mut changes = MatchChanges::default();
    for record in records {
        let id = S::id(record);
        if S::from_crm(record) || pinned.contains(&id) {
            continue;
        }
        let outcome = index.best_match(&S::input(record));
        let found = decided(&outcome).and_then(|(crm, confidence, origin, explanation)| {
            Some((S::crm(crm)?, confidence, origin, explanation))
        });
        let had = automatic.remove(&id).unwrap_or_default();
        let wanted: BTreeSet<S::Crm> = found.iter().map(|f| f.0).collect();
        if had == wanted {
            continue;
        }
        if !had.is_empty() {
            changes.cleared.push(id);
        }
        if let Some((crm, confidence, origin, explanation)) = found {
            changes
                .upsert
                .push(S::new_match(id, crm, confidence, origin, explanation));
        }
    }
    changes
}

/// Matches every workspace company the import did not create and no rep pinned.
#[cfg(test)]
pub(crate) fn match_companies(
    accounts: &BTreeMap<CrmAccountId, CrmAccount>,
    companies: &[Company],
    current: &[CompanyMatch],
    rejected: &[(CompanyId, CrmAccountId)],
) -> MatchChanges<CompanyId, CompanyMatch> {
    let mut index = matching::CompanyIndex::default();
    for account in accounts.values() {
        index.upsert(&account_record(account));
    }
    for (company, account) in rejected {
        index.reject(&company.0.to_string(), &account.0.to_string());
    }
    rematch::<Companies>(&index, companies, current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ids::TenantId;

    fn contact(n: u128, name: &str, email: &str) -> CrmContact {
        CrmContact {
            id: CrmContactId(Uuid::from_u128(n)),
            full_name: name.into(),
            job_title: None,
            email: Some(email.into()),
            phone: None,
            location: Some("Lisboa, Portugal".into()),
            account: None,
        }
    }

    fn person(n: u128, name: &str, email: Option<&str>) -> Person {
        Person {
            id: PersonId(Uuid::from_u128(n)),
            tenant: TenantId(Uuid::nil()),
            full_name: name.into(),
            title: None,
            company_name: None,
            company: None,
            location: Some("Lisbon, Portugal".into()),
            email: email.map(str::to_owned),
            phone: None,
            profile_url: None,
            past_companies: Vec::new(),
            origin: PersonOrigin::Workspace,
        }
    }

    fn stored(p: u128, c: u128, origin: MatchOrigin) -> PersonMatch {
        PersonMatch {
            person: PersonId(Uuid::from_u128(p)),
            crm: CrmPersonRef::Contact(CrmContactId(Uuid::from_u128(c))),
            confidence: Confidence::CERTAIN,
            origin,
            explanation: String::new(),
        }
    }

    #[test]
    fn locations_split_back_into_city_and_country() {
        assert_eq!(
            city_country(Some("São Paulo, Brasil")),
            (Some("São Paulo".into()), Some("Brasil".into()))
        );
        assert_eq!(
            city_country(Some("Portugal")),
            (None, Some("Portugal".into()))
        );
        assert_eq!(city_country(None), (None, None));
    }

    #[test]
    fn people_match_by_email_and_unchanged_matches_are_left_alone() {
        let contacts = [
            contact(1, "Ana Souza", "ana@contoso.example"),
            contact(2, "Bruno Lima", "bruno@contoso.example"),
        ];
        let accounts = BTreeMap::new();
        let crm = CrmPeople {
            contacts: &contacts,
            leads: &[],
            accounts: &accounts,
        };
        let people = [
            person(10, "Ana Souza", Some("ANA@contoso.example")),
            person(11, "Bruno Lima", Some("bruno@contoso.example")),
            person(12, "Carla Dias", None),
        ];
        let first = match_people(&crm, &people, &[], &[]);
        assert!(first.cleared.is_empty());
        let matched: Vec<(PersonId, CrmPersonRef, MatchOrigin)> = first
            .upsert
            .iter()
            .map(|m| (m.person, m.crm, m.origin))
            .collect();
        assert_eq!(
            matched,
            [
                (
                    PersonId(Uuid::from_u128(10)),
                    CrmPersonRef::Contact(CrmContactId(Uuid::from_u128(1))),
                    MatchOrigin::Exact
                ),
                (
                    PersonId(Uuid::from_u128(11)),
                    CrmPersonRef::Contact(CrmContactId(Uuid::from_u128(2))),
                    MatchOrigin::Exact
                ),
            ]
        );
        assert!(first.upsert[0].explanation.contains("exact_key"));

        // Stored already: nothing to do. A stale match for Carla is cleared.
        let current = [
            stored(10, 1, MatchOrigin::Exact),
            stored(11, 2, MatchOrigin::Exact),
            stored(12, 2, MatchOrigin::Scored),
        ];
        let again = match_people(&crm, &people, &current, &[]);
        assert_eq!(again.cleared, [PersonId(Uuid::from_u128(12))]);
        assert!(again.upsert.is_empty());
    }

    #[test]
    fn a_rep_who_changed_jobs_is_found_through_the_work_history() {
        let account = CrmAccount {
            id: CrmAccountId(Uuid::from_u128(50)),
            name: "Lomarese S.p.A.".into(),
            website: None,
            industry: None,
            location: None,
            employees: None,
        };
        let accounts = BTreeMap::from([(account.id, account.clone())]);
        let contacts = [CrmContact {
            account: Some(account.id),
            ..contact(1, "Ilaria Quorvaldi", "ilaria@lomarese.example")
        }];
        let crm = CrmPeople {
            contacts: &contacts,
            leads: &[],
            accounts: &accounts,
        };
        // The profile shows the new employer and no email: the CRM still has the old one.
        let moved = Person {
            company_name: Some("Brand New Employer".into()),
            ..person(10, "Ilaria Quorvaldi", None)
        };
        let without_history = match_people(&crm, std::slice::from_ref(&moved), &[], &[]);
        assert!(without_history.upsert.is_empty());
        let with_history = Person {
            past_companies: vec!["Lomarese".into()],
            ..moved
        };
        let found = match_people(&crm, &[with_history], &[], &[]);
        assert_eq!(found.upsert.len(), 1);
        assert_eq!(
            found.upsert[0].crm,
            CrmPersonRef::Contact(CrmContactId(Uuid::from_u128(1)))
        );
        assert!(
            found.upsert[0].explanation.contains("past_employer"),
            "{}",
            found.upsert[0].explanation
        );
    }

    #[test]
    fn pins_are_kept_and_rejections_replayed() {
        let contacts = [contact(1, "Ana Souza", "ana@contoso.example")];
        let accounts = BTreeMap::new();
        let crm = CrmPeople {
            contacts: &contacts,
            leads: &[],
            accounts: &accounts,
        };
        let people = [
            person(10, "Ana Souza", Some("ana@contoso.example")),
            person(11, "Ana Souza", Some("ana@contoso.example")),
        ];
        let current = [stored(10, 9, MatchOrigin::ByRep)];
        let rejected = [(
            PersonId(Uuid::from_u128(11)),
            CrmPersonRef::Contact(CrmContactId(Uuid::from_u128(1))),
        )];
        let changes = match_people(&crm, &people, &current, &rejected);
        assert_eq!(changes, MatchChanges::default());
    }

    #[test]
    fn companies_match_by_website() {
        let account = CrmAccount {
            id: CrmAccountId(Uuid::from_u128(1)),
            name: "Contoso Ltd".into(),
            website: Some("https://www.contoso.example".into()),
            industry: None,
            location: Some("London, United Kingdom".into()),
            employees: Some(120),
        };
        let accounts = BTreeMap::from([(account.id, account)]);
        let company = Company {
            id: CompanyId(Uuid::from_u128(5)),
            tenant: TenantId(Uuid::nil()),
            name: "Contoso".into(),
            website: Some("contoso.example".into()),
            domain: None,
            industry: None,
            location: Some("London, UK".into()),
            size: None,
            origin: CompanyOrigin::Workspace,
        };
        let changes = match_companies(&accounts, &[company], &[], &[]);
        assert_eq!(changes.upsert.len(), 1);
        assert_eq!(changes.upsert[0].account, CrmAccountId(Uuid::from_u128(1)));
    }
}
