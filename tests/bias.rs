//! Bias drift as a user runs it: a bias baseline from labelled training rows (`baseline
//! --bias-config`), then each window of the capture judged against it (`replay --bias-config
//! --bias-baseline`), with Clarify's analysis config naming the facet by name through its
//! `headers` (CSV captures have no header).

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::path::Path;

use common::{driftwatch, text};
use driftwatch_synth::{example_spec, StreamSpec};

/// The loan example, one row a request (predictions are joined one per record), five days.
fn loan_stream() -> StreamSpec {
    let mut spec = example_spec();
    spec.max_rows = 1;
    spec.hours = 120;
    spec.changes.clear();
    spec
}

/// Writes the config, the bias baseline and the capture below `dir`.
fn setup(dir: &Path, spec: &StreamSpec) {
    common::write_bias_baseline(dir, spec);
    spec.write_capture(&dir.join("capture")).unwrap();
}

/// A violation: window folder, facet value, metric.
type Violation = (String, String, String);

/// Replays with the bias monitor; returns each window's violations (window folder, facet value,
/// metric) in time order and the number of windows with bias files.
fn replay(dir: &Path, window: &str) -> (Vec<Violation>, usize) {
    let (violations, windows, _) = replay_with_events(dir, window);
    (violations, windows)
}

/// `replay --window W --capture capture --bias-config analysis_config.json --bias-baseline
/// bias-baseline --output out --events events.jsonl --emf emf.jsonl` and `extra` below `dir`
/// (its previous `out` removed); fails the test when it fails.
fn run_bias_replay(dir: &Path, window: &str, extra: &[&str]) {
    let _ = std::fs::remove_dir_all(dir.join("out"));
    let mut args = vec![
        "replay",
        "--window",
        window,
        "--capture",
        "capture",
        "--bias-config",
        "analysis_config.json",
        "--bias-baseline",
        "bias-baseline",
        "--output",
        "out",
        "--events",
        "events.jsonl",
        "--emf",
        "emf.jsonl",
    ];
    args.extend_from_slice(extra);
    let run = driftwatch(dir, &args);
    assert!(run.status.success(), "{}", text(&run.stderr));
}

/// [`replay`], and the bias events (`detail-type`, kind, facet value, onset, detectedAt).
fn replay_with_events(dir: &Path, window: &str) -> (Vec<Violation>, usize, Vec<[String; 5]>) {
    // The probability is the first response column by default (the contract's form leaves
    // --probability-attribute out).
    run_bias_replay(dir, window, &["--report", "report.html"]);
    let events: Vec<[String; 5]> = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["detail"]["monitor"] == "bias")
        .map(|e| {
            let d = &e["detail"];
            assert_eq!(d["facet"], "home_ownership");
            [&e["detail-type"], &d["kind"], &d["facetValue"], &d["onset"], &d["detectedAt"]]
                .map(|v| v.as_str().unwrap().to_owned())
        })
        .collect();
    let (found, windows) = violations(&common::tree(&dir.join("out")), "constraint_violations.json");
    (found, windows, events)
}

/// The `bias_drift_check` violations of every window's `bias/{file}` below a report tree
/// (window folder, facet value, metric), in order, and the number of windows with the file.
fn violations(tree: &std::collections::BTreeMap<String, Vec<u8>>, file: &str) -> (Vec<Violation>, usize) {
    let suffix = format!("/bias/{file}");
    let mut found = Vec::new();
    let mut windows = 0;
    for (key, bytes) in tree {
        let Some(folder) = key.strip_suffix(&suffix) else { continue };
        windows += 1;
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        for x in v["violations"].as_array().unwrap() {
            assert_eq!(x["constraint_check_type"], "bias_drift_check");
            assert_eq!(x["facet"], "home_ownership");
            found.push((
                folder.to_owned(),
                x["facet_value"].as_str().unwrap().to_owned(),
                x["metric_name"].as_str().unwrap().to_owned(),
            ));
        }
    }
    found.sort();
    (found, windows)
}

