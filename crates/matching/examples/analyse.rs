//! Error analysis of the labelled benchmark: where the matcher loses recall and precision.
//!
//! `cargo run --release -p matching --example analyse -- people|companies SIZE SEED [TOP]`
//!
//! `people-without-history` runs the people data set with every work history removed, to show
//! what the past employers are worth.
//!
//! Prints precision/recall/F1, then the false negatives and false positives grouped by what the
//! true (or wrongly chosen) pair's explanation looks like, the largest groups first.

use std::collections::HashMap;
use std::fmt::Write as _;

use matching::bench_data::{self, BenchConfig, Dataset};
use matching::{CompanyIndex, Entity, Explanation, MatchIndex, MatchOutcome, PeopleIndex};

fn signature(e: &Explanation) -> String {
    let mut s = String::new();
    for f in &e.fields {
        let _ = write!(s, "{:?}:{:?}", f.field, f.agreement);
        if let Some(d) = f.detail {
            let _ = write!(s, "/{d:?}");
        }
        let _ = write!(s, "({:+.1}) ", f.weight);
    }
    s
}

fn coarse(e: &Explanation) -> String {
    let mut s = String::new();
    for f in &e.fields {
        let _ = write!(s, "{:?}:{:?}", f.field, f.agreement);
        if let Some(d) = f.detail {
            let _ = write!(s, "/{d:?}");
        }
        s.push(' ');
    }
    s
}

/// `f` of every item, in order, computed on two threads (this machine's two cores).
fn on_two_threads<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let (a, b) = items.split_at(items.len() / 2);
    std::thread::scope(|s| {
        let f = &f;
        let first = s.spawn(move || a.iter().map(f).collect::<Vec<_>>());
        let second: Vec<R> = b.iter().map(f).collect();
        let mut all = first.join().expect("thread");
        all.extend(second);
        all
    })
}

fn run<E: Entity>(data: Dataset<E::Record>, mut index: MatchIndex<E>, top: usize)
where
    E::Record: Sync,
    E::Prepared: Sync,
{
    let started = std::time::Instant::now();
    for r in &data.right {
        index.upsert(r);
    }
    let indexed = started.elapsed();
    let index = &index;
    let outcomes: Vec<MatchOutcome> = on_two_threads(&data.left, |l| index.best_match(l));
    println!(
        "indexed in {:.2} s, matched in {:.2} s",
        indexed.as_secs_f64(),
        (started.elapsed() - indexed).as_secs_f64()
    );
    let truth: HashMap<&str, (&str, Option<&str>)> = data
        .truth
        .iter()
        .map(|t| (t.left_id.as_str(), (t.right_id.as_str(), t.change)))
        .collect();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut tp_change: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut fn_groups: HashMap<String, (u64, String)> = HashMap::new();
    let mut fn_kind: HashMap<String, u64> = HashMap::new();
    let mut fp_groups: HashMap<String, (u64, String)> = HashMap::new();
    // Matches by the fields of their explanation: (right, wrong).
    let mut by_evidence: HashMap<String, (u64, u64)> = HashMap::new();
    for (l, o) in data.left.iter().zip(&outcomes) {
        let id = E::id(l);
        let t = truth.get(id);
        if let Some((_, change)) = t {
            tp_change.entry(change.unwrap_or("none")).or_default().1 += 1;
        }
        match (o.matched_id(), t) {
            (Some(r), Some((tr, change))) if r == *tr => {
                tp += 1;
                if let MatchOutcome::Matched { explanation, .. } = o {
                    by_evidence.entry(coarse(explanation)).or_default().0 += 1;
                }
                tp_change.entry(change.unwrap_or("none")).or_default().0 += 1;
            }
            (m, _) => {
                if let Some(r) = m {
                    fp += 1;
                    let e = index.compare_with(l, r).expect("indexed");
                    by_evidence.entry(coarse(&e)).or_default().1 += 1;
                    let kind = if t.is_some() { "wrong" } else { "new" };
                    let g = fp_groups
                        .entry(format!("{kind} | {}", coarse(&e)))
                        .or_default();
                    g.0 += 1;
                    g.1 = format!("{id}->{r} {:.1}: {}", e.score, signature(&e));
                }
                if let Some((tr, change)) = t {
                    let e = index.compare_with(l, tr).expect("indexed");
                    let blocked = index
                        .candidates(l, 100_000)
                        .iter()
                        .any(|c| c.right_id == *tr);
                    let outcome = match o {
                        MatchOutcome::Matched { .. } => "wrong",
                        MatchOutcome::Ambiguous { .. } => "ambiguous",
                        MatchOutcome::NoMatch => "nomatch",
                    };
                    let kind = format!(
                        "{} {outcome} {}",
                        change.unwrap_or("-"),
                        if blocked { "found" } else { "UNBLOCKED" }
                    );
                    *fn_kind.entry(kind.clone()).or_default() += 1;
                    let g = fn_groups
                        .entry(format!("{kind} | {}", coarse(&e)))
                        .or_default();
                    g.0 += 1;
                    g.1 = format!("{id}->{tr} {:.1}: {}", e.score, signature(&e));
                }
            }
        }
    }
    calibration::<E>(&data, index, &truth);
    let fneg = data.truth.len() as u64 - tp;
    let p = tp as f64 / (tp + fp) as f64;
    let r = tp as f64 / data.truth.len() as f64;
    println!(
        "tp {tp} fp {fp} fn {fneg} precision {p:.4} recall {r:.4} f1 {:.4}",
        2.0 * p * r / (p + r)
    );
    for (c, (hit, all)) in &tp_change {
        println!(
            "  change {c}: recall {:.4} ({hit}/{all})",
            *hit as f64 / *all as f64
        );
    }
    let mut evidence: Vec<_> = by_evidence.into_iter().filter(|e| e.1.1 > 0).collect();
    evidence.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
    println!("\nmatches by evidence, most wrong first (right, wrong, precision):");
    for (k, (ok, bad)) in evidence.into_iter().take(top) {
        println!("  {ok:7} {bad:5} {:.3}  {k}", ok as f64 / (ok + bad) as f64);
    }
    let mut kinds: Vec<_> = fn_kind.into_iter().collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    println!("\nfalse negatives by kind:");
    for (k, n) in kinds {
        println!("  {n:6} {k}");
    }
    for (title, groups) in [
        ("false negatives", fn_groups),
        ("false positives", fp_groups),
    ] {
        let mut g: Vec<_> = groups.into_iter().collect();
        g.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        println!("\n{title} ({} groups):", g.len());
        for (k, (n, ex)) in g.into_iter().take(top) {
            println!("{n:6} {k}\n         e.g. {ex}");
        }
    }
}

