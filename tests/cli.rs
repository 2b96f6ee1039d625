//! The `driftwatch` binary as a user runs it.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::path::Path;
use std::process::Output;

use common::{driftwatch, root, text, tree};
use driftwatch::baseline::{StatisticsFile, ViolationsFile};

/// Replays the bundled example in `cwd` with extra flags.
fn replay_example(cwd: &Path, extra: &[&str]) -> Output {
    let capture = root().join("examples/capture");
    let baseline = root().join("baselines/loan-scoring");
    let mut args = vec!["replay", "--capture", capture.to_str().unwrap(), "--baseline", baseline.to_str().unwrap()];
    args.extend_from_slice(extra);
    driftwatch(cwd, &args)
}

/// `baseline --problem-type BinaryClassification` of `input` (label `y`, probability `p`) in `cwd`.
fn binary_quality_baseline(cwd: &Path, input: &str, output: &str) -> Output {
    let args = ["--input", input, "--ground-truth-attribute", "y", "--probability-attribute", "p", "--output", output];
    let mut all = vec!["baseline", "--problem-type", "BinaryClassification"];
    all.extend_from_slice(&args);
    driftwatch(cwd, &all)
}

const OUT_AND_EVENTS: &[&str] = &["--output", "out", "--events", "events.jsonl"];

/// The events of an `--events` file, one per line.
fn read_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The flags that judge the example's model quality against its labels in `gt` (`qb` holds the
/// quality baseline).
const LABELLED: &[&str] = &["--quality-baseline", "qb", "--ground-truth", "gt", "--probability-attribute", "0"];

#[test]
fn replay_of_the_bundled_example() {
    let tmp = tempfile::tempdir().unwrap();
    let out = replay_example(tmp.path(), OUT_AND_EVENTS);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", text(&out.stderr));
    // The summary shows both episodes.
    assert!(stdout.contains("loan-scoring-prod/AllTraffic"), "{stdout}");
    assert!(stdout.contains("sudden") && stdout.contains("investigate"), "{stdout}");
    assert!(stdout.contains("gradual") && stdout.contains("retrain"), "{stdout}");

    // Events: one per decision, in data time, exactly the envelope of DESIGN.md.
    let events = read_events(&tmp.path().join("events.jsonl"));
    let types: Vec<&str> = events.iter().map(|e| e["detail-type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["Sudden Data Shift Detected", "Data Drift Resolved", "Gradual Data Drift Detected"]);
    for e in &events {
        for key in ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"] {
            assert!(e.get(key).is_some(), "missing {key}: {e}");
        }
        let d = &e["detail"];
        for key in [
            "schemaVersion",
            "endpoint",
            "variant",
            "kind",
            "action",
            "episodeId",
            "detectedAt",
            "onset",
            "window",
            "features",
            "violations",
            "evidence",
            "reports",
        ] {
            assert!(d.get(key).is_some(), "missing detail.{key}: {d}");
        }
        assert_eq!(e["time"], d["detectedAt"], "replay time is data time");
        assert_eq!(e["source"], "driftwatch");
        assert_eq!(e["resources"][0], "arn:aws:sagemaker:us-east-1:000000000000:endpoint/loan-scoring-prod");
    }
    assert_eq!(events[0]["detail"]["features"][0]["name"], "loan_amount");
    assert_eq!(events[0]["detail"]["episodeId"], events[1]["detail"]["episodeId"]);
    assert_eq!(events[2]["detail"]["features"][0]["name"], "income");
    insta::assert_json_snapshot!("example_events", events);

    // Reports: Model Monitor's files and drift.json for every window, readable by their schemas.
    let hour = tmp.path().join("out/loan-scoring-prod/AllTraffic/2026/03/02/16");
    let stats: StatisticsFile =
        serde_json::from_str(&std::fs::read_to_string(hour.join("statistics.json")).unwrap()).unwrap();
    assert_eq!(stats.features.len(), 8);
    let viol: ViolationsFile =
        serde_json::from_str(&std::fs::read_to_string(hour.join("constraint_violations.json")).unwrap()).unwrap();
    assert!(viol
        .violations
        .iter()
        .any(|v| v.feature_name == "loan_amount" && v.constraint_check_type == "baseline_drift_check"));
    let drift: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(hour.join("drift.json")).unwrap()).unwrap();
    assert_eq!(drift["window"]["start"], "2026-03-02T16:00:00Z");
    assert_eq!(drift["classification"]["state"], "sudden");
    let windows = walk_count(&tmp.path().join("out/loan-scoring-prod"), "drift.json");
    assert_eq!(windows, 120);

    // The metrics table: one row per window and feature.
    let file = std::fs::File::open(tmp.path().join("out/drift_metrics.parquet")).unwrap();
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    // The types users' queries rely on, as arrow (and so pandas, DuckDB, Athena) reads them.
    {
        use arrow::datatypes::{DataType, TimeUnit};
        let schema = builder.schema().clone();
        assert_eq!(schema.fields().len(), 44);
        let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
        assert!(
            matches!(ty("window_start"), DataType::Timestamp(TimeUnit::Millisecond, Some(ref tz)) if ["UTC", "+00:00"].contains(&tz.as_ref())),
            "{:?}",
            ty("window_start")
        );
        assert_eq!(
            (ty("feature"), ty("window_rows"), ty("linf_simple")),
            (DataType::Utf8, DataType::UInt64, DataType::Float64)
        );
        assert!(schema.field_with_name("linf_simple").unwrap().is_nullable());
        assert!(!schema.field_with_name("violations").unwrap().is_nullable());
    }
    let (mut rows, mut income_rows, mut income_violations) = (0usize, 0u64, 0usize);
    for batch in builder.build().unwrap() {
        use arrow::array::AsArray;
        let b = batch.unwrap();
        rows += b.num_rows();
        let feature = b.column_by_name("feature").unwrap().as_string::<i32>();
        let window_rows = b.column_by_name("window_rows").unwrap().as_primitive::<arrow::datatypes::UInt64Type>();
        let violations = b.column_by_name("violations").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            if feature.value(i) == "income" {
                income_rows += window_rows.value(i);
                income_violations += usize::from(!violations.value(i).is_empty());
            }
        }
    }
    assert_eq!(rows, 120 * 8);
    // Every row of the stream once per feature; the windows with an income violation, as the
    // summary says (README: income (23)).
    assert_eq!((income_rows, income_violations), (13708, 23));
}

