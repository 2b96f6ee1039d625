//! driftwatch: drift monitoring for models served on Amazon SageMaker.
//!
//! Data flow: capture files ([`capture`]) are decoded into rows ([`payload`]), profiled per
//! window ([`profile`]), compared with a Model Monitor baseline ([`baseline`], [`drift`]),
//! classified as sudden or gradual ([`classify`]) and published ([`publish`]). The drivers
//! (`replay`, `serve`, Lambda) share one engine ([`pipeline`]).

#[cfg(feature = "aws")]
pub mod aws;
pub mod baseline;
pub mod capture;
pub mod checkpoint;
pub mod classify;
pub mod config;
pub mod discovery;
pub mod drift;
pub mod lambda;
pub mod payload;
pub mod pipeline;
pub mod profile;
pub mod publish;
pub mod replay;
pub mod serve;
pub mod store;
pub mod synth;
pub mod telemetry;
pub mod time;

#[doc(hidden)]
pub mod testing;
