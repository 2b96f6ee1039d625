//! `replay --report FILE.html`: one self-contained page (inline CSS and SVG, no script, no
//! network) that tells a replay's story per stream: what was read, the episodes and what they
//! would have triggered, every drifting feature's distance to the baseline and to the recent
//! past with their noise floors and thresholds, the window that moved most against the
//! baseline, and a table of all features.
//!
//! The page is written with maud templates, which escape every interpolated value, so no data
//! (a feature name, a category, a path) can add markup. It is also well-formed XML (void
//! elements self-closed, SVG elements closed), so a test can parse it whole.
//!
//! The collector keeps a bounded series per feature (once it holds `2 * KEPT_POINTS` points,
//! adjacent ones are pooled, keeping the largest distance, and later windows are pooled as
//! they come, so every point spans as many windows), and charts draw at most
//! [`DRAWN_POINTS`] points, so a year of hourly windows gives a page of the same size as a
//! week's. The full per-window numbers are in `drift_metrics.parquet` (`--output`).

use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::BTreeMap;

use super::events::EventEnvelope;
use super::svg::{self, num, Line, Marker, Span, TimeChart};
use crate::baseline::Baseline;
use crate::capture::layout::StreamId;
use crate::classify::FeatureExtras;
use crate::classify::{EpisodeSummary, Kind};
use crate::drift::{window_categories, FeatureKind, WindowDrift};
use crate::pipeline::ClosedWindow;
use crate::publish::window::{JudgedQuality, JudgedWindow, SinkError, StreamSummary, WindowSink};
use crate::time::Timestamp;

/// Points kept per series before adjacent ones are pooled.
pub const KEPT_POINTS: usize = 1024;
/// Points drawn per line.
pub const DRAWN_POINTS: usize = 480;
/// Features given a chart, most affected first; the rest are in the table.
pub const CHARTED_FEATURES: usize = 12;
/// Categories drawn per bar chart (the rest are summed as "other").
const BARS: usize = 12;

/// One feature in one window (or a pool of adjacent windows).
#[derive(Debug, Clone, Copy)]
struct Point {
    start: i64,
    /// L-infinity distance to the baseline.
    d: f32,
    /// Its noise floor.
    floor: f32,
    /// Where Model Monitor's check fires, on the same scale (threshold, plus the floor for the
    /// robust metric).
    limit: f32,
    /// L-infinity distance to the recent past.
    step: f32,
    /// Its noise floor.
    step_floor: f32,
    /// How far the learned cycle alone puts this window's hour from the baseline (NaN without a
    /// cycle in use).
    cycle: f32,
    /// Distance to what the cycle expects for this hour.
    expected: f32,
    violated: bool,
}

fn f32_of(v: Option<f64>) -> f32 {
    v.map_or(f32::NAN, |x| x as f32)
}

fn pool(a: Point, b: Point) -> Point {
    let max = |x: f32, y: f32| {
        if x.is_nan() {
            y
        } else if y.is_nan() {
            x
        } else {
            x.max(y)
        }
    };
    Point {
        start: a.start,
        d: max(a.d, b.d),
        floor: max(a.floor, b.floor),
        limit: max(a.limit, b.limit),
        step: max(a.step, b.step),
        step_floor: max(a.step_floor, b.step_floor),
        cycle: max(a.cycle, b.cycle),
        expected: max(a.expected, b.expected),
        violated: a.violated || b.violated,
    }
}

/// A series of fewer than `2 * KEPT_POINTS` points of equal width: once full, adjacent points
/// are pooled and each later point pools twice as many windows as before.
#[derive(Debug, Clone)]
struct Pooled {
    points: Vec<Point>,
    /// Windows per point.
    stride: usize,
    /// The point being filled, and how many windows it holds.
    pending: Option<(Point, usize)>,
}

impl Default for Pooled {
    fn default() -> Self {
        Pooled { points: Vec::new(), stride: 1, pending: None }
    }
}

impl Pooled {
    fn push(&mut self, p: Point) {
        let (acc, n) = match self.pending.take() {
            Some((acc, n)) => (pool(acc, p), n + 1),
            None => (p, 1),
        };
        if n < self.stride {
            self.pending = Some((acc, n));
            return;
        }
        self.points.push(acc);
        if self.points.len() >= 2 * KEPT_POINTS {
            self.points = self.points.chunks(2).map(|c| if c.len() == 2 { pool(c[0], c[1]) } else { c[0] }).collect();
            self.stride *= 2;
        }
    }

    /// Every point, the one being filled last.
    fn iter(&self) -> impl Iterator<Item = &Point> {
        self.points.iter().chain(self.pending.as_ref().map(|p| &p.0))
    }
}

/// What the page shows of a window's distribution: quantiles of numbers or category shares.
#[derive(Debug, Clone)]
enum Distribution {
    Numeric(Vec<(f64, f64)>),
    Categorical(Vec<(String, f64)>),
}

#[derive(Debug, Clone)]
struct FeatureSeries {
    name: String,
    /// The last cycle the feature was judged against (`daily` or `weekly`), if any.
    cycle_model: Option<&'static str>,
    /// The first window judged against a cycle.
    cycle_since: Option<i64>,
    expected: &'static str,
    points: Pooled,
    violations: u64,
    last_observed: &'static str,
    last_completeness: Option<f64>,
    last_d: Option<f64>,
    last_floor: Option<f64>,
    last_psi: Option<f64>,
    last_wasserstein: Option<f64>,
    /// The window farthest from the baseline: its start, distance and distribution.
    farthest: Option<(i64, f64, Distribution)>,
}

/// One decision, as its event says it.
#[derive(Debug, Clone)]
struct DecisionView {
    detail_type: &'static str,
    kind: &'static str,
    action: &'static str,
    episode: String,
    detected_at: String,
    onset: String,
    features: Vec<String>,
    why: String,
}

