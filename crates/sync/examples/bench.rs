//! The sync engine's benchmark (issue 5), against an emulator started separately so that its
//! memory is not counted here:
//!
//! ```sh
//! leadbridge emulator --seed large --state-dir /tmp/emu --listen 127.0.0.1:8443 &
//! cargo run --release -p sync --example bench -- /tmp/emu sqlite:///tmp/bench/lb.db
//! cargo run --release -p sync --example bench -- /tmp/emu postgres://postgres@127.0.0.1/lb_bench
//! ```
//!
//! It connects a tenant with five reps and a workspace directory of its own (`BENCH_PEOPLE`,
//! default 100,000 people: one in two a copy of a CRM contact, by email, the others people the CRM
//! does not have), then measures: the initial sync (wall time, rows/s, this
//! process's peak memory), an incremental sync after 1,000 contacts changed, and the writeback
//! latency from a saved note to its row in the CRM at 100 notes/s with 50 ms added to every CRM
//! request. Results go to standard output as a table.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::activity::{ActivityAbout, ActivityKind, CopyToCrm};
use domain::settings::{
    CrmSettings, PipelineStage, WonValueField, WritebackItems, WritebackSettings,
};
use domain::timeline::{WritebackEvent, WritebackState};
use futures_util::TryStreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use store::activities::NewActivity;
use store::directory::NewPerson;
use store::secrets::Keyring;
use store::tenants::NewUser;
use store::{Store, StoreOptions};
use sync::crm::dynamics::{Dynamics, DynamicsConfig};
use sync::crm::{ConnectionTarget, Credentials, Crm};
use sync::jobs::Trigger;
use sync::{ApplicationUser, EngineConfig, SyncEngine, SyncRunResult};

/// The allocator of the `leadbridge` binary, so that memory is measured as the product uses it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// This process's resident memory now: anonymous (heap) and file-backed (the database's pages
/// mapped in by SQLite, which the kernel may drop at will), in MiB.
fn rss_now_mib() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    format!(
        "now {} MiB anonymous + {} MiB file-backed",
        field("RssAnon:"),
        field("RssFile:")
    )
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

struct Emu {
    info: Value,
    ca: String,
    http: reqwest::Client,
}

