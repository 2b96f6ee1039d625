//! driftwatch: drift monitoring for models served on Amazon SageMaker.
//!
//! Data flow: capture files ([`capture`]) are decoded into rows ([`payload`]), profiled per
//! window ([`profile`]), compared with a Model Monitor baseline ([`baseline`], [`drift`]),
//! classified as sudden or gradual ([`classify`]) and published ([`publish`]). The drivers
//! (`replay`, `serve`, Lambda) share one engine ([`pipeline`]).
//!
//! The stages up to the classifier and the window engine live in the `driftwatch-core` package
//! (no AWS SDK, tokio, arrow or parquet below it) and are re-exported here under their own
//! names; this package adds the I/O (stores, checkpoints, the bus, discovery), the outputs
//! (reports, the Parquet table, the HTML page) and the drivers.

pub use driftwatch_core::{baseline, bias, capture, classify, drift, payload, pipeline, profile, quality, time};

#[cfg(feature = "aws")]
pub mod aws;
pub mod checkpoint;
pub mod config;
pub mod discovery;
pub mod lambda;
pub mod notify;
pub mod publish;
pub mod replay;
pub mod serve;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod training;

#[doc(hidden)]
#[cfg(any(test, feature = "testing"))]
pub use driftwatch_core::testing;
