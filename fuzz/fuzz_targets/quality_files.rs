//! `cargo +nightly fuzz run quality_files -- -max_total_time=60`: model-quality statistics and
//! constraints files of any content are read without a panic, and what reads writes back as a
//! file that reads the same.
#![no_main]

use driftwatch_core::quality::{QualityConstraints, QualityStatistics};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(s) = QualityStatistics::from_json(text, "fuzz") {
        let again = serde_json::to_string(&s).expect("a statistics file serializes");
        let back = QualityStatistics::from_json(&again, "fuzz").expect("what was written reads");
        assert_eq!(serde_json::to_string(&back).expect("serializes"), again);
    }
    if let Ok(c) = QualityConstraints::from_json(text, "fuzz") {
        let again = serde_json::to_string(&c).expect("a constraints file serializes");
        QualityConstraints::from_json(&again, "fuzz").expect("what was written reads");
    }
});