/// One headline metric of the model-quality section, per judged window.
#[derive(Debug, Clone, Default)]
struct MetricSeries {
    name: String,
    baseline: Vec<(i64, f64)>,
    value: Vec<(i64, f64)>,
    low: Vec<(i64, f64)>,
    high: Vec<(i64, f64)>,
    degraded: Vec<(i64, f64)>,
    /// The estimate from calibrated scores beside the labels' value (labels and a calibration).
    estimate: Vec<(i64, f64)>,
}

/// A model-quality event as the page lists it.
#[derive(Debug, Clone)]
struct QualityDecisionView {
    detail_type: &'static str,
    kind: &'static str,
    action: &'static str,
    detected_at: Timestamp,
    judged_at: Timestamp,
    onset: Timestamp,
    basis: &'static str,
    estimated: bool,
    metrics: String,
}

/// The model-quality section of a stream (when it has a quality monitor).
#[derive(Debug, Clone, Default)]
struct QualitySeries {
    estimated: bool,
    metrics: Vec<MetricSeries>,
    labelled_share: Vec<(i64, f64)>,
    decisions: Vec<QualityDecisionView>,
}

impl QualitySeries {
    fn observe(&mut self, j: &JudgedQuality) {
        let q = &j.quality;
        let start = q.window.start.millis();
        self.estimated = q.estimated;
        if !q.estimated {
            // A window rendered again for late labels: its share grows, its judgement stays.
            match self.labelled_share.iter_mut().find(|(t, _)| *t == start) {
                Some(p) => p.1 = q.counts.labelled_share,
                None => self.labelled_share.push((start, q.counts.labelled_share)),
            }
        }
        if q.update {
            return;
        }
        for m in &q.judgements {
            let i = match self.metrics.iter().position(|s| s.name == m.name) {
                Some(i) => i,
                None => {
                    self.metrics.push(MetricSeries { name: m.name.clone(), ..Default::default() });
                    self.metrics.len() - 1
                }
            };
            let s = &mut self.metrics[i];
            s.baseline.push((start, m.baseline));
            s.value.push((start, m.value));
            s.low.push((start, m.interval[0]));
            s.high.push((start, m.interval[1]));
            if m.degraded {
                s.degraded.push((start, m.value));
            }
            if let Some(e) = q.estimate.iter().find(|e| e.name == m.name) {
                s.estimate.push((start, e.value));
            }
        }
        for (e, d) in j.envelopes.iter().zip(&j.decisions) {
            let resolved = d.kind == Kind::Resolved;
            let metrics: Vec<String> = d
                .metrics
                .iter()
                .filter(|m| m.degraded || resolved)
                .map(|m| format!("{} {} (baseline {})", m.name, num(m.value), num(m.baseline)))
                .collect();
            self.decisions.push(QualityDecisionView {
                detail_type: e.detail_type,
                kind: d.kind.as_str(),
                action: d.kind.action(),
                detected_at: d.detected_at,
                judged_at: d.judged_at,
                onset: d.onset,
                basis: d.basis,
                estimated: d.estimated,
                metrics: metrics.join(", "),
            });
        }
    }
}

/// One metric of one facet value in the bias section, per window.
#[derive(Debug, Clone, Default)]
struct BiasMetricSeries {
    facet: String,
    value: String,
    metric: String,
    window: Vec<(i64, f64)>,
    low: Vec<(i64, f64)>,
    high: Vec<(i64, f64)>,
    baseline: Vec<(i64, f64)>,
    violations: Vec<(i64, f64)>,
}

/// A bias event as the page lists it.
#[derive(Debug, Clone)]
struct BiasDecisionView {
    detail_type: &'static str,
    kind: &'static str,
    action: &'static str,
    detected_at: String,
    onset: String,
    facet: String,
    basis: String,
    metrics: String,
}

/// The bias section of a stream (when it has a bias monitor).
#[derive(Debug, Clone, Default)]
struct BiasSeries {
    series: Vec<BiasMetricSeries>,
    decisions: Vec<BiasDecisionView>,
}

impl BiasSeries {
    /// Takes a window's bias judged at `stage` (the metrics that stage publishes are drawn) and
    /// its decisions.
    fn observe(
        &mut self,
        bias: &crate::bias::window::BiasWindow,
        start: i64,
        envelopes: &[crate::publish::events::EventEnvelope<crate::publish::events::BiasEventDetail>],
        stage: crate::bias::decide::Stage,
    ) {
        for (facet, values) in &bias.facets {
            for v in values {
                for r in &v.readings {
                    if !stage.publishes(r.metric) {
                        continue;
                    }
                    let Some(x) = r.value.value().filter(|x| x.is_finite()) else { continue };
                    let i = match self.series.iter().position(|s| {
                        s.facet == *facet && s.value == v.value_or_threshold && s.metric == r.metric.code()
                    }) {
                        Some(i) => i,
                        None => {
                            self.series.push(BiasMetricSeries {
                                facet: facet.clone(),
                                value: v.value_or_threshold.clone(),
                                metric: r.metric.code().to_owned(),
                                ..Default::default()
                            });
                            self.series.len() - 1
                        }
                    };
                    let s = &mut self.series[i];
                    s.window.push((start, x));
                    if let Some(se) = r.standard_error {
                        s.low.push((start, x - 1.96 * se));
                        s.high.push((start, x + 1.96 * se));
                    }
                    if let Some(b) = r.baseline.filter(|b| b.is_finite()) {
                        s.baseline.push((start, b));
                    }
                    let violated = bias.violations.iter().any(|viol| {
                        viol.facet == *facet
                            && viol.facet_value == v.value_or_threshold
                            && viol.metric_name == r.metric.code()
                    });
                    if violated {
                        s.violations.push((start, x));
                    }
                }
            }
        }
        for e in envelopes {
            let d = &e.detail;
            let metrics: Vec<String> = d
                .metrics
                .iter()
                .map(|m| format!("{} {} (baseline {})", m.name, opt(m.value), opt(m.baseline)))
                .collect();
            self.decisions.push(BiasDecisionView {
                detail_type: e.detail_type,
                kind: d.kind,
                action: d.action,
                detected_at: d.detected_at.clone(),
                onset: d.onset.clone(),
                facet: format!("{}={}", d.facet, d.facet_value),
                basis: d.basis.clone(),
                metrics: metrics.join(", "),
            });
        }
    }
}

