//! The writeback state machine checked state by event, record timelines, and the Unassigned
//! Activities list.

use super::*;
use crate::ids::{CrmContactId, TenantId};
use proptest::prelude::*;
use uuid::Uuid;

const CRM_ACTIVITY: CrmActivityId = CrmActivityId(Uuid::from_u128(9));

fn regarding() -> Regarding {
    Regarding::Contact(CrmContactId(Uuid::from_u128(4)))
}

fn states() -> Vec<(&'static str, WritebackState)> {
    vec![
        ("P", WritebackState::Pending),
        (
            "W",
            WritebackState::Written {
                crm_activity: CRM_ACTIVITY,
                regarding: regarding(),
            },
        ),
        (
            "U",
            WritebackState::Unassigned {
                crm_activity: CRM_ACTIVITY,
            },
        ),
        ("RP", WritebackState::RemovalPending),
        (
            "FW",
            WritebackState::Failed {
                reason: "throttled".into(),
                retriable: true,
                during: Operation::Write,
            },
        ),
        (
            "FR",
            WritebackState::Failed {
                reason: "throttled".into(),
                retriable: true,
                during: Operation::Remove,
            },
        ),
        ("R", WritebackState::Removed),
        ("D", WritebackState::Dropped { reason: "x".into() }),
    ]
}

fn events() -> Vec<WritebackEvent> {
    vec![
        WritebackEvent::Edited,
        WritebackEvent::Matched {
            regarding: regarding(),
        },
        WritebackEvent::Written {
            crm_activity: CRM_ACTIVITY,
            regarding: Some(regarding()),
        },
        WritebackEvent::Written {
            crm_activity: CRM_ACTIVITY,
            regarding: None,
        },
        WritebackEvent::Failed {
            reason: "throttled".into(),
            retriable: true,
        },
        WritebackEvent::Retried,
        WritebackEvent::Read {
            regarding: Some(regarding()),
        },
        WritebackEvent::Read { regarding: None },
        WritebackEvent::DeletedInCrm,
        WritebackEvent::Resolved {
            how: Resolution::CreatedContact,
            regarding: regarding(),
        },
        WritebackEvent::CopyUnticked,
        WritebackEvent::CopyTicked,
        WritebackEvent::Skipped(NotWritten::WritebackOff),
        WritebackEvent::Removed,
    ]
}

fn short(state: &WritebackState) -> &'static str {
    match state {
        WritebackState::Pending => "P",
        WritebackState::Written { .. } => "W",
        WritebackState::Unassigned { .. } => "U",
        WritebackState::RemovalPending => "RP",
        WritebackState::Failed {
            during: Operation::Write,
            ..
        } => "FW",
        WritebackState::Failed {
            during: Operation::Remove,
            ..
        } => "FR",
        WritebackState::Removed => "R",
        WritebackState::Dropped { .. } => "D",
    }
}

/// Every state against every event. Columns: Edited, Matched, Written(linked), Written(no
/// match), Failed, Retried, Read(linked), Read(no link), DeletedInCrm, Resolved, CopyUnticked,
/// CopyTicked, Skipped, Removed. "-" is refused.
#[rustfmt::skip]
const TABLE: [(&str, [&str; 14]); 8] = [
    //       Ed    Ma    Wr   WrU   Fa    Rtr   Rd   RdU  Del  Res  Un    Ti   Sk   Rm
    ("P",  ["P",  "P",  "W", "U", "FW", "-",  "-", "-", "-", "-", "D",  "-", "D", "-"]),
    ("W",  ["P",  "W",  "-", "-", "-",  "-",  "W", "U", "R", "-", "RP", "-", "-", "-"]),
    ("U",  ["P",  "P",  "-", "-", "-",  "-",  "W", "U", "R", "W", "RP", "-", "-", "-"]),
    ("RP", ["RP", "RP", "-", "-", "FR", "-",  "-", "-", "R", "-", "-",  "P", "-", "R"]),
    ("FW", ["P",  "P",  "-", "-", "-",  "P",  "-", "-", "-", "-", "D",  "-", "-", "-"]),
    ("FR", ["FR", "FR", "-", "-", "-",  "RP", "-", "-", "-", "-", "-",  "P", "-", "-"]),
    ("R",  ["R",  "R",  "-", "-", "-",  "-",  "-", "-", "-", "-", "-",  "P", "-", "-"]),
    ("D",  ["D",  "D",  "-", "-", "-",  "-",  "-", "-", "-", "-", "-",  "P", "-", "-"]),
];

