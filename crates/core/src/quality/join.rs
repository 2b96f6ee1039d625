//! A closed window's predictions joined with their labels: the window's model-quality
//! statistics, its violations of the quality baseline's constraints, and an account of every
//! record (labelled, unlabelled, unusable) and label (late).
//!
//! A label is late when it was collected (its file's hour folder) after the window's end plus
//! the ground-truth delay: Model Monitor's job would already have judged the window without
//! it. Late labels still count in the window's files (they are the best answer there is) and
//! are counted as late.

use std::collections::BTreeMap;

use serde::Serialize;

use super::files::{QualityConstraints, QualityStatistics, QualityViolation};
use super::ground_truth::Labels;
use super::metrics::LabelledRows;
use super::rows::{labelled_row, RowSkip};
use super::ProblemType;
use crate::payload::Value;
use crate::pipeline::predictions::{PredictionSkip, Predictions};
use crate::time::{Duration, Timestamp};

/// How labels are judged for one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRules {
    /// The problem type (from the quality baseline).
    pub problem: ProblemType,
    /// A probability at or above it predicts the positive class.
    pub probability_threshold: f64,
    /// How long after a window's end its labels are expected.
    pub delay: Duration,
}

/// Model Monitor's default wait for labels is what teams configure; a day is the common case
/// and the default.
pub const DEFAULT_GROUND_TRUTH_DELAY: Duration = Duration::from_hours(24);

/// The account of one window's join (`model_quality/labels.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinCounts {
    /// Captured records of the window that a label could join (an id and one prediction).
    pub predictions: u64,
    /// Of those, the ones a label was found for and used.
    pub labelled: u64,
    /// The ones no label was found for (yet).
    pub unlabelled: u64,
    /// Labels found but not usable (not a label of the problem type, or an unusable
    /// prediction), by reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unusable: BTreeMap<&'static str, u64>,
    /// Of the labels used, those collected after the window's end plus the delay.
    pub late_labels: u64,
    /// Records that gave no prediction to join, by reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub records_without_prediction: BTreeMap<&'static str, u64>,
    /// `labelled / predictions` (0 when there are none).
    pub labelled_share: f64,
}

/// A window's model quality.
#[derive(Debug, Clone)]
pub struct WindowQuality {
    /// What the join found.
    pub counts: JoinCounts,
    /// The metrics of the labelled rows (none without a labelled row).
    pub statistics: Option<QualityStatistics>,
    /// Their violations of the baseline's constraints, by Model Monitor's rule.
    pub violations: Vec<QualityViolation>,
    /// The labelled rows (for the sampling errors of the decision).
    pub rows: LabelledRows,
    /// Judged without labels (the metrics are estimates).
    pub estimated: bool,
}

impl WindowQuality {
    /// The account of a window judged without labels (an estimate): its predictions only.
    pub fn unlabelled(predictions: &Predictions) -> Self {
        let mut counts = JoinCounts { predictions: predictions.rows.len() as u64, ..Default::default() };
        counts.unlabelled = counts.predictions;
        for (reason, n) in &predictions.skipped {
            *counts.records_without_prediction.entry(PredictionSkip::as_str(*reason)).or_default() += n;
        }
        WindowQuality {
            counts,
            statistics: None,
            violations: Vec::new(),
            rows: LabelledRows::Binary(Vec::new()),
            estimated: true,
        }
    }
}