/// Everything the page shows of one stream.
#[derive(Debug, Clone)]
pub struct StreamReport {
    stream: StreamId,
    first: Option<i64>,
    last_end: Option<i64>,
    window_ms: i64,
    features: Vec<FeatureSeries>,
    decisions: Vec<DecisionView>,
    /// Model quality, when the stream has a quality monitor.
    quality: Option<QualitySeries>,
    /// Bias, when the stream has a bias monitor.
    bias: Option<BiasSeries>,
    /// The replay's summary of the stream (windows, rows, skips, episodes), at the end.
    summary: StreamSummary,
}

impl StreamReport {
    /// Starts the report of one stream.
    pub fn new(stream: StreamId, baseline: &Baseline) -> Self {
        StreamReport {
            stream,
            first: None,
            last_end: None,
            window_ms: 0,
            features: baseline
                .features
                .iter()
                .map(|f| FeatureSeries {
                    name: f.name.clone(),
                    cycle_model: None,
                    cycle_since: None,
                    expected: f.expected_type.as_str(),
                    points: Pooled::default(),
                    violations: 0,
                    last_observed: "Unknown",
                    last_completeness: None,
                    last_d: None,
                    last_floor: None,
                    last_psi: None,
                    last_wasserstein: None,
                    farthest: None,
                })
                .collect(),
            decisions: Vec::new(),
            quality: None,
            bias: None,
            summary: StreamSummary::default(),
        }
    }

    /// Takes one closed window, its comparison, the classifier's per-feature extras and the
    /// events it decided.
    pub fn observe(
        &mut self,
        closed: &ClosedWindow,
        drift: &WindowDrift,
        extras: &[FeatureExtras],
        events: &[EventEnvelope],
    ) {
        let start = closed.window.start.millis();
        self.first.get_or_insert(start);
        self.last_end = Some(closed.window.end.millis());
        self.window_ms = closed.window.end.millis() - start;
        for (i, (s, fd)) in self.features.iter_mut().zip(&drift.features).enumerate() {
            s.last_observed = fd.observed_type;
            s.last_completeness = fd.completeness;
            s.last_d = fd.linf_simple;
            s.last_floor = fd.linf_noise_floor;
            s.last_psi = fd.psi.map(|p| p.value);
            s.last_wasserstein = fd.wasserstein.map(|w| w.value);
            let violated = drift.violations.iter().any(|v| v.feature_name == fd.name);
            if violated {
                s.violations += 1;
            }
            let limit = fd.drift_check.as_ref().and_then(|c| match c.metric {
                "linf_simple" => Some(c.threshold),
                "linf_robust" => fd.linf_noise_floor.map(|f| f + c.threshold),
                _ => None,
            });
            let extra = extras.get(i);
            let p = Point {
                start,
                d: f32_of(fd.linf_simple),
                floor: f32_of(fd.linf_noise_floor),
                limit: f32_of(limit),
                step: f32_of(extra.and_then(|e| e.step_distance)),
                step_floor: f32_of(extra.and_then(|e| e.step_noise_floor)),
                cycle: f32_of(extra.and_then(|e| e.cycle_distance)),
                expected: f32_of(extra.and_then(|e| e.expected_distance)),
                violated,
            };
            if let Some(m) = extra.and_then(|e| e.cycle_model.as_deref()) {
                s.cycle_model = Some(match m {
                    "weekly" => "weekly",
                    _ => "daily",
                });
                s.cycle_since.get_or_insert(start);
            }
            s.points.push(p);
            if let Some(d) = fd.linf_simple {
                if s.farthest.as_ref().is_none_or(|f| d > f.1) {
                    let profile = &closed.profile.features[i];
                    let dist = match fd.kind {
                        FeatureKind::Categorical => {
                            let wc = window_categories(profile);
                            let total = wc.total();
                            let mut shares: Vec<(String, f64)> =
                                wc.counts.iter().map(|(k, v)| ((*k).to_owned(), v / total.max(1.0))).collect();
                            shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                            Distribution::Categorical(shares)
                        }
                        _ => Distribution::Numeric(quantiles(&profile.kll.cdf())),
                    };
                    s.farthest = Some((start, d, dist));
                }
            }
        }
        for e in events {
            let d = &e.detail;
            self.decisions.push(DecisionView {
                detail_type: e.detail_type,
                kind: d.kind,
                action: d.action,
                episode: d.episode_id.clone(),
                detected_at: d.detected_at.clone(),
                onset: d.onset.clone(),
                features: d.features.iter().map(|f| f.name.clone()).collect(),
                why: explain(e),
            });
        }
    }

    /// Takes the replay's summary of the stream at its end.
    pub fn finish(&mut self, summary: &StreamSummary) {
        self.summary = summary.clone();
    }
}

impl WindowSink for StreamReport {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        self.observe(&w.closed, &w.drift, &w.outcome.extras, &w.envelopes);
        if let Some(bias) = &w.bias {
            let series = self.bias.get_or_insert_with(BiasSeries::default);
            series.observe(
                bias,
                w.closed.window.start.millis(),
                &w.bias_envelopes,
                crate::bias::decide::Stage::Predictions,
            );
        }
        Ok(())
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        self.quality.get_or_insert_with(QualitySeries::default).observe(q);
        Ok(())
    }

    fn accept_labelled_bias(&mut self, b: &crate::publish::window::JudgedLabelledBias) -> Result<(), SinkError> {
        let series = self.bias.get_or_insert_with(BiasSeries::default);
        series.observe(&b.bias, b.window.start.millis(), &b.envelopes, crate::bias::decide::Stage::Labels);
        Ok(())
    }
}

