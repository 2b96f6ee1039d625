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

/// The workspace's root folder: the nearest folder with a `Cargo.lock` above the package
/// whose tests run (cargo and nextest set `CARGO_MANIFEST_DIR` when they run a test), else
/// above this package as it was built. Read at run time because a build folder shared between
/// checkouts in different places (CI reuses one) keeps test binaries whose compile-time path
/// names the other checkout.
pub fn workspace_root() -> PathBuf {
    let built = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|dir| dir.ancestors().find(|a| a.join("Cargo.lock").is_file()).map(PathBuf::from))
        .unwrap_or(built)
}

/// Returns `../shared/fixtures/sagemaker` beside the project, when it exists.
///
/// Tests that need the real AWS sample files call this and skip (with a message, see [`skip`])
/// when it is absent, so a checkout without `shared/` still passes `cargo test`.
pub fn sagemaker_fixtures() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/fixtures/sagemaker");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!("{} not found (the shared fixtures sit beside the project)", dir.display()));
        None
    }
}

/// A small, fast, deterministic random generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x853c_49e6_748f_ea9b)
    }

    /// Returns 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::profile::hll::mix64(self.0)
    }

    /// Returns a uniform number in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Returns a standard normal number (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Returns an index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut r = self.uniform() * total;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }

    /// Returns a Poisson-distributed count (normal approximation above 30).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= self.uniform();
            if p <= l {
                return k;
            }
            k += 1;
        }
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
