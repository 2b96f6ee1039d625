//! Bias episodes: is a facet value's bias further from neutral than the baseline's beyond
//! sampling noise, and did it get there in one step (an upstream change, a facet value that
//! stopped appearing or changed its encoding: investigate) or slowly (one group's scores
//! creeping: review)?
//!
//! The machinery of model-quality episodes (`quality::decide`), per facet value and per
//! [`Stage`]: each window's deviation of its stage's metrics (DPPL and DI as it closes; AD, DAR,
//! DRR and RD once its labels are judged) from the baseline in the worse direction (further
//! from neutral), with its sampling error; a window is biased when a deviation exceeds [`Z_BIASED`] errors, or
//! when a baseline facet value has no row in a window that has plenty (a break). An episode
//! opens after [`CONFIRM_WINDOWS`] biased windows in a row; its kind comes from the same
//! step-or-ramp fit over the last windows (a break, or quiet windows right before the run, is a
//! step); it resolves after [`RESOLVE_WINDOWS`] windows within [`Z_QUIET`] errors. One event per
//! episode and one when it resolves.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::metrics::{Metric, MetricValue};
use super::window::{BiasWindow, MIN_FACET_ROWS};
use crate::capture::layout::StreamId;
use crate::classify::{uuid_from, Kind};
use crate::profile::hll::{fnv1a, mix64};
use crate::time::{Timestamp, Window};

/// Sampling errors beyond the baseline's distance from neutral for a window to count as biased
/// (model quality's [`Z_DEGRADED`]: quiet over hundreds of windows, facet values and metrics).
pub const Z_BIASED: f64 = Z_DEGRADED;
// The rest of the episode rules are model quality's, one machinery: confirmation, resolution,
// quiet level, history and the step-or-ramp thresholds.
use crate::quality::decide::{episode_shape, Point, UNKNOWN_VARIANCE, Z_DEGRADED};
pub use crate::quality::decide::{
    CONFIRM_WINDOWS, HISTORY_WINDOWS, QUIET_BEFORE_STEP, RESOLVE_WINDOWS, STEP_OVER_RAMP, Z_QUIET,
};
/// What a bias classifier follows: the predictions of each window as it closes, or the
/// predictions labelled by each window's model-quality judgement (its labels' delay later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// DPPL and DI of every prediction, when the window closes.
    #[default]
    Predictions,
    /// The label-dependent metrics with a sampling error (AD, DAR, DRR, RD), when the window's
    /// labels are judged.
    Labels,
}

impl Stage {
    /// The metrics its episodes follow (those with a sampling error; DPPL and DI once, at the
    /// predictions stage).
    pub fn judged(self) -> &'static [Metric] {
        match self {
            Stage::Predictions => &[Metric::Di, Metric::Dppl],
            Stage::Labels => &[Metric::Ad, Metric::Dar, Metric::Drr, Metric::Rd],
        }
    }

    /// Whether `metric` is published from a window judged at this stage: DPPL, DI and CDDPL over
    /// every prediction as windows close, the label-dependent ones over the labelled
    /// predictions (one datapoint per metric and window, never two populations under one name).
    pub fn publishes(self, metric: Metric) -> bool {
        super::window::LABEL_FREE.contains(&metric) == (self == Stage::Predictions)
    }

    /// Its name in events (`judgedOn`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Predictions => "predictions",
            Stage::Labels => "labels",
        }
    }
}

/// One metric of one facet value in one window, against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BiasJudgement {
    /// The metric's code (`DPPL`, `DI`; `AD`, `DAR`, `DRR`, `RD` judged on labels).
    pub name: String,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// The window's value (none when the facet value had no row).
    pub value: Option<f64>,
    /// Its sampling error.
    pub standard_error: Option<f64>,
    /// The 95% interval of the window's value.
    pub interval: Option<[f64; 2]>,
    /// The deviation further from neutral than the baseline, in sampling errors.
    pub z: Option<f64>,
    /// Whether this metric made the window biased.
    pub biased: bool,
}

