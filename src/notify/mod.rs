//! S3 event notifications on an SQS queue: what `serve` (and the Lambda handler) learn of new
//! capture objects without listing.
//!
//! A notification is a hint, never the record of what was read: a stream woken by one lists its
//! open folders (from its cursor) and reads, in key order, every object not read yet, so a
//! duplicated, reordered or lost notification changes nothing (a lost one is found by the
//! listing sweep, which still runs at `[notifications] sweep`). A message is deleted only once
//! the checkpoint that records its objects has been written; a worker that dies before leaves it
//! to reappear after the queue's visibility timeout, and the cursor makes its objects count once.
//!
//! Three message forms are read: S3's own (`Records[].s3`, keys URL-encoded), EventBridge's S3
//! events (`detail-type: "Object Created"`), and either wrapped in an SNS notification. S3's
//! `s3:TestEvent` (sent when a notification is configured) and other event types are ignored.

#[cfg(feature = "aws")]
pub mod sqs;

use std::future::Future;
use std::pin::Pin;

/// A future the queue returns (the trait is used as an object, so its futures are boxed).
pub type QueueFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, QueueError>> + Send + 'a>>;

/// One message taken from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The queue's id of the message (the same when it is delivered again).
    pub id: String,
    /// The handle that deletes this delivery of it.
    pub receipt: String,
    /// The body as sent.
    pub body: String,
    /// When it was first sent to the queue (ms since the Unix epoch), if the queue says.
    pub sent_ms: Option<i64>,
}

/// Why the queue could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The call failed (after the SDK's retries).
    #[error("{queue}: {detail}")]
    Remote {
        /// The queue.
        queue: String,
        /// What failed.
        detail: String,
    },
}

/// An SQS queue (or its in-memory twin) that carries object notifications.
///
/// Contract: `receive` returns at most `max` messages, waiting up to `wait` for the first (long
/// polling); a message received is invisible to other receivers until its visibility timeout
/// passes, then delivered again (with a new receipt) unless it was deleted. Delivery is at least
/// once and in no particular order. `delete` removes the messages whose receipts it is given;
/// deleting an already deleted message is not an error.
pub trait Queue: Send + Sync {
    /// Takes up to `max` messages, waiting up to `wait` for the first.
    fn receive(&self, max: usize, wait: std::time::Duration) -> QueueFuture<'_, Vec<QueueMessage>>;
    /// Deletes the deliveries whose receipts are given.
    fn delete<'a>(&'a self, receipts: &'a [String]) -> QueueFuture<'a, ()>;
    /// Makes the deliveries whose receipts are given visible again after `after` (SQS
    /// `ChangeMessageVisibility`): for another worker to take.
    fn release<'a>(&'a self, receipts: &'a [String], after: std::time::Duration) -> QueueFuture<'a, ()>;
    /// The queue's name or URL, for logs.
    fn name(&self) -> &str;
}

/// An object a notification announces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectCreated {
    /// The bucket.
    pub bucket: String,
    /// The key (decoded).
    pub key: String,
    /// The object's ETag, when the notification carries one.
    pub etag: Option<String>,
}

/// What a message said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Objects created.
    Created(Vec<ObjectCreated>),
    /// S3's test message, or an event that is not an object's creation.
    Ignored(&'static str),
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an S3 notification: {0}")]
pub struct NoticeError(pub String);

/// Reads one message body.
pub fn parse_message(body: &str) -> Result<Notice, NoticeError> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| NoticeError(format!("not JSON ({e})")))?;
    parse_value(&v, 0)
}

/// SNS in front of SQS wraps the S3 message once; a deeper nesting is not a notification.
const MAX_WRAPPING: usize = 1;

