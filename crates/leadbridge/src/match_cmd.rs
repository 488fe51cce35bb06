//! `leadbridge match …`: runs the matching engine over NDJSON files, writes labelled benchmark
//! data sets and evaluates pairs against their truth.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use matching::bench_data::{self, BenchConfig};
use matching::index::Entity;
use matching::{Companies, MatchIndex, MatchOutcome, People};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Subcommand)]
pub enum MatchCommand {
    /// Match people (left) to CRM contacts/leads (right).
    People(RunArgs),
    /// Match companies (left) to CRM accounts (right).
    Companies(RunArgs),
    /// Write a labelled benchmark data set: left.ndjson, right.ndjson, truth.ndjson.
    Generate(GenerateArgs),
    /// Precision, recall and F1 of matched pairs against a truth file.
    Evaluate(EvaluateArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// Workspace records, one JSON object per line.
    #[arg(long)]
    left: PathBuf,
    /// CRM records, one JSON object per line; these are indexed.
    #[arg(long)]
    right: PathBuf,
    /// Where to write one line per matched left record.
    #[arg(long)]
    out: PathBuf,
    /// Confidence a match needs (0 to 1); defaults to the product threshold.
    #[arg(long)]
    threshold: Option<f32>,
    /// Skip blocks (records sharing one key) larger than this when looking up; defaults to the
    /// engine's setting. Lower is faster, higher finds more candidates for very common names.
    #[arg(long)]
    max_block: Option<usize>,
    /// The same for blocks keyed by a name alone (see docs/matching.md).
    #[arg(long)]
    max_name_block: Option<usize>,
    /// Also time this many single incremental operations (one CRM record updated, one record
    /// matched) against the built index, and report their latency.
    #[arg(long, default_value_t = 0)]
    latency_samples: usize,
    /// Also write every left record's decision (matched, ambiguous with its candidates, or no
    /// match with the closest candidates) to this file, for reviewing what was not matched.
    #[arg(long)]
    decisions: Option<PathBuf>,
}

#[derive(Serialize)]
struct DecisionLine<'a> {
    left_id: &'a str,
    #[serde(flatten)]
    outcome: &'a MatchOutcome,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    closest: Vec<matching::Candidate>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    People,
    Companies,
}

#[derive(Args)]
pub struct GenerateArgs {
    kind: Kind,
    /// Records on each side.
    #[arg(long)]
    size: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory to write into (created if missing).
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Output of `leadbridge match people|companies`.
    #[arg(long)]
    pairs: PathBuf,
    /// truth.ndjson from `leadbridge match generate`.
    #[arg(long)]
    truth: PathBuf,
}

pub fn run(cmd: MatchCommand) -> anyhow::Result<()> {
    match cmd {
        MatchCommand::People(args) => run_match::<People>(&args),
        MatchCommand::Companies(args) => run_match::<Companies>(&args),
        MatchCommand::Generate(args) => generate(&args),
        MatchCommand::Evaluate(args) => evaluate(&args),
    }
}

/// Lines parsed per batch: large enough to keep both cores busy, small enough that memory stays
/// flat whatever the file size.
const BATCH_LINES: usize = 32 * 1024;

#[derive(Serialize)]
struct PairLine<'a> {
    left_id: &'a str,
    right_id: &'a str,
    score: f32,
    explanation: &'a matching::Explanation,
}

#[derive(Default)]
struct Tally {
    left: u64,
    matched: u64,
    ambiguous: u64,
    unmatched: u64,
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Applies `f` to each line of `lines` on all cores, keeping the input order.
fn parallel_map<T: Send>(
    lines: &[(usize, String)],
    f: impl Fn(usize, &str) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let chunk = lines.len().div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                scope.spawn(|| {
                    part.iter()
                        .map(|(n, line)| f(*n, line))
                        .collect::<anyhow::Result<Vec<T>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(lines.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a worker thread panicked"))??,
            );
        }
        Ok(out)
    })
}

