//! `cargo +nightly fuzz run ground_truth -- -max_total_time=60`: any ground-truth file (lines of
//! anything) is read without a panic, every non-blank line is either a label or a counted skip,
//! and the ledger takes each label once: the first for its key, or a duplicate.
#![no_main]

use driftwatch_core::quality::ground_truth::LabelFile;
use driftwatch_core::quality::join::JoinRules;
use driftwatch_core::quality::ledger::{Judged, LabelLedger};
use driftwatch_core::quality::metrics::{BinaryRow, LabelledRows};
use driftwatch_core::quality::{statistics, ProblemType, QualityConstraints};
use driftwatch_core::time::Duration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = LabelFile::read("fuzz.jsonl", None, &text);
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    assert_eq!(file.labels.len() as u64 + file.skipped_lines(), lines, "every line is counted once");
    let rules = JoinRules::new(ProblemType::BinaryClassification, 0.5, Duration::from_hours(24));
    let rows = LabelledRows::Binary(vec![BinaryRow { label: true, predicted: true, score: 1.0 }]);
    let constraints = QualityConstraints::suggest(&statistics(ProblemType::BinaryClassification, &rows));
    let mut ledger = LabelLedger::new(true);
    ledger.add_file(&file);
    ledger.due(None, &rules, &constraints, &mut |_| Judged::default());
    ledger.finish();
    let t = ledger.totals();
    assert_eq!(t.labels + t.duplicates, file.labels.len() as u64, "every label is taken once or a duplicate");
    assert!(t.conflicting <= t.duplicates);
    assert_eq!(t.unmatched, t.labels, "no prediction came for any of them");
});