#[test]
fn every_state_against_every_event() {
    let events = events();
    for ((name, state), (row_name, row)) in states().into_iter().zip(TABLE) {
        assert_eq!(name, row_name);
        for (event, expected) in events.iter().zip(row) {
            let got = transition(&state, event);
            match expected {
                "-" => assert_eq!(
                    got,
                    Err(InvalidTransition {
                        state: state.clone(),
                        event: event.clone()
                    }),
                    "{name} + {event:?}"
                ),
                _ => assert_eq!(got.as_ref().map(short), Ok(expected), "{name} + {event:?}"),
            }
        }
    }
}

#[test]
fn rematching_a_written_activity_elsewhere_rewrites_it() {
    let written = WritebackState::Written {
        crm_activity: CRM_ACTIVITY,
        regarding: regarding(),
    };
    let other = Regarding::Contact(CrmContactId(Uuid::from_u128(5)));
    assert_eq!(
        transition(&written, &WritebackEvent::Matched { regarding: other }),
        Ok(WritebackState::Pending)
    );
    assert_eq!(
        transition(
            &written,
            &WritebackEvent::Matched {
                regarding: regarding()
            }
        ),
        Ok(written.clone())
    );
}

#[test]
fn transitions_carry_their_details() {
    let failed = transition(
        &WritebackState::Pending,
        &WritebackEvent::Failed {
            reason: "Principal user is missing prvCreateActivity privilege".into(),
            retriable: false,
        },
    );
    assert_eq!(
        failed,
        Ok(WritebackState::Failed {
            reason: "Principal user is missing prvCreateActivity privilege".into(),
            retriable: false,
            during: Operation::Write,
        })
    );
    let resolved = transition(
        &WritebackState::Unassigned {
            crm_activity: CRM_ACTIVITY,
        },
        &WritebackEvent::Resolved {
            how: Resolution::LinkedToRecord,
            regarding: regarding(),
        },
    );
    assert_eq!(
        resolved,
        Ok(WritebackState::Written {
            crm_activity: CRM_ACTIVITY,
            regarding: regarding()
        })
    );
    let skipped = transition(
        &WritebackState::Pending,
        &WritebackEvent::Skipped(NotWritten::NotCopiedToCrm),
    );
    assert_eq!(
        skipped,
        Ok(WritebackState::Dropped {
            reason: "Copy to CRM is not ticked.".into()
        })
    );
}

#[test]
fn resolving_teaches_a_match_when_the_record_fits() {
    use crate::ids::{CompanyId, CrmAccountId, CrmLeadId, PersonId};
    let person = ActivityAbout::Person(PersonId(Uuid::from_u128(1)));
    let company = ActivityAbout::Company(CompanyId(Uuid::from_u128(2)));
    let contact = regarding();
    let lead = Regarding::Lead(CrmLeadId(Uuid::from_u128(3)));
    let account = Regarding::Account(CrmAccountId(Uuid::from_u128(4)));
    let cases = [
        (person, Resolution::CreatedContact, contact, Some("person")),
        (person, Resolution::CreatedLead, lead, Some("person")),
        (person, Resolution::LinkedToRecord, account, None),
        (
            company,
            Resolution::LinkedToRecord,
            account,
            Some("company"),
        ),
        (company, Resolution::LinkedToRecord, contact, None),
        (company, Resolution::CreatedLead, lead, None),
    ];
    for (about, how, target, expected) in cases {
        let got = match_for_resolution(about, how, target);
        let kind = got.as_ref().map(|m| match m {
            ResolvedMatch::Person(m) => {
                assert_eq!(m.origin, MatchOrigin::ByRep);
                "person"
            }
            ResolvedMatch::Company(m) => {
                assert_eq!(m.origin, MatchOrigin::ByRep);
                "company"
            }
        });
        assert_eq!(kind, expected, "{about:?} {target:?}");
    }
    let Some(ResolvedMatch::Person(m)) =
        match_for_resolution(person, Resolution::CreatedLead, lead)
    else {
        panic!("a lead stands for a person");
    };
    assert_eq!(m.crm, CrmPersonRef::Lead(CrmLeadId(Uuid::from_u128(3))));
}

fn at(minute: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(minute)
}