/// Reads an NDJSON file batch by batch, skipping blank lines; each line carries its number.
fn for_each_batch(
    path: &Path,
    mut f: impl FnMut(&[(usize, String)]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut batch = Vec::with_capacity(BATCH_LINES);
    let mut number = 0;
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read {} after line {number}", path.display()))?;
        if read == 0 {
            break;
        }
        number += 1;
        if !line.trim().is_empty() {
            batch.push((number, line));
        }
        if batch.len() == BATCH_LINES {
            f(&batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        f(&batch)?;
    }
    Ok(())
}

fn parse_record<R: DeserializeOwned>(
    path: &Path,
    number: usize,
    line: &str,
    id: fn(&R) -> &str,
) -> anyhow::Result<R> {
    let record: R = serde_json::from_str(line)
        .with_context(|| format!("{}:{number}: not a JSON record", path.display()))?;
    if id(&record).is_empty() {
        bail!("{}:{number}: record has no `id`", path.display());
    }
    Ok(record)
}

fn run_match<E>(args: &RunArgs) -> anyhow::Result<()>
where
    E: Entity,
    E::Record: DeserializeOwned + Send + Sync,
    E::Prepared: Send + Sync,
{
    let mut config = E::default_config();
    if let Some(t) = args.threshold {
        if !(0.0..=1.0).contains(&t) {
            bail!("--threshold must be between 0 and 1, got {t}");
        }
        config.threshold = t;
    }
    if let Some(m) = args.max_block {
        config.max_block = m;
    }
    if let Some(m) = args.max_name_block {
        config.max_name_block = m;
    }
    let started = Instant::now();
    let mut index = MatchIndex::<E>::with_config(config);
    let mut replaced = 0u64;
    for_each_batch(&args.right, |batch| {
        let prepared = parallel_map(batch, |n, line| {
            let record: E::Record = parse_record(&args.right, n, line, E::id)?;
            Ok((E::id(&record).to_string(), E::prepare(&record)))
        })?;
        for (id, p) in prepared {
            if index.contains(&id) {
                replaced += 1;
            }
            index.upsert_prepared(&id, p);
        }
        Ok(())
    })?;
    let indexed = started.elapsed();

    let out =
        File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut tally = Tally::default();
    let mut decisions = match &args.decisions {
        Some(path) => {
            Some(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create {}", path.display())
            })?))
        }
        None => None,
    };
    let mut samples: Vec<E::Record> = Vec::new();
    let index_ref = &index;
    for_each_batch(&args.left, |batch| {
        let results = parallel_map(batch, |n, line| {
            let record: E::Record = parse_record(&args.left, n, line, E::id)?;
            let outcome = index_ref.best_match(&record);
            let line = match &outcome {
                MatchOutcome::Matched {
                    right_id,
                    confidence,
                    explanation,
                } => {
                    let pair = PairLine {
                        left_id: E::id(&record),
                        right_id,
                        score: *confidence,
                        explanation,
                    };
                    Some(serde_json::to_string(&pair)?)
                }
                _ => None,
            };
            let decision = if args.decisions.is_some() {
                let closest = match outcome {
                    MatchOutcome::NoMatch => index_ref.candidates(&record, 3),
                    _ => Vec::new(),
                };
                Some(serde_json::to_string(&DecisionLine {
                    left_id: E::id(&record),
                    outcome: &outcome,
                    closest,
                })?)
            } else {
                None
            };
            Ok((record, outcome, line, decision))
        })?;
        for (record, outcome, line, decision) in results {
            if let (Some(w), Some(d)) = (decisions.as_mut(), decision) {
                w.write_all(d.as_bytes())?;
                w.write_all(b"\n")?;
            }
            tally.left += 1;
            match outcome {
                MatchOutcome::Matched { .. } => tally.matched += 1,
                MatchOutcome::Ambiguous { .. } => tally.ambiguous += 1,
                MatchOutcome::NoMatch => tally.unmatched += 1,
            }
            if let Some(line) = line {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            // Every k-th record, so the samples spread over the file without a second pass.
            if args.latency_samples > 0
                && samples.len() < args.latency_samples
                && tally.left % 97 == 1
            {
                samples.push(record);
            }
        }
        Ok(())
    })?;
    out.flush()?;
    if let Some(w) = decisions.as_mut() {
        w.flush()?;
    }
    let total = started.elapsed();

    eprintln!(
        "matched {} of {} left records ({} ambiguous, {} without a match) against {} right records ({} duplicate ids replaced)",
        tally.matched,
        tally.left,
        tally.ambiguous,
        tally.unmatched,
        index.len(),
        replaced,
    );
    eprintln!(
        "time: {:.2}s total ({:.2}s reading and indexing the right side, {:.2}s matching), {} threads",
        total.as_secs_f64(),
        indexed.as_secs_f64(),
        (total - indexed).as_secs_f64(),
        threads()
    );
    eprintln!("pairs written to {}", args.out.display());
    if !samples.is_empty() {
        report_latency(&mut index, &samples);
    }
    Ok(())
}

