//! Model quality: metrics against ground truth, in Model Monitor's model-quality files.
//!
//! - [`metrics`]: the metrics of each problem type from labelled rows (definitions there).
//! - [`rows`]: labelled rows picked from a table by the job's attributes, bad rows counted.
//! - [`ground_truth`]: Model Monitor's ground-truth records and the labels they give, by join key.
//! - [`ledger`]: a stream's closed windows' predictions (kept by the window engine,
//!   [`crate::pipeline::predictions`]) joined with their labels over data time: when each
//!   window is judged, late labels, what is let go; [`join`] holds its rules and results.
//! - [`decide`]: model-quality episodes, sudden or gradual, beyond sampling noise.
//! - [`estimate`]: binary quality without labels (calibrated confidence, as NannyML's CBPE).
//! - [`files`]: `statistics.json`, `constraints.json` and `constraint_violations.json` in the
//!   model-quality schemas, read and written.
//!
//! [`baseline_files`] is what `driftwatch baseline --problem-type ...` writes: every metric
//! with its standard deviation (five random 80% draws, only from [`MIN_ROWS_FOR_DEVIATION`]
//! rows, as Model Monitor does) and the constraints Model Monitor suggests.

pub mod decide;
pub mod estimate;
pub mod files;
pub mod ground_truth;
pub mod join;
pub mod ledger;
pub mod metrics;
pub mod rows;

pub use files::{Operator, QualityConstraints, QualityStatistics, QualityViolation};
pub use metrics::LabelledRows;

/// The problem types of Model Monitor's model-quality job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ProblemType {
    /// Two classes, 0 and 1.
    BinaryClassification,
    /// Any number of classes.
    MulticlassClassification,
    /// A number.
    Regression,
}

impl ProblemType {
    /// The name Model Monitor uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemType::BinaryClassification => "BinaryClassification",
            ProblemType::MulticlassClassification => "MulticlassClassification",
            ProblemType::Regression => "Regression",
        }
    }

    /// The section of `statistics.json` holding this type's metrics.
    pub fn metrics_section(self) -> &'static str {
        match self {
            ProblemType::BinaryClassification => "binary_classification_metrics",
            ProblemType::MulticlassClassification => "multiclass_classification_metrics",
            ProblemType::Regression => "regression_metrics",
        }
    }

    /// The section of `constraints.json` holding this type's constraints.
    pub fn constraints_section(self) -> &'static str {
        match self {
            ProblemType::BinaryClassification => "binary_classification_constraints",
            ProblemType::MulticlassClassification => "multiclass_classification_constraints",
            ProblemType::Regression => "regression_constraints",
        }
    }

    /// The metrics Model Monitor's suggested constraints hold, with the operator a violation
    /// is judged by (an error metric violates when it grows, a score when it falls).
    pub fn suggested_constraints(self) -> &'static [(&'static str, Operator)] {
        use Operator::{GreaterThanThreshold as G, LessThanThreshold as L};
        match self {
            ProblemType::Regression => &[("mae", G), ("mse", G), ("rmse", G), ("r2", L)],
            ProblemType::BinaryClassification => &[
                ("recall", L),
                ("precision", L),
                ("accuracy", L),
                ("true_positive_rate", L),
                ("true_negative_rate", L),
                ("false_positive_rate", G),
                ("false_negative_rate", G),
                ("auc", L),
                ("f0_5", L),
                ("f1", L),
                ("f2", L),
            ],
            ProblemType::MulticlassClassification => &[
                ("accuracy", L),
                ("weighted_recall", L),
                ("weighted_precision", L),
                ("weighted_f0_5", L),
                ("weighted_f1", L),
                ("weighted_f2", L),
            ],
        }
    }
}

impl std::str::FromStr for ProblemType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "BinaryClassification" => Ok(ProblemType::BinaryClassification),
            "MulticlassClassification" => Ok(ProblemType::MulticlassClassification),
            "Regression" => Ok(ProblemType::Regression),
            other => Err(format!(
                "{other:?} is not a problem type: BinaryClassification, MulticlassClassification or Regression"
            )),
        }
    }
}

