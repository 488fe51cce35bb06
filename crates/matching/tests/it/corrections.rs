use matching::{MatchOutcome, Method, PeopleIndex, PersonRecord};

use crate::person;

fn ann(id: &str) -> PersonRecord {
    PersonRecord {
        email: Some("ann.lee@acme.com".into()),
        company: Some("Acme".into()),
        ..person(id, "Ann", "Lee")
    }
}

fn crm() -> PeopleIndex {
    let mut index = PeopleIndex::default();
    index.upsert(&ann("c1"));
    index.upsert(&person("c2", "Zoe", "Quinn"));
    index
}

#[test]
fn a_pin_always_wins_and_unpinning_restores_scoring() {
    let mut index = crm();
    let lead = ann("l1");
    assert_eq!(index.best_match(&lead).matched_id(), Some("c1"));
    index.pin("l1", "c2");
    match index.best_match(&lead) {
        MatchOutcome::Matched {
            right_id,
            confidence,
            explanation,
        } => {
            assert_eq!((right_id.as_str(), confidence), ("c2", 1.0));
            assert_eq!(explanation.method, Method::Pinned);
        }
        other => panic!("{other:?}"),
    }
    // Only that left record is pinned.
    assert_eq!(index.best_match(&ann("l2")).matched_id(), Some("c1"));
    index.unpin("l1");
    assert_eq!(index.best_match(&lead).matched_id(), Some("c1"));
}

#[test]
fn a_pin_to_a_deleted_record_waits_for_it() {
    let mut index = crm();
    index.pin("l1", "c2");
    index.remove("c2");
    assert_eq!(index.best_match(&ann("l1")).matched_id(), Some("c1"));
    index.upsert(&person("c2", "Zoe", "Quinn"));
    assert_eq!(index.best_match(&ann("l1")).matched_id(), Some("c2"));
}

#[test]
fn a_rejected_match_never_comes_back_by_itself() {
    let mut index = crm();
    index.reject("l1", "c1");
    assert_eq!(index.best_match(&ann("l1")), MatchOutcome::NoMatch);
    assert!(
        index
            .candidates(&ann("l1"), 5)
            .iter()
            .all(|c| c.right_id != "c1")
    );
    // Not after the CRM record changes, nor after it is deleted and re-created.
    index.upsert(&PersonRecord {
        phone: Some("+44 20 7946 0018".into()),
        ..ann("c1")
    });
    assert_eq!(index.best_match(&ann("l1")), MatchOutcome::NoMatch);
    index.remove("c1");
    index.upsert(&ann("c1"));
    assert_eq!(index.best_match(&ann("l1")), MatchOutcome::NoMatch);
    // Other left records still match it.
    assert_eq!(index.best_match(&ann("l2")).matched_id(), Some("c1"));
}

#[test]
fn the_next_best_can_match_once_the_best_is_rejected() {
    let mut index = crm();
    index.upsert(&ann("c3"));
    assert!(matches!(
        index.best_match(&ann("l1")),
        MatchOutcome::Ambiguous { .. }
    ));
    index.reject("l1", "c3");
    assert_eq!(index.best_match(&ann("l1")).matched_id(), Some("c1"));
}

#[test]
fn pinning_a_rejected_pair_overrides_the_rejection_and_rejecting_a_pin_removes_it() {
    let mut index = crm();
    index.reject("l1", "c1");
    index.pin("l1", "c1");
    assert_eq!(index.best_match(&ann("l1")).matched_id(), Some("c1"));
    index.reject("l1", "c1");
    assert_eq!(index.best_match(&ann("l1")), MatchOutcome::NoMatch);
    index.unreject("l1", "c1");
    assert_eq!(index.best_match(&ann("l1")).matched_id(), Some("c1"));
}

mod generated {
    use matching::MatchOutcome;
    use matching::PeopleIndex;
    use matching::bench_data::{self, BenchConfig};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn data() -> &'static bench_data::Dataset<matching::PersonRecord> {
        static DATA: OnceLock<bench_data::Dataset<matching::PersonRecord>> = OnceLock::new();
        DATA.get_or_init(|| bench_data::people(BenchConfig::new(300, 21)))
    }

    fn index() -> PeopleIndex {
        let mut index = PeopleIndex::default();
        data().right.iter().for_each(|r| index.upsert(r));
        index
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_pin_wins(left in 0usize..300, right in 0usize..300) {
            let mut index = index();
            let (l, r) = (&data().left[left], &data().right[right]);
            index.pin(&l.id, &r.id);
            let outcome = index.best_match(l);
            prop_assert_eq!(outcome.matched_id(), Some(r.id.as_str()));
        }

        #[test]
        fn rejected_matches_stay_rejected(left in 0usize..300) {
            let mut index = index();
            let l = &data().left[left];
            // Reject whatever is proposed until nothing is left to propose.
            for _ in 0..20 {
                let proposed: Vec<String> = match index.best_match(l) {
                    MatchOutcome::Matched { right_id, .. } => vec![right_id],
                    MatchOutcome::Ambiguous { candidates } => candidates.into_iter().map(|c| c.right_id).collect(),
                    MatchOutcome::NoMatch => break,
                };
                for r in &proposed {
                    index.reject(&l.id, r);
                }
                for r in &proposed {
                    prop_assert!(index.candidates(l, 10).iter().all(|c| &c.right_id != r));
                }
            }
        }
    }
}
