//! Sudden shift or gradual drift: a state machine per stream over the series of windows.
//! The rules and their reasons are in `design.md` beside this file.

pub mod evidence;
pub mod seasonal;
pub(crate) mod shape;
mod signals;
pub mod trend;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use self::evidence::{
    BreakSignal, Changing, CycleEvidence, Evidence, FeatureSeries, GradualEvidence, QuietBasis, ResolvedEvidence,
    ShapeEvidence, StepEvidence, SuddenBasis, SuddenEvidence, TrendBasis, Trimmed, WindowView,
};
use self::seasonal::{Contribution, Model, Phase, Seasonal, Seasonality};
use self::shape::{fit_group, Fit};
use self::signals::{
    cycle_step, measure, past_view, reference, step, CycleSide, Expected, FeatureWindow, PastView, Reference, Step,
    View,
};
use self::trend::{mann_kendall, Trend};
use crate::baseline::{Baseline, Violation};
use crate::capture::layout::StreamId;
use crate::drift::{FeatureKind, WindowDrift};
use crate::pipeline::ClosedWindow;
use crate::profile::hll::mix64;
use crate::profile::{FeatureProfile, SkipReason, WindowProfile};
use crate::time::{Duration, Timestamp};

/// Sensitivity of the classifier. The defaults need no tuning on ordinary traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Noise floor constant for single-window decisions (L-infinity `c`; 2.5 is alpha ~1e-5).
    pub noise_floor_c: f64,
    /// Smallest L-infinity distance that is ever material.
    pub min_effect: f64,
    /// Windows with fewer rows are recorded but not judged.
    pub min_rows: u64,
    /// Windows merged as the "recent past" a step is measured against.
    pub step_lookback: usize,
    /// Share of the rise of the distance to the baseline a step must explain to be sudden.
    pub step_share: f64,
    /// Most judged windows a change's shape (step or ramp) is fitted over.
    pub trend_windows: usize,
    /// Change evidence (weighted chi-square units) the best of step and ramp must gain over no
    /// change before a late change is decided.
    pub change_evidence: f64,
    /// Standardised level (mean, median or share, pooled over the last 4 judged windows) a late
    /// change must reach.
    pub z_level: f64,
    /// Quiet judged windows before an episode is resolved.
    pub cooldown: usize,
    /// Consecutive judged windows a late change (found from the shape of a series) must be
    /// seen in before it is decided.
    pub confirm: usize,
    /// Recurring patterns learned from the stream: `auto` (a daily cycle, and a day-of-week one
    /// on top, for the features whose history shows them), `daily`, `weekly` or `none`
    /// (design.md, "Cycles").
    #[serde(default)]
    pub seasonality: Seasonality,
    /// Start of a reference period of normal traffic (inclusive): its windows teach the cycles
    /// and are not judged. Needs `reference_end`.
    #[serde(default)]
    pub reference_start: Option<Timestamp>,
    /// End of the reference period (exclusive). Alone, every window before it is reference.
    #[serde(default)]
    pub reference_end: Option<Timestamp>,
}

impl ClassifierConfig {
    /// Returns whether a window starting at `start` lies in the reference period.
    pub fn in_reference(&self, start: Timestamp) -> bool {
        self.reference_end.is_some_and(|e| start < e) && self.reference_start.is_none_or(|s| start >= s)
    }
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            noise_floor_c: 2.8,
            min_effect: 0.05,
            min_rows: 30,
            step_lookback: 3,
            step_share: 0.7,
            trend_windows: 48,
            change_evidence: 20.0,
            z_level: 3.0,
            cooldown: 3,
            confirm: 2,
            seasonality: Seasonality::Auto,
            reference_start: None,
            reference_end: None,
        }
    }
}

/// What an episode (or a decision) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A step or a schema break: investigate.
    Sudden,
    /// A sustained trend: retrain.
    Gradual,
    /// The episode is over.
    Resolved,
}

impl Kind {
    /// Returns `sudden`, `gradual` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sudden => "sudden",
            Kind::Gradual => "gradual",
            Kind::Resolved => "resolved",
        }
    }

    /// Returns what to do: `investigate`, `retrain` or `none` (an event's `detail.action`).
    pub fn action(self) -> &'static str {
        match self {
            Kind::Sudden => "investigate",
            Kind::Gradual => "retrain",
            Kind::Resolved => "none",
        }
    }
}

/// Evidence about one feature in a decision (an event's `detail.features` entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureEvidence {
    /// Feature name.
    pub name: String,
    /// The metric named by `value`: [`FeatureEvidence::METRIC`] for a baseline feature; for a
    /// field the baseline does not have, the break that named it (`extra_column`).
    pub metric: &'static str,
    /// `linf_robust` in the decision window.
    pub value: Option<f64>,
    /// The baseline's comparison threshold.
    pub threshold: Option<f64>,
    /// The L-infinity noise floor (c = 1.8).
    pub noise_floor: Option<f64>,
    /// Distance to the recent past.
    pub step_value: Option<f64>,
    /// The trend, for gradual drift.
    pub trend: Option<Trend>,
}

impl FeatureEvidence {
    /// The distance every decision reports: L-infinity between CDFs, Model Monitor's number
    /// (robust to a few outliers through the KLL sketch).
    pub const METRIC: &'static str = "linf_robust";
}

/// One decision: the content of one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The kind announced.
    pub kind: Kind,
    /// Stable id of the episode.
    pub episode_id: String,
    /// Stable id of this event.
    pub event_id: String,
    /// End of the decision window.
    pub detected_at: Timestamp,
    /// Estimated start of the change.
    pub onset: Timestamp,
    /// Features involved, most affected first.
    pub features: Vec<FeatureEvidence>,
    /// Violations of those features in the decision window.
    pub violations: Vec<Violation>,
    /// Why.
    pub evidence: Evidence,
}

/// An episode as the replay summary shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSummary {
    /// Episode id.
    pub id: String,
    /// Kind of the first decision.
    pub first_kind: Kind,
    /// Kind after any change.
    pub kind: Kind,
    /// Estimated onset.
    pub onset: Timestamp,
    /// First decision (window end).
    pub decided_at: Timestamp,
    /// Resolution (window end), if resolved.
    pub resolved_at: Option<Timestamp>,
    /// Features, most affected first.
    pub features: Vec<String>,
    /// Events fired, resolution included.
    pub events: u32,
}

impl fmt::Display for EpisodeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.first_kind == self.kind {
            self.kind.as_str().to_owned()
        } else {
            format!("{}->{}", self.first_kind.as_str(), self.kind.as_str())
        };
        write!(f, "{kind:<16} {:<11} onset {}  decided {}", self.kind.action(), self.onset, self.decided_at)?;
        match self.resolved_at {
            Some(r) => write!(f, "  resolved {r}")?,
            None => write!(f, "  open")?,
        }
        let shown: Vec<&str> = self.features.iter().take(3).map(String::as_str).collect();
        write!(f, "  features {}", shown.join(", "))?;
        if self.features.len() > 3 {
            write!(f, " (+{})", self.features.len() - 3)?;
        }
        Ok(())
    }
}

/// What the classifier says about one window.
#[derive(Debug, Clone, Default)]
pub struct WindowOutcome {
    /// Events to fire, in order.
    pub decisions: Vec<Decision>,
    /// The classifier's view of the window, for `drift.json`.
    pub view: WindowView,
    /// Per-feature columns for the metrics table.
    pub extras: Vec<FeatureExtras>,
}

/// Per-feature values the classifier adds to the window's row in the metrics table (distance
/// to the recent past, state, the learned cycle).
#[derive(Debug, Clone, Default)]
pub struct FeatureExtras {
    /// Distance to the recent past.
    pub step_distance: Option<f64>,
    /// Its noise floor.
    pub step_noise_floor: Option<f64>,
    /// The stream's classifier state after this window.
    pub state: Option<String>,
    /// The cycle the window was judged under (`daily`, `weekly`, `daily+weekly`; `None`: the
    /// baseline alone).
    pub cycle_model: Option<String>,
    /// Distance of the window to what the cycle expects for its hour (binned L-infinity).
    pub expected_distance: Option<f64>,
    /// Its noise floor.
    pub expected_noise_floor: Option<f64>,
    /// How far the cycle alone puts this hour from the baseline.
    pub cycle_distance: Option<f64>,
}

/// A schema or data-quality break (feature `""` for window-level breaks).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Break {
    feature: String,
    signal: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Episode {
    id: String,
    first_kind: Kind,
    kind: Kind,
    onset: Timestamp,
    decided_at: Timestamp,
    features: Vec<String>,
    events: u32,
    kind_changes: u32,
    quiet: usize,
    /// Start of the first of the current run of quiet windows.
    #[serde(default)]
    quiet_since: Option<Timestamp>,
}

/// The classifier of one stream. Serialisable, so that the service can checkpoint it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamClassifier {
    stream: StreamId,
    cfg: ClassifierConfig,
    first_start: Option<Timestamp>,
    windows_seen: u64,
    history: Vec<VecDeque<FeatureWindow>>,
    last_step: Vec<Option<u64>>,
    /// Consecutive judged windows each feature has shown a late change in.
    shape_streak: Vec<usize>,
    /// Per feature, the window whose step is held until the next window confirms it (before a
    /// cycle can be judged).
    #[serde(default)]
    held_step: Vec<Option<u64>>,
    /// The last `step_lookback + 1` window profiles (the recent past of this window and of the
    /// previous one, for two-window steps).
    recent: VecDeque<WindowProfile>,
    /// The recent past merged for the last window observed (its index, the merged profile):
    /// the next window's two-window step uses exactly this merge. Not checkpointed; recomputed
    /// from `recent` after a restore, with the same result.
    #[serde(skip)]
    last_past: Option<(u64, Vec<FeatureProfile>)>,
    prev_breaks: BTreeSet<Break>,
    episode: Option<Episode>,
    finished: Vec<EpisodeSummary>,
    /// The cycles learned so far (design.md, "Cycles").
    #[serde(default)]
    seasonal: Seasonal,
    /// The stream's window length (known from the first window).
    #[serde(default)]
    window_len: Option<Duration>,
}

