use matching::bench_data::{self, BenchConfig, Rng};
use matching::{MatchOutcome, PeopleIndex};
use proptest::prelude::*;

fn outcomes(order_seed: u64) -> Vec<MatchOutcome> {
    let data = bench_data::people(BenchConfig::new(400, 3));
    let mut right = data.right.clone();
    let mut rng = Rng::new(order_seed);
    for i in (1..right.len()).rev() {
        right.swap(i, rng.below(i + 1));
    }
    let mut index = PeopleIndex::default();
    for r in &right {
        index.upsert(r);
    }
    data.left.iter().map(|l| index.best_match(l)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]
    #[test]
    fn insertion_order_does_not_change_any_decision(seed in any::<u64>()) {
        prop_assert_eq!(outcomes(seed), outcomes(0));
    }
}

#[test]
fn removing_and_re_adding_records_restores_every_decision() {
    let data = bench_data::people(BenchConfig::new(400, 5));
    let mut index = PeopleIndex::default();
    for r in &data.right {
        index.upsert(r);
    }
    let before: Vec<MatchOutcome> = data.left.iter().map(|l| index.best_match(l)).collect();
    for r in data.right.iter().step_by(3) {
        index.remove(&r.id);
    }
    for r in data.right.iter().step_by(3) {
        index.upsert(r);
    }
    let after: Vec<MatchOutcome> = data.left.iter().map(|l| index.best_match(l)).collect();
    assert_eq!(before, after);
}
