use matching::bench_data::{self, BenchConfig, TruthPair};
use matching::evaluate::{Metrics, evaluate};
use matching::{CompanyIndex, PeopleIndex};

fn score(pairs: &[(String, String)], truth: &[TruthPair]) -> Metrics {
    evaluate(
        pairs.iter().map(|(l, r)| (l.as_str(), r.as_str())),
        truth
            .iter()
            .map(|t| (t.left_id.as_str(), t.right_id.as_str())),
    )
}

// Small runs of the labelled benchmark (docs/matching.md has the full-size numbers); these
// bounds sit a little below what the full-size run reaches, so a regression in scoring fails.
#[test]
fn people_benchmark_is_precise_and_mostly_complete() {
    let data = bench_data::people(BenchConfig::new(3000, 11));
    let mut index = PeopleIndex::default();
    data.right.iter().for_each(|r| index.upsert(r));
    let pairs: Vec<(String, String)> = data
        .left
        .iter()
        .filter_map(|l| {
            index
                .best_match(l)
                .matched_id()
                .map(|r| (l.id.clone(), r.to_string()))
        })
        .collect();
    let m = score(&pairs, &data.truth);
    assert!(m.precision >= 0.98 && m.recall >= 0.88, "{m:?}");
}

#[test]
fn company_benchmark_is_precise_and_mostly_complete() {
    let data = bench_data::companies(BenchConfig::new(3000, 11));
    let mut index = CompanyIndex::default();
    data.right.iter().for_each(|r| index.upsert(r));
    let pairs: Vec<(String, String)> = data
        .left
        .iter()
        .filter_map(|l| {
            index
                .best_match(l)
                .matched_id()
                .map(|r| (l.id.clone(), r.to_string()))
        })
        .collect();
    let m = score(&pairs, &data.truth);
    assert!(m.precision >= 0.99 && m.recall >= 0.9, "{m:?}");
}
