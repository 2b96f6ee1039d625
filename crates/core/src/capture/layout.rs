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

/// Parses four folder names `yyyy`, `mm`, `dd`, `HH` into the hour's start. Data Capture pads
/// month, day and hour to two digits; a copy made by hand may not (`2026/3/3/7`), and is read
/// the same.
pub fn parse_hour(parts: &[&str]) -> Option<Timestamp> {
    let [y, m, d, h] = parts else { return None };
    let digits =
        |s: &str, n: std::ops::RangeInclusive<usize>| n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2) && digits(h, 1..=2)) {
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

/// Splits a `/`-separated path into folders, hour and name: the hour is the four folders right
/// above the file, when they are one.
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

/// Where a capture root is: the folders (or the bucket and the key prefix's segments) from the
/// top down to the root itself. Streams are named from the whole path of each object, so a root
/// anywhere in the layout (the destination, an endpoint, a variant, a day, an hour, one file)
/// names the same streams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootPath {
    /// The segments, top first.
    pub segments: Vec<String>,
}

impl RootPath {
    /// The path of `/`-separated `path` (empty segments dropped).
    pub fn of(path: &str) -> Self {
        RootPath { segments: path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect() }
    }
}

/// Where an object belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// In the Data Capture layout: `{endpoint}/{variant}/yyyy/mm/dd/HH/{file}`.
    Stream(StreamId, Timestamp),
    /// Outside the layout (no hour folder right above it): a loose file, named after the
    /// folder that holds it (`{folder}/AllTraffic`).
    Loose(StreamId),
    /// In an hour folder with fewer than two folders above it: its endpoint and variant cannot
    /// be known.
    Unknown,
}

/// Places an object by its whole path: `root`'s segments, then its `key` below the root.
pub fn place(root: &RootPath, key: &str) -> Placed {
    let mut full: Vec<&str> = root.segments.iter().map(String::as_str).collect();
    full.extend(key.split('/').filter(|p| !p.is_empty()));
    let Some(_) = full.pop() else { return Placed::Unknown };
    if full.len() >= 4 {
        if let Some(hour) = parse_hour(&full[full.len() - 4..]) {
            full.truncate(full.len() - 4);
            return match full.as_slice() {
                [.., e, v] => Placed::Stream(StreamId::new(*e, *v), hour),
                _ => Placed::Unknown,
            };
        }
    }
    Placed::Loose(StreamId::new(full.last().copied().unwrap_or("capture"), "AllTraffic"))
}

/// Capture objects grouped by stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouped {
    /// Each stream's objects in data order (hour folder, then key).
    pub streams: BTreeMap<StreamId, Vec<CaptureObject>>,
    /// Keys whose endpoint and variant cannot be known ([`Placed::Unknown`]).
    pub unknown: Vec<String>,
    /// Objects that are not `.jsonl`, counted by their suffix (`gz`, `json`, none), for the
    /// summary's "skipped" line.
    pub other: BTreeMap<String, u64>,
}

/// Groups the listed objects `(key below the root, size)` by stream. Only `.jsonl` objects (and
/// `.jsonl.gz`, read decompressed) are capture; the others are counted by suffix. A batch
/// transform capture destination (`{destination}/input/yyyy/mm/dd/hh/*` manifests, whatever
/// their names) is the stream `{destination}/BatchTransform` of its input manifests; its
/// `output/` manifests are read with them ([`super::batch`]).
pub fn group_streams(objects: impl IntoIterator<Item = (String, u64)>, root: &RootPath) -> Grouped {
    use super::batch::{BATCH_VARIANT, INPUT_FOLDER, OUTPUT_FOLDER};
    let mut out = Grouped::default();
    for (key, size) in objects {
        let placed = place(root, &key);
        if let Placed::Stream(s, h) = &placed {
            if s.variant == OUTPUT_FOLDER {
                continue;
            }
            if s.variant == INPUT_FOLDER {
                let stream = StreamId::new(&s.endpoint, BATCH_VARIANT);
                out.streams.entry(stream).or_default().push(CaptureObject { key, hour: Some(*h), size });
                continue;
            }
        }
        if !(key.ends_with(".jsonl") || key.ends_with(".jsonl.gz")) {
            let name = key.rsplit('/').next().unwrap_or("");
            let suffix = name.rsplit_once('.').map_or("", |(_, s)| s).to_owned();
            *out.other.entry(suffix).or_default() += 1;
            continue;
        }
        let (stream, hour) = match placed {
            Placed::Stream(s, h) => (s, Some(h)),
            Placed::Loose(s) => (s, None),
            Placed::Unknown => {
                out.unknown.push(key);
                continue;
            }
        };
        out.streams.entry(stream).or_default().push(CaptureObject { key, hour, size });
    }
    for objects in out.streams.values_mut() {
        objects.sort_by(|a, b| (a.hour, &a.key).cmp(&(b.hour, &b.key)));
    }
    out
}

