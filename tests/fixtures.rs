//! Every real capture sample in `../shared/fixtures/sagemaker/` decodes, with the rows it holds.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

use std::path::Path;

use driftwatch::capture::{decode_line, RecordError};
use driftwatch::payload::{body_text, decode_body, Table, Value};
use driftwatch::testing::sagemaker_fixtures;

/// Decodes every line of a capture file; returns (input rows, output rows) per record.
fn decode_file(path: &Path) -> Vec<(usize, usize)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = vec![];
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        // The SDK's test file is a template: its integration test fills in the time.
        let line = raw.replace("{%s}", "2026-03-03T16:00:00Z");
        let rec = decode_line(&line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        let rows = |p: &Option<driftwatch::capture::CapturedPayload<'_>>, expect: Option<usize>| -> usize {
            let Some(p) = p else { return 0 };
            let body = body_text(&p.data, &p.encoding, p.content_type.as_deref()).unwrap();
            let mut t = Table::default();
            decode_body(&body, p.content_type.as_deref(), &p.encoding, expect, &mut t)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
            t.row_count()
        };
        let n_in = rows(&rec.input, None);
        out.push((n_in, rows(&rec.output, Some(n_in))));
    }
    out
}

#[test]
fn every_fixture_capture_decodes() {
    let Some(fx) = sagemaker_fixtures() else {
        return;
    };
    let cases: &[(&str, &[(usize, usize)])] = &[
        (
            "awsdocs__amazon-sagemaker-developer-guide/model-monitor-doc-examples.capture-extract.jsonl",
            &[(1, 1), (1, 1), (1, 1)],
        ),
        (
            "aws__amazon-sagemaker-examples/sm-model_monitor_introduction.capture-extract.jsonl",
            &[(1, 1), (1, 1), (1, 1)],
        ),
        // A multi-record JSON request: two instances in, two predictions out.
        (
            "aws__amazon-sagemaker-examples/sm-clarify_model_bias_monitor_for_endpoint_json.capture-extract.jsonl",
            &[(1, 1), (2, 2)],
        ),
        // JSON Lines bodies captured as JSON: the second request holds two lines.
        (
            "aws__amazon-sagemaker-examples/fairness_and_explainability_jsonlines.capture-extract.jsonl",
            &[(1, 1), (2, 2)],
        ),
        // {"instances": [1.0, 2.0, 5.0]} -> three one-value rows, paired with three predictions.
        ("aws__sagemaker-python-sdk/tests/data/monitor/captured-data.jsonl", &[(3, 3), (3, 3)]),
    ];
    for (file, want) in cases {
        assert_eq!(decode_file(&fx.join(file)), *want, "{file}");
    }
    let sdk = decode_file(&fx.join("aws__sagemaker-python-sdk/tests/data/monitor/capture.jsonl"));
    assert_eq!(sdk.len(), 44);
    assert!(sdk.iter().all(|r| *r == (1, 1)));
}

#[test]
fn fixture_details_that_matter() {
    let Some(fx) = sagemaker_fixtures() else {
        return;
    };
    // The empty CSV field in the documentation's third record is a missing value.
    let text = std::fs::read_to_string(
        fx.join("awsdocs__amazon-sagemaker-developer-guide/model-monitor-doc-examples.capture-extract.jsonl"),
    )
    .unwrap();
    let third = text.lines().nth(2).unwrap();
    let rec = decode_line(third).unwrap();
    let input = rec.input.unwrap();
    let mut t = Table::default();
    decode_body(&input.data, input.content_type.as_deref(), &input.encoding, None, &mut t).unwrap();
    assert_eq!(t.row(0).len(), 19);
    assert_eq!(t.row(0)[6].value, Value::Missing);
    // Ground-truth records are not capture records: a clear error, not a panic.
    let actuals =
        std::fs::read_to_string(fx.join("aws__sagemaker-python-sdk/tests/data/monitor/actuals.jsonl")).unwrap();
    let first = actuals.lines().next().unwrap().replace("{%s}", "2026-03-03T16:00:00Z");
    assert_eq!(decode_line(&first).unwrap_err(), RecordError::MissingField { field: "captureData" });
}
