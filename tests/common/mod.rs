//! Helpers shared by the tests that run the `driftwatch` binary.

#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project folder, read at run time (`driftwatch::testing::workspace_root`: a shared build
/// folder may hold a binary built from a checkout elsewhere).
pub fn root() -> PathBuf {
    driftwatch::testing::workspace_root()
}

/// Runs the binary in `cwd` with no AWS region and warnings-only logs.
pub fn driftwatch(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(cwd)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("DRIFTWATCH_LOG", "warn")
        .output()
        .expect("run driftwatch")
}

/// Every file below `dir` (links followed), by path relative to it, with its bytes.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A stable number in [0, 1) from a text (labels drawn per record, the same on every run).
#[allow(unused_imports)]
pub use driftwatch_synth::labels::unit_of;

/// Clarify's analysis config of the loan example: home_ownership's values, grouped by purpose
/// (the capture's request columns after the label).
pub const LOAN_BIAS_CONFIG: &str = r#"{
  "dataset_type": "text/csv",
  "headers": ["label", "loan_amount", "income", "term_months", "debt_to_income", "credit_lines", "home_ownership", "purpose"],
  "label": "label",
  "label_values_or_threshold": [1],
  "facet": [{"name_or_index": "home_ownership"}],
  "group_variable": "purpose",
  "probability_threshold": 0.5,
  "methods": {"post_training_bias": {"methods": "all"}}
}"#;

/// Writes `analysis_config.json` and the bias baseline (`bias-baseline/analysis.json`, built by
/// `driftwatch baseline --bias-config`) of `spec`'s training rows, each labelled by a draw from
/// its score (a calibrated model), below `dir`.
pub fn write_bias_baseline(dir: &Path, spec: &driftwatch_synth::StreamSpec) {
    let csv = spec.baseline_csv(5000);
    let mut lines = csv.lines();
    let mut out = format!("{},label\n", lines.next().unwrap());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for line in lines {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        let score: f64 = line.split(',').next().unwrap().parse().unwrap();
        out.push_str(&format!("{line},{}\n", u8::from(u < score)));
    }
    std::fs::write(dir.join("train.csv"), out).unwrap();
    std::fs::write(dir.join("analysis_config.json"), LOAN_BIAS_CONFIG).unwrap();
    build_bias_baseline(dir, "bias-baseline");
}

/// `driftwatch baseline --bias-config analysis_config.json` over `dir/train.csv` (label `label`,
/// probability `score`) into `dir/output`.
pub fn build_bias_baseline(dir: &Path, output: &str) {
    let run = driftwatch(
        dir,
        &[
            "baseline",
            "--bias-config",
            "analysis_config.json",
            "--input",
            "train.csv",
            "--ground-truth-attribute",
            "label",
            "--probability-attribute",
            "score",
            "--output",
            output,
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
}
