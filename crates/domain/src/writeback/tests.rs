//! Writeback decisions case by case, the texts cut to Dataverse limits without losing anything,
//! and the idempotency key.

use super::*;
use crate::activity::CopyToCrm;
use crate::crm::CrmPersonRef;
use crate::ids::{CompanyId, CrmContactId, CrmLeadId, PersonId, SeatId, ThreadId};
use crate::matches::{CompanyMatch, Confidence, MatchOrigin, PersonMatch};
use crate::seat_mapping::NotMatched;
use crate::settings::WritebackItems;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const MATCHED: PersonId = PersonId(Uuid::from_u128(1));
const LEAD_ONLY: PersonId = PersonId(Uuid::from_u128(2));
const STRANGER: PersonId = PersonId(Uuid::from_u128(3));
const ACME: CompanyId = CompanyId(Uuid::from_u128(4));
const NOBODY_CO: CompanyId = CompanyId(Uuid::from_u128(5));
const REP: CrmUserId = CrmUserId(Uuid::from_u128(6));

fn matches() -> MatchIndex {
    let person = |person, crm| PersonMatch {
        person,
        crm,
        confidence: Confidence::new(95),
        origin: MatchOrigin::Exact,
        explanation: String::new(),
    };
    MatchIndex::build(
        &[
            person(MATCHED, CrmPersonRef::Contact(CrmContactId(uuid(10)))),
            person(LEAD_ONLY, CrmPersonRef::Lead(CrmLeadId(uuid(11)))),
        ],
        &[CompanyMatch {
            company: ACME,
            account: CrmAccountId(uuid(12)),
            confidence: Confidence::new(95),
            origin: MatchOrigin::Exact,
            explanation: String::new(),
        }],
    )
}

fn activity(kind: ActivityKind, about: ActivityAbout, copy: CopyToCrm) -> Activity {
    Activity {
        id: ActivityId(uuid(100)),
        tenant: TenantId(uuid(200)),
        seat: SeatId(uuid(300)),
        kind,
        about,
        thread: None,
        body: "Met at the trade fair; wants a demo in March.".into(),
        written_at: DateTime::<Utc>::UNIX_EPOCH,
        copy_to_crm: copy,
    }
}

fn all_on() -> WritebackSettings {
    WritebackSettings {
        enabled: true,
        items: WritebackItems::All,
    }
}

fn installed() -> CompanionApp {
    CompanionApp::Installed {
        version: "1.0".into(),
    }
}

struct Case {
    settings: WritebackSettings,
    app: CompanionApp,
    rep: InCrm,
    activity: Activity,
    expected: Result<(Option<Regarding>, CrmActivityState), NotWritten>,
}

#[test]
fn decision_table() {
    let note = |about| activity(ActivityKind::Note, about, CopyToCrm::Item(true));
    let person = ActivityAbout::Person;
    let notes_only = WritebackSettings {
        enabled: true,
        items: WritebackItems::Chosen(BTreeSet::from([ActivityKind::Note])),
    };
    let cases = vec![
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: note(person(MATCHED)),
            expected: Ok((
                Some(Regarding::Contact(CrmContactId(uuid(10)))),
                CrmActivityState::Completed,
            )),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: note(person(LEAD_ONLY)),
            expected: Ok((
                Some(Regarding::Lead(CrmLeadId(uuid(11)))),
                CrmActivityState::Completed,
            )),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: note(person(STRANGER)),
            expected: Ok((None, CrmActivityState::Open)),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: note(ActivityAbout::Company(ACME)),
            expected: Ok((
                Some(Regarding::Account(CrmAccountId(uuid(12)))),
                CrmActivityState::Completed,
            )),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: note(ActivityAbout::Company(NOBODY_CO)),
            expected: Ok((None, CrmActivityState::Open)),
        },
        Case {
            settings: WritebackSettings::OFF,
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: note(person(MATCHED)),
            expected: Err(NotWritten::WritebackOff),
        },
        Case {
            settings: all_on(),
            app: CompanionApp::Missing,
            rep: InCrm::Yes(REP),
            activity: note(person(MATCHED)),
            expected: Err(NotWritten::CompanionAppMissing),
        },
        Case {
            settings: notes_only.clone(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: activity(ActivityKind::InMail, person(MATCHED), CopyToCrm::Item(true)),
            expected: Err(NotWritten::KindNotChosen(ActivityKind::InMail)),
        },
        Case {
            settings: notes_only,
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: note(person(MATCHED)),
            expected: Ok((
                Some(Regarding::Contact(CrmContactId(uuid(10)))),
                CrmActivityState::Completed,
            )),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: activity(
                ActivityKind::Message,
                person(MATCHED),
                CopyToCrm::Item(false),
            ),
            expected: Err(NotWritten::NotCopiedToCrm),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::Yes(REP),
            activity: activity(ActivityKind::Message, person(MATCHED), CopyToCrm::AsThread),
            expected: Err(NotWritten::NotCopiedToCrm),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::No(NotInCrm::SyncOff),
            activity: note(person(MATCHED)),
            expected: Err(NotWritten::RepNotInCrm(NotInCrm::SyncOff)),
        },
        Case {
            settings: all_on(),
            app: installed(),
            rep: InCrm::No(NotInCrm::NotMatched(NotMatched::CrmUserDisabled)),
            activity: note(person(MATCHED)),
            expected: Err(NotWritten::RepNotInCrm(NotInCrm::NotMatched(
                NotMatched::CrmUserDisabled,
            ))),
        },
    ];
    let index = matches();
    for case in cases {
        let decision = decide(WritebackInput {
            settings: &case.settings,
            companion_app: &case.app,
            can_act_on_behalf_of_reps: false,
            rep: &case.rep,
            activity: &case.activity,
            thread: None,
            matches: &index,
        });
        let got = match decision {
            WritebackDecision::Write(plan) => {
                assert_eq!(plan.owner, REP);
                assert_eq!(plan.kind, case.activity.kind);
                Ok((plan.regarding, plan.state))
            }
            WritebackDecision::Skip(reason) => Err(reason),
        };
        assert_eq!(
            got, case.expected,
            "{:?} {:?}",
            case.activity.about, case.settings
        );
    }
}