/// How often the top candidate is the true record, by its confidence: a calibrated model's
/// band [0.9, 0.95) is right about 92 % of the time.
fn calibration<E: Entity>(
    data: &Dataset<E::Record>,
    index: &MatchIndex<E>,
    truth: &HashMap<&str, (&str, Option<&str>)>,
) where
    E::Record: Sync,
    E::Prepared: Sync,
{
    const EDGES: [f32; 9] = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01];
    let tops: Vec<Option<(f32, String)>> = on_two_threads(&data.left, |l| {
        index
            .candidates(l, 1)
            .into_iter()
            .next()
            .map(|c| (c.confidence, c.right_id))
    });
    // Per band: [top is true, top is another record of a true pair's left, left has no pair],
    // and the same split for job changes / moves.
    let mut bands = [[0u64; 4]; EDGES.len() - 1];
    for (l, top) in data.left.iter().zip(&tops) {
        let Some((c, r)) = top else { continue };
        let b = EDGES
            .windows(2)
            .position(|w| *c >= w[0] && *c < w[1])
            .unwrap_or(0);
        match truth.get(E::id(l)) {
            Some((tr, change)) if *tr == r.as_str() => {
                bands[b][0] += 1;
                if change.is_some() {
                    bands[b][3] += 1;
                }
            }
            Some(_) => bands[b][1] += 1,
            None => bands[b][2] += 1,
        }
    }
    println!("\ncalibration of the top candidate (share confidence):");
    println!("  band          right   wrong(paired) wrong(new)  precision  of right: hard");
    for (w, [ok, other, new, hard]) in EDGES.windows(2).zip(bands) {
        let all = ok + other + new;
        println!(
            "  [{:.2},{:.2}) {ok:8} {other:8} {new:10}   {:.4}   {hard:8}",
            w[0],
            w[1].min(1.0),
            if all == 0 {
                0.0
            } else {
                ok as f64 / all as f64
            }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map_or("people", String::as_str);
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let top: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(40);
    let config = BenchConfig::new(size, seed);
    match kind {
        "people" => run(bench_data::people(config), PeopleIndex::default(), top),
        "people-without-history" => {
            let mut data = bench_data::people(config);
            data.left.iter_mut().for_each(|p| p.past_companies.clear());
            run(data, PeopleIndex::default(), top)
        }
        _ => run(bench_data::companies(config), CompanyIndex::default(), top),
    }
}
