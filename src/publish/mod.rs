//! Where results go: per-window reports, the metrics table, events.

pub mod events;
pub mod metrics_table;
pub mod report;
pub mod store;
