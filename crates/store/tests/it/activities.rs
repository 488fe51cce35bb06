use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::ids::{CrmActivityId, CrmContactId, PersonId, SeatId, TenantId};
use domain::timeline::{Resolution, WritebackEvent, WritebackState};
use domain::writeback::Regarding;
use store::StoreError;
use store::activities::{NewActivity, NewThread};
use store::directory::{NewCompany, NewPerson};
use store::jobs::JobState;
use store::writeback::WritebackJob;

use crate::harness::{Harness, both};

both!(
    a_ticked_note_is_saved_with_its_writeback_job,
    a_failed_transaction_leaves_neither_the_note_nor_its_job,
    an_unticked_note_has_no_writeback_and_is_remembered,
    unticking_and_ticking_after_the_fact,
    the_writeback_timeline_follows_the_state_machine,
    a_thread_decides_for_its_messages,
    bad_activities_are_refused_and_leave_nothing,
    unicode_and_large_texts_round_trip,
);

struct Fixture {
    tenant: TenantId,
    seat: SeatId,
    person: PersonId,
}

async fn fixture(h: &Harness) -> Fixture {
    let tenant = h.tenant("Acme", 3).await;
    let (_, seat) = h.rep(tenant, "ana@acme.example").await;
    let person = h
        .store
        .tenant(tenant)
        .upsert_people(&[NewPerson {
            full_name: "Jordan Lee".into(),
            ..NewPerson::default()
        }])
        .await
        .unwrap()[0];
    Fixture {
        tenant,
        seat,
        person,
    }
}

fn note(f: &Fixture, body: &str, copy: CopyToCrm) -> NewActivity {
    NewActivity {
        seat: f.seat,
        kind: ActivityKind::Note,
        about: ActivityAbout::Person(f.person),
        thread: None,
        body: body.to_owned(),
        copy_to_crm: copy,
    }
}

async fn a_ticked_note_is_saved_with_its_writeback_job(h: Harness) {
    let f = fixture(&h).await;
    let mut t = h.store.tenant(f.tenant);
    let activity = t
        .add_activity(note(&f, "Met at the fair", CopyToCrm::Item(true)))
        .await
        .unwrap();
    assert_eq!(
        t.activity(activity.id).await.unwrap(),
        Some(activity.clone())
    );
    let record = t.writeback_record(activity.id).await.unwrap().unwrap();
    assert_eq!(record.state, WritebackState::Pending);
    assert_eq!(record.timeline.len(), 1);
    assert_eq!(record.timeline[0].event, None);
    assert!(record.key.as_str().starts_with("lb-"));
    let jobs = t.jobs(Some(JobState::Queued), 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "writeback");
    let claimed = h.store.claim_jobs("w", &["writeback"], 1).await.unwrap();
    assert_eq!(
        claimed[0].decode::<WritebackJob>().unwrap(),
        WritebackJob {
            activity: activity.id.0
        }
    );
    assert!(t.copy_to_crm_default(f.seat).await.unwrap().ticked);
}

async fn a_failed_transaction_leaves_neither_the_note_nor_its_job(h: Harness) {
    let f = fixture(&h).await;
    // The note and its job are written, then a later step of the same transaction fails.
    let mut tx = h.store.tenant(f.tenant).begin().await.unwrap();
    let note_id = tx
        .add_activity(note(&f, "first", CopyToCrm::Item(true)))
        .await
        .unwrap()
        .id;
    assert_eq!(tx.jobs(None, 10).await.unwrap().len(), 1);
    let failed = tx
        .add_activity(NewActivity {
            about: ActivityAbout::Person(PersonId::new_random()),
            ..note(&f, "about nobody", CopyToCrm::Item(true))
        })
        .await;
    assert!(failed.is_err());
    tx.rollback().await.unwrap();
    let mut t = h.store.tenant(f.tenant);
    assert_eq!(t.activity(note_id).await.unwrap(), None);
    assert_eq!(t.writeback_record(note_id).await.unwrap(), None);
    assert!(t.jobs(None, 10).await.unwrap().is_empty());
    assert!(h.store.claim_jobs("w", &[], 10).await.unwrap().is_empty());

    // Dropped without commit (a handler that returned early): the same.
    let mut tx = h.store.tenant(f.tenant).begin().await.unwrap();
    let dropped = tx
        .add_activity(note(&f, "second", CopyToCrm::Item(true)))
        .await
        .unwrap()
        .id;
    drop(tx);
    assert_eq!(t.activity(dropped).await.unwrap(), None);
    assert!(t.jobs(None, 10).await.unwrap().is_empty());

    // Committed: both.
    let mut tx = h.store.tenant(f.tenant).begin().await.unwrap();
    let kept = tx
        .add_activity(note(&f, "third", CopyToCrm::Item(true)))
        .await
        .unwrap()
        .id;
    tx.commit().await.unwrap();
    assert!(t.activity(kept).await.unwrap().is_some());
    let claimed = h.store.claim_jobs("w", &[], 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].decode::<WritebackJob>().unwrap().activity,
        kept.0
    );
}