fn parse_value(v: &serde_json::Value, depth: usize) -> Result<Notice, NoticeError> {
    let text = |v: &serde_json::Value, field: &str| v.get(field).and_then(|x| x.as_str()).map(str::to_owned);
    // SNS: {"Type": "Notification", "Message": "<the S3 message as text>"}.
    if v.get("Type").and_then(|t| t.as_str()) == Some("Notification") && depth < MAX_WRAPPING {
        let inner = text(v, "Message").ok_or_else(|| NoticeError("an SNS notification without Message".into()))?;
        let inner: serde_json::Value =
            serde_json::from_str(&inner).map_err(|e| NoticeError(format!("SNS Message is not JSON ({e})")))?;
        return parse_value(&inner, depth + 1);
    }
    if v.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Notice::Ignored("s3:TestEvent"));
    }
    // EventBridge: {"source": "aws.s3", "detail-type": "Object Created", "detail": {...}}.
    if let Some(kind) = v.get("detail-type").and_then(|d| d.as_str()) {
        if v.get("source").and_then(|s| s.as_str()) != Some("aws.s3") {
            return Err(NoticeError(format!("an EventBridge event from {:?}, not aws.s3", v.get("source"))));
        }
        if kind != "Object Created" {
            return Ok(Notice::Ignored("an S3 event other than Object Created"));
        }
        let detail = v.get("detail").ok_or_else(|| NoticeError("an EventBridge event without detail".into()))?;
        let bucket = detail
            .pointer("/bucket/name")
            .and_then(|b| b.as_str())
            .ok_or_else(|| NoticeError("detail.bucket.name missing".into()))?;
        let key = detail
            .pointer("/object/key")
            .and_then(|k| k.as_str())
            .ok_or_else(|| NoticeError("detail.object.key missing".into()))?;
        let etag = detail.pointer("/object/etag").and_then(|e| e.as_str()).map(str::to_owned);
        return Ok(Notice::Created(vec![ObjectCreated { bucket: bucket.to_owned(), key: key.to_owned(), etag }]));
    }
    // S3: {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name"}, "object": {"key", "eTag"}}}]}.
    let records = v
        .get("Records")
        .and_then(|r| r.as_array())
        .ok_or_else(|| NoticeError("neither Records (S3), detail-type (EventBridge) nor an SNS Message".into()))?;
    let mut created = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let name = r.get("eventName").and_then(|n| n.as_str()).unwrap_or_default();
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let bucket = r
            .pointer("/s3/bucket/name")
            .and_then(|b| b.as_str())
            .ok_or_else(|| NoticeError(format!("Records[{i}].s3.bucket.name missing")))?;
        let key = r
            .pointer("/s3/object/key")
            .and_then(|k| k.as_str())
            .ok_or_else(|| NoticeError(format!("Records[{i}].s3.object.key missing")))?;
        let key = url_decode(key).ok_or_else(|| NoticeError(format!("Records[{i}].s3.object.key: bad encoding")))?;
        let etag = r.pointer("/s3/object/eTag").and_then(|e| e.as_str()).map(str::to_owned);
        created.push(ObjectCreated { bucket: bucket.to_owned(), key, etag });
    }
    if created.is_empty() {
        return Ok(Notice::Ignored("no ObjectCreated record"));
    }
    Ok(Notice::Created(created))
}

/// Decodes a key as S3 writes it in notifications (form encoding: `+` is a space, `%XX` a
/// byte, the result UTF-8).
fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The in-memory twin of an SQS queue: at-least-once delivery, receipts, and a visibility
/// timeout that tests expire by hand ([`MemoryQueue::expire_in_flight`]).
#[cfg(any(test, feature = "testing"))]
#[derive(Clone, Default)]
pub struct MemoryQueue {
    inner: std::sync::Arc<std::sync::Mutex<MemoryQueueState>>,
}

#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
struct MemoryQueueState {
    next_id: u64,
    next_receipt: u64,
    visible: std::collections::VecDeque<(String, String)>,
    /// receipt -> (id, body)
    in_flight: std::collections::BTreeMap<String, (String, String)>,
    deleted: u64,
}

#[cfg(any(test, feature = "testing"))]
impl MemoryQueue {
    /// Sends a message.
    pub fn send(&self, body: impl Into<String>) {
        let mut g = self.lock();
        g.next_id += 1;
        let id = format!("m{}", g.next_id);
        g.visible.push_back((id, body.into()));
    }

    /// Makes every message received and not deleted visible again (their visibility timeout
    /// passed).
    pub fn expire_in_flight(&self) {
        let mut g = self.lock();
        let back: Vec<(String, String)> = std::mem::take(&mut g.in_flight).into_values().collect();
        g.visible.extend(back);
    }

    /// Messages waiting or in flight.
    pub fn len(&self) -> usize {
        let g = self.lock();
        g.visible.len() + g.in_flight.len()
    }

    /// Whether no message waits or is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages deleted so far.
    pub fn deleted(&self) -> u64 {
        self.lock().deleted
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryQueueState> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(any(test, feature = "testing"))]
impl Queue for MemoryQueue {
    fn receive(&self, max: usize, _wait: std::time::Duration) -> QueueFuture<'_, Vec<QueueMessage>> {
        Box::pin(async move {
            let mut g = self.lock();
            let mut out = Vec::new();
            while out.len() < max {
                let Some((id, body)) = g.visible.pop_front() else { break };
                g.next_receipt += 1;
                let receipt = format!("r{}", g.next_receipt);
                g.in_flight.insert(receipt.clone(), (id.clone(), body.clone()));
                out.push(QueueMessage { id, receipt, body, sent_ms: None });
            }
            Ok(out)
        })
    }