/// The page's cumulative points of a CDF: about a hundred quantiles.
fn quantiles(cdf: &crate::profile::WeightedCdf) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(101);
    for i in 0..=100 {
        let q = f64::from(i) / 100.0;
        if let Some(v) = cdf.quantile(q) {
            let share = cdf.fraction_le(v);
            if out.last().is_none_or(|l| l.0 != v) {
                out.push((v, share));
            }
        }
    }
    out
}

/// One sentence on what decided an event's kind, from its evidence.
fn explain(e: &EventEnvelope) -> String {
    use crate::classify::evidence::{Evidence, SuddenBasis};
    let d = &e.detail;
    let first = d.features.first();
    let stepped = |basis: &str| match first {
        Some(f) => format!(
            "{basis}: a step of {} against the recent past explains the rise (distance to the baseline {})",
            f.step_value.map_or("–".into(), num),
            f.value.map_or("–".into(), num)
        ),
        None => basis.to_owned(),
    };
    match &d.evidence {
        Evidence::Sudden(ev) => match ev.decision {
            SuddenBasis::Schema => {
                let signals: Vec<String> = ev
                    .signals
                    .iter()
                    .map(|s| {
                        let f = s.feature.as_deref().unwrap_or("");
                        match s.value {
                            Some(v) => format!("{} on {f} ({})", s.signal, num(v)),
                            None => format!("{} on {f}", s.signal),
                        }
                    })
                    .collect();
                format!(
                    "a schema or data-quality break: {}",
                    if signals.is_empty() { "-".into() } else { signals.join(", ") }
                )
            }
            SuddenBasis::Step => stepped("step"),
            SuddenBasis::LateStep => stepped("late_step"),
        },
        Evidence::Gradual(ev) => {
            let t = &ev.trend;
            let feature = t.feature.as_str();
            let series = match (t.series, t.category.as_deref()) {
                ("category_shares", Some(c)) => format!("share of {c}"),
                ("distance", _) => "distance to the baseline".to_owned(),
                (s, _) => s.to_owned(),
            };
            match first.and_then(|f| f.trend.as_ref()) {
                Some(mk) => format!(
                    "a sustained trend without a step: {feature}'s {} {} by {} per hour (Theil–Sen over {} windows; Kendall τ {}, p {})",
                    series,
                    if mk.slope < 0.0 { "falls" } else { "rises" },
                    num(mk.slope.abs()),
                    mk.n,
                    num(mk.tau),
                    num(mk.p_value)
                ),
                None => format!("a sustained trend without a step in {feature}'s {series}"),
            }
        }
        Evidence::Resolved(ev) => format!("back within the noise for {} windows", ev.quiet_windows),
    }
}

/// What a replay's page shows, all streams.
#[derive(Debug, Clone)]
pub struct HtmlReport {
    /// The `--capture` path.
    pub capture: String,
    /// The baseline's name.
    pub baseline: String,
    /// Streams, in replay order.
    pub streams: Vec<StreamReport>,
    /// The baseline's distribution of each feature, by name.
    baseline_dist: BTreeMap<String, Distribution>,
}

impl HtmlReport {
    /// Starts the page of a replay of `capture` against `baseline`.
    pub fn new(capture: String, baseline: &Baseline) -> Self {
        let mut dist = BTreeMap::new();
        for f in &baseline.features {
            if let Some(c) = &f.categorical {
                let total = c.total.max(1.0);
                let shares = c.counts.iter().map(|(k, v)| (k.clone(), v / total)).collect();
                dist.insert(f.name.clone(), Distribution::Categorical(shares));
            } else if let Some(n) = &f.numeric {
                dist.insert(f.name.clone(), Distribution::Numeric(quantiles(&n.cdf)));
            }
        }
        HtmlReport { capture, baseline: baseline.source.clone(), streams: Vec::new(), baseline_dist: dist }
    }
}

const CSS: &str = r#"
:root { --bg: #ffffff; --fg: #1d232b; --muted: #6a7380; --grid: #e6e9ee; --card: #f6f8fa;
  --c1: #4c78a8; --c2: #e45756; --c3: #54a24b; --c4: #b279a2; --c5: #9d755d;
  --sudden: #e45756; --gradual: #4c78a8; --resolved: #54a24b; --alert: #d62728; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15191e; --fg: #e4e7eb; --muted: #98a2ae; --grid: #2a3038; --card: #1d2329;
    --c1: #7aa6d6; --c2: #ff8a80; --c3: #8fd07f; --c4: #d7a6c9; --c5: #c9a48a;
    --sudden: #ff8a80; --gradual: #7aa6d6; --resolved: #8fd07f; --alert: #ff6b6b; } }
body { background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  margin: 0 auto; max-width: 1040px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--grid); }
h3 { font-size: 15px; margin: 20px 0 6px; } .muted, .sub { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--grid); vertical-align: top; }
td.n, th.n { text-align: right; }
.card { background: var(--card); border-radius: 8px; padding: 10px 14px; margin: 12px 0; }
.chart { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--muted); stroke-width: 1; } .chart .grid { stroke: var(--grid); stroke-width: 1; }
.chart text { fill: var(--fg); font-size: 11px; } .chart .tick, .chart .label { fill: var(--muted); }
.chart .line { fill: none; stroke-width: 1.8; } .chart .c1 { stroke: var(--c1); fill: var(--c1); }
.chart .c2 { stroke: var(--c2); fill: var(--c2); } .chart .c3 { stroke: var(--c3); fill: var(--c3); }
.chart .c4 { stroke: var(--c4); fill: var(--c4); } .chart .c5 { stroke: var(--c5); fill: var(--c5); }
.chart path.line { fill: none; } .chart .muted { stroke: var(--muted); } .chart .alert { stroke: var(--alert); }
.chart .dot { fill: var(--alert); } .chart .bar { stroke: none; opacity: 0.85; }
.chart .marker { stroke-width: 1.2; stroke-dasharray: 3 3; } .chart .marker.sudden { stroke: var(--sudden); }
.chart .marker.gradual { stroke: var(--gradual); } .chart .marker.resolved { stroke: var(--resolved); }
.chart .mlabel.sudden { fill: var(--sudden); } .chart .mlabel.gradual { fill: var(--gradual); }
.chart .mlabel.resolved { fill: var(--resolved); }
.chart .span.sudden { fill: var(--sudden); } .chart .span.gradual { fill: var(--gradual); }
.chart .span.open { opacity: 0.6; } .chart .decision { fill: var(--fg); }
.kind { font-weight: 600; } .kind.sudden { color: var(--sudden); } .kind.gradual { color: var(--gradual); }
.kind.resolved { color: var(--resolved); } .bad { color: var(--alert); font-weight: 600; }
"#;

