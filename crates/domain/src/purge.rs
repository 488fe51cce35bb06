//! "Disconnect CRM Sync" with "Yes, clean up all previously imported CRM data": what goes, what
//! stays (everything the reps did by hand), and the receipt shown afterwards.

use std::collections::BTreeSet;

use crate::activity::{Activity, ActivityAbout, ActivityKind, Thread};
use crate::crm::DeltaToken;
use crate::directory::{Company, CompanyOrigin, Person, PersonOrigin};
use crate::ids::{CompanyId, PersonId};
use crate::saved::{SavedItem, SavedKey, SavedTarget};

/// How many mirrored CRM rows the tenant holds, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MirrorCounts {
    pub users: usize,
    pub accounts: usize,
    pub contacts: usize,
    pub leads: usize,
    pub opportunities: usize,
}

/// Everything of the tenant that purge looks at.
#[derive(Clone, Copy, Debug)]
pub struct PurgeInput<'a> {
    pub saved: &'a [SavedItem],
    pub people: &'a [Person],
    pub companies: &'a [Company],
    pub activities: &'a [Activity],
    pub threads: &'a [Thread],
    pub mirror: MirrorCounts,
    pub person_matches: usize,
    pub company_matches: usize,
    pub delta_tokens: &'a [DeltaToken],
    pub credentials_stored: bool,
    /// Seats with a remembered CRM user (what the "In CRM" badge rests on).
    pub seat_crm_links: usize,
    pub writeback_records: usize,
}

/// What the store does, in one transaction: delete the listed records, clear the tenant's mirror,
/// matches, delta tokens, credentials, CRM settings, seat CRM links and writeback records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgePlan {
    /// Saved by the import only.
    pub unsave: Vec<SavedKey>,
    /// Saved by hand but also carrying CRM reasons: they stay, the reasons go.
    pub strip_reasons: Vec<SavedKey>,
    /// Created from the CRM and used by nothing a rep did.
    pub delete_people: Vec<PersonId>,
    pub delete_companies: Vec<CompanyId>,
    /// Created from the CRM but a rep's hand-saved item, note, message or InMail refers to them:
    /// they stay as plain workspace records, without their CRM link.
    pub unlink_people: Vec<PersonId>,
    pub unlink_companies: Vec<CompanyId>,
    pub receipt: PurgeReceipt,
}

/// The counts shown after a purge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReceipt {
    pub removed: PurgeRemoved,
    pub kept: PurgeKept,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeRemoved {
    pub imported_leads: usize,
    pub imported_accounts: usize,
    pub crm_reasons: usize,
    pub people_created_from_crm: usize,
    pub companies_created_from_crm: usize,
    pub mirror: MirrorCounts,
    pub matches: usize,
    pub delta_tokens: usize,
    pub credentials: bool,
    pub seat_crm_links: usize,
    pub writeback_records: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeKept {
    pub hand_saved_leads: usize,
    pub hand_saved_accounts: usize,
    pub notes: usize,
    pub messages: usize,
    pub inmails: usize,
    /// Created from the CRM, kept because the reps' work refers to them.
    pub people_unlinked: usize,
    pub companies_unlinked: usize,
}

pub fn plan_purge(input: PurgeInput<'_>) -> PurgePlan {
    let mut plan = PurgePlan::default();
    let removed = &mut plan.receipt.removed;
    let kept = &mut plan.receipt.kept;

    let mut people_in_use = BTreeSet::new();
    let mut companies_in_use = BTreeSet::new();
    for item in input.saved {
        let is_lead = matches!(item.key.target, SavedTarget::Lead(_));
        if item.by_hand {
            match item.key.target {
                SavedTarget::Lead(person) => people_in_use.insert(person),
                SavedTarget::Account(company) => companies_in_use.insert(company),
            };
            if !item.crm_reasons.is_empty() {
                plan.strip_reasons.push(item.key);
                removed.crm_reasons += item.crm_reasons.len();
            }
            if is_lead {
                kept.hand_saved_leads += 1;
            } else {
                kept.hand_saved_accounts += 1;
            }
        } else {
            plan.unsave.push(item.key);
            if is_lead {
                removed.imported_leads += 1;
            } else {
                removed.imported_accounts += 1;
            }
        }
    }
    for activity in input.activities {
        match activity.about {
            ActivityAbout::Person(person) => people_in_use.insert(person),
            ActivityAbout::Company(company) => companies_in_use.insert(company),
        };
        match activity.kind {
            ActivityKind::Note => kept.notes += 1,
            ActivityKind::Message => kept.messages += 1,
            ActivityKind::InMail => kept.inmails += 1,
        }
    }
    people_in_use.extend(input.threads.iter().map(|t| t.person));

    for person in input.people {
        let from_crm = matches!(person.origin, PersonOrigin::CreatedFromCrm { .. });
        if from_crm && people_in_use.contains(&person.id) {
            plan.unlink_people.push(person.id);
        } else if from_crm {
            plan.delete_people.push(person.id);
            continue;
        }
        // A person who stays keeps the company their profile points at.
        if let Some(company) = person.company {
            companies_in_use.insert(company);
        }
    }
    for company in input.companies {
        if matches!(company.origin, CompanyOrigin::CreatedFromCrm { .. }) {
            if companies_in_use.contains(&company.id) {
                plan.unlink_companies.push(company.id);
            } else {
                plan.delete_companies.push(company.id);
            }
        }
    }

    removed.people_created_from_crm = plan.delete_people.len();
    removed.companies_created_from_crm = plan.delete_companies.len();
    kept.people_unlinked = plan.unlink_people.len();
    kept.companies_unlinked = plan.unlink_companies.len();
    removed.mirror = input.mirror;
    removed.matches = input.person_matches + input.company_matches;
    removed.delta_tokens = input.delta_tokens.len();
    removed.credentials = input.credentials_stored;
    removed.seat_crm_links = input.seat_crm_links;
    removed.writeback_records = input.writeback_records;
    plan
}

#[cfg(test)]
mod tests;
