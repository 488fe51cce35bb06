//! The purge plan on a tenant with every kind of record, and the property that nothing a rep did by
//! hand is removed.

use super::*;
use crate::activity::CopyToCrm;
use crate::crm::CrmTable;
use crate::ids::{
    ActivityId, CrmAccountId, CrmConnectionId, CrmContactId, CrmOpportunityId, SeatId, TenantId,
    ThreadId,
};
use crate::saved::CrmReason;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use std::collections::BTreeSet;
use uuid::Uuid;

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
const CONNECTION: CrmConnectionId = CrmConnectionId(Uuid::from_u128(1));
const SEAT: SeatId = SeatId(Uuid::from_u128(2));

fn person(n: u128, from_crm: bool, company: Option<u128>) -> Person {
    Person {
        id: PersonId(uuid(n)),
        tenant: TenantId(Uuid::nil()),
        full_name: format!("Person {n}"),
        title: None,
        company_name: None,
        company: company.map(|c| CompanyId(uuid(c))),
        location: None,
        email: None,
        phone: None,
        profile_url: None,
        past_companies: Vec::new(),
        origin: if from_crm {
            PersonOrigin::CreatedFromCrm {
                connection: CONNECTION,
                contact: CrmContactId(uuid(n)),
            }
        } else {
            PersonOrigin::Workspace
        },
    }
}

fn company(n: u128, from_crm: bool) -> Company {
    Company {
        id: CompanyId(uuid(n)),
        tenant: TenantId(Uuid::nil()),
        name: format!("Company {n}"),
        website: None,
        domain: None,
        industry: None,
        location: None,
        size: None,
        origin: if from_crm {
            CompanyOrigin::CreatedFromCrm {
                connection: CONNECTION,
                account: CrmAccountId(uuid(n)),
            }
        } else {
            CompanyOrigin::Workspace
        },
    }
}

fn saved(target: SavedTarget, by_hand: bool, reasons: usize) -> SavedItem {
    SavedItem {
        key: SavedKey { seat: SEAT, target },
        by_hand,
        crm_reasons: (0..reasons)
            .map(|r| CrmReason {
                opportunity: CrmOpportunityId(uuid(900 + r as u128)),
                stage: None,
            })
            .collect(),
        tags: BTreeSet::new(),
    }
}

fn lead(n: u128) -> SavedTarget {
    SavedTarget::Lead(PersonId(uuid(n)))
}
fn account(n: u128) -> SavedTarget {
    SavedTarget::Account(CompanyId(uuid(n)))
}

fn activity(n: u128, kind: ActivityKind, about: ActivityAbout) -> Activity {
    Activity {
        id: ActivityId(uuid(n)),
        tenant: TenantId(Uuid::nil()),
        seat: SEAT,
        kind,
        about,
        thread: None,
        body: String::new(),
        written_at: DateTime::<Utc>::UNIX_EPOCH,
        copy_to_crm: CopyToCrm::Item(true),
    }
}

#[test]
fn purge_removes_what_came_from_the_crm_and_keeps_the_reps_work() {
    // People 1–6; 1 and 2 are the reps' own, 3–6 were created from CRM contacts.
    let people = vec![
        person(1, false, Some(21)),
        person(2, false, None),
        person(3, true, Some(23)), // only an imported lead: goes, and so may its company
        person(4, true, None),     // hand-saved lead: stays, unlinked
        person(5, true, Some(25)), // a note about them: stays, keeps its company
        person(6, true, None),     // an InMail thread with them: stays
    ];
    let companies = vec![
        company(21, true),  // the company of a rep's own person: stays, unlinked
        company(22, true),  // only an imported account: goes
        company(23, true),  // only its deleted person pointed at it: goes
        company(24, true),  // a note on it: stays
        company(25, true),  // kept person points at it: stays
        company(26, false), // the reps' own: untouched
    ];
    let saved_items = vec![
        saved(lead(3), false, 1),
        saved(lead(4), true, 0),
        saved(lead(1), true, 2),
        saved(account(22), false, 2),
        saved(account(26), true, 1),
    ];
    let activities = vec![
        activity(
            50,
            ActivityKind::Note,
            ActivityAbout::Person(PersonId(uuid(5))),
        ),
        activity(
            51,
            ActivityKind::Note,
            ActivityAbout::Company(CompanyId(uuid(24))),
        ),
        activity(
            52,
            ActivityKind::InMail,
            ActivityAbout::Person(PersonId(uuid(1))),
        ),
        activity(
            53,
            ActivityKind::Message,
            ActivityAbout::Person(PersonId(uuid(2))),
        ),
    ];
    let threads = vec![Thread {
        id: ThreadId(uuid(60)),
        tenant: TenantId(Uuid::nil()),
        seat: SEAT,
        person: PersonId(uuid(6)),
        subject: None,
        copy_to_crm: true,
    }];
    let tokens = vec![
        DeltaToken {
            table: CrmTable::Account,
            token: "a".into(),
        },
        DeltaToken {
            table: CrmTable::Contact,
            token: "c".into(),
        },
    ];
    let mirror = MirrorCounts {
        users: 4,
        accounts: 10,
        contacts: 30,
        leads: 5,
        opportunities: 12,
    };
    let plan = plan_purge(PurgeInput {
        saved: &saved_items,
        people: &people,
        companies: &companies,
        activities: &activities,
        threads: &threads,
        mirror,
        person_matches: 20,
        company_matches: 7,
        delta_tokens: &tokens,
        credentials_stored: true,
        seat_crm_links: 3,
        writeback_records: 9,
    });
    let key = |target| SavedKey { seat: SEAT, target };
    assert_eq!(plan.unsave, vec![key(lead(3)), key(account(22))]);
    assert_eq!(plan.strip_reasons, vec![key(lead(1)), key(account(26))]);
    assert_eq!(plan.delete_people, vec![PersonId(uuid(3))]);
    assert_eq!(
        plan.unlink_people,
        vec![PersonId(uuid(4)), PersonId(uuid(5)), PersonId(uuid(6))]
    );
    assert_eq!(
        plan.delete_companies,
        vec![CompanyId(uuid(22)), CompanyId(uuid(23))]
    );
    assert_eq!(
        plan.unlink_companies,
        vec![
            CompanyId(uuid(21)),
            CompanyId(uuid(24)),
            CompanyId(uuid(25))
        ]
    );
    assert_eq!(
        plan.receipt,
        PurgeReceipt {
            removed: PurgeRemoved {
                imported_leads: 1,
                imported_accounts: 1,
                crm_reasons: 3,
                people_created_from_crm: 1,
                companies_created_from_crm: 2,
                mirror,
                matches: 27,
                delta_tokens: 2,
                credentials: true,
                seat_crm_links: 3,
                writeback_records: 9,
            },
            kept: PurgeKept {
                hand_saved_leads: 2,
                hand_saved_accounts: 1,
                notes: 2,
                messages: 1,
                inmails: 1,
                people_unlinked: 3,
                companies_unlinked: 3,
            },
        }
    );
}