/// A stationary week of traffic (with the example's daily cycle): every window gets Clarify's
/// analysis.json with DPPL, DI and CDDPL per facet value and their sampling errors; violations
/// beyond three standard errors are as rare as chance makes them (1,008 checks: about 1.4
/// expected); no event in hourly or six-hour windows.
#[test]
fn a_stationary_stream_has_no_bias_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = loan_stream();
    spec.hours = 168;
    setup(tmp.path(), &spec);
    let baseline: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("bias-baseline/analysis.json")).unwrap()).unwrap();
    let values: Vec<&str> = baseline["post_training_bias_metrics"]["facets"]["home_ownership"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value_or_threshold"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["MORTGAGE", "OWN", "RENT"]);
    let (violations, windows, events) = replay_with_events(tmp.path(), "1h");
    assert!(events.is_empty(), "no bias event on stationary traffic: {events:?}");
    // Clarify's CloudWatch metrics: a line per window and facet value, bias_metric_<CODE>.
    let emf = std::fs::read_to_string(tmp.path().join("emf.jsonl")).unwrap();
    let bias_lines: Vec<serde_json::Value> = emf
        .lines()
        .map(|l| {
            driftwatch::publish::emf::check_line(l).unwrap();
            serde_json::from_str::<serde_json::Value>(l).unwrap()
        })
        .filter(|v| v["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "aws/sagemaker/Endpoints/bias-metrics")
        .collect();
    assert_eq!(bias_lines.len(), 168 * 3);
    let dims = &bias_lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
    assert_eq!(
        dims,
        &serde_json::json!([
            "Endpoint",
            "MonitoringSchedule",
            "BiasStage",
            "Label",
            "LabelValue",
            "Facet",
            "FacetValue"
        ])
    );
    assert_eq!(
        (bias_lines[0]["Facet"].as_str(), bias_lines[0]["Label"].as_str()),
        (Some("home_ownership"), Some("label"))
    );
    assert!(bias_lines[0]["bias_metric_DPPL"].is_number(), "{}", bias_lines[0]);
    eprintln!("stationary: {windows} windows, {} violations {violations:?}", violations.len());
    assert_eq!(windows, 168);
    assert!(violations.len() <= 4, "{violations:?}");
    let a: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("out/loan-scoring-prod/AllTraffic/2026/03/02/16/bias/analysis.json")).unwrap(),
    )
    .unwrap();
    let rent = &a["post_training_bias_metrics"]["facets"]["home_ownership"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["value_or_threshold"] == "RENT")
        .unwrap()
        .clone();
    let names: Vec<&str> = rent["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CDDPL", "DI", "DPPL"]);
    let dppl = rent["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "DPPL").unwrap();
    assert!(dppl["standard_error"].as_f64().unwrap() > 0.0, "{dppl}");
    assert!(dppl["baseline"].is_number(), "{dppl}");
    assert!(rent["rows"]["facet"].as_u64().unwrap() > 10, "{rent}");
    let (_, six_hour_windows, events) = replay_with_events(tmp.path(), "6h");
    assert_eq!(six_hour_windows, 28);
    assert!(events.is_empty(), "no bias event in six-hour windows either: {events:?}");
}

/// Renters' scores creep down from day 2 (a third lower after two days). An hour of this
/// traffic has about 30 renters, whose DPPL has a standard error near 0.12: the creep is below
/// what one hourly window can tell from noise, as Clarify's daily bias jobs are run, so the
/// windows here are a day long: DPPL and DI of home_ownership=RENT leave the baseline beyond
/// noise within two days of the start of the creep, and the violations name the facet value and
/// the metric.
#[test]
fn one_groups_scores_creeping_is_seen_within_two_days() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = loan_stream();
    setup(tmp.path(), &spec);
    creep_renters_scores(tmp.path());
    let (violations, windows) = replay(tmp.path(), "1d");
    assert_eq!(windows, 5);
    let rent: Vec<&(String, String, String)> = violations.iter().filter(|(_, v, _)| v == "RENT").collect();
    let first =
        rent.first().unwrap_or_else(|| panic!("no violation for renters' scores creeping down: {violations:?}"));
    eprintln!(
        "creep from 2026/03/02/00: first RENT violation {first:?}; {} RENT violations, {} others",
        rent.len(),
        violations.len() - rent.len()
    );
    assert!(rent.iter().any(|(_, _, metric)| metric == "DPPL") && rent.iter().any(|(_, _, metric)| metric == "DI"));
    assert!(first.0.as_str() < "loan-scoring-prod/AllTraffic/2026/03/04/00", "later than two days: {first:?}");
    assert!(first.0.as_str() >= "loan-scoring-prod/AllTraffic/2026/03/02/00", "before the creep: {first:?}");
    // Every day from the second of the creep says so, in DPPL and DI.
    let days = |metric: &str| -> Vec<String> {
        rent.iter().filter(|(_, _, m)| m == metric).map(|(w, _, _)| w[w.len() - 13..w.len() - 3].to_owned()).collect()
    };
    eprintln!("days with a RENT violation: DPPL {:?}, DI {:?}", days("DPPL"), days("DI"));
    for metric in ["DPPL", "DI"] {
        assert_eq!(days(metric), ["2026/03/03", "2026/03/04", "2026/03/05"], "{metric}");
    }
}

