//! The auto-save rule: from the CRM mirror, the matches, the seats and what is saved now, the
//! leads and accounts the import wants each rep to have, and the diff that gets there.
//!
//! A CRM contact or account that matches no workspace record is still saved: the import creates a
//! workspace person (or company) from the CRM row, with an id derived from the connection and the
//! CRM id, plus a `CreatedFromCrm` match to it. The derived id makes the plan deterministic, so the
//! store treats those creations as "insert if absent" and a retried apply cannot duplicate people;
//! a reconnect gets a new connection id and therefore fresh records. Purge removes such records
//! unless a rep's own work refers to them.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use crate::crm::{CrmAccount, CrmContact, CrmOpportunity, CrmPersonRef};
use crate::directory::{Company, CompanyOrigin, CompanySize, Person, PersonOrigin};
use crate::ids::{CompanyId, CrmAccountId, CrmConnectionId, CrmContactId, PersonId, TenantId};
use crate::matches::{CompanyMatch, Confidence, MatchIndex, MatchOrigin, PersonMatch};
use crate::pipeline::qualifying_opportunities;
use crate::saved::{CrmReason, SavedItem, SavedKey, SavedTarget};
use crate::seat_mapping::SyncedSeats;
use crate::settings::StageThreshold;

/// Everything the rule reads. `saved` must hold every saved item of the tenant (hand-saved and
/// imported, all seats), one per key. Run it only on a complete mirror: a half-read mirror would
/// unsave what has not been read yet.
#[derive(Clone, Copy, Debug)]
pub struct ImportInput<'a> {
    pub tenant: TenantId,
    pub connection: CrmConnectionId,
    pub opportunities: &'a [CrmOpportunity],
    pub accounts: &'a BTreeMap<CrmAccountId, CrmAccount>,
    pub contacts: &'a BTreeMap<CrmContactId, CrmContact>,
    pub threshold: &'a StageThreshold,
    pub synced: &'a SyncedSeats,
    pub matches: &'a MatchIndex,
    pub saved: &'a [SavedItem],
}

/// A row an opportunity points at that is neither matched nor in the mirror (not read yet, or not
/// readable with the connection's privileges); its item cannot be saved until it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MissingCrmRow {
    Account(CrmAccountId),
    Contact(CrmContactId),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportDiff {
    /// Insert if absent.
    pub create_people: Vec<Person>,
    /// Insert if absent.
    pub create_companies: Vec<Company>,
    pub person_matches: Vec<PersonMatch>,
    pub company_matches: Vec<CompanyMatch>,
    /// New imported items (`by_hand` false) with their reasons.
    pub save: Vec<SavedItem>,
    pub add_reasons: Vec<(SavedKey, CrmReason)>,
    /// Reasons that no longer hold on items that stay (hand-saved, or still brought by another
    /// opportunity).
    pub remove_reasons: Vec<(SavedKey, CrmReason)>,
    /// Imported items no qualifying opportunity brings any more.
    pub unsave: Vec<SavedKey>,
}

impl ImportDiff {
    /// Nothing to change in the saved items. Creations alone do not count: they only ever come
    /// with a save that needs them.
    pub fn is_empty(&self) -> bool {
        self.save.is_empty()
            && self.add_reasons.is_empty()
            && self.remove_reasons.is_empty()
            && self.unsave.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// What the import wants saved, per rep and item, with the opportunities (and their stages)
    /// that bring each one.
    pub desired: BTreeMap<SavedKey, BTreeSet<CrmReason>>,
    pub diff: ImportDiff,
    pub missing: BTreeSet<MissingCrmRow>,
}

const CONTACT_NAME: &str = "contact";
const ACCOUNT_NAME: &str = "account";

/// The id of the person created from a CRM contact under a connection.
pub fn person_id_for_contact(connection: CrmConnectionId, contact: CrmContactId) -> PersonId {
    PersonId(derived(connection, CONTACT_NAME, contact.0))
}

/// The id of the company created from a CRM account under a connection.
pub fn company_id_for_account(connection: CrmConnectionId, account: CrmAccountId) -> CompanyId {
    CompanyId(derived(connection, ACCOUNT_NAME, account.0))
}

fn derived(connection: CrmConnectionId, table: &str, id: Uuid) -> Uuid {
    let name = format!("{table}:{}", id.simple());
    Uuid::new_v5(&connection.0, name.as_bytes())
}

/// Builds the created records while resolving CRM rows to workspace ones.
struct Resolver<'a> {
    input: ImportInput<'a>,
    people: BTreeMap<CrmContactId, Person>,
    companies: BTreeMap<CrmAccountId, Company>,
    missing: BTreeSet<MissingCrmRow>,
}

