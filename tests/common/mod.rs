//! Helpers shared by the tests that run the `driftwatch` binary.

#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary in `cwd` with no AWS region and warnings-only logs.
pub fn driftwatch(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(cwd)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("DRIFTWATCH_LOG", "warn")
        .output()
        .expect("run driftwatch")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A stable number in [0, 1) from a text (labels drawn per record, the same on every run).
#[allow(unused_imports)]
pub use driftwatch_synth::labels::unit_of;
