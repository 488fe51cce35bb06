//! The client's benchmark (issue 3), against the emulator in a child process so that the peak
//! memory measured is the client's alone:
//!
//! ```sh
//! cargo run --release -p dataverse --example bench -- read          # full read of the large seed
//! cargo run --release -p dataverse --example bench -- write [--rows 100000] [--chunk 100] [--latency-ms 50] [--dop 4]
//! ```
//!
//! Results and how to read them: docs/benchmarks.md.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dataverse::companion::{EXTERNAL_KEY, NOTE};
use dataverse::{
    Auth, Authority, Client, ClientConfig, ClientCredentials, Key, PageOptions, Query,
};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The client process's peak resident memory (Linux `VmHWM`), in MiB.
fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU time (user + system) the client process has used so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of the whole line, 11 and 12 after the name; the
    // kernel counts them in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

/// The child process: an emulator with a seed, alive until its standard input closes.
async fn serve(seed: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        dataverse_emulator::EmulatorConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().into());
    config.seed = Some(match seed {
        "large" => dataverse_emulator::seed::SeedSize::Large,
        "medium" => dataverse_emulator::seed::SeedSize::Medium,
        _ => dataverse_emulator::seed::SeedSize::Small,
    });
    let emulator = dataverse_emulator::start(config).await.unwrap();
    println!("ready {}", serde_json::to_string(&emulator.info).unwrap());
    std::io::stdout().flush().unwrap();
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await;
    emulator.stop().await;
}

struct Child {
    process: std::process::Child,
    info: Value,
    admin: reqwest::Client,
}

impl Child {
    fn start(seed: &str) -> Child {
        let started = Instant::now();
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["serve", seed])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: Value =
            serde_json::from_str(line.trim().strip_prefix("ready ").unwrap()).unwrap();
        eprintln!(
            "emulator with the {seed} seed ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let ca = std::fs::read(info["ca_cert"].as_str().unwrap()).unwrap();
        let admin = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        Child {
            process,
            info,
            admin,
        }
    }

    fn client(&self) -> Client {
        let info = &self.info;
        let auth = Auth::ClientCredentials(ClientCredentials {
            authority: Authority::with_url(
                info["authority_url"].as_str().unwrap().parse().unwrap(),
                info["tenant_id"].as_str().unwrap(),
            ),
            client_id: info["client_id"].as_str().unwrap().into(),
            client_secret: info["client_secret"].as_str().unwrap().to_string().into(),
        });
        let mut config = ClientConfig::new(info["org_url"].as_str().unwrap(), auth);
        config.extra_ca_pems =
            vec![std::fs::read_to_string(info["ca_cert"].as_str().unwrap()).unwrap()];
        config.allow_non_dynamics_host = true;
        Client::new(config).unwrap()
    }

    async fn admin(&self, path: &str, body: Value) {
        let url = format!("{}/{path}", self.info["admin_url"].as_str().unwrap());
        let r = self.admin.put(url).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        drop(self.process.stdin.take());
        let _ = self.process.wait();
    }
}