#[test]
fn a_thread_ticked_for_crm_carries_its_messages_and_subject() {
    let thread = Thread {
        id: ThreadId(uuid(7)),
        tenant: TenantId(uuid(200)),
        seat: SeatId(uuid(300)),
        person: MATCHED,
        subject: Some("Partnership   idea".into()),
        copy_to_crm: true,
    };
    let mut inmail = activity(
        ActivityKind::InMail,
        ActivityAbout::Person(MATCHED),
        CopyToCrm::AsThread,
    );
    inmail.thread = Some(thread.id);
    let index = matches();
    let decision = decide(WritebackInput {
        settings: &all_on(),
        companion_app: &installed(),
        can_act_on_behalf_of_reps: true,
        rep: &InCrm::Yes(REP),
        activity: &inmail,
        thread: Some(&thread),
        matches: &index,
    });
    let WritebackDecision::Write(plan) = decision else {
        panic!("expected a write, got {decision:?}");
    };
    assert_eq!(plan.subject, "InMail: Partnership idea");
    assert_eq!(plan.on_behalf_of, Some(REP));
    assert_eq!(
        plan.key.as_str(),
        "lb-000000000000000000000000000000c8-00000000000000000000000000000064"
    );
    assert_eq!(plan.overflow, None);
}

#[test]
fn keys_are_stable_and_distinct() {
    let a = ExternalKey::for_activity(TenantId(uuid(1)), ActivityId(uuid(2)));
    assert_eq!(
        a,
        ExternalKey::for_activity(TenantId(uuid(1)), ActivityId(uuid(2)))
    );
    assert_ne!(
        a,
        ExternalKey::for_activity(TenantId(uuid(3)), ActivityId(uuid(2)))
    );
    assert_ne!(
        a,
        ExternalKey::for_activity(TenantId(uuid(1)), ActivityId(uuid(3)))
    );
    assert_eq!(a.overflow_note_id(), a.overflow_note_id());
    assert_ne!(
        a.overflow_note_id(),
        ExternalKey::for_activity(TenantId(uuid(1)), ActivityId(uuid(3))).overflow_note_id()
    );
    assert!(a.as_str().len() <= 100, "fits a 100-character key column");
}

