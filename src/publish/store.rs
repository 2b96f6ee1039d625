//! Where reports and state are written: a local folder now, S3 through the same trait.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a write failed.
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
        /// The object.
        uri: String,
        /// What went wrong.
        detail: String,
    },
}

/// A place for objects named by `/`-separated keys.
pub trait ObjectStore: Send + Sync {
    /// Writes `bytes` under `key`, replacing what was there. A reader never sees a partial
    /// object: the write is atomic (temp file and rename locally; one PutObject on S3).
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;

    /// Returns the object under `key`, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Returns a human-readable location of `key` (a path or an `s3://` URI).
    fn uri(&self, key: &str) -> String;
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
        key.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.root.clone(), |p, c| p.join(c))
    }
}

impl ObjectStore for LocalStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomic(&self.path(key), bytes)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    fn uri(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }
}

/// Writes a file atomically: a temporary file beside it, fsync, rename, fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |p: &Path, source| StoreError::Io {
        path: p.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_store_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let s = LocalStore::new(tmp.path().join("out"));
        assert_eq!(s.get("a/b.json").unwrap(), None);
        s.put("a/b.json", b"{}").unwrap();
        s.put("a/b.json", b"{\"x\":1}").unwrap();
        assert_eq!(s.get("a/b.json").unwrap().unwrap(), b"{\"x\":1}");
        let names: Vec<_> = std::fs::read_dir(tmp.path().join("out/a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temp files left: {names:?}");
    }
}
