//! The scenario suite: streams with known ground truth, run through the same engine and
//! classifier as `replay`, and scored (kind right, detection delay, false events, events per
//! episode). `cargo run --release --example scenarios` prints the table in the README.

use std::fmt::Write as _;
use std::sync::Arc;

use super::{loan_features, Change, Cycle, FeatureSpec, Payload, StreamSpec};
use driftwatch_core::baseline::build::build_csv;
use driftwatch_core::baseline::Baseline;
use driftwatch_core::classify::{ClassifierConfig, Decision, EpisodeSummary, Kind, StreamClassifier};
use driftwatch_core::drift::compare;
use driftwatch_core::pipeline::{ClosedWindow, StreamEngine};
use driftwatch_core::time::{Duration, Timestamp};

/// One scenario of the suite.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name.
    pub name: &'static str,
    /// The stream.
    pub spec: StreamSpec,
    /// Hours from the stream's start that are a reference period (learned, not judged).
    pub reference_hours: Option<f64>,
}

impl Scenario {
    /// The classifier settings for this scenario: `base` with its reference period.
    pub fn config(&self, base: &ClassifierConfig) -> ClassifierConfig {
        let mut cfg = base.clone();
        if let Some(h) = self.reference_hours {
            cfg.reference_start = Some(self.spec.start);
            cfg.reference_end = Some(self.spec.start + Duration::from_millis((h * 3_600_000.0) as i64));
        }
        cfg
    }

    /// Whether the stream has a daily or weekly cycle.
    pub fn cyclic(&self) -> bool {
        !self.spec.cycles.is_empty()
    }
}

/// The loan model's daily cycle: lower incomes at night (0.45 sd at 03:00) and 20 points more
/// renters.
pub fn loan_daily_cycle() -> Vec<Cycle> {
    vec![
        Cycle { feature: 1, night_sd: -0.45, ..Cycle::default() },
        Cycle { feature: 5, night_weights: Some(vec![0.65, 0.22, 0.13]), ..Cycle::default() },
    ]
}

/// The daily cycle and a weekend: smaller loans (0.4 sd) and 15 points more car loans on
/// Saturdays and Sundays.
pub fn loan_weekly_cycle() -> Vec<Cycle> {
    let mut c = loan_daily_cycle();
    c.push(Cycle { feature: 0, weekend_sd: -0.4, ..Cycle::default() });
    c.push(Cycle { feature: 6, weekend_weights: Some(vec![0.4, 0.35, 0.15, 0.1]), ..Cycle::default() });
    c
}

/// The payments model's daily cycle: 22 points more app traffic and larger amounts (0.35
/// sigma) at night, 15 points more online merchants.
pub fn payment_daily_cycle() -> Vec<Cycle> {
    vec![
        Cycle { feature: 0, night_sd: 0.35, ..Cycle::default() },
        Cycle { feature: 3, night_weights: Some(vec![0.33, 0.57, 0.10]), ..Cycle::default() },
        Cycle { feature: 4, night_weights: Some(vec![0.25, 0.1, 0.1, 0.5, 0.05]), ..Cycle::default() },
    ]
}

/// Rows of training data behind each scenario's baseline.
pub const BASELINE_ROWS: usize = 20_000;

/// The features of a second, unrelated model (payments), so that rules are not fitted to one
/// feature set.
pub fn payment_features() -> Vec<FeatureSpec> {
    vec![
        FeatureSpec::lognormal("amount", 42.0, 0.9, 2),
        FeatureSpec::integer("hour_of_day", 13.0, 5.0, 0, 23),
        FeatureSpec::numeric("account_age_days", 900.0, 350.0, 0),
        FeatureSpec::category("channel", &[("web", 0.55), ("app", 0.35), ("pos", 0.10)]),
        FeatureSpec::category(
            "merchant_type",
            &[("grocery", 0.3), ("fuel", 0.15), ("travel", 0.1), ("online", 0.35), ("other", 0.1)],
        ),
        FeatureSpec::numeric("velocity_24h", 3.0, 1.2, 1),
    ]
}

fn stream(
    name: &str,
    features: Vec<FeatureSpec>,
    hours: u32,
    peak: f64,
    changes: Vec<Change>,
    seed: u64,
) -> StreamSpec {
    StreamSpec {
        endpoint: name.to_owned(),
        variant: "AllTraffic".into(),
        start: Timestamp::from_civil(2026, 3, 2, 0, 0, 0).unwrap_or(Timestamp::from_millis(0)),
        hours,
        peak_rate: peak,
        max_rows: 3,
        features,
        changes,
        cycles: vec![],
        seed,
        payload: Payload::Csv,
    }
}