/// The folder below a capture root that holds a stream's hour folders: `{endpoint}/{variant}/`,
/// or `{destination}/input/` for a batch transform stream.
pub fn stream_prefix(stream: &StreamId) -> String {
    if stream.variant == super::batch::BATCH_VARIANT {
        format!("{}/{}/", stream.endpoint, super::batch::INPUT_FOLDER)
    } else {
        format!("{}/{}/", stream.endpoint, stream.variant)
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
        let k = split_key("loose/file.jsonl");
        assert_eq!(k.hour, None);
        assert_eq!(split_key("ep/v/2022/13/18/00/a.jsonl").hour, None);
        assert_eq!(split_key("ep/v/2022/4/8/7/a.jsonl").hour.unwrap().to_string(), "2022-04-08T07:00:00Z");
        assert_eq!(hour_path(Timestamp::parse_rfc3339("2026-03-03T07:59:00Z").unwrap()), "2026/03/03/07");
    }

    /// Wherever the root is in the layout, the same object is in the same stream and hour.
    #[test]
    fn objects_are_placed_by_their_whole_path() {
        let full = "data/datacapture/ep-a/AllTraffic/2026/03/03/16/x.jsonl";
        let want = Placed::Stream(
            StreamId::new("ep-a", "AllTraffic"),
            Timestamp::parse_rfc3339("2026-03-03T16:00:00Z").unwrap(),
        );
        let segments: Vec<&str> = full.split('/').collect();
        for cut in 0..segments.len() {
            let root = RootPath::of(&segments[..cut].join("/"));
            let key = segments[cut..].join("/");
            assert_eq!(place(&root, &key), want, "root {:?}", root.segments);
        }
        // Not padded, as a copy made by hand may be.
        let p = place(&RootPath::of("/tmp/copy"), "ep/v/2026/3/3/7/x.jsonl");
        assert_eq!(
            p,
            Placed::Stream(StreamId::new("ep", "v"), Timestamp::parse_rfc3339("2026-03-03T07:00:00Z").unwrap())
        );
        // Outside the layout: the folder that holds it; an hour folder with nothing above: unknown.
        assert_eq!(
            place(&RootPath::of("/x/exports"), "dump.jsonl"),
            Placed::Loose(StreamId::new("exports", "AllTraffic"))
        );
        assert_eq!(place(&RootPath::of(""), "2026/03/03/16/x.jsonl"), Placed::Unknown);
        assert_eq!(place(&RootPath::of("v"), "2026/03/03/16/x.jsonl"), Placed::Unknown);
    }

    #[test]
    fn groups_objects_by_stream_in_data_order() {
        let root = RootPath::of("bucket/datacapture");
        let listed = [
            "ep-a/AllTraffic/2026/03/03/17/b.jsonl",
            "ep-a/AllTraffic/2026/03/03/16/z.jsonl",
            "ep-a/Shadow-01/2026/03/03/16/a.jsonl",
            "ep-b/AllTraffic/2026/03/03/16/a.jsonl",
            "ep-b/AllTraffic/2026/03/03/16/notes.txt",
            "ep-b/AllTraffic/2026/03/03/16/old.jsonl.gz",
            "ep-b/AllTraffic/2026/03/03/16/notes.gz",
        ];
        let g = group_streams(listed.iter().map(|k| (k.to_string(), 1)), &root);
        let ids: Vec<String> = g.streams.keys().map(ToString::to_string).collect();
        assert_eq!(ids, vec!["ep-a/AllTraffic", "ep-a/Shadow-01", "ep-b/AllTraffic"]);
        let a = &g.streams[&StreamId::new("ep-a", "AllTraffic")];
        assert_eq!(
            a.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
            vec!["ep-a/AllTraffic/2026/03/03/16/z.jsonl", "ep-a/AllTraffic/2026/03/03/17/b.jsonl"]
        );
        assert_eq!(g.other, BTreeMap::from([("gz".to_owned(), 1), ("txt".to_owned(), 1)]));
        assert_eq!(g.streams[&StreamId::new("ep-b", "AllTraffic")].len(), 2, "a.jsonl and old.jsonl.gz");
        // The root is an endpoint folder, a variant folder, a day, or the folder of one loose file.
        let g = group_streams([("Shadow-01/2026/03/03/16/a.jsonl".to_string(), 1)], &RootPath::of("dc/ep-a"));
        assert!(g.streams.contains_key(&StreamId::new("ep-a", "Shadow-01")));
        let g = group_streams([("16/a.jsonl".to_string(), 1)], &RootPath::of("dc/ep-b/AllTraffic/2026/03/03"));
        assert!(g.streams.contains_key(&StreamId::new("ep-b", "AllTraffic")));
        let g = group_streams([("a.jsonl".to_string(), 1)], &RootPath::of("tmp/exports"));
        assert_eq!(g.streams[&StreamId::new("exports", "AllTraffic")][0].hour, None);
        let g = group_streams([("2026/03/03/16/a.jsonl".to_string(), 1)], &RootPath::of("v"));
        assert_eq!(g.unknown, vec!["2026/03/03/16/a.jsonl"]);
    }
}
