//! Helpers shared by unit and integration tests (not part of the public API).

use std::path::PathBuf;

/// Returns `../shared/fixtures/sagemaker` beside the project, when it exists.
///
/// Tests that need the real AWS sample files call this and skip (with a message) when it is
/// absent, so a checkout without `shared/` still passes.
pub fn sagemaker_fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/sagemaker");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} not found (the shared fixtures sit beside the project)", dir.display());
        None
    }
}