/// The suite in the repository.
pub fn suite() -> Vec<Scenario> {
    use Change::*;
    let loan = loan_features;
    let pay = payment_features;
    let inf = f64::INFINITY;
    let s = |name: &'static str, spec: StreamSpec| Scenario { name, spec, reference_hours: Option::None };
    let cyc = |mut spec: StreamSpec, cycles: Vec<Cycle>| {
        spec.cycles = cycles;
        spec
    };
    let with_reference = |mut sc: Scenario, hours: f64| {
        sc.reference_hours = Some(hours);
        sc
    };
    vec![
        // Stationary: quiet nights, busy days, and one stream with several times more traffic.
        s("stationary", stream("stationary", loan(), 168, 300.0, vec![], 11)),
        s("stationary-busy", stream("stationary-busy", pay(), 96, 2500.0, vec![], 12)),
        s("stationary-sparse", stream("stationary-sparse", pay(), 168, 40.0, vec![], 13)),
        // Sudden.
        s(
            "unit-change",
            stream(
                "unit-change",
                loan(),
                96,
                300.0,
                vec![UnitChange { feature: 0, at: 50.0, hours: inf, factor: 100.0 }],
                21,
            ),
        ),
        s(
            "category-rename",
            stream("category-rename", pay(), 96, 300.0, vec![CategoryRename { feature: 4, at: 61.0 }], 22),
        ),
        s("goes-null", stream("goes-null", loan(), 96, 300.0, vec![GoesNull { feature: 3, at: 45.0, hours: inf }], 23)),
        s(
            "column-dropped",
            stream("column-dropped", pay(), 96, 300.0, vec![ColumnDropped { feature: 5, at: 70.0 }], 24),
        ),
        s(
            "mean-step",
            stream("mean-step", loan(), 96, 300.0, vec![MeanStep { feature: 1, at: 55.0, shift_sd: 1.0 }], 25),
        ),
        s(
            "outage-reverts",
            stream("outage-reverts", pay(), 96, 300.0, vec![GoesNull { feature: 2, at: 40.0, hours: 3.0 }], 26),
        ),
        s(
            "mean-step-busy",
            stream("mean-step-busy", pay(), 72, 2000.0, vec![MeanStep { feature: 2, at: 40.0, shift_sd: 0.5 }], 27),
        ),
        // Gradual, calibrated to the reference streams: ramps of two to three days on
        // which Model Monitor's robust rule fires after about a day (see the table's column).
        s(
            "mean-creep",
            stream(
                "mean-creep",
                loan(),
                168,
                300.0,
                vec![MeanRamp { features: vec![1], at: 36.0, hours: 60.0, total_sd: -1.0 }],
                31,
            ),
        ),
        s(
            "mixture-grows",
            stream(
                "mixture-grows",
                pay(),
                168,
                300.0,
                vec![Mixture { feature: 0, at: 40.0, hours: 60.0, share: 0.4, offset_sd: 2.0 }],
                32,
            ),
        ),
        s(
            "share-drift",
            stream(
                "share-drift",
                pay(),
                168,
                300.0,
                vec![ShareDrift { feature: 4, at: 30.0, hours: 48.0, to: vec![0.05, 0.15, 0.1, 0.6, 0.1] }],
                33,
            ),
        ),
        s(
            "correlated-creep",
            stream(
                "correlated-creep",
                loan(),
                168,
                300.0,
                vec![MeanRamp { features: vec![0, 1], at: 48.0, hours: 48.0, total_sd: 1.0 }],
                34,
            ),
        ),
        s(
            "creep-busy",
            stream(
                "creep-busy",
                pay(),
                120,
                1500.0,
                vec![MeanRamp { features: vec![5], at: 24.0, hours: 72.0, total_sd: 1.0 }],
                35,
            ),
        ),
        // Gradual and hard: slower than the reference (Model Monitor needs a day and a half or
        // never fires within the ramp). Reported apart from the target's median.
        s(
            "hard-share-drift",
            stream(
                "hard-share-drift",
                pay(),
                168,
                300.0,
                vec![ShareDrift { feature: 4, at: 30.0, hours: 72.0, to: vec![0.15, 0.15, 0.1, 0.5, 0.1] }],
                36,
            ),
        ),
        s(
            "hard-creep-busy",
            stream(
                "hard-creep-busy",
                pay(),
                120,
                1500.0,
                vec![MeanRamp { features: vec![5], at: 24.0, hours: 72.0, total_sd: 0.6 }],
                37,
            ),
        ),
        // A blip that returns: nothing, or a resolved episode; never retrain.
        s(
            "blip",
            stream("blip", loan(), 96, 300.0, vec![Blip { feature: 1, at: 50.0, hours: 2.0, shift_sd: 1.5 }], 41),
        ),
        // Daily cycles of realistic size (mixes moving 20 points, numbers a third to a half of a
        // standard deviation between day and night): normal traffic, never an event.
        s("cycle-stationary", cyc(stream("cycle-stationary", loan(), 168, 300.0, vec![], 51), loan_daily_cycle())),
        s(
            "cycle-stationary-busy",
            cyc(stream("cycle-stationary-busy", pay(), 168, 2500.0, vec![], 52), payment_daily_cycle()),
        ),
        s(
            "cycle-stationary-sparse",
            cyc(stream("cycle-stationary-sparse", pay(), 168, 40.0, vec![], 53), payment_daily_cycle()),
        ),
        // Weekends too: learned from a week of reference capture, then three quiet weeks.
        with_reference(
            s(
                "weekly-stationary",
                cyc(stream("weekly-stationary", loan(), 672, 300.0, vec![], 54), loan_weekly_cycle()),
            ),
            168.0,
        ),
        // Drift on top of a cycle: steps are still sudden, creeps still gradual.
        s(
            "cycle-unit-change",
            cyc(
                stream(
                    "cycle-unit-change",
                    loan(),
                    120,
                    300.0,
                    vec![UnitChange { feature: 1, at: 75.0, hours: inf, factor: 100.0 }],
                    61,
                ),
                loan_daily_cycle(),
            ),
        ),
        s(
            "cycle-mean-step-busy",
            cyc(
                stream(
                    "cycle-mean-step-busy",
                    pay(),
                    96,
                    2000.0,
                    vec![MeanStep { feature: 0, at: 58.0, shift_sd: 0.5 }],
                    62,
                ),
                payment_daily_cycle(),
            ),
        ),
        s(
            "cycle-creep",
            cyc(
                stream(
                    "cycle-creep",
                    loan(),
                    168,
                    300.0,
                    vec![MeanRamp { features: vec![1], at: 60.0, hours: 60.0, total_sd: -1.0 }],
                    63,
                ),
                loan_daily_cycle(),
            ),
        ),
        s(
            "cycle-share-drift",
            cyc(
                stream(
                    "cycle-share-drift",
                    pay(),
                    168,
                    300.0,
                    vec![ShareDrift { feature: 3, at: 54.0, hours: 48.0, to: vec![0.35, 0.55, 0.10] }],
                    64,
                ),
                payment_daily_cycle(),
            ),
        ),
        s(
            "cycle-creep-sparse",
            cyc(
                stream(
                    "cycle-creep-sparse",
                    pay(),
                    168,
                    150.0,
                    vec![MeanRamp { features: vec![0], at: 50.0, hours: 60.0, total_sd: 1.0 }],
                    65,
                ),
                payment_daily_cycle(),
            ),
        ),
        with_reference(
            s(
                "weekly-creep",
                cyc(
                    stream(
                        "weekly-creep",
                        loan(),
                        504,
                        300.0,
                        vec![MeanRamp { features: vec![0], at: 260.0, hours: 72.0, total_sd: -1.0 }],
                        66,
                    ),
                    loan_weekly_cycle(),
                ),
            ),
            168.0,
        ),
    ]
}