fn walk_count(dir: &Path, name: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += walk_count(&p, name);
        } else if p.file_name().is_some_and(|f| f == name) {
            n += 1;
        }
    }
    n
}

#[test]
fn replays_are_identical_whatever_the_thread_count() {
    // The example, with broken lines in a few files, so that skipped records and their
    // examples go through the parallel path too.
    let work = tempfile::tempdir().unwrap();
    let capture = work.path().join("capture");
    let src = root().join("examples/capture");
    for (rel, bytes) in tree(&src) {
        let p = capture.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut bytes = bytes;
        if rel.contains("/02/1") && rel.contains("/20-00") {
            bytes.extend_from_slice(b"not json\n{\"captureData\":{}}\n");
        }
        std::fs::write(p, bytes).unwrap();
    }
    let baseline = root().join("baselines/loan-scoring");
    let run = |threads: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = driftwatch(
            dir.path(),
            &[
                "replay",
                "--capture",
                capture.to_str().unwrap(),
                "--baseline",
                baseline.to_str().unwrap(),
                "--output",
                "out",
                "--events",
                "events.jsonl",
                "--threads",
                threads,
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        (text(&out.stdout), tree(dir.path()))
    };
    let (summary, files) = run("1");
    assert!(summary.contains("skipped: malformed_line 10, missing_field 10"), "{summary}");
    assert!(files.len() > 360, "{} files", files.len());
    for threads in ["2", "3", "7"] {
        let (s, f) = run(threads);
        assert_eq!(s, summary, "summary with {threads} threads");
        assert_eq!(f.keys().collect::<Vec<_>>(), files.keys().collect::<Vec<_>>(), "{threads} threads");
        for (k, v) in &files {
            assert!(f[k] == *v, "{k} differs with {threads} threads");
        }
    }
}

#[test]
fn input_errors_exit_2_and_name_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = root().join("examples/capture");
    let capture = capture.to_str().unwrap();
    let baseline = root().join("baselines/loan-scoring");
    let baseline = baseline.to_str().unwrap();
    std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
    let wrong_config = root().join("examples/config/wrong-key.toml");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["replay", "--capture", capture, "--baseline", "no-such-dir"], "--baseline no-such-dir: not found"),
        (vec!["replay", "--capture", "empty", "--baseline", baseline], "--capture empty: no .jsonl capture files"),
        (vec!["replay", "--capture", "missing", "--baseline", baseline], "--capture missing: not found"),
        (
            vec!["replay", "--capture", capture, "--baseline", baseline, "--window", "0s"],
            "--window 0s: must be between 1m and 1d",
        ),
        (
            vec!["replay", "--capture", capture, "--baseline", baseline, "--window", "2d"],
            "--window 2d: must be between 1m and 1d",
        ),
        (vec!["replay", "--capture", capture, "--baseline", baseline, "--window", "soon"], "is not a duration"),
        (
            vec!["replay", "--capture", capture, "--baseline", baseline, "--config", wrong_config.to_str().unwrap()],
            "unknown field `polling_interval`",
        ),
        (
            vec!["replay", "--capture", capture, "--baseline", baseline, "--events", "s3://b/e"],
            "--events s3://b/e: takes a local file",
        ),
        (vec!["baseline", "--input", "train.xlsx", "--output", "out"], "pass --format csv|parquet|jsonl"),
        (vec!["baseline", "--input", "nope.csv", "--output", "out"], "nope.csv: No such file"),
    ];
    for (args, want) in cases {
        let out = driftwatch(tmp.path(), &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        let line = err.lines().find(|l| l.contains(want)).unwrap_or_default();
        assert_eq!(line.matches(want).count(), 1, "{args:?}: the cause is said once: {line}");
    }
}

#[test]
fn baseline_command_writes_model_monitor_files() {
    let Some(fx) = driftwatch::testing::sagemaker_fixtures() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let csv =
        fx.join("aws__sagemaker-python-sdk/tests/data/pipeline/quality_check_step/data_quality/baseline_dataset.csv");
    let out = driftwatch(tmp.path(), &["baseline", "--input", csv.to_str().unwrap(), "--no-header", "--output", "bl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("profiled 100 rows, 6 features"));
    let ours: StatisticsFile =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("bl/statistics.json")).unwrap()).unwrap();
    assert_eq!(ours.features[0].name, "_c0");
    // The files load back as a baseline a replay can use.
    driftwatch::baseline::Baseline::load_dir(&tmp.path().join("bl")).unwrap();
}

