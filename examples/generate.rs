//! Writes a synthetic Data Capture stream, its training data and its baseline, for benchmarks:
//!
//! ```text
//! cargo run --release --example generate -- --out DIR [--mb 100] [--features 12] [--max-rows 4] [--peak 20000] [--payload csv|json] [--object-kb N]
//! ```
//!
//! The stream is stationary: `--features` mixed columns (`synth::bench_features`: numbers,
//! skewed amounts, integers, ratios and categories), CSV requests of 1 to `--max-rows` rows with
//! a model score in the response, `--peak` requests an hour at the daily peak, hour after hour
//! until at least `--mb` megabytes of capture are written. `DIR/training.csv` is the training
//! data (score first, then the features, with a header) and `DIR/baseline/` its Model Monitor
//! baseline; `DIR/capture/` is the capture root. `--payload json` writes JSON objects by name
//! (`{"instances": [...]}` in, `{"predictions": [{"score": ...}]}` out) and training data
//! without the score, as a framework container's endpoint has. `--object-kb N` splits each
//! object (about ten minutes of traffic) into objects of about N KB, keys in the same order, as
//! low-traffic and many-instance endpoints write them: the same records in more, smaller objects.

use std::path::PathBuf;

use driftwatch::baseline::build::{build_csv, write_dir};
use driftwatch::time::{Duration, Timestamp};
use driftwatch_synth::{bench_features, Payload, StreamSpec};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let out = PathBuf::from(get("--out").ok_or_else(|| anyhow::anyhow!("--out DIR is required"))?);
    let mb: f64 = get("--mb").map(|v| v.parse()).transpose()?.unwrap_or(100.0);
    let features: usize = get("--features").map(|v| v.parse()).transpose()?.unwrap_or(12);
    let max_rows: u32 = get("--max-rows").map(|v| v.parse()).transpose()?.unwrap_or(4);
    let peak: f64 = get("--peak").map(|v| v.parse()).transpose()?.unwrap_or(20_000.0);
    let object_kb: Option<u64> = get("--object-kb").map(|v| v.parse()).transpose()?;
    anyhow::ensure!((1..=2000).contains(&features), "--features {features}: between 1 and 2000");
    anyhow::ensure!(max_rows >= 1, "--max-rows {max_rows}: at least 1");
    let payload = match get("--payload").as_deref() {
        None | Some("csv") => Payload::Csv,
        Some("json") => Payload::JsonObjects,
        Some(other) => anyhow::bail!("--payload {other}: csv or json"),
    };
    let start = Timestamp::from_civil(2026, 3, 1, 0, 0, 0).ok_or_else(|| anyhow::anyhow!("date"))?;
    let spec = |hour: u32| StreamSpec {
        endpoint: "bench".into(),
        variant: "AllTraffic".into(),
        start: start + Duration::from_hours(i64::from(hour)),
        hours: 1,
        peak_rate: peak,
        max_rows,
        features: bench_features(features),
        changes: vec![],
        cycles: vec![],
        seed: 99 + u64::from(hour),
        payload,
    };
    let target = (mb * 1e6) as u64;
    let capture = out.join("capture");
    if capture.exists() {
        std::fs::remove_dir_all(&capture)?;
    }
    let (mut bytes, mut hours) = (0u64, 0u32);
    while bytes < target {
        bytes += spec(hours).write_capture(&capture)?;
        hours += 1;
    }
    let mut objects = 0u64;
    if let Some(kb) = object_kb {
        anyhow::ensure!(kb >= 1, "--object-kb {kb}: at least 1");
        objects = split_objects(&capture, kb * 1000)?;
    }
    let training = spec(0).baseline_csv(20_000);
    std::fs::write(out.join("training.csv"), &training)?;
    let built = build_csv(training.as_bytes(), true, "training.csv")?;
    write_dir(&built, &out.join("baseline"))?;
    let split = if objects > 0 { format!(" in {objects} objects") } else { String::new() };
    println!(
        "wrote {bytes} bytes of capture{split} ({hours} hours, {features} features) to {}, training.csv and baseline/",
        capture.display()
    );
    Ok(())
}

/// Splits every `.jsonl` object below `dir` into parts of about `bytes` each (whole lines),
/// named `{stem}-{part:04}.jsonl` so that keys keep the records' order. Returns the objects.
fn split_objects(dir: &std::path::Path, bytes: u64) -> anyhow::Result<u64> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                files.push(p);
            }
        }
    }
    let mut objects = 0;
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("part").to_owned();
        let (mut part, mut chunk) = (0u32, String::new());
        let mut flush = |chunk: &mut String, part: &mut u32| -> std::io::Result<()> {
            if !chunk.is_empty() {
                std::fs::write(f.with_file_name(format!("{stem}-{part:04}.jsonl")), &chunk)?;
                chunk.clear();
                *part += 1;
                objects += 1;
            }
            Ok(())
        };
        for line in text.lines() {
            chunk.push_str(line);
            chunk.push('\n');
            if chunk.len() as u64 >= bytes {
                flush(&mut chunk, &mut part)?;
            }
        }
        flush(&mut chunk, &mut part)?;
        std::fs::remove_file(&f)?;
    }
    Ok(objects)
}
