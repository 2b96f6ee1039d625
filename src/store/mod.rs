//! Object stores: where capture objects are read from and where reports and checkpoints go.
//!
//! One small trait, three implementations: a local folder, memory (tests), and S3 (`s3.rs`,
//! with the `aws` feature). Locations are URIs: `s3://bucket/prefix/` or a local folder.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(any(test, feature = "testing"))]
use std::sync::{Arc, Mutex};

pub mod baseline;
#[cfg(feature = "aws")]
pub mod s3;

pub use self::baseline::{read_baseline, read_baseline_files, write_baseline};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A local file system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A remote store error.
    #[error("{uri}: {detail}")]
    Remote {
        /// The object or prefix.
        uri: String,
        /// What went wrong.
        detail: String,
    },
    /// A conditional write found the object changed (or present) since it was read: another
    /// writer got there first.
    #[error("{uri}: changed by another writer (conditional write refused)")]
    Conflict {
        /// The object.
        uri: String,
    },
}

/// The condition of a fenced write ([`ObjectStore::put_if`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteIf<'a> {
    /// Only if there is no object under the key (S3 `If-None-Match: *`).
    Absent,
    /// Only if the object is still the version with this tag (S3 `If-Match: <ETag>`).
    Matches(&'a str),
}

impl WriteIf<'_> {
    /// Whether the condition holds for an object whose current tag is `current` (`None`: no
    /// object).
    pub fn holds(self, current: Option<&str>) -> bool {
        match self {
            WriteIf::Absent => current.is_none(),
            WriteIf::Matches(tag) => current == Some(tag),
        }
    }
}

/// The version tag of `bytes` in stores that have no ETag of their own.
fn content_tag(bytes: &[u8]) -> String {
    format!("{:016x}", crate::profile::hll::hash_bytes(bytes))
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store's root, `/`-separated.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Why the entry cannot be read, when the listing already knows (a local link that points
    /// nowhere, a folder that cannot be opened): listed so that it is counted and named, not
    /// lost. Never set by S3.
    pub unreadable: Option<String>,
}

impl ObjectInfo {
    /// A readable object.
    pub fn new(key: impl Into<String>, size: u64) -> Self {
        ObjectInfo { key: key.into(), size, unreadable: None }
    }
}

