//! Stream ownership among workers that share a state store (`[workers]`).
//!
//! One lease object per stream, `leases/{endpoint}/{variant}.json` beside its checkpoint:
//! `{"owner": <worker id>, "expiresMs": <ms since the epoch>}`. A worker owns a stream while its
//! lease is unexpired; it takes a missing lease with a write that succeeds only if there is
//! still none (`If-None-Match: *`) and an expired one, or renews its own, with a write that
//! succeeds only if the lease is still the version it read (`If-Match: <ETag>`), so two workers
//! can never both take one. A worker renews when half the term has passed, and writes its
//! leases expired when it stops, so another takes them at once.
//!
//! Workers share the streams out without talking to each other: every worker writes a heartbeat
//! (`workers/{id}.json`, the same expiry) and counts the live ones; it takes an unowned stream
//! only while it holds fewer than its share (streams divided by live workers, rounded up) and
//! gives up the ones above its share at the end of a poll, after their checkpoints.
//!
//! The lease is not what keeps the state safe: checkpoints are written with `If-Match` on the
//! version last read or written ([`crate::checkpoint::CheckpointStore::save`]), so a worker
//! that lost its lease while paused (a long GC-free stall, a clock far off) fails its next
//! checkpoint instead of overwriting the new owner's. Events queued by the loser are never
//! sent: the outbox is sent only after the checkpoint that holds it was written.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::capture::layout::StreamId;
use crate::store::{ObjectStore, StoreError, WriteIf};
use crate::telemetry;
use crate::time::{Duration, Timestamp};

/// The lease object of a stream.
pub fn key(stream: &StreamId) -> String {
    format!("leases/{}/{}.json", stream.endpoint, stream.variant)
}

/// The folder of worker heartbeats.
const WORKERS_PREFIX: &str = "workers/";

/// What a lease or heartbeat object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaseBody {
    owner: String,
    expires_ms: i64,
}

/// This worker's leases.
#[derive(Debug)]
pub struct Leases {
    /// This worker's id (host, process and a random part: unique among restarts).
    me: String,
    term: Duration,
    /// Leases held: version tag and expiry.
    held: Mutex<BTreeMap<StreamId, (String, Timestamp)>>,
    /// Workers alive at the last count (this one included).
    live: Mutex<usize>,
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This worker owns the stream (it did, or took it now).
    Owned,
    /// Another worker owns it.
    Taken,
}

impl Leases {
    /// Leases of `term` for the worker `me`.
    pub fn new(me: String, term: Duration) -> Self {
        Leases { me, term, held: Mutex::new(BTreeMap::new()), live: Mutex::new(1) }
    }

