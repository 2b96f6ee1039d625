//! Why the classifier decided what it did, as typed values: the `evidence` of each decision
//! (and so of each event) and the classifier's view of each window in `drift.json`. `publish`
//! renders them: to JSON objects (keys in sorted order, as `drift.json` and the events have
//! always had them) and to the HTML report's sentences.

use std::collections::BTreeMap;

use serde::Serialize;

use super::trend::Trend;

/// A schema or data-quality signal of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakSignal {
    /// The feature (`None` for a window-level signal such as most rows skipped).
    pub feature: Option<String>,
    /// `rows_skipped`, `missing_column`, `extra_column`, `null_flood`, `type_change`, ...
    pub signal: &'static str,
    /// The measured value (a share or a completeness).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The same value in the recent past, where a feature's value is compared with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Option<f64>>,
    /// The feature Model Monitor's column check names (positional layouts name the last one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_feature: Option<String>,
}

/// The step that decided a sudden shift.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepEvidence {
    /// The feature.
    pub feature: String,
    /// Windows the step was measured over (1, or 2 for the last two windows).
    pub windows: u32,
    /// Distance between the window(s) and their recent past.
    pub step_distance: f64,
    /// Its noise floor.
    pub step_noise_floor: f64,
    /// The floor the step had to clear to count.
    pub step_decision_floor: f64,
    /// Distance to the baseline now.
    pub distance: f64,
    /// Distance to the baseline before the step.
    pub distance_before: f64,
    /// The step's share of the rise in distance (`None` when the distance did not rise).
    pub step_share: Option<f64>,
}

/// A change found from the shape of a series: a ramp (gradual) or a small step (sudden).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeEvidence {
    /// The feature.
    pub feature: String,
    /// The series (`mean`, `median`, `distance`, `category_shares`, ...).
    pub series: &'static str,
    /// The category whose share moved most, for shares.
    pub category: Option<String>,
    /// The pooled level statistic.
    pub level_z: f64,
    /// Evidence that the series changed at all.
    pub change_evidence: f64,
    /// How much better a step explains it than a ramp.
    pub step_over_ramp: f64,
    /// The ramp's slope per hour.
    pub ramp_slope_per_hour: f64,
    /// Mann-Kendall and Theil-Sen over the series.
    pub mann_kendall: Option<Trend>,
}

/// The last windows of one feature, as the evidence shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureSeries {
    /// Window starts (RFC 3339).
    pub window_starts: Vec<Option<String>>,
    /// Rows per window.
    pub rows: Vec<f64>,
    /// Distance to the baseline.
    pub distance: Vec<Option<f64>>,
    /// Its noise floor.
    pub noise_floor: Vec<Option<f64>>,
    /// Distance to the recent past.
    pub step: Vec<Option<f64>>,
    /// Its noise floor.
    pub step_noise_floor: Vec<Option<f64>>,
}

/// What a learned cycle contributed for one feature of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleEvidence {
    /// The feature.
    pub feature: String,
    /// `daily`, `weekly` or `daily+weekly`.
    pub model: &'static str,
    /// What the window was compared with, in words.
    pub reference: &'static str,
    /// Distance to what the cycle expects for the window's hour.
    pub distance_to_expected: f64,
    /// Its noise floor.
    pub noise_floor: f64,
    /// How far the cycle alone puts this hour from the baseline.
    pub cycle_distance: f64,
}

/// What decided a sudden shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuddenBasis {
    /// A schema or data-quality break.
    Schema,
    /// A step against the recent past.
    Step,
    /// A small step found later, from the shape of the series.
    LateStep,
}

/// The evidence of a sudden shift.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuddenEvidence {
    /// What decided it.
    pub decision: SuddenBasis,
    /// The new schema or data-quality signals.
    pub signals: Vec<BreakSignal>,
    /// The largest step, if one decided it.
    pub step: Option<StepEvidence>,
    /// The late step, if one decided it.
    pub late_step: Option<ShapeEvidence>,
    /// Features that stepped in the window.
    pub features_stepping: usize,
    /// Features measured against the baseline.
    pub features_monitored: usize,
    /// Many features stepped at once (a pipeline, not the population).
    pub many_features_stepping: bool,
    /// A break or many features stepping: look upstream first.
    pub likely_pipeline_bug: bool,
    /// The last windows of the features involved (dropped from an event that would not fit).
    #[serde(flatten)]
    pub trimmed: Trimmed,
    /// What the learned cycles contributed, when one is in use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycles: Vec<CycleEvidence>,
}