#[test]
fn purging_an_empty_tenant_removes_nothing() {
    let plan = plan_purge(PurgeInput {
        saved: &[],
        people: &[],
        companies: &[],
        activities: &[],
        threads: &[],
        mirror: MirrorCounts::default(),
        person_matches: 0,
        company_matches: 0,
        delta_tokens: &[],
        credentials_stored: false,
        seat_crm_links: 0,
        writeback_records: 0,
    });
    assert_eq!(plan, PurgePlan::default());
}

proptest! {
    #[test]
    fn purge_never_touches_hand_saved_items_nor_what_reps_wrote_about(
        people in proptest::collection::vec((any::<bool>(), proptest::option::of(0u128..6)), 0..8),
        companies in proptest::collection::vec(any::<bool>(), 0..6),
        items in proptest::collection::vec((any::<bool>(), 0u128..8, any::<bool>(), 0usize..3), 0..10),
        notes in proptest::collection::vec((any::<bool>(), 0u128..8), 0..6),
    ) {
        let people: Vec<_> = people.iter().enumerate()
            .map(|(n, (from_crm, company))| person(n as u128, *from_crm, company.map(|c| 100 + c)))
            .collect();
        let companies: Vec<_> = companies.iter().enumerate()
            .map(|(n, from_crm)| company(100 + n as u128, *from_crm))
            .collect();
        let saved_items: Vec<_> = items.iter()
            .map(|(is_lead, n, by_hand, reasons)| {
                let target = if *is_lead { lead(*n) } else { account(100 + n % 6) };
                (SavedKey { seat: SEAT, target }, saved(target, *by_hand, *reasons))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .collect();
        let activities: Vec<_> = notes.iter().enumerate()
            .map(|(i, (on_person, n))| {
                let about = if *on_person { ActivityAbout::Person(PersonId(uuid(*n))) } else { ActivityAbout::Company(CompanyId(uuid(100 + n % 6))) };
                activity(500 + i as u128, ActivityKind::Note, about)
            })
            .collect();
        let plan = plan_purge(PurgeInput {
            saved: &saved_items,
            people: &people,
            companies: &companies,
            activities: &activities,
            threads: &[],
            mirror: MirrorCounts::default(),
            person_matches: 0,
            company_matches: 0,
            delta_tokens: &[],
            credentials_stored: true,
            seat_crm_links: 0,
            writeback_records: 0,
        });
        let deleted_people: BTreeSet<_> = plan.delete_people.iter().collect();
        let deleted_companies: BTreeSet<_> = plan.delete_companies.iter().collect();
        for item in &saved_items {
            prop_assert_eq!(plan.unsave.contains(&item.key), !item.by_hand);
            if item.by_hand {
                match item.key.target {
                    SavedTarget::Lead(p) => prop_assert!(!deleted_people.contains(&p)),
                    SavedTarget::Account(c) => prop_assert!(!deleted_companies.contains(&c)),
                }
            }
        }
        for a in &activities {
            match a.about {
                ActivityAbout::Person(p) => prop_assert!(!deleted_people.contains(&p)),
                ActivityAbout::Company(c) => prop_assert!(!deleted_companies.contains(&c)),
            }
        }
        // Every record created from the CRM is either deleted or unlinked; no other is touched.
        for p in &people {
            let from_crm = matches!(p.origin, PersonOrigin::CreatedFromCrm { .. });
            let handled = deleted_people.contains(&p.id) || plan.unlink_people.contains(&p.id);
            prop_assert_eq!(handled, from_crm);
            if !deleted_people.contains(&p.id)
                && let Some(c) = p.company
            {
                prop_assert!(!deleted_companies.contains(&c));
            }
        }
        for c in &companies {
            let from_crm = matches!(c.origin, CompanyOrigin::CreatedFromCrm { .. });
            let handled = deleted_companies.contains(&c.id) || plan.unlink_companies.contains(&c.id);
            prop_assert_eq!(handled, from_crm);
        }
    }
}
