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