/// The same creep judged in six-hour windows (about 180 renters each, DPPL's error near 0.05):
/// one `Bias Drift Detected` event, typed gradual (a ramp, not a step), naming the facet value,
/// within two days of the start of the creep.
#[test]
fn a_creep_is_a_gradual_bias_event() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = loan_stream();
    setup(tmp.path(), &spec);
    creep_renters_scores(tmp.path());
    let (_, windows, events) = replay_with_events(tmp.path(), "6h");
    assert_eq!(windows, 20);
    eprintln!("creep from 2026-03-02T00:00 in 6 h windows: {events:?}");
    let first = events.first().unwrap_or_else(|| panic!("no bias event for a creep"));
    assert_eq!(first[0], "Bias Drift Detected");
    assert_eq!(first[1], "gradual", "{events:?}");
    assert_eq!(first[2], "RENT");
    assert!(first[4].as_str() <= "2026-03-04T00:00:00Z", "decided later than two days: {first:?}");
    // The report's bias section: each facet value's metrics over time, and the events.
    let page = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    assert!(page.contains("<h3>Bias drift</h3>"), "no bias section");
    // The page is XML too (its tests read it with an XML parser).
    roxmltree::Document::parse_with_options(&page, roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() })
        .unwrap();
    assert!(page.contains("DPPL of home_ownership=RENT: per window"), "no RENT DPPL chart");
    assert!(page.contains("home_ownership=RENT") && page.contains("Bias Drift Detected"), "no event row");
}

/// The facet's encoding flips (`RENT` becomes `rent` from 2026-03-03T00:00): the baseline's
/// value stops appearing in windows full of rows: a sudden event (investigate) within two hours.
#[test]
fn a_facet_value_that_stops_appearing_is_a_sudden_bias_event() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = loan_stream();
    setup(tmp.path(), &spec);
    let flip = driftwatch::time::Timestamp::from_civil(2026, 3, 3, 0, 0, 0).unwrap().millis();
    rewrite_records(tmp.path(), |r, t| {
        if t >= flip {
            let input = r["captureData"]["endpointInput"]["data"].as_str().unwrap().replace(",RENT,", ",rent,");
            r["captureData"]["endpointInput"]["data"] = input.into();
        }
    });
    let (_, _, events) = replay_with_events(tmp.path(), "1h");
    eprintln!("encoding flip at 2026-03-03T00:00: {events:?}");
    let rent: Vec<&[String; 5]> = events.iter().filter(|e| e[2] == "RENT").collect();
    let first = rent.first().unwrap_or_else(|| panic!("no event for a facet value that stopped appearing: {events:?}"));
    assert_eq!(first[..4], ["Bias Drift Detected", "sudden", "RENT", "2026-03-03T00:00:00Z"].map(String::from));
    assert!(first[4].as_str() <= "2026-03-03T02:00:00Z", "{first:?}");
    // The whole event, as a rule target receives it (golden file; the report URIs are the
    // temporary folder's, so they are replaced by their keys). tests/check_rules.py puts it
    // through deploy/rules.yaml's patterns.
    let event: serde_json::Value = std::fs::read_to_string(tmp.path().join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["detail"]["monitor"] == "bias" && e["detail"]["facetValue"] == "RENT")
        .unwrap();
    let mut snap = event.clone();
    for k in ["analysis", "violations"] {
        let uri = snap["detail"]["reports"][k].as_str().unwrap().to_owned();
        let key = &uri[uri.find("loan-scoring-prod").unwrap()..];
        snap["detail"]["reports"][k] = format!("out/{key}").into();
    }
    insta::assert_json_snapshot!("bias_events", vec![snap]);
}

