//! `cargo +nightly fuzz run decode_line -- -max_total_time=60`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    driftwatch_core::capture::fuzz::decode_capture_bytes(data);
});