/// What the classifier said about a scenario.
#[derive(Debug, Clone, Default)]
pub struct ScenarioRun {
    /// Every decision, in order.
    pub decisions: Vec<Decision>,
    /// Every episode.
    pub episodes: Vec<EpisodeSummary>,
    /// Windows closed.
    pub windows: u64,
    /// Rows profiled.
    pub rows: u64,
    /// Each window's classifier view (`drift.json`'s `classification`), for debugging.
    pub window_log: Vec<(Timestamp, driftwatch_core::classify::evidence::WindowView)>,
    /// End of each window in which Model Monitor's `baseline_drift_check` fired, with the
    /// features it fired for (for comparison with Model Monitor's hourly rule).
    pub model_monitor: Vec<(Timestamp, Vec<String>)>,
}

/// Builds a scenario's baseline from its training data.
pub fn baseline_of(spec: &StreamSpec) -> Result<Baseline, String> {
    let csv = spec.baseline_csv(BASELINE_ROWS);
    let built = build_csv(csv.as_bytes(), true, "training.csv").map_err(|e| e.to_string())?;
    Baseline::from_files(built.statistics, "statistics.json", built.constraints, "constraints.json", "synthetic")
        .map_err(|e| e.to_string())
}

/// Runs a stream through the engine and the classifier, in memory, as `replay` would.
pub fn run(spec: &StreamSpec, window: Duration, cfg: &ClassifierConfig) -> Result<ScenarioRun, String> {
    let baseline = Arc::new(baseline_of(spec)?);
    let stream = driftwatch_core::capture::layout::StreamId::new(&spec.endpoint, &spec.variant);
    let mut engine = StreamEngine::new(stream.clone(), baseline.clone(), window);
    let mut classifier = StreamClassifier::new(stream, &baseline, cfg.clone());
    let mut out = ScenarioRun::default();
    let mut handle = |closed: ClosedWindow, out: &mut ScenarioRun| {
        let drift = compare(&baseline, &closed.profile, closed.layout.is_positional());
        let o = classifier.observe(&baseline, &closed, &drift);
        if let Ok(name) = std::env::var("DRIFTWATCH_TRACE") {
            for line in classifier.trace(&baseline, &drift, &name) {
                println!("TRACE {} rows={} {line}", closed.window.start, closed.profile.rows);
            }
        }
        out.decisions.extend(o.decisions);
        out.window_log.push((closed.window.start, o.view));
        let fired: Vec<String> = drift
            .violations
            .iter()
            .filter(|v| v.constraint_check_type == "baseline_drift_check")
            .map(|v| v.feature_name.clone())
            .collect();
        if !fired.is_empty() {
            out.model_monitor.push((closed.window.end, fired));
        }
        out.windows += 1;
        out.rows += closed.profile.rows;
    };
    let mut err = None;
    spec.generate(|hour, files| {
        for closed in engine.advance_to_folder(Some(hour)) {
            handle(closed, &mut out);
        }
        for (name, text) in files {
            if let Err(e) = engine.ingest(&name, Some(hour), text.as_bytes(), &mut |_| {}) {
                err = Some(e.to_string());
            }
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    for closed in engine.close_all() {
        handle(closed, &mut out);
    }
    out.episodes = classifier.episodes();
    Ok(out)
}

/// How a scenario scored.
#[derive(Debug, Clone)]
pub struct Score {
    /// Scenario name.
    pub name: &'static str,
    /// Expected kind: none, sudden, gradual, blip.
    pub expected: &'static str,
    /// First decision after the onset (or `none`).
    pub got: String,
    /// Whether the kind is right.
    pub kind_right: bool,
    /// Hours from onset to the first decision.
    pub delay_hours: Option<f64>,
    /// Windows from the onset's window to the decision's window (0: decided in the onset window).
    pub delay_windows: Option<i64>,
    /// Events that should not have fired (before the onset, or of a wrong kind).
    pub false_events: usize,
    /// Largest number of non-resolution events in one episode.
    pub max_events_per_episode: u32,
    /// Position of a drifting feature in the first decision (1 = first).
    pub feature_rank: Option<usize>,
    /// Hours from onset until Model Monitor's `baseline_drift_check` (Robust, 0.1) first fired
    /// for a drifting feature.
    pub model_monitor_delay_hours: Option<f64>,
    /// Whether every target holds for this scenario.
    pub pass: bool,
    /// Whether the stream has a daily or weekly cycle.
    pub cyclic: bool,
}

/// Scores one run against the scenario's truth.
pub fn score(sc: &Scenario, run: &ScenarioRun, window: Duration) -> Score {
    let truth = sc.spec.truth().into_iter().next().unwrap_or(super::Truth {
        kind: "none",
        onset_hours: None,
        features: vec![],
    });
    let onset = truth.onset_hours.map(|h| Timestamp::from_millis(sc.spec.start.millis() + (h * 3_600_000.0) as i64));
    let after: Vec<&Decision> = run.decisions.iter().filter(|d| onset.is_some_and(|o| d.detected_at > o)).collect();
    let before = run.decisions.iter().filter(|d| onset.is_none_or(|o| d.detected_at <= o)).count();
    let first = after.iter().find(|d| d.kind != Kind::Resolved);
    let got = first.map(|d| d.kind.as_str().to_owned()).unwrap_or_else(|| "none".into());
    let max_events_per_episode =
        run.episodes.iter().map(|e| e.events - u32::from(e.resolved_at.is_some())).max().unwrap_or(0);
    let w = window.millis();
    let (delay_hours, delay_windows) = match (first, onset) {
        (Some(d), Some(o)) => (
            Some((d.detected_at.millis() - o.millis()) as f64 / 3_600_000.0),
            Some((d.detected_at.millis() - w).div_euclid(w) - o.millis().div_euclid(w)),
        ),
        _ => (None, None),
    };
    let model_monitor_delay_hours = onset.and_then(|o| {
        run.model_monitor
            .iter()
            .find(|(t, fs)| *t > o && fs.iter().any(|f| truth.features.contains(f)))
            .map(|(t, _)| (t.millis() - o.millis()) as f64 / 3_600_000.0)
    });
    let feature_rank =
        first.and_then(|d| d.features.iter().position(|f| truth.features.contains(&f.name)).map(|p| p + 1));
    let wrong_kind_after = match truth.kind {
        "sudden" => after.iter().filter(|d| d.kind == Kind::Gradual).count(),
        "gradual" => after.iter().filter(|d| d.kind == Kind::Sudden).count(),
        "blip" => after.iter().filter(|d| d.kind == Kind::Gradual).count(),
        _ => 0,
    };
    let false_events = before + wrong_kind_after;
    let kind_right = match truth.kind {
        "none" => run.decisions.is_empty(),
        "blip" => wrong_kind_after == 0,
        k => got == k && wrong_kind_after == 0,
    };
    let pass = kind_right
        && false_events == 0
        && max_events_per_episode <= 2
        && match truth.kind {
            "sudden" => delay_windows.is_some_and(|d| d <= 1) && feature_rank.is_some_and(|r| r <= 2),
            "gradual" => feature_rank.is_some_and(|r| r <= 2),
            _ => true,
        };
    Score {
        name: sc.name,
        expected: truth.kind,
        got,
        kind_right,
        delay_hours,
        delay_windows,
        false_events,
        max_events_per_episode,
        feature_rank,
        model_monitor_delay_hours,
        pass,
        cyclic: sc.cyclic(),
    }
}

/// Formats scores as a Markdown table plus the aggregate targets.
pub fn table(scores: &[Score]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| scenario | expected | decided | kind right | delay (h) | Model Monitor delay (h) | feature rank | false events | events/episode | pass |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for s in scores {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            s.expected,
            s.got,
            if s.kind_right { "yes" } else { "**no**" },
            s.delay_hours.map(|d| format!("{d:.1}")).unwrap_or_else(|| "-".into()),
            s.model_monitor_delay_hours.map(|d| format!("{d:.0}")).unwrap_or_else(|| "never".into()),
            s.feature_rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            s.false_events,
            s.max_events_per_episode,
            if s.pass { "yes" } else { "**no**" },
        );
    }
    let standard = |s: &&Score| s.expected == "gradual" && !s.name.starts_with("hard-") && !s.cyclic;
    let gradual: Vec<f64> = scores.iter().filter(standard).filter_map(|s| s.delay_hours).collect();
    let mm: Vec<f64> = scores.iter().filter(standard).filter_map(|s| s.model_monitor_delay_hours).collect();
    let hard: Vec<f64> = scores.iter().filter(|s| s.name.starts_with("hard-")).filter_map(|s| s.delay_hours).collect();
    let cyclic: Vec<f64> =
        scores.iter().filter(|s| s.cyclic && s.expected == "gradual").filter_map(|s| s.delay_hours).collect();
    let med = |v: &[f64]| {
        driftwatch_core::classify::trend::median(v).map(|m| format!("{m:.1}")).unwrap_or_else(|| "-".into())
    };
    let _ = writeln!(
        out,
        "\nmedian gradual delay: {} h (Model Monitor's rule: {} h; hard scenarios: {} h; on cycles: {} h); scenarios passing: {}/{}",
        med(&gradual),
        med(&mm),
        med(&hard),
        med(&cyclic),
        scores.iter().filter(|s| s.pass).count(),
        scores.len()
    );
    out
}

/// Median gradual delay (hours) of the scores that `keep` selects.
pub fn median_gradual_delay(scores: &[Score], keep: impl Fn(&Score) -> bool) -> Option<f64> {
    let v: Vec<f64> =
        scores.iter().filter(|s| s.expected == "gradual" && keep(s)).filter_map(|s| s.delay_hours).collect();
    driftwatch_core::classify::trend::median(&v)
}

/// A pool of feature shapes the randomised suite draws from.
fn random_feature(rng: &mut super::Rng, i: usize) -> FeatureSpec {
    let name = format!("f{i}");
    match rng.next_u64() % 5 {
        0 => FeatureSpec::numeric(&name, rng.uniform() * 100.0 - 50.0, 0.5 + rng.uniform() * 20.0, 3),
        1 => FeatureSpec::lognormal(&name, 1.0 + rng.uniform() * 500.0, 0.3 + rng.uniform() * 0.9, 2),
        2 => {
            let mean = 5.0 + rng.uniform() * 50.0;
            FeatureSpec::integer(&name, mean, 1.0 + rng.uniform() * mean / 3.0, 0, 1000)
        }
        _ => {
            let k = 3 + (rng.next_u64() % 6) as usize;
            let names = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"];
            let w: Vec<f64> = (0..k).map(|_| 0.2 + rng.uniform()).collect();
            let values: Vec<(&str, f64)> = names[..k].iter().copied().zip(w).collect();
            FeatureSpec::category(&name, &values)
        }
    }
}

/// A randomised suite, unlike the fixed one in features, traffic, magnitudes and timings: an
/// estimate of how the rules do on streams they were not tuned on.
pub fn random_suite(n: usize, seed: u64) -> Vec<Scenario> {
    random_suite_of(n, seed, None)
}

/// Like [`random_suite`], with every change of one kind (`none` gives stationary streams).
pub fn random_suite_of(n: usize, seed: u64, only: Option<&str>) -> Vec<Scenario> {
    random_suite_with(n, seed, only, false)
}

/// Random cycles for a random stream's features: a daily cycle on one to three of them
/// (numbers moving a third to a half of a standard deviation at night, a category's share
/// moving 15 to 25 points), and, on one stream in three, a weekend on one more (then the
/// stream starts with a week of reference capture).
fn random_cycles(rng: &mut super::Rng, features: &[FeatureSpec]) -> (Vec<Cycle>, bool) {
    let n = features.len();
    let mut cycles: Vec<Cycle> = Vec::new();
    let count = 1 + (rng.next_u64() % 3) as usize;
    let sign = |rng: &mut super::Rng| if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
    let shifted = |rng: &mut super::Rng, f: &FeatureSpec, points: f64| -> Option<Vec<f64>> {
        let super::FeatureKind::Category { weights, .. } = &f.kind else { return None };
        let total: f64 = weights.iter().sum();
        let mut w: Vec<f64> = weights.iter().map(|x| x / total).collect();
        let k = w.len();
        let from = (rng.next_u64() % k as u64) as usize;
        let to = (from + 1 + (rng.next_u64() % (k as u64 - 1)) as usize) % k;
        let moved = points.min(w[from] * 0.9);
        w[from] -= moved;
        w[to] += moved;
        Some(w)
    };
    for _ in 0..count {
        let i = (rng.next_u64() % n as u64) as usize;
        if cycles.iter().any(|c| c.feature == i) {
            continue;
        }
        let points = 0.15 + rng.uniform() * 0.10;
        let c = match &features[i].kind {
            super::FeatureKind::Category { .. } => {
                Cycle { feature: i, night_weights: shifted(rng, &features[i], points), ..Cycle::default() }
            }
            _ => Cycle { feature: i, night_sd: sign(rng) * (1.0 / 3.0 + rng.uniform() / 6.0), ..Cycle::default() },
        };
        cycles.push(c);
    }
    let weekly = rng.uniform() < 1.0 / 3.0;
    if weekly {
        let i = (rng.next_u64() % n as u64) as usize;
        let points = 0.15 + rng.uniform() * 0.10;
        let weekend_weights = shifted(rng, &features[i], points);
        let weekend_sd = if weekend_weights.is_none() { sign(rng) * (0.3 + rng.uniform() * 0.2) } else { 0.0 };
        match cycles.iter_mut().find(|c| c.feature == i) {
            Some(c) => {
                c.weekend_sd = weekend_sd;
                c.weekend_weights = weekend_weights;
            }
            None => cycles.push(Cycle { feature: i, weekend_sd, weekend_weights, ..Cycle::default() }),
        }
    }
    (cycles, weekly)
}

/// A randomised suite of streams with daily (and some weekly) cycles, with and without a change
/// on top: [`random_suite_of`] with [`random_cycles`].
pub fn random_cyclic_suite_of(n: usize, seed: u64, only: Option<&str>) -> Vec<Scenario> {
    random_suite_with(n, seed, only, true)
}

fn random_suite_with(n: usize, seed: u64, only: Option<&str>, cyclic: bool) -> Vec<Scenario> {
    let mut rng = super::Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let n_features = 4 + (rng.next_u64() % 8) as usize;
        let features: Vec<FeatureSpec> = (0..n_features).map(|i| random_feature(&mut rng, i)).collect();
        let peak = [150.0, 400.0, 1200.0, 3000.0][(rng.next_u64() % 4) as usize];
        let onset = 24.0 + (rng.uniform() * 48.0).round();
        let numeric: Vec<usize> = features
            .iter()
            .enumerate()
            .filter(|(_, f)| !matches!(f.kind, super::FeatureKind::Category { .. }))
            .map(|(i, _)| i)
            .collect();
        let categorical: Vec<usize> = features
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.kind, super::FeatureKind::Category { .. }))
            .map(|(i, _)| i)
            .collect();
        let pick = |rng: &mut super::Rng, v: &[usize]| v[(rng.next_u64() % v.len() as u64) as usize];
        let mut kinds = vec!["none", "step", "unit", "null", "outage", "drop", "ramp", "mixture", "blip"];
        if !categorical.is_empty() {
            kinds.extend(["rename", "shares"]);
        }
        if numeric.is_empty() {
            kinds.retain(|k| matches!(*k, "none" | "null" | "outage" | "drop" | "rename" | "shares"));
        }
        let drawn = kinds[(rng.next_u64() % kinds.len() as u64) as usize];
        let kind = only.unwrap_or(drawn);
        let ramp_hours = 48.0 + (rng.uniform() * 24.0).round();
        let change = match kind {
            "none" => Change::None,
            "step" => Change::MeanStep {
                feature: pick(&mut rng, &numeric),
                at: onset,
                shift_sd: (0.6 + rng.uniform() * 1.4) * if rng.uniform() < 0.5 { -1.0 } else { 1.0 },
            },
            "unit" => Change::UnitChange {
                feature: pick(&mut rng, &numeric),
                at: onset,
                hours: f64::INFINITY,
                factor: [10.0, 100.0, 1000.0, 0.01][(rng.next_u64() % 4) as usize],
            },
            "null" => Change::GoesNull {
                feature: (rng.next_u64() % n_features as u64) as usize,
                at: onset,
                hours: f64::INFINITY,
            },
            "outage" => Change::GoesNull {
                feature: (rng.next_u64() % n_features as u64) as usize,
                at: onset,
                hours: 2.0 + (rng.uniform() * 4.0).round(),
            },
            "drop" => Change::ColumnDropped { feature: (rng.next_u64() % n_features as u64) as usize, at: onset },
            "ramp" => {
                let f = pick(&mut rng, &numeric);
                let mut fs = vec![f];
                if numeric.len() > 1 && rng.uniform() < 0.3 {
                    let g = pick(&mut rng, &numeric);
                    if g != f {
                        fs.push(g);
                    }
                }
                Change::MeanRamp {
                    features: fs,
                    at: onset,
                    hours: ramp_hours,
                    total_sd: (0.8 + rng.uniform() * 0.8) * if rng.uniform() < 0.5 { -1.0 } else { 1.0 },
                }
            }
            "mixture" => Change::Mixture {
                feature: pick(&mut rng, &numeric),
                at: onset,
                hours: ramp_hours,
                share: 0.3 + rng.uniform() * 0.3,
                offset_sd: 1.5 + rng.uniform() * 1.5,
            },
            "rename" => Change::CategoryRename { feature: pick(&mut rng, &categorical), at: onset },
            "shares" => {
                let f = pick(&mut rng, &categorical);
                let super::FeatureKind::Category { weights, .. } = &features[f].kind else {
                    unreachable!("categorical index")
                };
                let total: f64 = weights.iter().sum();
                // Move a fifth to a third of the mass from the largest category to the smallest.
                let mut to: Vec<f64> = weights.iter().map(|w| w / total).collect();
                let (imax, _) = to.iter().enumerate().fold((0, 0.0), |b, (i, &w)| if w > b.1 { (i, w) } else { b });
                let (imin, _) = to.iter().enumerate().fold((0, 2.0), |b, (i, &w)| if w < b.1 { (i, w) } else { b });
                let moved = to[imax] * (0.5 + rng.uniform() * 0.4);
                to[imax] -= moved;
                to[imin] += moved;
                Change::ShareDrift { feature: f, at: onset, hours: ramp_hours, to }
            }
            _ => Change::Blip {
                feature: pick(&mut rng, &numeric),
                at: onset,
                hours: 1.0 + (rng.uniform() * 2.0).round(),
                shift_sd: 1.0 + rng.uniform(),
            },
        };
        let mut changes = if change == Change::None { vec![] } else { vec![change] };
        let mut hours = (onset + ramp_hours + 24.0) as u32;
        let (cycles, weekly) = if cyclic { random_cycles(&mut rng, &features) } else { (vec![], false) };
        // A weekly cycle is learned from a week of reference capture before the stream is judged.
        let reference_hours = weekly.then_some(168.0);
        if let Some(r) = reference_hours {
            hours += r as u32;
            for c in &mut changes {
                c.delay(r);
            }
        }
        let prefix = if cyclic { "cyclic" } else { "random" };
        let name: &'static str = Box::leak(format!("{prefix}-{k}-{kind}").into_boxed_str());
        let mut spec = stream(name, features, hours, peak, changes, seed.wrapping_mul(1000) + k as u64);
        spec.cycles = cycles;
        out.push(Scenario { name, spec, reference_hours });
    }
    out
}