fn record(n: u128, seat: u128) -> WritebackRecord {
    WritebackRecord::saved(
        ActivityId(Uuid::from_u128(n)),
        SeatId(Uuid::from_u128(seat)),
        ActivityKind::Message,
        ExternalKey::for_activity(TenantId(Uuid::nil()), ActivityId(Uuid::from_u128(n))),
        at(0),
    )
}

#[test]
fn a_record_keeps_its_timeline_and_refuses_bad_events_untouched() {
    let mut r = record(1, 10);
    r.apply(
        WritebackEvent::Written {
            crm_activity: CRM_ACTIVITY,
            regarding: None,
        },
        at(1),
    )
    .unwrap();
    let before = r.clone();
    assert!(r.apply(WritebackEvent::Removed, at(2)).is_err());
    assert_eq!(r, before);
    r.apply(
        WritebackEvent::Resolved {
            how: Resolution::CreatedLead,
            regarding: regarding(),
        },
        at(3),
    )
    .unwrap();
    let states: Vec<_> = r.timeline.iter().map(|e| (e.at, short(&e.state))).collect();
    assert_eq!(states, vec![(at(0), "P"), (at(1), "U"), (at(3), "W")]);
    assert_eq!(r.timeline[0].event, None);
}

#[test]
fn unticking_drops_what_was_not_written_and_removes_what_was() {
    let mut pending = record(1, 10);
    pending.apply(WritebackEvent::CopyUnticked, at(1)).unwrap();
    assert!(matches!(pending.state, WritebackState::Dropped { .. }));

    let mut written = record(2, 10);
    written
        .apply(
            WritebackEvent::Written {
                crm_activity: CRM_ACTIVITY,
                regarding: Some(regarding()),
            },
            at(1),
        )
        .unwrap();
    written.apply(WritebackEvent::CopyUnticked, at(2)).unwrap();
    assert_eq!(written.state, WritebackState::RemovalPending);
    written.apply(WritebackEvent::Removed, at(3)).unwrap();
    assert_eq!(written.state, WritebackState::Removed);
}

#[test]
fn the_unassigned_list_holds_open_activities_oldest_first() {
    let unassign = |mut r: WritebackRecord, minute| {
        r.apply(
            WritebackEvent::Written {
                crm_activity: CRM_ACTIVITY,
                regarding: None,
            },
            at(minute),
        )
        .unwrap();
        r
    };
    let linked = {
        let mut r = record(3, 10);
        r.apply(
            WritebackEvent::Written {
                crm_activity: CRM_ACTIVITY,
                regarding: Some(regarding()),
            },
            at(1),
        )
        .unwrap();
        r
    };
    let records = vec![
        unassign(record(1, 10), 5),
        unassign(record(2, 11), 2),
        linked,
        record(4, 10),
    ];
    let everyone: Vec<_> = unassigned_activities(&records, None)
        .into_iter()
        .map(|u| (u.activity, u.since))
        .collect();
    assert_eq!(
        everyone,
        vec![
            (ActivityId(Uuid::from_u128(2)), at(2)),
            (ActivityId(Uuid::from_u128(1)), at(5)),
        ]
    );
    let mine = unassigned_activities(&records, Some(SeatId(Uuid::from_u128(10))));
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].activity, ActivityId(Uuid::from_u128(1)));
}

proptest! {
    #[test]
    fn any_event_sequence_keeps_state_and_timeline_consistent(picks in proptest::collection::vec(0usize..14, 0..40)) {
        let events = events();
        let mut r = record(1, 10);
        let mut accepted = 0;
        for pick in picks {
            let event = events[pick].clone();
            let before = r.clone();
            match r.apply(event.clone(), at(accepted + 1)) {
                Ok(()) => {
                    accepted += 1;
                    let became_linked = matches!(r.state, WritebackState::Written { .. })
                        && !matches!(before.state, WritebackState::Written { .. });
                    if became_linked {
                        let links = matches!(
                            event,
                            WritebackEvent::Written { .. } | WritebackEvent::Read { .. } | WritebackEvent::Resolved { .. }
                        );
                        prop_assert!(links, "linked by {:?}", event);
                    }
                }
                Err(_) => prop_assert_eq!(&r, &before),
            }
            prop_assert_eq!(Some(&r.state), r.timeline.last().map(|e| &e.state));
            prop_assert_eq!(r.timeline.len(), usize::try_from(accepted).unwrap() + 1);
            let listed = !unassigned_activities(std::slice::from_ref(&r), None).is_empty();
            prop_assert_eq!(listed, matches!(r.state, WritebackState::Unassigned { .. }));
        }
    }
}
