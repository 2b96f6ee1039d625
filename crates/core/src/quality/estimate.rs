//! Binary-classification quality without labels: confidence-based performance estimation
//! (CBPE, as NannyML describes it), from the captured probabilities alone.
//!
//! The quality baseline's labelled rows calibrate the scores (isotonic regression by
//! pool-adjacent-violators, kept only when it lowers the expected calibration error, as NannyML
//! does); in a window, each row's calibrated score is its chance of being positive, so summing
//! gives the expected confusion matrix, hence expected accuracy, precision, recall and F1, each
//! with its sampling error (the rows' outcomes are independent Bernoulli draws; the errors of
//! ratios come from the delta method).
//!
//! What it cannot see: a change in P(y|x) with unchanged inputs (concept drift). The estimate
//! assumes the calibration learned on the baseline still holds; only labels show otherwise.

use serde::{Deserialize, Serialize};

/// Bins of the expected calibration error.
const ECE_BINS: usize = 10;
/// The most steps a calibration map keeps (pooled beyond; a map per distinct score would be as
/// long as the baseline).
const MAX_STEPS: usize = 1000;
/// Fewest labelled rows a calibration is learned from; below, scores are taken as they are.
pub const MIN_CALIBRATION_ROWS: usize = 100;

/// A monotone map from score to the chance of the positive class (`calibration.json`, beside a
/// binary quality baseline's Model Monitor files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calibration {
    /// Upper score of each step, increasing (the last is 1).
    pub upper: Vec<f64>,
    /// Calibrated probability of each step, non-decreasing.
    pub probability: Vec<f64>,
    /// Expected calibration error of the raw scores on the baseline rows.
    pub ece_raw: f64,
    /// Expected calibration error after the map (equal to `ece_raw` when the map was not kept).
    pub ece_calibrated: f64,
    /// Whether the map is used (it lowered the error); otherwise scores are taken as they are.
    pub used: bool,
    /// Labelled rows it was learned from.
    pub rows: u64,
}

impl Calibration {
    /// The file's name.
    pub const FILE: &'static str = "calibration.json";

    /// The chance that a row with `score` is positive.
    pub fn apply(&self, score: f64) -> f64 {
        if !self.used {
            return score.clamp(0.0, 1.0);
        }
        let i = self.upper.partition_point(|u| *u < score);
        self.probability.get(i.min(self.probability.len().saturating_sub(1))).copied().unwrap_or(score)
    }

    /// Learns the map from (score, label) rows.
    pub fn learn(rows: &[(f64, bool)]) -> Calibration {
        let mut sorted: Vec<(f64, bool)> = rows.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Pool adjacent violators over blocks of equal scores: (upper score, sum of labels, count).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for (s, y) in &sorted {
            match blocks.last_mut() {
                Some(b) if b.0 == *s => {
                    b.1 += f64::from(u8::from(*y));
                    b.2 += 1.0;
                }
                _ => blocks.push((*s, f64::from(u8::from(*y)), 1.0)),
            }
            while blocks.len() >= 2 {
                let n = blocks.len();
                let (a, b) = (blocks[n - 2], blocks[n - 1]);
                if a.1 / a.2 <= b.1 / b.2 {
                    break;
                }
                blocks[n - 2] = (b.0, a.1 + b.1, a.2 + b.2);
                blocks.pop();
            }
        }
        // Pool consecutive steps (monotone either way) to at most MAX_STEPS.
        while blocks.len() > MAX_STEPS {
            blocks = blocks
                .chunks(2)
                .map(|c| c.iter().fold((0.0, 0.0, 0.0), |acc, b| (b.0, acc.1 + b.1, acc.2 + b.2)))
                .collect();
        }
        let mut map = Calibration {
            upper: blocks.iter().map(|b| b.0).collect(),
            probability: blocks.iter().map(|b| b.1 / b.2).collect(),
            ece_raw: ece(&sorted, |s| s),
            ece_calibrated: 0.0,
            used: true,
            rows: rows.len() as u64,
        };
        if let Some(last) = map.upper.last_mut() {
            *last = last.max(1.0);
        }
        map.ece_calibrated = ece(&sorted, |s| map.apply(s));
        if rows.len() < MIN_CALIBRATION_ROWS || map.ece_calibrated >= map.ece_raw {
            map.used = false;
            map.ece_calibrated = map.ece_raw;
        }
        map
    }
}