impl Resolver<'_> {
    fn company(&mut self, account: CrmAccountId) -> Option<CompanyId> {
        if let Some(company) = self.input.matches.company_for_account(account) {
            return Some(company);
        }
        if let Some(created) = self.companies.get(&account) {
            return Some(created.id);
        }
        let Some(row) = self.input.accounts.get(&account) else {
            self.missing.insert(MissingCrmRow::Account(account));
            return None;
        };
        let company = Company {
            id: company_id_for_account(self.input.connection, account),
            tenant: self.input.tenant,
            name: row.name.clone(),
            website: row.website.clone(),
            domain: None,
            industry: row.industry.clone(),
            location: row.location.clone(),
            size: row.employees.and_then(CompanySize::from_employee_count),
            origin: CompanyOrigin::CreatedFromCrm {
                connection: self.input.connection,
                account,
            },
        };
        let id = company.id;
        self.companies.insert(account, company);
        Some(id)
    }

    fn person(&mut self, contact: CrmContactId) -> Option<PersonId> {
        if let Some(person) = self.input.matches.person_for_contact(contact) {
            return Some(person);
        }
        if let Some(created) = self.people.get(&contact) {
            return Some(created.id);
        }
        let Some(row) = self.input.contacts.get(&contact) else {
            self.missing.insert(MissingCrmRow::Contact(contact));
            return None;
        };
        // Link the new person to the company of its CRM account only when that company is already
        // known; the import does not create companies for accounts no opportunity brings.
        let company = row.account.and_then(|account| {
            self.input
                .matches
                .company_for_account(account)
                .or_else(|| self.companies.get(&account).map(|c| c.id))
        });
        let company_name = row
            .account
            .and_then(|account| self.input.accounts.get(&account))
            .map(|account| account.name.clone());
        let person = Person {
            id: person_id_for_contact(self.input.connection, contact),
            tenant: self.input.tenant,
            full_name: row.full_name.clone(),
            title: row.job_title.clone(),
            company_name,
            company,
            location: row.location.clone(),
            email: row.email.clone(),
            phone: row.phone.clone(),
            profile_url: None,
            past_companies: Vec::new(),
            origin: PersonOrigin::CreatedFromCrm {
                connection: self.input.connection,
                contact,
            },
        };
        let id = person.id;
        self.people.insert(contact, person);
        Some(id)
    }
}