    /// A worker id unique to this process: the host name (the ECS task or pod), the process id
    /// and a random part.
    pub fn worker_id() -> String {
        let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "worker".into());
        let random = crate::profile::hll::hash_bytes(
            format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes(),
        );
        format!("{host}-{}-{:08x}", std::process::id(), random as u32)
    }

    /// How long a lease lasts without renewal.
    pub fn term(&self) -> Duration {
        self.term
    }

    /// This worker's id.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// Streams held.
    pub fn held(&self) -> Vec<StreamId> {
        self.held.lock().map(|h| h.keys().cloned().collect()).unwrap_or_default()
    }

    /// Whether this worker holds `stream`'s lease (as far as it knows).
    pub fn holds(&self, stream: &StreamId) -> bool {
        self.held.lock().is_ok_and(|h| h.contains_key(stream))
    }

    /// Writes this worker's heartbeat and counts the live workers.
    pub async fn heartbeat<S: ObjectStore>(&self, store: &S, now: Timestamp) -> Result<usize, StoreError> {
        let body = LeaseBody { owner: self.me.clone(), expires_ms: (now + self.term).millis() };
        store.put(&format!("{WORKERS_PREFIX}{}.json", self.me), to_bytes(&body)).await?;
        let mut live = 0;
        for o in store.list(WORKERS_PREFIX, None).await? {
            let alive = match store.get(&o.key).await? {
                Some(b) => serde_json::from_slice::<LeaseBody>(&b).is_ok_and(|l| l.expires_ms > now.millis()),
                None => false,
            };
            live += usize::from(alive);
        }
        let live = live.max(1);
        if let Ok(mut l) = self.live.lock() {
            *l = live;
        }
        metrics::gauge!(telemetry::WORKERS_LIVE).set(live as f64);
        Ok(live)
    }

    /// How many of `streams` this worker should hold: its share among the live workers.
    pub fn share(&self, streams: usize) -> usize {
        let live = self.live.lock().map(|l| *l).unwrap_or(1).max(1);
        streams.div_ceil(live)
    }

    /// Makes sure this worker owns `stream`: renews its lease when half the term has passed,
    /// takes a missing or expired one when `may_take`, and reports another worker's.
    pub async fn claim<S: ObjectStore>(
        &self,
        store: &S,
        stream: &StreamId,
        now: Timestamp,
        may_take: bool,
    ) -> Result<Claim, StoreError> {
        let fresh = self
            .held
            .lock()
            .ok()
            .and_then(|h| h.get(stream).map(|(_, exp)| *exp))
            .is_some_and(|exp| exp.millis() - now.millis() > self.term.millis() / 2);
        if fresh {
            return Ok(Claim::Owned);
        }
        let k = key(stream);
        let current = store.get_tagged(&k).await?;
        let cond = match &current {
            None => WriteIf::Absent,
            Some((bytes, tag)) => {
                let lease = serde_json::from_slice::<LeaseBody>(bytes).ok();
                let mine = lease.as_ref().is_some_and(|l| l.owner == self.me);
                let expired = lease.as_ref().is_none_or(|l| l.expires_ms <= now.millis());
                if !mine && !expired {
                    self.lose(stream);
                    return Ok(Claim::Taken);
                }
                if !mine && !may_take {
                    return Ok(Claim::Taken);
                }
                WriteIf::Matches(tag)
            }
        };
        if current.is_none() && !may_take {
            return Ok(Claim::Taken);
        }
        let expires = now + self.term;
        let body = LeaseBody { owner: self.me.clone(), expires_ms: expires.millis() };
        match store.put_if(&k, to_bytes(&body), cond).await {
            Ok(tag) => {
                let took =
                    self.held.lock().map(|mut h| h.insert(stream.clone(), (tag, expires)).is_none()).unwrap_or(false);
                if took {
                    tracing::info!(stream = %stream, worker = %self.me, "took ownership");
                    metrics::counter!(telemetry::OWNERSHIP_CHANGES, "change" => "taken").increment(1);
                }
                Ok(Claim::Owned)
            }
            Err(StoreError::Conflict { .. }) => {
                self.lose(stream);
                Ok(Claim::Taken)
            }
            Err(e) => Err(e),
        }
    }

    /// Gives `stream` up (its checkpoint written): its lease is written expired, so another
    /// worker takes it at once.
    pub async fn release<S: ObjectStore>(&self, store: &S, stream: &StreamId) -> Result<(), StoreError> {
        let Some((tag, _)) = self.held.lock().ok().and_then(|mut h| h.remove(stream)) else { return Ok(()) };
        let body = LeaseBody { owner: self.me.clone(), expires_ms: 0 };
        match store.put_if(&key(stream), to_bytes(&body), WriteIf::Matches(&tag)).await {
            Ok(_) | Err(StoreError::Conflict { .. }) => {
                tracing::info!(stream = %stream, worker = %self.me, "gave up ownership");
                metrics::counter!(telemetry::OWNERSHIP_CHANGES, "change" => "released").increment(1);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets a lease another worker now holds.
    fn lose(&self, stream: &StreamId) {
        if self.held.lock().is_ok_and(|mut h| h.remove(stream).is_some()) {
            tracing::warn!(stream = %stream, worker = %self.me, "lost ownership to another worker");
            metrics::counter!(telemetry::OWNERSHIP_CHANGES, "change" => "lost").increment(1);
        }
    }

    /// Writes this worker's heartbeat expired (it stops).
    pub async fn retire<S: ObjectStore>(&self, store: &S) -> Result<(), StoreError> {
        let body = LeaseBody { owner: self.me.clone(), expires_ms: 0 };
        store.put(&format!("{WORKERS_PREFIX}{}.json", self.me), to_bytes(&body)).await
    }
}

fn to_bytes(body: &LeaseBody) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn one_owner_at_a_time_and_an_expired_lease_moves() {
        let store = MemoryStore::default();
        let (a, b) =
            (Leases::new("a".into(), Duration::from_secs(60)), Leases::new("b".into(), Duration::from_secs(60)));
        let s = StreamId::new("ep", "v");
        let t0 = Timestamp::from_millis(1_000_000);
        assert_eq!(a.claim(&store, &s, t0, true).await.unwrap(), Claim::Owned);
        assert_eq!(b.claim(&store, &s, t0, true).await.unwrap(), Claim::Taken);
        // a renews at half term; b still cannot take it.
        let t1 = t0 + Duration::from_secs(40);
        assert_eq!(a.claim(&store, &s, t1, true).await.unwrap(), Claim::Owned);
        assert_eq!(b.claim(&store, &s, t1 + Duration::from_secs(59), true).await.unwrap(), Claim::Taken);
        // a dies: 60 s after its last renewal, b takes it; a, back, has lost it.
        let t2 = t1 + Duration::from_secs(61);
        assert_eq!(b.claim(&store, &s, t2, true).await.unwrap(), Claim::Owned);
        assert_eq!(a.claim(&store, &s, t2, true).await.unwrap(), Claim::Taken);
        assert!(!a.holds(&s) && b.holds(&s));
        // b gives it up: a takes it at once.
        b.release(&store, &s).await.unwrap();
        assert_eq!(a.claim(&store, &s, t2, true).await.unwrap(), Claim::Owned);
    }

    #[tokio::test]
    async fn two_claims_of_a_free_lease_give_one_owner() {
        let store = MemoryStore::default();
        let s = StreamId::new("ep", "v");
        let t0 = Timestamp::from_millis(1_000_000);
        let workers: Vec<Leases> = (0..8).map(|i| Leases::new(format!("w{i}"), Duration::from_secs(60))).collect();
        let claims = futures_util::future::join_all(workers.iter().map(|w| w.claim(&store, &s, t0, true))).await;
        let owned = claims.into_iter().filter(|c| matches!(c, Ok(Claim::Owned))).count();
        assert_eq!(owned, 1);
    }

    #[tokio::test]
    async fn heartbeats_share_the_streams_out() {
        let store = MemoryStore::default();
        let t0 = Timestamp::from_millis(1_000_000);
        let a = Leases::new("a".into(), Duration::from_secs(60));
        let b = Leases::new("b".into(), Duration::from_secs(60));
        assert_eq!(a.heartbeat(&store, t0).await.unwrap(), 1);
        assert_eq!(a.share(5), 5);
        assert_eq!(b.heartbeat(&store, t0).await.unwrap(), 2);
        a.heartbeat(&store, t0).await.unwrap();
        assert_eq!(a.share(5), 3);
        b.retire(&store).await.unwrap();
        assert_eq!(a.heartbeat(&store, t0).await.unwrap(), 1);
    }
}