/// Expected calibration error: the row-weighted mean gap between predicted and observed
/// positive shares over [`ECE_BINS`] equal-width bins of the predicted chance.
fn ece(rows: &[(f64, bool)], f: impl Fn(f64) -> f64) -> f64 {
    let mut bins = [(0.0f64, 0.0f64, 0.0f64); ECE_BINS];
    for (s, y) in rows {
        let p = f(*s).clamp(0.0, 1.0);
        let b = ((p * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += p;
        bins[b].1 += f64::from(u8::from(*y));
        bins[b].2 += 1.0;
    }
    let n = rows.len().max(1) as f64;
    bins.iter().filter(|b| b.2 > 0.0).map(|b| (b.0 - b.1).abs() / n).sum()
}

/// Estimated metrics of one window: (name, value, sampling error).
pub fn estimate(calibration: &Calibration, rows: &[(f64, bool)]) -> Vec<(&'static str, f64, f64)> {
    // Expected counts and their variances (sums of independent Bernoulli outcomes).
    let (mut tp, mut fp, mut fn_, mut tn) = (0.0, 0.0, 0.0, 0.0);
    let (mut v_pos_pred, mut v_pos_neg, mut v_correct) = (0.0, 0.0, 0.0);
    for (score, predicted) in rows {
        let p = calibration.apply(*score);
        let v = p * (1.0 - p);
        if *predicted {
            tp += p;
            fp += 1.0 - p;
            v_pos_pred += v;
        } else {
            fn_ += p;
            tn += 1.0 - p;
            v_pos_neg += v;
        }
        v_correct += v;
    }
    let n = rows.len() as f64;
    if n == 0.0 {
        return Vec::new();
    }
    let accuracy = (tp + tn) / n;
    let accuracy_se = v_correct.sqrt() / n;
    let predicted_pos = tp + fp;
    let precision = if predicted_pos > 0.0 { tp / predicted_pos } else { 0.0 };
    // Predicted positives are fixed; TP varies.
    let precision_se = if predicted_pos > 0.0 { v_pos_pred.sqrt() / predicted_pos } else { 0.0 };
    let positives = tp + fn_;
    let recall = if positives > 0.0 { tp / positives } else { 0.0 };
    // recall = TP / (TP + FN) with TP and FN independent: delta method.
    let recall_se = if positives > 0.0 {
        ((fn_ / (positives * positives)).powi(2) * v_pos_pred + (tp / (positives * positives)).powi(2) * v_pos_neg)
            .sqrt()
    } else {
        0.0
    };
    // F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted positives + positives): delta method in TP, FN.
    let den = predicted_pos + positives;
    let f1 = if den > 0.0 { 2.0 * tp / den } else { 0.0 };
    let f1_se = if den > 0.0 {
        let d_tp = 2.0 / den - 2.0 * tp / (den * den);
        let d_fn = -2.0 * tp / (den * den);
        ((d_tp * d_tp) * v_pos_pred + (d_fn * d_fn) * v_pos_neg).sqrt()
    } else {
        0.0
    };
    vec![
        ("accuracy", accuracy, accuracy_se),
        ("precision", precision, precision_se),
        ("recall", recall, recall_se),
        ("f1", f1, f1_se),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    fn calibrated_rows(rng: &mut Rng, n: usize, squash: f64) -> Vec<(f64, bool)> {
        // The true chance is `t`; the model reports t^squash (miscalibrated unless squash = 1).
        (0..n)
            .map(|_| {
                let t = rng.uniform();
                (t.powf(squash), rng.uniform() < t)
            })
            .collect()
    }

    #[test]
    fn isotonic_calibration_fixes_a_miscalibrated_model_and_is_kept_only_when_it_helps() {
        let mut rng = Rng::new(3);
        let rows = calibrated_rows(&mut rng, 5000, 2.0);
        let c = Calibration::learn(&rows);
        assert!(c.used && c.ece_calibrated < c.ece_raw / 2.0, "{} -> {}", c.ece_raw, c.ece_calibrated);
        // A score of 0.25 is a true chance of 0.5.
        assert!((c.apply(0.25) - 0.5).abs() < 0.08, "{}", c.apply(0.25));
        assert!(c.probability.windows(2).all(|w| w[0] <= w[1]), "monotone");
        let few = Calibration::learn(&rows[..50]);
        assert!(!few.used);
        assert_eq!(few.apply(0.3), 0.3);
    }

    #[test]
    fn the_estimate_matches_the_labels_when_the_calibration_holds() {
        let mut rng = Rng::new(9);
        let c = Calibration::learn(&calibrated_rows(&mut rng, 5000, 1.0));
        // Windows whose inputs moved toward the boundary: scores near 0.5.
        let mut worst = 0.0f64;
        for _ in 0..20 {
            let rows: Vec<(f64, bool, bool)> = (0..400)
                .map(|_| {
                    let t = 0.3 + 0.4 * rng.uniform();
                    (t, t >= 0.5, rng.uniform() < t)
                })
                .collect();
            let est = estimate(&c, &rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>());
            let real = rows.iter().filter(|r| r.1 == r.2).count() as f64 / rows.len() as f64;
            let (_, acc, se) = est[0];
            worst = worst.max(((acc - real) / se).abs());
        }
        assert!(worst < 4.0, "the estimate is off by {worst} of its errors");
    }
}
