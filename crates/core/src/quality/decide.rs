//! Model-quality episodes: is the model worse than its baseline beyond sampling noise, and did
//! it get worse in one step (a new model version, a broken feature upstream: investigate) or
//! slowly (the world moved: retrain)?
//!
//! Per window and headline metric (binary: accuracy, F1, AUC; multiclass: accuracy, weighted
//! F1; regression: RMSE, MAE; those the quality baseline constrains), the deviation from the
//! baseline is taken in the worse direction and judged against its sampling error: the
//! window's (a seeded bootstrap of its labelled rows, [`BOOTSTRAP_DRAWS`] draws) and the
//! baseline's (twice Model Monitor's 80%-draw standard deviation: a draw of 80% of `n` rows
//! varies about the full sample by `sqrt(0.2/0.8) = 1/2` of the full sample's own sampling error).
//! A window is degraded when a metric is worse by more than [`Z_DEGRADED`] sampling errors and
//! by more than [`MIN_RELATIVE_DROP`] of the baseline value (material, not only significant).
//!
//! An episode opens after [`CONFIRM_WINDOWS`] degraded windows in a row. Its kind comes from
//! the shape of the deviations over the last windows, with the classifier's step-or-ramp fit
//! (weighted by the sampling variances): a step is sudden, a ramp gradual; with fewer than six
//! judged windows there is no ramp to see and the episode is sudden. It resolves after
//! [`RESOLVE_WINDOWS`] windows within [`Z_QUIET`] sampling errors of the baseline. One event
//! per episode and one when it resolves.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::files::{QualityConstraints, QualityStatistics};
use super::metrics::{compute_scalars, LabelledRows};
use super::ProblemType;
use crate::capture::layout::StreamId;
use crate::classify::{uuid_from, Kind};
use crate::profile::hll::{fnv1a, mix64};
use crate::time::{Timestamp, Window};

/// Bootstrap draws behind a window's sampling errors: enough for an error to within about 10%
/// (the error of a standard deviation from B draws is about `1/sqrt(2B)`), few enough to cost
/// little next to the window's other work.
pub const BOOTSTRAP_DRAWS: usize = 50;
/// Sampling errors a metric must be worse than the baseline by for the window to count as
/// degraded: three keeps a stationary model quiet over hundreds of windows and metrics.
pub const Z_DEGRADED: f64 = 3.0;
/// Share of the baseline value a metric must fall (errors: rise) by: a drop that is significant
/// in a busy window but immaterial (0.91 to 0.905) is not a degradation.
pub const MIN_RELATIVE_DROP: f64 = 0.03;
/// Degraded windows in a row before an episode opens (one noisy window does not page).
pub const CONFIRM_WINDOWS: u32 = 2;
/// Windows back within [`Z_QUIET`] before an episode resolves.
pub const RESOLVE_WINDOWS: u32 = 3;
/// Sampling errors within which a metric counts as back at its baseline.
pub const Z_QUIET: f64 = 1.5;
/// Pooled errors over a data-drift episode's judged windows beyond which quality is declining
/// (lower than [`Z_DEGRADED`]: several windows together are evidence that one is not).
pub const Z_POOLED_DECLINE: f64 = 2.0;
/// Judged windows kept for the shape of an episode (two days of hourly windows).
pub const HISTORY_WINDOWS: usize = 48;
/// Windows right before a degraded run that must all be quiet for the change to be a step:
/// with only [`CONFIRM_WINDOWS`] points after a change, a steep ramp fits them as well as a
/// step does, but a ramp shows in the windows before the run and a step does not.
pub const QUIET_BEFORE_STEP: usize = 3;
/// How much better (in weighted-SSE units) the step must fit than the ramp to call it sudden.
pub const STEP_OVER_RAMP: f64 = 2.0;
/// The bootstrap cannot show variation a window's rows do not have (a window of one class
/// gives the same value in every draw): for metrics bounded by [0, 1] the sampling error is at
/// least the binomial maximum, `0.5 / sqrt(n)`, times this factor (1: that maximum itself).
const BOUNDED_ERROR_FLOOR: f64 = 1.0;
/// Fewest judged windows the step-or-ramp fit needs.
const MIN_FIT_POINTS: usize = 6;
/// The variance of a deviation that could not be measured (the metric was undefined in that
/// window): so large that the point weighs nothing in the fit, yet finite.
pub(crate) const UNKNOWN_VARIANCE: f64 = 1e12;