fn fmt_time(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), num)
}

fn target_of(kind: &str) -> &'static str {
    match kind {
        "sudden" => "an SNS topic: a person investigates (deploy/rules.yaml)",
        "gradual" => "the retraining SageMaker Pipeline (deploy/rules.yaml)",
        _ => "the audit log only",
    }
}

/// A self-closed void element (`<br/>`, `<meta .../>`): maud writes `<br>`, which HTML takes
/// but XML does not, and the page is both. A constant: nothing of the data goes in it.
fn void(tag: &'static str) -> PreEscaped<&'static str> {
    PreEscaped(tag)
}

/// Renders the page.
pub fn render(report: &HtmlReport) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (void(r#"<meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><meta name="color-scheme" content="light dark"/>"#))
                title { "driftwatch replay: " (report.capture) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "driftwatch replay" }
                p class="sub" { "capture " code { (report.capture) } ", baseline " code { (report.baseline) } "; all times UTC." }
                @for s in &report.streams {
                    (stream_section(report, s))
                }
                p class="sub" { "Full per-window numbers: " code { "drift_metrics.parquet" } " and the per-window reports of " code { "--output" } "." }
            }
        }
    };
    page.into_string()
}

fn stream_section(report: &HtmlReport, s: &StreamReport) -> Markup {
    let baseline = &report.baseline;
    let (lo, hi) = (s.first.unwrap_or(0), s.last_end.unwrap_or(0));
    let skipped: Vec<String> = s.summary.skipped.iter().map(|(r, n)| format!("{} {n}", r.as_str())).collect();
    let spans: Vec<Span> = s
        .summary
        .episodes
        .iter()
        .map(|e| Span {
            onset: e.onset.millis(),
            decided: e.decided_at.millis(),
            end: e.resolved_at.map_or(hi, Timestamp::millis),
            resolved: e.resolved_at.is_some(),
            class: episode_class(e),
            label: format!("{} · {}", kind_label(e), e.features.join(", ")),
        })
        .collect();

    // Drifting features: in an episode (most affected first), then by violations.
    let mut order: Vec<usize> = Vec::new();
    for e in &s.summary.episodes {
        for f in &e.features {
            if let Some(i) = s.features.iter().position(|x| &x.name == f) {
                if !order.contains(&i) {
                    order.push(i);
                }
            }
        }
    }
    let mut violating: Vec<usize> =
        (0..s.features.len()).filter(|i| s.features[*i].violations > 0 && !order.contains(i)).collect();
    violating.sort_by_key(|i| std::cmp::Reverse(s.features[*i].violations));
    order.extend(violating);
    let charted = order.len().min(CHARTED_FEATURES);
    // Features judged against a learned cycle: why their nights (or weekends) did not page.
    let cyclic: Vec<usize> =
        (0..s.features.len()).filter(|i| s.features[*i].cycle_model.is_some() && !order.contains(i)).collect();
    let room = CHARTED_FEATURES.saturating_sub(charted).min(cyclic.len());

    html! {
        section class="stream" {
            h2 { (s.stream.to_string()) }
            table class="summary" {
                tr { th { "time range" } td { (fmt_time(lo)) " – " (fmt_time(hi)) } }
                tr { th { "windows" } td { (s.summary.windows) " of " (s.window_ms / 60_000) " min, " (s.summary.windows_with_violations) " with a Model Monitor violation" } }
                tr { th { "records / rows" } td { (s.summary.records) " / " (s.summary.rows) } }
                tr { th { "skipped" } td { @if skipped.is_empty() { "none" } @else { (skipped.join(", ")) } } }
                tr { th { "baseline" } td { code { (baseline) } } }
            }
            h3 { "Episodes" }
            @if s.summary.episodes.is_empty() {
                p class="muted" { "No episode: nothing would have fired." }
            } @else {
                (svg::timeline((lo, hi), &spans))
                p class="sub" { "Bars run from the estimated onset to the resolution (faded: still open at the end); ▼ marks the decision." }
                table class="decisions" {
                    tr { th { "detected" } th { "event" } th { "onset" } th { "features" } th { "would have triggered" } th { "what decided it" } }
                    @for d in &s.decisions {
                        tr {
                            td { (d.detected_at) }
                            td {
                                span class=(format!("kind {}", d.kind)) { (d.detail_type) }
                                (void("<br/>"))
                                span class="sub" { (d.action) " · " (&d.episode[..d.episode.len().min(8)]) }
                            }
                            td { (d.onset) }
                            td { (d.features.join(", ")) }
                            td { (target_of(d.kind)) }
                            td { (d.why) }
                        }
                    }
                }
            }
            @if let Some(q) = &s.quality {
                (quality_section(q, (lo, hi)))
            }
            @if let Some(b) = &s.bias {
                (bias_section(b, (lo, hi)))
            }
            @if s.features.is_empty() {
                h3 { "Data quality" }
                p class="muted" { "Not monitored: the replay had no data-quality baseline (--baseline)." }
            } @else {
            h3 { "Drifting features" }
            @if order.is_empty() {
                p class="muted" { "No feature drifted or violated a constraint." }
            }
            @for &i in &order[..charted] {
                (feature_card(report, s, i, (lo, hi)))
            }
            @if order.len() > charted {
                p class="muted" { (order.len() - charted) " more drifting features are in the table below." }
            }
            @if !cyclic.is_empty() {
                h3 { "Features with a learned cycle" }
                @for &i in &cyclic[..room] {
                    (feature_card(report, s, i, (lo, hi)))
                }
                @if cyclic.len() > room {
                    p class="muted" { (cyclic.len() - room) " more features with a cycle are in the table below." }
                }
            }
            h3 { "All features" }
            table class="features" {
                tr { th { "feature" } th { "type (baseline / last window)" } th class="n" { "completeness" } th class="n" { "L∞ to baseline" } th class="n" { "noise floor" } th class="n" { "PSI" } th class="n" { "Wasserstein" } th class="n" { "windows violating" } }
                @for f in &s.features {
                    tr {
                        td { (f.name) }
                        td {
                            (f.expected) " / "
                            @if f.expected != f.last_observed && f.last_observed != "Unknown" {
                                span class="bad" { (f.last_observed) }
                            } @else {
                                (f.last_observed)
                            }
                        }
                        td class="n" { (f.last_completeness.map_or("–".into(), |c| format!("{:.1}%", c * 100.0))) }
                        td class="n" { (opt(f.last_d)) }
                        td class="n" { (opt(f.last_floor)) }
                        td class="n" { (opt(f.last_psi)) }
                        td class="n" { (opt(f.last_wasserstein)) }
                        td class=(if f.violations > 0 { "n bad" } else { "n" }) { (f.violations) }
                    }
                }
            }
            p class="sub" { "Latest values are the last window's." }
            }
        }
    }
}

