//! Publishing events: the bus trait, the outbox, batching and retries.
//!
//! EventBridge's PutEvents takes 1-10 entries and at most 256 KB a call, answers per entry, and
//! fails an entry alone or the whole call. Events wait in an outbox (kept in the stream's
//! checkpoint) until the bus has taken them, so an outage of the bus loses nothing. Only failed
//! entries whose error codes are retryable are retried within a call, with backoff; other
//! failures stay in the outbox for the next poll and are dropped, loudly, after
//! [`MAX_ATTEMPTS`] polls.

use std::future::Future;
#[cfg(any(test, feature = "testing"))]
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};

/// Most entries in one PutEvents call.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes of entries in one call (the conservative limit every region has).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Polls an entry may fail with a non-retryable error before it is dropped.
pub const MAX_ATTEMPTS: u32 = 20;
/// Error codes worth retrying at once (EventBridge API reference, PutEventsResultEntry).
pub const RETRYABLE: [&str; 2] = ["InternalFailure", "ThrottlingException"];

/// One event as PutEvents takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusEntry {
    /// `Source`.
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail`: a JSON object, as text.
    pub detail: String,
    /// `Resources`.
    pub resources: Vec<String>,
}

impl BusEntry {
    /// Returns the entry's size as EventBridge counts it (no `Time` set).
    pub fn size(&self) -> usize {
        self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }
}

/// The bus's answer for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    /// Accepted, with the bus's event id.
    Sent {
        /// EventBridge's id.
        event_id: String,
    },
    /// Refused.
    Failed {
        /// `ErrorCode`.
        code: String,
        /// `ErrorMessage`.
        message: String,
    },
}

/// A failure of a whole call: nothing was accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The bus does not exist (yet).
    #[error("event bus not found: {0}")]
    NotFound(String),
    /// Any other failure (network, throttling of the call, permissions).
    #[error("{0}")]
    Other(String),
}

/// An event bus.
pub trait EventBus: Send + Sync {
    /// Sends 1 to [`MAX_ENTRIES`] entries of at most [`MAX_BATCH_BYTES`] together (the caller
    /// batches). Returns one outcome per entry, in order, or an error when the whole call
    /// failed and no entry was accepted.
    fn put_events(&self, entries: &[BusEntry]) -> impl Future<Output = Result<Vec<EntryOutcome>, BusError>> + Send;
}

/// An event waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// driftwatch's stable id of the event (the envelope id in replay).
    pub id: String,
    /// The entry.
    pub entry: BusEntry,
    /// Polls on which the bus refused it with a non-retryable error.
    pub attempts: u32,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// What a publish pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOutcome {
    /// Ids sent, with the bus's event ids.
    pub sent: Vec<(String, String)>,
    /// Entries still waiting, in order.
    pub remaining: Vec<OutboxEntry>,
    /// Ids dropped after [`MAX_ATTEMPTS`] non-retryable failures, with the error.
    pub dropped: Vec<(String, String)>,
    /// The call-level error that stopped the pass, if any.
    pub error: Option<BusError>,
}

/// Splits entries into batches of at most [`MAX_ENTRIES`] and [`MAX_BATCH_BYTES`].
pub fn batches(entries: &[OutboxEntry]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, e) in entries.iter().enumerate() {
        let size = e.entry.size();
        if i > start && (i - start == MAX_ENTRIES || bytes + size > MAX_BATCH_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < entries.len() {
        out.push(start..entries.len());
    }
    out
}

/// Sends what the outbox holds, in order. Retryable failed entries are retried within the
/// pass (`retries` times, backoff doubling from `backoff`); a call-level failure stops the pass
/// and leaves the rest in the outbox.
pub async fn publish<B: EventBus>(
    bus: &B,
    outbox: Vec<OutboxEntry>,
    retries: u32,
    backoff: StdDuration,
) -> PublishOutcome {
    let mut out = PublishOutcome::default();
    let groups = batches(&outbox);
    let mut outbox: Vec<Option<OutboxEntry>> = outbox.into_iter().map(Some).collect();
    for range in &groups {
        let mut pending: Vec<usize> = range.clone().collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            let entries: Vec<BusEntry> =
                pending.iter().filter_map(|&i| outbox[i].as_ref().map(|e| e.entry.clone())).collect();
            let outcomes = match bus.put_events(&entries).await {
                Ok(o) if o.len() == entries.len() => o,
                Ok(o) => {
                    let msg = format!("the bus answered {} outcomes for {} entries", o.len(), entries.len());
                    out.error = Some(BusError::Other(msg));
                    break;
                }
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            };
            let mut retry = Vec::new();
            for (&i, outcome) in pending.iter().zip(outcomes) {
                match outcome {
                    EntryOutcome::Sent { event_id } => {
                        if let Some(e) = outbox[i].take() {
                            out.sent.push((e.id, event_id));
                        }
                    }
                    EntryOutcome::Failed { code, message } => {
                        let err = format!("{code}: {message}");
                        if RETRYABLE.contains(&code.as_str()) && attempt < retries {
                            retry.push(i);
                        } else if let Some(e) = outbox[i].as_mut() {
                            e.attempts += 1;
                            e.last_error = Some(err.clone());
                            if e.attempts >= MAX_ATTEMPTS {
                                out.dropped.push((e.id.clone(), err));
                                outbox[i] = None;
                            }
                        }
                    }
                }
            }
            pending = retry;
            if !pending.is_empty() {
                tokio::time::sleep(backoff * 2u32.pow(attempt)).await;
                attempt += 1;
            }
        }
        if out.error.is_some() {
            // Nothing after a call-level failure is tried; it all stays, in order.
            break;
        }
    }
    out.remaining = outbox.into_iter().flatten().collect();
    out
}

/// A bus in memory (tests; the `testing` feature): records what it accepts; scripted answers
/// come first.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Default)]
pub struct MemoryBus {
    inner: Arc<Mutex<MemoryBusInner>>,
}

#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Default)]
struct MemoryBusInner {
    accepted: Vec<BusEntry>,
    script: std::collections::VecDeque<Script>,
    calls: usize,
}

/// A scripted answer of [`MemoryBus`].
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone)]
pub enum Script {
    /// The whole call fails.
    Fail(BusError),
    /// Entries at these positions fail with this code; the others are accepted.
    FailEntries(Vec<usize>, String),
}

#[cfg(any(test, feature = "testing"))]
impl MemoryBus {
    /// Queues a scripted answer for a coming call.
    pub fn script(&self, s: Script) {
        if let Ok(mut g) = self.inner.lock() {
            g.script.push_back(s);
        }
    }

    /// Returns the entries accepted so far, in order.
    pub fn accepted(&self) -> Vec<BusEntry> {
        self.inner.lock().map(|g| g.accepted.clone()).unwrap_or_default()
    }

    /// Returns how many calls were made.
    pub fn calls(&self) -> usize {
        self.inner.lock().map(|g| g.calls).unwrap_or(0)
    }
}

#[cfg(any(test, feature = "testing"))]
impl EventBus for MemoryBus {
    async fn put_events(&self, entries: &[BusEntry]) -> Result<Vec<EntryOutcome>, BusError> {
        let mut g = self.inner.lock().map_err(|_| BusError::Other("poisoned".into()))?;
        g.calls += 1;
        assert!(!entries.is_empty() && entries.len() <= MAX_ENTRIES, "batch of {}", entries.len());
        assert!(entries.iter().map(BusEntry::size).sum::<usize>() <= MAX_BATCH_BYTES || entries.len() == 1);
        let failing = match g.script.pop_front() {
            Some(Script::Fail(e)) => return Err(e),
            Some(Script::FailEntries(idx, code)) => Some((idx, code)),
            None => None,
        };
        let mut out = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            match &failing {
                Some((idx, code)) if idx.contains(&i) => {
                    out.push(EntryOutcome::Failed { code: code.clone(), message: "scripted".into() })
                }
                _ => {
                    g.accepted.push(e.clone());
                    out.push(EntryOutcome::Sent { event_id: format!("mem-{}", g.accepted.len()) });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize, size: usize) -> OutboxEntry {
        OutboxEntry {
            id: format!("e{i}"),
            entry: BusEntry {
                source: "driftwatch".into(),
                detail_type: "Sudden Data Shift Detected".into(),
                detail: format!("{{\"pad\":\"{}\"}}", "x".repeat(size)),
                resources: vec![],
            },
            attempts: 0,
            last_error: None,
        }
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let small: Vec<OutboxEntry> = (0..23).map(|i| entry(i, 10)).collect();
        let b = batches(&small);
        assert_eq!(b, vec![0..10, 10..20, 20..23]);
        let big: Vec<OutboxEntry> = (0..5).map(|i| entry(i, 100_000)).collect();
        let b = batches(&big);
        assert_eq!(b, vec![0..2, 2..4, 4..5]);
        assert!(b.iter().all(|r| big[r.clone()].iter().map(|e| e.entry.size()).sum::<usize>() <= MAX_BATCH_BYTES));
        assert!(batches(&[]).is_empty());
    }

    #[tokio::test]
    async fn retries_only_retryable_failed_entries() {
        let bus = MemoryBus::default();
        bus.script(Script::FailEntries(vec![1, 2], "ThrottlingException".into()));
        bus.script(Script::FailEntries(vec![0], "InternalFailure".into()));
        let outbox: Vec<OutboxEntry> = (0..3).map(|i| entry(i, 10)).collect();
        let o = publish(&bus, outbox, 3, StdDuration::from_millis(1)).await;
        assert_eq!(o.sent.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), vec!["e0", "e2", "e1"]);
        assert!(o.remaining.is_empty() && o.error.is_none());
        assert_eq!(bus.calls(), 3);
        // Non-retryable: stays in the outbox with its error, not retried within the pass.
        let bus = MemoryBus::default();
        bus.script(Script::FailEntries(vec![0], "MalformedDetail".into()));
        let o = publish(&bus, vec![entry(0, 10), entry(1, 10)], 3, StdDuration::from_millis(1)).await;
        assert_eq!(o.sent.len(), 1);
        assert_eq!(o.remaining.len(), 1);
        assert_eq!(o.remaining[0].attempts, 1);
        assert_eq!(bus.calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_bus_keeps_everything_in_order() {
        let bus = MemoryBus::default();
        bus.script(Script::Fail(BusError::NotFound("ml-drift".into())));
        let outbox: Vec<OutboxEntry> = (0..12).map(|i| entry(i, 10)).collect();
        let o = publish(&bus, outbox.clone(), 3, StdDuration::from_millis(1)).await;
        assert_eq!(o.remaining, outbox);
        assert!(matches!(o.error, Some(BusError::NotFound(_))));
        let o = publish(&bus, o.remaining, 3, StdDuration::from_millis(1)).await;
        assert_eq!(o.sent.len(), 12);
        assert_eq!(bus.accepted().len(), 12);
    }

    #[tokio::test]
    async fn hopeless_entries_are_dropped_after_max_attempts() {
        let bus = MemoryBus::default();
        let mut outbox = vec![entry(0, 10)];
        for _ in 0..MAX_ATTEMPTS {
            bus.script(Script::FailEntries(vec![0], "AccessDeniedException".into()));
            let o = publish(&bus, outbox, 3, StdDuration::from_millis(1)).await;
            outbox = o.remaining;
            if !o.dropped.is_empty() {
                assert!(o.dropped[0].1.starts_with("AccessDeniedException"));
            }
        }
        assert!(outbox.is_empty());
    }
}
