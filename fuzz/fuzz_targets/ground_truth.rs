//! `cargo +nightly fuzz run ground_truth -- -max_total_time=60`: any ground-truth file (lines of
//! anything) is read without a panic, every non-blank line is either a label or a counted skip,
//! and labels are kept one per key.
#![no_main]

use driftwatch_core::quality::ground_truth::Labels;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut labels = Labels::new();
    labels.read("fuzz.jsonl", None, &text);
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    let skipped: u64 = labels.skipped.values().sum();
    assert_eq!(labels.len() as u64 + labels.duplicates + skipped, lines, "every line is counted once");
    assert!(labels.conflicting <= labels.duplicates);
});
