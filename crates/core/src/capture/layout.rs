//! The Data Capture key layout: `{prefix}/{endpoint}/{variant}/yyyy/mm/dd/HH/{name}.jsonl`.
//!
//! The hour folder is the UTC hour of the invocations inside (files may land minutes after the
//! hour ends). File names are write time plus a UUID and mean nothing else.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One capture stream: an endpoint's variant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamId {
    /// Endpoint name.
    pub endpoint: String,
    /// Production or shadow variant name.
    pub variant: String,
}

impl StreamId {
    /// Builds a stream id.
    pub fn new(endpoint: impl Into<String>, variant: impl Into<String>) -> Self {
        StreamId { endpoint: endpoint.into(), variant: variant.into() }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.endpoint, self.variant)
    }
}

/// Parses four folder names `yyyy`, `mm`, `dd`, `HH` into the hour's start.
pub fn parse_hour(parts: &[&str]) -> Option<Timestamp> {
    let [y, m, d, h] = parts else { return None };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2) && digits(h, 2)) {
        return None;
    }
    Timestamp::from_civil(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?, h.parse().ok()?, 0, 0)
}

/// Returns the hour folder path `yyyy/mm/dd/HH` of an instant.
pub fn hour_path(t: Timestamp) -> String {
    let c = t.civil();
    format!("{:04}/{:02}/{:02}/{:02}", c.year, c.month, c.day, c.hour)
}

/// A capture object's key split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// Folders above the hour folders (prefix, endpoint, variant).
    pub dirs: Vec<&'a str>,
    /// Start of the hour folder, when the key has one.
    pub hour: Option<Timestamp>,
    /// File name.
    pub name: &'a str,
}

/// Splits a `/`-separated key (relative to the capture root) into folders, hour and name.
pub fn split_key(key: &str) -> KeyParts<'_> {
    let mut parts: Vec<&str> = key.split('/').filter(|p| !p.is_empty()).collect();
    let name = parts.pop().unwrap_or("");
    if parts.len() >= 4 {
        if let Some(hour) = parse_hour(&parts[parts.len() - 4..]) {
            parts.truncate(parts.len() - 4);
            return KeyParts { dirs: parts, hour: Some(hour), name };
        }
    }
    KeyParts { dirs: parts, hour: None, name }
}

/// Names the stream of a key below a capture root.
///
/// `root_name` and `root_parent` name the root folder (or prefix) and its parent: they name the
/// stream when the root is an endpoint or a variant folder.
/// - `{endpoint}/{variant}/yyyy/...` (root = the capture destination, or deeper): the last two
///   folders above the hour;
/// - `{variant}/yyyy/...` (root = an endpoint folder): the root and the folder;
/// - `yyyy/...` (root = a variant folder): the root's parent and the root.
pub fn stream_of(parts: &KeyParts<'_>, root_name: &str, root_parent: &str) -> StreamId {
    match parts.dirs.as_slice() {
        [.., e, v] => StreamId::new(*e, *v),
        [v] => StreamId::new(root_name, *v),
        [] => StreamId::new(root_parent, root_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_capture_keys() {
        let k = split_key("datacapture/ep/AllTraffic/2022/04/18/00/20-48-871-0b7b.jsonl");
        assert_eq!(k.dirs, vec!["datacapture", "ep", "AllTraffic"]);
        assert_eq!(k.hour.unwrap().to_string(), "2022-04-18T00:00:00Z");
        assert_eq!(k.name, "20-48-871-0b7b.jsonl");
        assert_eq!(stream_of(&k, "root", "parent"), StreamId::new("ep", "AllTraffic"));

        let k = split_key("AllTraffic/2022/04/18/23/a.jsonl");
        assert_eq!(stream_of(&k, "ep", "capture"), StreamId::new("ep", "AllTraffic"));
        let k = split_key("2022/04/18/23/a.jsonl");
        assert_eq!(stream_of(&k, "Shadow-01", "ep"), StreamId::new("ep", "Shadow-01"));

        let k = split_key("loose/file.jsonl");
        assert_eq!(k.hour, None);
        assert_eq!(split_key("ep/v/2022/13/18/00/a.jsonl").hour, None);
        assert_eq!(hour_path(Timestamp::parse_rfc3339("2026-03-03T07:59:00Z").unwrap()), "2026/03/03/07");
    }
}
