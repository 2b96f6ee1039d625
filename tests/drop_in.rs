//! What a team leaving Model Monitor meets on day one: endpoints whose requests and responses are
//! JSON objects, baselines built from training data without the model's output, and the
//! payload shapes seen in the wild. Each test is named after what it guards.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::path::Path;

use common::{driftwatch, text};
use driftwatch_synth::{loan_features, Change, Payload, StreamSpec};

/// Five days of a JSON endpoint (`{"instances": [{...}]}` in, `{"predictions": [{"score": s}]}`
/// out) with `changes`.
fn json_stream(changes: Vec<Change>, seed: u64) -> StreamSpec {
    StreamSpec {
        endpoint: "loan-json".into(),
        variant: "AllTraffic".into(),
        start: driftwatch::time::Timestamp::from_civil(2026, 3, 2, 0, 0, 0).unwrap(),
        hours: 120,
        peak_rate: 100.0,
        max_rows: 3,
        features: loan_features(),
        changes,
        cycles: vec![],
        seed,
        payload: Payload::JsonObjects,
    }
}

/// Writes the stream's capture and its training data's baseline (built by `driftwatch baseline`
/// from the training CSV, which has no score column) below `dir`; replays it with `extra`
/// flags. Returns the events and the replay's output folder.
fn replay_stream(dir: &Path, spec: &StreamSpec, extra: &[&str]) -> (Vec<serde_json::Value>, std::path::PathBuf) {
    spec.write_capture(&dir.join("capture")).unwrap();
    std::fs::write(dir.join("training.csv"), spec.baseline_csv(5000)).unwrap();
    let out = driftwatch(dir, &["baseline", "--input", "training.csv", "--output", "baseline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut args = vec!["replay", "--capture", "capture", "--baseline", "baseline", "--events", "events.jsonl"];
    args.extend_from_slice(&["--output", "out"]);
    args.extend_from_slice(extra);
    let out = driftwatch(dir, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (events, dir.join("out"))
}

fn summary(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let names: Vec<&str> =
                e["detail"]["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            format!("{} {} [{}]", e["detail-type"].as_str().unwrap(), e["detail"]["onset"], names.join(","))
        })
        .collect()
}

/// A stationary JSON endpoint whose responses carry a `score` the baseline does not have: the
/// score is the model's output, not an extra input column; no violation, no event; drift.json
/// says which captured fields were mapped and which were outputs left aside.
#[test]
fn json_outputs_are_outputs_not_extra_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let (events, out) = replay_stream(tmp.path(), &json_stream(vec![], 11), &[]);
    assert!(events.is_empty(), "a stationary stream: {:?}", summary(&events));
    let drift: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("loan-json/AllTraffic/2026/03/02/16/drift.json")).unwrap())
            .unwrap();
    assert_eq!(drift["extra_columns"], serde_json::json!({}), "{}", drift["extra_columns"]);
    let fields = &drift["fields"];
    assert_eq!(fields["outputs"]["score"], drift["window"]["rows"], "{fields}");
    let mapped: Vec<&str> = fields["mapped"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(mapped.len(), 7, "{fields}");
    assert_eq!(fields["unknown"], serde_json::json!({}), "{fields}");
    let violations: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("loan-json/AllTraffic/2026/03/02/16/constraint_violations.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(violations["violations"], serde_json::json!([]), "{violations}");
}

/// The same endpoint with two features drifting from day 2: one gradual event naming them.
#[test]
fn gradual_drift_on_a_json_endpoint_is_typed_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let drift = Change::MeanRamp { features: vec![1, 3], at: 24.0, hours: 72.0, total_sd: 1.2 };
    let (events, _) = replay_stream(tmp.path(), &json_stream(vec![drift], 12), &[]);
    let got = summary(&events);
    assert!(!got.is_empty(), "no event");
    assert!(got[0].starts_with("Gradual Data Drift Detected"), "{got:?}");
    // It names what had moved beyond its noise when it was decided, and nothing else.
    let named = &events[0]["detail"]["features"];
    let names: Vec<&str> = named.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(!names.is_empty() && names.iter().all(|n| ["income", "debt_to_income"].contains(n)), "{got:?}");
    assert!(!got.iter().any(|e| e.starts_with("Sudden")), "{got:?}");
}