#[test]
fn texts_table() {
    let long_subject = "x".repeat(300);
    let long_body = "word ".repeat(500);
    struct T<'a> {
        kind: ActivityKind,
        thread_subject: Option<&'a str>,
        body: &'a str,
        subject: String,
        description_cut: bool,
        overflow: bool,
    }
    let cases = [
        T {
            kind: ActivityKind::Note,
            thread_subject: None,
            body: "\n  Called   back\nSecond line",
            subject: "Note: Called back".into(),
            description_cut: false,
            overflow: false,
        },
        T {
            kind: ActivityKind::Message,
            thread_subject: Some("  "),
            body: "Hello",
            subject: "Message: Hello".into(),
            description_cut: false,
            overflow: false,
        },
        T {
            kind: ActivityKind::Note,
            thread_subject: None,
            body: "",
            subject: "Note".into(),
            description_cut: false,
            overflow: false,
        },
        T {
            kind: ActivityKind::InMail,
            thread_subject: Some(&long_subject),
            body: "short",
            subject: format!("InMail: {}…", "x".repeat(SUBJECT_MAX - 9)),
            description_cut: false,
            overflow: true,
        },
        // A subject cut from the body's first line loses nothing while the body is whole.
        T {
            kind: ActivityKind::Note,
            thread_subject: None,
            body: &long_subject,
            subject: format!("Note: {}…", "x".repeat(SUBJECT_MAX - 7)),
            description_cut: false,
            overflow: false,
        },
        T {
            kind: ActivityKind::Note,
            thread_subject: None,
            body: &long_body,
            subject: format!("Note: {}…", &long_body[..SUBJECT_MAX - 7]),
            description_cut: true,
            overflow: true,
        },
    ];
    for case in cases {
        let texts = activity_texts(case.kind, case.thread_subject, case.body);
        assert_eq!(texts.subject, case.subject, "{:?}", case.body);
        assert_eq!(
            texts.description != case.body,
            case.description_cut,
            "{:?}",
            case.body
        );
        assert_eq!(texts.overflow.is_some(), case.overflow, "{:?}", case.body);
        if let Some(overflow) = texts.overflow {
            assert!(overflow.contains(case.body));
            assert!(overflow.contains(case.thread_subject.unwrap_or_default().trim()));
        }
    }
}

#[test]
fn cut_descriptions_say_where_the_rest_is() {
    let texts = activity_texts(ActivityKind::Note, None, &"a".repeat(DESCRIPTION_MAX + 1));
    assert!(
        texts
            .description
            .ends_with("The full text is attached as a note.")
    );
    assert_eq!(dataverse_len(&texts.description), DESCRIPTION_MAX);
}

#[test]
fn cuts_fall_between_graphemes() {
    // "é" written as e + combining acute: one grapheme, two UTF-16 units.
    let decomposed = "e\u{301}";
    let text = decomposed.repeat(150);
    let (cut_text, was_cut) = cut(&text, SUBJECT_MAX, ELLIPSIS);
    assert!(was_cut);
    assert_eq!(cut_text, format!("{}…", decomposed.repeat(99)));
    // Family emoji: one grapheme of 11 UTF-16 units.
    let family = "👨‍👩‍👧‍👦";
    let (cut_text, _) = cut(&family.repeat(30), SUBJECT_MAX, ELLIPSIS);
    assert_eq!(cut_text, format!("{}…", family.repeat(18)));
}

#[test]
fn a_grapheme_longer_than_the_room_is_cut_between_characters() {
    let zalgo = format!("a{}", "\u{301}".repeat(500));
    let (cut_text, was_cut) = cut(&zalgo, 10, ELLIPSIS);
    assert!(was_cut);
    assert_eq!(dataverse_len(&cut_text), 10);
    assert!(cut_text.starts_with('a'));
}

proptest! {
    #[test]
    fn texts_always_fit_and_never_lose_anything(
        kind in prop_oneof![Just(ActivityKind::Note), Just(ActivityKind::Message), Just(ActivityKind::InMail)],
        thread_subject in proptest::option::of("\\PC{0,300}"),
        body in "(\\PC|\n){0,2500}",
    ) {
        let texts = activity_texts(kind, thread_subject.as_deref(), &body);
        prop_assert!(dataverse_len(&texts.subject) <= SUBJECT_MAX);
        prop_assert!(dataverse_len(&texts.description) <= DESCRIPTION_MAX);
        match &texts.overflow {
            Some(full) => {
                prop_assert!(full.contains(&body));
            }
            None => {
                prop_assert_eq!(&texts.description, &body);
                if let Some(subject) = thread_subject.as_deref().map(one_line).filter(|s| !s.is_empty()) {
                    prop_assert!(texts.subject.ends_with(&subject));
                }
            }
        }
    }

    #[test]
    fn a_cut_keeps_a_grapheme_aligned_prefix(text in "\\PC{0,400}", max in 2usize..300) {
        let (result, was_cut) = cut(&text, max, ELLIPSIS);
        prop_assert!(dataverse_len(&result) <= max);
        if was_cut {
            let kept = result.strip_suffix(ELLIPSIS).unwrap_or(&result);
            prop_assert!(text.starts_with(kept));
            let boundaries: BTreeSet<usize> = text
                .grapheme_indices(true)
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let first_grapheme_fits = text.graphemes(true).next().is_some_and(|g| dataverse_len(g) < max);
            if first_grapheme_fits {
                prop_assert!(boundaries.contains(&kept.len()), "cut mid-grapheme at {}", kept.len());
            }
        } else {
            prop_assert_eq!(result, text);
        }
    }
}