async fn an_unticked_note_has_no_writeback_and_is_remembered(h: Harness) {
    let f = fixture(&h).await;
    let mut t = h.store.tenant(f.tenant);
    let activity = t
        .add_activity(note(&f, "private", CopyToCrm::Item(false)))
        .await
        .unwrap();
    assert_eq!(t.writeback_record(activity.id).await.unwrap(), None);
    assert!(t.jobs(None, 10).await.unwrap().is_empty());
    assert!(!t.copy_to_crm_default(f.seat).await.unwrap().ticked);
    t.add_activity(note(&f, "shared", CopyToCrm::Item(true)))
        .await
        .unwrap();
    assert!(t.copy_to_crm_default(f.seat).await.unwrap().ticked);
}

async fn unticking_and_ticking_after_the_fact(h: Harness) {
    let f = fixture(&h).await;
    let mut t = h.store.tenant(f.tenant);
    let pending = t
        .add_activity(note(&f, "not written yet", CopyToCrm::Item(true)))
        .await
        .unwrap();
    t.set_activity_copy_to_crm(pending.id, CopyToCrm::Item(false))
        .await
        .unwrap();
    assert!(matches!(
        t.writeback_record(pending.id).await.unwrap().unwrap().state,
        WritebackState::Dropped { .. }
    ));
    t.set_activity_copy_to_crm(pending.id, CopyToCrm::Item(true))
        .await
        .unwrap();
    assert_eq!(
        t.writeback_record(pending.id).await.unwrap().unwrap().state,
        WritebackState::Pending
    );

    let written = t
        .add_activity(note(&f, "written", CopyToCrm::Item(true)))
        .await
        .unwrap();
    let crm_activity = CrmActivityId::new_random();
    t.apply_writeback_event(
        written.id,
        &WritebackEvent::Written {
            crm_activity,
            regarding: Some(Regarding::Contact(CrmContactId::new_random())),
        },
    )
    .await
    .unwrap();
    for job in h.store.claim_jobs("w", &[], 10).await.unwrap() {
        h.store.complete_job(&job).await.unwrap();
    }
    t.set_activity_copy_to_crm(written.id, CopyToCrm::Item(false))
        .await
        .unwrap();
    assert_eq!(
        t.writeback_record(written.id).await.unwrap().unwrap().state,
        WritebackState::RemovalPending
    );
    // The removal needs the CRM: a job is waiting for it.
    let jobs = h.store.claim_jobs("w", &[], 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].decode::<WritebackJob>().unwrap().activity,
        written.id.0
    );

    // Ticking a note that never had a record starts one.
    let never = t
        .add_activity(note(&f, "late decision", CopyToCrm::Item(false)))
        .await
        .unwrap();
    t.set_activity_copy_to_crm(never.id, CopyToCrm::Item(true))
        .await
        .unwrap();
    assert_eq!(
        t.writeback_record(never.id).await.unwrap().unwrap().state,
        WritebackState::Pending
    );
}

async fn the_writeback_timeline_follows_the_state_machine(h: Harness) {
    let f = fixture(&h).await;
    let mut t = h.store.tenant(f.tenant);
    let a = t
        .add_activity(note(&f, "hello", CopyToCrm::Item(true)))
        .await
        .unwrap();
    let crm_activity = CrmActivityId::new_random();
    h.clock.advance(chrono::TimeDelta::seconds(5));
    let state = t
        .apply_writeback_event(
            a.id,
            &WritebackEvent::Written {
                crm_activity,
                regarding: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(state, WritebackState::Unassigned { crm_activity });
    let unassigned = t.unassigned_activities(None).await.unwrap();
    assert_eq!(unassigned.len(), 1);
    assert_eq!(unassigned[0].activity, a.id);
    assert_eq!(unassigned[0].crm_activity, crm_activity);
    assert_eq!(
        t.unassigned_activities(Some(f.seat)).await.unwrap().len(),
        1
    );
    assert!(
        t.unassigned_activities(Some(SeatId::new_random()))
            .await
            .unwrap()
            .is_empty()
    );

    // A move the state machine does not allow changes nothing.
    let refused = t
        .apply_writeback_event(a.id, &WritebackEvent::Removed)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );

    let regarding = Regarding::Contact(CrmContactId::new_random());
    t.apply_writeback_event(
        a.id,
        &WritebackEvent::Resolved {
            how: Resolution::LinkedToRecord,
            regarding,
        },
    )
    .await
    .unwrap();
    assert!(t.unassigned_activities(None).await.unwrap().is_empty());
    // An edit sends it back to be rewritten, with a job.
    for job in h.store.claim_jobs("w", &[], 10).await.unwrap() {
        h.store.complete_job(&job).await.unwrap();
    }
    t.edit_activity(a.id, "hello again").await.unwrap();
    assert_eq!(t.activity(a.id).await.unwrap().unwrap().body, "hello again");
    assert_eq!(h.store.claim_jobs("w", &[], 10).await.unwrap().len(), 1);

    let record = t.writeback_record(a.id).await.unwrap().unwrap();
    let events: Vec<_> = record.timeline.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        events,
        [
            None,
            Some(WritebackEvent::Written {
                crm_activity,
                regarding: None
            }),
            Some(WritebackEvent::Resolved {
                how: Resolution::LinkedToRecord,
                regarding
            }),
            Some(WritebackEvent::Edited),
        ]
    );
    assert_eq!(record.state, WritebackState::Pending);
    assert!(record.timeline.windows(2).all(|w| w[0].at <= w[1].at));
    let pending = t.writebacks_in_state(&["pending"], 10).await.unwrap();
    assert_eq!(pending, [(a.id, WritebackState::Pending)]);
}

