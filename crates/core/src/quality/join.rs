//! What a window's join with its labels gives: the rules it is judged by, the account of every
//! prediction and label (`model_quality/labels.json`), and the window's model quality as its
//! files show it. The [ledger](super::ledger) does the joining, over data time.

use std::collections::BTreeMap;

use serde::Serialize;

use super::decide::MetricJudgement;
use super::files::{QualityStatistics, QualityViolation};
use super::ProblemType;
use crate::time::{Duration, Timestamp, Window};

/// How labels are judged for one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRules {
    /// The problem type (from the quality baseline).
    pub problem: ProblemType,
    /// A probability at or above it predicts the positive class.
    pub probability_threshold: f64,
    /// How long after a window's end its labels are waited for: the window is judged then with
    /// the labels that came (sooner when [`JoinRules::enough_share`] of them came).
    pub delay: Duration,
    /// A window is judged before the delay once this share of its predictions is labelled.
    pub enough_share: f64,
    /// How long after a window's end its unlabelled predictions wait for labels that come late
    /// (they update the window's files, not its judgement); also how long after its collection
    /// a label waits for its prediction.
    pub expiry: Duration,
}

/// Model Monitor's default wait for labels is what teams configure; a day is the common case
/// and the default.
pub const DEFAULT_GROUND_TRUTH_DELAY: Duration = Duration::from_hours(24);
/// Judging a window before its delay is only safe when nearly every label is in: when the time
/// to a label depends on the label (defaults take longer to show than repayments), a window
/// judged on its early labels is biased. 95% leaves room for a few labels that never come.
pub const DEFAULT_ENOUGH_SHARE: f64 = 0.95;
/// Late labels are kept coming for this many delays after a window's end by default: a label
/// three times later than the expected delay is more likely lost in a pipeline than late.
pub const DEFAULT_EXPIRY_DELAYS: i64 = 3;

impl JoinRules {
    /// The rules with the default share and expiry for `delay`.
    pub fn new(problem: ProblemType, probability_threshold: f64, delay: Duration) -> Self {
        JoinRules {
            problem,
            probability_threshold,
            delay,
            enough_share: DEFAULT_ENOUGH_SHARE,
            expiry: Duration::from_millis(delay.millis() * DEFAULT_EXPIRY_DELAYS),
        }
    }

    /// Checks the values the flags and the config give: a delay that is not negative, a share
    /// in (0, 1], an expiry no shorter than the delay. The message names what to change.
    pub fn check(&self) -> Result<(), String> {
        if self.delay.millis() < 0 {
            return Err(format!("the ground-truth delay {} is negative", self.delay));
        }
        if !(self.enough_share > 0.0 && self.enough_share <= 1.0) {
            return Err(format!(
                "the labelled share that judges a window early is {}; it must be above 0 and at most 1 (1: always wait for the delay)",
                self.enough_share
            ));
        }
        if self.expiry < self.delay {
            return Err(format!(
                "the ground-truth expiry {} is shorter than the delay {}: a window would be forgotten before it is judged",
                self.expiry, self.delay
            ));
        }
        Ok(())
    }
}

/// The account of one window's join (`model_quality/labels.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinCounts {
    /// Captured records of the window that a label could join (an id and one prediction).
    pub predictions: u64,
    /// Of those, the ones a usable label was found for (late ones included).
    pub labelled: u64,
    /// The ones no label was found for (yet).
    pub unlabelled: u64,
    /// Labels found but not usable (not a label of the problem type, or an unusable
    /// prediction), by reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unusable: BTreeMap<&'static str, u64>,
    /// Of the labels used, those that came after the window was judged: they are in
    /// `statistics.json` but not in the judgement.
    pub late_labels: u64,
    /// Records that gave no prediction to join, by reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub records_without_prediction: BTreeMap<&'static str, u64>,
    /// `labelled / predictions` (0 when there are none).
    pub labelled_share: f64,
    /// Data time the window was judged at: its end plus the delay, or sooner once enough of
    /// its predictions were labelled.
    pub judged_at: Option<Timestamp>,
    /// Labelled rows the judgement saw.
    pub labelled_when_judged: u64,
}

/// A window's model quality, as its files show it.
#[derive(Debug, Clone)]
pub struct WindowQuality {
    /// The window.
    pub window: Window,
    /// What the join found (every label that came within the expiry).
    pub counts: JoinCounts,
    /// The metrics of every labelled row (none without one).
    pub statistics: Option<QualityStatistics>,
    /// When the window is judged (not on a re-render): the metrics of the rows labelled on time,
    /// which it was judged on (whatever the driver read ahead, the same for every driver).
    pub judged_statistics: Option<QualityStatistics>,
    /// Their violations of the baseline's constraints, by Model Monitor's rule.
    pub violations: Vec<QualityViolation>,
    /// The headline metrics against the baseline when the window was judged (estimates when
    /// judged without labels).
    pub judgements: Vec<MetricJudgement>,
    /// The estimate from calibrated scores beside the labels' metrics, when the stream has
    /// labels and a calibration (empty otherwise, and when judged on estimates).
    pub estimate: Vec<MetricJudgement>,
    /// Judged without labels (the judgements are estimates).
    pub estimated: bool,
    /// A re-render after labels came late (the judgement is unchanged).
    pub update: bool,
}