/// The model-quality section: each headline metric per window with its 95% interval and the
/// baseline's value, degraded windows as dots, the episodes' onsets and decisions; the
/// labelled share; the model-quality events.
fn quality_section(q: &QualitySeries, range: (i64, i64)) -> Markup {
    let mut markers = Vec::new();
    for d in &q.decisions {
        let class = match d.kind {
            "sudden" => "sudden",
            "gradual" => "gradual",
            _ => "resolved",
        };
        if d.kind != "resolved" {
            markers.push(Marker { at: d.onset.millis(), label: "onset".into(), class });
        }
        let label = if d.kind == "resolved" { "recovered".to_owned() } else { format!("{} decided", d.kind) };
        markers.push(Marker { at: d.detected_at.millis(), label, class });
    }
    let basis = if q.estimated {
        "estimated without labels from the calibrated probabilities (what it cannot see: a change in P(y|x) with unchanged inputs)"
    } else {
        "measured on the labels joined to each window's predictions"
    };
    let down = |v: &[(i64, f64)]| svg::downsample(v, DRAWN_POINTS);
    html! {
        h3 { "Model quality" }
        p class="sub" { "Headline metrics " (basis) "; the band is the window's 95% interval, dots are windows worse than the baseline beyond noise." }
        @for m in &q.metrics {
            (svg::time_chart(&TimeChart {
                y_label: m.name.clone(),
                title: format!("{}: per window, with its interval and the baseline's value", m.name),
                y_cap: None,
                x_range: range,
                lines: {
                    let mut lines = vec![
                        Line { label: "window".into(), class: "c1", dashed: false, points: down(&m.value) },
                        Line { label: "95% interval".into(), class: "muted", dashed: true, points: down(&m.low) },
                        Line { label: "".into(), class: "muted", dashed: true, points: down(&m.high) },
                        Line { label: "baseline (threshold)".into(), class: "alert", dashed: true, points: down(&m.baseline) },
                    ];
                    if !m.estimate.is_empty() {
                        lines.push(Line { label: "estimated from scores".into(), class: "c3", dashed: true, points: down(&m.estimate) });
                    }
                    lines
                },
                dots: down(&m.degraded),
                dots_label: "degraded".into(),
                markers: markers.clone(),
                height: 200.0,
            }))
        }
        @if !q.labelled_share.is_empty() {
            (svg::time_chart(&TimeChart {
                y_label: "labelled share".into(),
                title: "share of each window's predictions with a label".into(),
                y_cap: Some(1.0),
                x_range: range,
                lines: vec![Line { label: "labelled".into(), class: "c4", dashed: false, points: down(&q.labelled_share) }],
                dots: Vec::new(),
                dots_label: String::new(),
                markers: Vec::new(),
                height: 140.0,
            }))
        }
        @if q.decisions.is_empty() {
            p class="muted" { "No model-quality episode." }
        } @else {
            table class="decisions" {
                tr { th { "detected" } th { "event" } th { "onset" } th { "metrics" } th { "would have triggered" } th { "what decided it" } }
                @for d in &q.decisions {
                    tr {
                        td {
                            (d.detected_at.to_string())
                            @if d.judged_at != d.detected_at {
                                (void("<br/>"))
                                span class="sub" { "labels in by " (d.judged_at.to_string()) }
                            }
                        }
                        td {
                            span class=(format!("kind {}", d.kind)) { (d.detail_type) }
                            (void("<br/>"))
                            span class="sub" { (d.action) @if d.estimated { " · estimated" } }
                        }
                        td { (d.onset.to_string()) }
                        td { (d.metrics) }
                        td { (target_of(d.kind)) }
                        td { (d.basis) }
                    }
                }
            }
        }
    }
}

