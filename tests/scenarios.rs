//! The scenario suite meets the classifier's targets (issues "sudden vs gradual" and "cycles"):
//! no event on stationary streams, with or without daily and weekly cycles; every change typed
//! right with a drifting feature named first or second; sudden shifts decided within one window
//! of the onset; a median gradual delay of at most 12 hours without cycles and 24 on them; at
//! most two events per episode plus the resolution.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

use driftwatch::classify::ClassifierConfig;
use driftwatch::time::Duration;
use driftwatch_synth::suite::{
    median_gradual_delay, random_cyclic_suite_of, run, score, suite, table, Scenario, Score,
};

#[test]
fn scenario_suite_meets_targets() {
    let window = Duration::from_hours(1);
    let cfg = ClassifierConfig::default();
    let scenarios = suite();
    // Two threads: the machines have two cores.
    let half = scenarios.len() / 2;
    let (a, b) = scenarios.split_at(half);
    let run_all = |part: &[driftwatch_synth::suite::Scenario]| -> Vec<Score> {
        part.iter()
            .map(|sc| score(sc, &run(&sc.spec, window, &sc.config(&cfg)).expect("scenario runs"), window))
            .collect()
    };
    let scores: Vec<Score> = std::thread::scope(|s| {
        let h = s.spawn(|| run_all(b));
        let mut first = run_all(a);
        first.extend(h.join().expect("thread"));
        first
    });
    let report = table(&scores);
    println!("{report}");
    let failed: Vec<&str> = scores.iter().filter(|s| !s.pass).map(|s| s.name).collect();
    assert!(failed.is_empty(), "failing scenarios {failed:?}\n{report}");
    // The target's reference: ramps on which Model Monitor fires after about a day ("hard-"
    // scenarios are slower than that and are reported, not held to the median).
    let median = median_gradual_delay(&scores, |s| !s.name.starts_with("hard-") && !s.cyclic).unwrap();
    assert!(median <= 12.0, "median gradual delay {median} h\n{report}");
    // On daily and weekly cycles: within a day.
    let cyclic = median_gradual_delay(&scores, |s| s.cyclic).unwrap();
    assert!(cyclic <= 24.0, "median gradual delay on cycles {cyclic} h\n{report}");
    assert!(scores.iter().filter(|s| s.cyclic).count() >= 10, "the suite has cyclic streams");
}

/// Stationary streams with random daily (and some weekly) cycles, drawn from a seed the rules
/// were not tuned on: normal traffic, never an event (`--random 300 --cyclic --kind none` in
/// `examples/scenarios.rs` runs the larger sample of the README).
#[test]
fn random_stationary_cycles_raise_nothing() {
    let window = Duration::from_hours(1);
    let cfg = ClassifierConfig::default();
    let scenarios = random_cyclic_suite_of(16, 404, Some("none"));
    let (a, b) = scenarios.split_at(scenarios.len() / 2);
    let run_all = |part: &[Scenario]| -> Vec<Score> {
        part.iter()
            .map(|sc| score(sc, &run(&sc.spec, window, &sc.config(&cfg)).expect("scenario runs"), window))
            .collect()
    };
    let scores: Vec<Score> = std::thread::scope(|s| {
        let h = s.spawn(|| run_all(b));
        let mut first = run_all(a);
        first.extend(h.join().expect("thread"));
        first
    });
    let report = table(&scores);
    let noisy: Vec<&str> = scores.iter().filter(|s| s.false_events > 0).map(|s| s.name).collect();
    assert!(noisy.is_empty(), "events on stationary cyclic streams {noisy:?}\n{report}");
    assert!(scores.iter().all(|s| s.cyclic));
}

#[test]
fn the_bundled_example_tells_its_story() {
    let spec = driftwatch_synth::example_spec();
    let r = run(&spec, Duration::from_hours(1), &ClassifierConfig::default()).unwrap();
    let kinds: Vec<&str> = r.decisions.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, vec!["sudden", "resolved", "gradual"]);
    assert_eq!(r.decisions[0].features[0].name, "loan_amount");
    assert_eq!(r.decisions[2].features[0].name, "income");
}

/// What the learned cycles cost after two weeks (every hour-of-day and hour-of-week slot
/// filled), at 12 and 100 features: bounded, and printed for the README
/// (`cargo test --release --test scenarios -- --nocapture learned_cycles`).
#[test]
fn learned_cycles_are_bounded() {
    for (features, peak) in [(12, 200.0), (100, 60.0)] {
        let (baseline, windows) = driftwatch_synth::suite::cyclic_stream_windows(features, 14 * 24, peak).unwrap();
        let stream = driftwatch::capture::layout::StreamId::new("cycles", "AllTraffic");
        let mut c = driftwatch::classify::StreamClassifier::new(stream.clone(), &baseline, ClassifierConfig::default());
        let none = ClassifierConfig {
            seasonality: driftwatch::classify::seasonal::Seasonality::None,
            ..ClassifierConfig::default()
        };
        let mut plain = driftwatch::classify::StreamClassifier::new(stream, &baseline, none);
        for w in &windows {
            let drift = driftwatch::drift::compare(&baseline, &w.profile, true);
            c.observe(&baseline, w, &drift);
            plain.observe(&baseline, w, &drift);
        }
        let without = serde_json::to_vec(&plain).unwrap().len();
        let seasonal = c.seasonal();
        let json = serde_json::to_vec(seasonal).unwrap().len();
        let all = serde_json::to_vec(&c).unwrap().len();
        let heap = seasonal.heap_bytes();
        let cyclic = (0..features).filter(|&i| !seasonal.model(i).is_none()).count();
        println!(
            "{features} features: {} slots each; learned cycles {json} B of JSON ({} per feature), {heap} B in memory; \
             the whole classifier {all} B of JSON ({without} B without cycles); {cyclic} features judged against a cycle",
            seasonal.slots(0),
            json / features,
        );
        assert_eq!(seasonal.slots(0), 24 + 168, "an hour-of-day and an hour-of-week slot each");
        // Bounded per feature whatever the stream's length: 192 slots of at most 41 cells.
        assert!(json <= features * 56_000, "{json} B of JSON for {features} features");
        assert!(heap <= features * 48_000, "{heap} B in memory for {features} features");
        // A cycle on every third feature, at one row a request and a few dozen requests an hour:
        // the sparser streams pick fewer of them within two weeks (the others stay guarded by
        // the cycle models' vetoes).
        assert!(cyclic >= features / 8, "{cyclic} of {features} features found cyclic");
    }
}
