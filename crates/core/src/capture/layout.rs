//! The Data Capture key layout: `{prefix}/{endpoint}/{variant}/yyyy/mm/dd/HH/{name}.jsonl`.
//!
//! The hour folder is the UTC hour of the invocations inside (files may land minutes after the
//! hour ends). File names are write time plus a UUID and mean nothing else.

use std::collections::BTreeMap;
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

/// One capture object below a capture root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureObject {
    /// Its key below the root, `/`-separated (what reports and errors show).
    pub key: String,
    /// Start of its hour folder, if it sits in one.
    pub hour: Option<Timestamp>,
    /// Size in bytes.
    pub size: u64,
}

/// The names of a capture root and of its parent (a folder, a bucket or a key prefix): streams
/// are named after them when the root is an endpoint or a variant folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootNames {
    /// The root's own name (`ep-a` for `.../datacapture/ep-a/`).
    pub name: String,
    /// Its parent's name (`datacapture`).
    pub parent: String,
}

/// Groups the listed objects `(key below the root, size)` by stream, each stream's objects in
/// data order (hour folder, then key). Only `.jsonl` objects are capture; the rest is ignored.
/// A file with neither folders nor an hour above it (the root is the folder that holds it) is
/// the `AllTraffic` stream of an endpoint named after the root.
pub fn group_streams(
    objects: impl IntoIterator<Item = (String, u64)>,
    root: &RootNames,
) -> BTreeMap<StreamId, Vec<CaptureObject>> {
    let mut streams: BTreeMap<StreamId, Vec<CaptureObject>> = BTreeMap::new();
    for (key, size) in objects {
        if !key.ends_with(".jsonl") {
            continue;
        }
        let parts = split_key(&key);
        let stream = if parts.hour.is_none() && parts.dirs.is_empty() {
            StreamId::new(root.name.as_str(), "AllTraffic")
        } else {
            stream_of(&parts, &root.name, &root.parent)
        };
        let hour = parts.hour;
        streams.entry(stream).or_default().push(CaptureObject { key, hour, size });
    }
    for objects in streams.values_mut() {
        objects.sort_by(|a, b| (a.hour, &a.key).cmp(&(b.hour, &b.key)));
    }
    streams
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

    #[test]
    fn groups_objects_by_stream_in_data_order() {
        let root = RootNames { name: "datacapture".into(), parent: "bucket".into() };
        let listed = [
            "ep-a/AllTraffic/2026/03/03/17/b.jsonl",
            "ep-a/AllTraffic/2026/03/03/16/z.jsonl",
            "ep-a/Shadow-01/2026/03/03/16/a.jsonl",
            "ep-b/AllTraffic/2026/03/03/16/a.jsonl",
            "ep-b/AllTraffic/2026/03/03/16/notes.txt",
        ];
        let s = group_streams(listed.iter().map(|k| (k.to_string(), 1)), &root);
        let ids: Vec<String> = s.keys().map(ToString::to_string).collect();
        assert_eq!(ids, vec!["ep-a/AllTraffic", "ep-a/Shadow-01", "ep-b/AllTraffic"]);
        let a = &s[&StreamId::new("ep-a", "AllTraffic")];
        assert_eq!(
            a.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
            vec!["ep-a/AllTraffic/2026/03/03/16/z.jsonl", "ep-a/AllTraffic/2026/03/03/17/b.jsonl"]
        );
        // The root is an endpoint folder, a variant folder, or the folder of one loose file.
        let ep = RootNames { name: "ep-a".into(), parent: "datacapture".into() };
        let s = group_streams([("Shadow-01/2026/03/03/16/a.jsonl".to_string(), 1)], &ep);
        assert!(s.contains_key(&StreamId::new("ep-a", "Shadow-01")));
        let var = RootNames { name: "AllTraffic".into(), parent: "ep-b".into() };
        let s = group_streams([("2026/03/03/16/a.jsonl".to_string(), 1)], &var);
        assert!(s.contains_key(&StreamId::new("ep-b", "AllTraffic")));
        let dir = RootNames { name: "16".into(), parent: "03".into() };
        let s = group_streams([("a.jsonl".to_string(), 1)], &dir);
        assert_eq!(s[&StreamId::new("16", "AllTraffic")][0].hour, None);
    }
}