/// A stream of `features` mixed features (`bench_features`) with daily cycles on every third one
/// and a weekend on every seventh, `hours` long at `peak` requests an hour at most, one row each,
/// closed into windows by the engine: for measuring what learned cycles cost.
pub fn cyclic_stream_windows(
    features: usize,
    hours: u32,
    peak: f64,
) -> Result<(Arc<Baseline>, Vec<ClosedWindow>), String> {
    let feats = super::bench_features(features);
    let cycles = feats
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0 || i % 7 == 0)
        .map(|(i, f)| {
            let shares = |weights: &[f64], points: f64| {
                let total: f64 = weights.iter().sum();
                let mut w: Vec<f64> = weights.iter().map(|x| x / total).collect();
                let moved = points.min(w[0] * 0.9);
                w[0] -= moved;
                w[1] += moved;
                w
            };
            let (night, weekend) = match &f.kind {
                super::FeatureKind::Category { weights, .. } => {
                    ((i % 3 == 0).then(|| shares(weights, 0.2)), (i % 7 == 0).then(|| shares(weights, 0.15)))
                }
                _ => (None, None),
            };
            Cycle {
                feature: i,
                night_sd: if i % 3 == 0 { 0.4 } else { 0.0 },
                weekend_sd: if i % 7 == 0 { -0.3 } else { 0.0 },
                night_weights: night,
                weekend_weights: weekend,
            }
        })
        .collect();
    let mut spec = stream("cycles", feats, hours, peak, vec![], 77);
    spec.max_rows = 1;
    spec.cycles = cycles;
    let baseline = Arc::new(baseline_of(&spec)?);
    let stream_id = driftwatch_core::capture::layout::StreamId::new(&spec.endpoint, &spec.variant);
    let mut engine = StreamEngine::new(stream_id, baseline.clone(), Duration::from_hours(1));
    let mut windows = Vec::new();
    let mut err = None;
    spec.generate(|hour, files| {
        windows.extend(engine.advance_to_folder(Some(hour)));
        for (name, text) in files {
            if let Err(e) = engine.ingest(&name, Some(hour), text.as_bytes(), &mut |_| {}) {
                err = Some(e.to_string());
            }
        }
    });
    windows.extend(engine.close_all());
    match err {
        Some(e) => Err(e),
        None => Ok((baseline, windows)),
    }
}