/// Where a window sits in the stream: what every stage of `observe` reads.
struct WindowAt {
    /// The window's index in the stream (0 for the first observed).
    idx: u64,
    start: Timestamp,
    /// Hours since the stream's first window.
    x: f64,
    /// Inside `[reference_start, reference_end)`: learned from, not judged.
    reference_only: bool,
    /// Before the cycles can have been seen once (design.md, "Cycles").
    cold: bool,
    phase: Phase,
    windows_per_day: f64,
    /// The window's recent past: indices into `recent`.
    past_range: std::ops::Range<usize>,
}

/// Each feature's view of one window, from [`StreamClassifier::measure`].
struct Measured {
    windows: Vec<FeatureWindow>,
    /// The window's cells in each feature's cycle grid, and their row count.
    cells_now: Vec<Option<(Vec<f64>, f64)>>,
    past_views: Vec<Option<PastView>>,
    /// The recent past, merged per feature (trimmed), for the next window's two-window step.
    past: Vec<FeatureProfile>,
}

/// A step found in this window (one-window) or over the last two windows.
#[derive(Debug, Clone, Copy)]
struct StepHit {
    feature: usize,
    step: Step,
    windows: u32,
}

/// A change found late, from the shape of a series: a ramp (gradual) or a small step (sudden).
#[derive(Debug, Clone)]
struct ShapeHit {
    feature: usize,
    kind: Kind,
    series: &'static str,
    category: Option<String>,
    z_pool: f64,
    /// The pooled deviation of the series' member that moved most.
    dev: f64,
    fit: Fit,
    onset_x: f64,
    trend: Option<Trend>,
}

/// One series of one feature, ready for the level and shape tests: one member (mean, median,
/// distance) or a group of members observed together (the shares of all categories).
struct Series {
    name: &'static str,
    /// Member labels (category values for shares; empty otherwise).
    labels: Vec<String>,
    /// `(x, deviation from the baseline, weight = 1 / variance)` per member, judged windows in
    /// order (every member has the same `x`s).
    members: Vec<Vec<(f64, f64, f64)>>,
    /// Rows behind each point.
    rows: Vec<f64>,
    /// Variance of the baseline's own estimate, per member.
    base_var: Vec<f64>,
    /// Smallest material deviation (of the member that moved most).
    min_dev: f64,
    /// Degrees of freedom of the level and change statistics (categories - 1 for shares).
    df: usize,
}

/// The pooled level of a series.
#[derive(Debug, Clone, Copy)]
struct Level {
    /// One-sided standard-normal equivalent of the level statistic (signed for one member).
    z: f64,
    /// Pooled deviation of the member that moved most.
    dev: f64,
    /// That member.
    member: usize,
}

impl StreamClassifier {
    /// Creates the classifier of a stream.
    pub fn new(stream: StreamId, baseline: &Baseline, cfg: ClassifierConfig) -> Self {
        let n = baseline.features.len();
        let cfg_seasonality = cfg.seasonality;
        StreamClassifier {
            stream,
            cfg,
            first_start: None,
            windows_seen: 0,
            history: vec![VecDeque::new(); n],
            last_step: vec![None; n],
            shape_streak: vec![0; n],
            held_step: vec![None; n],
            recent: VecDeque::new(),
            last_past: None,
            prev_breaks: BTreeSet::new(),
            episode: None,
            finished: Vec::new(),
            seasonal: Seasonal::new(cfg_seasonality, n),
            window_len: None,
        }
    }

    /// Returns the cycles learned so far.
    pub fn seasonal(&self) -> &Seasonal {
        &self.seasonal
    }

    /// Returns every episode so far, open ones included.
    pub fn episodes(&self) -> Vec<EpisodeSummary> {
        let mut out = self.finished.clone();
        if let Some(e) = &self.episode {
            out.push(summary_of(e, None));
        }
        out
    }

    /// Restores derived sketch fields after deserialization.
    pub fn rebuild(&mut self) {
        for p in &mut self.recent {
            p.rebuild();
        }
    }

    /// Feature `i` of the recent windows in `range`, merged in order (as merging the whole
    /// profiles would give it).
    fn merged_feature(&self, range: std::ops::Range<usize>, i: usize) -> Option<FeatureProfile> {
        let mut acc: Option<FeatureProfile> = None;
        for p in self.recent.range(range) {
            match &mut acc {
                None => acc = Some(p.features[i].clone()),
                Some(a) => a.merge(&p.features[i]),
            }
        }
        acc
    }

    /// Takes one closed window (in data order) and returns the decisions it triggers.
    ///
    /// The stages, in order: place the window in the stream ([`Self::locate`]); measure each
    /// feature against the baseline, its recent past and its cycle ([`Self::measure`]); find
    /// breaks, steps ([`Self::steps`]) and changing shapes ([`Self::shapes`]); move the episode
    /// state machine ([`Self::transition`]); learn the cycles from what was normal
    /// ([`Self::learn_cycles`]); and say what was seen ([`Self::outcome`]).
    pub fn observe(&mut self, baseline: &Baseline, closed: &ClosedWindow, drift: &WindowDrift) -> WindowOutcome {
        let cfg = self.cfg.clone();
        let at = self.locate(baseline, closed, drift, &cfg);
        let Measured { windows, cells_now, past_views, past } = self.measure(baseline, closed, drift, &cfg, &at);

        // Window-level: are there enough records to judge at all?
        let bad_rows = closed.profile.skipped.get(SkipReason::ColumnCount)
            + closed.profile.skipped.get(SkipReason::UndecodablePayload)
            + closed.profile.skipped.get(SkipReason::UnsupportedPayload)
            + closed.profile.skipped.get(SkipReason::MalformedLine);
        let seen_rows = closed.profile.rows + bad_rows;
        let window_judged = seen_rows >= cfg.min_rows;

        let (breaks, break_detail) = if window_judged {
            self.breaks(baseline, drift, &windows, &past_views, bad_rows, seen_rows)
        } else {
            (BTreeSet::new(), Vec::new())
        };
        let new_breaks: Vec<Break> = breaks.difference(&self.prev_breaks).cloned().collect();

        let steps = self.steps(baseline, closed, drift, &cfg, &at, &windows, &cells_now);
        for s in &steps {
            self.last_step[s.feature] = Some(at.idx);
        }
        let monitored = drift.features.iter().filter(|f| f.kind != FeatureKind::Unmonitored).count();
        let many_stepping =
            steps.len() >= PIPELINE_BUG_MIN_FEATURES && steps.len() as f64 >= PIPELINE_BUG_MIN_SHARE * monitored as f64;

        self.record_history(&windows, &cfg);
        let shapes = self.shapes(baseline, drift, &cfg, &at, &windows, &steps, window_judged);
        self.keep_recent(baseline, closed, &at, past, cfg.step_lookback);

        let mut decisions = Vec::new();
        if window_judged && !at.reference_only {
            let ctx = DecisionContext {
                baseline,
                closed,
                drift,
                windows: &windows,
                steps: &steps,
                many_stepping,
                shapes: &shapes,
                breaks: &breaks,
                new_breaks: &new_breaks,
                break_detail: &break_detail,
            };
            decisions = self.transition(&ctx, &cfg);
        }
        if window_judged {
            self.prev_breaks = breaks.clone();
        }
        if cfg.seasonality != Seasonality::None {
            self.learn_cycles(baseline, closed, drift, &at, &breaks, &cells_now);
        }
        self.outcome(baseline, &at, window_judged, &windows, &steps, &shapes, break_detail, decisions)
    }

    /// Places a window in the stream: its index and hour offset, whether it is in the
    /// reference period or the cold start, its phase in the cycles.
    fn locate(
        &mut self,
        baseline: &Baseline,
        closed: &ClosedWindow,
        drift: &WindowDrift,
        cfg: &ClassifierConfig,
    ) -> WindowAt {
        let idx = self.windows_seen;
        self.windows_seen += 1;
        let start = closed.window.start;
        let first = *self.first_start.get_or_insert(start);
        let x = (start.millis() - first.millis()) as f64 / Duration::from_hours(1).millis() as f64;
        // A reference window teaches the cycles and is not judged; before a cycle has been
        // seen once, changes found from the shape of a series wait (design.md, "Cycles").
        let reference_only = cfg.in_reference(start);
        let cold = x < cfg.seasonality.cold_start_hours();
        let phase = Phase::of(&closed.window);
        let kinds: Vec<FeatureKind> = drift.features.iter().map(|f| f.kind).collect();
        self.seasonal.prepare(cfg.seasonality, &baseline.features, &kinds);
        self.held_step.resize(baseline.features.len(), None);
        let window_ms = (closed.window.end.millis() - start.millis()).max(1) as f64;
        self.window_len = Some(Duration::from_millis(closed.window.end.millis() - start.millis()));
        let windows_per_day = Duration::from_hours(24).millis() as f64 / window_ms;
        let r = self.recent.len();
        let past_range = r.saturating_sub(cfg.step_lookback)..r;
        WindowAt { idx, start, x, reference_only, cold, phase, windows_per_day, past_range }
    }