/// The renters' scores creep down: from 2026-03-02T00:00, lowered by up to a third over 48 h.
fn creep_renters_scores(dir: &Path) {
    let start = driftwatch::time::Timestamp::from_civil(2026, 3, 2, 0, 0, 0).unwrap().millis();
    let factor = |hours: f64| if hours > 0.0 { 1.0 - (hours / 48.0).min(1.0) / 3.0 } else { 1.0 };
    rewrite_records(dir, |r, t| {
        if r["captureData"]["endpointInput"]["data"].as_str().unwrap().contains(",RENT,") {
            let score: f64 = r["captureData"]["endpointOutput"]["data"].as_str().unwrap().parse().unwrap();
            let hours = (t - start) as f64 / 3_600_000.0;
            r["captureData"]["endpointOutput"]["data"] = format!("{:.6}", score * factor(hours)).into();
        }
    });
}

/// Rewrites every capture record below `dir/capture` with `edit(record, inferenceTime in ms)`.
fn rewrite_records(dir: &Path, edit: impl Fn(&mut serde_json::Value, i64)) {
    for (key, _) in common::tree(&dir.join("capture")) {
        let path = dir.join("capture").join(&key);
        let mut out = String::new();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let mut r: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = driftwatch::time::Timestamp::parse_rfc3339(r["eventMetadata"]["inferenceTime"].as_str().unwrap())
                .unwrap();
            edit(&mut r, t.millis());
            out.push_str(&r.to_string());
            out.push('\n');
        }
        std::fs::write(&path, out).unwrap();
    }
}

