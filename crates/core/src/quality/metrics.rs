//! Model-quality metrics over labelled rows, as Model Monitor's model-quality job computes them.
//!
//! Definitions (each checked by hand in the tests):
//! - Regression: `mae`, `mse`, `rmse` as usual. `r2` as Model Monitor writes it, which is
//!   scikit-learn's `r2_score(prediction, label)`: the arguments are swapped, so the total sum
//!   of squares is taken around the *predictions'* mean. The fixture in the SDK's tests
//!   (`quality_check_step/model_quality`) shows it: its -3.2088 is this formula, while
//!   `r2_score(label, prediction)` on the same rows is -0.3351. We follow the file users'
//!   thresholds were made with.
//! - Binary: the confusion matrix keyed `actual -> predicted` (`"0"`/`"1"`), precision, recall
//!   and F-beta with scikit-learn's `zero_division=0`; ROC and precision-recall curves as
//!   Spark's `BinaryClassificationMetrics` builds them (one point per distinct score,
//!   descending, ROC from (0,0) to (1,1), PR starting at recall 0 with the first precision);
//!   `auc` the trapezoidal area under that ROC (equal to scikit-learn's `roc_auc_score`).
//!   The best constant classifier predicts the positive class for every row (the metrics in
//!   Model Monitor's documented example are exactly that).
//! - Multiclass: `weighted_*` averages per-class scores weighted by the class's share of the
//!   labels (scikit-learn's `average="weighted"`); the best constant classifier predicts the
//!   least frequent label (what Model Monitor's documented example shows; with two classes it
//!   cannot tell that from "the largest label").

use std::collections::BTreeMap;

/// One labelled binary row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryRow {
    /// The ground truth.
    pub label: bool,
    /// The predicted label.
    pub predicted: bool,
    /// The score the curves are ranked by: the probability when there is one, else the
    /// predicted label as 0 or 1.
    pub score: f64,
}

/// Labelled rows of one problem type.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelledRows {
    /// (label, prediction) pairs.
    Regression(Vec<(f64, f64)>),
    /// Binary rows.
    Binary(Vec<BinaryRow>),
    /// (label, predicted label) pairs.
    Multiclass(Vec<(String, String)>),
}

impl LabelledRows {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            LabelledRows::Regression(r) => r.len(),
            LabelledRows::Binary(r) => r.len(),
            LabelledRows::Multiclass(r) => r.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> LabelledRows {
        match self {
            LabelledRows::Regression(r) => LabelledRows::Regression(idx.iter().map(|&i| r[i]).collect()),
            LabelledRows::Binary(r) => LabelledRows::Binary(idx.iter().map(|&i| r[i]).collect()),
            LabelledRows::Multiclass(r) => LabelledRows::Multiclass(idx.iter().map(|&i| r[i].clone()).collect()),
        }
    }
}

/// A ROC curve: false and true positive rates, point by point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RocCurve {
    /// False positive rates.
    pub false_positive_rates: Vec<f64>,
    /// True positive rates.
    pub true_positive_rates: Vec<f64>,
}

/// A precision-recall curve, point by point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrCurve {
    /// Precisions.
    pub precisions: Vec<f64>,
    /// Recalls.
    pub recalls: Vec<f64>,
}

/// What one computation gives: scalar metrics in Model Monitor's order, and for
/// classification the confusion matrix (and for binary the curves).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Computed {
    /// Scalar metrics by Model Monitor's name, in the order its files list them.
    pub scalars: Vec<(&'static str, f64)>,
    /// Confusion matrix: actual label -> predicted label -> count.
    pub confusion: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Binary only: the ROC curve.
    pub roc: Option<RocCurve>,
    /// Binary only: the precision-recall curve.
    pub pr: Option<PrCurve>,
}