/// Which columns hold what, as a model-quality job definition names them.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributes {
    /// The ground truth.
    pub ground_truth: String,
    /// The predicted label (regression: the predicted value).
    pub inference: Option<String>,
    /// The predicted probability of the positive class (binary only).
    pub probability: Option<String>,
    /// A probability at or above it predicts the positive class (when there is no inference
    /// column).
    pub probability_threshold: f64,
}

/// Model Monitor's default probability threshold.
pub const DEFAULT_PROBABILITY_THRESHOLD: f64 = 0.5;

impl Attributes {
    /// Checks that the attributes suit `problem`: regression and multiclass need the inference
    /// attribute; binary needs an inference or a probability attribute; the threshold is in
    /// [0, 1].
    pub fn validate(&self, problem: ProblemType) -> Result<(), QualityError> {
        check_prediction_attributes(
            problem,
            self.inference.is_some(),
            self.probability.is_some(),
            self.probability_threshold,
        )
    }
}

/// The rule of [`Attributes::validate`] for where predictions are (a baseline's columns, or a
/// captured response's attributes): regression and multiclass need an inference attribute;
/// binary an inference or a probability attribute; the threshold is in [0, 1].
pub fn check_prediction_attributes(
    problem: ProblemType,
    inference: bool,
    probability: bool,
    threshold: f64,
) -> Result<(), QualityError> {
    let bad = |detail: &str| Err(QualityError::Attributes { detail: detail.to_owned() });
    if !(0.0..=1.0).contains(&threshold) {
        return bad("--probability-threshold-attribute must be between 0 and 1");
    }
    match problem {
        ProblemType::Regression | ProblemType::MulticlassClassification if !inference => bad(&format!(
            "--problem-type {} needs --inference-attribute (the predicted value or label)",
            problem.as_str()
        )),
        ProblemType::BinaryClassification if !inference && !probability => {
            bad("--problem-type BinaryClassification needs --inference-attribute or --probability-attribute")
        }
        _ => Ok(()),
    }
}

/// Why model-quality files could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// The input could not be read.
    #[error(transparent)]
    Build(#[from] crate::baseline::build::BuildError),
    /// A named attribute is not a column of the input.
    #[error("{path}: {flag} {name:?} is not a column (columns: {})", columns.join(", "))]
    MissingColumn {
        /// The input.
        path: String,
        /// The flag that named it.
        flag: &'static str,
        /// The name.
        name: String,
        /// The columns there are.
        columns: Vec<String>,
    },
    /// No row had a usable label and prediction.
    #[error("{path}: no row has a usable label and prediction{}", first_skips(skipped))]
    NoRows {
        /// The input.
        path: String,
        /// The first rows left out.
        skipped: Vec<rows::SkippedRow>,
    },
    /// The attributes do not suit the problem type.
    #[error("{detail}")]
    Attributes {
        /// What is wrong.
        detail: String,
    },
    /// A model-quality file is malformed.
    #[error("{path}: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

fn first_skips(skipped: &[rows::SkippedRow]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let list: Vec<String> =
        skipped.iter().take(3).map(|s| format!("line {}: {}: {}", s.line, s.column, s.reason.as_str())).collect();
    format!(" ({})", list.join("; "))
}

/// Rows needed before a standard deviation is given (Model Monitor's rule; below it the file
/// says `"NaN"`).
pub const MIN_ROWS_FOR_DEVIATION: usize = 200;
/// Resampled draws behind a standard deviation (Model Monitor's rule).
pub const DEVIATION_DRAWS: usize = 5;
/// Share of the rows in each draw (Model Monitor's rule).
pub const DEVIATION_SHARE: f64 = 0.8;
/// Seed of the draws, so the same rows always give the same file.
const DEVIATION_SEED: u64 = 0x6472_6966_7477_6174;

/// splitmix64: a small, fixed generator for the draws (the files must not change from run to
/// run, and the core carries no random-number crate).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    crate::profile::hll::mix64(*state)
}