/// A place for objects named by `/`-separated keys below a root.
pub trait ObjectStore: Send + Sync {
    /// Writes `bytes` under `key`, replacing what was there. Readers never see a partial object
    /// (temp file and rename locally; one PutObject on S3).
    fn put(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Returns the object under `key`, or `None` when there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Returns the object under `key` with its version tag (S3's ETag), for a later
    /// [`ObjectStore::put_if`]. By default the tag is a hash of the content.
    fn get_tagged(&self, key: &str) -> impl Future<Output = Result<Option<(Vec<u8>, String)>, StoreError>> + Send {
        async move {
            Ok(self.get(key).await?.map(|b| {
                let tag = content_tag(&b);
                (b, tag)
            }))
        }
    }

    /// Writes `bytes` under `key` only if `cond` holds, atomically with the check on S3 and in
    /// memory; returns the new version tag, or [`StoreError::Conflict`]. By default (a local
    /// folder) it reads, compares and writes: fenced against other writers in the same process
    /// only, so several workers need an S3 state store.
    fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        cond: WriteIf<'_>,
    ) -> impl Future<Output = Result<String, StoreError>> + Send {
        async move {
            let current = self.get_tagged(key).await?.map(|(_, t)| t);
            if !cond.holds(current.as_deref()) {
                return Err(StoreError::Conflict { uri: self.uri(key) });
            }
            let tag = content_tag(&bytes);
            self.put(key, bytes).await?;
            Ok(tag)
        }
    }

    /// Lists every object whose key starts with `prefix` and sorts after `start_after` (when
    /// given), in key order, following pagination to the end.
    fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, StoreError>> + Send;

    /// Returns the names of the folders directly below `prefix` (empty, or ending with `/`), in
    /// order: the first path segment of every key below it that has one more `/`. One S3 listing
    /// with a delimiter, however many objects the folders hold.
    fn folders(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Returns a human-readable location of `key` (a path or an `s3://` URI).
    fn uri(&self, key: &str) -> String;

    /// Opens `key` to be read as a stream of bytes, or `None` when there is no such object. A
    /// local file is read as it is consumed (never whole); other stores fetch the object and
    /// hand it over.
    fn reader(&self, key: &str) -> impl Future<Output = Result<Option<ObjectReader>, StoreError>> + Send {
        async move { Ok(self.get(key).await?.map(|b| Box::new(std::io::Cursor::new(b)) as ObjectReader)) }
    }
}

/// An object being read.
pub type ObjectReader = Box<dyn std::io::Read + Send>;

/// The folder names below `prefix` among `keys` (for stores that list everything anyway).
#[cfg(any(test, feature = "testing"))]
fn folders_of<'a>(keys: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = keys
        .filter_map(|k| k.strip_prefix(prefix)?.split_once('/').map(|(f, _)| f))
        .filter(|f| !f.is_empty())
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

/// Objects as files below a folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Uses `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    /// Returns the path of `key`.
    pub fn path(&self, key: &str) -> PathBuf {
        key.split('/').filter(|p| !p.is_empty()).fold(self.root.clone(), |p, c| p.join(c))
    }

    /// Writes `bytes` under `key` atomically, synchronously (for the replay driver).
    pub fn put_sync(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomic(&self.path(key), bytes)
    }

    /// Reads `key`, synchronously.
    pub fn get_sync(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path: path.display().to_string(), source }),
        }
    }

    fn list_sync(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        // Only the folder the prefix is in can hold matching keys.
        let dir = prefix.rsplit_once('/').map(|(d, _)| self.path(d)).unwrap_or_else(|| self.root.clone());
        let mut seen = std::collections::BTreeSet::new();
        if let Ok(c) = std::fs::canonicalize(&self.root) {
            seen.insert(c);
        }
        walk(&self.root, &dir, &mut seen, &mut out)?;
        out.retain(|o| o.key.starts_with(prefix) && start_after.is_none_or(|s| o.key.as_str() > s));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// Lists the files below `dir` (keys relative to `root`), following links to folders and files
/// (a folder reached twice, through a link loop or two links, is walked once). A link that
/// points nowhere and a folder that cannot be read are listed as unreadable, so the caller
/// counts and names them; only `dir` itself failing to open is an error.
fn walk(
    root: &Path,
    dir: &Path,
    seen: &mut std::collections::BTreeSet<PathBuf>,
    out: &mut Vec<ObjectInfo>,
) -> Result<(), StoreError> {
    let io = |p: &Path, source| StoreError::Io { path: p.display().to_string(), source };
    let key_of = |path: &Path| {
        let rel = path.strip_prefix(root).unwrap_or(path);
        rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        let unreadable = |reason: String| ObjectInfo { key: key_of(&path), size: 0, unreadable: Some(reason) };
        // Follow links: a linked folder is walked, a linked file listed.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                out.push(unreadable(format!("cannot be read ({e}); a link that points nowhere?")));
                continue;
            }
        };
        if meta.is_dir() {
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(canonical) {
                continue; // walked already: a link loop, or a second link to the same folder
            }
            if let Err(e) = walk(root, &path, seen, out) {
                out.push(unreadable(format!("folder cannot be read: {e}")));
            }
        } else {
            out.push(ObjectInfo::new(key_of(&path), meta.len()));
        }
    }
    Ok(())
}

impl ObjectStore for LocalStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.put_sync(key, &bytes)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_sync(key)
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        self.list_sync(prefix, start_after)
    }

    async fn folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.path(prefix);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(source) => return Err(StoreError::Io { path: dir.display().to_string(), source }),
        };
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| !n.starts_with('.'))
            .collect();
        out.sort();
        Ok(out)
    }

    fn uri(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    async fn reader(&self, key: &str) -> Result<Option<ObjectReader>, StoreError> {
        let path = self.path(key);
        match std::fs::File::open(&path) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path: path.display().to_string(), source }),
        }
    }
}

/// Objects in memory (tests; the `testing` feature). Clones share their contents; [`MemoryStore::below`] gives a view
/// of the keys under a prefix, as an S3 store with a prefix sees its bucket.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    objects: Arc<Mutex<std::collections::BTreeMap<String, Vec<u8>>>>,
    /// Prepended to every key (empty, or ending with `/`).
    prefix: String,
}

