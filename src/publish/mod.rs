//! Where results go: per-window reports, the metrics table, events.

pub mod bus;
#[cfg(feature = "aws")]
pub mod eventbridge;
pub mod events;
pub mod html;
pub mod metrics_table;
pub mod report;
pub mod svg;
pub mod window;