/// The bias section: each facet value's DPPL and DI (and CDDPL) per window with its 95%
/// interval and the baseline's value, windows violating `bias_drift_check` as dots, the bias
/// episodes' onsets and decisions; the bias events.
fn bias_section(b: &BiasSeries, range: (i64, i64)) -> Markup {
    let down = |v: &[(i64, f64)]| svg::downsample(v, DRAWN_POINTS);
    let markers_of = |facet: &str| -> Vec<Marker> {
        let mut markers = Vec::new();
        for d in b.decisions.iter().filter(|d| d.facet == facet) {
            let class = match d.kind {
                "sudden" => "sudden",
                "gradual" => "gradual",
                _ => "resolved",
            };
            let at = |t: &str| Timestamp::parse_rfc3339(t).map(|t| t.millis());
            if d.kind != "resolved" {
                if let Some(t) = at(&d.onset) {
                    markers.push(Marker { at: t, label: "onset".into(), class });
                }
            }
            if let Some(t) = at(&d.detected_at) {
                let label = if d.kind == "resolved" { "resolved".to_owned() } else { format!("{} decided", d.kind) };
                markers.push(Marker { at: t, label, class });
            }
        }
        markers
    };
    html! {
        h3 { "Bias drift" }
        p class="sub" { "Clarify's post-training metrics per facet value (d) against the other rows; the band is the window's 95% interval, the dashed line the baseline's value, dots are windows further from neutral than the baseline beyond noise." }
        @for s in &b.series {
            (svg::time_chart(&TimeChart {
                y_label: s.metric.clone(),
                title: format!("{} of {}={}: per window, with its interval and the baseline's value", s.metric, s.facet, s.value),
                y_cap: None,
                x_range: range,
                lines: vec![
                    Line { label: "window".into(), class: "c1", dashed: false, points: down(&s.window) },
                    Line { label: "95% interval".into(), class: "muted", dashed: true, points: down(&s.low) },
                    Line { label: "".into(), class: "muted", dashed: true, points: down(&s.high) },
                    Line { label: "baseline".into(), class: "alert", dashed: true, points: down(&s.baseline) },
                ],
                dots: down(&s.violations),
                dots_label: "bias_drift_check".into(),
                markers: markers_of(&format!("{}={}", s.facet, s.value)),
                height: 160.0,
            }))
        }
        @if b.decisions.is_empty() {
            p class="muted" { "No bias episode." }
        } @else {
            table class="decisions" {
                tr { th { "detected" } th { "event" } th { "facet" } th { "onset" } th { "metrics" } th { "what decided it" } }
                @for d in &b.decisions {
                    tr {
                        td { (d.detected_at) }
                        td {
                            span class=(format!("kind {}", d.kind)) { (d.detail_type) }
                            (void("<br/>"))
                            span class="sub" { (d.action) }
                        }
                        td { (d.facet) }
                        td { (d.onset) }
                        td { (d.metrics) }
                        td { (d.basis) }
                    }
                }
            }
        }
    }
}

/// The CSS class of an episode's marks.
fn episode_class(e: &EpisodeSummary) -> &'static str {
    if e.kind == Kind::Gradual {
        "gradual"
    } else {
        "sudden"
    }
}

fn kind_label(e: &EpisodeSummary) -> String {
    let k = if e.first_kind == e.kind {
        e.kind.as_str().to_owned()
    } else {
        format!("{} → {}", e.first_kind.as_str(), e.kind.as_str())
    };
    format!("{k} ({})", e.kind.action())
}

fn feature_card(report: &HtmlReport, s: &StreamReport, i: usize, range: (i64, i64)) -> Markup {
    let f = &s.features[i];
    let series = |get: fn(&Point) -> f32| -> Vec<(i64, f64)> {
        svg::downsample(&f.points.iter().map(|p| (p.start, f64::from(get(p)))).collect::<Vec<_>>(), DRAWN_POINTS)
    };
    let mut markers = Vec::new();
    for e in s.summary.episodes.iter().filter(|e| e.features.contains(&f.name)) {
        let class = episode_class(e);
        markers.push(Marker { at: e.onset.millis(), label: "onset".into(), class });
        markers.push(Marker { at: e.decided_at.millis(), label: format!("{} decided", e.kind.as_str()), class });
        if let Some(r) = e.resolved_at {
            markers.push(Marker { at: r.millis(), label: "resolved".into(), class: "resolved" });
        }
    }
    let violations: Vec<(i64, f64)> =
        f.points.iter().filter(|p| p.violated).map(|p| (p.start, f64::from(p.d))).collect();
    let mut lines = vec![
        Line { label: "to the baseline".into(), class: "c1", dashed: false, points: series(|p| p.d) },
        Line { label: "its noise floor".into(), class: "muted", dashed: true, points: series(|p| p.floor) },
        Line { label: "Model Monitor's threshold".into(), class: "alert", dashed: true, points: series(|p| p.limit) },
        Line { label: "to the recent past".into(), class: "c4", dashed: false, points: series(|p| p.step) },
        Line { label: "its noise floor".into(), class: "c4", dashed: true, points: series(|p| p.step_floor) },
    ];
    // The learned cycle beside the distance: where the distance to the baseline follows the
    // cycle, the window was normal for its hour.
    if let Some(model) = f.cycle_model {
        lines.push(Line {
            label: format!("the learned {model} cycle"),
            class: "c5",
            dashed: false,
            points: series(|p| p.cycle),
        });
        lines.push(Line {
            label: "to what the cycle expects".into(),
            class: "c3",
            dashed: false,
            points: series(|p| p.expected),
        });
    }
    let chart = TimeChart {
        y_label: "L∞ distance".into(),
        title: format!("{}: distance to the baseline and to the recent past, per window", f.name),
        y_cap: Some(1.0),
        x_range: range,
        lines,
        dots: svg::downsample(&violations, DRAWN_POINTS),
        dots_label: "violation".into(),
        markers,
        height: 240.0,
    };
    let cycle_note = match (f.cycle_model, f.cycle_since) {
        (Some(model), Some(since)) => {
            let reference = if model == "weekly" {
                "the same hour of the week in earlier weeks"
            } else {
                "the same hour of earlier days"
            };
            Some(format!(
                "Judged against a learned {model} cycle from {} on: what the baseline moved by {reference} expects. Windows far from the baseline but close to that are the cycle, not drift.",
                fmt_time(since)
            ))
        }
        _ => None,
    };
    let farthest = f.farthest.as_ref().map(|(start, d, dist)| {
        let label = format!("window of {} (farthest, L∞ {})", fmt_time(*start), num(*d));
        match dist {
            Distribution::Numeric(q) => {
                let base = match report.baseline_dist.get(&f.name) {
                    Some(Distribution::Numeric(b)) => b.as_slice(),
                    _ => &[],
                };
                svg::cdf_chart(&f.name, base, q, &label)
            }
            Distribution::Categorical(shares) => {
                svg::bar_chart(&bars(report.baseline_dist.get(&f.name), shares), &label)
            }
        }
    });
    html! {
        div class="card feature" {
            h3 { (f.name) }
            (svg::time_chart(&chart))
            @if let Some(note) = cycle_note {
                p class="sub" { (note) }
            }
            @for d in s.decisions.iter().filter(|d| d.features.first() == Some(&f.name)) {
                p { span class=(format!("kind {}", d.kind)) { (d.detail_type) } " at " (d.detected_at) ": " (d.why) }
            }
            @if let Some(chart) = farthest {
                (chart)
            }
        }
    }
}