/// The standard deviations of every scalar metric over [`DEVIATION_DRAWS`] random draws of
/// [`DEVIATION_SHARE`] of the rows (sample standard deviation), or NaN below
/// [`MIN_ROWS_FOR_DEVIATION`] rows.
pub fn deviations(rows: &LabelledRows) -> Vec<(&'static str, f64)> {
    let n = rows.len();
    if n < MIN_ROWS_FOR_DEVIATION {
        // The metrics' names, from no rows (nothing is computed twice).
        return metrics::compute_scalars(&rows.select(&[])).into_iter().map(|(name, _)| (name, f64::NAN)).collect();
    }
    let take = ((n as f64) * DEVIATION_SHARE).floor() as usize;
    let mut state = DEVIATION_SEED;
    let mut draws: Vec<Vec<(&'static str, f64)>> = Vec::with_capacity(DEVIATION_DRAWS);
    let mut idx: Vec<usize> = (0..n).collect();
    for _ in 0..DEVIATION_DRAWS {
        // Partial Fisher-Yates: the first `take` indexes are a uniform draw without replacement.
        for i in 0..take {
            let j = i + (splitmix(&mut state) % (n - i) as u64) as usize;
            idx.swap(i, j);
        }
        let mut chosen = idx[..take].to_vec();
        chosen.sort_unstable();
        draws.push(metrics::compute_scalars(&rows.select(&chosen)));
    }
    draws[0]
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let xs: Vec<f64> = draws.iter().map(|d| d[k].1).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (xs.len() - 1) as f64;
            (*name, var.sqrt())
        })
        .collect()
}

/// `statistics.json` for labelled rows: every metric, its standard deviation, the matrix and
/// the curves.
pub fn statistics(problem: ProblemType, rows: &LabelledRows) -> QualityStatistics {
    let computed = metrics::compute(rows);
    let sd = deviations(rows);
    QualityStatistics::from_computed(problem, rows.len() as u64, &computed, &sd)
}

/// The two baseline files from labelled rows: statistics and the suggested constraints.
pub fn baseline_files(problem: ProblemType, rows: &LabelledRows) -> (QualityStatistics, QualityConstraints) {
    let stats = statistics(problem, rows);
    let constraints = QualityConstraints::suggest(&stats);
    (stats, constraints)
}

/// A model-quality baseline built from a labelled table.
#[derive(Debug, Clone)]
pub struct QualityBaseline {
    /// `statistics.json`.
    pub statistics: QualityStatistics,
    /// `constraints.json`.
    pub constraints: QualityConstraints,
    /// Rows left out, by reason.
    pub skipped: std::collections::BTreeMap<rows::RowSkip, u64>,
    /// The first of them, named.
    pub named: Vec<rows::SkippedRow>,
    /// Binary with probabilities: the scores' calibration, for estimates without labels.
    pub calibration: Option<estimate::Calibration>,
}

impl QualityBaseline {
    /// The baseline of what a collector gathered; `scores` when the rows' scores are
    /// probabilities (a probability attribute), so that a binary baseline learns their
    /// calibration.
    pub fn of(problem: ProblemType, collected: rows::Collected, scores: bool) -> Self {
        let (statistics, constraints) = baseline_files(problem, &collected.rows);
        let calibration = match (&collected.rows, scores) {
            (LabelledRows::Binary(r), true) => {
                Some(estimate::Calibration::learn(&r.iter().map(|x| (x.score, x.label)).collect::<Vec<_>>()))
            }
            _ => None,
        };
        QualityBaseline { statistics, constraints, skipped: collected.skipped, named: collected.named, calibration }
    }

    /// The files' names and texts: the two of Model Monitor's model-quality job (the same names
    /// as a data-quality baseline's) and, for binary scores, driftwatch's `calibration.json`.
    pub fn file_texts(&self) -> Result<Vec<(&'static str, String)>, serde_json::Error> {
        let mut files = vec![
            (crate::baseline::STATISTICS_FILE, serde_json::to_string_pretty(&self.statistics)? + "\n"),
            (crate::baseline::CONSTRAINTS_FILE, serde_json::to_string_pretty(&self.constraints)? + "\n"),
        ];
        if let Some(c) = &self.calibration {
            files.push((estimate::Calibration::FILE, serde_json::to_string_pretty(c)? + "\n"));
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests;
