//! Where capture objects come from: one listing over the [`ObjectStore`] trait, for a local
//! folder and for S3 alike, grouped into streams and hour folders by the core's key layout
//! ([`group_streams`]). `replay` takes every stream below a root; `serve` takes one stream's
//! hour folders from its cursor on. Both read objects in the same order: hour folder, then key.

use std::collections::BTreeMap;
use std::path::Path;

use crate::capture::batch;
use crate::capture::layout::{group_streams, hour_path, stream_prefix, CaptureObject, RootPath, StreamId};
use crate::store::{LocalStore, Location, ObjectStore, StoreError, StoreFactory};
use crate::time::Timestamp;

/// Why capture objects cannot be found or read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The location does not exist.
    #[error("{location}: not found")]
    Missing {
        /// The path or URI.
        location: String,
    },
    /// No `.jsonl` object below the location.
    #[error("{location}: no .jsonl capture files below this location{found}")]
    Empty {
        /// The path or URI.
        location: String,
        /// What was found instead (", found 3 .txt files"), or nothing.
        found: String,
    },
    /// Objects in an hour folder with no `{endpoint}/{variant}` above it, anywhere on their path.
    #[error(
        "{uri}: cannot tell its endpoint and variant ({count} such files): Data Capture writes {{endpoint}}/{{variant}}/yyyy/mm/dd/HH/; keep those two folders above the hour folders"
    )]
    Unplaced {
        /// The first such object.
        uri: String,
        /// How many there are.
        count: usize,
    },
    /// A compressed object does not decompress, or decompresses beyond the bound.
    #[error("{uri}: {detail}")]
    Compressed {
        /// The object.
        uri: String,
        /// What went wrong.
        detail: String,
    },
    /// An object was listed but could not be read any more.
    #[error("{uri}: listed but gone")]
    Gone {
        /// The object.
        uri: String,
    },
    /// A batch transform manifest that cannot be read as one, or an object it names that is
    /// missing.
    #[error("{uri}: {detail}")]
    Batch {
        /// The manifest.
        uri: String,
        /// What is wrong.
        detail: String,
    },
    /// Listing or reading failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Largest decompressed size of one `.jsonl.gz` object: far above what Data Capture writes (a
/// few megabytes), low enough that a file that expands without end (a gzip bomb) is refused
/// before it takes the machine's memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// Whether a key is capture: JSON Lines, or JSON Lines compressed with gzip (as users export).
pub fn is_capture_key(key: &str) -> bool {
    key.ends_with(".jsonl") || key.ends_with(".jsonl.gz")
}

/// Everything below a capture location: the streams, and what was not read and why.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// Each stream's objects in data order.
    pub streams: BTreeMap<StreamId, Vec<CaptureObject>>,
    /// Entries that cannot be read (a link that points nowhere, a folder that cannot be opened):
    /// (path or URI, why).
    pub unreadable: Vec<(String, String)>,
    /// Other files, by suffix (`txt`, `json`, `csv`, none: ``), which are not capture.
    pub other: BTreeMap<String, u64>,
}

/// Capture objects requested ahead of decoding, in key order, by default (`replay
/// --fetch-ahead`, the service per stream): S3 answers a GET in tens of milliseconds whatever
/// the object's size, so one request at a time reads a few dozen small objects a second; 64 in
/// flight hide that latency behind decoding (`scripts/bench --s3-latency` measures 1, 8, 32
/// and 64 behind a 30 ms proxy).
pub const DEFAULT_FETCH_AHEAD: usize = 64;

/// How many of the objects of `sizes` to request ahead: `requested`, fewer when their mean size
/// would keep more than `budget` bytes waiting to be decoded, never fewer than one.
pub fn requests_ahead(requested: usize, budget: u64, sizes: impl ExactSizeIterator<Item = u64>) -> usize {
    let n = sizes.len().max(1) as u64;
    let mean = sizes.sum::<u64>() / n;
    let by_budget = usize::try_from(budget / mean.max(1)).unwrap_or(usize::MAX);
    requested.min(by_budget).max(1)
}