/// The kind, onset and basis of an episode opening at `window` after `run` windows beyond
/// noise in a row, from the deviations of the metrics at `members` (indexes into each point's
/// `devs`) over `history`: sudden when the history is too short for a ramp, when quiet windows
/// came right before the run, or when a step fits better than a ramp; gradual otherwise. Model
/// quality and bias episodes alike.
pub(crate) fn episode_shape(
    history: &VecDeque<Point>,
    run: usize,
    window: Window,
    members: &[usize],
) -> (Kind, Timestamp, &'static str) {
    let first = history.len().saturating_sub(run);
    let fallback = history.get(first).map_or(window.start, |p| p.start);
    // Quiet windows right before the run: the change came in one step.
    let quiet_before = first >= QUIET_BEFORE_STEP && history.range(first - QUIET_BEFORE_STEP..first).all(|p| p.quiet);
    if history.len() < MIN_FIT_POINTS {
        return (Kind::Sudden, fallback, "short_history");
    }
    if quiet_before {
        return (Kind::Sudden, fallback, "step");
    }
    let series: Vec<Vec<(f64, f64, f64)>> = members
        .iter()
        .map(|&k| {
            history
                .iter()
                .map(|p| {
                    let (dev, var) = p.devs.get(k).copied().unwrap_or((0.0, UNKNOWN_VARIANCE));
                    ((p.start.millis() - window.start.millis()) as f64 / 3_600_000.0, dev, 1.0 / var)
                })
                .collect()
        })
        .collect();
    match crate::classify::shape::fit_group(&series) {
        Some(fit) if fit.step_over_ramp() > STEP_OVER_RAMP => {
            (Kind::Sudden, history.get(fit.tau_step).map_or(fallback, |p| p.start), "step")
        }
        Some(fit) => (Kind::Gradual, history.get(fit.tau_hinge).map_or(fallback, |p| p.start), "ramp"),
        None => (Kind::Sudden, fallback, "short_history"),
    }
}

/// One metric of one window against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricJudgement {
    /// The metric (`accuracy`, `f1`, ...).
    pub name: String,
    /// The baseline's value (the constraint's threshold).
    pub baseline: f64,
    /// The window's value.
    pub value: f64,
    /// The window's sampling error (bootstrap).
    pub standard_error: f64,
    /// 95% interval of the window's value.
    pub interval: [f64; 2],
    /// The constraint's operator (`LessThanThreshold`: higher is better).
    pub comparison_operator: String,
    /// How many sampling errors worse than the baseline (negative: better).
    pub z: f64,
    /// Worse beyond noise and materially.
    pub degraded: bool,
}

/// A decision about model quality (one per episode, and one when it resolves).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityDecision {
    /// Sudden, gradual or resolved.
    pub kind: Kind,
    /// Stable id of the episode.
    pub episode_id: String,
    /// Stable id of the event.
    pub event_id: String,
    /// End of the deciding window.
    pub detected_at: Timestamp,
    /// Data time the deciding window was judged at (its labels' time; its end for estimates).
    pub judged_at: Timestamp,
    /// Start of the first window of the change.
    pub onset: Timestamp,
    /// The headline metrics in the deciding window.
    pub metrics: Vec<MetricJudgement>,
    /// Labelled rows in the deciding window (predictions, for an estimate).
    pub labelled: u64,
    /// Whether the metrics are estimated without labels.
    pub estimated: bool,
    /// How the kind was decided.
    pub basis: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point {
    pub(crate) start: Timestamp,
    /// Every headline metric within [`Z_QUIET`] of the baseline.
    pub(crate) quiet: bool,
    /// Per headline metric: (deviation in the worse direction, its variance).
    pub(crate) devs: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Episode {
    id: String,
    kind: Kind,
    onset: Timestamp,
    quiet: u32,
}

/// One stream's model-quality state (kept in checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityClassifier {
    stream: StreamId,
    /// Headline metrics: (name, baseline value, baseline sampling error, higher is better).
    headline: Vec<(String, f64, f64, bool)>,
    history: VecDeque<Point>,
    degraded_run: u32,
    episode: Option<Episode>,
}

