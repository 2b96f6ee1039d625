//! `cargo +nightly fuzz run capture_file -- -max_total_time=60`
//!
//! Whole capture files: several lines, bad bytes between them, cut into two objects; every
//! line profiled or dropped, once (`driftwatch_core::pipeline::fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    driftwatch_core::pipeline::fuzz::ingest_capture_file(data);
});