/// A bias decision: an episode opened (sudden or gradual) or resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasDecision {
    /// Sudden, gradual or resolved.
    pub kind: Kind,
    /// The episode.
    pub episode_id: String,
    /// This decision's event id.
    pub event_id: String,
    /// End of the deciding window.
    pub detected_at: Timestamp,
    /// Start of the first window of the change.
    pub onset: Timestamp,
    /// The facet.
    pub facet: String,
    /// The facet value.
    pub facet_value: String,
    /// The metrics of the deciding window.
    pub metrics: Vec<BiasJudgement>,
    /// What decided the kind: `step`, `ramp`, `short_history`, `facet_break` or `quiet`.
    pub basis: String,
    /// What the metrics were judged on.
    #[serde(default)]
    pub stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Episode {
    id: String,
    onset: Timestamp,
    quiet: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Series {
    history: VecDeque<Point>,
    biased_run: u32,
    episode: Option<Episode>,
    /// The facet value's usual share of a window's rows (a running mean over the windows it
    /// appeared in, the last [`HISTORY_WINDOWS`] weighing most), and how many windows it has.
    share: f64,
    share_windows: u32,
}

/// Rows a facet value is expected to have in a window (its usual share of the window's rows)
/// before its absence is a break: with 8 expected, none comes by chance about once in 3,000
/// windows (e^-8).
pub const BREAK_EXPECTED_ROWS: f64 = 8.0;

/// The bias episodes of one stream, per facet and value (serializable: it goes in the
/// checkpoint with the stream's other state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasClassifier {
    stream: StreamId,
    series: BTreeMap<String, Series>,
    /// What it follows (checkpoints from before labels were followed hold predictions').
    #[serde(default)]
    stage: Stage,
}

fn hash(s: &str) -> u64 {
    mix64(fnv1a(s.as_bytes()))
}

impl BiasClassifier {
    /// No episodes yet, following each window's predictions as it closes.
    pub fn new(stream: StreamId) -> Self {
        BiasClassifier::at(stream, Stage::Predictions)
    }

    /// No episodes yet, following `stage`.
    pub fn at(stream: StreamId, stage: Stage) -> Self {
        BiasClassifier { stream, series: BTreeMap::new(), stage }
    }

    /// What it follows.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Takes one window's bias; returns the decisions it makes, facet value by facet value.
    pub fn observe(&mut self, window: Window, bias: &BiasWindow) -> Vec<BiasDecision> {
        let mut out = Vec::new();
        for (facet, values) in &bias.facets {
            for v in values {
                let key = format!("{facet}\u{0}{}", v.value_or_threshold);
                let usual = self.series.get(&key).filter(|s| s.share_windows > 0).map(|s| s.share);
                let (judged, devs, broken) = assess(v, bias.rows, usual, self.stage);
                let biased = broken || judged.iter().any(|j| j.biased);
                let measured = broken || judged.iter().any(|j| j.z.is_some());
                let quiet = !broken && judged.iter().all(|j| j.z.is_none_or(|z| z < Z_QUIET)) && measured;
                let stream = self.stream.to_string();
                let s = self.series.entry(key.clone()).or_default();
                if v.rows.0 > 0 {
                    s.share_windows += 1;
                    let n = f64::from(s.share_windows.min(HISTORY_WINDOWS as u32));
                    s.share += (v.rows.0 as f64 / (v.rows.0 + v.rows.1) as f64 - s.share) / n;
                }
                s.history.push_back(Point { start: window.start, quiet, devs });
                while s.history.len() > HISTORY_WINDOWS {
                    s.history.pop_front();
                }
                let decision = match &mut s.episode {
                    None => {
                        if measured {
                            s.biased_run = if biased { s.biased_run + 1 } else { 0 };
                        }
                        (s.biased_run >= CONFIRM_WINDOWS).then(|| {
                            let (kind, onset, basis) = shape(s, window, broken, self.stage);
                            let salt = match self.stage {
                                Stage::Predictions => 0x6269_6173,
                                Stage::Labels => 0x6269_6173_6c61_6273,
                            };
                            let h = hash(&stream) ^ hash(&key) ^ mix64(onset.millis() as u64) ^ salt;
                            let ep = Episode { id: uuid_from(h, mix64(h)), onset, quiet: 0 };
                            s.episode = Some(ep.clone());
                            (ep, kind, basis)
                        })
                    }
                    Some(ep) => {
                        if measured {
                            ep.quiet = if quiet { ep.quiet + 1 } else { 0 };
                        }
                        if ep.quiet >= RESOLVE_WINDOWS {
                            let ep = ep.clone();
                            s.episode = None;
                            s.biased_run = 0;
                            Some((ep, Kind::Resolved, "quiet"))
                        } else {
                            None
                        }
                    }
                };
                if let Some((ep, kind, basis)) = decision {
                    let h = mix64(hash(&ep.id) ^ mix64(window.end.millis() as u64) ^ hash(kind.as_str()));
                    out.push(BiasDecision {
                        kind,
                        episode_id: ep.id,
                        event_id: uuid_from(h, mix64(h ^ 0x9e37_79b9_7f4a_7c15)),
                        detected_at: window.end,
                        onset: ep.onset,
                        facet: facet.clone(),
                        facet_value: v.value_or_threshold.clone(),
                        metrics: judged,
                        basis: basis.to_owned(),
                        stage: self.stage,
                    });
                }
            }
        }
        out
    }
}

