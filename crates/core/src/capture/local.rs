//! Capture files in a local folder (a copy of the Data Capture prefix, or part of it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::layout::{split_key, stream_of, StreamId};
use crate::time::Timestamp;

/// One capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its path below the capture root, `/`-separated (what reports and errors show).
    pub key: String,
    /// Start of its hour folder, if it sits in one.
    pub hour: Option<Timestamp>,
    /// Size in bytes.
    pub size: u64,
}

/// Why a capture folder cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The path does not exist.
    #[error("{path}: not found")]
    Missing {
        /// The path.
        path: String,
    },
    /// A folder or file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// No `.jsonl` file below the path.
    #[error("{path}: no .jsonl capture files below this folder")]
    Empty {
        /// The path.
        path: String,
    },
}

/// Finds every `.jsonl` file below `root`, grouped by stream, each stream's files in data order
/// (hour folder, then name).
pub fn discover(root: &Path) -> Result<BTreeMap<StreamId, Vec<CaptureFile>>, SourceError> {
    let io = |p: &Path, source| SourceError::Io { path: p.display().to_string(), source };
    let meta = std::fs::metadata(root).map_err(|_| SourceError::Missing { path: root.display().to_string() })?;
    let canonical = std::fs::canonicalize(root).map_err(|e| io(root, e))?;
    let name_of =
        |p: Option<&Path>| p.and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or("capture").to_owned();
    let root_name = name_of(Some(&canonical));
    let root_parent = name_of(canonical.parent());
    let mut files = Vec::new();
    if meta.is_file() {
        files.push((canonical.clone(), meta.len()));
    } else {
        walk(&canonical, &mut files).map_err(|(p, e)| io(&p, e))?;
    }
    let mut streams: BTreeMap<StreamId, Vec<CaptureFile>> = BTreeMap::new();
    for (path, size) in files {
        let rel = path.strip_prefix(&canonical).unwrap_or(&path);
        let key: String = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        let key = if key.is_empty() { root_name.clone() } else { key };
        let parts = split_key(&key);
        let stream = if parts.hour.is_none() && parts.dirs.is_empty() {
            StreamId::new(if meta.is_file() { root_parent.clone() } else { root_name.clone() }, "AllTraffic")
        } else {
            stream_of(&parts, &root_name, &root_parent)
        };
        let hour = parts.hour;
        streams.entry(stream).or_default().push(CaptureFile { path, key, hour, size });
    }
    if streams.is_empty() {
        return Err(SourceError::Empty { path: root.display().to_string() });
    }
    for files in streams.values_mut() {
        files.sort_by(|a, b| (a.hour, &a.key).cmp(&(b.hour, &b.key)));
    }
    Ok(streams)
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> Result<(), (PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_owned(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| (dir.to_owned(), e))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| (path.clone(), e))?;
        let hidden = entry.file_name().to_str().is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if ft.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            let len = entry.metadata().map_err(|e| (path.clone(), e))?.len();
            out.push((path, len));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}\n").unwrap();
    }

    #[test]
    fn root_endpoint_and_variant_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("datacapture");
        touch(&root, "ep-a/AllTraffic/2026/03/03/17/b.jsonl");
        touch(&root, "ep-a/AllTraffic/2026/03/03/16/z.jsonl");
        touch(&root, "ep-a/Shadow-01/2026/03/03/16/a.jsonl");
        touch(&root, "ep-b/AllTraffic/2026/03/03/16/a.jsonl");
        touch(&root, "ep-b/AllTraffic/2026/03/03/16/notes.txt");
        let s = discover(&root).unwrap();
        let ids: Vec<String> = s.keys().map(ToString::to_string).collect();
        assert_eq!(ids, vec!["ep-a/AllTraffic", "ep-a/Shadow-01", "ep-b/AllTraffic"]);
        let a = &s[&StreamId::new("ep-a", "AllTraffic")];
        assert_eq!(
            a.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
            vec!["ep-a/AllTraffic/2026/03/03/16/z.jsonl", "ep-a/AllTraffic/2026/03/03/17/b.jsonl"]
        );

        let ep = discover(&root.join("ep-a")).unwrap();
        assert!(ep.contains_key(&StreamId::new("ep-a", "Shadow-01")));
        let var = discover(&root.join("ep-b/AllTraffic")).unwrap();
        assert_eq!(var.keys().next().unwrap(), &StreamId::new("ep-b", "AllTraffic"));
        let file = discover(&root.join("ep-b/AllTraffic/2026/03/03/16/a.jsonl")).unwrap();
        assert_eq!(file.values().next().unwrap().len(), 1);
    }

    #[test]
    fn errors() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(discover(&tmp.path().join("nope")), Err(SourceError::Missing { .. })));
        touch(tmp.path(), "x/readme.md");
        let err = discover(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("no .jsonl capture files"), "{err}");
    }
}
