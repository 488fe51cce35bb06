//! The chaos test: thousands of writebacks through two `leadbridge worker` processes on PostgreSQL,
//! with 10 % of CRM answers failing (429, 500, 503, connections dropped mid-answer), and one worker
//! killed with SIGKILL halfway: afterwards every activity is in the CRM exactly once and no job is
//! left waiting, running or dead.
//!
//! Heavy, so ignored by default. Run it with a leadbridge binary copied out of the shared target
//! directory (another build may replace that one while the test runs):
//!
//! ```sh
//! cargo build -p leadbridge && cp target/debug/leadbridge /tmp/leadbridge-chaos
//! LEADBRIDGE_BIN=/tmp/leadbridge-chaos cargo test -p sync --test it chaos -- --ignored --nocapture
//! ```
//!
//! `LEADBRIDGE_CHAOS_WRITEBACKS` sets how many (10,000 by default).

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dataverse_emulator::seed::{SeedSize, generate};
use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::settings::{PipelineStage, WritebackItems, WritebackSettings};
use domain::writeback::ExternalKey;
use reqwest::Method;
use serde_json::json;
use store::activities::NewActivity;
use store::directory::NewPerson;
use store::jobs::JobState;

use crate::harness::{Db, Emulator, TEST_KEY};
use crate::import::{connected_org, settings, sync};

fn worker(bin: &str, db: &Db, e: &Emulator, name: &str, log: &std::path::Path) -> Child {
    let key: String = TEST_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let ca = e.emu.info.ca_cert.as_ref().unwrap();
    let out = std::fs::File::create(log).unwrap();
    Command::new(bin)
        .args(["worker", "--database-url", &db.url, "--secret-key", &key])
        .arg("--crm-ca-cert")
        .arg(ca)
        .args([
            "--allow-non-dynamics-host",
            "--job-lease-seconds",
            "10",
            "--sync-interval-seconds",
            "3600",
            "--name",
            name,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap()
}

async fn settled(db: &Db, tenant: domain::ids::TenantId) -> usize {
    db.store
        .tenant(tenant)
        .writebacks_in_state(&["written", "unassigned"], u32::MAX)
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "heavy: needs LEADBRIDGE_BIN and PostgreSQL; see the module docs"]
async fn every_activity_lands_exactly_once_despite_faults_and_a_killed_worker() {
    let bin = std::env::var("LEADBRIDGE_BIN")
        .expect("LEADBRIDGE_BIN must name a copied leadbridge binary (see the module docs)");
    let count: usize = std::env::var("LEADBRIDGE_CHAOS_WRITEBACKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let db = Db::postgres()
        .await
        .expect("the chaos test runs on PostgreSQL");
    let e = Emulator::seeded().await;
    // The service protection limits would stretch this to half an hour; they are tested elsewhere.
    e.admin(
        Method::PUT,
        "limits",
        json!({"requests_per_window": 100_000_000, "execution_ms_per_window": 100_000_000_000u64,
               "concurrent_requests": 1000, "window_seconds": 300, "dop_hint": 16}),
    )
    .await;
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

    // Half the people are CRM contacts (written completed and linked), half are not (unassigned).
    let seed = generate(SeedSize::Small, 1);
    let mut people = Vec::new();
    for (i, contact) in seed.contacts.iter().take(100).enumerate() {
        let matched = i % 2 == 0 && contact.email.is_some();
        people.push(NewPerson {
            external_id: Some(format!("chaos-{i}")),
            full_name: format!("{} {}", contact.first_name, contact.last_name),
            title: None,
            company_name: None,
            company: None,
            location: None,
            email: if matched {
                contact.email.clone()
            } else {
                Some(format!("nobody-{i}@chaos.example"))
            },
            phone: None,
            profile_url: None,
            past_companies: Vec::new(),
        });
    }
    let people = db
        .store
        .tenant(org.tenant)
        .upsert_people(&people)
        .await
        .unwrap();
    sync(&org).await;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.store.tenant(org.tenant).begin().await.unwrap();
        for i in chunk {
            let kind = [
                ActivityKind::Note,
                ActivityKind::Message,
                ActivityKind::InMail,
            ][i % 3];
            let activity = tx
                .add_activity(NewActivity {
                    seat: org.seats[i % 2].0,
                    kind,
                    about: ActivityAbout::Person(people[i % people.len()]),
                    thread: None,
                    body: format!("Chaos item {i}"),
                    copy_to_crm: CopyToCrm::Item(true),
                })
                .await
                .unwrap();
            ids.push((activity.id, kind));
        }
        tx.commit().await.unwrap();
    }
    eprintln!("{count} activities saved in {:?}", started.elapsed());

    e.admin(
        Method::PUT,
        "faults",
        json!([{"rate_429": 0.025, "rate_500": 0.025, "rate_503": 0.025, "rate_drop": 0.025,
                "retry_after_seconds": 1}]),
    )
    .await;
    let logs = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut killed = worker(&bin, &db, &e, "chaos-a", &logs.path().join("a.log"));
    let mut survivor = worker(&bin, &db, &e, "chaos-b", &logs.path().join("b.log"));
    let deadline = Instant::now() + Duration::from_secs(1800);
    while settled(&db, org.tenant).await < count / 3 {
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    eprintln!(
        "worker a killed after {:?} with {} settled",
        started.elapsed(),
        settled(&db, org.tenant).await
    );
    loop {
        let done = settled(&db, org.tenant).await;
        let jobs = db
            .store
            .tenant(org.tenant)
            .jobs(None, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == "writeback")
            .collect::<Vec<_>>();
        let dead = jobs.iter().filter(|j| j.state == JobState::Dead).count();
        assert_eq!(
            dead,
            0,
            "dead-lettered: {:?}",
            jobs.iter().find(|j| j.state == JobState::Dead)
        );
        if done == count && jobs.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stuck: {done} of {count} settled, {} jobs left",
            jobs.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("all {count} settled after {:?}", started.elapsed());
    survivor.kill().unwrap();
    survivor.wait().unwrap();
    e.admin(Method::PUT, "faults", json!([])).await;

    // Exactly once in the CRM: one row per activity, keyed by its own external key.
    let prefix = format!("lb-{}-", org.tenant.0.simple());
    for (table, kind) in [
        ("lb_notes", ActivityKind::Note),
        ("lb_messages", ActivityKind::Message),
        ("lb_inmails", ActivityKind::InMail),
    ] {
        let mut keys = Vec::new();
        let mut next = Some(format!(
            "{table}?$select=lb_externalkey&$filter=startswith(lb_externalkey,'{prefix}')"
        ));
        while let Some(path) = next.take() {
            let page = e.get(&path).await;
            for row in page["value"].as_array().unwrap() {
                keys.push(row["lb_externalkey"].as_str().unwrap().to_owned());
            }
            next = page["@odata.nextLink"]
                .as_str()
                .map(|link| link.split("/api/data/v9.2/").nth(1).unwrap().to_owned());
        }
        let expected: BTreeSet<String> = ids
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(id, _)| {
                ExternalKey::for_activity(org.tenant, *id)
                    .as_str()
                    .to_owned()
            })
            .collect();
        let found: BTreeSet<String> = keys.iter().cloned().collect();
        assert_eq!(keys.len(), found.len(), "{table}: a key appears twice");
        assert_eq!(
            found, expected,
            "{table}: not every activity is there exactly once"
        );
    }
}
