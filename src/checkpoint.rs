//! Per-stream checkpoints: what has been read and everything needed to resume exactly.
//!
//! One object per stream, `checkpoints/{endpoint}/{variant}.json` in the state store: a
//! versioned serde enum, so the format can change; written atomically (temp file, fsync and
//! rename locally; one PutObject on S3) and skipped when nothing changed. See
//! `pipeline/design.md` for why a restart from it neither loses nor double-counts.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::capture::layout::StreamId;
use crate::classify::StreamClassifier;
use crate::pipeline::EngineState;
use crate::profile::hll::hash_bytes;
use crate::publish::bus::OutboxEntry;
use crate::store::{ObjectStore, StoreError, WriteIf};
use crate::time::{Duration, Timestamp};

/// How far a stream has read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The first hour folder not read yet (every folder before it has been read).
    pub next_hour: Option<Timestamp>,
    /// Keys read in the most recent folders, to find objects that land after their folder
    /// settled (they are read then, and their records counted as late).
    pub recent: BTreeMap<Timestamp, BTreeSet<String>>,
}

/// Everything a stream needs to resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamCheckpoint {
    /// The stream.
    pub stream: StreamId,
    /// The window length it was written with (a different one cannot resume it).
    pub window: Duration,
    /// Where the baseline came from.
    pub baseline: String,
    /// Listing cursor.
    pub cursor: Cursor,
    /// Open windows and totals.
    pub engine: EngineState,
    /// Classifier history and episodes.
    pub classifier: StreamClassifier,
    /// Events the bus has not taken yet.
    pub outbox: Vec<OutboxEntry>,
    /// Model quality, when the stream's monitor judges it (format 3 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityCheckpoint>,
    /// Bias episodes, when the stream's monitor judges bias (an addition to format 3: absent in
    /// older checkpoints, which then start without episodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<crate::bias::decide::BiasClassifier>,
    /// Bias episodes over labelled predictions (an addition to format 3 like `bias`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias_labels: Option<crate::bias::decide::BiasClassifier>,
}

/// A stream's model-quality state: the quality classifier, the ledger of predictions and
/// labels, and how far the ground truth has been read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QualityCheckpoint {
    /// Classifier and ledger.
    pub state: crate::publish::window::QualityState,
    /// Ground-truth folders read (by collection hour).
    pub labels: Cursor,
}

/// The stored form: a versioned enum, externally tagged (`{"v2": {...}}`). (An internally
/// tagged enum would buffer its content, and maps with integer keys would not read back.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Checkpoint {
    /// Format 1: before the classifier learned cycles. Read (the cycles start empty, so the
    /// stream's cold start begins again at the restore), never written.
    #[serde(rename = "v1")]
    V1(Box<StreamCheckpoint>),
    /// Format 2: the classifier carries its learned cycles (hour-of-day and hour-of-week slots
    /// per feature, selection evidence). Read, never written.
    #[serde(rename = "v2")]
    V2(Box<StreamCheckpoint>),
    /// Format 3: model quality (the quality classifier, the label ledger, the ground-truth
    /// cursor). An older binary refuses it instead of dropping them.
    #[serde(rename = "v3")]
    V3(Box<StreamCheckpoint>),
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The object is not a checkpoint this version reads.
    #[error("{uri}: unreadable checkpoint: {detail}")]
    Corrupt {
        /// The object.
        uri: String,
        /// What is wrong.
        detail: String,
    },
}

/// Reads and writes checkpoints in a state store, skipping writes of unchanged state.
#[derive(Debug)]
pub struct CheckpointStore<S> {
    store: S,
    /// Hash and version tag of each stream's last checkpoint read or written (streams save
    /// concurrently).
    last: std::sync::Mutex<BTreeMap<StreamId, (u64, Option<String>)>>,
}

/// The key of a stream's checkpoint.
pub fn key(stream: &StreamId) -> String {
    format!("checkpoints/{}/{}.json", stream.endpoint, stream.variant)
}

impl<S: ObjectStore> CheckpointStore<S> {
    /// Uses `store`.
    pub fn new(store: S) -> Self {
        CheckpointStore { store, last: std::sync::Mutex::new(BTreeMap::new()) }
    }