/// Capture objects below a root of a store.
#[derive(Debug, Clone)]
pub struct CaptureSource<S> {
    store: S,
    root: RootPath,
    /// When the location named one object: its key (nothing else is listed).
    only: Option<String>,
    /// The location as the user gave it (for errors).
    location: String,
}

impl<S: ObjectStore> CaptureSource<S> {
    /// Every object below the root of `store`; `root` is where the root is (streams are named
    /// from each object's whole path).
    pub fn new(store: S, root: RootPath, location: impl Into<String>) -> Self {
        CaptureSource { store, root, only: None, location: location.into() }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Every stream below the root, each stream's objects in data order (one listing), and what
    /// was found but is not read. Streams are named by the Data Capture layout of each object's
    /// whole path, wherever the root is; an object in an hour folder with no endpoint and variant
    /// above it is an error naming it.
    pub async fn streams(&self) -> Result<Listed, SourceError> {
        let prefix = self.only.as_deref().unwrap_or("");
        let listed = self.store.list(prefix, None).await?;
        let mut unreadable = Vec::new();
        let mut readable = Vec::new();
        for o in listed.into_iter().filter(|o| self.only.as_ref().is_none_or(|k| &o.key == k)) {
            match o.unreadable {
                Some(why) => unreadable.push((self.store.uri(&o.key), why)),
                None => readable.push((o.key, o.size)),
            }
        }
        let grouped = group_streams(readable, &self.root);
        if let Some(first) = grouped.unknown.first() {
            return Err(SourceError::Unplaced { uri: self.store.uri(first), count: grouped.unknown.len() });
        }
        if grouped.streams.is_empty() {
            let mut found: Vec<String> = grouped
                .other
                .iter()
                .map(|(suffix, n)| match suffix.as_str() {
                    "" => format!("{n} files without a suffix"),
                    s => format!("{n} .{s} files"),
                })
                .collect();
            if !unreadable.is_empty() {
                found.push(format!("{} entries that cannot be read", unreadable.len()));
            }
            let found = if found.is_empty() { String::new() } else { format!(" (found {})", found.join(", ")) };
            return Err(SourceError::Empty { location: self.location.clone(), found });
        }
        Ok(Listed { streams: grouped.streams, unreadable, other: grouped.other })
    }

    /// The variant folders of `endpoint` (its streams, for discovery); a batch transform
    /// capture destination (`input/` and `output/` folders) is the one stream
    /// [`batch::BATCH_VARIANT`].
    pub async fn variants(&self, endpoint: &str) -> Result<Vec<String>, SourceError> {
        let mut variants: Vec<String> = Vec::new();
        for v in self.store.folders(&format!("{endpoint}/")).await? {
            let v = match v.as_str() {
                batch::OUTPUT_FOLDER => continue,
                batch::INPUT_FOLDER => batch::BATCH_VARIANT.to_owned(),
                _ => v,
            };
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        Ok(variants)
    }

    /// The hour folders of one stream (the root is the capture destination) from `from` on, in
    /// order, each with its objects in key order. Objects outside an hour folder are not capture
    /// a live stream can place in time, and are left out.
    pub async fn hour_folders(
        &self,
        stream: &StreamId,
        from: Option<Timestamp>,
    ) -> Result<BTreeMap<Timestamp, Vec<CaptureObject>>, SourceError> {
        let prefix = stream_prefix(stream);
        // Keys of hour `h` start with `{prefix}{h's path}/`, which sorts after the bare path.
        let start_after = from.map(|h| format!("{prefix}{}", hour_path(h)));
        let listed = self.store.list(&prefix, start_after.as_deref()).await?;
        let mut grouped = group_streams(listed.into_iter().map(|o| (o.key, o.size)), &self.root);
        let mut folders: BTreeMap<Timestamp, Vec<CaptureObject>> = BTreeMap::new();
        for o in grouped.streams.remove(stream).unwrap_or_default() {
            match o.hour {
                Some(h) => folders.entry(h).or_default().push(o),
                None => tracing::debug!(key = %o.key, "not in an hour folder; ignored"),
            }
        }
        Ok(folders)
    }

    /// Reads one listed object whole (a `.gz` one decompressed, up to
    /// [`MAX_DECOMPRESSED_BYTES`]).
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, SourceError> {
        let bytes = self.store.get(key).await?.ok_or_else(|| SourceError::Gone { uri: self.store.uri(key) })?;
        if !key.ends_with(".gz") {
            return Ok(bytes);
        }
        gunzip(&bytes).map_err(|detail| SourceError::Compressed { uri: self.store.uri(key), detail })
    }

    /// Opens one listed object as a stream of lines (a local file is read as it is consumed,
    /// never whole; a `.gz` one is decompressed as it is read, up to
    /// [`MAX_DECOMPRESSED_BYTES`]; a broken one fails with an error naming it when read).
    pub async fn open(&self, key: &str) -> Result<Box<dyn std::io::BufRead + Send>, SourceError> {
        let reader = self.store.reader(key).await?.ok_or_else(|| SourceError::Gone { uri: self.store.uri(key) })?;
        const BUFFER: usize = 256 << 10;
        Ok(if key.ends_with(".gz") {
            let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(BUFFER, reader));
            Box::new(std::io::BufReader::with_capacity(BUFFER, Bounded { inner: gz, left: MAX_DECOMPRESSED_BYTES }))
        } else {
            Box::new(std::io::BufReader::with_capacity(BUFFER, reader))
        })
    }

    /// Where `key` is (a path or an `s3://` URI).
    pub fn uri(&self, key: &str) -> String {
        self.store.uri(key)
    }

    /// Whether the capture is remote (`s3://`): each object read is a request with its own
    /// latency, worth requesting ahead of decoding.
    pub fn is_remote(&self) -> bool {
        self.store.uri("").starts_with("s3://")
    }

    /// Reads one listed capture object whole: a batch transform input manifest as the capture
    /// records of the objects it names (opened through `linked`), anything else as it is.
    pub async fn read_object(&self, key: &str, linked: &dyn StoreFactory<S>) -> Result<Vec<u8>, SourceError> {
        if self.is_batch_key(key) {
            self.read_batch(key, linked).await
        } else {
            self.read(key).await
        }
    }

    /// Opens one listed capture object as a stream of lines ([`CaptureSource::open`]); a batch
    /// transform input manifest is read whole as the capture records of the objects it names.
    pub async fn open_object(
        &self,
        key: &str,
        linked: &dyn StoreFactory<S>,
    ) -> Result<Box<dyn std::io::BufRead + Send>, SourceError> {
        if self.is_batch_key(key) {
            Ok(Box::new(std::io::Cursor::new(self.read_batch(key, linked).await?)))
        } else {
            self.open(key).await
        }
    }

    /// Whether `key` is in the input folder of a batch transform capture destination (read with
    /// [`CaptureSource::read_batch`]).
    fn is_batch_key(&self, key: &str) -> bool {
        matches!(
            crate::capture::layout::place(&self.root, key),
            crate::capture::layout::Placed::Stream(s, _) if s.variant == batch::INPUT_FOLDER
        )
    }

    /// Reads one input manifest of a batch transform stream (see [`batch`]) as capture records:
    /// the objects it names, each paired with its output object from the output manifests of the
    /// same hour folder, opened through `linked` (they live wherever the job read and wrote
    /// them: other prefixes, other buckets). Everything is stamped with the folder's hour. The
    /// records of one manifest are held at once, up to [`MAX_DECOMPRESSED_BYTES`].
    pub async fn read_batch(&self, key: &str, linked: &dyn StoreFactory<S>) -> Result<Vec<u8>, SourceError> {
        let uri = self.store.uri(key);
        let bad = |detail: String| SourceError::Batch { uri: uri.clone(), detail };
        let text = self.read_text(key).await?;
        if !batch::looks_like_manifest(text.as_bytes()) {
            // Capture records in an `input/` folder: read as they are.
            return Ok(text.into_bytes());
        }
        let inputs = batch::manifest_objects(&text).map_err(|e| bad(e.to_string()))?;
        let hour = crate::capture::layout::split_key(key)
            .hour
            .ok_or_else(|| bad("not in an hour folder (input/yyyy/mm/dd/hh/)".into()))?;
        let mut outputs = Vec::new();
        if let Some(folder) = batch::output_folder_of(key) {
            for o in self.store.list(&folder, None).await? {
                let text = self.read_text(&o.key).await?;
                let objects = batch::manifest_objects(&text)
                    .map_err(|e| SourceError::Batch { uri: self.store.uri(&o.key), detail: e.to_string() })?;
                outputs.extend(objects);
            }
        }
        let pairs = batch::pair_outputs(&inputs, &outputs);
        let mut records = String::new();
        let (mut unpaired, mut extra) = (0u64, 0u64);
        for (input, output) in inputs.iter().zip(pairs) {
            let input_text = fetch_linked(input, linked).await.map_err(&bad)?;
            let output_text = match &output {
                Some(o) => Some(fetch_linked(o, linked).await.map_err(&bad)?),
                None => {
                    unpaired += 1;
                    None
                }
            };
            let c = batch::transcode(&input_text, output_text.as_deref(), input, hour, &mut records);
            extra += c.extra_outputs;
            if records.len() as u64 > MAX_DECOMPRESSED_BYTES {
                return Err(bad(format!("names more than {MAX_DECOMPRESSED_BYTES} bytes of records; refused")));
            }
        }
        if unpaired > 0 {
            tracing::warn!(manifest = %uri, objects = unpaired, "batch input objects without an output object: their records have no response");
        }
        if extra > 0 {
            tracing::warn!(manifest = %uri, lines = extra, "batch output lines beyond their input's lines: left out");
        }
        Ok(records.into_bytes())
    }

    async fn read_text(&self, key: &str) -> Result<String, SourceError> {
        let bytes = self.read(key).await?;
        String::from_utf8(bytes)
            .map_err(|_| SourceError::Batch { uri: self.store.uri(key), detail: "not UTF-8".into() })
    }
}

/// Reads an object a batch manifest names (`s3://bucket/key` or a local path) as text.
async fn fetch_linked<S: ObjectStore>(uri: &str, linked: &dyn StoreFactory<S>) -> Result<String, String> {
    let (dir, name) = crate::store::split_object_uri(uri);
    let store = linked.open(&dir).map_err(|e| format!("{uri}: {e}"))?;
    let bytes = store
        .get(&name)
        .await
        .map_err(|e| format!("{uri}: {e}"))?
        .ok_or_else(|| format!("{uri}: named by the manifest but not found"))?;
    String::from_utf8(bytes).map_err(|_| format!("{uri}: not UTF-8 text"))
}

/// A decompressed stream that stops with an error past [`MAX_DECOMPRESSED_BYTES`] (a gzip bomb
/// is refused, not read on).
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!("decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes; refused"))
        })?;
        Ok(n)
    }
}