/// The evidence's basis of a gradual drift (always a trend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendBasis {
    /// A sustained trend without a step.
    Trend,
}

/// The evidence of a gradual drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GradualEvidence {
    /// Always `trend`.
    pub decision: TrendBasis,
    /// The strongest trend.
    pub trend: ShapeEvidence,
    /// Its feature's distance to the baseline now.
    pub distance: Option<f64>,
    /// Its noise floor.
    pub noise_floor: Option<f64>,
    /// The baseline's comparison threshold of that feature.
    pub comparison_threshold: f64,
    /// Every feature trending.
    pub features_trending: Vec<String>,
    /// The last windows of the first three.
    #[serde(flatten)]
    pub trimmed: Trimmed,
    /// What the learned cycles contributed, when one is in use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycles: Vec<CycleEvidence>,
}

/// The evidence's basis of a resolution (always quiet windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietBasis {
    /// Windows back within the noise.
    Quiet,
}

/// The evidence of a resolution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedEvidence {
    /// Always `quiet`.
    pub decision: QuietBasis,
    /// The kind of the episode that ended.
    pub episode_kind: &'static str,
    /// Quiet windows in a row.
    pub quiet_windows: usize,
    /// When the episode was decided.
    pub episode_decided_at: String,
    /// Start of the quiet run, for features with a cycle (which must stay quiet a whole day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_since: Option<String>,
    /// Nothing is trimmed from a resolution but what the event's size asks for.
    #[serde(flatten)]
    pub trimmed: Trimmed,
}

/// The part of the evidence an event sheds when it would not fit EventBridge's 256 KB: the
/// series first, then (said by count) features and violations beyond the first ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trimmed {
    /// The last windows of the features involved, by feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<BTreeMap<String, FeatureSeries>>,
    /// The series was dropped to fit (the window's `drift.json` has it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_omitted: Option<bool>,
    /// Features dropped to fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features_omitted: Option<usize>,
    /// Violations dropped to fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations_omitted: Option<usize>,
}

/// Why a decision was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    /// A sudden shift.
    Sudden(SuddenEvidence),
    /// A gradual drift.
    Gradual(GradualEvidence),
    /// The end of an episode.
    Resolved(ResolvedEvidence),
}

impl Evidence {
    /// The part an event may shed.
    pub fn trimmed_mut(&mut self) -> &mut Trimmed {
        match self {
            Evidence::Sudden(e) => &mut e.trimmed,
            Evidence::Gradual(e) => &mut e.trimmed,
            Evidence::Resolved(e) => &mut e.trimmed,
        }
    }
}

/// One changing feature of a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changing {
    /// The feature.
    pub feature: String,
    /// `sudden` or `gradual`.
    pub kind: &'static str,
    /// The series that changed.
    pub series: &'static str,
    /// Its pooled level statistic.
    pub z: f64,
}

/// The classifier's view of one window (`drift.json`'s `classification`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowView {
    /// `stable`, or the open episode's kind.
    pub state: &'static str,
    /// The open episode.
    pub episode_id: Option<String>,
    /// Enough records to judge the window.
    pub judged: bool,
    /// Features that stepped.
    pub stepping: Vec<String>,
    /// Features changing by the shape of their series.
    pub changing: Vec<Changing>,
    /// Schema and data-quality signals.
    pub breaks: Vec<BreakSignal>,
    /// The kinds of the decisions the window triggered.
    pub decisions: Vec<&'static str>,
    /// The window is in the reference period (learned from, not judged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<bool>,
    /// The window is in the cold start (before the cycles can have been seen once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<bool>,
    /// The cycle each feature was judged under, where one was.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub cycles: BTreeMap<String, &'static str>,
}