/// Joins a window's predictions with `labels` (each label used once: joined labels leave
/// `labels`), computes the window's statistics and checks them against `constraints`.
pub fn join_window(
    predictions: &Predictions,
    labels: &mut Labels,
    rules: &JoinRules,
    window_end: Timestamp,
    constraints: &QualityConstraints,
) -> WindowQuality {
    let mut counts = JoinCounts { predictions: predictions.rows.len() as u64, ..Default::default() };
    for (reason, n) in &predictions.skipped {
        *counts.records_without_prediction.entry(PredictionSkip::as_str(*reason)).or_default() += n;
    }
    let mut rows = LabelledRows::empty(rules.problem);
    let judged_at = window_end + rules.delay;
    for p in &predictions.rows {
        let Some(held) = labels.take(&p.key) else {
            counts.unlabelled += 1;
            continue;
        };
        let label = Value::from_text(&held.label);
        let inference = p.inference.as_deref().map(Value::from_text);
        let probability = p.probability.as_deref().map(Value::from_text);
        match labelled_row(
            rules.problem,
            rules.probability_threshold,
            Some(&label),
            inference.as_ref(),
            probability.as_ref(),
        ) {
            Ok(row) => {
                rows.push(row);
                counts.labelled += 1;
                if held.collected.is_some_and(|c| c >= judged_at) {
                    counts.late_labels += 1;
                }
            }
            Err((reason, _)) => *counts.unusable.entry(RowSkip::as_str(reason)).or_default() += 1,
        }
    }
    counts.labelled_share =
        if counts.predictions == 0 { 0.0 } else { counts.labelled as f64 / counts.predictions as f64 };
    let statistics = (!rows.is_empty()).then(|| super::statistics(rules.problem, &rows));
    let violations = statistics.as_ref().map(|s| constraints.check(s)).unwrap_or_default();
    WindowQuality { counts, statistics, violations, rows, estimated: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::predictions::Prediction;
    use crate::quality::ground_truth::GroundTruth;
    use crate::quality::metrics::BinaryRow;

    #[test]
    fn a_window_joins_what_it_can_and_counts_the_rest() {
        let base = LabelledRows::Binary(
            (0..10)
                .map(|i| BinaryRow { label: i % 2 == 0, predicted: i % 2 == 0, score: f64::from(i % 2 == 0) })
                .collect(),
        );
        let constraints =
            QualityConstraints::suggest(&crate::quality::statistics(ProblemType::BinaryClassification, &base));
        let t0 = Timestamp::parse_rfc3339("2026-03-01T10:00:00Z").unwrap();
        let mut labels = Labels::new();
        for (key, label, hour) in [("a", "1", 11), ("b", "0", 12), ("c", "1", 40), ("d", "maybe", 11), ("z", "1", 11)] {
            labels.insert(GroundTruth { key: key.into(), label: label.into() }, Some(t0 + Duration::from_hours(hour)));
        }
        let mut preds = Predictions::default();
        for (key, p) in [("a", "0.9"), ("b", "0.8"), ("c", "0.2"), ("d", "0.5"), ("e", "0.4")] {
            preds.rows.push(Prediction { key: key.into(), inference: None, probability: Some(p.into()) });
        }
        preds.skipped.insert(PredictionSkip::NoId, 2);
        let rules = JoinRules {
            problem: ProblemType::BinaryClassification,
            probability_threshold: 0.5,
            delay: DEFAULT_GROUND_TRUTH_DELAY,
        };
        let q = join_window(&preds, &mut labels, &rules, t0 + Duration::from_hours(1), &constraints);
        let c = &q.counts;
        assert_eq!((c.predictions, c.labelled, c.unlabelled, c.late_labels), (5, 3, 1, 1));
        assert_eq!(c.unusable.get("invalid_label"), Some(&1));
        assert_eq!(c.records_without_prediction.get("no_id"), Some(&2));
        assert!((c.labelled_share - 0.6).abs() < 1e-12);
        let s = q.statistics.unwrap();
        // a: 1 vs 0.9 (TP), b: 0 vs 0.8 (FP), c: 1 vs 0.2 (FN).
        assert_eq!(s.scalar("precision").unwrap().0, 0.5);
        assert_eq!(s.scalar("recall").unwrap().0, 0.5);
        assert!(q.violations.iter().any(|v| v.metric_name == "accuracy"));
        // Joined labels are used once; the unmatched one stays.
        assert_eq!((labels.len(), labels.get("z")), (1, Some("1")));
    }
}