/// Decompresses a gzip object (several members, as `cat a.gz b.gz` makes, read as one), up to
/// [`MAX_DECOMPRESSED_BYTES`].
fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut out = Vec::with_capacity(bytes.len() * 4);
    let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(MAX_DECOMPRESSED_BYTES + 1);
    reader.read_to_end(&mut out).map_err(|e| format!("not a gzip file that decompresses: {e}"))?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(format!("decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes; refused"));
    }
    Ok(out)
}

/// Ground truth below a prefix, in Model Monitor's layout: `yyyy/mm/dd/hh/*.jsonl` by the hour
/// the labels were collected.
#[derive(Debug, Clone)]
pub struct GroundTruthSource<S> {
    store: S,
}

impl<S: ObjectStore> GroundTruthSource<S> {
    /// The ground truth at the root of `store`.
    pub fn new(store: S) -> Self {
        GroundTruthSource { store }
    }

    /// The hour folders from `from` on, in order, each with its `.jsonl` objects in key order.
    /// Objects outside an hour folder cannot be placed in time by a live service and are left
    /// out (with a debug log).
    pub async fn hour_folders(&self, from: Option<Timestamp>) -> Result<BTreeMap<Timestamp, Vec<String>>, SourceError> {
        // Keys of hour `h` start with `{h's path}/`, which sorts after the bare path.
        let start_after = from.map(hour_path);
        let listed = self.store.list("", start_after.as_deref()).await?;
        let mut folders: BTreeMap<Timestamp, Vec<String>> = BTreeMap::new();
        for o in listed.into_iter().filter(|o| o.key.ends_with(".jsonl")) {
            match crate::quality::ground_truth::collection_hour(&o.key).filter(|_| o.key.split('/').count() == 5) {
                Some(h) => folders.entry(h).or_default().push(o.key),
                None => tracing::debug!(key = %o.key, "ground truth outside an hour folder; ignored"),
            }
        }
        Ok(folders)
    }