/// `baseline --problem-type`: the SDK's regression fixture comes out as its files say, a
/// binary JSON Lines file gives the metrics computed by hand, bad rows are counted, and flags
/// that do not fit are usage errors naming the flag.
#[test]
fn baseline_command_writes_model_quality_files() {
    let Some(fx) = driftwatch::testing::sagemaker_fixtures() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = fx.join("aws__sagemaker-python-sdk/tests/data/pipeline/quality_check_step/model_quality");
    let csv = dir.join("baseline_dataset.csv");
    let args = [
        "baseline",
        "--problem-type",
        "Regression",
        "--input",
        csv.to_str().unwrap(),
        "--ground-truth-attribute",
        "Label",
        "--inference-attribute",
        "Prediction",
        "--output",
        "mq",
    ];
    let out = driftwatch(tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "Regression model quality from 100 rows -> mq/statistics.json, mq/constraints.json"
    );
    let json = |p: &Path| serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap()).unwrap();
    assert_eq!(json(&tmp.path().join("mq/statistics.json")), json(&dir.join("statistics.json")));
    assert_eq!(json(&tmp.path().join("mq/constraints.json")), json(&dir.join("good_cases/constraints.json")));

    // Binary from JSON Lines with probabilities: 3 positives (scores .9 .8 .4), 3 negatives
    // (.6 .3 .1) and one row without a label. At 0.5: TP 2, FN 1, FP 1, TN 2.
    let mut lines = String::new();
    for (y, p) in [(1, 0.9), (1, 0.8), (1, 0.4), (0, 0.6), (0, 0.3), (0, 0.1)] {
        lines.push_str(&format!("{{\"f\": 1, \"y\": {y}, \"p\": {p}}}\n"));
    }
    lines.push_str("{\"f\": 2, \"p\": 0.7}\n");
    std::fs::write(tmp.path().join("labelled.jsonl"), lines).unwrap();
    let out = binary_quality_baseline(tmp.path(), "labelled.jsonl", "bin");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("from 6 rows (1 rows left out: missing_label 1)"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("line=7"), "the left-out row is named: {}", text(&out.stderr));
    let s = json(&tmp.path().join("bin/statistics.json"));
    let m = &s["binary_classification_metrics"];
    let close = |k: &str, v: f64| {
        let got = m[k]["value"].as_f64().unwrap();
        assert!((got - v).abs() < 1e-12, "{k}: {got} vs {v}");
    };
    close("precision", 2.0 / 3.0);
    close("recall", 2.0 / 3.0);
    close("accuracy", 4.0 / 6.0);
    close("false_positive_rate", 1.0 / 3.0);
    // Pairs (positive above negative): .9 and .8 beat all three, .4 beats .3 and .1: 8 of 9.
    close("auc", 8.0 / 9.0);
    assert_eq!(m["confusion_matrix"]["1"]["0"], 1);
    assert_eq!(m["f1"]["standard_deviation"], "NaN");
    let c = json(&tmp.path().join("bin/constraints.json"));
    assert_eq!(
        c["binary_classification_constraints"]["false_positive_rate"]["comparison_operator"],
        "GreaterThanThreshold"
    );

    // Flags that do not fit: exit 2, the flag named.
    let regression = |extra: &[&str]| {
        let mut args = vec!["baseline", "--problem-type", "Regression", "--input", "labelled.jsonl", "--output", "x"];
        args.extend_from_slice(extra);
        driftwatch(tmp.path(), &args)
    };
    let out = regression(&["--ground-truth-attribute", "y"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs --inference-attribute"), "{}", text(&out.stderr));
    let out = regression(&["--ground-truth-attribute", "label", "--inference-attribute", "p"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--ground-truth-attribute \"label\" is not a column (columns: f, y, p)"),
        "{}",
        text(&out.stderr)
    );
    let out = driftwatch(
        tmp.path(),
        &["baseline", "--input", "labelled.jsonl", "--ground-truth-attribute", "y", "--output", "x"],
    );
    assert_eq!(out.status.code(), Some(2), "a quality flag without --problem-type");
    let out = driftwatch(
        tmp.path(),
        &["baseline", "--problem-type", "Ranking", "--input", "labelled.jsonl", "--output", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a problem type"), "{}", text(&out.stderr));
}

/// `baseline --bias-config`: Clarify's post-training metrics of a labelled training table in
/// Clarify's analysis.json, each equal to its definition computed by hand on the table.
#[test]
fn baseline_command_writes_a_bias_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    // d = self-employed: TP1 FP1 FN1 TN1; a = salaried: TP2 FP1 FN1 TN2 (threshold 0.5).
    let csv = "approved,score,employment,region\n1,0.9,self,n\n0,0.7,self,n\n1,0.2,self,s\n0,0.1,self,s\n\
               1,0.8,salaried,n\n1,0.9,salaried,n\n0,0.6,salaried,n\n0,0.3,salaried,s\n0,0.2,salaried,s\n1,0.4,salaried,s\n";
    std::fs::write(tmp.path().join("train.csv"), csv).unwrap();
    let config = r#"{"dataset_type": "text/csv", "headers": ["approved", "score", "employment", "region"],
        "label": "approved", "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "employment", "value_or_threshold": ["self"]}, {"name_or_index": "region"}],
        "group_variable": "region", "probability_threshold": 0.5,
        "methods": {"post_training_bias": {"methods": "all"}}}"#;
    std::fs::write(tmp.path().join("analysis_config.json"), config).unwrap();
    let args = [
        "baseline",
        "--bias-config",
        "analysis_config.json",
        "--input",
        "train.csv",
        "--probability-attribute",
        "score",
        "--output",
        "bias",
    ];
    let out = driftwatch(tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "bias of employment (1 values), region (2 values) from 10 rows -> bias/analysis.json"
    );
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("bias/analysis.json")).unwrap()).unwrap();
    let post = &a["post_training_bias_metrics"];
    assert_eq!(post["label"], "approved");
    let employment = &post["facets"]["employment"][0];
    assert_eq!(employment["value_or_threshold"], "self");
    let value = |name: &str| {
        employment["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()["value"].as_f64().unwrap()
    };
    let by_hand = [
        ("DPPL", 3.0 / 6.0 - 2.0 / 4.0),
        ("DI", (2.0 / 4.0) / (3.0 / 6.0)),
        ("DCA", 3.0 / 3.0 - 2.0 / 2.0),
        ("DCR", 2.0 / 2.0 - 3.0 / 3.0),
        ("RD", 2.0 / 3.0 - 1.0 / 2.0),
        ("DAR", 2.0 / 3.0 - 1.0 / 2.0),
        ("DRR", 1.0 / 2.0 - 2.0 / 3.0),
        ("AD", 4.0 / 6.0 - 2.0 / 4.0),
        ("TE", 1.0 / 1.0 - 1.0 / 1.0),
        ("CDDPL", (5.0 * (0.0 - 2.0 / 5.0) + 5.0 * (2.0 / 5.0 - 0.0)) / 10.0),
        ("GE", 4.0 / 20.0),
    ];
    for (name, want) in by_hand {
        assert!((value(name) - want).abs() < 1e-12, "{name}: {} vs {want}", value(name));
    }
    // Each region value against the other: a facet value whose rows are all d.
    let regions: Vec<&str> = post["facets"]["region"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value_or_threshold"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["n", "s"]);
    // Usage errors name the flag or the column.
    let out = driftwatch(tmp.path(), &[&args[..5], &["--output", "x"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs --probability-attribute"), "{}", text(&out.stderr));
    let wrong = [&args[..5], &["--probability-attribute", "prob", "--output", "x"]].concat();
    let out = driftwatch(tmp.path(), &wrong);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--probability-attribute \"prob\" is not a column"), "{}", text(&out.stderr));
    let out = driftwatch(
        tmp.path(),
        &["baseline", "--input", "train.csv", "--probability-attribute", "score", "--output", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs --problem-type"), "{}", text(&out.stderr));
}

#[test]
fn replay_config_sets_envelope_and_sensitivity() {
    let tmp = tempfile::tempdir().unwrap();
    let config = root().join("examples/config/replay.toml");
    let out = replay_example(tmp.path(), &["--events", "e.jsonl", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = std::fs::read_to_string(tmp.path().join("e.jsonl")).unwrap();
    let e: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(e["source"], "com.example.drift");
    assert_eq!(e["account"], "123456789012");
    assert_eq!(e["region"], "eu-west-1");
    assert_eq!(e["resources"][0], "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/loan-scoring-prod");
    assert_eq!(e["detail"]["reports"]["statistics"], serde_json::Value::Null, "no --output, no report URIs");
}

/// `replay --emf`: each window's CloudWatch metrics with Model Monitor's names, in the embedded
/// metric format, checked against its specification; an alarm on
/// `feature_baseline_drift_<f>` above the baseline's threshold fires in exactly the windows whose
/// `constraint_violations.json` has a `baseline_drift_check` for `f` (the back-test a user runs
/// before moving an alarm).
#[test]
fn replay_emf_metrics_back_test_a_model_monitor_alarm() {
    use driftwatch::publish::emf::{check_line, DATA_NAMESPACE};
    let tmp = tempfile::tempdir().unwrap();
    let out = replay_example(
        tmp.path(),
        &["--output", "out", "--emf", "m/emf.jsonl", "--monitoring-schedule", "loan-dq-hourly"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("m/emf.jsonl"), "{}", text(&out.stdout));
    let lines = std::fs::read_to_string(tmp.path().join("m/emf.jsonl")).unwrap();
    let threshold = 0.1; // baselines/loan-scoring/constraints.json, both kinds of feature
    let (mut windows, mut alarms, mut violations) = (0, 0, 0);
    for line in lines.lines() {
        let values = check_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(values.len() <= 100);
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], DATA_NAMESPACE);
        assert_eq!(directive["Dimensions"], serde_json::json!([["Endpoint", "Feature", "MonitoringSchedule"]]));
        assert_eq!((v["Endpoint"].as_str(), v["Feature"].as_str()), (Some("loan-scoring-prod"), Some("_")));
        assert_eq!(v["MonitoringSchedule"], "loan-dq-hourly");
        for m in directive["Metrics"].as_array().unwrap() {
            let (name, unit) = (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap());
            let expected = if name.starts_with("feature_baseline_drift_") || name.starts_with("feature_completeness_") {
                "None"
            } else {
                "Count"
            };
            assert_eq!(unit, expected, "{name}");
        }
        // The datapoint's time is the window's end; its reports are in the window's start hour.
        let end = v["_aws"]["Timestamp"].as_i64().unwrap();
        let start = driftwatch::time::Timestamp::from_millis(end - 3_600_000);
        let c = start.civil();
        let (y, mo, d, h) = (c.year, c.month, c.day, c.hour);
        let folder = tmp.path().join(format!("out/loan-scoring-prod/AllTraffic/{y:04}/{mo:02}/{d:02}/{h:02}"));
        let cv: ViolationsFile =
            serde_json::from_slice(&std::fs::read(folder.join("constraint_violations.json")).unwrap()).unwrap();
        let stats: StatisticsFile =
            serde_json::from_slice(&std::fs::read(folder.join("statistics.json")).unwrap()).unwrap();
        for f in &stats.features {
            let drift = values.get(&format!("feature_baseline_drift_{}", f.name)).copied();
            let alarm = drift.is_some_and(|d| d > threshold);
            let violated = cv
                .violations
                .iter()
                .any(|x| x.feature_name == f.name && x.constraint_check_type == "baseline_drift_check");
            assert_eq!(alarm, violated, "{} at {start}: drift {drift:?}", f.name);
            alarms += u64::from(alarm);
            violations += u64::from(violated);
            // The counts are the window's statistics.json's.
            let common = f
                .numerical_statistics
                .as_ref()
                .map(|n| &n.common)
                .or(f.string_statistics.as_ref().map(|s| &s.common))
                .unwrap();
            assert_eq!(values[&format!("feature_non_null_{}", f.name)], common.num_present.0);
            assert_eq!(values[&format!("feature_null_{}", f.name)], common.num_missing.0);
        }
        windows += 1;
    }
    eprintln!(
        "{windows} windows: {alarms} feature-windows over the threshold, {violations} baseline_drift_check violations"
    );
    assert_eq!(windows, 120, "one line a window (eight features: 80 metrics)");
    assert!(alarms > 10, "the example's income drift raises the alarm ({alarms} feature-windows)");
    assert_eq!(alarms, violations);
}

/// `replay --quality-baseline --ground-truth` on the bundled example and its ground truth
/// (`examples/ground-truth/`, in Model Monitor's layout by collection hour): the model is
/// calibrated for three days, then a version with inverted scores goes out. Each window is
/// judged once its labels' delay has passed; every window gets Model Monitor's model-quality
/// files; the bad days violate the quality baseline; every record and label is accounted for
/// (unlabelled, late, unmatched, duplicate).
#[test]
fn replay_judges_model_quality_against_late_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let start = driftwatch::time::Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
    let turn = start + driftwatch::time::Duration::from_hours(72);
    // The bundled ground truth is what the example's generator writes for its capture.
    let labels = driftwatch_synth::labels::example_labels(&root().join("examples/capture")).unwrap();
    let bundled = tree(&root().join("examples/ground-truth"));
    let generated: std::collections::BTreeMap<String, Vec<u8>> =
        labels.folders.iter().map(|(f, t)| (format!("{f}/labels.jsonl"), t.clone().into_bytes())).collect();
    assert!(bundled == generated, "examples/ground-truth differs from `cargo run --example make_example_data`");
    let (records, dropped, late, several) = (labels.records, labels.never, labels.slow, labels.several_rows);
    for (rel, bytes) in &bundled {
        let p = tmp.path().join("gt").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    for (rel, bytes) in tree(&root().join("baselines/loan-scoring-quality")) {
        std::fs::create_dir_all(tmp.path().join("qb")).unwrap();
        std::fs::write(tmp.path().join("qb").join(rel), bytes).unwrap();
    }
    // Two labels for no captured record, one duplicate, one broken line, in a second file.
    let extra = concat!(
        "{\"groundTruthData\":{\"data\":\"1\",\"encoding\":\"CSV\"},\"eventMetadata\":{\"eventId\":\"nobody-1\"}}\n",
        "{\"groundTruthData\":{\"data\":\"0\",\"encoding\":\"CSV\"},\"eventMetadata\":{\"eventId\":\"nobody-2\"}}\n",
        "{\"groundTruthData\":{\"data\":\"1\",\"encoding\":\"CSV\"},\"eventMetadata\":{\"eventId\":\"nobody-2\"}}\n",
        "{not json\n"
    );
    std::fs::write(tmp.path().join("gt/2026/03/06/03/extra.jsonl"), extra).unwrap();
    // The quality baseline is the scored rows before the turn, as the generator wrote them.
    std::fs::write(tmp.path().join("labelled.csv"), &labels.baseline_csv).unwrap();
    let out = binary_quality_baseline(tmp.path(), "labelled.csv", "qb-again");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        tree(&tmp.path().join("qb-again")) == tree(&tmp.path().join("qb")),
        "baselines/loan-scoring-quality is stale"
    );

    let out = replay_example(
        tmp.path(),
        &[
            LABELLED,
            &["--output", "out", "--events", "events.jsonl", "--report", "q.html"],
            &["--emf", "emf.jsonl", "--quality-monitoring-schedule", "loan-mq"],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The model-quality CloudWatch metrics: one line a window judged on labels, Model Monitor's
    // names in its model-metrics namespace, the model-quality schedule's name; accuracy falls
    // at the turn.
    let (mut before, mut after, mut quality_lines) = (Vec::new(), Vec::new(), 0);
    for line in std::fs::read_to_string(tmp.path().join("emf.jsonl")).unwrap().lines() {
        driftwatch::publish::emf::check_line(line).unwrap();
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["_aws"]["CloudWatchMetrics"][0]["Namespace"] == driftwatch::publish::emf::MODEL_NAMESPACE {
            assert_eq!(v["MonitoringSchedule"], "loan-mq");
            let end = driftwatch::time::Timestamp::from_millis(v["_aws"]["Timestamp"].as_i64().unwrap());
            let acc = v["accuracy"].as_f64().unwrap();
            if end <= turn {
                before.push(acc)
            } else {
                after.push(acc)
            }
            quality_lines += 1;
        } else {
            assert_eq!(v["MonitoringSchedule"], "driftwatch-loan-scoring-prod");
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    eprintln!(
        "{quality_lines} model-quality lines; accuracy {:.3} before the turn, {:.3} after",
        mean(&before),
        mean(&after)
    );
    assert!(quality_lines >= 100, "{quality_lines}");
    assert!(mean(&before) > mean(&after) + 0.2);
    let stdout = text(&out.stdout);
    let labelled = records - dropped;
    assert!(stdout.contains(&format!("model quality: {labelled} of {records} predictions labelled")), "{stdout}");
    // The slow labels (30 h) come after their window was judged (24 h after its end).
    assert!(stdout.contains(&format!("{late} labels came after their window was judged")), "{stdout}");
    assert!(stdout.contains(&format!("no prediction (several_rows) {several}")), "{stdout}");
    assert!(
        stdout.contains(
            "labels: 2 matched no record of this stream; 1 duplicates (1 conflicting); 0 came after their window expired"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "ground truth: {} label records in {} files; 1 lines skipped",
            labelled + 3,
            labels.folders.len() + 1
        )),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("ground-truth line skipped"), "{}", text(&out.stderr));
    // One model-quality episode: sudden, from the hour the scores turned, decided once two
    // windows confirm it, which the labels allow a day later (the delay).
    assert!(
        stdout.contains("model quality episodes (loan-scoring-prod/AllTraffic):\n  sudden   investigate onset 2026-03-04T00:00:00Z  decided 2026-03-04T02:00:00Z  labels in by 2026-03-05T02:00:00Z\n"),
        "{stdout}"
    );
    let events = read_events(&tmp.path().join("events.jsonl"));
    let quality: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["detail"]["monitor"] == "model_quality").collect();
    assert_eq!(quality.len(), 1);
    let q = quality[0];
    assert_eq!(q["detail-type"], "Model Quality Degraded");
    assert_eq!((q["detail"]["kind"].as_str(), q["detail"]["action"].as_str()), (Some("sudden"), Some("investigate")));
    assert_eq!(q["detail"]["estimated"], false);
    assert_eq!(q["detail"]["judgedAt"], "2026-03-05T02:00:00Z");
    let accuracy = q["detail"]["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "accuracy").unwrap();
    assert_eq!(accuracy["degraded"], true);
    assert!(accuracy["interval"][1].as_f64().unwrap() < accuracy["baseline"].as_f64().unwrap());
    assert!(q["detail"]["reports"]["statistics"]
        .as_str()
        .unwrap()
        .ends_with("out/loan-scoring-prod/AllTraffic/2026/03/04/01/model_quality/statistics.json"));
    // The data-drift events are the example's own, and say what the labels say over their
    // span when they are decided: nothing yet, since no window since either onset had its
    // labels (a day) by then. The rules retrain on gradual drift unless quality is stable.
    let drift: Vec<&serde_json::Value> = events.iter().filter(|e| e["detail"]["monitor"].is_null()).collect();
    assert_eq!(drift.len(), 3);
    for e in &drift {
        assert_eq!(e["detail"]["quality"]["verdict"], "not_yet_known", "{}", e["detail"]["quality"]);
        assert_eq!(e["detail"]["quality"]["estimated"], false);
    }
    // Judged as soon as half of a window's labels are in (two hours for most), the day-2 shift
    // shows no quality change by its resolution: its verdict is `stable`.
    let fast =
        replay_example(tmp.path(), &[LABELLED, &["--ground-truth-share", "0.5", "--events", "fast.jsonl"]].concat());
    assert!(fast.status.success(), "{}", text(&fast.stderr));
    let fast = read_events(&tmp.path().join("fast.jsonl"));
    let resolved = fast.iter().find(|e| e["detail-type"] == "Data Drift Resolved").unwrap();
    eprintln!("verdict of the day-2 shift's resolution with fast labels: {}", resolved["detail"]["quality"]);
    assert_eq!(resolved["detail"]["quality"]["verdict"], "stable", "{}", resolved["detail"]["quality"]);
    // The page tells it: a model-quality section with a chart per headline metric, the labelled
    // share and the event; still one well-formed page.
    let page = std::fs::read_to_string(tmp.path().join("q.html")).unwrap();
    roxmltree::Document::parse_with_options(&page, roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() })
        .unwrap();
    assert!(page.contains("<h3>Model quality</h3>"));
    for title in ["accuracy: per window", "f1: per window", "auc: per window", "share of each window"] {
        assert!(page.contains(title), "no chart {title:?}");
    }
    assert!(page.contains("Model Quality Degraded"));
    // tests/check_rules.py sends this event through the deploy rules.
    let mut snap = q.clone();
    snap["detail"]["reports"] = serde_json::json!({"statistics": "out/model_quality/statistics.json", "violations": "out/model_quality/constraint_violations.json"});
    insta::assert_json_snapshot!("quality_events", vec![snap]);

    // Without the data-quality baseline (`--baseline` left out): the same model-quality files,
    // byte for byte, and the same quality event; no data-quality files, no data-drift events.
    let capture = root().join("examples/capture");
    let out = driftwatch(
        tmp.path(),
        &[
            "replay",
            "--capture",
            capture.to_str().unwrap(),
            "--quality-baseline",
            "qb",
            "--ground-truth",
            "gt",
            "--probability-attribute",
            "0",
            "--output",
            "only",
            "--events",
            "only.jsonl",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (with, only) = (tree(&tmp.path().join("out")), tree(&tmp.path().join("only")));
    let quality_files = |t: &std::collections::BTreeMap<String, Vec<u8>>| {
        t.iter().filter(|(k, _)| k.contains("/model_quality/")).map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()
    };
    assert_eq!(quality_files(&with).len(), 3 * 120);
    assert!(quality_files(&with) == quality_files(&only), "model-quality files differ without --baseline");
    assert!(
        only.keys().all(|k| k.contains("/model_quality/") || k.ends_with(".parquet")),
        "data-quality files without a data-quality baseline: {:?}",
        only.keys().find(|k| !k.contains("/model_quality/"))
    );
    let only_events = read_events(&tmp.path().join("only.jsonl"));
    assert_eq!(only_events.len(), 1);
    let mut a = only_events[0].clone();
    let mut b = q.clone();
    for e in [&mut a, &mut b] {
        e["detail"]["reports"] = serde_json::Value::Null; // out/ vs only/
    }
    assert_eq!(a, b);
    assert!(text(&out.stdout).contains(&format!("model quality: {labelled} of {records} predictions labelled")));
    assert!(text(&out.stdout).contains("data quality not monitored (no --baseline)"), "{}", text(&out.stdout));

    // Without the labels: binary quality estimated from the calibrated probabilities, compared
    // with what the withheld labels say, window by window.
    assert!(tmp.path().join("qb/calibration.json").is_file());
    let out = replay_example(
        tmp.path(),
        &["--quality-baseline", "qb", "--probability-attribute", "0", "--output", "est", "--events", "est.jsonl"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("model quality estimated without labels: 2348 predictions in 120 windows"), "{stdout}");
    let est = tree(&tmp.path().join("est"));
    let labelled_files = tree(&tmp.path().join("out"));
    let (mut n, mut within, mut abs_err) = (0u32, 0u32, 0.0f64);
    let (mut n_after, mut abs_err_after) = (0u32, 0.0f64);
    for (key, bytes) in &est {
        let Some(prefix) = key.strip_suffix("model_quality/estimated.json") else { continue };
        let e: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(e["estimated"], true);
        let Some(acc) = e["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "accuracy") else { continue };
        let (value, se) = (acc["value"].as_f64().unwrap(), acc["standardError"].as_f64().unwrap());
        let Some(real) = labelled_files.get(&format!("{prefix}model_quality/statistics.json")) else { continue };
        let real: serde_json::Value = serde_json::from_slice(real).unwrap();
        let real = real["binary_classification_metrics"]["accuracy"]["value"].as_f64().unwrap();
        let parts: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
        let hour = driftwatch::capture::layout::parse_hour(&parts[parts.len() - 4..]).unwrap();
        if hour < turn {
            n += 1;
            abs_err += (value - real).abs();
            // The realized accuracy (on 6 in 7 of the rows) varies about the expectation by about
            // the estimate's own error: their difference by about sqrt(2) of it.
            within += u32::from((value - real).abs() <= 2.0 * std::f64::consts::SQRT_2 * se);
        } else {
            n_after += 1;
            abs_err_after += (value - real).abs();
        }
    }
    eprintln!(
        "estimate vs withheld labels: {n} calibrated windows, mean |error| {:.3}, {within} within 2 errors; \
         {n_after} turned windows, mean |error| {:.3}",
        abs_err / f64::from(n),
        abs_err_after / f64::from(n_after)
    );
    assert!(n >= 70 && within * 10 >= n * 8, "{within} of {n} calibrated windows within two errors");
    let est_events = read_events(&tmp.path().join("est.jsonl"));
    let gradual = est_events.iter().find(|e| e["detail-type"] == "Gradual Data Drift Detected").unwrap();
    eprintln!("estimated verdict over the income drift: {}", gradual["detail"]["quality"]);
    // The falling incomes push scores toward the decision boundary: the expected accuracy over
    // the drift's windows, taken together, is below the baseline's (no window alone pages).
    assert_eq!(gradual["detail"]["quality"]["estimated"], true);
    assert_eq!(gradual["detail"]["quality"]["verdict"], "declining");
    assert!(est_events.iter().all(|e| e["detail"]["monitor"].is_null()), "the estimate saw no degradation");
    // What it cannot see: the labels turned with the inputs unchanged.
    assert!(abs_err_after / f64::from(n_after) > 3.0 * abs_err / f64::from(n));

    // Every window has its model-quality files; the account adds up to the windows' records.
    let files = tree(&tmp.path().join("out"));
    let mut windows = 0;
    let (mut predictions, mut got_labelled, mut violating_before, mut violating_after, mut after) = (0, 0, 0, 0, 0);
    for (key, bytes) in &files {
        let Some(prefix) = key.strip_suffix("model_quality/labels.json") else { continue };
        windows += 1;
        let counts: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        predictions += counts["predictions"].as_u64().unwrap();
        got_labelled += counts["labelled"].as_u64().unwrap();
        let stats: serde_json::Value =
            serde_json::from_slice(&files[&format!("{prefix}model_quality/statistics.json")]).unwrap();
        assert_eq!(stats["dataset"]["item_count"], counts["labelled"]);
        let v: serde_json::Value =
            serde_json::from_slice(&files[&format!("{prefix}model_quality/constraint_violations.json")]).unwrap();
        let accuracy = v["violations"].as_array().unwrap().iter().find(|x| x["metric_name"] == "accuracy");
        // The hour folder of the window: endpoint/variant/yyyy/mm/dd/HH/.
        let parts: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
        let hour = driftwatch::capture::layout::parse_hour(&parts[parts.len() - 4..]).unwrap();
        if hour >= turn {
            after += 1;
            if let Some(a) = accuracy {
                assert_eq!(a["constraint_check_type"], "LessThanThreshold");
                assert!(a["description"].as_str().unwrap().starts_with("Metric accuracy with "));
                violating_after += 1;
            }
        } else if accuracy.is_some() {
            violating_before += 1;
        }
    }
    assert_eq!(windows, 120, "five days of hourly windows");
    assert_eq!((predictions, got_labelled), (records, labelled));

    // The model-quality table: a row per window and metric, with the judgement beside the
    // metrics of every label; the same numbers as the windows' files.
    let file = std::fs::File::open(tmp.path().join("out/model_quality_metrics.parquet")).unwrap();
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    {
        use arrow::datatypes::{DataType, TimeUnit};
        let schema = builder.schema().clone();
        let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
        assert!(
            matches!(ty("judged_at"), DataType::Timestamp(TimeUnit::Millisecond, Some(_))),
            "{:?}",
            ty("judged_at")
        );
        assert_eq!(
            (ty("metric"), ty("value"), ty("degraded"), ty("labelled")),
            (DataType::Utf8, DataType::Float64, DataType::Boolean, DataType::UInt64)
        );
    }
    let (mut table_rows, mut accuracy_rows, mut table_labelled, mut degraded) = (0usize, 0usize, 0u64, 0usize);
    for batch in builder.build().unwrap() {
        use arrow::array::AsArray;
        let b = batch.unwrap();
        table_rows += b.num_rows();
        let metric = b.column_by_name("metric").unwrap().as_string::<i32>();
        let labelled_col = b.column_by_name("labelled").unwrap().as_primitive::<arrow::datatypes::UInt64Type>();
        let degraded_col = b.column_by_name("degraded").unwrap().as_boolean();
        for i in 0..b.num_rows() {
            if metric.value(i) == "accuracy" {
                accuracy_rows += 1;
                table_labelled += labelled_col.value(i);
                degraded += usize::from(degraded_col.value(i));
            }
        }
    }
    assert_eq!(accuracy_rows, 120, "one accuracy row per window");
    assert_eq!(table_labelled, labelled, "the table's labelled rows add up to the files'");
    assert!(table_rows > 120 * 10, "{table_rows} rows: every scalar metric of every window");
    // Of the 48 turned windows, the thin night ones cannot show it beyond noise.
    assert!((30..=48).contains(&degraded), "{degraded} windows degraded on accuracy; the model turned for 48");
    // Thin night windows (a handful of labels) can keep their accuracy by chance.
    assert!(violating_after * 10 >= after * 9, "{violating_after} of {after} turned windows violate");
    // Model Monitor's rule (below the baseline's value at all) fires on noise too; the
    // calibrated days violate far less often than the turned ones.
    eprintln!("{stdout}\nwindows violating accuracy: {violating_before} of 72 calibrated, {violating_after} of {after} turned");
    assert!(violating_before < 72, "{violating_before} of 72 calibrated windows violate");
}

/// A week of capture from an endpoint with a daily cycle (lower incomes and more renters at
/// night), replayed as a user would: no event at all, the cycle named in `drift.json` and drawn
/// in the report; the same replay with `[classifier] seasonality = "none"` pages.
#[test]
fn a_week_with_a_daily_cycle_replays_without_an_event() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = driftwatch_synth::example_spec();
    spec.changes.clear();
    spec.hours = 168;
    spec.peak_rate = 300.0;
    spec.cycles = driftwatch_synth::suite::loan_daily_cycle();
    let training = tmp.path().join("training.csv");
    std::fs::write(&training, spec.baseline_csv(20_000)).unwrap();
    let base = tmp.path().join("baseline");
    let built = driftwatch(
        tmp.path(),
        &["baseline", "--input", training.to_str().unwrap(), "--output", base.to_str().unwrap()],
    );
    assert!(built.status.success(), "{}", text(&built.stderr));
    let capture = tmp.path().join("capture");
    spec.write_capture(&capture).unwrap();
    let replay = |name: &str, extra: &[&str]| {
        let events = tmp.path().join(format!("{name}.jsonl"));
        let out = tmp.path().join(name);
        let report = tmp.path().join(format!("{name}.html"));
        let mut args = vec![
            "replay",
            "--capture",
            capture.to_str().unwrap(),
            "--baseline",
            base.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let run = driftwatch(tmp.path(), &args);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let events = std::fs::read_to_string(&events).unwrap();
        (events.lines().count(), out, std::fs::read_to_string(&report).unwrap())
    };
    let (events, out, html) = replay("cyclic", &[]);
    assert_eq!(events, 0, "a week of a daily cycle is normal traffic");
    // 03:00 on the fifth day: judged against the learned cycle.
    let night = out.join("loan-scoring-prod/AllTraffic/2026/03/05/03/drift.json");
    let drift: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&night).unwrap()).unwrap();
    assert_eq!(drift["classification"]["cycles"]["income"], "daily", "{}", drift["classification"]);
    assert!(html.contains("learned daily cycle"), "the report draws the cycle");
    let config = tmp.path().join("none.toml");
    std::fs::write(&config, "[classifier]\nseasonality = \"none\"\n").unwrap();
    let (events, _, _) = replay("plain", &["--config", config.to_str().unwrap()]);
    assert!(events > 0, "without cycles the same week pages");
}
