//! driftwatch as a Lambda function (`provided.al2023`): the same binary, started by the Lambda
//! runtime (`AWS_LAMBDA_RUNTIME_API` set, no arguments), handles each invocation, usually a
//! scheduled EventBridge event whose payload it ignores, with one pass of [`invoke`] over every
//! configured monitor.
//!
//! A pass reads what settled since the checkpoint, closes due windows, writes reports, publishes
//! and checkpoints, exactly as one poll of `serve`. It starts another hour folder only while
//! there is time for it before the invocation's deadline, so it always ends with a checkpoint;
//! the next invocation goes on from there. Each pass starts from the checkpoints in the state
//! store rather than from memory, because another instance may have run in between. Run at most
//! one invocation at a time (reserved concurrency 1): two writers to one checkpoint would
//! double-count.
//!
//! Configuration: `DRIFTWATCH_CONFIG_TEXT` (the TOML itself) or `DRIFTWATCH_CONFIG` (a path in
//! the package or an `s3://` URI), plus the usual `DRIFTWATCH_<SECTION>_<KEY>` overrides.

use crate::time::Timestamp;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::capture::layout::StreamId;
use crate::notify::QueueMessage;
use crate::publish::bus::EventBus;
use crate::serve::{PollReport, Service};
use crate::store::ObjectStore;

/// The function's response: what one invocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationSummary {
    /// Per stream (`endpoint/variant`).
    pub streams: Vec<StreamSummary>,
    /// Some settled folders were left for the next invocation (the deadline was near).
    pub stopped_early: bool,
    /// Events waiting in outboxes after the pass.
    pub outbox: usize,
    /// Monitors whose pass failed (listed in the logs; the invocation then fails).
    pub failed_monitors: usize,
    /// With an SQS event source: the notifications whose objects are not in a checkpoint yet
    /// (or that belong to a stream another invocation owns, or that cannot be read); the event
    /// source mapping (with `ReportBatchItemFailures`) delivers them again and deletes the rest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One message the event source mapping should deliver again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    /// The message id.
    pub item_identifier: String,
}

/// The messages of an SQS event (`Records[]` with `eventSource: "aws:sqs"`), none for any other
/// payload (a schedule's).
pub fn sqs_messages(payload: &serde_json::Value) -> Vec<QueueMessage> {
    let Some(records) = payload.get("Records").and_then(|r| r.as_array()) else { return Vec::new() };
    records
        .iter()
        .filter(|r| r.get("eventSource").and_then(|s| s.as_str()) == Some("aws:sqs"))
        .filter_map(|r| {
            let text = |f: &str| r.get(f).and_then(|v| v.as_str()).map(str::to_owned);
            Some(QueueMessage {
                id: text("messageId")?,
                receipt: text("receiptHandle")?,
                body: text("body").unwrap_or_default(),
                sent_ms: r.pointer("/attributes/SentTimestamp").and_then(|v| v.as_str()).and_then(|s| s.parse().ok()),
            })
        })
        .collect()
}

/// One stream's part of an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSummary {
    /// `endpoint/variant`.
    pub stream: String,
    /// Hour folders read.
    pub folders: u64,
    /// Capture objects read.
    pub objects: u64,
    /// Windows closed.
    pub windows: u64,
    /// Events decided.
    pub events_queued: u64,
    /// Events the bus took.
    pub events_sent: u64,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// Some monitors could not be polled; the others were, and everything is checkpointed.
    #[error("{failed} of {monitors} monitors failed (see the logs); the rest is checkpointed")]
    Monitors {
        /// Failed monitors.
        failed: usize,
        /// All monitors.
        monitors: usize,
    },
}

