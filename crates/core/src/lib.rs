//! driftwatch's core: everything from a captured record to a decision, with no I/O runtime.
//!
//! Data flow: capture records ([`capture`]) are decoded into rows ([`payload`]), profiled per
//! window ([`profile`]) by the window engine ([`pipeline`]), compared with a Model Monitor
//! baseline ([`baseline`], [`drift`]) and classified as sudden or gradual ([`classify`]);
//! model quality against ground truth is measured in [`quality`].
//! Publishing, stores and the drivers live in the `driftwatch` package, which depends on this
//! one and never the other way.

pub mod baseline;
pub mod bias;
pub mod capture;
pub mod classify;
pub mod drift;
pub mod payload;
pub mod pipeline;
pub mod profile;
pub mod quality;
pub mod time;

#[doc(hidden)]
#[cfg(any(test, feature = "testing"))]
pub mod testing;