    /// Measures each feature of the window: against the baseline, its recent past (merged
    /// feature by feature, so that only one feature's merge is held at a time, and kept for the
    /// next window's two-window step) and, where one is chosen, its cycle.
    fn measure(
        &mut self,
        baseline: &Baseline,
        closed: &ClosedWindow,
        drift: &WindowDrift,
        cfg: &ClassifierConfig,
        at: &WindowAt,
    ) -> Measured {
        let (start, x, phase, windows_per_day) = (at.start, at.x, &at.phase, at.windows_per_day);
        let past_range = at.past_range.clone();
        let mut past: Vec<FeatureProfile> = Vec::new();
        let mut past_views: Vec<Option<PastView>> = Vec::with_capacity(baseline.features.len());
        let mut windows: Vec<FeatureWindow> = Vec::with_capacity(baseline.features.len());
        let mut cells_now: Vec<Option<(Vec<f64>, f64)>> = Vec::with_capacity(baseline.features.len());
        for (i, bf) in baseline.features.iter().enumerate() {
            let past_i = self.merged_feature(past_range.clone(), i);
            let mut fw =
                measure(bf, &drift.features[i], &closed.profile.features[i], past_i.as_ref(), cfg.noise_floor_c);
            fw.start = Some(start);
            fw.x = x;
            fw.judged = fw.n >= cfg.min_rows as f64;
            let cells = self.seasonal.grid(i).cells(&closed.profile.features[i]);
            if let Some((c, n)) = &cells {
                fw.cycle = self.seasonal.adjust(i, phase, c, *n, cfg.noise_floor_c);
                // The choice of cycle is learned from normal windows only, as the slots are
                // (a drift in an open episode would move the evidence both ways).
                let in_episode = self.episode.as_ref().is_some_and(|e| e.features.contains(&bf.name));
                fw.model = if fw.judged && !in_episode && self.shape_streak[i] == 0 {
                    let grid = self.seasonal.grid(i);
                    let x2 =
                        grid.pearson(c.iter().zip(grid.base()).map(|(w, b)| w - b), 1.0 / n + 1.0 / grid.base_values());
                    let df = grid.pearson_df();
                    self.seasonal.select(i, x2, &fw.cycle, df, windows_per_day)
                } else {
                    self.seasonal.usable(i, &fw.cycle)
                };
                // Under a cycle, the step is the change of the deviation from what each hour
                // should look like.
                if !fw.model.is_none() {
                    let in_history = self.history_range(i, past_range.clone());
                    let st = past_i.as_ref().and_then(|p| self.step_under(i, fw.model, (c, *n, &fw), p, in_history));
                    fw.step = st;
                }
            }
            windows.push(fw);
            cells_now.push(cells);
            past_views.push(past_i.as_ref().map(|p| past_view(bf, p)));
            if let Some(mut p) = past_i {
                p.trim();
                past.push(p);
            }
        }
        Measured { windows, cells_now, past_views, past }
    }

    /// Steps: this window against its recent past, or the last two windows against theirs.
    /// A step must also be one under each cycle model that could explain it (design.md,
    /// "Cycles"); where the cycle cannot be judged yet (the stream's first day, or a step the
    /// cycle model cannot measure), it must be larger than a cycle moves a distribution in the
    /// lookback. Largest first.
    #[allow(clippy::too_many_arguments)]
    fn steps(
        &mut self,
        baseline: &Baseline,
        closed: &ClosedWindow,
        drift: &WindowDrift,
        cfg: &ClassifierConfig,
        at: &WindowAt,
        windows: &[FeatureWindow],
        cells_now: &[Option<(Vec<f64>, f64)>],
    ) -> Vec<StepHit> {
        let (idx, cold, r, lookback) = (at.idx, at.cold, self.recent.len(), cfg.step_lookback);
        let past_range = at.past_range.clone();
        // The previous window's recent past is the same windows merged in the same order: kept
        // from the last window when there is one.
        let mut past2: Option<Vec<FeatureProfile>> = match self.last_past.take() {
            Some((i, p)) if i + 1 == idx && p.len() == baseline.features.len() => Some(p),
            _ => None,
        };

        let mut steps: Vec<StepHit> = Vec::new();
        for (i, fw) in windows.iter().enumerate() {
            if !fw.judged {
                continue;
            }
            let trial = self.seasonal.alternatives(fw.model, &fw.cycle);
            let plain_effect =
                if cold && fw.model.is_none() { cfg.min_effect.max(COLD_START_STEP_EFFECT) } else { cfg.min_effect };
            let holds_on_trial = |one: &dyn Fn(Model) -> Option<Step>, plain: &Step| {
                trial.iter().all(|&t| match one(t) {
                    Some(st) => st.qualifies(cfg.min_effect, cfg.step_share),
                    None => plain.qualifies(cfg.min_effect.max(COLD_START_STEP_EFFECT), cfg.step_share),
                })
            };
            let one_window = |m: Model| -> Option<Step> {
                let (c, n) = cells_now[i].as_ref()?;
                let past_i = self.merged_feature(past_range.clone(), i)?;
                self.step_under(i, m, (c, *n, fw), &past_i, self.history_range(i, past_range.clone()))
            };
            // Before a cycle can be judged, the recent past differs from a window by the cycle
            // as well as by chance, so a step must show in two windows running: it is held, and
            // counts when the next window, merged with it, still steps from the same past.
            let confirm_steps = cold && fw.model.is_none();
            let held = confirm_steps && self.held_step[i].is_some_and(|h| h + 1 == idx);
            if let Some(st) =
                fw.step.filter(|s| s.qualifies(plain_effect, cfg.step_share)).filter(|s| holds_on_trial(&one_window, s))
            {
                if !confirm_steps {
                    steps.push(StepHit { feature: i, step: st, windows: 1 });
                    continue;
                }
                self.held_step[i] = Some(idx);
            }
            if confirm_steps && !held {
                continue;
            }
            // The current window must itself be off the baseline, so that a step that already
            // reverted is not announced; otherwise there is nothing to measure.
            let v = fw.judged_view();
            let current_off = matches!((v.d(), v.floor()), (Some(d), Some(f)) if d > f);
            if r > lookback && current_off {
                let kind = drift.features[i].kind;
                let mut cur2 = self.recent[r - 1].features[i].clone();
                cur2.merge(&closed.profile.features[i]);
                let fresh;
                let past2_i = match &mut past2 {
                    Some(p) => &p[i],
                    None => {
                        fresh = self.merged_feature(r - 1 - lookback..r - 1, i);
                        match &fresh {
                            Some(f) => f,
                            None => continue,
                        }
                    }
                };
                let two_window = |m: Model| -> Option<Step> {
                    let grid = self.seasonal.grid(i);
                    let (c2, n2) = grid.cells(&cur2)?;
                    let prev = self.history[i].back()?;
                    let (pc, pn) = grid.cells(past2_i)?;
                    let cur_side = CycleSide {
                        cells: &c2,
                        n: n2,
                        windows: vec![self.expected_of(i, m, prev)?, Expected::of(fw.under(m)?.adj?, fw.n)],
                    };
                    let past_side = CycleSide {
                        cells: &pc,
                        n: pn,
                        windows: self.past_judgements(i, m, self.history_range(i, r - 1 - lookback..r - 1))?,
                    };
                    cycle_step(grid, &cur_side, &past_side, cfg.noise_floor_c)
                };
                let st = if fw.model.is_none() {
                    step(&baseline.features[i], kind, &cur2, past2_i, None, cfg.noise_floor_c)
                } else {
                    two_window(fw.model)
                };
                if let Some(st) =
                    st.filter(|s| s.qualifies(plain_effect, cfg.step_share)).filter(|s| holds_on_trial(&two_window, s))
                {
                    steps.push(StepHit { feature: i, step: st, windows: 2 });
                }
            }
        }
        drop(past2);
        steps.sort_by(|a, b| (b.step.d_step - b.step.floor_dec).total_cmp(&(a.step.d_step - a.step.floor_dec)));
        steps
    }

    /// Records the window in each feature's history; a window's cell offsets are kept only
    /// while it can be part of a later window's recent past.
    fn record_history(&mut self, windows: &[FeatureWindow], cfg: &ClassifierConfig) {
        let lookback = cfg.step_lookback;
        let keep = cfg.trend_windows + HISTORY_SLACK_WINDOWS;
        for (h, fw) in self.history.iter_mut().zip(windows) {
            h.push_back(fw.clone());
            while h.len() > keep {
                h.pop_front();
            }
            if let Some(old) = h.iter_mut().rev().nth(lookback + 2) {
                for a in &mut old.cycle {
                    a.cells = Vec::new();
                }
            }
        }
    }

    /// Changes found from the shape of each feature's series (not for features that stepped
    /// in this window), confirmed over `confirm` windows running; largest first.
    #[allow(clippy::too_many_arguments)]
    fn shapes(
        &mut self,
        baseline: &Baseline,
        drift: &WindowDrift,
        cfg: &ClassifierConfig,
        at: &WindowAt,
        windows: &[FeatureWindow],
        steps: &[StepHit],
        window_judged: bool,
    ) -> Vec<ShapeHit> {
        let (idx, cold) = (at.idx, at.cold);
        let mut shapes: Vec<ShapeHit> = Vec::new();
        if window_judged && !cold {
            for (i, bf) in baseline.features.iter().enumerate() {
                let kind = drift.features[i].kind;
                let hit = if steps.iter().any(|s| s.feature == i) || kind == FeatureKind::Unmonitored {
                    None
                } else {
                    // Under the model the window was judged under; the level it found must also
                    // be off what each cycle model that could explain it expects.
                    let fw = &windows[i];
                    self.shape_evidence(i, bf, kind, idx, cfg, fw.model).and_then(|hit| {
                        let mut chosen = hit;
                        for t in self.seasonal.alternatives(fw.model, &fw.cycle) {
                            if !self.level_holds(i, bf, kind, t, &chosen, cfg) {
                                return None;
                            }
                            // Where they disagree on the kind, the cycle may have bent the
                            // shape: the fit with it removed decides.
                            if let Some(other) =
                                self.shape_evidence(i, bf, kind, idx, cfg, t).filter(|o| o.kind != chosen.kind)
                            {
                                chosen = other;
                            }
                        }
                        Some(chosen)
                    })
                };
                match hit {
                    Some(hit) => {
                        self.shape_streak[i] += 1;
                        if self.shape_streak[i] >= cfg.confirm {
                            shapes.push(hit);
                        }
                    }
                    None => self.shape_streak[i] = 0,
                }
            }
        } else if cold {
            self.shape_streak.iter_mut().for_each(|s| *s = 0);
        }
        shapes.sort_by(|a, b| b.z_pool.abs().total_cmp(&a.z_pool.abs()));

        shapes
    }

