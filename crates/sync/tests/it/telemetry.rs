//! The metrics a sync and a writeback leave behind, as the `/metrics` endpoint would export them.

use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::settings::{PipelineStage, WritebackItems, WritebackSettings};
use domain::timeline::WritebackState;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use store::activities::NewActivity;
use store::directory::NewPerson;

use crate::harness::{Db, Emulator, Workers, eventually};
use crate::import::{connected_org, settings, sync};

/// The recorder is process-wide and other tests record into it too: values only ever grow, so
/// each check is "at least".
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: std::sync::OnceLock<Snapshotter> = std::sync::OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().unwrap();
        snapshotter
    })
}

/// A counter's total so far. A snapshot hands over what was counted since the last one, so the
/// totals are kept here.
fn counter(name: &str, label: (&str, &str)) -> u64 {
    type Labels = Vec<(String, String)>;
    static TOTALS: std::sync::Mutex<Vec<(String, Labels, u64)>> = std::sync::Mutex::new(Vec::new());
    let mut totals = TOTALS.lock().unwrap();
    for (key, _, _, value) in snapshotter().snapshot().into_vec() {
        let DebugValue::Counter(n) = value else {
            continue;
        };
        let name = key.key().name().to_owned();
        let labels: Vec<(String, String)> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        match totals
            .iter_mut()
            .find(|(k, l, _)| *k == name && *l == labels)
        {
            Some(entry) => entry.2 += n,
            None => totals.push((name, labels, n)),
        }
    }
    totals
        .iter()
        .filter(|(k, l, _)| k == name && l.iter().any(|(lk, lv)| lk == label.0 && lv == label.1))
        .map(|(_, _, n)| *n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_and_writebacks_are_counted() {
    snapshotter();
    let db = Db::sqlite().await;
    let e = Emulator::seeded().await;
    let contacts_before = counter("leadbridge_sync_rows_read_total", ("table", "contact"));
    let runs_before = counter("leadbridge_sync_runs_total", ("outcome", "succeeded"));
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
    assert!(
        counter("leadbridge_sync_rows_read_total", ("table", "contact")) >= contacts_before + 250
    );
    assert!(counter("leadbridge_sync_rows_applied_total", ("table", "contact")) >= 250);
    assert!(counter("leadbridge_sync_runs_total", ("outcome", "succeeded")) > runs_before);

    let unassigned_before = counter("leadbridge_writeback_total", ("outcome", "unassigned"));
    let mut t = db.store.tenant(org.tenant);
    let person = t
        .upsert_people(&[NewPerson {
            external_id: None,
            full_name: "Tomás Vidal".into(),
            title: None,
            company_name: None,
            company: None,
            location: None,
            email: None,
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
            body: "Counted".into(),
            copy_to_crm: CopyToCrm::Item(true),
        })
        .await
        .unwrap();
    let workers = Workers::start(&org.engine);
    eventually("the note to be written", || async {
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
    assert!(counter("leadbridge_writeback_total", ("outcome", "unassigned")) > unassigned_before);
}