async fn read() {
    let child = Child::start("large");
    let client = child.client();
    let before = peak_memory_mib();
    for (name, tracked) in [("paged read", false), ("change-tracked initial read", true)] {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let options = PageOptions::default();
        let columns = [
            "fullname",
            "emailaddress1",
            "jobtitle",
            "_parentcustomerid_value",
        ];
        let mut pages = if tracked {
            client.tracked_read("contacts", &columns, &options)
        } else {
            client.pages(&Query::new("contacts").select(columns), &options)
        };
        let (mut rows, mut count) = (0usize, 0usize);
        while let Some(page) = pages.try_next().await.unwrap() {
            rows += page.rows.len();
            count += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        println!(
            "{name}: {rows} contacts in {count} pages, {secs:.1} s, {:.0} rows/s; client CPU {cpu:.1} s ({:.0} rows per CPU-second); client peak memory {:.0} MiB",
            rows as f64 / secs,
            rows as f64 / cpu,
            peak_memory_mib()
        );
    }
    println!("client peak memory before the reads: {before:.0} MiB");
}

/// One UpsertMultiple of `chunk` notes, timed.
async fn timed_chunk(client: &Client, notes: &dataverse::Table, rows: &[(Key, Value)]) -> Duration {
    let started = Instant::now();
    let results = client.upsert_many(notes, rows).await.unwrap();
    assert!(results.iter().all(Result::is_ok));
    started.elapsed()
}

async fn write() {
    let total = arg("--rows", 100_000) as usize;
    let chunk = arg("--chunk", 100) as usize;
    let latency = arg("--latency-ms", 50);
    let dop = arg("--dop", 4);
    let child = Child::start("small");
    // The real limits (the defaults), the advertised parallelism and the latency.
    child.admin("limits", json!({"dop_hint": dop})).await;
    let client = {
        let mut config = child.client().config().clone();
        config.write_chunks.bulk = chunk;
        Client::new(config).unwrap()
    };
    client.install_companion().await.unwrap();
    let notes = client.table(NOTE.logical_name).await.unwrap();
    let contacts: Vec<uuid::Uuid> = client
        .query_all(&Query::new("contacts").select(["contactid"]).top(1000))
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.guid("contactid"))
        .collect();
    child
        .admin("faults", json!([{"latency_ms": latency}]))
        .await;
    let row = |prefix: &str, i: usize| {
        (
            Key::alternate(EXTERNAL_KEY, format!("{prefix}:{i}")),
            json!({
                "subject": format!("InMail {i}"),
                "description": "Followed up on the proposal; wants pricing for 40 seats.",
                "lb_profileurl": format!("https://www.linkedin.com/in/person-{i}"),
                "regardingobjectid_contact_lb_note@odata.bind": format!("/contacts({})", contacts[i % contacts.len()]),
            }),
        )
    };
    // The round trip of one request when nothing else runs: what one slot can do at best.
    let mut samples = Vec::new();
    for i in 0..20 {
        let rows: Vec<(Key, Value)> = (0..chunk).map(|j| row("warmup", i * chunk + j)).collect();
        samples.push(timed_chunk(&client, &notes, &rows).await);
    }
    samples.sort();
    let round_trip = samples[samples.len() / 2];

    let rows: Vec<(Key, Value)> = (0..total).map(|i| row("note", i)).collect();
    let before = client.throttle_stats();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let results = client.upsert_many(&notes, &rows).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let created = results
        .iter()
        .filter(|r| matches!(r, Ok(u) if u.created == Some(true)))
        .count();
    let stats = client.throttle_stats();
    child.admin("faults", json!([])).await;
    let stored: usize = client
        .pages(
            &Query::new(&notes.entity_set).select([EXTERNAL_KEY]),
            &PageOptions::default(),
        )
        .map_ok(|p| p.rows.len())
        .try_fold(0, |acc, n| async move { Ok(acc + n) })
        .await
        .unwrap();

    let requests = total.div_ceil(chunk) as f64;
    let per_second = total as f64 / secs;
    // What the limits allow: at most `dop` requests in flight, each no faster than the round
    // trip measured alone; 6000 requests per 300 s; 1,200 s of execution per 300 s.
    let concurrency_ceiling = dop as f64 * chunk as f64 / round_trip.as_secs_f64();
    // A fresh 300 s window admits 6000 requests at once; each further 6000 wait for the window
    // to slide by 300 s.
    let windows = ((requests + 20.0) / 6000.0).ceil() - 1.0;
    let request_ceiling = if windows <= 0.0 {
        f64::INFINITY
    } else {
        total as f64 / (300.0 * windows)
    };
    let ceiling = concurrency_ceiling.min(request_ceiling);
    println!(
        "{total} activities (UpsertMultiple, {chunk} per request, {requests} requests), {latency} ms latency, x-ms-dop-hint {dop}"
    );
    println!(
        "round trip of one request alone: {:.1} ms (median of 20)",
        round_trip.as_secs_f64() * 1000.0
    );
    println!(
        "written in {secs:.1} s: {per_second:.0} activities/s; ceiling {ceiling:.0}/s ({:.0} % of it)",
        100.0 * per_second / ceiling
    );
    println!(
        "requests in flight on average: {:.2} (at most {dop} allowed); mean time in flight {:.1} ms",
        (stats.in_flight_seconds - before.in_flight_seconds) / secs,
        1000.0 * (stats.in_flight_seconds - before.in_flight_seconds)
            / (stats.requests - before.requests) as f64
    );
    println!(
        "failed writes: {failed}; created: {created}; rows stored: {stored} (incl. {} warm-up); 429s: {}; retries: {}; final window: {}",
        20 * chunk,
        stats.throttled,
        stats.retries,
        stats.window
    );
    println!(
        "client CPU {cpu:.1} s; client peak memory: {:.0} MiB",
        peak_memory_mib()
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(args.get(2).map_or("small", String::as_str)).await,
        Some("read") => read().await,
        Some("write") => write().await,
        _ => eprintln!(
            "usage: bench read | bench write [--rows N] [--chunk N] [--latency-ms N] [--dop N]"
        ),
    }
}