impl Emu {
    async fn token(&self) -> String {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.info["authority_url"].as_str().unwrap(),
            self.info["tenant_id"].as_str().unwrap()
        );
        let scope = format!("{}/.default", self.info["org_url"].as_str().unwrap());
        let body: Value = self
            .http
            .post(url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.info["client_id"].as_str().unwrap()),
                (
                    "client_secret",
                    self.info["client_secret"].as_str().unwrap(),
                ),
                ("scope", scope.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn admin(&self, path: &str, body: Value) {
        let url = format!("{}/{path}", self.info["admin_url"].as_str().unwrap());
        let r = self.http.put(url).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    // RUST_LOG=sync=info shows how long each phase of a sync took.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    // BENCH_RSS_TRACE=1 logs resident memory every second (with RUST_LOG=bench=info), to line
    // it up with the phases' log lines.
    if std::env::var_os("BENCH_RSS_TRACE").is_some() {
        std::thread::spawn(|| {
            loop {
                tracing::info!("rss {}", rss_now_mib());
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
    let mut args = std::env::args().skip(1);
    let state_dir = PathBuf::from(args.next().expect("the emulator's state directory"));
    let database_url = args.next().expect("a database URL");
    let info: Value =
        serde_json::from_slice(&std::fs::read(state_dir.join("emulator.json")).unwrap()).unwrap();
    let ca = std::fs::read_to_string(state_dir.join("ca.pem")).unwrap();
    let emu = Emu {
        http: reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
            .build()
            .unwrap(),
        info,
        ca,
    };

    let mut options = StoreOptions::new(database_url.clone());
    options.keyring = Some(Arc::new(Keyring::single(1, &[7; 32]).unwrap()));
    let store = Store::connect(options).await.unwrap();
    store.migrate().await.unwrap();
    let dynamics = Dynamics::new(DynamicsConfig {
        extra_ca_pems: vec![emu.ca.clone()],
        allow_non_dynamics_host: true,
        ..DynamicsConfig::default()
    });
    let engine = SyncEngine::new(
        store.clone(),
        Arc::new(dynamics.clone()),
        EngineConfig {
            poll_interval: Duration::from_millis(50),
            ..EngineConfig::default()
        },
    );
    let app = ApplicationUser {
        org_url: emu.info["org_url"].as_str().unwrap().to_owned(),
        entra_tenant: emu.info["tenant_id"].as_str().unwrap().to_owned(),
        client_id: emu.info["client_id"].as_str().unwrap().to_owned(),
        client_secret: SecretString::from(emu.info["client_secret"].as_str().unwrap().to_owned()),
        authority_url: Some(emu.info["authority_url"].as_str().unwrap().to_owned()),
    };

    // Five reps: seats whose emails are CRM users that own opportunities.
    let crm = dynamics
        .open_dynamics(&ConnectionTarget {
            org_url: app.org_url.clone(),
            authority_url: app.authority_url.clone(),
            credentials: Credentials::ApplicationUser {
                entra_tenant: app.entra_tenant.clone(),
                client_id: app.client_id.clone(),
                client_secret: app.client_secret.clone(),
            },
        })
        .unwrap();
    let users: Vec<_> = crm
        .users(None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .flat_map(|p| p.upserts)
        .map(|r| r.row)
        .filter(|u| !u.application_user && !u.disabled && u.email.is_some())
        .collect();
    let tenant = store
        .create_tenant(&format!("bench {}", uuid::Uuid::new_v4()), 20)
        .await
        .unwrap()
        .id;
    let mut t = store.tenant(tenant);
    let mut seats = Vec::new();
    for user in users.iter().skip(2).take(5) {
        let created = t
            .create_user(NewUser {
                email: user.email.clone().unwrap(),
                display_name: user.full_name.clone(),
                admin: false,
                password: None,
            })
            .await
            .unwrap();
        seats.push(t.assign_seat(created.id).await.unwrap().seat.id);
    }
    // The workspace's own people: copies of CRM contacts and newcomers.
    let wanted: usize = std::env::var("BENCH_PEOPLE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let token = emu.token().await;
    let api = emu.info["api_url"].as_str().unwrap().to_owned();
    let mut next = Some(format!(
        "{api}/contacts?$select=fullname,emailaddress1,jobtitle,address1_city&$orderby=contactid desc"
    ));
    let mut people = Vec::with_capacity(wanted);
    while let Some(url) = next.take()
        && people.len() < wanted
    {
        let page: Value = emu
            .http
            .get(url)
            .bearer_auth(&token)
            .header("Prefer", "odata.maxpagesize=5000")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for row in page["value"].as_array().unwrap() {
            let n = people.len();
            if n >= wanted {
                break;
            }
            let text = |k: &str| row[k].as_str().map(str::to_owned);
            let copy = n % 2 == 0;
            people.push(NewPerson {
                external_id: Some(format!("bench-{n}")),
                full_name: if copy {
                    text("fullname").unwrap_or_default()
                } else {
                    format!("Newcomer {n} Example")
                },
                title: text("jobtitle"),
                company_name: None,
                company: None,
                location: text("address1_city"),
                email: if copy {
                    text("emailaddress1")
                } else {
                    Some(format!("newcomer{n}@example.org"))
                },
                phone: None,
                profile_url: None,
                past_companies: Vec::new(),
            });
        }
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    for chunk in people.chunks(5000) {
        t.upsert_people(chunk).await.unwrap();
    }
    println!("workspace people: {}", people.len());
    drop(people);

    engine.connect_application_user(tenant, app).await.unwrap();
    t.put_crm_settings(&CrmSettings {
        auto_sync_all_seats: true,
        pipeline_stage: PipelineStage::NotSure,
        won_value_field: WonValueField::NotSure,
        writeback: WritebackSettings::OFF,
    })
    .await
    .unwrap();
    println!("database: {}", store::redact_url(&database_url));

    // Initial sync.
    let started = Instant::now();
    let SyncRunResult::Finished(run) = engine.run_sync(tenant, Trigger::Connect).await.unwrap()
    else {
        panic!("the sync did not run")
    };
    let took = started.elapsed();
    let run = t.sync_run(run).await.unwrap().unwrap();
    assert!(run.error.is_none(), "{run:?}");
    let saved = t.saved_items(None).await.unwrap().len();
    println!(
        "| initial sync | {:.1} s | {} rows | {:.0} rows/s | peak RSS {} MiB ({}) | {saved} items saved |",
        took.as_secs_f64(),
        run.rows_done,
        run.rows_done as f64 / took.as_secs_f64(),
        peak_rss_mib(),
        rss_now_mib()
    );

    // Incremental sync of 1,000 changed contacts (the ones the workspace copied, in part).
    let token = emu.token().await;
    let page: Value = emu
        .http
        .get(format!(
            "{api}/contacts?$select=contactid&$orderby=contactid desc&$top=1000"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for row in page["value"].as_array().unwrap() {
        let id = row["contactid"].as_str().unwrap();
        let r = emu
            .http
            .patch(format!("{api}/contacts({id})"))
            .bearer_auth(&token)
            .json(&json!({"jobtitle": "Changed for the benchmark"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let started = Instant::now();
    let SyncRunResult::Finished(run) = engine.run_sync(tenant, Trigger::SyncNow).await.unwrap()
    else {
        panic!("the sync did not run")
    };
    let took = started.elapsed();
    let run = t.sync_run(run).await.unwrap().unwrap();
    println!(
        "| incremental sync | {:.2} s | {} rows |",
        took.as_secs_f64(),
        run.rows_done
    );

    // Writeback latency at 100 notes/s with 50 ms on every CRM request.
    engine.install_companion_app(tenant).await.unwrap();
    t.put_crm_settings(&CrmSettings {
        auto_sync_all_seats: true,
        pipeline_stage: PipelineStage::NotSure,
        won_value_field: WonValueField::NotSure,
        writeback: WritebackSettings {
            enabled: true,
            items: WritebackItems::All,
        },
    })
    .await
    .unwrap();
    emu.admin("faults", json!([{"latency_ms": 50}])).await;
    let person = t
        .upsert_people(&[NewPerson {
            external_id: Some("bench".into()),
            full_name: "Bench Person".into(),
            title: None,
            company_name: None,
            company: None,
            location: None,
            email: Some("bench@bench.example".into()),
            phone: None,
            profile_url: None,
            past_companies: Vec::new(),
        }])
        .await
        .unwrap()[0];
    // Half the notes are about a person matched to a CRM contact (written completed on it, two
    // writes each), half about one the CRM lacks (written open, one write).
    let matched = t
        .person_by_external_id("bench-0")
        .await
        .unwrap()
        .map(|p| p.person.id);
    let about = [matched.unwrap_or(person), person];
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = {
        let engine = engine.clone();
        tokio::spawn(async move { sync::worker::run_workers(&engine, shutdown).await })
    };
    let notes = 3000;
    let mut ids = Vec::with_capacity(notes);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..notes {
        tick.tick().await;
        if i % 500 == 499 {
            let q = store.queue_stats().await.unwrap();
            eprintln!(
                "after {} notes: {} queued, {} running",
                i + 1,
                q.queued,
                q.running
            );
        }
        let activity = t
            .add_activity(NewActivity {
                seat: seats[i % seats.len()],
                kind: ActivityKind::Note,
                about: ActivityAbout::Person(about[i % 2]),
                thread: None,
                body: format!("Benchmark note {i}"),
                copy_to_crm: CopyToCrm::Item(true),
            })
            .await
            .unwrap();
        ids.push(activity.id);
    }
    let mut latencies = Vec::with_capacity(notes);
    for id in &ids {
        loop {
            let record = t.writeback_record(*id).await.unwrap().unwrap();
            if matches!(
                record.state,
                WritebackState::Written { .. } | WritebackState::Unassigned { .. }
            ) {
                let saved = record.timeline[0].at;
                let written = record
                    .timeline
                    .iter()
                    .find(|e| matches!(e.event, Some(WritebackEvent::Written { .. })))
                    .map(|e| e.at)
                    .unwrap();
                latencies.push((written - saved).num_milliseconds());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let _ = stop.send(true);
    workers.await.unwrap().unwrap();
    emu.admin("faults", json!([])).await;
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "| writeback latency, {notes} notes at 100/s, +50 ms per CRM request | p50 {} ms | p99 {} ms | max {} ms |",
        at(0.5),
        at(0.99),
        latencies.last().unwrap()
    );
    println!("| peak RSS at the end | {} MiB |", peak_rss_mib());
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        if key.name().starts_with("leadbridge_crm")
            || key.name().starts_with("leadbridge_writeback")
        {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            println!("| {} {} | {:?} |", key.name(), labels.join(","), value);
        }
    }
    store.close().await;
}