fn bars(baseline: Option<&Distribution>, window: &[(String, f64)]) -> Vec<(String, f64, f64)> {
    let base: BTreeMap<String, f64> = match baseline {
        Some(Distribution::Categorical(b)) => b.iter().cloned().collect(),
        _ => BTreeMap::new(),
    };
    let mut names: Vec<String> = Vec::new();
    let mut by_base: Vec<(&String, &f64)> = base.iter().collect();
    by_base.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (k, _) in by_base.into_iter().take(BARS) {
        names.push(k.clone());
    }
    for (k, _) in window {
        if names.len() >= BARS {
            break;
        }
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    let win: BTreeMap<&str, f64> = window.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut out: Vec<(String, f64, f64)> = names
        .iter()
        .map(|n| (n.clone(), base.get(n).copied().unwrap_or(0.0), win.get(n.as_str()).copied().unwrap_or(0.0)))
        .collect();
    let (ob, ow) = (1.0 - out.iter().map(|b| b.1).sum::<f64>(), 1.0 - out.iter().map(|b| b.2).sum::<f64>());
    if ob > 1e-9 || ow > 1e-9 {
        out.push(("other".into(), ob.max(0.0), ow.max(0.0)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::WeightedCdf;

    #[test]
    fn pooling_keeps_peaks_and_violations() {
        let p = |d: f32, violated: bool| Point {
            start: 0,
            d,
            floor: f32::NAN,
            limit: 0.2,
            step: 0.1,
            step_floor: 0.3,
            cycle: f32::NAN,
            expected: f32::NAN,
            violated,
        };
        let a = Point { start: 10, ..p(0.1, false) };
        let pooled = pool(a, p(0.9, true));
        assert_eq!((pooled.start, pooled.d, pooled.violated), (10, 0.9, true));
        assert!(pooled.floor.is_nan(), "no floor in either stays unknown");
        assert_eq!(pool(p(f32::NAN, false), p(0.4, false)).d, 0.4);
    }

    #[test]
    fn pooled_series_stay_short_with_points_of_equal_width() {
        let mut s = Pooled::default();
        let n = 5 * KEPT_POINTS as i64 + 3;
        for i in 0..n {
            let d = if i == 4321 { 0.99 } else { 0.1 };
            s.push(Point {
                start: i,
                d,
                floor: 0.2,
                limit: 0.3,
                step: 0.1,
                step_floor: 0.2,
                cycle: f32::NAN,
                expected: f32::NAN,
                violated: i == 77,
            });
        }
        let starts: Vec<i64> = s.iter().map(|p| p.start).collect();
        assert!(starts.len() < 2 * KEPT_POINTS && starts.len() >= KEPT_POINTS, "{}", starts.len());
        assert_eq!(s.stride, 4);
        // Every complete point spans `stride` windows; the last one is being filled.
        assert!(starts.windows(2).all(|w| w[1] - w[0] == 4), "{:?}", &starts[..8]);
        assert_eq!(s.pending.map(|p| p.1), Some((n % 4) as usize));
        // The peak and the violation survive pooling.
        assert!(s.iter().any(|p| p.start == 4320 && p.d == 0.99));
        assert!(s.iter().any(|p| p.start == 76 && p.violated));
    }

    #[test]
    fn quantiles_are_increasing_points_of_the_cdf() {
        let cdf = WeightedCdf::from_points((1..=1000).map(|i| (f64::from(i), 1.0)).collect());
        let q = quantiles(&cdf);
        assert!(q.len() > 90 && q.len() <= 101, "{}", q.len());
        assert!(q.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(q.last().map(|p| p.1), Some(1.0));
        // Few distinct values give few points.
        let two = WeightedCdf::from_points(vec![(1.0, 3.0), (2.0, 1.0)]);
        assert_eq!(quantiles(&two), vec![(1.0, 0.75), (2.0, 1.0)]);
    }

    #[test]
    fn bars_put_the_baselines_categories_first_and_sum_the_rest() {
        let base = Distribution::Categorical(vec![("a".into(), 0.7), ("b".into(), 0.3)]);
        let window = vec![("c".to_owned(), 0.5), ("a".to_owned(), 0.5)];
        assert_eq!(
            bars(Some(&base), &window),
            vec![("a".into(), 0.7, 0.5), ("b".into(), 0.3, 0.0), ("c".into(), 0.0, 0.5)]
        );
        // More categories than bars: the smallest go to "other".
        let many: Vec<(String, f64)> = (0..20).map(|i| (format!("k{i:02}"), 0.05)).collect();
        let b = bars(Some(&Distribution::Categorical(many.clone())), &many);
        assert_eq!(b.len(), BARS + 1);
        let other = &b[BARS];
        assert_eq!(other.0, "other");
        assert!((other.1 - 0.4).abs() < 1e-9 && (other.2 - 0.4).abs() < 1e-9, "{other:?}");
    }
}