/// One pass over every monitor, stopping in time for `deadline`. `payload` is the invocation's
/// event: a schedule's is ignored; an SQS event's notifications are routed as `serve` routes
/// them, and those not recorded by the end of the pass are returned as batch item failures.
pub async fn invoke<S: ObjectStore + 'static, B: EventBus>(
    service: &mut Service<S, B>,
    deadline: Timestamp,
    payload: &serde_json::Value,
) -> Result<InvocationSummary, InvocationError> {
    service.reload_from_checkpoints();
    service.set_deadline(Some(deadline));
    let messages = sqs_messages(payload);
    let ids: Vec<(String, String)> = messages.iter().map(|m| (m.id.clone(), m.receipt.clone())).collect();
    let ignored = service.route(messages);
    let (reports, failed) = service.poll(true).await;
    service.set_deadline(None);
    let (recorded, _elsewhere) = service.sort_held();
    service.forget_held();
    // The next invocation (maybe another instance) takes the streams at once.
    service.release_leases().await;
    let mut summary = summarize(&reports, failed, service.outbox_len());
    summary.batch_item_failures = ids
        .into_iter()
        .filter(|(_, receipt)| !ignored.contains(receipt) && !recorded.contains(receipt))
        .map(|(id, _)| BatchItemFailure { item_identifier: id })
        .collect();
    tracing::info!(
        streams = summary.streams.len(),
        stopped_early = summary.stopped_early,
        outbox = summary.outbox,
        failed,
        "invocation done"
    );
    if failed > 0 {
        return Err(InvocationError::Monitors { failed, monitors: service.monitor_count() });
    }
    Ok(summary)
}

fn summarize(reports: &BTreeMap<StreamId, PollReport>, failed: usize, outbox: usize) -> InvocationSummary {
    InvocationSummary {
        streams: reports
            .iter()
            .map(|(id, r)| StreamSummary {
                stream: id.to_string(),
                folders: r.folders,
                objects: r.objects,
                windows: r.windows,
                events_queued: r.events_queued,
                events_sent: r.events_sent,
            })
            .collect(),
        stopped_early: reports.values().any(|r| r.stopped_early),
        outbox,
        failed_monitors: failed,
        batch_item_failures: Vec::new(),
    }
}

#[cfg(feature = "aws")]
pub use self::runtime::run;

#[cfg(feature = "aws")]
impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(e: InvocationError) -> Self {
        lambda_runtime::Diagnostic { error_type: "MonitorsFailed".into(), error_message: e.to_string() }
    }
}

#[cfg(feature = "aws")]
mod runtime {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use lambda_runtime::{service_fn, LambdaEvent};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::serve::wiring::{aws_service, load_config, CONFIG_AT};
    use crate::serve::SystemClock;

    /// Runs the Lambda runtime loop: loads the configuration and the baselines once (an error
    /// there is reported to the Runtime API as an init error), then serves invocations.
    pub async fn run() -> Result<(), lambda_runtime::Error> {
        let sdk = crate::aws::sdk_config().await;
        let at = std::env::var(CONFIG_AT).ok();
        let service = match load_config(at.as_deref(), &sdk).await {
            Ok(config) => aws_service(&config, &sdk, Arc::new(SystemClock)).await,
            Err(e) => Err(e),
        };
        let service = match service {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "init failed");
                report_init_error(&e.to_string()).await;
                return Err(e.into());
            }
        };
        let service = Arc::new(tokio::sync::Mutex::new(service));
        lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
            let service = service.clone();
            async move {
                let left = event.context.deadline().duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
                let mut s = service.lock().await;
                // The deadline on the service's clock, which every check reads.
                let deadline = s.clock().now() + crate::time::Duration::from_millis(left.as_millis() as i64);
                super::invoke(&mut s, deadline, &event.payload).await
            }
        }))
        .await
    }

    /// Tells the Runtime API that initialization failed (`POST /runtime/init/error`), so the
    /// error shows in the invocation's result and logs.
    async fn report_init_error(message: &str) {
        let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else { return };
        let body = serde_json::json!({"errorType": "Runtime.InitError", "errorMessage": message}).to_string();
        let request = format!(
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nLambda-Runtime-Function-Error-Type: Runtime.InitError\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let sent = async {
            let mut stream = tokio::net::TcpStream::connect(&api).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        match tokio::time::timeout(Duration::from_secs(5), sent).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not report the init error"),
            Err(_) => tracing::warn!("reporting the init error timed out"),
        }
    }
}