/// What each rep should have saved by the import, and the diff from what is saved now.
///
/// Invariants (property-tested below): an item the rep saved by hand is never unsaved and never
/// changes source, it only gains or loses CRM reasons; an item stays while any qualifying
/// opportunity brings it; applying the diff and planning again yields an empty diff.
pub fn plan(input: ImportInput<'_>) -> ImportPlan {
    let mut resolver = Resolver {
        input,
        people: BTreeMap::new(),
        companies: BTreeMap::new(),
        missing: BTreeSet::new(),
    };
    let mut desired: BTreeMap<SavedKey, BTreeSet<CrmReason>> = BTreeMap::new();
    for (opportunity, seats) in
        qualifying_opportunities(input.opportunities, input.threshold, input.synced)
    {
        let reason = CrmReason {
            opportunity: opportunity.id,
            stage: opportunity.sales_stage,
        };
        let mut targets = Vec::new();
        if let Some(account) = opportunity.account
            && let Some(company) = resolver.company(account)
        {
            targets.push(SavedTarget::Account(company));
        }
        for contact in &opportunity.contacts {
            if let Some(person) = resolver.person(*contact) {
                targets.push(SavedTarget::Lead(person));
            }
        }
        for seat in seats {
            for target in &targets {
                desired
                    .entry(SavedKey {
                        seat,
                        target: *target,
                    })
                    .or_default()
                    .insert(reason);
            }
        }
    }

    let current: BTreeMap<SavedKey, &SavedItem> =
        input.saved.iter().map(|item| (item.key, item)).collect();
    let mut diff = ImportDiff::default();
    for (key, reasons) in &desired {
        match current.get(key) {
            None => diff.save.push(SavedItem {
                key: *key,
                by_hand: false,
                crm_reasons: reasons.clone(),
                tags: BTreeSet::new(),
            }),
            Some(item) => {
                for reason in reasons.difference(&item.crm_reasons) {
                    diff.add_reasons.push((*key, *reason));
                }
                for reason in item.crm_reasons.difference(reasons) {
                    diff.remove_reasons.push((*key, *reason));
                }
            }
        }
    }
    for (key, item) in &current {
        if desired.contains_key(key) {
            continue;
        }
        if item.by_hand {
            for reason in &item.crm_reasons {
                diff.remove_reasons.push((*key, *reason));
            }
        } else {
            diff.unsave.push(*key);
        }
    }

    // Only create what a save needs: a person matched meanwhile, or whose item already exists, is
    // not created again.
    let needed: BTreeSet<SavedTarget> = diff.save.iter().map(|item| item.key.target).collect();
    for (contact, person) in resolver.people {
        if needed.contains(&SavedTarget::Lead(person.id)) {
            diff.person_matches.push(PersonMatch {
                person: person.id,
                crm: CrmPersonRef::Contact(contact),
                confidence: Confidence::CERTAIN,
                origin: MatchOrigin::CreatedFromCrm,
                explanation: "Created from the CRM contact.".to_owned(),
            });
            diff.create_people.push(person);
        }
    }
    for (account, company) in resolver.companies {
        let linked_by_new_person = diff
            .create_people
            .iter()
            .any(|p| p.company == Some(company.id));
        if needed.contains(&SavedTarget::Account(company.id)) || linked_by_new_person {
            diff.company_matches.push(CompanyMatch {
                company: company.id,
                account,
                confidence: Confidence::CERTAIN,
                origin: MatchOrigin::CreatedFromCrm,
                explanation: "Created from the CRM account.".to_owned(),
            });
            diff.create_companies.push(company);
        }
    }

    ImportPlan {
        desired,
        diff,
        missing: resolver.missing,
    }
}

/// The saved items after a diff is applied, as the store must apply it: unsaves, then reason
/// removals, then additions, then new items.
pub fn apply(saved: &[SavedItem], diff: &ImportDiff) -> Vec<SavedItem> {
    let mut items: BTreeMap<SavedKey, SavedItem> =
        saved.iter().map(|item| (item.key, item.clone())).collect();
    for key in &diff.unsave {
        if items.get(key).is_some_and(|item| !item.by_hand) {
            items.remove(key);
        }
    }
    for (key, reason) in &diff.remove_reasons {
        if let Some(item) = items.get_mut(key) {
            item.crm_reasons.remove(reason);
        }
    }
    for (key, reason) in &diff.add_reasons {
        if let Some(item) = items.get_mut(key) {
            item.crm_reasons.insert(*reason);
        }
    }
    for item in &diff.save {
        items.entry(item.key).or_insert_with(|| item.clone());
    }
    items.into_values().collect()
}

#[cfg(test)]
mod tests;
