//! `cargo +nightly fuzz run batch_capture -- -max_total_time=60`
//!
//! Batch transform capture: manifests read or refused; input and output objects (split at a
//! NUL byte) become one capture record per input line, each of which decodes
//! (`driftwatch_core::capture::batch::fuzz_batch`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    driftwatch_core::capture::batch::fuzz_batch(data);
});