/// The window's judgements of one facet value, the deviations (for the shape fit), and whether
/// the value broke: in the baseline, absent from a window where its usual share would have
/// given it [`BREAK_EXPECTED_ROWS`] rows (without a usual share yet: [`MIN_FACET_ROWS`] twice).
/// Breaks are the predictions stage's (a value absent from the labelled rows is absent from
/// the predictions, seen there first).
fn assess(
    v: &super::window::ValueReadings,
    window_rows: u64,
    usual_share: Option<f64>,
    stage: Stage,
) -> (Vec<BiasJudgement>, Vec<(f64, f64)>, bool) {
    let expected_plenty = match usual_share {
        Some(share) => share * window_rows as f64 >= BREAK_EXPECTED_ROWS,
        None => window_rows >= 2 * MIN_FACET_ROWS,
    };
    let broken = stage == Stage::Predictions
        && v.rows.0 == 0
        && expected_plenty
        && v.readings.iter().any(|r| r.baseline.is_some());
    let mut judged = Vec::new();
    let mut devs = Vec::new();
    for &m in stage.judged() {
        let Some(r) = v.readings.iter().find(|r| r.metric == m) else {
            devs.push((0.0, UNKNOWN_VARIANCE));
            continue;
        };
        let value = match &r.value {
            MetricValue::Value(x) if x.is_finite() => Some(*x),
            _ => None,
        };
        let neutral = m.neutral();
        let (z, dev_var) = match (value, r.baseline, r.standard_error) {
            (Some(x), Some(b), Some(se)) if se > 0.0 && b.is_finite() => {
                let dev = (x - neutral).abs() - (b - neutral).abs();
                (Some(dev / se), (dev, se * se))
            }
            _ => (None, (0.0, UNKNOWN_VARIANCE)),
        };
        devs.push(dev_var);
        judged.push(BiasJudgement {
            name: m.code().to_owned(),
            baseline: r.baseline,
            value,
            standard_error: r.standard_error,
            interval: value.zip(r.standard_error).map(|(x, se)| [x - 1.96 * se, x + 1.96 * se]),
            z,
            biased: z.is_some_and(|z| z > Z_BIASED),
        });
    }
    (judged, devs, broken)
}