/// With ground truth joined (the model-quality monitor's ledger: the same labels, delay and
/// judgement), each judged window also gets every metric over its labelled predictions, the
/// label-dependent ones included, in `bias/analysis_with_labels.json`.
#[test]
fn judged_windows_get_the_label_dependent_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_bias_baseline(tmp.path(), &driftwatch_synth::example_spec());
    let root = common::root();
    let (capture, gt, qb) = (
        root.join("examples/capture"),
        root.join("examples/ground-truth"),
        root.join("baselines/loan-scoring-quality"),
    );
    let run = driftwatch(
        tmp.path(),
        &[
            "replay",
            "--capture",
            capture.to_str().unwrap(),
            "--quality-baseline",
            qb.to_str().unwrap(),
            "--ground-truth",
            gt.to_str().unwrap(),
            "--probability-attribute",
            "0",
            "--bias-config",
            "analysis_config.json",
            "--bias-baseline",
            "bias-baseline",
            "--output",
            "out",
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let files: Vec<(String, Vec<u8>)> = common::tree(&tmp.path().join("out"))
        .into_iter()
        .filter(|(k, _)| k.ends_with("bias/analysis_with_labels.json"))
        .collect();
    assert_eq!(files.len(), 120, "one a judged window");
    let mut with_every_metric = 0;
    for (key, bytes) in &files {
        let a: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        for entry in a["post_training_bias_metrics"]["facets"]["home_ownership"].as_array().unwrap() {
            let names: Vec<&str> =
                entry["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
            assert_eq!(names, ["AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "GE", "RD", "TE"], "{key}");
            let numbers = entry["metrics"].as_array().unwrap().iter().filter(|m| m["value"].is_number()).count();
            with_every_metric += usize::from(numbers == 11);
        }
    }
    eprintln!("{} windows; {with_every_metric} facet values with all eleven metrics defined", files.len());
    assert!(with_every_metric > 100, "{with_every_metric}");
}

/// Writes ground truth for the capture below `dir/capture` to `dir/ground-truth`, in Model
/// Monitor's layout (one label a record, in the hour folder two hours after its inference):
/// `favourable(renter, inferenceTime in ms, a stable draw in [0, 1), score)` decides each label.
fn write_ground_truth(dir: &Path, favourable: impl Fn(bool, i64, f64, f64) -> bool) -> u64 {
    use driftwatch::time::{Duration, Timestamp};
    let mut folders: std::collections::BTreeMap<String, String> = Default::default();
    let mut labels = 0;
    for (key, bytes) in common::tree(&dir.join("capture")) {
        assert!(key.ends_with(".jsonl"), "{key}");
        for line in text(&bytes).lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = r["eventMetadata"]["eventId"].as_str().unwrap();
            let at = Timestamp::parse_rfc3339(r["eventMetadata"]["inferenceTime"].as_str().unwrap()).unwrap();
            let score: f64 = r["captureData"]["endpointOutput"]["data"].as_str().unwrap().parse().unwrap();
            let renter = r["captureData"]["endpointInput"]["data"].as_str().unwrap().contains(",RENT,");
            let label = favourable(renter, at.millis(), driftwatch_synth::labels::unit_of(id), score);
            let folder =
                driftwatch::capture::layout::hour_path((at + Duration::from_hours(2)).floor(Duration::from_hours(1)));
            let rec = serde_json::json!({
                "groundTruthData": {"data": u8::from(label).to_string(), "encoding": "CSV"},
                "eventMetadata": {"eventId": id},
                "eventVersion": "0"
            });
            let text = folders.entry(folder).or_default();
            text.push_str(&rec.to_string());
            text.push('\n');
            labels += 1;
        }
    }
    for (folder, text) in folders {
        let d = dir.join("ground-truth").join(folder);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("labels.jsonl"), text).unwrap();
    }
    labels
}

/// Replays with the bias monitor and ground truth but no model-quality monitor (the issue's
/// `replay --bias-config --bias-baseline --ground-truth` form); returns the bias events
/// (`judgedOn`, kind, facet value, onset, detectedAt, metric names) and the labelled bias
/// violations (window folder, facet value, metric).
#[allow(clippy::type_complexity)]
fn replay_with_labels(dir: &Path, window: &str) -> (Vec<[String; 6]>, Vec<Violation>, usize) {
    run_bias_replay(dir, window, &["--ground-truth", "ground-truth"]);
    let events = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| {
            let d = &e["detail"];
            assert_eq!(d["monitor"], "bias", "no model-quality monitor, no data-quality event here: {e}");
            let names: Vec<&str> =
                d["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
            [
                d["judgedOn"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["facetValue"].as_str().unwrap().to_owned(),
                d["onset"].as_str().unwrap().to_owned(),
                d["detectedAt"].as_str().unwrap().to_owned(),
                names.join(","),
            ]
        })
        .collect();
    let tree = common::tree(&dir.join("out"));
    assert!(!tree.keys().any(|k| k.contains("model_quality")), "no model-quality files without its monitor");
    let (found, judged) = violations(&tree, "constraint_violations_with_labels.json");
    (events, found, judged)
}

/// Ground truth beside the bias monitor alone: labels as calibrated as the scores for a week
/// give every judged window the label-dependent metrics and no bias event; renters whose
/// outcomes turn worse than their unchanged scores say (a lender's collections changed, say)
/// give a `Bias Drift Detected` judged on labels, naming RENT and the label-dependent metrics,
/// while the predictions alone (DPPL, DI) see nothing.
#[test]
fn labels_without_a_quality_monitor_judge_the_label_dependent_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = loan_stream();
    spec.hours = 168;
    setup(tmp.path(), &spec);
    let labels = write_ground_truth(tmp.path(), |_, _, u, score| u < score);
    let (events, violations, judged) = replay_with_labels(tmp.path(), "6h");
    let checks = judged * 3 * 4;
    eprintln!("calibrated labels ({labels}): {judged} judged windows, {} label-dependent violations in {checks} checks, events {events:?}", violations.len());
    assert_eq!(judged, 28);
    assert!(events.is_empty(), "{events:?}");
    assert!(violations.len() <= 2, "{violations:?}");
    let emf = std::fs::read_to_string(tmp.path().join("emf.jsonl")).unwrap();
    assert!(
        emf.contains("\"bias_metric_AD\"") && emf.contains("\"bias_metric_RD\""),
        "label-dependent metrics published"
    );

    // From 2026-03-03T00:00, renters repay half as often as their scores say.
    let turn = driftwatch::time::Timestamp::from_civil(2026, 3, 3, 0, 0, 0).unwrap().millis();
    std::fs::remove_dir_all(tmp.path().join("ground-truth")).unwrap();
    write_ground_truth(tmp.path(), |renter, t, u, score| if renter && t >= turn { u < score * 0.5 } else { u < score });
    let (events, violations, _) = replay_with_labels(tmp.path(), "6h");
    eprintln!("renters' outcomes halved from 2026-03-03T00:00: events {events:?}");
    eprintln!("violations {violations:?}");
    // Each facet value is measured against all the others (Clarify's one-versus-rest), so the
    // renters' turn moves the other values' comparisons too: RENT is named, others may be.
    let rent = events.iter().find(|e| e[2] == "RENT");
    let first = rent.unwrap_or_else(|| panic!("no event for renters' outcomes turning: {events:?} {violations:?}"));
    assert_eq!(first[..2], ["labels", "sudden"].map(String::from), "{events:?}");
    assert!(first[3].as_str() >= "2026-03-03T00:00:00Z" && first[4].as_str() <= "2026-03-04T00:00:00Z", "{first:?}");
    assert!(events.iter().all(|e| e[0] == "labels"), "the predictions did not move: {events:?}");
    assert!(
        violations.iter().all(|(w, _, _)| w.as_str() >= "loan-scoring-prod/AllTraffic/2026/03/03/00"),
        "{violations:?}"
    );
}

/// A facet given as one number over a continuous column is a threshold, as Clarify reads it:
/// `driftwatch baseline` writes its interval `(threshold, max]`, and each window measures every
/// value above the threshold under that name.
#[test]
fn a_continuous_facet_is_measured_above_its_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = loan_stream();
    setup(tmp.path(), &spec);
    let config = common::LOAN_BIAS_CONFIG.replace(
        r#""facet": [{"name_or_index": "home_ownership"}]"#,
        r#""facet": [{"name_or_index": "income", "value_or_threshold": [90000]}]"#,
    );
    assert!(config.contains("90000"));
    std::fs::write(tmp.path().join("analysis_config.json"), config).unwrap();
    common::build_bias_baseline(tmp.path(), "bias-baseline");
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("bias-baseline/analysis.json")).unwrap()).unwrap();
    let entries = a["post_training_bias_metrics"]["facets"]["income"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "one interval, not a value per income: {entries:?}");
    let label = entries[0]["value_or_threshold"].as_str().unwrap().to_owned();
    assert!(label.starts_with("(90000.0, ") && label.ends_with(']'), "{label}");
    run_bias_replay(tmp.path(), "1d", &[]);
    let mut days = 0;
    for (key, bytes) in common::tree(&tmp.path().join("out")) {
        if !key.ends_with("bias/analysis.json") {
            continue;
        }
        days += 1;
        let w: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let e = &w["post_training_bias_metrics"]["facets"]["income"];
        assert_eq!(e.as_array().unwrap().len(), 1, "{key}");
        assert_eq!(e[0]["value_or_threshold"], label.as_str(), "{key}");
        let (above, rest) = (e[0]["rows"]["facet"].as_u64().unwrap(), e[0]["rows"]["rest"].as_u64().unwrap());
        assert!(above > 50 && rest > above, "{key}: {above} above 90,000, {rest} not");
        let dppl = e[0]["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "DPPL").unwrap();
        assert!(dppl["value"].is_number() && dppl["baseline"].is_number(), "{dppl}");
    }
    assert_eq!(days, 5);
}

