//! Writes a synthetic Data Capture stream and its baseline, for benchmarks and experiments:
//! `cargo run --release --example generate -- --out DIR [--hours 48] [--peak 3000]`.
//! The stream is the loan-scoring example's features, stationary.

use std::path::PathBuf;

use driftwatch::baseline::build::{build_csv, write_dir};
use driftwatch::synth::{loan_features, StreamSpec};
use driftwatch::time::Timestamp;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let out = PathBuf::from(get("--out").ok_or_else(|| anyhow::anyhow!("--out DIR is required"))?);
    let hours: u32 = get("--hours").map(|h| h.parse()).transpose()?.unwrap_or(48);
    let peak: f64 = get("--peak").map(|h| h.parse()).transpose()?.unwrap_or(3000.0);
    let spec = StreamSpec {
        endpoint: "bench".into(),
        variant: "AllTraffic".into(),
        start: Timestamp::from_civil(2026, 3, 1, 0, 0, 0).ok_or_else(|| anyhow::anyhow!("date"))?,
        hours,
        peak_rate: peak,
        max_rows: 3,
        features: loan_features(),
        changes: vec![],
        seed: 99,
    };
    let bytes = spec.write_capture(&out.join("capture"))?;
    let built = build_csv(spec.baseline_csv(20_000).as_bytes(), true, "training.csv")?;
    write_dir(&built, &out.join("baseline"))?;
    println!(
        "wrote {bytes} bytes of capture to {}/capture and a baseline to {}/baseline",
        out.display(),
        out.display()
    );
    Ok(())
}