async fn a_thread_decides_for_its_messages(h: Harness) {
    let f = fixture(&h).await;
    let mut t = h.store.tenant(f.tenant);
    let thread = t
        .create_thread(NewThread {
            seat: f.seat,
            person: f.person,
            subject: Some("Intro".into()),
            copy_to_crm: false,
        })
        .await
        .unwrap();
    let message = |body: &str, copy| NewActivity {
        seat: f.seat,
        kind: ActivityKind::InMail,
        about: ActivityAbout::Person(f.person),
        thread: Some(thread.id),
        body: body.to_owned(),
        copy_to_crm: copy,
    };
    let first = t
        .add_activity(message("hi", CopyToCrm::AsThread))
        .await
        .unwrap();
    let own = t
        .add_activity(message("mine", CopyToCrm::Item(false)))
        .await
        .unwrap();
    assert_eq!(t.writeback_record(first.id).await.unwrap(), None);
    t.set_thread_copy_to_crm(thread.id, true).await.unwrap();
    assert_eq!(
        t.writeback_record(first.id).await.unwrap().unwrap().state,
        WritebackState::Pending
    );
    // An item with its own choice is not changed by the thread's.
    assert_eq!(t.writeback_record(own.id).await.unwrap(), None);
    assert!(t.thread(thread.id).await.unwrap().unwrap().copy_to_crm);
    assert_eq!(t.threads(Some(f.seat)).await.unwrap().len(), 1);
}

async fn bad_activities_are_refused_and_leave_nothing(h: Harness) {
    let f = fixture(&h).await;
    let mut t = h.store.tenant(f.tenant);
    let company = t
        .upsert_companies(&[NewCompany {
            name: "Globex".into(),
            ..NewCompany::default()
        }])
        .await
        .unwrap()[0];
    let other_rep = h.rep(f.tenant, "bo@acme.example").await.1;
    let foreign_thread = t
        .create_thread(NewThread {
            seat: other_rep,
            person: f.person,
            subject: None,
            copy_to_crm: true,
        })
        .await
        .unwrap();
    let cases = [
        note(&f, "   ", CopyToCrm::Item(true)),
        NewActivity {
            kind: ActivityKind::Message,
            about: ActivityAbout::Company(company),
            ..note(&f, "hi", CopyToCrm::Item(true))
        },
        NewActivity {
            thread: Some(foreign_thread.id),
            kind: ActivityKind::Message,
            ..note(&f, "hi", CopyToCrm::AsThread)
        },
        NewActivity {
            about: ActivityAbout::Person(PersonId::new_random()),
            ..note(&f, "about nobody", CopyToCrm::Item(true))
        },
        NewActivity {
            seat: SeatId::new_random(),
            ..note(&f, "by nobody", CopyToCrm::Item(true))
        },
    ];
    for case in cases {
        let result = t.add_activity(case.clone()).await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{case:?}: {result:?}"
        );
    }
    assert!(t.all_activities().await.unwrap().is_empty());
    assert!(t.jobs(None, 10).await.unwrap().is_empty());
}

async fn unicode_and_large_texts_round_trip(h: Harness) {
    let f = fixture(&h).await;
    let mut t = h.store.tenant(f.tenant);
    let texts = [
        "Zoë & Søren — «déjà vu» ✓ 👩🏽‍💻 مرحبا שלום 你好 日本語 \u{200d}\u{fe0f}".to_owned(),
        "line one\nline two\r\n\ttabbed 'quoted' \"double\" \\ backslash % _".to_owned(),
        // A megabyte and a half of text: far above the CRM's limits, kept whole here.
        "Lorem ipsum ünïcödé 🚀 ".repeat(60_000),
    ];
    for text in texts {
        let a = t
            .add_activity(note(&f, &text, CopyToCrm::Item(true)))
            .await
            .unwrap();
        assert_eq!(t.activity(a.id).await.unwrap().unwrap().body, text);
    }
}