/// Times single operations on the built index, as the sync engine will do them: matching one
/// record, and re-indexing one changed CRM record (remove + insert) followed by matching it.
fn report_latency<E: Entity>(index: &mut MatchIndex<E>, samples: &[E::Record]) {
    let mut matching = Vec::with_capacity(samples.len());
    let mut updating = Vec::with_capacity(samples.len());
    for record in samples {
        let t = Instant::now();
        std::hint::black_box(index.best_match(record));
        matching.push(t.elapsed());
        // The left record stands in for a changed CRM record under a fresh id.
        let id = format!("latency-probe-{}", E::id(record));
        let t = Instant::now();
        index.upsert_prepared(&id, E::prepare(record));
        std::hint::black_box(index.best_match(record));
        updating.push(t.elapsed());
        index.remove(&id);
    }
    let describe = |name: &str, mut times: Vec<Duration>| {
        times.sort_unstable();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        eprintln!(
            "latency of {name} over {} samples: p50 {:?}, p99 {:?}, max {:?}",
            times.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    };
    describe("one best_match", matching);
    describe("one upsert + best_match", updating);
}

fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let config = BenchConfig::new(args.size, args.seed);
    let truth = match args.kind {
        Kind::People => write_dataset(&args.dir, bench_data::people(config))?,
        Kind::Companies => write_dataset(&args.dir, bench_data::companies(config))?,
    };
    eprintln!(
        "wrote {} records per side and {truth} true pairs to {}",
        args.size,
        args.dir.display()
    );
    Ok(())
}

fn write_dataset<R: Serialize>(dir: &Path, data: bench_data::Dataset<R>) -> anyhow::Result<usize> {
    let write_lines = |name: &str,
                       lines: &mut dyn Iterator<Item = serde_json::Result<String>>|
     -> anyhow::Result<()> {
        let path = dir.join(name);
        let mut w = BufWriter::new(
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        for line in lines {
            w.write_all(line?.as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write_lines(
        "left.ndjson",
        &mut data.left.iter().map(serde_json::to_string),
    )?;
    write_lines(
        "right.ndjson",
        &mut data.right.iter().map(serde_json::to_string),
    )?;
    write_lines(
        "truth.ndjson",
        &mut data.truth.iter().map(serde_json::to_string),
    )?;
    Ok(data.truth.len())
}

/// A `{left_id, right_id}` line; truth lines may also say which change makes the pair hard.
#[derive(serde::Deserialize)]
struct Pair {
    left_id: String,
    right_id: String,
    #[serde(default)]
    change: Option<String>,
}

fn read_pairs(path: &Path) -> anyhow::Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    for_each_batch(path, |batch| {
        for (n, line) in batch {
            let p: Pair = serde_json::from_str(line).with_context(|| {
                format!("{}:{n}: expected {{left_id, right_id}}", path.display())
            })?;
            pairs.push(p);
        }
        Ok(())
    })?;
    Ok(pairs)
}

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    let pairs = read_pairs(&args.pairs)?;
    let truth = read_pairs(&args.truth)?;
    fn as_refs<'a>(v: impl Iterator<Item = &'a Pair>) -> Vec<(&'a str, &'a str)> {
        v.map(|p| (p.left_id.as_str(), p.right_id.as_str()))
            .collect()
    }
    let m = matching::evaluate::evaluate(as_refs(pairs.iter()), as_refs(truth.iter()));
    println!("{}", serde_json::to_string(&m)?);
    eprintln!(
        "precision {:.4}  recall {:.4}  F1 {:.4}  (true positives {}, false positives {}, false negatives {})",
        m.precision, m.recall, m.f1, m.true_positives, m.false_positives, m.false_negatives
    );
    // Recall within each kind of hard change the truth marks, and without them.
    let mut changes: Vec<Option<&str>> = truth.iter().map(|t| t.change.as_deref()).collect();
    changes.sort_unstable();
    changes.dedup();
    if changes.len() > 1 {
        let found: std::collections::HashMap<&str, &str> = pairs
            .iter()
            .map(|p| (p.left_id.as_str(), p.right_id.as_str()))
            .collect();
        for change in changes {
            let group: Vec<&Pair> = truth
                .iter()
                .filter(|t| t.change.as_deref() == change)
                .collect();
            let hits = group
                .iter()
                .filter(|t| found.get(t.left_id.as_str()) == Some(&t.right_id.as_str()))
                .count();
            eprintln!(
                "  recall {:.4} over {} true pairs {}",
                hits as f64 / group.len() as f64,
                group.len(),
                change.map_or("without a hard change".to_string(), |c| format!(
                    "with change `{c}`"
                ))
            );
        }
    }
    Ok(())
}
