//! Every metric driftwatch emits, in one place, with its description. Labels are kept to the
//! stream (`endpoint/variant`), a skip reason or an outcome: low cardinality by construction.

/// Seconds since the oldest notification in the latest batch was sent to the queue.
pub const QUEUE_LAG: &str = "driftwatch_queue_lag_seconds";
/// Notifications taken from the queue, by outcome: `routed` (to a monitored stream),
/// `ignored` (a test message, another event, an object no monitor watches), `unreadable`.
pub const NOTIFICATIONS: &str = "driftwatch_notifications_total";
/// Notifications deleted once their objects were recorded.
pub const NOTIFICATIONS_DELETED: &str = "driftwatch_notifications_deleted_total";
/// Workers alive (heartbeats unexpired), as this worker counted them.
pub const WORKERS_LIVE: &str = "driftwatch_workers_live";
/// Stream ownership changes of this worker: `taken`, `released`, `lost`.
pub const OWNERSHIP_CHANGES: &str = "driftwatch_ownership_changes_total";
/// Capture objects read.
pub const OBJECTS: &str = "driftwatch_objects_read_total";
/// Bytes of capture objects read.
pub const BYTES: &str = "driftwatch_bytes_read_total";
/// Rows profiled.
pub const ROWS: &str = "driftwatch_rows_total";
/// Records, rows or values skipped, by reason.
pub const SKIPPED: &str = "driftwatch_skipped_total";
/// Windows closed.
pub const WINDOWS_CLOSED: &str = "driftwatch_windows_closed_total";
/// Events the bus accepted.
pub const EVENTS_SENT: &str = "driftwatch_events_sent_total";
/// Event publishing failures: a failed call (`call`) or an event given up (`dropped`).
pub const EVENTS_FAILED: &str = "driftwatch_events_failed_total";
/// Events waiting in the outbox.
pub const OUTBOX: &str = "driftwatch_outbox_events";
/// Seconds between now and the data time through which windows are closed.
pub const POLL_LAG: &str = "driftwatch_poll_lag_seconds";
/// Polls done (each lists and reads every due stream).
pub const POLLS: &str = "driftwatch_polls_total";
/// Wall seconds the last poll took (every due stream listed, read and checkpointed).
pub const POLL_SECONDS: &str = "driftwatch_poll_seconds";
/// Polls that failed (listing, reading, writing).
pub const POLL_FAILURES: &str = "driftwatch_poll_failures_total";
/// AWS calls made, per service (`s3`, `events`, `sagemaker`).
pub const AWS_CALLS: &str = "driftwatch_aws_calls_total";
/// AWS call attempts: one per call and one per retry (throttling, a dropped connection).
pub const AWS_ATTEMPTS: &str = "driftwatch_aws_attempts_total";
/// AWS calls that failed after their retries.
pub const AWS_FAILURES: &str = "driftwatch_aws_failures_total";
/// Object bodies read again because the connection broke off before their end.
pub const BODY_RETRIES: &str = "driftwatch_aws_body_retries_total";
/// Ground-truth objects read.
pub const LABEL_FILES: &str = "driftwatch_ground_truth_files_read_total";
/// Ground-truth labels by what became of them: `taken` (the first for its key), `duplicate`,
/// `skipped` (a line that gave none), `unmatched` (no prediction within the expiry),
/// `too_late` (after their prediction's window expired).
pub const LABELS: &str = "driftwatch_labels_total";
/// Model-quality windows judged.
pub const QUALITY_JUDGED: &str = "driftwatch_quality_windows_judged_total";
/// Predictions held for their labels (waiting to be judged, or for late labels).
pub const PREDICTIONS_HELD: &str = "driftwatch_quality_predictions_held";
/// Labels waiting for their prediction's window (or for the data time to reach them).
pub const LABELS_WAITING: &str = "driftwatch_labels_waiting";

/// Registers the descriptions with the installed recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_counter!(OBJECTS, Unit::Count, "Capture objects read.");
    describe_counter!(BYTES, Unit::Bytes, "Bytes of capture objects read.");
    describe_counter!(ROWS, Unit::Count, "Rows profiled.");
    describe_counter!(SKIPPED, Unit::Count, "Records, rows or values skipped, by reason.");
    describe_counter!(WINDOWS_CLOSED, Unit::Count, "Windows closed.");
    describe_counter!(EVENTS_SENT, Unit::Count, "Events the event bus accepted.");
    describe_counter!(
        EVENTS_FAILED,
        Unit::Count,
        "Failed PutEvents calls (reason=call) and events given up (reason=dropped)."
    );
    describe_gauge!(OUTBOX, Unit::Count, "Events waiting in the outbox.");
    describe_gauge!(POLL_LAG, Unit::Seconds, "Seconds between now and the data time through which windows are closed.");
    describe_gauge!(POLL_SECONDS, Unit::Seconds, "Wall seconds the last poll took.");
    describe_counter!(POLLS, Unit::Count, "Polls done.");
    describe_counter!(POLL_FAILURES, Unit::Count, "Polls that failed.");
    describe_counter!(AWS_CALLS, Unit::Count, "AWS calls made, per service.");
    describe_counter!(AWS_ATTEMPTS, Unit::Count, "AWS call attempts (one per call, one per retry), per service.");
    describe_counter!(AWS_FAILURES, Unit::Count, "AWS calls that failed after their retries, per service.");
    describe_counter!(BODY_RETRIES, Unit::Count, "Object bodies read again after the connection broke off.");
    describe_counter!(LABEL_FILES, Unit::Count, "Ground-truth objects read.");
    describe_counter!(
        LABELS,
        Unit::Count,
        "Ground-truth labels by outcome: taken, duplicate, skipped, unmatched, too_late."
    );
    describe_counter!(QUALITY_JUDGED, Unit::Count, "Model-quality windows judged.");
    describe_gauge!(PREDICTIONS_HELD, Unit::Count, "Predictions held for their labels.");
    describe_gauge!(LABELS_WAITING, Unit::Count, "Labels waiting for their prediction's window.");
    describe_gauge!(QUEUE_LAG, Unit::Seconds, "Seconds since the oldest notification of the latest batch was sent.");
    describe_counter!(NOTIFICATIONS, Unit::Count, "Notifications taken, by outcome: routed, ignored, unreadable.");
    describe_gauge!(WORKERS_LIVE, Unit::Count, "Workers alive, as this worker counted them.");
    describe_counter!(OWNERSHIP_CHANGES, Unit::Count, "Stream ownership changes: taken, released, lost.");
    describe_counter!(NOTIFICATIONS_DELETED, Unit::Count, "Notifications deleted once their objects were recorded.");
}
