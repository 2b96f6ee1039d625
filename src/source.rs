//! Where capture objects come from: one listing over the [`ObjectStore`] trait, for a local
//! folder and for S3 alike, grouped into streams and hour folders by the core's key layout
//! ([`group_streams`]). `replay` takes every stream below a root; `serve` takes one stream's
//! hour folders from its cursor on. Both read objects in the same order: hour folder, then key.

use std::collections::BTreeMap;
use std::path::Path;

use crate::capture::layout::{group_streams, hour_path, CaptureObject, RootNames, StreamId};
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
    #[error("{location}: no .jsonl capture files below this location")]
    Empty {
        /// The path or URI.
        location: String,
    },
    /// An object was listed but could not be read any more.
    #[error("{uri}: listed but gone")]
    Gone {
        /// The object.
        uri: String,
    },
    /// Listing or reading failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Capture objects below a root of a store.
#[derive(Debug, Clone)]
pub struct CaptureSource<S> {
    store: S,
    root: RootNames,
    /// When the location named one object: its key (nothing else is listed).
    only: Option<String>,
    /// The location as the user gave it (for errors).
    location: String,
}

impl<S: ObjectStore> CaptureSource<S> {
    /// Every object below the root of `store`, streams named after `root` where the keys do not
    /// name them.
    pub fn new(store: S, root: RootNames, location: impl Into<String>) -> Self {
        CaptureSource { store, root, only: None, location: location.into() }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Every stream below the root, each stream's objects in data order (one listing).
    pub async fn streams(&self) -> Result<BTreeMap<StreamId, Vec<CaptureObject>>, SourceError> {
        let prefix = self.only.as_deref().unwrap_or("");
        let listed = self.store.list(prefix, None).await?;
        let listed = listed.into_iter().filter(|o| self.only.as_ref().is_none_or(|k| &o.key == k));
        let streams = group_streams(listed.map(|o| (o.key, o.size)), &self.root);
        if streams.is_empty() {
            return Err(SourceError::Empty { location: self.location.clone() });
        }
        Ok(streams)
    }

    /// The variant folders of `endpoint` (its streams, for discovery).
    pub async fn variants(&self, endpoint: &str) -> Result<Vec<String>, SourceError> {
        Ok(self.store.folders(&format!("{endpoint}/")).await?)
    }

    /// The hour folders of one stream (the root is the capture destination) from `from` on, in
    /// order, each with its objects in key order. Objects outside an hour folder are not capture
    /// a live stream can place in time, and are left out.
    pub async fn hour_folders(
        &self,
        stream: &StreamId,
        from: Option<Timestamp>,
    ) -> Result<BTreeMap<Timestamp, Vec<CaptureObject>>, SourceError> {
        let prefix = format!("{}/{}/", stream.endpoint, stream.variant);
        // Keys of hour `h` start with `{prefix}{h's path}/`, which sorts after the bare path.
        let start_after = from.map(|h| format!("{prefix}{}", hour_path(h)));
        let listed = self.store.list(&prefix, start_after.as_deref()).await?;
        let mut streams = group_streams(listed.into_iter().map(|o| (o.key, o.size)), &self.root);
        let mut folders: BTreeMap<Timestamp, Vec<CaptureObject>> = BTreeMap::new();
        for o in streams.remove(stream).unwrap_or_default() {
            match o.hour {
                Some(h) => folders.entry(h).or_default().push(o),
                None => tracing::debug!(key = %o.key, "not in an hour folder; ignored"),
            }
        }
        Ok(folders)
    }

    /// Reads one listed object whole.
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, SourceError> {
        self.store.get(key).await?.ok_or_else(|| SourceError::Gone { uri: self.store.uri(key) })
    }

    /// Where `key` is (a path or an `s3://` URI).
    pub fn uri(&self, key: &str) -> String {
        self.store.uri(key)
    }
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
            let one_object = trimmed.ends_with(".jsonl") && !uri.ends_with('/');
            let mut segments: Vec<&str> =
                std::iter::once(bucket.as_str()).chain(trimmed.split('/').filter(|s| !s.is_empty())).collect();
            let only = if one_object { segments.pop().map(str::to_owned) } else { None };
            let dir_prefix = segments[1..].iter().map(|s| format!("{s}/")).collect::<String>();
            let name = |i: usize| segments.len().checked_sub(i).map_or("capture", |j| segments[j]).to_owned();
            let root = RootNames { name: name(1), parent: name(2) };
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
    let name_of =
        |p: Option<&Path>| p.and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or("capture").to_owned();
    let root = RootNames { name: name_of(Some(&dir)), parent: name_of(dir.parent()) };
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
        let s = open_local_folder(&root).unwrap().streams().await.unwrap();
        let ids: Vec<String> = s.keys().map(ToString::to_string).collect();
        assert_eq!(ids, vec!["ep-a/AllTraffic", "ep-a/Shadow-01", "ep-b/AllTraffic"]);
        assert_eq!(
            keys(&s[&StreamId::new("ep-a", "AllTraffic")]),
            vec!["ep-a/AllTraffic/2026/03/03/16/z.jsonl", "ep-a/AllTraffic/2026/03/03/17/b.jsonl"]
        );
        let ep = open_local_folder(&root.join("ep-a")).unwrap().streams().await.unwrap();
        assert!(ep.contains_key(&StreamId::new("ep-a", "Shadow-01")));
        let var = open_local_folder(&root.join("ep-b/AllTraffic")).unwrap().streams().await.unwrap();
        assert_eq!(var.keys().next().unwrap(), &StreamId::new("ep-b", "AllTraffic"));
        let file = open_local_folder(&root.join("ep-b/AllTraffic/2026/03/03/16/a.jsonl")).unwrap();
        let s = file.streams().await.unwrap();
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
            async move { src.streams().await.unwrap().keys().map(ToString::to_string).collect::<Vec<_>>() }
        };
        assert_eq!(ids("s3://b/datacapture/").await, vec!["ep-a/AllTraffic", "ep-b/Shadow"]);
        assert_eq!(ids("s3://b/datacapture/ep-a").await, vec!["ep-a/AllTraffic"]);
        assert_eq!(ids("s3://b/datacapture/ep-a/AllTraffic/").await, vec!["ep-a/AllTraffic"]);
        assert_eq!(ids("s3://b/datacapture/ep-b/Shadow/2026/03/03/16/c.jsonl").await, vec!["16/AllTraffic"]);
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