    /// The recent past moves on: this window's merged past is kept for the next window's
    /// two-window step, and its profile (trimmed) joins the recent windows.
    fn keep_recent(
        &mut self,
        baseline: &Baseline,
        closed: &ClosedWindow,
        at: &WindowAt,
        past: Vec<FeatureProfile>,
        lookback: usize,
    ) {
        let idx = at.idx;
        self.last_past = (past.len() == baseline.features.len()).then_some((idx, past));
        let mut kept = closed.profile.clone();
        kept.trim();
        for f in &mut kept.features {
            // Nothing here reads distinct counts; their registers are most of a small profile.
            f.distinct = Default::default();
        }
        self.recent.push_back(kept);
        while self.recent.len() > lookback + 1 {
            self.recent.pop_front();
        }
    }

    /// Learns the cycles from what is normal: not a feature of the open episode, not a feature
    /// that broke, stepped or is changing in this window (a reference window is normal by
    /// definition).
    fn learn_cycles(
        &mut self,
        baseline: &Baseline,
        closed: &ClosedWindow,
        drift: &WindowDrift,
        at: &WindowAt,
        breaks: &BTreeSet<Break>,
        cells_now: &[Option<(Vec<f64>, f64)>],
    ) {
        let (reference_only, phase) = (at.reference_only, &at.phase);
        let in_episode: BTreeSet<&str> =
            self.episode.iter().flat_map(|e| e.features.iter().map(String::as_str)).collect();
        let window_broke = breaks.iter().any(|b| b.feature.is_empty());
        for (i, bf) in baseline.features.iter().enumerate() {
            // Reference windows are normal by the user's word, but a schema or data-quality
            // break in one (no cycle makes those) is still kept out of the slots. Steps are
            // learned: where a cycle turns abruptly (a weekend starting) its hours are steps.
            // Outside the reference a step opens or joins the episode, whose features wait.
            let unbroken = !window_broke && !breaks.iter().any(|b| b.feature == bf.name);
            let normal =
                unbroken && (reference_only || (!in_episode.contains(bf.name.as_str()) && self.shape_streak[i] == 0));
            let fd = &drift.features[i];
            if !normal || fd.present + fd.missing == 0 {
                continue;
            }
            let m = &closed.profile.features[i].moments;
            let contribution = Contribution {
                rows: (fd.present + fd.missing) as f64,
                present: fd.present as f64,
                cells: cells_now[i].as_ref().map(|(c, n)| (c.as_slice(), *n)),
                moments: (m.n as f64, m.mean, m.m2),
            };
            self.seasonal.learn(i, phase, &contribution);
        }
    }

