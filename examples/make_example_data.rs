//! Regenerates the bundled example: `cargo run --example make_example_data`.
//!
//! Writes `examples/capture/` (five days of Data Capture for `loan-scoring-prod/AllTraffic`),
//! `baselines/loan-scoring/` (built from synthetic training data by `driftwatch baseline`'s
//! code), `examples/ground-truth/` (the labels, in Model Monitor's ground-truth layout) and
//! `baselines/loan-scoring-quality/` (the model-quality baseline from labelled scored rows).
//! The story: on day 2 at 16:00 an upstream change sends `loan_amount` in cents for five hours
//! (a sudden shift, fixed the same evening); from day 3 at 18:00 applicants' `income` creeps
//! down by one standard deviation over two days (gradual drift); on day 4 at 00:00 a model
//! version with inverted scores goes out, which only the labels show (`driftwatch_synth::labels`).

use std::path::Path;

use driftwatch::baseline::build::{build, write_dir, TextFormat};
use driftwatch::training::{build_quality, InputFormat};
use driftwatch_synth::example_spec;
use driftwatch_synth::labels::{example_labels, write_labels};

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

    let labels = example_labels(&capture)?;
    let gt = root.join("examples/ground-truth");
    if gt.exists() {
        std::fs::remove_dir_all(&gt)?;
    }
    let label_bytes = write_labels(&labels, &gt)?;
    let scored = std::env::temp_dir().join("driftwatch-example-scored.csv");
    std::fs::write(&scored, &labels.baseline_csv)?;
    let attrs = driftwatch::quality::Attributes {
        ground_truth: "y".into(),
        inference: None,
        probability: Some("p".into()),
        probability_threshold: driftwatch::quality::DEFAULT_PROBABILITY_THRESHOLD,
    };
    let quality =
        build_quality(&scored, InputFormat::Csv, true, driftwatch::quality::ProblemType::BinaryClassification, attrs)?;
    std::fs::remove_file(&scored)?;
    driftwatch::baseline::build::write_files(&root.join("baselines/loan-scoring-quality"), &quality.file_texts()?)?;
    println!(
        "wrote {label_bytes} bytes of ground truth ({} hour folders) to {} and baselines/loan-scoring-quality/ ({} rows)",
        labels.folders.len(),
        gt.display(),
        quality.statistics.item_count
    );
    Ok(())
}
