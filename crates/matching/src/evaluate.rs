//! Scoring a matcher against labelled truth: precision, recall and F1 over (left, right) pairs.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

/// Counts and rates for one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Compares predicted pairs with the truth. A predicted pair is a true positive when the truth
/// has exactly that pair; a truth pair with no correct prediction is a false negative.
pub fn evaluate<'a>(
    predicted: impl IntoIterator<Item = (&'a str, &'a str)>,
    truth: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Metrics {
    let truth: HashMap<&str, &str> = truth.into_iter().collect();
    let mut tp = 0u64;
    let mut fp = 0u64;
    let mut found: HashSet<&str> = HashSet::new();
    for (l, r) in predicted {
        if truth.get(l) == Some(&r) && found.insert(l) {
            tp += 1;
        } else {
            fp += 1;
        }
    }
    let fneg = truth.len() as u64 - tp;
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fneg);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Metrics {
        true_positives: tp,
        false_positives: fp,
        false_negatives: fneg,
        precision,
        recall,
        f1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_kind_of_error() {
        let truth = [("a", "1"), ("b", "2"), ("c", "3")];
        let predicted = [("a", "1"), ("b", "9"), ("d", "4")];
        let m = evaluate(predicted, truth);
        assert_eq!(
            (m.true_positives, m.false_positives, m.false_negatives),
            (1, 2, 2)
        );
        assert!((m.precision - 1.0 / 3.0).abs() < 1e-9 && (m.recall - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn perfect_and_empty() {
        let m = evaluate([("a", "1")], [("a", "1")]);
        assert_eq!((m.precision, m.recall, m.f1), (1.0, 1.0, 1.0));
        let m = evaluate([], [("a", "1")]);
        assert_eq!((m.precision, m.recall, m.f1), (1.0, 0.0, 0.0));
    }
}