/// The headline metrics of a problem type, most telling first.
fn headline_names(problem: ProblemType) -> &'static [&'static str] {
    match problem {
        ProblemType::BinaryClassification => &["accuracy", "f1", "auc"],
        ProblemType::MulticlassClassification => &["accuracy", "weighted_f1"],
        ProblemType::Regression => &["rmse", "mae"],
    }
}

/// Whether a metric lies in [0, 1] (every classification metric; not the regression errors).
fn bounded(name: &str) -> bool {
    !matches!(name, "mae" | "mse" | "rmse" | "r2")
}

/// Whether a metric means something in this window: F-scores need a positive label (with none,
/// scikit-learn's zero-division rule makes them 0, which is no evidence of anything).
fn defined(name: &str, rows: &LabelledRows) -> bool {
    match (name, rows) {
        ("f1" | "f0_5" | "f2" | "recall", LabelledRows::Binary(r)) => r.iter().any(|x| x.label),
        ("precision", LabelledRows::Binary(r)) => r.iter().any(|x| x.predicted),
        _ => true,
    }
}

/// The next value of a seeded sequence: the state moved by the golden ratio, then mixed (the
/// profiles' finalizer).
fn mix(a: u64) -> u64 {
    mix64(a.wrapping_add(0x9E37_79B9_7F4A_7C15))
}

fn hash(s: &str) -> u64 {
    fnv1a(s.as_bytes())
}

/// Sampling errors of every scalar metric of `rows` by a bootstrap seeded with `seed`.
pub fn bootstrap_errors(rows: &LabelledRows, seed: u64) -> Vec<(&'static str, f64)> {
    let n = rows.len();
    let names = compute_scalars(&rows.select(&[]));
    if n < 2 {
        return names.into_iter().map(|(k, _)| (k, f64::NAN)).collect();
    }
    let mut state = seed;
    let mut sums = vec![(0.0f64, 0.0f64, 0usize); names.len()];
    let mut idx = vec![0usize; n];
    for _ in 0..BOOTSTRAP_DRAWS {
        for i in idx.iter_mut() {
            state = mix(state);
            *i = (state % n as u64) as usize;
        }
        for (k, (_, v)) in compute_scalars(&rows.select(&idx)).into_iter().enumerate() {
            if v.is_finite() {
                sums[k].0 += v;
                sums[k].1 += v * v;
                sums[k].2 += 1;
            }
        }
    }
    names
        .iter()
        .zip(sums)
        .map(|((name, _), (s, ss, c))| {
            let se = if c < 2 {
                f64::NAN
            } else {
                let mean = s / c as f64;
                ((ss / c as f64 - mean * mean).max(0.0) * c as f64 / (c - 1) as f64).sqrt()
            };
            (*name, se)
        })
        .collect()
}

impl QualityClassifier {
    /// A classifier for `stream` against a quality baseline (its statistics for the sampling
    /// errors, its constraints for the values and directions).
    pub fn new(stream: StreamId, baseline: &QualityStatistics, constraints: &QualityConstraints) -> Self {
        let headline = headline_names(constraints.problem)
            .iter()
            .filter_map(|name| {
                let (_, c) = constraints.constraints.iter().find(|(n, _)| n == name)?;
                let sd = baseline.scalar(name).map(|(_, sd)| sd).filter(|s| s.is_finite()).unwrap_or(0.0);
                Some(((*name).to_owned(), c.threshold, 2.0 * sd, c.comparison_operator.higher_is_better()))
            })
            .collect();
        QualityClassifier { stream, headline, history: VecDeque::new(), degraded_run: 0, episode: None }
    }

    /// Judges one closed window: its labelled rows (for the sampling errors) and statistics.
    /// Windows without labelled rows are not judged. Returns a decision when an episode opens
    /// or resolves.
    pub fn observe(
        &mut self,
        window: Window,
        rows: &LabelledRows,
        stats: Option<&QualityStatistics>,
    ) -> (Vec<MetricJudgement>, Option<QualityDecision>) {
        let Some(stats) = stats.filter(|_| !rows.is_empty()) else { return (Vec::new(), None) };
        let errors = bootstrap_errors(rows, mix(hash(&self.stream.to_string()) ^ window.start.millis() as u64));
        let n = rows.len();
        let values: Vec<Option<(f64, f64)>> = self
            .headline
            .iter()
            .map(|(name, ..)| {
                let (value, _) = stats.scalar(name).filter(|(v, _)| v.is_finite())?;
                if !defined(name, rows) {
                    return None;
                }
                let se =
                    errors.iter().find(|(k, _)| k == name).map(|(_, s)| *s).filter(|s| s.is_finite()).unwrap_or(0.0);
                let se = if bounded(name) { se.max(BOUNDED_ERROR_FLOOR * 0.5 / (n as f64).sqrt()) } else { se };
                Some((value, se))
            })
            .collect();
        self.judge(window, &values, n as u64, false)
    }

