//! Helpers shared by unit and integration tests (not part of the public API).

use std::path::PathBuf;

/// Set by `./scripts/test`, which provides every environment a test may need (moto, Chromium,
/// `../shared`): under it a test that would skip fails instead, so the test command cannot go
/// green by skipping what it was meant to run.
pub const REQUIRE_ALL_ENV: &str = "REQUIRE_TEST_ENV";

/// Says why a test skips, or panics with the same reason when [`REQUIRE_ALL_ENV`] is set.
///
/// # Panics
/// Under `./scripts/test` (the variable set to anything but empty or `0`).
pub fn skip(reason: &str) {
    if let Err(message) = skip_under(reason, std::env::var(REQUIRE_ALL_ENV).ok().as_deref()) {
        panic!("{message}");
    }
    eprintln!("skipped: {reason}");
}

/// The rule of [`skip`], given the variable's value: `Err` (the failure message) when skipping
/// is not allowed.
fn skip_under(reason: &str, required: Option<&str>) -> Result<(), String> {
    match required {
        Some(v) if !v.is_empty() && v != "0" => {
            Err(format!("{reason}: this test may not skip under ./scripts/test ({REQUIRE_ALL_ENV}={v})"))
        }
        _ => Ok(()),
    }
}

/// Returns `../shared/fixtures/sagemaker` beside the project, when it exists.
///
/// Tests that need the real AWS sample files call this and skip (with a message, see [`skip`])
/// when it is absent, so a checkout without `shared/` still passes `cargo test`.
pub fn sagemaker_fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/sagemaker");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!("{} not found (the shared fixtures sit beside the project)", dir.display()));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_fails_when_every_environment_is_required() {
        let err = skip_under("no emulator", Some("1")).expect_err("skipping is refused");
        assert!(err.contains("no emulator") && err.contains(REQUIRE_ALL_ENV), "{err}");
        assert!(skip_under("no emulator", None).is_ok());
        assert!(skip_under("no emulator", Some("0")).is_ok());
        assert!(skip_under("no emulator", Some("")).is_ok());
    }
}
