//! Regenerates the bundled example: `cargo run --example make_example_data`.
//!
//! Writes `examples/capture/` (five days of Data Capture for `loan-scoring-prod/AllTraffic`) and
//! `baselines/loan-scoring/` (built from synthetic training data by `driftwatch baseline`'s code).
//! The story: on day 2 at 16:00 an upstream change sends `loan_amount` in cents for five hours
//! (a sudden shift, fixed the same evening); from day 3 at 18:00 applicants' `income` creeps
//! down by one standard deviation over two days (gradual drift).

use std::path::Path;

use driftwatch::baseline::build::{build, write_dir, TextFormat};
use driftwatch_synth::example_spec;

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = example_spec();
    let capture = root.join("examples/capture");
    if capture.exists() {
        std::fs::remove_dir_all(&capture)?;
    }
    let bytes = spec.write_capture(&capture)?;
    let tmp = std::env::temp_dir().join("driftwatch-example-training.csv");
    std::fs::write(&tmp, spec.baseline_csv(5000))?;
    let built = build(&tmp, TextFormat::Csv, true)?;
    write_dir(&built, &root.join("baselines/loan-scoring"))?;
    std::fs::remove_file(&tmp)?;
    println!("wrote {bytes} bytes of capture to {} and baselines/loan-scoring/", capture.display());
    Ok(())
}