    /// Judges one closed window from estimated metrics (name, value, sampling error), without
    /// labels ([`super::estimate`]); `rows` is the number of predictions behind them.
    pub fn observe_estimate(
        &mut self,
        window: Window,
        estimates: &[(&str, f64, f64)],
        rows: u64,
    ) -> (Vec<MetricJudgement>, Option<QualityDecision>) {
        if rows == 0 {
            return (Vec::new(), None);
        }
        let values = self.estimate_values(estimates);
        self.judge(window, &values, rows, true)
    }

    /// The headline metrics' (value, sampling error) among estimated metrics.
    fn estimate_values(&self, estimates: &[(&str, f64, f64)]) -> Vec<Option<(f64, f64)>> {
        self.headline
            .iter()
            .map(|(name, ..)| estimates.iter().find(|e| e.0 == name).map(|e| (e.1, e.2)).filter(|v| v.0.is_finite()))
            .collect()
    }

    /// Estimated metrics against the baseline, for the record: nothing is remembered (the
    /// stream is judged on its labels).
    pub fn assess_estimate(&self, estimates: &[(&str, f64, f64)]) -> Vec<MetricJudgement> {
        self.assess(&self.estimate_values(estimates)).0
    }

    /// The headline metrics against the baseline, and each one's deviation in the worse
    /// direction with its variance.
    fn assess(&self, values: &[Option<(f64, f64)>]) -> (Vec<MetricJudgement>, Vec<(f64, f64)>) {
        let mut judged = Vec::new();
        let mut devs = Vec::new();
        for ((name, base, base_se, higher_better), v) in self.headline.iter().zip(values) {
            let Some((value, se)) = *v else {
                devs.push((0.0, UNKNOWN_VARIANCE));
                continue;
            };
            let dev = if *higher_better { base - value } else { value - base };
            let var = se * se + base_se * base_se;
            let z = if var > 0.0 {
                dev / var.sqrt()
            } else if dev > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            let degraded = z > Z_DEGRADED && dev > MIN_RELATIVE_DROP * base.abs();
            devs.push((dev, if var > 0.0 { var } else { f64::MIN_POSITIVE }));
            judged.push(MetricJudgement {
                name: name.clone(),
                baseline: *base,
                value,
                standard_error: se,
                interval: if bounded(name) {
                    [(value - 1.96 * se).max(0.0), (value + 1.96 * se).min(1.0)]
                } else {
                    [value - 1.96 * se, value + 1.96 * se]
                },
                comparison_operator: if *higher_better { "LessThanThreshold" } else { "GreaterThanThreshold" }.into(),
                z,
                degraded,
            });
        }
        (judged, devs)
    }

    fn judge(
        &mut self,
        window: Window,
        values: &[Option<(f64, f64)>],
        labelled: u64,
        estimated: bool,
    ) -> (Vec<MetricJudgement>, Option<QualityDecision>) {
        let (judged, devs) = self.assess(values);
        let degraded = judged.iter().any(|m| m.degraded);
        let quiet = judged.iter().all(|m| m.z < Z_QUIET);
        self.history.push_back(Point { start: window.start, quiet, devs });
        while self.history.len() > HISTORY_WINDOWS {
            self.history.pop_front();
        }
        let decision = match &mut self.episode {
            None => {
                self.degraded_run = if degraded { self.degraded_run + 1 } else { 0 };
                (self.degraded_run >= CONFIRM_WINDOWS).then(|| self.open(window, &judged, labelled, estimated))
            }
            Some(ep) => {
                ep.quiet = if quiet { ep.quiet + 1 } else { 0 };
                if ep.quiet >= RESOLVE_WINDOWS {
                    let ep = ep.clone();
                    self.episode = None;
                    self.degraded_run = 0;
                    Some(self.decision(&ep, Kind::Resolved, window, &judged, (labelled, estimated), "quiet"))
                } else {
                    None
                }
            }
        };
        (judged, decision)
    }