#[cfg(any(test, feature = "testing"))]
impl MemoryStore {
    /// Returns every key below this view, in order.
    pub fn keys(&self) -> Vec<String> {
        self.objects
            .lock()
            .map(|m| m.keys().filter_map(|k| k.strip_prefix(&self.prefix)).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// A view of the objects under `prefix` (sharing them), keys relative to it.
    pub fn below(&self, prefix: &str) -> MemoryStore {
        MemoryStore { objects: self.objects.clone(), prefix: format!("{}{prefix}", self.prefix) }
    }

    fn lock(
        &self,
        key: &str,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Vec<u8>>>, StoreError> {
        self.objects.lock().map_err(|_| StoreError::Remote { uri: self.uri(key), detail: "poisoned".into() })
    }
}

#[cfg(any(test, feature = "testing"))]
impl ObjectStore for MemoryStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.lock(key)?.insert(format!("{}{key}", self.prefix), bytes);
        Ok(())
    }

    async fn put_if(&self, key: &str, bytes: Vec<u8>, cond: WriteIf<'_>) -> Result<String, StoreError> {
        let mut m = self.lock(key)?;
        let full = format!("{}{key}", self.prefix);
        let current = m.get(&full).map(|b| content_tag(b));
        if !cond.holds(current.as_deref()) {
            return Err(StoreError::Conflict { uri: self.uri(key) });
        }
        let tag = content_tag(&bytes);
        m.insert(full, bytes);
        Ok(tag)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock(key)?.get(&format!("{}{key}", self.prefix)).cloned())
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        let m = self.lock(prefix)?;
        Ok(m.iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&self.prefix)?, v)))
            .filter(|(k, _)| k.starts_with(prefix) && start_after.is_none_or(|s| *k > s))
            .map(|(k, v)| ObjectInfo::new(k, v.len() as u64))
            .collect())
    }

    async fn folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let m = self.lock(prefix)?;
        Ok(folders_of(m.keys().filter_map(|k| k.strip_prefix(&self.prefix)), prefix))
    }

    fn uri(&self, key: &str) -> String {
        format!("memory://{}{key}", self.prefix)
    }
}

/// Opens the store of a location (S3 needs clients the caller owns).
pub trait StoreFactory<S>: Send + Sync {
    /// Returns a store for `location`.
    fn open(&self, location: &Location) -> Result<S, StoreError>;
}

impl<S, F: Fn(&Location) -> Result<S, StoreError> + Send + Sync> StoreFactory<S> for F {
    fn open(&self, location: &Location) -> Result<S, StoreError> {
        self(location)
    }
}

/// Splits an object URI (`s3://bucket/dir/file` or a path) into its folder and file name.
pub fn split_object_uri(uri: &str) -> (Location, String) {
    let trimmed = uri.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((dir, file)) => (Location::parse(&format!("{dir}/")), file.to_owned()),
        None => (Location::parse("."), trimmed.to_owned()),
    }
}

/// A store chosen at run time from a location.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// A local folder.
    Local(LocalStore),
    /// Memory (tests).
    #[cfg(any(test, feature = "testing"))]
    Memory(MemoryStore),
    /// S3.
    #[cfg(feature = "aws")]
    S3(s3::S3Store),
}

impl AnyStore {
    /// Opens a local location; an `s3://` one is an error saying this build has no S3 (the
    /// store factory of a build without the `aws` feature).
    pub fn open_local(location: &Location) -> Result<AnyStore, StoreError> {
        match location {
            Location::Local(p) => Ok(AnyStore::Local(LocalStore::new(p.clone()))),
            Location::S3 { bucket, prefix } => Err(StoreError::Remote {
                uri: format!("s3://{bucket}/{prefix}"),
                detail: "this build reads local folders only (rebuild with the default `aws` feature for s3://)".into(),
            }),
        }
    }

    /// Opens a location; S3 locations need a client.
    #[cfg(feature = "aws")]
    pub fn open(location: &Location, s3: Option<&aws_sdk_s3::Client>) -> Result<AnyStore, StoreError> {
        match location {
            Location::Local(p) => Ok(AnyStore::Local(LocalStore::new(p.clone()))),
            Location::S3 { bucket, prefix } => match s3 {
                Some(c) => Ok(AnyStore::S3(s3::S3Store::new(c.clone(), bucket.clone(), prefix.clone()))),
                None => {
                    Err(StoreError::Remote { uri: format!("s3://{bucket}/{prefix}"), detail: "no S3 client".into() })
                }
            },
        }
    }
}