    /// Reads one listed object into its labels (collected in its hour folder).
    pub async fn read(&self, key: &str) -> Result<crate::quality::ground_truth::LabelFile, SourceError> {
        let bytes = self.store.get(key).await?.ok_or_else(|| SourceError::Gone { uri: self.store.uri(key) })?;
        Ok(crate::quality::ground_truth::LabelFile::read(
            &self.store.uri(key),
            crate::quality::ground_truth::collection_hour(key),
            &String::from_utf8_lossy(&bytes),
        ))
    }

    /// Where `key` is.
    pub fn uri(&self, key: &str) -> String {
        self.store.uri(key)
    }
}

/// Opens the capture location `uri`: a local folder or file, or `s3://bucket/prefix/` (a key
/// ending in `.jsonl` names one object). The root names come from the location's last two
/// segments (for S3 the bucket counts as one).
pub fn open<S: ObjectStore>(uri: &str, factory: &dyn StoreFactory<S>) -> Result<CaptureSource<S>, SourceError> {
    match Location::parse(uri) {
        Location::Local(path) => open_local(&path, factory),
        Location::S3 { bucket, prefix } => {
            let trimmed = prefix.trim_end_matches('/');
            let one_object = is_capture_key(trimmed) && !uri.ends_with('/');
            let mut segments: Vec<&str> =
                std::iter::once(bucket.as_str()).chain(trimmed.split('/').filter(|s| !s.is_empty())).collect();
            let only = if one_object { segments.pop().map(str::to_owned) } else { None };
            let dir_prefix = segments[1..].iter().map(|s| format!("{s}/")).collect::<String>();
            let root = RootPath { segments: segments.iter().map(|s| (*s).to_owned()).collect() };
            let store = factory.open(&Location::S3 { bucket: bucket.clone(), prefix: dir_prefix })?;
            Ok(CaptureSource { store, root, only, location: uri.to_owned() })
        }
    }
}