    fn open(&mut self, window: Window, judged: &[MetricJudgement], labelled: u64, estimated: bool) -> QualityDecision {
        // The degraded metrics' deviations over the history, one member each.
        let members: Vec<usize> = judged
            .iter()
            .filter(|m| m.degraded)
            .map(|m| self.headline.iter().position(|h| h.0 == m.name).unwrap_or(0))
            .collect();
        let (kind, onset, basis) = episode_shape(&self.history, self.degraded_run as usize, window, &members);
        let h = mix(hash(&self.stream.to_string()) ^ mix(onset.millis() as u64) ^ 0x6d71);
        let ep = Episode { id: uuid_from(h, mix(h)), kind, onset, quiet: 0 };
        self.episode = Some(ep.clone());
        self.decision(&ep, kind, window, judged, (labelled, estimated), basis)
    }

    fn decision(
        &self,
        ep: &Episode,
        kind: Kind,
        window: Window,
        judged: &[MetricJudgement],
        (labelled, estimated): (u64, bool),
        basis: &'static str,
    ) -> QualityDecision {
        let h = mix(hash(&ep.id) ^ mix(window.end.millis() as u64) ^ hash(kind.as_str()));
        QualityDecision {
            kind,
            episode_id: ep.id.clone(),
            event_id: uuid_from(h, mix(h ^ 0x9e37_79b9_7f4a_7c15)),
            detected_at: window.end,
            judged_at: window.end,
            onset: ep.onset,
            metrics: judged.to_vec(),
            labelled,
            estimated,
            basis,
        }
    }

    /// What the judged windows since `since` say, taken together: `declining` when a quality
    /// episode is open or a headline metric's inverse-variance pooled deviation over them is
    /// worse than the baseline by more than [`Z_POOLED_DECLINE`] errors, `stable` otherwise, and
    /// `not_yet_known` when no window since then was judged. Returns the verdict and the windows.
    pub fn verdict(&self, since: Timestamp) -> (&'static str, u64) {
        let span: Vec<&Point> = self.history.iter().filter(|p| p.start >= since).collect();
        if span.is_empty() {
            return ("not_yet_known", 0);
        }
        let pooled_worse = (0..self.headline.len()).any(|k| {
            let (mut num, mut den) = (0.0, 0.0);
            for p in &span {
                if let Some((dev, var)) = p.devs.get(k).filter(|d| d.1 < UNKNOWN_VARIANCE) {
                    num += dev / var;
                    den += 1.0 / var;
                }
            }
            den > 0.0 && num / den.sqrt() > Z_POOLED_DECLINE
        });
        let verdict = if self.episode.is_some() || pooled_worse { "declining" } else { "stable" };
        (verdict, span.len() as u64)
    }

