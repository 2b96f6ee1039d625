//! Where results go: per-window reports, the metrics table, events.

pub mod bus;
pub mod emf;
#[cfg(feature = "aws")]
pub mod eventbridge;
pub mod events;
pub mod html;
pub mod metrics_table;
pub mod report;
pub mod svg;
pub mod window;

/// Serializes `value` as JSON with every object's keys in sorted order: the layout `drift.json`
/// and the events have always had (the classifier's evidence is typed; its files are not
/// reordered by it).
pub fn sorted_keys<T: serde::Serialize, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize as _;
    serde_json::to_value(value).map_err(serde::ser::Error::custom)?.serialize(s)
}