impl Computed {
    /// The scalar named `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.scalars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// The most points a curve keeps in a file: consecutive points are pooled beyond it, as
/// Spark's `numBins` does (a baseline of a million distinct scores would otherwise write a
/// million-point curve into every file). The area is computed on the full curve.
pub const CURVE_MAX_POINTS: usize = 1000;

/// Computes every metric of the rows' problem type. Empty input gives NaN scalars.
pub fn compute(rows: &LabelledRows) -> Computed {
    match rows {
        LabelledRows::Regression(r) => regression(r),
        LabelledRows::Binary(r) => binary(r, true),
        LabelledRows::Multiclass(r) => multiclass(r),
    }
}

/// Computes the scalar metrics only (the curves are skipped; used for the resampled standard
/// deviations).
pub fn compute_scalars(rows: &LabelledRows) -> Vec<(&'static str, f64)> {
    match rows {
        LabelledRows::Regression(r) => regression(r).scalars,
        LabelledRows::Binary(r) => binary(r, false).scalars,
        LabelledRows::Multiclass(r) => multiclass(r).scalars,
    }
}

fn ratio(num: f64, den: f64) -> f64 {
    // scikit-learn's zero_division=0 (and Spark's MulticlassMetrics) for an empty denominator.
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// F-beta from precision and recall; 0 when both are 0.
pub fn f_beta(precision: f64, recall: f64, beta: f64) -> f64 {
    let b2 = beta * beta;
    ratio((1.0 + b2) * precision * recall, b2 * precision + recall)
}

fn regression(rows: &[(f64, f64)]) -> Computed {
    let n = rows.len() as f64;
    let (mut abs, mut sq, mut sum_pred) = (0.0, 0.0, 0.0);
    for &(y, p) in rows {
        abs += (y - p).abs();
        sq += (y - p) * (y - p);
        sum_pred += p;
    }
    let mae = abs / n;
    let mse = sq / n;
    let mean_pred = sum_pred / n;
    let ss_pred: f64 = rows.iter().map(|&(_, p)| (p - mean_pred) * (p - mean_pred)).sum();
    // r2_score(prediction, label), scikit-learn's force_finite rule when the predictions are
    // constant: 1 for a perfect fit, else 0.
    let r2 = if rows.is_empty() {
        f64::NAN
    } else if ss_pred == 0.0 {
        if sq == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - sq / ss_pred
    };
    Computed { scalars: vec![("mae", mae), ("mse", mse), ("rmse", mse.sqrt()), ("r2", r2)], ..Default::default() }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    tp: f64,
    fp: f64,
    tn: f64,
    fn_: f64,
}

impl Counts {
    fn of(rows: &[BinaryRow]) -> Counts {
        let mut c = Counts::default();
        for r in rows {
            match (r.label, r.predicted) {
                (true, true) => c.tp += 1.0,
                (false, true) => c.fp += 1.0,
                (false, false) => c.tn += 1.0,
                (true, false) => c.fn_ += 1.0,
            }
        }
        c
    }
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn accuracy(&self) -> f64 {
        let n = self.tp + self.fp + self.tn + self.fn_;
        if n == 0.0 {
            f64::NAN
        } else {
            (self.tp + self.tn) / n
        }
    }
}

fn binary(rows: &[BinaryRow], curves: bool) -> Computed {
    let c = Counts::of(rows);
    let positives = c.tp + c.fn_;
    let negatives = c.tn + c.fp;
    // Every row predicted positive.
    let constant = Counts { tp: positives, fp: negatives, tn: 0.0, fn_: 0.0 };
    let (precision, recall) = (c.precision(), c.recall());
    let (cp, cr) = (constant.precision(), constant.recall());
    let (roc, pr, auc) = roc_pr(rows);
    let scalars = vec![
        ("recall", recall),
        ("precision", precision),
        ("accuracy", c.accuracy()),
        ("recall_best_constant_classifier", cr),
        ("precision_best_constant_classifier", cp),
        ("accuracy_best_constant_classifier", constant.accuracy()),
        ("true_positive_rate", recall),
        ("true_negative_rate", ratio(c.tn, negatives)),
        ("false_positive_rate", ratio(c.fp, negatives)),
        ("false_negative_rate", ratio(c.fn_, positives)),
        ("auc", auc),
        ("f0_5", f_beta(precision, recall, 0.5)),
        ("f1", f_beta(precision, recall, 1.0)),
        ("f2", f_beta(precision, recall, 2.0)),
        ("f0_5_best_constant_classifier", f_beta(cp, cr, 0.5)),
        ("f1_best_constant_classifier", f_beta(cp, cr, 1.0)),
        ("f2_best_constant_classifier", f_beta(cp, cr, 2.0)),
    ];
    let mut confusion = BTreeMap::new();
    for (actual, pred, n) in [("0", "0", c.tn), ("0", "1", c.fp), ("1", "0", c.fn_), ("1", "1", c.tp)] {
        confusion.entry(actual.to_owned()).or_insert_with(BTreeMap::new).insert(pred.to_owned(), n as u64);
    }
    if !curves {
        return Computed { scalars, ..Default::default() };
    }
    Computed { scalars, confusion: Some(confusion), roc: Some(pool_roc(roc)), pr: Some(pool_pr(pr)) }
}

/// The ROC and PR curves (one point per distinct score, descending) and the ROC's area.
fn roc_pr(rows: &[BinaryRow]) -> (RocCurve, PrCurve, f64) {
    let mut scored: Vec<(f64, bool)> = rows.iter().map(|r| (r.score, r.label)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = scored.iter().filter(|s| s.1).count() as f64;
    let negatives = scored.len() as f64 - positives;
    let mut roc = RocCurve { false_positive_rates: vec![0.0], true_positive_rates: vec![0.0] };
    let mut pr = PrCurve::default();
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < scored.len() {
        let s = scored[i].0;
        while i < scored.len() && scored[i].0.total_cmp(&s).is_eq() {
            if scored[i].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        roc.false_positive_rates.push(ratio(fp, negatives));
        roc.true_positive_rates.push(ratio(tp, positives));
        // Spark: precision 1 where nothing is predicted positive yet (not reached here).
        pr.precisions.push(if tp + fp == 0.0 { 1.0 } else { tp / (tp + fp) });
        pr.recalls.push(ratio(tp, positives));
    }
    roc.false_positive_rates.push(1.0);
    roc.true_positive_rates.push(1.0);
    // Spark's PR curve starts at recall 0 with the first point's precision.
    let first = pr.precisions.first().copied().unwrap_or(1.0);
    pr.precisions.insert(0, first);
    pr.recalls.insert(0, 0.0);
    let auc = if positives == 0.0 || negatives == 0.0 {
        f64::NAN
    } else {
        let (x, y) = (&roc.false_positive_rates, &roc.true_positive_rates);
        (1..x.len()).map(|k| (x[k] - x[k - 1]) * (y[k] + y[k - 1]) / 2.0).sum()
    };
    (roc, pr, auc)
}

/// Keeps at most [`CURVE_MAX_POINTS`] points, the first and the last always.
fn keep_points(len: usize) -> Vec<usize> {
    if len <= CURVE_MAX_POINTS {
        return (0..len).collect();
    }
    let step = (len - 1) as f64 / (CURVE_MAX_POINTS - 1) as f64;
    let mut idx: Vec<usize> = (0..CURVE_MAX_POINTS).map(|k| ((k as f64) * step).round() as usize).collect();
    idx.dedup();
    idx
}

fn pool_roc(c: RocCurve) -> RocCurve {
    let keep = keep_points(c.false_positive_rates.len());
    RocCurve {
        false_positive_rates: keep.iter().map(|&i| c.false_positive_rates[i]).collect(),
        true_positive_rates: keep.iter().map(|&i| c.true_positive_rates[i]).collect(),
    }
}

fn pool_pr(c: PrCurve) -> PrCurve {
    let keep = keep_points(c.precisions.len());
    PrCurve {
        precisions: keep.iter().map(|&i| c.precisions[i]).collect(),
        recalls: keep.iter().map(|&i| c.recalls[i]).collect(),
    }
}

fn multiclass(rows: &[(String, String)]) -> Computed {
    let mut confusion: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut labels: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new(); // (support, predicted, correct)
    for (y, p) in rows {
        *confusion.entry(y.clone()).or_default().entry(p.clone()).or_default() += 1;
        labels.entry(y).or_default().0 += 1;
        labels.entry(p).or_default().1 += 1;
        if y == p {
            labels.entry(y).or_default().2 += 1;
        }
    }
    let n = rows.len() as f64;
    let weighted = |counts: &BTreeMap<&str, (u64, u64, u64)>| {
        let (mut r, mut p, mut f05, mut f1, mut f2) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(support, predicted, correct) in counts.values() {
            let w = support as f64 / n;
            let rec = ratio(correct as f64, support as f64);
            let prec = ratio(correct as f64, predicted as f64);
            r += w * rec;
            p += w * prec;
            f05 += w * f_beta(prec, rec, 0.5);
            f1 += w * f_beta(prec, rec, 1.0);
            f2 += w * f_beta(prec, rec, 2.0);
        }
        [r, p, f05, f1, f2]
    };
    let accuracy = if rows.is_empty() { f64::NAN } else { labels.values().map(|c| c.2).sum::<u64>() as f64 / n };
    let [wr, wp, wf05, wf1, wf2] = weighted(&labels);
    // The least frequent label (the first by name among equals) predicted for every row.
    let constant = labels.iter().filter(|(_, c)| c.0 > 0).min_by_key(|(_, c)| c.0).map(|(l, _)| *l);
    let const_counts: BTreeMap<&str, (u64, u64, u64)> = labels
        .iter()
        .map(|(l, c)| {
            let is = Some(*l) == constant;
            (*l, (c.0, if is { rows.len() as u64 } else { 0 }, if is { c.0 } else { 0 }))
        })
        .collect();
    let [cr, cp, cf05, cf1, cf2] = weighted(&const_counts);
    let c_acc = constant.map(|l| labels[l].0 as f64 / n).unwrap_or(f64::NAN);
    Computed {
        scalars: vec![
            ("accuracy", accuracy),
            ("weighted_recall", wr),
            ("weighted_precision", wp),
            ("weighted_f0_5", wf05),
            ("weighted_f1", wf1),
            ("weighted_f2", wf2),
            ("accuracy_best_constant_classifier", c_acc),
            ("weighted_recall_best_constant_classifier", cr),
            ("weighted_precision_best_constant_classifier", cp),
            ("weighted_f0_5_best_constant_classifier", cf05),
            ("weighted_f1_best_constant_classifier", cf1),
            ("weighted_f2_best_constant_classifier", cf2),
        ],
        confusion: Some(confusion),
        roc: None,
        pr: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn brow(label: u8, predicted: u8, score: f64) -> BinaryRow {
        BinaryRow { label: label == 1, predicted: predicted == 1, score }
    }

    #[test]
    fn regression_by_hand() {
        // y = [1, 2, 3, 4], p = [1.5, 2, 2, 5]: errors .5, 0, 1, 1.
        let rows = LabelledRows::Regression(vec![(1.0, 1.5), (2.0, 2.0), (3.0, 2.0), (4.0, 5.0)]);
        let c = compute(&rows);
        assert!(close(c.get("mae").unwrap(), 2.5 / 4.0));
        assert!(close(c.get("mse").unwrap(), 2.25 / 4.0));
        assert!(close(c.get("rmse").unwrap(), (2.25f64 / 4.0).sqrt()));
        // Predictions' mean 2.625; squares 1.265625 + .390625 + .390625 + 5.640625 = 7.6875.
        assert!(close(c.get("r2").unwrap(), 1.0 - 2.25 / 7.6875));
    }

    #[test]
    fn binary_matches_model_monitors_documented_confusion() {
        // The documented example's matrix: actual 0 -> {0: 1, 1: 2}, actual 1 -> {0: 0, 1: 1}.
        let rows = LabelledRows::Binary(vec![brow(0, 0, 0.2), brow(0, 1, 0.7), brow(0, 1, 0.6), brow(1, 1, 0.9)]);
        let c = compute(&rows);
        let want = [
            ("recall", 1.0),
            ("precision", 1.0 / 3.0),
            ("accuracy", 0.5),
            ("recall_best_constant_classifier", 1.0),
            ("precision_best_constant_classifier", 0.25),
            ("accuracy_best_constant_classifier", 0.25),
            ("true_positive_rate", 1.0),
            ("true_negative_rate", 1.0 / 3.0),
            ("false_positive_rate", 2.0 / 3.0),
            ("false_negative_rate", 0.0),
            ("f0_5", 0.3846153846153846),
            ("f1", 0.5),
            ("f2", 0.7142857142857143),
            ("f0_5_best_constant_classifier", 0.29411764705882354),
            ("f1_best_constant_classifier", 0.4),
            ("f2_best_constant_classifier", 0.625),
        ];
        for (name, v) in want {
            assert!(close(c.get(name).unwrap(), v), "{name}: {} vs {v}", c.get(name).unwrap());
        }
        let m = c.confusion.clone().unwrap();
        assert_eq!((m["0"]["0"], m["0"]["1"], m["1"]["0"], m["1"]["1"]), (1, 2, 0, 1));
        // Scores .9 (pos), .7, .6, .2 (neg): the positive ranks first, AUC 1.
        assert!(close(c.get("auc").unwrap(), 1.0));
        let roc = c.roc.unwrap();
        assert_eq!(roc.false_positive_rates, vec![0.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0, 1.0]);
        assert_eq!(roc.true_positive_rates, vec![0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        let pr = c.pr.unwrap();
        assert_eq!(pr.recalls, vec![0.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(pr.precisions, vec![1.0, 1.0, 0.5, 1.0 / 3.0, 0.25]);
    }

    #[test]
    fn auc_counts_ties_as_half() {
        // Positives .8 and .5, negatives .5 and .2: pairs (.8>.5) (.8>.2) (.5=.5: half) (.5>.2),
        // so AUC = 3.5 / 4 (scikit-learn's roc_auc_score gives the same).
        let rows = LabelledRows::Binary(vec![brow(1, 1, 0.8), brow(1, 1, 0.5), brow(0, 1, 0.5), brow(0, 0, 0.2)]);
        assert!(close(compute(&rows).get("auc").unwrap(), 3.5 / 4.0));
    }

    #[test]
    fn multiclass_matches_model_monitors_documented_example() {
        // The documented matrix: actual 0 -> {0: 1180, 1: 510}, actual 1 -> {0: 268, 1: 138}.
        let mut rows = Vec::new();
        for (y, p, n) in [("0", "0", 1180), ("0", "1", 510), ("1", "0", 268), ("1", "1", 138)] {
            rows.extend(std::iter::repeat_n((y.to_owned(), p.to_owned()), n));
        }
        let c = compute(&LabelledRows::Multiclass(rows));
        let want = [
            ("accuracy", 0.6288167938931297),
            ("weighted_recall", 0.6288167938931297),
            ("weighted_precision", 0.6983172269629505),
            ("weighted_f0_5", 0.6803947317178771),
            ("weighted_f1", 0.6571162346664904),
            ("weighted_f2", 0.6384024354394601),
            ("accuracy_best_constant_classifier", 0.19370229007633588),
            ("weighted_recall_best_constant_classifier", 0.19370229007633588),
            ("weighted_precision_best_constant_classifier", 0.03752057718081697),
            ("weighted_f0_5_best_constant_classifier", 0.04473443104152011),
            ("weighted_f1_best_constant_classifier", 0.06286421244683643),
            ("weighted_f2_best_constant_classifier", 0.10570313141262414),
        ];
        for (name, v) in want {
            let got = c.get(name).unwrap();
            assert!((got - v).abs() < 1e-9, "{name}: {got} vs {v}");
        }
    }

    #[test]
    fn multiclass_three_labels_by_hand() {
        // a: support 2, predicted 2, correct 1; b: support 1, predicted 2, correct 1;
        // c: support 2, predicted 1, correct 1.
        let rows: Vec<(String, String)> = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "c"), ("c", "a")]
            .iter()
            .map(|(y, p)| (y.to_string(), p.to_string()))
            .collect();
        let c = compute(&LabelledRows::Multiclass(rows));
        assert!(close(c.get("accuracy").unwrap(), 0.6));
        let wp = 0.4 * 0.5 + 0.2 * 0.5 + 0.4 * 1.0;
        assert!(close(c.get("weighted_precision").unwrap(), wp));
        let wf1 = 0.4 * f_beta(0.5, 0.5, 1.0) + 0.2 * f_beta(0.5, 1.0, 1.0) + 0.4 * f_beta(1.0, 0.5, 1.0);
        assert!(close(c.get("weighted_f1").unwrap(), wf1));
        // Least frequent label: b (support 1).
        assert!(close(c.get("accuracy_best_constant_classifier").unwrap(), 0.2));
    }

    #[test]
    fn long_curves_are_pooled_and_keep_their_ends() {
        let rows: Vec<BinaryRow> = (0..5000).map(|i| brow((i % 3 == 0) as u8, 1, f64::from(i) / 5000.0)).collect();
        let c = compute(&LabelledRows::Binary(rows));
        let roc = c.roc.unwrap();
        assert!(roc.false_positive_rates.len() <= CURVE_MAX_POINTS);
        assert_eq!((roc.false_positive_rates[0], *roc.false_positive_rates.last().unwrap()), (0.0, 1.0));
        assert!(c.pr.unwrap().recalls.len() <= CURVE_MAX_POINTS);
    }
}