    /// The stream it judges.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// The open episode's kind, if any.
    pub fn episode_kind(&self) -> Option<Kind> {
        self.episode.as_ref().map(|e| e.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::metrics::BinaryRow;
    use crate::testing::Rng;
    use crate::time::Duration;

    /// A calibrated binary model whose labels flip with probability `flip` (0: as trained).
    fn window_rows(rng: &mut Rng, n: usize, flip: f64) -> LabelledRows {
        LabelledRows::Binary(
            (0..n)
                .map(|_| {
                    let score = rng.uniform();
                    let mut label = rng.uniform() < score;
                    if rng.uniform() < flip {
                        label = !label;
                    }
                    BinaryRow { label, predicted: score >= 0.5, score }
                })
                .collect(),
        )
    }

    fn run(flips: &[f64], n: usize, seed: u64) -> Vec<(usize, QualityDecision)> {
        let mut rng = Rng::new(seed);
        let base_rows = window_rows(&mut rng, 5000, 0.0);
        let (stats, constraints) = crate::quality::baseline_files(ProblemType::BinaryClassification, &base_rows);
        let mut c = QualityClassifier::new(StreamId::new("ep", "v"), &stats, &constraints);
        let t0 = Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
        let mut out = Vec::new();
        for (i, flip) in flips.iter().enumerate() {
            let rows = window_rows(&mut rng, n, *flip);
            let s = crate::quality::statistics(ProblemType::BinaryClassification, &rows);
            let start = t0 + Duration::from_hours(i as i64);
            let (_, d) = c.observe(Window { start, end: start + Duration::from_hours(1) }, &rows, Some(&s));
            if let Some(d) = d {
                out.push((i, d));
            }
        }
        out
    }

    #[test]
    fn a_stationary_model_raises_nothing_even_in_thin_windows() {
        for seed in 0..10 {
            for n in [30, 300] {
                let d = run(&[0.0; 96], n, seed);
                assert!(d.is_empty(), "seed {seed}, {n} rows a window: {:?}", d.first().map(|x| (x.0, x.1.kind)));
            }
        }
    }

    #[test]
    fn a_worse_model_at_a_known_hour_is_sudden_within_a_window() {
        let mut flips = vec![0.0; 48];
        flips.extend([0.35; 24]);
        let d = run(&flips, 400, 7);
        let (i, first) = &d[0];
        assert_eq!(first.kind, Kind::Sudden, "{:?}", first.basis);
        assert!((48..=49).contains(i), "decided in window {i}");
        assert_eq!(first.onset, Timestamp::parse_rfc3339("2026-03-03T00:00:00Z").unwrap());
        assert!(first.metrics.iter().any(|m| m.name == "accuracy" && m.degraded));
    }

    #[test]
    fn labels_that_drift_slowly_are_gradual_and_recover_is_announced() {
        // Concept drift: the share of flipped labels grows by 1% an hour for a day, then the
        // model is retrained and the labels agree again.
        let mut flips = vec![0.0; 24];
        flips.extend((0..30).map(|h| 0.012 * f64::from(h)));
        flips.extend([0.0; 12]);
        let d = run(&flips, 400, 11);
        let (i, first) = &d[0];
        eprintln!("gradual: decided in window {i}, onset {}, basis {}", first.onset, first.basis);
        assert_eq!(first.kind, Kind::Gradual, "{:?}", first.basis);
        // Decided while the drift goes on (it ends at window 54), with its onset after the
        // calm day.
        assert!((24..54).contains(i), "decided in window {i}");
        assert!(first.onset >= Timestamp::parse_rfc3339("2026-03-01T18:00:00Z").unwrap(), "onset {}", first.onset);
        assert!(d.iter().any(|(_, x)| x.kind == Kind::Resolved));
        assert_eq!(d.iter().filter(|(_, x)| x.kind != Kind::Resolved).count(), 1, "one event per episode");
    }

    /// Without labels: inputs move toward the decision boundary (scores drift to 0.5 over a
    /// day), the calibrated estimate of accuracy falls, and the episode says it is estimated.
    #[test]
    fn an_estimate_that_falls_is_a_degradation_marked_estimated() {
        use crate::quality::estimate::{estimate, Calibration};
        let mut rng = Rng::new(21);
        let base_rows = window_rows(&mut rng, 5000, 0.0);
        let (stats, constraints) = crate::quality::baseline_files(ProblemType::BinaryClassification, &base_rows);
        let LabelledRows::Binary(b) = &base_rows else { unreachable!() };
        let calibration = Calibration::learn(&b.iter().map(|r| (r.score, r.label)).collect::<Vec<_>>());
        let mut c = QualityClassifier::new(StreamId::new("ep", "v"), &stats, &constraints);
        let t0 = Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
        let mut first = None;
        for h in 0..72i64 {
            // From hour 24 the scores are pulled toward 0.5, fully by hour 48.
            let pull = ((h - 24) as f64 / 24.0).clamp(0.0, 1.0) * 0.8;
            let scored: Vec<(f64, bool)> = (0..400)
                .map(|_| {
                    let s = rng.uniform();
                    let s = s + (0.5 - s) * pull;
                    (s, s >= 0.5)
                })
                .collect();
            let est = estimate(&calibration, &scored);
            let start = t0 + Duration::from_hours(h);
            let (_, d) = c.observe_estimate(Window { start, end: start + Duration::from_hours(1) }, &est, 400);
            if let (None, Some(d)) = (&first, d) {
                first = Some((h, d));
            }
        }
        let (h, d) = first.expect("the falling estimate is a degradation");
        eprintln!("estimated: decided in window {h}, {} onset {}, basis {}", d.kind.as_str(), d.onset, d.basis);
        assert!(d.estimated);
        assert!((24..48).contains(&h), "decided in window {h}");
        assert_eq!(d.kind, Kind::Gradual);
    }
}