    /// Returns the underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Loads a stream's checkpoint, if it has one.
    ///
    /// Whether there is one is decided by listing its key, not by a read that may fail: S3
    /// answers a read of a missing key with 403, not 404, unless the caller may list the whole
    /// bucket, and `deploy/iam.yaml` grants listing only below the state prefix.
    pub async fn load(&self, stream: &StreamId) -> Result<Option<StreamCheckpoint>, CheckpointError> {
        let k = key(stream);
        if !self.store.list(&k, None).await?.iter().any(|o| o.key == k) {
            return Ok(None);
        }
        let Some((bytes, tag)) = self.store.get_tagged(&k).await? else { return Ok(None) };
        let cp: Checkpoint = serde_json::from_slice(&bytes)
            .map_err(|e| CheckpointError::Corrupt { uri: self.store.uri(&k), detail: e.to_string() })?;
        self.remember(stream.clone(), hash_bytes(&bytes), Some(tag));
        let (Checkpoint::V1(mut cp) | Checkpoint::V2(mut cp) | Checkpoint::V3(mut cp)) = cp;
        cp.classifier.rebuild();
        Ok(Some(*cp))
    }

    /// Writes a stream's checkpoint unless it equals the last one read or written; returns
    /// whether it wrote. The write is fenced: it succeeds only if the object is still the
    /// version this store last read or wrote (or, for a stream that had none, if there is still
    /// none), so of two writers that started from the same checkpoint only the first goes on;
    /// the other gets [`StoreError::Conflict`] and must reload.
    pub async fn save(&self, cp: StreamCheckpoint) -> Result<bool, CheckpointError> {
        let stream = cp.stream.clone();
        let k = key(&stream);
        let bytes = serde_json::to_vec(&Checkpoint::V3(Box::new(cp)))
            .map_err(|e| CheckpointError::Corrupt { uri: self.store.uri(&k), detail: e.to_string() })?;
        let h = hash_bytes(&bytes);
        let known = self.last.lock().ok().and_then(|last| last.get(&stream).cloned());
        if known.as_ref().is_some_and(|(hash, _)| *hash == h) {
            return Ok(false);
        }
        let cond = match known.as_ref().and_then(|(_, tag)| tag.as_deref()) {
            Some(tag) => WriteIf::Matches(tag),
            None => WriteIf::Absent,
        };
        let tag = self.store.put_if(&k, bytes, cond).await?;
        self.remember(stream, h, Some(tag));
        Ok(true)
    }

    /// Forgets what was read or written of `stream` (it is no longer this worker's: a later
    /// [`CheckpointStore::load`] starts over).
    pub fn forget(&self, stream: &StreamId) {
        if let Ok(mut last) = self.last.lock() {
            last.remove(stream);
        }
    }