/// Requests of several rows (a client scoring a batch per call): each row's prediction counts
/// for the label-free metrics with its own request row's facet value; the day's rows in
/// `analysis.json` are every row of the capture.
#[test]
fn every_row_of_a_batch_request_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = loan_stream();
    spec.max_rows = 4;
    setup(tmp.path(), &spec);
    let mut rows_by_day: std::collections::BTreeMap<String, u64> = Default::default();
    let mut batches = 0;
    for (_, bytes) in common::tree(&tmp.path().join("capture")) {
        for line in text(&bytes).lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            let n = r["captureData"]["endpointInput"]["data"].as_str().unwrap().trim().lines().count() as u64;
            batches += u64::from(n > 1);
            let day = r["eventMetadata"]["inferenceTime"].as_str().unwrap()[..10].replace('-', "/");
            *rows_by_day.entry(day).or_default() += n;
        }
    }
    assert!(batches > 100, "{batches} batch requests");
    run_bias_replay(tmp.path(), "1d", &[]);
    let mut counted: std::collections::BTreeMap<String, u64> = Default::default();
    for (key, bytes) in common::tree(&tmp.path().join("out")) {
        if let Some(folder) = key.strip_suffix("/00/bias/analysis.json") {
            let a: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let e = &a["post_training_bias_metrics"]["facets"]["home_ownership"][0]["rows"];
            let day = folder[folder.len() - 10..].to_owned();
            counted.insert(day, e["facet"].as_u64().unwrap() + e["rest"].as_u64().unwrap());
        }
    }
    eprintln!("{batches} batch requests; rows per day {rows_by_day:?}, counted {counted:?}");
    assert_eq!(counted, rows_by_day);
}