    fn delete<'a>(&'a self, receipts: &'a [String]) -> QueueFuture<'a, ()> {
        Box::pin(async move {
            let mut g = self.lock();
            for r in receipts {
                if g.in_flight.remove(r).is_some() {
                    g.deleted += 1;
                }
            }
            Ok(())
        })
    }

    fn release<'a>(&'a self, receipts: &'a [String], _after: std::time::Duration) -> QueueFuture<'a, ()> {
        Box::pin(async move {
            let mut g = self.lock();
            for r in receipts {
                if let Some(m) = g.in_flight.remove(r) {
                    g.visible.push_back(m);
                }
            }
            Ok(())
        })
    }

    fn name(&self) -> &str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(bucket: &str, key: &str) -> ObjectCreated {
        ObjectCreated { bucket: bucket.into(), key: key.into(), etag: Some("\"e\"".into()) }
    }

    #[test]
    fn reads_s3_messages_with_encoded_keys() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"b"},"object":{"key":"capture%2Fep%2FAllTraffic%2F2026%2F03%2F01%2F00%2Fa+b%C3%A9.jsonl","size":3,"eTag":"\"e\""}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"x"}}}]}"#;
        assert_eq!(
            parse_message(body),
            Ok(Notice::Created(vec![created("b", "capture/ep/AllTraffic/2026/03/01/00/a bé.jsonl")]))
        );
    }

    #[test]
    fn reads_eventbridge_and_sns_wrapped_messages() {
        let eb = r#"{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",
            "detail":{"bucket":{"name":"b"},"object":{"key":"capture/ep/v/2026/03/01/00/a b.jsonl","size":3,"etag":"\"e\""}}}"#;
        assert_eq!(parse_message(eb), Ok(Notice::Created(vec![created("b", "capture/ep/v/2026/03/01/00/a b.jsonl")])));
        let tags = eb.replace("Object Created", "Object Tags Added");
        assert!(matches!(parse_message(&tags), Ok(Notice::Ignored(_))));
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"b"},"object":{"key":"k%3D1","eTag":"\"e\""}}}]}"#;
        let sns = serde_json::json!({"Type": "Notification", "MessageId": "1", "Message": s3}).to_string();
        assert_eq!(parse_message(&sns), Ok(Notice::Created(vec![created("b", "k=1")])));
        let twice = serde_json::json!({"Type": "Notification", "Message": sns}).to_string();
        assert!(parse_message(&twice).is_err(), "only one SNS wrapping");
    }

    #[test]
    fn ignores_test_events_and_names_what_is_wrong() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-03-01T00:00:00Z","Bucket":"b"}"#;
        assert_eq!(parse_message(test), Ok(Notice::Ignored("s3:TestEvent")));
        assert!(parse_message("nope").unwrap_err().0.contains("not JSON"));
        assert!(parse_message("{}").unwrap_err().0.contains("neither Records"));
        let no_key = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}"#;
        assert!(parse_message(no_key).unwrap_err().0.contains("Records[0].s3.object.key"));
        let bad =
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%G1"}}}]}"#;
        assert!(parse_message(bad).unwrap_err().0.contains("bad encoding"));
    }

    proptest::proptest! {
        /// Any key S3 can hold comes back from its form encoding.
        #[test]
        fn form_encoded_keys_decode_to_themselves(key in "\\PC{0,40}") {
            let mut enc = String::new();
            for b in key.bytes() {
                match b {
                    b' ' => enc.push('+'),
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => enc.push(b as char),
                    _ => enc.push_str(&format!("%{b:02X}")),
                }
            }
            proptest::prop_assert_eq!(url_decode(&enc), Some(key));
        }

        /// No body makes the reader panic.
        #[test]
        fn any_body_is_read_or_refused(body in "\\PC{0,200}") {
            let _ = parse_message(&body);
        }
    }

    #[tokio::test]
    async fn the_twin_redelivers_what_was_not_deleted() {
        let q = MemoryQueue::default();
        q.send("a");
        q.send("b");
        let got = q.receive(10, std::time::Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 2);
        assert!(q.receive(10, std::time::Duration::ZERO).await.unwrap().is_empty(), "in flight");
        q.delete(&[got[0].receipt.clone()]).await.unwrap();
        q.expire_in_flight();
        let again = q.receive(10, std::time::Duration::ZERO).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].id.as_str(), again[0].body.as_str()), (got[1].id.as_str(), "b"));
        assert_ne!(again[0].receipt, got[1].receipt);
        assert_eq!(q.deleted(), 1);
    }
}