    fn remember(&self, stream: StreamId, hash: u64, tag: Option<String>) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(stream, (hash, tag));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::build::build_csv;
    use crate::baseline::Baseline;
    use crate::pipeline::StreamEngine;
    use crate::store::MemoryStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn checkpoints_round_trip_and_skip_unchanged_writes() {
        let built = build_csv("a,b\n1,x\n2,y\n".as_bytes(), true, "t").unwrap();
        let baseline = Arc::new(Baseline::from_files(built.statistics, "s", built.constraints, "c", "t").unwrap());
        let id = StreamId::new("ep", "v");
        let mut engine = StreamEngine::new(id.clone(), baseline.clone(), Duration::from_hours(1));
        let line = serde_json::json!({"captureData": {"endpointInput": {"observedContentType": "text/csv", "data": "1,x\n3,z\n4", "encoding": "CSV"}},
            "eventMetadata": {"inferenceTime": "2026-03-03T16:10:00Z"}}).to_string();
        engine.ingest("k", None, line.as_bytes(), &mut |_| {}).unwrap();
        let cp = StreamCheckpoint {
            stream: id.clone(),
            window: Duration::from_hours(1),
            baseline: "t".into(),
            cursor: Cursor {
                next_hour: Some(Timestamp::from_millis(3_600_000)),
                recent: BTreeMap::from([(Timestamp::from_millis(0), BTreeSet::from(["a".to_owned()]))]),
            },
            engine: engine.snapshot(),
            classifier: StreamClassifier::new(id.clone(), &baseline, Default::default()),
            outbox: vec![],
            quality: None,
            bias: None,
            bias_labels: None,
        };
        let store = MemoryStore::default();
        let cps = CheckpointStore::new(store.clone());
        assert!(cps.save(cp.clone()).await.unwrap());
        assert!(!cps.save(cp.clone()).await.unwrap(), "unchanged: not written again");
        let fresh = CheckpointStore::new(store);
        let back = fresh.load(&id).await.unwrap().unwrap();
        assert_eq!(back.engine, cp.engine);
        assert_eq!(back.cursor, cp.cursor);
        let restored = StreamEngine::restore(id.clone(), baseline, back.engine).unwrap();
        assert_eq!(restored.snapshot(), engine.snapshot());

        // Two writers from the same checkpoint: the first goes on, the second is refused and
        // must reload; one that never saw a checkpoint cannot overwrite one.
        let (a, b) = (CheckpointStore::new(fresh.store().clone()), CheckpointStore::new(fresh.store().clone()));
        a.load(&id).await.unwrap();
        b.load(&id).await.unwrap();
        let mut next = cp.clone();
        next.cursor.next_hour = Some(Timestamp::from_millis(7_200_000));
        assert!(a.save(next.clone()).await.unwrap());
        next.cursor.next_hour = Some(Timestamp::from_millis(10_800_000));
        let refused = b.save(next.clone()).await.unwrap_err();
        assert!(matches!(refused, CheckpointError::Store(StoreError::Conflict { .. })), "{refused}");
        assert_eq!(b.load(&id).await.unwrap().unwrap().cursor.next_hour, Some(Timestamp::from_millis(7_200_000)));
        assert!(b.save(next.clone()).await.unwrap());
        let blind = CheckpointStore::new(fresh.store().clone());
        assert!(matches!(blind.save(cp.clone()).await, Err(CheckpointError::Store(StoreError::Conflict { .. }))));
    }

    #[tokio::test]
    async fn version_1_checkpoints_still_read_and_are_written_back_as_version_3() {
        let built = build_csv("a,b\n1,x\n2,y\n".as_bytes(), true, "t").unwrap();
        let baseline = Arc::new(Baseline::from_files(built.statistics, "s", built.constraints, "c", "t").unwrap());
        let id = StreamId::new("ep", "v");
        let cp = StreamCheckpoint {
            stream: id.clone(),
            window: Duration::from_hours(1),
            baseline: "t".into(),
            cursor: Cursor::default(),
            engine: StreamEngine::new(id.clone(), baseline.clone(), Duration::from_hours(1)).snapshot(),
            classifier: StreamClassifier::new(id.clone(), &baseline, Default::default()),
            outbox: vec![],
            quality: None,
            bias: None,
            bias_labels: None,
        };
        // A v1 object as the previous release wrote it: no cycle state in the classifier.
        let mut v1 = serde_json::to_value(Checkpoint::V3(Box::new(cp))).unwrap();
        let inner = v1.as_object_mut().unwrap().remove("v3").unwrap();
        let mut inner = inner;
        let classifier = inner["classifier"].as_object_mut().unwrap();
        classifier.remove("seasonal");
        classifier.remove("window_len");
        for k in ["seasonality", "reference_start", "reference_end"] {
            classifier["cfg"].as_object_mut().unwrap().remove(k);
        }
        let v1 = serde_json::json!({ "v1": inner });
        let store = MemoryStore::default();
        store.put(&key(&id), serde_json::to_vec(&v1).unwrap()).await.unwrap();
        let cps = CheckpointStore::new(store.clone());
        let back = cps.load(&id).await.unwrap().unwrap();
        assert_eq!(back.stream, id);
        let mut again = back.clone();
        again.cursor.next_hour = Some(Timestamp::from_millis(0));
        assert!(cps.save(again).await.unwrap());
        let written: serde_json::Value = serde_json::from_slice(&store.get(&key(&id)).await.unwrap().unwrap()).unwrap();
        assert!(written.get("v3").is_some(), "{written}");
    }
}
