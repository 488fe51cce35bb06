//! Several workers on one database: one sync of a tenant at a time, whoever asks; a sync or a
//! writeback claimed by a worker that died is taken over once its lease expires.

use chrono::TimeDelta;
use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::settings::{PipelineStage, WritebackItems, WritebackSettings};
use domain::timeline::WritebackState;
use domain::writeback::ExternalKey;
use reqwest::Method;
use serde_json::json;
use store::activities::NewActivity;
use store::directory::NewPerson;
use store::sync_runs::{SyncOutcome, SyncTrigger};
use sync::{EngineConfig, SyncEngine};

use crate::harness::{Db, Emulator, Workers, both, eventually};
use crate::import::{connected_org, settings, sync};

both!(
    two_workers_never_sync_one_tenant_at_once,
    a_dead_workers_sync_and_writeback_are_taken_over,
);

fn engine_with(store: &store::Store, e: &Emulator, name: &str, lease: TimeDelta) -> SyncEngine {
    SyncEngine::new(
        store.clone(),
        std::sync::Arc::new(e.dynamics(40)),
        EngineConfig {
            worker_name: name.into(),
            sync_lease: lease,
            poll_interval: std::time::Duration::from_millis(100),
            ..EngineConfig::default()
        },
    )
}

async fn two_workers_never_sync_one_tenant_at_once(db: Db) {
    let e = Emulator::seeded().await;
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    // Slow reads, so that the requests below land while a sync is running.
    e.admin(
        Method::PUT,
        "faults",
        json!([{"method": "GET", "latency_ms": 30}]),
    )
    .await;
    let first = engine_with(&db.reopen().await, &e, "first", TimeDelta::seconds(30));
    let second = engine_with(&db.reopen().await, &e, "second", TimeDelta::seconds(30));
    let workers = [Workers::start(&first), Workers::start(&second)];
    for _ in 0..6 {
        org.engine.sync_now(org.tenant).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    eventually("the queued syncs to run", || async {
        let runs = db.store.tenant(org.tenant).sync_runs(100).await.unwrap();
        let queued = db.store.tenant(org.tenant).jobs(None, 10).await.unwrap();
        (runs.len() >= 2
            && runs.iter().all(|r| r.outcome.is_some())
            && queued
                .iter()
                .all(|j| j.kind != "crm_sync" || j.run_at > db.store.now()))
        .then_some(())
    })
    .await;
    for w in workers {
        w.stop().await;
    }
    let mut runs = db.store.tenant(org.tenant).sync_runs(100).await.unwrap();
    runs.sort_by_key(|r| r.started_at);
    assert!(
        runs.iter()
            .all(|r| r.outcome == Some(SyncOutcome::Succeeded)),
        "{runs:?}"
    );
    for pair in runs.windows(2) {
        let finished = pair[0].finished_at.unwrap();
        assert!(
            finished <= pair[1].started_at,
            "two syncs of one tenant overlapped: {pair:?}"
        );
    }
}

async fn a_dead_workers_sync_and_writeback_are_taken_over(db: Db) {
    let e = Emulator::seeded().await;
    let org = connected_org(&db, &e, PipelineStage::NotSure).await;
    org.engine.install_companion_app(org.tenant).await.unwrap();
    let mut answers = settings(PipelineStage::NotSure);
    answers.writeback = WritebackSettings {
        enabled: true,
        items: WritebackItems::All,
    };
    db.store
        .tenant(org.tenant)
        .put_crm_settings(&answers)
        .await
        .unwrap();
    sync(&org).await;
    let short = db.reopen_with_lease(TimeDelta::seconds(2)).await;
    let mut t = short.tenant(org.tenant);
    // Drop whatever the set-up queued; the test queues its own work.
    for job in short.claim_jobs("cleaner", &[], 100).await.unwrap() {
        short.complete_job(&job).await.unwrap();
    }

    // A worker takes the tenant's sync and a writeback, then dies holding both.
    let dead_lease = t
        .acquire_sync_lease("dead worker", TimeDelta::seconds(2))
        .await
        .unwrap()
        .unwrap();
    let dead_run = t
        .start_sync_run(org.connection, SyncTrigger::Schedule)
        .await
        .unwrap();
    let person = t
        .upsert_people(&[NewPerson {
            external_id: Some("x".into()),
            full_name: "Eva Weiss".into(),
            title: None,
            company_name: None,
            company: None,
            location: None,
            email: Some("eva@weiss.example".into()),
            phone: None,
            profile_url: None,
            past_companies: Vec::new(),
        }])
        .await
        .unwrap()[0];
    let note = t
        .add_activity(NewActivity {
            seat: org.seats[0].0,
            kind: ActivityKind::Note,
            about: ActivityAbout::Person(person),
            thread: None,
            body: "Written by whoever survives".into(),
            copy_to_crm: CopyToCrm::Item(true),
        })
        .await
        .unwrap();
    let claimed = short
        .claim_jobs("dead worker", &["writeback"], 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    drop(dead_lease);

    // A live worker is asked to sync: it waits for the dead one's leases, then does the work.
    let survivor = engine_with(&short, &e, "survivor", TimeDelta::seconds(2));
    survivor.sync_now(org.tenant).await.unwrap();
    let workers = Workers::start(&survivor);
    let run = eventually("the sync to be taken over", || async {
        let runs = db.store.tenant(org.tenant).sync_runs(10).await.unwrap();
        runs.into_iter().find(|r| {
            r.id != dead_run.id
                && r.started_at >= dead_run.started_at
                && r.outcome == Some(SyncOutcome::Succeeded)
        })
    })
    .await;
    assert!(run.finished_at.is_some());
    let dead = db
        .store
        .tenant(org.tenant)
        .sync_run(dead_run.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.outcome, Some(SyncOutcome::Interrupted));
    eventually("the writeback to be taken over", || async {
        let record = db
            .store
            .tenant(org.tenant)
            .writeback_record(note.id)
            .await
            .unwrap()
            .unwrap();
        matches!(record.state, WritebackState::Unassigned { .. }).then_some(())
    })
    .await;
    workers.stop().await;
    let key = ExternalKey::for_activity(org.tenant, note.id);
    let rows = e
        .get(&format!(
            "lb_notes?$select=subject&$filter=lb_externalkey eq '{}'",
            key.as_str()
        ))
        .await;
    assert_eq!(
        rows["value"].as_array().unwrap().len(),
        1,
        "written exactly once"
    );
}