/// An input field the baseline does not know is still a schema break, and the event names it.
#[test]
fn an_extra_input_field_is_a_break_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = json_stream(vec![], 13);
    spec.write_capture(&tmp.path().join("capture")).unwrap();
    // From day 3 at noon the client adds `zip_code` to every instance.
    let day3 = tmp.path().join("capture/loan-json/AllTraffic/2026/03/04");
    for hour in std::fs::read_dir(&day3).unwrap() {
        let hour = hour.unwrap().path();
        if hour.file_name().unwrap().to_str().unwrap() < "12" {
            continue;
        }
        for f in std::fs::read_dir(&hour).unwrap() {
            let f = f.unwrap().path();
            let t = std::fs::read_to_string(&f).unwrap();
            // The request body is a string inside the capture record: its quotes are escaped.
            let changed = t.replace(r#"{\"credit_lines\""#, r#"{\"zip_code\":\"94110\",\"credit_lines\""#);
            assert_ne!(changed, t);
            std::fs::write(&f, changed).unwrap();
        }
    }
    std::fs::write(tmp.path().join("training.csv"), spec.baseline_csv(5000)).unwrap();
    let out = driftwatch(tmp.path(), &["baseline", "--input", "training.csv", "--output", "baseline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = driftwatch(
        tmp.path(),
        &["replay", "--capture", "capture", "--baseline", "baseline", "--events", "events.jsonl"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = std::fs::read_to_string(tmp.path().join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = events.first().unwrap_or_else(|| panic!("no event"));
    assert_eq!(first["detail-type"], "Sudden Data Shift Detected", "{first}");
    assert_eq!(first["detail"]["onset"], "2026-03-04T12:00:00Z", "{first}");
    let named = &first["detail"]["features"][0];
    assert_eq!((named["name"].as_str(), named["metric"].as_str()), (Some("zip_code"), Some("extra_column")), "{first}");
    assert_eq!(first["detail"]["violations"][0]["constraint_check_type"], "extra_column_check", "{first}");
}

/// A client that sends its CSV header with every request: the header row is read past (not
/// profiled as data, no type or category break), counted in drift.json, and the columns are
/// still matched by position.
#[test]
fn a_csv_header_sent_by_the_client_is_read_past() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = json_stream(vec![], 14);
    spec.payload = Payload::Csv;
    spec.write_capture(&tmp.path().join("capture")).unwrap();
    let header: Vec<&str> = spec.features.iter().map(|f| f.name.as_str()).collect();
    let header = header.join(",");
    let mut files = 0;
    for f in common::tree(&tmp.path().join("capture")).into_keys() {
        let path = tmp.path().join("capture").join(&f);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            let data = &mut record["captureData"]["endpointInput"]["data"];
            *data = serde_json::Value::String(format!("{header}\n{}", data.as_str().unwrap()));
            out.push_str(&record.to_string());
            out.push('\n');
        }
        std::fs::write(&path, out).unwrap();
        files += 1;
    }
    assert!(files > 100);
    std::fs::write(tmp.path().join("training.csv"), spec.baseline_csv(5000)).unwrap();
    let out = driftwatch(tmp.path(), &["baseline", "--input", "training.csv", "--output", "baseline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = driftwatch(
        tmp.path(),
        &["replay", "--capture", "capture", "--baseline", "baseline", "--events", "events.jsonl", "--output", "out"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = std::fs::read_to_string(tmp.path().join("events.jsonl")).unwrap();
    assert_eq!(events, "", "a stationary stream with headers: no event");
    let drift: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("out/loan-json/AllTraffic/2026/03/02/16/drift.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(drift["fields"]["header_rows"], drift["window"]["records"], "{}", drift["fields"]);
    assert_eq!(drift["layout"]["kind"], "positional");
    assert_eq!(drift["violations"], 0, "{drift}");
}

/// The same endpoint's requests rewritten as JSON Lines (one object per row, several in one
/// record, `application/jsonlines`) with every number sent as a string (`"income": "52000.5"`):
/// the windows are the objects' windows, value for value.
#[test]
fn json_lines_and_numbers_as_strings_read_as_the_objects_do() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = json_stream(vec![], 15);
    let (events, out) = replay_stream(tmp.path(), &spec, &[]);
    assert!(events.is_empty());
    // Rewrite the capture and replay it again.
    let capture = tmp.path().join("capture");
    let mut records = 0;
    for f in common::tree(&capture).into_keys() {
        let path = capture.join(&f);
        let mut text = String::new();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            let input = &mut record["captureData"]["endpointInput"];
            let body: serde_json::Value = serde_json::from_str(input["data"].as_str().unwrap()).unwrap();
            let lines: Vec<String> = body["instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    let strings: serde_json::Map<String, serde_json::Value> = row
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), if v.is_number() { v.to_string().into() } else { v.clone() }))
                        .collect();
                    serde_json::Value::Object(strings).to_string()
                })
                .collect();
            input["data"] = lines.join("\n").into();
            input["observedContentType"] = "application/jsonlines".into();
            text.push_str(&record.to_string());
            text.push('\n');
            records += 1;
        }
        std::fs::write(&path, text).unwrap();
    }
    assert!(records > 1000);
    let key = "loan-json/AllTraffic/2026/03/02/16/statistics.json";
    let before = std::fs::read(out.join(key)).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_file(tmp.path().join("events.jsonl")).unwrap();
    let run = driftwatch(
        tmp.path(),
        &["replay", "--capture", "capture", "--baseline", "baseline", "--events", "events.jsonl", "--output", "again"],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(std::fs::read_to_string(tmp.path().join("events.jsonl")).unwrap(), "");
    let again_bytes = std::fs::read(tmp.path().join("again").join(key)).unwrap();
    assert!(again_bytes == before, "the window's statistics differ from the objects'");
    let again: serde_json::Value = serde_json::from_slice(&again_bytes).unwrap();
    let features = again["features"].as_array().unwrap();
    let income = features.iter().find(|f| f["name"] == "income").unwrap();
    assert_eq!(income["inferred_type"], "Fractional", "{income}");
    assert!(income["numerical_statistics"]["mean"].as_f64().unwrap() > 30_000.0, "{income}");
    let drift: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("again/loan-json/AllTraffic/2026/03/02/16/drift.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(drift["violations"], 0, "{drift}");
    assert!(
        drift["window"]["rows"].as_u64().unwrap() > drift["window"]["records"].as_u64().unwrap(),
        "several rows a record"
    );
}

/// A deterministic generator for the text-generation tests (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A prompt of 15 to 40 words from a vocabulary of 300, with `preamble` before it.
    fn prompt(&mut self, preamble: &str) -> String {
        let words = 15 + self.below(26);
        let body: Vec<String> = (0..words).map(|_| format!("w{}", self.below(300))).collect();
        format!("{preamble}{}", body.join(" "))
    }

    /// A text-generation request: the prompt and the sampling settings.
    fn request(&mut self, preamble: &str) -> serde_json::Value {
        let max_new_tokens = [64, 128, 256][self.below(3) as usize];
        let temperature = 0.5 + self.below(5) as f64 / 10.0;
        serde_json::json!({
            "inputs": self.prompt(preamble),
            "parameters": {"max_new_tokens": max_new_tokens, "temperature": temperature},
        })
    }
}

/// Five days of a text-generation endpoint (`{"inputs": "...", "parameters": {...}}` in,
/// `[{"generated_text": "..."}]` out, 40 requests an hour) below `dir/capture`, its training
/// prompts in `dir/training.jsonl`; from `preamble_from` (hours after the start) every prompt
/// carries a 300-character preamble (a prompt template changed upstream).
fn text_generation_endpoint(dir: &Path, preamble_from: Option<i64>) {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let training: Vec<String> = (0..3000).map(|_| rng.request("").to_string()).collect();
    std::fs::write(dir.join("training.jsonl"), training.join("\n") + "\n").unwrap();
    let preamble = "You are a careful assistant for a bank. Answer briefly, cite the policy section, never give \
                    legal advice, and refuse requests about other customers. Use plain words. Keep it under \
                    fifty words. If unsure, say so. The customer's question follows after this line. ";
    let start = driftwatch::time::Timestamp::from_civil(2026, 3, 2, 0, 0, 0).unwrap();
    for hour in 0..120i64 {
        let t0 = start.millis() + hour * 3_600_000;
        let c = driftwatch::time::Timestamp::from_millis(t0).civil();
        let folder =
            dir.join(format!("capture/chat-prod/AllTraffic/{:04}/{:02}/{:02}/{:02}", c.year, c.month, c.day, c.hour));
        std::fs::create_dir_all(&folder).unwrap();
        let mut lines = String::new();
        for i in 0..40 {
            let at = driftwatch::time::Timestamp::from_millis(t0 + (i * 90_000) as i64);
            let pre = if preamble_from.is_some_and(|h| hour >= h) { preamble } else { "" };
            let request = rng.request(pre);
            let response = serde_json::json!([{"generated_text": format!("answer {}", rng.below(1000))}]);
            let record = serde_json::json!({
                "captureData": {
                    "endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                                      "data": request.to_string(), "encoding": "JSON"},
                    "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                       "data": response.to_string(), "encoding": "JSON"}
                },
                "eventMetadata": {"eventId": format!("e-{hour}-{i}"), "inferenceTime": at.to_string()},
                "eventVersion": "0"
            });
            lines.push_str(&record.to_string());
            lines.push('\n');
        }
        std::fs::write(folder.join("capture.jsonl"), lines).unwrap();
    }
    let out = driftwatch(dir, &["baseline", "--input", "training.jsonl", "--output", "baseline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A text-generation endpoint: the prompt is free text (3,000 distinct training prompts, too many
/// for a distribution), so `driftwatch baseline` adds `inputs.length` and the capture's prompts
/// feed it; the sampling settings are flattened into `parameters.max_new_tokens` and
/// `parameters.temperature`; the generated text is an output. A stationary stream raises
/// nothing; a prompt template that grows every prompt by 300 characters is a sudden shift of
/// `inputs.length`, decided within hours.
#[test]
fn text_generation_prompts_are_watched_by_their_length() {
    let tmp = tempfile::tempdir().unwrap();
    text_generation_endpoint(tmp.path(), None);
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("baseline/statistics.json")).unwrap()).unwrap();
    let names: Vec<&str> = stats["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["inputs", "parameters.max_new_tokens", "parameters.temperature", "inputs.length"]);
    let length = &stats["features"][3];
    assert_eq!(length["inferred_type"], "Integral", "{length}");
    assert!(length["numerical_statistics"]["mean"].as_f64().unwrap() > 80.0, "{length}");
    let replay = |dir: &Path| {
        let out = driftwatch(
            dir,
            &[
                "replay",
                "--capture",
                "capture",
                "--baseline",
                "baseline",
                "--events",
                "events.jsonl",
                "--output",
                "out",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::read_to_string(dir.join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect::<Vec<serde_json::Value>>()
    };
    let events = replay(tmp.path());
    assert!(events.is_empty(), "a stationary text-generation stream: {:?}", summary(&events));
    let drift: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("out/chat-prod/AllTraffic/2026/03/02/16/drift.json")).unwrap(),
    )
    .unwrap();
    let fields = &drift["fields"];
    assert_eq!(fields["outputs"]["generated_text"], 40, "{fields}");
    assert_eq!(fields["unknown"], serde_json::json!({}), "{fields}");
    assert_eq!(drift["violations"], 0, "{drift}");
    let window_stats: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("out/chat-prod/AllTraffic/2026/03/02/16/statistics.json")).unwrap(),
    )
    .unwrap();
    let len = window_stats["features"].as_array().unwrap().iter().find(|f| f["name"] == "inputs.length").unwrap();
    assert_eq!(len["numerical_statistics"]["common"]["num_present"], 40, "{len}");

    // The template changes at 2026-03-04T12:00.
    let tmp = tempfile::tempdir().unwrap();
    text_generation_endpoint(tmp.path(), Some(60));
    let events = replay(tmp.path());
    let first = events.first().unwrap_or_else(|| panic!("no event for a 300-character template"));
    assert_eq!(first["detail-type"], "Sudden Data Shift Detected", "{:?}", summary(&events));
    let named: Vec<&str> =
        first["detail"]["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(named, ["inputs.length"], "{:?}", summary(&events));
    let onset = first["detail"]["onset"].as_str().unwrap();
    let decided = first["detail"]["detectedAt"].as_str().unwrap();
    eprintln!("template change at 2026-03-04T12:00:00Z: onset {onset}, decided {decided}; {:?}", summary(&events));
    assert_eq!(onset, "2026-03-04T12:00:00Z");
    assert!(decided <= "2026-03-04T16:00:00Z", "decided {decided}");
    assert_eq!(events.len(), 1, "one episode: {:?}", summary(&events));
}

/// Batch transform data capture: the same traffic as hourly transform jobs (input objects, output
/// objects with `GenerateInferenceId`'s two columns, and the destination's `input/` and `output/`
/// manifests naming them) replays as one stream, `{destination}/BatchTransform`, one window per
/// job hour: every window's statistics.json is the real-time capture's, byte for byte, and the
/// gradual drift is the same event (typed, named, same onset).
#[test]
fn batch_transform_capture_reads_as_the_real_time_capture_of_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let drift = Change::MeanRamp { features: vec![1, 3], at: 24.0, hours: 72.0, total_sd: 1.2 };
    let mut spec = json_stream(vec![drift], 16);
    spec.payload = Payload::Csv;
    let (real_time, out) = replay_stream(tmp.path(), &spec, &[]);
    assert!(!real_time.is_empty(), "the drift is seen in real-time capture");

    // The batch jobs' objects and the capture destination's manifests.
    let data = tmp.path().join("transform");
    let objects = spec.batch_transform(&format!("{}/", data.display()));
    for (key, text) in objects.data.iter().chain(&objects.manifests) {
        let root = if key.starts_with("in/") || key.starts_with("out/") {
            &data
        } else {
            &tmp.path().join("batch/loan-batch")
        };
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    assert_eq!(objects.manifests.len(), 240, "an input and an output manifest a job hour");
    let run = driftwatch(
        tmp.path(),
        &[
            "replay",
            "--capture",
            "batch/loan-batch",
            "--baseline",
            "baseline",
            "--events",
            "batch.jsonl",
            "--output",
            "batch-out",
            "--emf",
            "batch-emf.jsonl",
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("loan-batch/BatchTransform"), "{}", text(&run.stdout));

    // Every window's statistics equal the real-time capture's.
    let batch_out = tmp.path().join("batch-out/loan-batch/BatchTransform");
    let mut compared = 0;
    for (key, bytes) in common::tree(&batch_out) {
        if key.ends_with("statistics.json") {
            let real = std::fs::read(out.join("loan-json/AllTraffic").join(&key)).unwrap();
            let (real, batch): (serde_json::Value, serde_json::Value) =
                (serde_json::from_slice(&real).unwrap(), serde_json::from_slice(&bytes).unwrap());
            assert_same_numbers(&real, &batch, &key);
            compared += 1;
        }
        if key.ends_with("drift.json") {
            let d: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(d["layout"]["kind"], "positional", "{key}");
            assert_eq!(d["extra_columns"], serde_json::json!({}), "the inference id columns are not features: {key}");
        }
    }
    assert_eq!(compared, 120, "one window a job hour");
    // The same episode.
    let batch: Vec<serde_json::Value> = std::fs::read_to_string(tmp.path().join("batch.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(summary(&batch), summary(&real_time));
    eprintln!("batch transform: {:?}", summary(&batch));
    // Its CloudWatch metrics are in Model Monitor's batch namespace, without an endpoint.
    let emf = std::fs::read_to_string(tmp.path().join("batch-emf.jsonl")).unwrap();
    assert_eq!(emf.lines().count(), 120);
    for line in emf.lines() {
        driftwatch::publish::emf::check_line(line).unwrap();
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "aws/sagemaker/ModelMonitoring/data-metrics");
        assert_eq!(directive["Dimensions"], serde_json::json!([["Feature", "MonitoringSchedule"]]));
        assert_eq!(v["MonitoringSchedule"], "driftwatch-loan-batch");
    }
}

/// Asserts that two JSON documents are equal, numbers within a relative 1e-12 (floating-point
/// sums taken in another grouping), everything else exactly.
fn assert_same_numbers(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0), "{at}: {x} vs {y}");
        }
        (J::Array(x), J::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_same_numbers(p, q, &format!("{at}[{i}]"));
            }
        }
        (J::Object(x), J::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}");
            for (k, p) in x {
                assert_same_numbers(p, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}
