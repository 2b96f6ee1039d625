//! The scenario suite meets the classifier's targets (issue "sudden vs gradual"):
//! no event on stationary streams; every change typed right with a drifting feature named first
//! or second; sudden shifts decided within one window of the onset; a median gradual delay of at
//! most 12 hours; at most two events per episode plus the resolution.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

use driftwatch::classify::ClassifierConfig;
use driftwatch::synth::suite::{run, score, suite, table, Score};
use driftwatch::time::Duration;

#[test]
fn scenario_suite_meets_targets() {
    let window = Duration::from_hours(1);
    let cfg = ClassifierConfig::default();
    let scenarios = suite();
    // Two threads: the machines have two cores.
    let half = scenarios.len() / 2;
    let (a, b) = scenarios.split_at(half);
    let run_all = |part: &[driftwatch::synth::suite::Scenario]| -> Vec<Score> {
        part.iter().map(|sc| score(sc, &run(&sc.spec, window, &cfg).expect("scenario runs"), window)).collect()
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
    let mut delays: Vec<f64> = scores
        .iter()
        .filter(|s| s.expected == "gradual" && !s.name.starts_with("hard-"))
        .filter_map(|s| s.delay_hours)
        .collect();
    delays.sort_by(f64::total_cmp);
    let median = delays[delays.len() / 2];
    assert!(median <= 12.0, "median gradual delay {median} h\n{report}");
}

#[test]
fn the_bundled_example_tells_its_story() {
    let spec = driftwatch::synth::example_spec();
    let r = run(&spec, Duration::from_hours(1), &ClassifierConfig::default()).unwrap();
    let kinds: Vec<&str> = r.decisions.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, vec!["sudden", "resolved", "gradual"]);
    assert_eq!(r.decisions[0].features[0].name, "loan_amount");
    assert_eq!(r.decisions[2].features[0].name, "income");
}