impl ObjectStore for AnyStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        match self {
            AnyStore::Local(s) => s.put(key, bytes).await,
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.put(key, bytes).await,
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.put(key, bytes).await,
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            AnyStore::Local(s) => s.get(key).await,
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.get(key).await,
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.get(key).await,
        }
    }

    async fn get_tagged(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        match self {
            AnyStore::Local(s) => s.get_tagged(key).await,
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.get_tagged(key).await,
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.get_tagged(key).await,
        }
    }

    async fn put_if(&self, key: &str, bytes: Vec<u8>, cond: WriteIf<'_>) -> Result<String, StoreError> {
        match self {
            AnyStore::Local(s) => s.put_if(key, bytes, cond).await,
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.put_if(key, bytes, cond).await,
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.put_if(key, bytes, cond).await,
        }
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        match self {
            AnyStore::Local(s) => s.list(prefix, start_after).await,
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.list(prefix, start_after).await,
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.list(prefix, start_after).await,
        }
    }

    async fn folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            AnyStore::Local(s) => s.folders(prefix).await,
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.folders(prefix).await,
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.folders(prefix).await,
        }
    }

    fn uri(&self, key: &str) -> String {
        match self {
            AnyStore::Local(s) => s.uri(key),
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.uri(key),
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.uri(key),
        }
    }

    async fn reader(&self, key: &str) -> Result<Option<ObjectReader>, StoreError> {
        match self {
            AnyStore::Local(s) => s.reader(key).await,
            #[cfg(any(test, feature = "testing"))]
            AnyStore::Memory(s) => s.reader(key).await,
            #[cfg(feature = "aws")]
            AnyStore::S3(s) => s.reader(key).await,
        }
    }
}

/// Writes a file atomically: a temporary file beside it, fsync, rename, fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |p: &Path, source| StoreError::Io { path: p.display().to_string(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Make the rename durable; not every file system supports syncing a folder.
        let _ = d.sync_all();
    }
    Ok(())
}

/// A location: an S3 bucket and prefix, or a local folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `s3://bucket/prefix/` (the prefix without leading slash, with a trailing slash unless empty).
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix.
        prefix: String,
    },
    /// A local folder.
    Local(PathBuf),
}

impl Location {
    /// Parses `s3://bucket/prefix` (a trailing slash is added) or a local path.
    pub fn parse(uri: &str) -> Location {
        match uri.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let prefix = prefix.trim_matches('/');
                let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
                Location::S3 { bucket: bucket.to_owned(), prefix }
            }
            None => Location::Local(PathBuf::from(uri)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(s: &impl ObjectStore) {
        assert_eq!(s.get("a/b.json").await.unwrap(), None);
        s.put("a/b.json", b"{}".to_vec()).await.unwrap();
        s.put("a/b.json", b"{\"x\":1}".to_vec()).await.unwrap();
        s.put("a/c.json", b"1".to_vec()).await.unwrap();
        s.put("b/d.json", b"2".to_vec()).await.unwrap();
        assert_eq!(s.get("a/b.json").await.unwrap().unwrap(), b"{\"x\":1}");
        let keys = |v: Vec<ObjectInfo>| v.into_iter().map(|o| o.key).collect::<Vec<_>>();
        assert_eq!(keys(s.list("a/", None).await.unwrap()), vec!["a/b.json", "a/c.json"]);
        assert_eq!(keys(s.list("a/", Some("a/b.json")).await.unwrap()), vec!["a/c.json"]);
        assert_eq!(keys(s.list("", None).await.unwrap()), vec!["a/b.json", "a/c.json", "b/d.json"]);
        assert_eq!(keys(s.list("a/b", None).await.unwrap()), vec!["a/b.json"], "a prefix inside a name");
        s.put("c/x/y/z.json", b"3".to_vec()).await.unwrap();
        assert_eq!(s.folders("").await.unwrap(), vec!["a", "b", "c"]);
        assert_eq!(s.folders("c/").await.unwrap(), vec!["x"]);
        assert_eq!(s.folders("b/").await.unwrap(), Vec::<String>::new());
        assert_eq!(s.folders("nope/").await.unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn local_and_memory_stores_behave_alike() {
        let tmp = tempfile::tempdir().unwrap();
        let local = LocalStore::new(tmp.path().join("out"));
        round_trip(&local).await;
        let names: Vec<_> =
            std::fs::read_dir(tmp.path().join("out/a")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "no temp files left: {names:?}");
        round_trip(&MemoryStore::default()).await;
        let shared = MemoryStore::default();
        round_trip(&shared.below("p/q/")).await;
        assert_eq!(shared.keys()[0], "p/q/a/b.json");
        assert_eq!(shared.below("p/").keys()[0], "q/a/b.json");
        assert!(LocalStore::new(tmp.path().join("missing")).list_sync("", None).unwrap().is_empty());
    }

    #[test]
    fn locations() {
        assert_eq!(Location::parse("s3://b/p/q"), Location::S3 { bucket: "b".into(), prefix: "p/q/".into() });
        assert_eq!(Location::parse("s3://b/"), Location::S3 { bucket: "b".into(), prefix: String::new() });
        assert_eq!(Location::parse("s3://b"), Location::S3 { bucket: "b".into(), prefix: String::new() });
        assert_eq!(Location::parse("/tmp/x"), Location::Local("/tmp/x".into()));
    }
}