/// The kind, onset and basis of an episode opening at `window`: a break is a step; otherwise
/// model quality's rules over the stage's metrics.
fn shape(s: &Series, window: Window, broken: bool, stage: Stage) -> (Kind, Timestamp, &'static str) {
    if broken {
        let first = s.history.len().saturating_sub(s.biased_run as usize);
        return (Kind::Sudden, s.history.get(first).map_or(window.start, |p| p.start), "facet_break");
    }
    let members: Vec<usize> = (0..stage.judged().len()).collect();
    episode_shape(&s.history, s.biased_run as usize, window, &members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bias::window::{Reading, ValueReadings};
    use crate::time::Duration;

    fn window(h: i64) -> Window {
        let start = Timestamp::from_civil(2026, 3, 1, 0, 0, 0).unwrap() + Duration::from_hours(h);
        Window { start, end: start + Duration::from_hours(1) }
    }

    fn bias(dppl: f64, rows: u64) -> BiasWindow {
        let reading = |metric, value: f64, baseline| Reading {
            metric,
            value: MetricValue::Value(value),
            standard_error: (rows > 0).then_some(0.05),
            baseline: Some(baseline),
        };
        let mut facets = BTreeMap::new();
        facets.insert(
            "employment".to_owned(),
            vec![ValueReadings {
                value_or_threshold: "self".into(),
                rows: (rows, 400),
                readings: vec![reading(Metric::Dppl, dppl, 0.02), reading(Metric::Di, 1.0 - dppl, 0.98)],
            }],
        );
        BiasWindow {
            label: "y".into(),
            label_values: "1".into(),
            rows: rows + 400,
            skipped: 0,
            facets,
            violations: Vec::new(),
        }
    }

    fn run(series: &[(f64, u64)]) -> Vec<(i64, Kind, String)> {
        let mut c = BiasClassifier::new(StreamId::new("ep", "v"));
        let mut out = Vec::new();
        for (h, (dppl, rows)) in series.iter().enumerate() {
            for d in c.observe(window(h as i64), &bias(*dppl, *rows)) {
                out.push((h as i64, d.kind, d.basis));
            }
        }
        out
    }

    #[test]
    fn steps_ramps_breaks_and_noise() {
        // Noise within the errors: nothing.
        let noise: Vec<(f64, u64)> = (0..48).map(|i| (0.02 + 0.04 * ((i * 7 % 5) as f64 - 2.0) / 2.0, 100)).collect();
        assert!(run(&noise).is_empty(), "{:?}", run(&noise));
        // A step at hour 20 to DPPL 0.4: sudden, then resolved when it goes back.
        let mut step: Vec<(f64, u64)> =
            (0..40).map(|i| (if (20..30).contains(&i) { 0.4 } else { 0.02 }, 100)).collect();
        step.truncate(40);
        let got = run(&step);
        assert_eq!(got[0], (21, Kind::Sudden, "step".to_owned()), "{got:?}");
        assert_eq!(got[1].1, Kind::Resolved, "{got:?}");
        // A ramp from hour 10, 0.01 an hour: gradual.
        let ramp: Vec<(f64, u64)> = (0..48).map(|i| (0.02 + 0.012 * (i as f64 - 10.0).max(0.0), 100)).collect();
        let got = run(&ramp);
        assert_eq!(got[0].1, Kind::Gradual, "{got:?}");
        // The facet value stops appearing at hour 12: a break, sudden.
        let gone: Vec<(f64, u64)> = (0..20).map(|i| if i < 12 { (0.02, 100) } else { (0.0, 0) }).collect();
        let got = run(&gone);
        assert_eq!(got[0], (13, Kind::Sudden, "facet_break".to_owned()), "{got:?}");
    }

    #[test]
    fn the_labels_stage_follows_the_label_dependent_metrics() {
        // A ramp in AD over labelled windows: gradual, judged on labels; no break from an
        // empty labelled window (the predictions stage reports breaks).
        let labelled = |ad: f64, rows: u64| {
            let mut b = bias(0.0, rows);
            let readings = &mut b.facets.get_mut("employment").unwrap()[0].readings;
            readings.push(Reading {
                metric: Metric::Ad,
                value: MetricValue::Value(ad),
                standard_error: (rows > 0).then_some(0.05),
                baseline: Some(0.01),
            });
            b
        };
        let mut c = BiasClassifier::at(StreamId::new("ep", "v"), Stage::Labels);
        let mut got = Vec::new();
        for h in 0..48i64 {
            let ad = 0.01 + 0.012 * (h as f64 - 10.0).max(0.0);
            for d in c.observe(window(h), &labelled(ad, 100)) {
                got.push((h, d.kind, d.stage, d.metrics.iter().map(|m| m.name.clone()).collect::<Vec<_>>()));
            }
        }
        assert_eq!(got[0].1, Kind::Gradual, "{got:?}");
        assert_eq!(got[0].2, Stage::Labels);
        assert_eq!(got[0].3, ["AD"], "the metrics of the stage the window has");
        let mut c = BiasClassifier::at(StreamId::new("ep", "v"), Stage::Labels);
        let none: Vec<_> =
            (0..20).flat_map(|h| c.observe(window(h), &labelled(0.01, if h < 12 { 100 } else { 0 }))).collect();
        assert!(none.is_empty(), "{none:?}");
    }
}