    /// What the classifier says about the window: its state, what stepped, changed and broke,
    /// the decisions, and the per-feature columns of the metrics table.
    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        baseline: &Baseline,
        at: &WindowAt,
        window_judged: bool,
        windows: &[FeatureWindow],
        steps: &[StepHit],
        shapes: &[ShapeHit],
        break_detail: Vec<BreakSignal>,
        decisions: Vec<Decision>,
    ) -> WindowOutcome {
        let (reference_only, cold) = (at.reference_only, at.cold);
        let state = match &self.episode {
            None => "stable",
            Some(e) => e.kind.as_str(),
        };
        let name = |i: usize| baseline.features[i].name.clone();
        let view = WindowView {
            state,
            episode_id: self.episode.as_ref().map(|e| e.id.clone()),
            judged: window_judged,
            stepping: steps.iter().map(|s| name(s.feature)).collect(),
            changing: shapes
                .iter()
                .map(|s| Changing {
                    feature: name(s.feature),
                    kind: s.kind.as_str(),
                    series: s.series,
                    z: round6(s.z_pool),
                })
                .collect(),
            breaks: break_detail,
            decisions: decisions.iter().map(|d| d.kind.as_str()).collect(),
            reference: reference_only.then_some(true),
            cold_start: (!reference_only && cold).then_some(true),
            cycles: windows
                .iter()
                .enumerate()
                .filter(|(_, w)| !w.model.is_none())
                .map(|(i, w)| (name(i), w.model.as_str()))
                .collect(),
        };
        let extras = windows
            .iter()
            .map(|fw| {
                let v = fw.judged_view();
                FeatureExtras {
                    step_distance: fw.step.map(|s| s.d_step),
                    step_noise_floor: fw.step.map(|s| s.floor),
                    state: Some(state.to_owned()),
                    cycle_model: (!fw.model.is_none()).then(|| fw.model.as_str().to_owned()),
                    expected_distance: v.adj.map(|a| a.d),
                    expected_noise_floor: v.adj.map(|a| a.floor),
                    cycle_distance: v.adj.map(|a| a.cycle_d),
                }
            })
            .collect();
        WindowOutcome { decisions, view, extras }
    }

    /// The history indices of feature `i` that hold the windows of `recent[range]`.
    fn history_range(&self, i: usize, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let h = self.history[i].len();
        let r = self.recent.len();
        let shift = h.saturating_sub(r);
        (range.start + shift).min(h)..(range.end + shift).min(h)
    }

    /// What `model` expected of feature `i`'s windows in `range` of its history (`None` when one
    /// of them cannot be described).
    fn past_judgements(&self, i: usize, model: Model, range: std::ops::Range<usize>) -> Option<Vec<Expected>> {
        self.history[i].range(range).map(|w| self.expected_of(i, model, w)).collect()
    }

    /// What `model` expected of a past window of feature `i`: its judgement when it closed, or,
    /// when its slot could not describe it then, what the slot says now.
    fn expected_of(&self, i: usize, model: Model, w: &FeatureWindow) -> Option<Expected> {
        if let Some(a) = w.under(model).and_then(|v| v.adj).filter(|a| !a.cells.is_empty()) {
            return Some(Expected::of(a, w.n));
        }
        let start = w.start?;
        let phase = Phase::of(&crate::time::Window { start, end: start + self.window_len? });
        let (cells, inv_n) = self.seasonal.expected_now(i, model, &phase)?;
        Some(Expected { cells, inv_n, n: w.n })
    }

    /// The one-window step of feature `i` under `model` (the current window's cells, values and
    /// record; the merged recent past and where it sits in the history).
    fn step_under(
        &self,
        i: usize,
        model: Model,
        (cells, n, fw): (&[f64], f64, &FeatureWindow),
        past: &FeatureProfile,
        past_in_history: std::ops::Range<usize>,
    ) -> Option<Step> {
        let grid = self.seasonal.grid(i);
        let (pc, pn) = grid.cells(past)?;
        let cur = CycleSide { cells, n, windows: vec![Expected::of(fw.under(model)?.adj?, fw.n)] };
        let past_side = CycleSide { cells: &pc, n: pn, windows: self.past_judgements(i, model, past_in_history)? };
        cycle_step(grid, &cur, &past_side, self.cfg.noise_floor_c)
    }

    /// Schema and data-quality breaks against the baseline in this window.
    fn breaks(
        &self,
        baseline: &Baseline,
        drift: &WindowDrift,
        windows: &[FeatureWindow],
        past: &[Option<PastView>],
        bad_rows: u64,
        seen_rows: u64,
    ) -> (BTreeSet<Break>, Vec<BreakSignal>) {
        let cfg = &self.cfg;
        let mut breaks = BTreeSet::new();
        let mut detail = Vec::new();
        let share = bad_rows as f64 / seen_rows.max(1) as f64;
        if share > MOST_ROWS {
            breaks.insert(Break { feature: String::new(), signal: "rows_skipped".into() });
            detail.push(BreakSignal {
                feature: None,
                signal: "rows_skipped",
                value: Some(round6(share)),
                before: None,
                check_feature: None,
            });
        }
        for v in &drift.violations {
            let (signal, feature) = match v.constraint_check_type.as_str() {
                // Positional layouts name the last column; the inferred one is more useful.
                "missing_column_check" => {
                    ("missing_column", drift.missing_column.clone().unwrap_or_else(|| v.feature_name.clone()))
                }
                "extra_column_check" => ("extra_column", v.feature_name.clone()),
                _ => continue,
            };
            if breaks.insert(Break { feature: feature.clone(), signal: signal.into() }) {
                detail.push(BreakSignal {
                    feature: Some(feature),
                    signal,
                    value: None,
                    before: None,
                    check_feature: Some(v.feature_name.clone()),
                });
            }
        }
        for (i, bf) in baseline.features.iter().enumerate() {
            let fd = &drift.features[i];
            if fd.present + fd.missing < cfg.min_rows {
                continue;
            }
            let pv = past.get(i).cloned().flatten();
            let mut add = |signal: &'static str, value: f64, before: Option<f64>| {
                breaks.insert(Break { feature: bf.name.clone(), signal: signal.into() });
                detail.push(BreakSignal {
                    feature: Some(bf.name.clone()),
                    signal,
                    value: Some(round6(value)),
                    before: Some(before.map(round6)),
                    check_feature: None,
                });
            };
            // Against what the learned cycle expects for this hour, when one is in use.
            let view = windows[i].judged_view();
            if let (Some(c), Some(cb)) = (fd.completeness, fd.baseline_completeness) {
                if cb + view.completeness_offset() - c > NULL_FLOOD_DROP {
                    add("null_flood", c, pv.as_ref().and_then(|p| p.completeness));
                }
            }
            if let Some(tm) = fd.type_match {
                if tm < MIN_TYPE_MATCH && bf.expected_type != crate::profile::InferredType::String {
                    add("type_flip", tm, pv.as_ref().and_then(|p| p.type_match));
                }
            }
            if let Some(u) = fd.unseen_share {
                if u - view.unseen_offset() > UNSEEN_SHARE {
                    add("unseen_categories", u, pv.as_ref().and_then(|p| p.unseen));
                }
            }
            if let Some(k) = windows[i].unit_power {
                add("unit_change", 10f64.powi(k), None);
            }
        }
        (breaks, detail)
    }

    /// The series a late change is looked for in (design.md, "late changes"), each window as
    /// its model sees it (deviations from the baseline, or from the baseline moved by the cycle).
    fn series(&self, bf: &crate::baseline::BaselineFeature, kind: FeatureKind, span: &[View<'_>]) -> Vec<Series> {
        let cfg = &self.cfg;
        let r: Reference = reference(bf);
        let mut out = Vec::new();
        // `value` gives a window's deviation and its variance beyond the window's own sampling
        // variance (the cycle's offset is estimated too).
        let single = |name: &'static str,
                      value: &dyn Fn(&View<'_>) -> Option<(f64, f64)>,
                      var: f64,
                      base_var: f64,
                      min_dev: f64| {
            let with: Vec<(&View<'_>, (f64, f64))> = span.iter().filter_map(|v| Some((v, value(v)?))).collect();
            Series {
                name,
                labels: vec![],
                members: vec![with.iter().map(|(v, (dev, extra))| (v.w.x, *dev, weight(v.w.n, var, *extra))).collect()],
                rows: with.iter().map(|(v, _)| v.w.n).collect(),
                base_var: vec![base_var],
                min_dev,
                df: 1,
            }
        };
        match kind {
            FeatureKind::Numeric => {
                // The window mean is efficient for near-normal tails; for heavy tails (standard
                // deviation far above IQR / 1.349) one large value moves it, so only the median
                // is used there.
                let heavy_tailed = r.iqr > 0.0 && r.sd > HEAVY_TAIL_RATIO * r.iqr / IQR_PER_SD;
                let discrete = r.mass_at_median.is_nan() || r.mass_at_median >= MAX_MASS_AT_MEDIAN;
                if r.sd > 0.0 && r.sd.is_finite() && r.m > 0.0 && (!heavy_tailed || discrete) {
                    let var = r.sd * r.sd;
                    let mean = |v: &View<'_>| {
                        let (off, extra) = v.mean_offset();
                        Some((v.w.mean? - r.mean - off, extra))
                    };
                    out.push(single("mean", &mean, var, var / r.m, MATERIAL_SDS * cfg.min_effect * r.sd));
                }
                // The median's normal approximation holds for continuous data only.
                if r.iqr > 0.0 && r.iqr.is_finite() && r.m > 0.0 && !discrete {
                    let var = (MEDIAN_SE_PER_IQR * r.iqr).powi(2);
                    let median = |v: &View<'_>| {
                        let (off, extra) = v.median_offset()?;
                        Some((v.w.median? - r.median - off, extra))
                    };
                    out.push(single("median", &median, var, var / r.m, MATERIAL_SDS * cfg.min_effect * r.iqr / 1.349));
                }
            }
            FeatureKind::Categorical => {
                // The shares of all categories together (mass moves between two or more of them):
                // Pearson weights, categories - 1 degrees of freedom.
                let Some(cat) = &bf.categorical else {
                    return out;
                };
                let with: Vec<&View<'_>> = span.iter().filter(|v| v.w.shares.len() == cat.counts.len()).collect();
                let mut members = Vec::new();
                let mut labels = Vec::new();
                let mut base_var = Vec::new();
                for (j, (value, count)) in cat.counts.iter().enumerate() {
                    let pb = count / cat.total;
                    if pb.is_nan() || pb <= 0.0 {
                        continue;
                    }
                    members.push(
                        with.iter()
                            .map(|v| {
                                let (off, inv_n) = v.share_offset(j);
                                (v.w.x, v.w.shares[j] - pb - off, weight(v.w.n, pb, pb * inv_n))
                            })
                            .collect(),
                    );
                    labels.push(value.clone());
                    base_var.push(pb / cat.total);
                }
                if members.len() >= 2 {
                    out.push(Series {
                        name: "category_shares",
                        df: members.len() - 1,
                        labels,
                        members,
                        rows: with.iter().map(|v| v.w.n).collect(),
                        base_var,
                        min_dev: cfg.min_effect / 2.0,
                    });
                }
            }
            FeatureKind::Unmonitored => {}
        }
        // Any distribution change: the L-infinity distance, its small-sample bias removed.
        let with: Vec<&View<'_>> = span.iter().filter(|v| v.d().is_some() && v.floor().is_some()).collect();
        let dist: Vec<(f64, f64, f64)> = with
            .iter()
            .filter_map(|v| {
                let d = v.d()?;
                let scale = v.floor()? / crate::drift::distance::C_ALPHA;
                let bias = DISTANCE_BIAS_PER_SCALE * scale;
                Some((v.w.x, (d * d - bias * bias).max(0.0).sqrt(), 1.0 / (DISTANCE_VAR_PER_SCALE2 * scale * scale)))
            })
            .collect();
        out.push(Series {
            name: "distance",
            labels: vec![],
            members: vec![dist],
            rows: with.iter().map(|v| v.w.n).collect(),
            base_var: vec![0.0],
            min_dev: cfg.min_effect,
            df: 1,
        });
        out
    }

    /// The judged windows of feature `i` (at most `limit`, most recent last) as `model` sees
    /// them; windows the model could not judge are left out.
    fn judged_span(&self, i: usize, model: Model, limit: usize) -> Vec<View<'_>> {
        let mut v: Vec<View<'_>> = self.history[i].iter().filter(|w| w.judged).filter_map(|w| w.under(model)).collect();
        let cut = v.len().saturating_sub(limit);
        v.drain(..cut);
        v
    }

    /// Returns, for feature `name`, each series' pooled level z, deviation, materiality bound,
    /// change evidence, step-over-ramp and overdispersion, as the shape test sees them now
    /// (diagnostics for tuning; see `examples/scenarios.rs` and `DRIFTWATCH_TRACE`).
    #[doc(hidden)]
    pub fn trace(&self, baseline: &Baseline, drift: &WindowDrift, name: &str) -> Vec<String> {
        let Some(i) = baseline.position(name) else {
            return vec![];
        };
        let model = self.history[i].back().map(|w| w.model).unwrap_or_default();
        let span = self.judged_span(i, model, self.cfg.trend_windows);
        if span.len() < 8 {
            return vec![];
        }
        let (ed, ew) = self.seasonal.evidence(i);
        let x2s: Vec<String> = self.history[i]
            .back()
            .map(|w| w.cycle.iter().map(|a| format!("{}={:.1}/d{:.3}", a.model.as_str(), a.x2, a.d)).collect())
            .unwrap_or_default();
        let alts: Vec<String> = self.history[i]
            .back()
            .map(|w| {
                self.seasonal
                    .alternatives(model, &w.cycle)
                    .into_iter()
                    .map(|t| {
                        let sp = self.judged_span(i, t, self.cfg.trend_windows);
                        let lv: Vec<String> = self
                            .series(&baseline.features[i], drift.features[i].kind, &sp)
                            .iter()
                            .map(|s| {
                                format!("{}:{:.2}", s.name, pooled_level(s, &sp, &self.cfg).map(|l| l.z).unwrap_or(0.0))
                            })
                            .collect();
                        format!("{}[{}]", t.as_str(), lv.join(","))
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.series(&baseline.features[i], drift.features[i].kind, &span)
            .iter()
            .map(|s| {
                let f = fit_group(&s.members);
                let phi = f.as_ref().map(|f| overdispersion(f, s)).unwrap_or(1.0);
                let lvl = pooled_level(s, &span, &self.cfg);
                format!(
                    "{} [{} ev {ed:.1}/{ew:.1} {} alt {}]: z={:.2} dev={:.4} min_dev={:.4} ev={:.1}/{:.1} sor={:.1} phi={:.2} streak={}",
                    s.name,
                    model.as_str(),
                    x2s.join(" "),
                    alts.join(" "),
                    lvl.map(|l| l.z / phi.sqrt()).unwrap_or(0.0),
                    lvl.map(|l| l.dev).unwrap_or(0.0),
                    s.min_dev,
                    f.as_ref().map(|f| f.change_evidence() / phi).unwrap_or(0.0),
                    evidence_threshold(self.cfg.change_evidence, s.df),
                    f.as_ref().map(|f| f.step_over_ramp()).unwrap_or(0.0),
                    phi,
                    self.shape_streak[i],
                )
            })
            .collect()
    }

    /// Looks for a change that no single step explains, and tells a ramp from a small step by the
    /// shape of the series since it started (design.md).
    fn shape_evidence(
        &self,
        i: usize,
        bf: &crate::baseline::BaselineFeature,
        kind: FeatureKind,
        idx: u64,
        cfg: &ClassifierConfig,
        model: Model,
    ) -> Option<ShapeHit> {
        let h = &self.history[i];
        let span = self.judged_span(i, model, cfg.trend_windows);
        if span.len() < 8 {
            return None;
        }
        // A step detected inside the span explains the change: that is the step's episode.
        let span_windows = h.iter().rev().take_while(|w| w.start >= span[0].w.start).count() as u64;
        if self.last_step[i].is_some_and(|s| s + span_windows > idx) {
            return None;
        }
        let mut best: Option<ShapeHit> = None;
        for series in self.series(bf, kind, &span) {
            let n = series.rows.len();
            if n < 8 {
                continue;
            }
            let Some(f) = fit_group(&series.members) else {
                continue;
            };
            // Overdispersion: when the series scatters more than its sampling variance says
            // (heavy tails, sketch error), evidence is deflated by the scatter around the best
            // change model.
            let phi = overdispersion(&f, &series);
            let Some(level) = pooled_level(&series, &span, cfg) else {
                continue;
            };
            let z = level.z / phi.sqrt();
            if z.abs() <= cfg.z_level || level.dev.abs() < series.min_dev {
                continue;
            }
            // The deviation is current, not only in the pooled past.
            if !latest_agrees(&series, &level) {
                continue;
            }
            if f.change_evidence() / phi < evidence_threshold(cfg.change_evidence, series.df) {
                continue;
            }
            // The ramp must point where the level went.
            let toward: f64 = f
                .slopes
                .iter()
                .zip(&series.members)
                .map(|(s, m)| {
                    let last = m.last().map(|p| p.1).unwrap_or(0.0);
                    s * last
                })
                .sum();
            let (kind, tau) = if f.step_over_ramp() > STEP_MARGIN * series.df as f64 {
                (Kind::Sudden, f.tau_step)
            } else if toward > 0.0 {
                (Kind::Gradual, f.tau_hinge)
            } else {
                continue;
            };
            let member = &series.members[level.member];
            let ramp: Vec<(f64, f64)> = member[tau.min(n.saturating_sub(4))..].iter().map(|p| (p.0, p.1)).collect();
            let hit = ShapeHit {
                feature: i,
                kind,
                series: series.name,
                category: series.labels.get(level.member).cloned(),
                z_pool: z,
                dev: level.dev,
                onset_x: member[tau].0,
                trend: mann_kendall(&ramp),
                fit: f,
            };
            if best.as_ref().is_none_or(|b| hit.z_pool.abs() > b.z_pool.abs()) {
                best = Some(hit);
            }
        }
        best
    }

    /// Whether the change `hit` found for feature `i` is also one under `model`: the same
    /// series' pooled level beyond `z_level`, material, the latest window agreeing (the first
    /// tests of [`Self::shape_evidence`]), and at least [`CYCLE_EXPLAINS_AT_MOST`] of the
    /// deviation left (a cycle that explains most of it explains the change).
    fn level_holds(
        &self,
        i: usize,
        bf: &crate::baseline::BaselineFeature,
        kind: FeatureKind,
        model: Model,
        hit: &ShapeHit,
        cfg: &ClassifierConfig,
    ) -> bool {
        let span = self.judged_span(i, model, cfg.trend_windows);
        if span.len() < 4 {
            return false;
        }
        self.series(bf, kind, &span).iter().filter(|s| s.name == hit.series).any(|series| {
            let phi = fit_group(&series.members).map(|f| overdispersion(&f, series)).unwrap_or(1.0);
            pooled_level(series, &span, cfg).is_some_and(|level| {
                (level.z / phi.sqrt()).abs() > cfg.z_level
                    && level.dev.abs() >= series.min_dev
                    // Deviations compare across models; a distance does not (under a cycle it is
                    // binned, and its bias is removed with the slots' noise too).
                    && (series.name == "distance" || level.dev.abs() >= CYCLE_EXPLAINS_AT_MOST * hit.dev.abs())
                    && latest_agrees(series, &level)
            })
        })
    }

    fn transition(&mut self, c: &DecisionContext<'_>, cfg: &ClassifierConfig) -> Vec<Decision> {
        let end = c.closed.window.end;
        let late_steps: Vec<&ShapeHit> = c.shapes.iter().filter(|s| s.kind == Kind::Sudden).collect();
        let ramps: Vec<&ShapeHit> = c.shapes.iter().filter(|s| s.kind == Kind::Gradual).collect();
        let sudden_now = !c.steps.is_empty() || !c.new_breaks.is_empty() || !late_steps.is_empty();
        let name = |i: usize| c.baseline.features[i].name.clone();
        // Sudden features: broken ones first, then stepping ones by step size, then late steps.
        let mut sudden_features: Vec<String> = Vec::new();
        let push = |v: &mut Vec<String>, f: String| {
            if !v.contains(&f) {
                v.push(f);
            }
        };
        // A field the baseline does not have (an extra column) is named too: an event always
        // says what it is about. Window-level breaks (most rows skipped) have no field.
        for b in c.new_breaks {
            if !b.feature.is_empty() {
                push(&mut sudden_features, b.feature.clone());
            }
        }
        for s in c.steps {
            push(&mut sudden_features, name(s.feature));
        }
        for s in &late_steps {
            push(&mut sudden_features, name(s.feature));
        }
        let gradual_features: Vec<String> = ramps.iter().map(|s| name(s.feature)).collect();

        let mut out = Vec::new();
        match self.episode.take() {
            None => {
                if sudden_now {
                    let onset = self.sudden_onset(c, &late_steps);
                    let mut ep = self.open(Kind::Sudden, onset, end, sudden_features.clone());
                    let evidence = sudden_evidence(c, &late_steps, &self.history);
                    out.push(self.decision(&mut ep, Kind::Sudden, c, &sudden_features, evidence, &[]));
                    self.episode = Some(ep);
                } else if !ramps.is_empty() {
                    let onset = self.shape_onset(ramps[0], c.closed);
                    let mut ep = self.open(Kind::Gradual, onset, end, gradual_features.clone());
                    let evidence = gradual_evidence(c, &ramps, &self.history);
                    out.push(self.decision(&mut ep, Kind::Gradual, c, &gradual_features, evidence, &ramps));
                    self.episode = Some(ep);
                }
            }
            Some(mut ep) => {
                for f in sudden_features.iter().chain(&gradual_features) {
                    push(&mut ep.features, f.clone());
                }
                let quiet = c.breaks.is_empty() && !self.episode_material(&ep, c, cfg);
                // A gradual episode that turns into a step says so, once: a break, or a step that
                // takes the window materially further from the baseline (a drifting distribution
                // also moves sideways at the turns of a cycle).
                let rising =
                    |s: &&StepHit| s.step.d_ref - s.step.d_ref_before > s.step.d_ref_floor_dec.max(cfg.min_effect);
                let fresh_step = c.steps.iter().any(|s| rising(&s)) || !c.new_breaks.is_empty();
                if ep.kind == Kind::Gradual && fresh_step && ep.kind_changes == 0 {
                    ep.kind = Kind::Sudden;
                    ep.kind_changes += 1;
                    ep.quiet = 0;
                    ep.quiet_since = None;
                    let mut ranked = sudden_features.clone();
                    for f in &ep.features {
                        push(&mut ranked, f.clone());
                    }
                    let evidence = sudden_evidence(c, &[], &self.history);
                    out.push(self.decision(&mut ep, Kind::Sudden, c, &ranked, evidence, &[]));
                    self.episode = Some(ep);
                } else if quiet {
                    ep.quiet += 1;
                    let quiet_since = *ep.quiet_since.get_or_insert(c.closed.window.start);
                    // On a cycle, quiet must last a whole day: a change that shows only at some
                    // hours (the night mix moving) would otherwise resolve every morning and come
                    // back every night as the same episode.
                    let cyclic = ep
                        .features
                        .iter()
                        .any(|f| c.baseline.position(f).is_some_and(|i| !c.windows[i].model.is_none()));
                    let quiet_long_enough =
                        !cyclic || end.millis() - quiet_since.millis() >= Duration::from_hours(24).millis();
                    if ep.quiet >= cfg.cooldown && quiet_long_enough {
                        let features = ep.features.clone();
                        let evidence = Evidence::Resolved(ResolvedEvidence {
                            decision: QuietBasis::Quiet,
                            episode_kind: ep.kind.as_str(),
                            quiet_windows: ep.quiet,
                            episode_decided_at: ep.decided_at.to_string(),
                            quiet_since: cyclic.then(|| quiet_since.to_string()),
                            trimmed: Trimmed::default(),
                        });
                        out.push(self.decision(&mut ep, Kind::Resolved, c, &features, evidence, &[]));
                        self.finished.push(summary_of(&ep, Some(end)));
                    } else {
                        self.episode = Some(ep);
                    }
                } else {
                    ep.quiet = 0;
                    ep.quiet_since = None;
                    self.episode = Some(ep);
                }
            }
        }
        out
    }

    /// Whether any feature of the episode is still off the baseline: materially in this window,
    /// or, for gradual episodes, by the pooled levels they were decided on (with hysteresis:
    /// `z_level / 1.5`), so that a slow drift does not flap between open and resolved. A sudden
    /// shift that reverted resolves on the windows alone.
    fn episode_material(&self, ep: &Episode, c: &DecisionContext<'_>, cfg: &ClassifierConfig) -> bool {
        ep.features.iter().any(|name| {
            let Some(i) = c.baseline.position(name) else {
                return false;
            };
            let w = &c.windows[i];
            let v = w.judged_view();
            if w.judged && matches!((v.d(), v.floor_dec()), (Some(d), Some(f)) if d > f.max(cfg.min_effect)) {
                return true;
            }
            // A sudden shift that reverted resolves on the windows alone; gradual episodes also
            // look at the pooled levels they were decided on (hysteresis against flapping).
            if ep.kind != Kind::Gradual {
                return false;
            }
            let span = self.judged_span(i, w.model, cfg.trend_windows);
            if span.len() < 4 {
                return false;
            }
            self.series(&c.baseline.features[i], c.drift.features[i].kind, &span).iter().any(|s| {
                pooled_level(s, &span, cfg)
                    .is_some_and(|l| l.z.abs() > cfg.z_level / RESOLVE_HYSTERESIS && l.dev.abs() >= s.min_dev)
            })
        })
    }

    fn open(&self, kind: Kind, onset: Timestamp, decided_at: Timestamp, features: Vec<String>) -> Episode {
        let h1 =
            mix64(hash_str(&self.stream.endpoint) ^ mix64(hash_str(&self.stream.variant)) ^ decided_at.millis() as u64);
        let h2 = mix64(h1 ^ 0x5bd1_e995);
        Episode {
            id: uuid_from(h1, h2),
            first_kind: kind,
            kind,
            onset,
            decided_at,
            features,
            events: 0,
            kind_changes: 0,
            quiet: 0,
            quiet_since: None,
        }
    }

    fn decision(
        &self,
        ep: &mut Episode,
        kind: Kind,
        c: &DecisionContext<'_>,
        features: &[String],
        evidence: Evidence,
        shapes: &[&ShapeHit],
    ) -> Decision {
        ep.events += 1;
        let end = c.closed.window.end;
        let h1 = mix64(hash_str(&ep.id) ^ mix64(end.millis() as u64) ^ hash_str(kind.as_str()));
        let event_id = uuid_from(h1, mix64(h1 ^ 0x9e37_79b9_7f4a_7c15));
        let features: Vec<FeatureEvidence> = features
            .iter()
            .map(|name| {
                let Some(i) = c.baseline.position(name) else {
                    // Not a baseline feature: the break that named it is the metric.
                    let signal = c.break_detail.iter().find(|d| d.feature.as_deref() == Some(name.as_str()));
                    return FeatureEvidence {
                        metric: signal.map_or("extra_column", |d| d.signal),
                        name: name.clone(),
                        value: signal.and_then(|d| d.value),
                        threshold: None,
                        noise_floor: None,
                        step_value: None,
                        trend: None,
                    };
                };
                let fd = &c.drift.features[i];
                let bf = &c.baseline.features[i];
                let threshold = if fd.kind == FeatureKind::Categorical {
                    bf.config.categorical_comparison_threshold
                } else {
                    bf.config.comparison_threshold
                };
                let step = c
                    .steps
                    .iter()
                    .find(|s| s.feature == i)
                    .map(|s| s.step.d_step)
                    .or(c.windows[i].step.map(|s| s.d_step));
                FeatureEvidence {
                    metric: FeatureEvidence::METRIC,
                    name: name.clone(),
                    value: fd.linf_robust,
                    threshold: Some(threshold),
                    noise_floor: fd.linf_noise_floor,
                    step_value: step,
                    trend: shapes.iter().find(|t| t.feature == i).and_then(|t| t.trend),
                }
            })
            .collect();
        let names: BTreeSet<&str> = features.iter().map(|f| f.name.as_str()).collect();
        let violations = c
            .drift
            .violations
            .iter()
            .filter(|v| names.contains(v.feature_name.as_str()) || c.baseline.position(&v.feature_name).is_none())
            .cloned()
            .collect();
        Decision {
            kind,
            episode_id: ep.id.clone(),
            event_id,
            detected_at: end,
            onset: ep.onset,
            features,
            violations,
            evidence,
        }
    }

    fn sudden_onset(&self, c: &DecisionContext<'_>, late: &[&ShapeHit]) -> Timestamp {
        let start = c.closed.window.start;
        let len = c.closed.window.end.millis() - start.millis();
        if let Some(s) = c.steps.first() {
            // A two-window step started in the previous window; then walk back while the top
            // feature was already off the baseline.
            let mut onset = if s.windows == 2 { start - Duration::from_millis(len) } else { start };
            let h = &self.history[s.feature];
            let model = c.windows[s.feature].model;
            let Some(cur) = h.back().and_then(|w| w.under(model)?.d()) else {
                return onset;
            };
            for w in h.iter().rev().skip(s.windows as usize) {
                let v = w.under(model);
                match (v.and_then(|v| v.d()), v.and_then(|v| v.floor()), w.start) {
                    (Some(d), Some(f), Some(st)) if d > f && d >= ONSET_SHARE_OF_STEP * cur => onset = st,
                    _ => break,
                }
            }
            return onset;
        }
        if c.new_breaks.is_empty() {
            if let Some(s) = late.first() {
                return self.shape_onset(s, c.closed);
            }
        }
        start
    }

    fn shape_onset(&self, hit: &ShapeHit, closed: &ClosedWindow) -> Timestamp {
        let first = self.first_start.unwrap_or(closed.window.start);
        let hours = hit.onset_x.clamp(0.0, (closed.window.start.millis() - first.millis()) as f64 / 3_600_000.0);
        Timestamp::from_millis(first.millis() + (hours * 3_600_000.0).round() as i64)
    }
}

/// Steps in at least this many features at once (and [`PIPELINE_BUG_MIN_SHARE`] of the monitored
/// ones) mark the evidence `likelyPipelineBug`: a population rarely moves that many features in
/// one window, an upstream change often does (`design.md`).
const PIPELINE_BUG_MIN_FEATURES: usize = 3;
/// See [`PIPELINE_BUG_MIN_FEATURES`].
const PIPELINE_BUG_MIN_SHARE: f64 = 0.3;
/// Windows of per-feature history kept beyond `trend_windows`: the history holds every window,
/// the shape tests read only judged ones (`judged_span`), so this many windows that were not
/// judged (too few rows) may sit among the last `trend_windows` judged ones.
const HISTORY_SLACK_WINDOWS: usize = 8;
/// A window-level break (`rows_skipped`) needs more than this share of rows skipped, as the
/// column checks do: a few malformed rows are counted, not a schema change.
const MOST_ROWS: f64 = 0.5;
/// The IQR of a normal distribution in standard deviations (2 * 0.6745).
const IQR_PER_SD: f64 = 1.349;
/// The standard error of a median, per IQR, for n = 1: sqrt(pi / 2) / 1.349 (the median's
/// asymptotic variance, pi/2 * sd^2 / n, with sd estimated as IQR / 1.349).
const MEDIAN_SE_PER_IQR: f64 = 0.93;
/// Variance of a bias-corrected L-infinity distance per squared noise scale (its spread is about
/// half a scale), the weight of a window in the distance series' fit.
const DISTANCE_VAR_PER_SCALE2: f64 = 0.25;

/// How much better (weighted chi-square units) a step must fit than a ramp to be called a step.
const STEP_MARGIN: f64 = 6.0;
/// A change found under one model counts under a cycle model that could explain it only if at
/// least this share of its deviation is left there: a cycle that explains most of it explains
/// the change (what is left is the noise of slots that have seen an hour once or twice).
const CYCLE_EXPLAINS_AT_MOST: f64 = 0.5;
/// Smallest step (L-infinity) while a feature's cycle cannot be judged yet (the stream's first
/// day, or a cycle on trial that cannot judge the step): a daily cycle that moves a category's
/// share by 25 points between day and night, as a cosine, moves it by about 0.065 over the
/// three-window lookback at its steepest, so twice `min_effect` stays clear of it.
const COLD_START_STEP_EFFECT: f64 = 0.1;
/// Completeness this far below the expected is a null flood (design.md, "Sudden").
const NULL_FLOOD_DROP: f64 = 0.1;
/// Values the baseline never saw beyond this share are a break.
const UNSEEN_SHARE: f64 = 0.1;
/// Below this share of values of the expected type, the type flipped.
const MIN_TYPE_MATCH: f64 = 0.9;
/// A pooled level counts as material at this many `min_effect`s of the standard deviation (or
/// of IQR / 1.349 for the median).
const MATERIAL_SDS: f64 = 2.5;
/// The bias of the L-infinity distance between two samples of one distribution, in units of
/// its scale `sqrt((n + m) / (n m))`: the mean of the Kolmogorov distribution, `sqrt(pi / 2)
/// ln 2 = 0.8687`.
const DISTANCE_BIAS_PER_SCALE: f64 = 0.87;
/// An episode stays open while a pooled level of its features is above `z_level` divided by
/// this (hysteresis against flapping between open and resolved).
const RESOLVE_HYSTERESIS: f64 = 1.5;
/// Walking back from a step to its onset: earlier windows count while their distance is at
/// least this share of the step window's.
const ONSET_SHARE_OF_STEP: f64 = 0.25;
/// Above this share of the baseline at its median, the median series is not used (discrete data).
const MAX_MASS_AT_MEDIAN: f64 = 0.02;
/// Rows the pooled level aims for (see `pooled_level`).
const POOL_ROWS: f64 = 2000.0;
/// A standard deviation this many times the normal one for the IQR marks heavy tails.
const HEAVY_TAIL_RATIO: f64 = 1.5;

/// Everything a decision looks at.
struct DecisionContext<'a> {
    baseline: &'a Baseline,
    closed: &'a ClosedWindow,
    drift: &'a WindowDrift,
    windows: &'a [FeatureWindow],
    steps: &'a [StepHit],
    many_stepping: bool,
    shapes: &'a [ShapeHit],
    breaks: &'a BTreeSet<Break>,
    new_breaks: &'a [Break],
    break_detail: &'a [BreakSignal],
}

/// The weight (inverse variance) of a window's deviation: `n` values of variance `var` each, and
/// `extra` variance from the cycle's offset (computed as `n / var` without one, as it always was,
/// so that streams without a cycle decide to the bit as before).
fn weight(n: f64, var: f64, extra: f64) -> f64 {
    if extra == 0.0 {
        n / var
    } else {
        1.0 / (var / n + extra)
    }
}

/// The change evidence needed at `df` degrees of freedom: the chi-square quantile with the same
/// tail probability as `base` has at one degree of freedom.
fn evidence_threshold(base: f64, df: usize) -> f64 {
    if df <= 1 {
        return base;
    }
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    match (ChiSquared::new(1.0), ChiSquared::new(df as f64)) {
        (Ok(one), Ok(many)) => many.inverse_cdf(one.cdf(base)),
        _ => base,
    }
}

/// Scatter of a series around its best change model, relative to its sampling variance (>= 1).
fn overdispersion(f: &Fit, s: &Series) -> f64 {
    let n = s.rows.len() as f64;
    let dof = (n - 3.0) * s.df as f64;
    if dof <= 0.0 {
        return 1.0;
    }
    (f.sse_step.min(f.sse_hinge) / dof).max(1.0)
}

/// Whether the latest window deviates the way the pooled level does (one member: at least one
/// standard error in its direction; a group: a Pearson statistic at least its expectation).
fn latest_agrees(s: &Series, level: &Level) -> bool {
    if s.members.len() == 1 {
        let Some(p) = s.members[0].last() else {
            return false;
        };
        return p.1 * level.z.signum() * p.2.sqrt() >= 1.0;
    }
    let x2: f64 = s.members.iter().filter_map(|m| m.last()).map(|p| p.1 * p.1 * p.2).sum();
    x2 >= s.df as f64
}

/// The level of a series over its last judged windows: at least four, more (up to twelve) until
/// they hold `POOL_ROWS` rows, so that small night windows do not starve it of power. For the
/// distance series the level counts only when the distance was above its 1.8 floor and
/// `min_effect` in three of the last four judged windows.
fn pooled_level(series: &Series, span: &[View<'_>], cfg: &ClassifierConfig) -> Option<Level> {
    let n = series.rows.len();
    if n < 4 || span.len() < 4 {
        return None;
    }
    let mut k = 4;
    while k < n.min(12) && series.rows[n - k..].iter().sum::<f64>() < POOL_ROWS {
        k += 1;
    }
    if series.name == "distance" {
        let above = span[span.len() - 4..]
            .iter()
            .filter(|v| matches!((v.d(), v.floor()), (Some(d), Some(f)) if d > f.max(cfg.min_effect)))
            .count();
        if above < 3 {
            return Some(Level { z: 0.0, dev: 0.0, member: 0 });
        }
        let last4 = &series.members[0][n - 4..];
        let wsum: f64 = last4.iter().map(|p| p.2).sum();
        let pooled = last4.iter().map(|p| p.1).sum::<f64>() / 4.0;
        return Some(Level { z: pooled * wsum.sqrt(), dev: pooled, member: 0 });
    }
    let mut stat = 0.0;
    let mut best = (0.0f64, 0usize, 0.0f64);
    for (j, m) in series.members.iter().enumerate() {
        let pts = &m[n - k..];
        let wsum: f64 = pts.iter().map(|p| p.2).sum();
        if wsum <= 0.0 {
            return None;
        }
        let mean = pts.iter().map(|p| p.2 * p.1).sum::<f64>() / wsum;
        let z = mean / (1.0 / wsum + series.base_var[j]).sqrt();
        stat += z * z;
        if mean.abs() > best.0.abs() {
            best = (mean, j, z);
        }
    }
    if series.members.len() == 1 {
        return Some(Level { z: best.2, dev: best.0, member: 0 });
    }
    // A Pearson chi-square with `df` degrees of freedom, as a one-sided normal equivalent.
    use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
    let tail = ChiSquared::new(series.df as f64).map(|c| c.sf(stat)).unwrap_or(1.0).max(1e-300);
    let z = Normal::standard().inverse_cdf(1.0 - tail).min(40.0);
    Some(Level { z, dev: best.0, member: best.1 })
}

fn summary_of(e: &Episode, resolved_at: Option<Timestamp>) -> EpisodeSummary {
    EpisodeSummary {
        id: e.id.clone(),
        first_kind: e.first_kind,
        kind: e.kind,
        onset: e.onset,
        decided_at: e.decided_at,
        resolved_at,
        features: e.features.clone(),
        events: e.events,
    }
}

fn series_of(baseline: &Baseline, history: &[VecDeque<FeatureWindow>], features: &[usize]) -> Trimmed {
    let mut out = BTreeMap::new();
    for &i in features {
        let h = &history[i];
        let take = h.len().min(12);
        let tail: Vec<&FeatureWindow> = h.iter().skip(h.len() - take).collect();
        out.insert(
            baseline.features[i].name.clone(),
            FeatureSeries {
                window_starts: tail.iter().map(|w| w.start.map(|s| s.to_string())).collect(),
                rows: tail.iter().map(|w| w.n).collect(),
                distance: tail.iter().map(|w| w.d_ref.map(round6)).collect(),
                noise_floor: tail.iter().map(|w| w.floor_ref.map(round6)).collect(),
                step: tail.iter().map(|w| w.step.map(|s| round6(s.d_step))).collect(),
                step_noise_floor: tail.iter().map(|w| w.step.map(|s| round6(s.floor))).collect(),
            },
        );
    }
    Trimmed { series: Some(out), ..Trimmed::default() }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn shape_of(c: &DecisionContext<'_>, s: &ShapeHit) -> ShapeEvidence {
    ShapeEvidence {
        feature: c.baseline.features[s.feature].name.clone(),
        series: s.series,
        category: s.category.clone(),
        level_z: round6(s.z_pool),
        change_evidence: round6(s.fit.change_evidence()),
        step_over_ramp: round6(s.fit.step_over_ramp()),
        ramp_slope_per_hour: s.fit.slope,
        mann_kendall: s.trend,
    }
}

fn sudden_evidence(c: &DecisionContext<'_>, late: &[&ShapeHit], history: &[VecDeque<FeatureWindow>]) -> Evidence {
    let step = c.steps.first().map(|s| {
        let st = s.step;
        let rise = (st.d_ref - st.d_ref_before).max(0.0);
        StepEvidence {
            feature: c.baseline.features[s.feature].name.clone(),
            windows: s.windows,
            step_distance: round6(st.d_step),
            step_noise_floor: round6(st.floor),
            step_decision_floor: round6(st.floor_dec),
            distance: round6(st.d_ref),
            distance_before: round6(st.d_ref_before),
            step_share: (rise > 0.0).then(|| round6(st.d_step / rise)),
        }
    });
    let signals: Vec<BreakSignal> = c
        .break_detail
        .iter()
        .filter(|d| {
            c.new_breaks
                .iter()
                .any(|b| d.signal == b.signal.as_str() && d.feature.as_deref().unwrap_or("") == b.feature)
        })
        .cloned()
        .collect();
    let mut series_features: Vec<usize> = c.steps.iter().map(|s| s.feature).take(3).collect();
    for b in c.new_breaks {
        if let Some(i) = c.baseline.position(&b.feature) {
            if !series_features.contains(&i) && series_features.len() < 3 {
                series_features.push(i);
            }
        }
    }
    let decision = if !signals.is_empty() {
        SuddenBasis::Schema
    } else if !c.steps.is_empty() {
        SuddenBasis::Step
    } else {
        SuddenBasis::LateStep
    };
    let likely_pipeline_bug = !signals.is_empty() || c.many_stepping;
    Evidence::Sudden(SuddenEvidence {
        decision,
        signals,
        step,
        late_step: late.first().map(|s| shape_of(c, s)),
        features_stepping: c.steps.len(),
        features_monitored: c.windows.iter().filter(|w| w.d_ref.is_some()).count(),
        many_features_stepping: c.many_stepping,
        likely_pipeline_bug,
        trimmed: series_of(c.baseline, history, &series_features),
        cycles: cycles_of(c, &series_features),
    })
}

/// What the learned cycles contributed to a decision (only for features judged under one).
fn cycles_of(c: &DecisionContext<'_>, features: &[usize]) -> Vec<CycleEvidence> {
    features
        .iter()
        .filter_map(|&i| {
            let w = &c.windows[i];
            let a = w.judged_view().adj?;
            Some(CycleEvidence {
                feature: c.baseline.features[i].name.clone(),
                model: w.model.as_str(),
                reference: w.model.reference(),
                distance_to_expected: round6(a.d),
                noise_floor: round6(a.floor),
                cycle_distance: round6(a.cycle_d),
            })
        })
        .collect()
}

fn gradual_evidence(c: &DecisionContext<'_>, ramps: &[&ShapeHit], history: &[VecDeque<FeatureWindow>]) -> Evidence {
    let top = ramps[0];
    let w = &c.windows[top.feature];
    let shown: Vec<usize> = ramps.iter().map(|g| g.feature).take(3).collect();
    Evidence::Gradual(GradualEvidence {
        decision: TrendBasis::Trend,
        trend: shape_of(c, top),
        distance: w.d_ref.map(round6),
        noise_floor: w.floor_ref.map(round6),
        comparison_threshold: c.baseline.features[top.feature].config.comparison_threshold,
        features_trending: ramps.iter().map(|g| c.baseline.features[g.feature].name.clone()).collect(),
        trimmed: series_of(c.baseline, history, &shown),
        cycles: cycles_of(c, &shown),
    })
}

fn hash_str(s: &str) -> u64 {
    crate::profile::hll::hash_bytes(s.as_bytes())
}

/// Formats 128 bits as a UUID (version 8, RFC 9562 "custom").
pub(crate) fn uuid_from(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_8000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests;
