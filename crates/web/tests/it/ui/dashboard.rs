//! The sync dashboard in the browser: per-day charts of records imported and activities written by
//! outcome, throttling and errors; recent syncs; the job queue and dead letters with requeueing;
//! a writeback's whole timeline.

use chrono::TimeDelta;
use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::ids::{CrmActivityId, CrmContactId};
use domain::timeline::WritebackEvent;
use domain::writeback::Regarding;
use serde::{Deserialize, Serialize};
use store::activities::NewActivity;
use store::directory::NewPerson;
use store::jobs::{Job, Retry};
use store::sync_runs::{SyncOutcome, SyncTrigger};
use uuid::Uuid;

use crate::harness::{TestApp, both};
use crate::ui::{Browser, connect_in_store};

#[derive(Serialize, Deserialize)]
struct Doomed;

impl Job for Doomed {
    const KIND: &'static str = "test_doomed";
}

both!(the_dashboard_charts_runs_jobs_and_timelines);

async fn the_dashboard_charts_runs_jobs_and_timelines(app: TestApp) {
    let tenant = app.tenant("Contoso", 3).await;
    app.admin(tenant, "ada@contoso.com").await;
    let rep = app.rep(tenant, "rey@contoso.com").await;
    let connection = connect_in_store(&app, tenant).await;
    let mut t = app.store.tenant(tenant);

    // Yesterday: a sync that read 120 records, throttled once, one other error.
    let run = t
        .start_sync_run(connection, SyncTrigger::Connect)
        .await
        .unwrap();
    t.update_sync_progress(run.id, "Reading contacts", 120, Some(120))
        .await
        .unwrap();
    t.record_sync_error(
        run.id,
        None,
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    )
    .await
    .unwrap();
    t.record_sync_error(run.id, None, "HTTP 503 from the CRM")
        .await
        .unwrap();
    t.finish_sync_run(run.id, SyncOutcome::Succeeded, None)
        .await
        .unwrap();
    app.clock.advance(TimeDelta::days(1));

    // Today: three activities for the CRM, written closed, written open, and failed.
    let person = t
        .upsert_people(&[NewPerson {
            full_name: "Li Lei".into(),
            ..NewPerson::default()
        }])
        .await
        .unwrap()[0];
    let mut activities = Vec::new();
    for body in ["closed one", "open one", "failed one"] {
        activities.push(
            t.add_activity(NewActivity {
                seat: rep.seat.unwrap(),
                kind: ActivityKind::Note,
                about: ActivityAbout::Person(person),
                thread: None,
                body: body.into(),
                copy_to_crm: CopyToCrm::Item(true),
            })
            .await
            .unwrap()
            .id,
        );
    }
    let written = |n: u128, regarding| WritebackEvent::Written {
        crm_activity: CrmActivityId(Uuid::from_u128(n)),
        regarding,
    };
    t.apply_writeback_event(
        activities[0],
        &written(
            1,
            Some(Regarding::Contact(CrmContactId(Uuid::from_u128(9)))),
        ),
    )
    .await
    .unwrap();
    t.apply_writeback_event(activities[1], &written(2, None))
        .await
        .unwrap();
    t.apply_writeback_event(
        activities[2],
        &WritebackEvent::Failed {
            reason: "The CRM refused the text.".into(),
            retriable: false,
        },
    )
    .await
    .unwrap();

    // A job that fails for good is a dead letter.
    t.enqueue(&Doomed).await.unwrap();
    let claimed = app
        .store
        .claim_jobs("test-worker", &[Doomed::KIND], 1)
        .await
        .unwrap();
    app.store
        .fail_job(&claimed[0], "the payload makes no sense", Retry::Never)
        .await
        .unwrap();

    let mut browser = Browser::new(&app);
    browser.sign_in("ada@contoso.com").await;
    let page = browser.get("/admin/sync").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_labelled();
    for expected in [
        "CRM records imported per day, by how the sync ended",
        "Activities written to the CRM per day, by outcome",
        "Throttling by the CRM and errors per day",
        "<svg class=\"chart\"",
        "<title>Succeeded, 2026-03-01: 120</title>",
        "<title>Completed on a CRM record, 2026-03-02: 1</title>",
        "<title>Open (unassigned), 2026-03-02: 1</title>",
        "<title>Failed, 2026-03-02: 1</title>",
        "<title>Throttled by the CRM, 2026-03-01: 1</title>",
        "<title>Errors, 2026-03-01: 1</title>",
        "<title>Errors, 2026-03-02: 1</title>",
        "Number of requests exceeded the limit of 6000",
        "the payload makes no sense",
        ">Try again</button>",
        "writeback",
    ] {
        assert!(page.contains(expected), "{expected}\n{}", page.body);
    }
    // The writebacks that are not done are listed, each linking to its timeline.
    assert!(page.contains("In the CRM, open (unassigned)"));
    assert!(page.contains("Copy to the CRM failed"));

    // The dead letter goes back to the queue.
    let dead = t.jobs(Some(store::jobs::JobState::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let requeued = browser
        .post(
            &format!("/admin/sync/jobs/{}/requeue", dead[0].id),
            &page,
            &[],
        )
        .await;
    assert_eq!(
        requeued.location.as_deref(),
        Some("/admin/sync?notice=job_requeued")
    );
    assert!(
        t.jobs(Some(store::jobs::JobState::Dead), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = browser
        .post(
            &format!("/admin/sync/jobs/{}/requeue", dead[0].id),
            &page,
            &[],
        )
        .await;
    assert_eq!(again.status, 404);

    // A writeback's timeline, entry by entry.
    let timeline = browser
        .get(&format!("/admin/sync/activities/{}", activities[2]))
        .await;
    assert_eq!(timeline.status, 200, "{}", timeline.body);
    assert!(timeline.contains("failed one"));
    assert!(timeline.contains("Written → Waiting to be copied to the CRM"));
    assert!(timeline.contains("Failed → Copy to the CRM failed"));
    assert!(timeline.contains("The CRM refused the text."));
    assert!(timeline.contains("by rey"));

    // In another language, the charts speak it too.
    browser.accept_language = Some("pt-BR".into());
    let pt = browser.get("/admin/sync").await;
    assert!(pt.contains("Registros do CRM importados por dia"));
    assert!(pt.contains("<title>Concluída, 01/03/2026: 120</title>"));

    // Not for reps.
    let mut rey = Browser::new(&app);
    rey.sign_in("rey@contoso.com").await;
    assert_eq!(rey.get("/admin/sync").await.status, 403);
    assert_eq!(
        rey.get(&format!("/admin/sync/activities/{}", activities[0]))
            .await
            .status,
        403
    );
}