fn open_local<S: ObjectStore>(path: &Path, factory: &dyn StoreFactory<S>) -> Result<CaptureSource<S>, SourceError> {
    let location = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|_| SourceError::Missing { location: location.clone() })?;
    let canonical = std::fs::canonicalize(path).map_err(|source| StoreError::Io { path: location.clone(), source })?;
    let (dir, only) = if meta.is_file() {
        let name = canonical.file_name().and_then(|n| n.to_str()).map(str::to_owned);
        (canonical.parent().map(Path::to_path_buf).unwrap_or_else(|| canonical.clone()), name)
    } else {
        (canonical.clone(), None)
    };
    let root = RootPath {
        segments: dir
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect(),
    };
    let store = factory.open(&Location::Local(dir))?;
    Ok(CaptureSource { store, root, only, location })
}

/// Opens a local capture location with the local store (no factory needed).
pub fn open_local_folder(path: &Path) -> Result<CaptureSource<LocalStore>, SourceError> {
    open_local(path, &|loc: &Location| match loc {
        Location::Local(p) => Ok(LocalStore::new(p.clone())),
        Location::S3 { bucket, .. } => {
            Err(StoreError::Remote { uri: format!("s3://{bucket}/"), detail: "not a local folder".into() })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_objects_get_fewer_requests_ahead() {
        // 20 KB objects: as many as asked; 16 MB objects within 64 MiB: four; one larger than
        // the budget: one; no object: as asked (nothing to fetch).
        assert_eq!(requests_ahead(64, 64 << 20, [20_000u64; 100].into_iter()), 64);
        assert_eq!(requests_ahead(64, 64 << 20, [16u64 << 20; 10].into_iter()), 4);
        assert_eq!(requests_ahead(64, 64 << 20, [1u64 << 30].into_iter()), 1);
        assert_eq!(requests_ahead(8, 64 << 20, std::iter::empty::<u64>()), 8);
    }
    use crate::store::{AnyStore, MemoryStore};

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}\n").unwrap();
    }

    fn keys(objects: &[CaptureObject]) -> Vec<&str> {
        objects.iter().map(|o| o.key.as_str()).collect()
    }

    #[tokio::test]
    async fn local_root_endpoint_variant_and_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("datacapture");
        touch(&root, "ep-a/AllTraffic/2026/03/03/17/b.jsonl");
        touch(&root, "ep-a/AllTraffic/2026/03/03/16/z.jsonl");
        touch(&root, "ep-a/Shadow-01/2026/03/03/16/a.jsonl");
        touch(&root, "ep-b/AllTraffic/2026/03/03/16/a.jsonl");
        touch(&root, "ep-b/AllTraffic/2026/03/03/16/a.jsonl.bak");
        touch(&root, "ep-b/AllTraffic/2026/03/03/16/notes.txt");
        let s = open_local_folder(&root).unwrap().streams().await.unwrap().streams;
        let ids: Vec<String> = s.keys().map(ToString::to_string).collect();
        assert_eq!(ids, vec!["ep-a/AllTraffic", "ep-a/Shadow-01", "ep-b/AllTraffic"]);
        assert_eq!(
            keys(&s[&StreamId::new("ep-a", "AllTraffic")]),
            vec!["ep-a/AllTraffic/2026/03/03/16/z.jsonl", "ep-a/AllTraffic/2026/03/03/17/b.jsonl"]
        );
        let ep = open_local_folder(&root.join("ep-a")).unwrap().streams().await.unwrap().streams;
        assert!(ep.contains_key(&StreamId::new("ep-a", "Shadow-01")));
        let var = open_local_folder(&root.join("ep-b/AllTraffic")).unwrap().streams().await.unwrap().streams;
        assert_eq!(var.keys().next().unwrap(), &StreamId::new("ep-b", "AllTraffic"));
        let file = open_local_folder(&root.join("ep-b/AllTraffic/2026/03/03/16/a.jsonl")).unwrap();
        let s = file.streams().await.unwrap().streams;
        assert_eq!(s.values().map(Vec::len).sum::<usize>(), 1, "only the named file: {s:?}");
        assert_eq!(file.read("a.jsonl").await.unwrap(), b"{}\n");
    }

    #[tokio::test]
    async fn errors_name_the_location() {
        let tmp = tempfile::tempdir().unwrap();
        let err = open_local_folder(&tmp.path().join("nope")).unwrap_err();
        assert!(matches!(err, SourceError::Missing { .. }), "{err}");
        touch(tmp.path(), "x/readme.md");
        let err = open_local_folder(tmp.path()).unwrap().streams().await.unwrap_err();
        assert!(err.to_string().contains("no .jsonl capture files"), "{err}");
        assert!(err.to_string().contains(&tmp.path().display().to_string()), "{err}");
        let src = open_local_folder(tmp.path()).unwrap();
        let err = src.read("x/gone.jsonl").await.unwrap_err();
        assert!(err.to_string().ends_with("gone.jsonl: listed but gone"), "{err}");
    }

    /// The S3 shapes of a location, through a memory store standing in for the bucket.
    #[tokio::test]
    async fn s3_locations_name_streams_like_folders() {
        let bucket = MemoryStore::default();
        for k in [
            "datacapture/ep-a/AllTraffic/2026/03/03/16/a.jsonl",
            "datacapture/ep-a/AllTraffic/2026/03/03/17/b.jsonl",
            "datacapture/ep-b/Shadow/2026/03/03/16/c.jsonl",
        ] {
            bucket.put(k, b"{}\n".to_vec()).await.unwrap();
        }
        // A memory store below a prefix: what S3Store does with its prefix.
        let factory = |loc: &Location| -> Result<AnyStore, StoreError> {
            match loc {
                Location::S3 { prefix, .. } => Ok(AnyStore::Memory(bucket.below(prefix))),
                Location::Local(_) => unreachable!(),
            }
        };
        let ids = |uri: &str| {
            let src = open(uri, &factory).unwrap();
            async move { src.streams().await.unwrap().streams.keys().map(ToString::to_string).collect::<Vec<_>>() }
        };
        assert_eq!(ids("s3://b/datacapture/").await, vec!["ep-a/AllTraffic", "ep-b/Shadow"]);
        assert_eq!(ids("s3://b/datacapture/ep-a").await, vec!["ep-a/AllTraffic"]);
        assert_eq!(ids("s3://b/datacapture/ep-a/AllTraffic/").await, vec!["ep-a/AllTraffic"]);
        // One object, however deep: named from the layout above it.
        assert_eq!(ids("s3://b/datacapture/ep-b/Shadow/2026/03/03/16/c.jsonl").await, vec!["ep-b/Shadow"]);
        assert_eq!(ids("s3://b/datacapture/ep-a/AllTraffic/2026/").await, vec!["ep-a/AllTraffic"]);
        // Hour folders at the top of a bucket: no endpoint or variant above them.
        bucket.put("2026/03/03/16/d.jsonl", b"{}\n".to_vec()).await.unwrap();
        let err = open("s3://b/", &factory).unwrap().streams().await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("memory://2026/03/03/16/d.jsonl: cannot tell its endpoint and variant (1 such files)"),
            "{err}"
        );
        let err = open("s3://b/elsewhere/", &factory).unwrap().streams().await.unwrap_err();
        assert_eq!(err.to_string(), "s3://b/elsewhere/: no .jsonl capture files below this location");

        let dest = open("s3://b/datacapture/", &factory).unwrap();
        let a = StreamId::new("ep-a", "AllTraffic");
        let all = dest.hour_folders(&a, None).await.unwrap();
        assert_eq!(all.len(), 2);
        let h16 = *all.keys().next().unwrap();
        let later = dest.hour_folders(&a, Some(h16 + crate::time::Duration::from_hours(1))).await.unwrap();
        assert_eq!(
            later.values().flatten().map(|o| o.key.as_str()).collect::<Vec<_>>(),
            vec!["ep-a/AllTraffic/2026/03/03/17/b.jsonl"]
        );
        assert_eq!(dest.variants("ep-b").await.unwrap(), vec!["Shadow"]);
    }
}
