//! Matches between workspace people/companies and CRM contacts, leads and accounts, as the
//! matching crate or a rep decided them, and the one-answer-per-record index the rules read.

use std::collections::BTreeMap;

use crate::crm::CrmPersonRef;
use crate::ids::{CompanyId, CrmAccountId, CrmContactId, PersonId};

/// How sure a match is, in percent (0–100).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Confidence(u8);

impl Confidence {
    pub const CERTAIN: Confidence = Confidence(100);

    /// Values above 100 are clamped: a score cannot be more than certain.
    pub fn new(percent: u8) -> Self {
        Confidence(percent.min(100))
    }

    pub fn percent(self) -> u8 {
        self.0
    }
}

/// Who or what made a match; a rep's word outranks any automatic one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOrigin {
    /// A scored match on name, company, title, location, phone.
    Scored,
    /// An exact key: email, profile URL, a stored link.
    Exact,
    /// The import created the workspace record from this CRM row.
    CreatedFromCrm,
    /// A rep confirmed, corrected or picked it (including from the Unassigned Activities list).
    ByRep,
}

impl MatchOrigin {
    fn rank(self) -> u8 {
        match self {
            MatchOrigin::Scored => 0,
            MatchOrigin::Exact => 1,
            MatchOrigin::CreatedFromCrm => 2,
            MatchOrigin::ByRep => 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonMatch {
    pub person: PersonId,
    pub crm: CrmPersonRef,
    pub confidence: Confidence,
    pub origin: MatchOrigin,
    pub explanation: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyMatch {
    pub company: CompanyId,
    pub account: CrmAccountId,
    pub confidence: Confidence,
    pub origin: MatchOrigin,
    pub explanation: String,
}

/// One answer per record in each direction. When several matches compete for the same record the
/// rep's wins, then the stronger origin, then the higher confidence, then a contact over a lead;
/// remaining ties go to the smallest id so every process picks the same one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchIndex {
    contact_to_person: BTreeMap<CrmContactId, PersonId>,
    account_to_company: BTreeMap<CrmAccountId, CompanyId>,
    person_to_crm: BTreeMap<PersonId, CrmPersonRef>,
    company_to_account: BTreeMap<CompanyId, CrmAccountId>,
}

type Strength = (u8, Confidence, bool);

fn strength(origin: MatchOrigin, confidence: Confidence, is_contact: bool) -> Strength {
    (origin.rank(), confidence, is_contact)
}

fn strip<K: Ord, V>(map: BTreeMap<K, (Strength, V)>) -> BTreeMap<K, V> {
    map.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

/// Keeps the strongest candidate per key; on equal strength the smaller value wins.
fn keep_best<K: Ord, V: Ord + Copy>(
    best: &mut BTreeMap<K, (Strength, V)>,
    key: K,
    candidate: (Strength, V),
) {
    match best.get_mut(&key) {
        Some(current) => {
            let better =
                candidate.0 > current.0 || (candidate.0 == current.0 && candidate.1 < current.1);
            if better {
                *current = candidate;
            }
        }
        None => {
            best.insert(key, candidate);
        }
    }
}

impl MatchIndex {
    pub fn build(people: &[PersonMatch], companies: &[CompanyMatch]) -> Self {
        let mut contact_to_person = BTreeMap::new();
        let mut person_to_crm = BTreeMap::new();
        for m in people {
            let is_contact = matches!(m.crm, CrmPersonRef::Contact(_));
            let s = strength(m.origin, m.confidence, is_contact);
            if let CrmPersonRef::Contact(contact) = m.crm {
                keep_best(&mut contact_to_person, contact, (s, m.person));
            }
            keep_best(&mut person_to_crm, m.person, (s, m.crm));
        }
        let mut account_to_company = BTreeMap::new();
        let mut company_to_account = BTreeMap::new();
        for m in companies {
            let s = strength(m.origin, m.confidence, true);
            keep_best(&mut account_to_company, m.account, (s, m.company));
            keep_best(&mut company_to_account, m.company, (s, m.account));
        }
        MatchIndex {
            contact_to_person: strip(contact_to_person),
            account_to_company: strip(account_to_company),
            person_to_crm: strip(person_to_crm),
            company_to_account: strip(company_to_account),
        }
    }

    pub fn person_for_contact(&self, contact: CrmContactId) -> Option<PersonId> {
        self.contact_to_person.get(&contact).copied()
    }

    pub fn company_for_account(&self, account: CrmAccountId) -> Option<CompanyId> {
        self.account_to_company.get(&account).copied()
    }

    /// The CRM record a person's activities are written to.
    pub fn crm_for_person(&self, person: PersonId) -> Option<CrmPersonRef> {
        self.person_to_crm.get(&person).copied()
    }

    pub fn account_for_company(&self, company: CompanyId) -> Option<CrmAccountId> {
        self.company_to_account.get(&company).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CrmLeadId;
    use uuid::Uuid;

    fn person(n: u128) -> PersonId {
        PersonId(Uuid::from_u128(n))
    }
    fn contact(n: u128) -> CrmContactId {
        CrmContactId(Uuid::from_u128(n))
    }
    fn lead(n: u128) -> CrmLeadId {
        CrmLeadId(Uuid::from_u128(n))
    }
    fn pm(p: u128, crm: CrmPersonRef, confidence: u8, origin: MatchOrigin) -> PersonMatch {
        PersonMatch {
            person: person(p),
            crm,
            confidence: Confidence::new(confidence),
            origin,
            explanation: String::new(),
        }
    }

    #[test]
    fn confidence_is_clamped_to_certain() {
        assert_eq!(Confidence::new(250), Confidence::CERTAIN);
        assert_eq!(Confidence::new(42).percent(), 42);
    }

    #[test]
    fn competing_matches_resolve_by_rep_then_origin_then_confidence_then_id() {
        use CrmPersonRef::{Contact, Lead};
        use MatchOrigin::*;
        // (matches for contact 1, expected person)
        let cases: Vec<(Vec<PersonMatch>, u128)> = vec![
            (vec![pm(1, Contact(contact(1)), 90, Scored)], 1),
            (
                vec![
                    pm(1, Contact(contact(1)), 99, Exact),
                    pm(2, Contact(contact(1)), 10, ByRep),
                ],
                2,
            ),
            (
                vec![
                    pm(1, Contact(contact(1)), 60, Scored),
                    pm(2, Contact(contact(1)), 50, Exact),
                ],
                2,
            ),
            (
                vec![
                    pm(1, Contact(contact(1)), 60, Scored),
                    pm(2, Contact(contact(1)), 80, Scored),
                ],
                2,
            ),
            (
                vec![
                    pm(3, Contact(contact(1)), 80, Scored),
                    pm(2, Contact(contact(1)), 80, Scored),
                ],
                2,
            ),
            (
                vec![
                    pm(2, Contact(contact(1)), 80, Scored),
                    pm(3, Contact(contact(1)), 80, Scored),
                    pm(9, Lead(lead(1)), 100, ByRep),
                ],
                2,
            ),
        ];
        for (matches, expected) in cases {
            let index = MatchIndex::build(&matches, &[]);
            assert_eq!(
                index.person_for_contact(contact(1)),
                Some(person(expected)),
                "{matches:?}"
            );
        }
    }

    #[test]
    fn a_person_prefers_a_contact_over_a_lead_only_at_equal_strength() {
        use CrmPersonRef::{Contact, Lead};
        use MatchOrigin::*;
        let equal = MatchIndex::build(
            &[
                pm(1, Lead(lead(5)), 90, Exact),
                pm(1, Contact(contact(5)), 90, Exact),
            ],
            &[],
        );
        assert_eq!(equal.crm_for_person(person(1)), Some(Contact(contact(5))));
        let rep_picked_lead = MatchIndex::build(
            &[
                pm(1, Lead(lead(5)), 50, ByRep),
                pm(1, Contact(contact(5)), 99, Exact),
            ],
            &[],
        );
        assert_eq!(
            rep_picked_lead.crm_for_person(person(1)),
            Some(Lead(lead(5)))
        );
        assert_eq!(rep_picked_lead.crm_for_person(person(2)), None);
    }

    #[test]
    fn companies_index_both_ways() {
        let company = CompanyId(Uuid::from_u128(7));
        let account = CrmAccountId(Uuid::from_u128(8));
        let index = MatchIndex::build(
            &[],
            &[CompanyMatch {
                company,
                account,
                confidence: Confidence::new(80),
                origin: MatchOrigin::Scored,
                explanation: "same domain".into(),
            }],
        );
        assert_eq!(index.company_for_account(account), Some(company));
        assert_eq!(index.account_for_company(company), Some(account));
        assert_eq!(
            index.company_for_account(CrmAccountId(Uuid::from_u128(9))),
            None
        );
    }
}
