//! `driftwatch serve`: the long-running agent (and, one pass at a time, the Lambda handler).
//!
//! Per stream, each poll: list the capture objects from the cursor on; read every hour folder
//! that has *settled* (its hour ended `settle` ago), in key order, exactly as `replay` does;
//! close the windows those folders complete; write their reports; queue their events in the
//! outbox; checkpoint; then send the outbox. Objects that land in a folder after it settled are
//! found by re-listing the last few folders and counted as late. See `pipeline/design.md`.

#[cfg(feature = "aws")]
pub mod http;
#[cfg(feature = "aws")]
pub mod wiring;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use crate::baseline::{Baseline, BaselineError, CONSTRAINTS_FILE, STATISTICS_FILE};
use crate::capture::layout::{RootNames, StreamId};
use crate::checkpoint::{CheckpointError, CheckpointStore, Cursor, StreamCheckpoint};
use crate::classify::ClassifierConfig;
use crate::config::{Config, MonitorConfig, StartAt};
use crate::discovery::{Discovery, DiscoveryError};
use crate::pipeline::{ClosedWindow, RecordIssue, StreamEngine};
use crate::publish::bus::{publish, BusEntry, EventBus, OutboxEntry};
use crate::publish::events::{EventEnvelope, EventSettings};
use crate::publish::metrics_table::WindowTables;
use crate::publish::window::{deliver, EventTime, ReportFiles, ReportLocation, WindowPath};
use crate::source::{CaptureSource, SourceError};
use crate::store::{read_baseline_files, Location, ObjectStore, StoreError, StoreFactory};
use crate::telemetry;
use crate::time::{Duration, Timestamp};

/// Folders re-listed after they settled, to find objects that land late.
pub const LATE_SCAN_FOLDERS: usize = 3;
/// Capture objects fetched concurrently (memory is bounded by this many objects).
pub const FETCH_CONCURRENCY: usize = 8;
/// Time kept free before a deadline for the last checkpoint and the outbox.
pub const DEADLINE_RESERVE: StdDuration = StdDuration::from_secs(2);

/// Wall-clock time, injectable for tests.
pub trait Clock: Send + Sync {
    /// Returns the current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp::from_millis(ms)
    }
}

/// A clock tests move by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: Timestamp) -> Self {
        ManualClock(Arc::new(Mutex::new(t)))
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.lock().map(|g| *g).unwrap_or(Timestamp::from_millis(0))
    }
}

/// Why the service cannot start or a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A configuration problem found at start.
    #[error("{0}")]
    Config(String),
    /// A SageMaker lookup failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A baseline cannot be loaded.
    #[error("[[monitor]] {endpoint}: baseline: {source}")]
    Baseline {
        /// The endpoint.
        endpoint: String,
        /// The error.
        source: BaselineError,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Listing or reading capture failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A checkpoint cannot be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Rendering a report failed.
    #[error("report: {0}")]
    Report(String),
    /// Reading a capture object failed.
    #[error("{uri}: {detail}")]
    Read {
        /// The object.
        uri: String,
        /// What went wrong.
        detail: String,
    },
}

/// The service's health, shared with the HTTP endpoints.
#[derive(Debug, Default)]
pub struct Health {
    inner: Mutex<HealthState>,
}

#[derive(Debug, Default, Clone)]
struct HealthState {
    ready: bool,
    last_success: BTreeMap<String, Timestamp>,
}

impl Health {
    fn set_ready(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.ready = true;
        }
    }

    fn poll_succeeded(&self, monitor: &str, at: Timestamp) {
        if let Ok(mut g) = self.inner.lock() {
            g.last_success.insert(monitor.to_owned(), at);
        }
    }

    /// Returns `(healthy, per-monitor seconds since the last successful poll)`: healthy when
    /// configuration and baselines are loaded and every monitor polled successfully within
    /// `unhealthy_after`.
    pub fn check(&self, now: Timestamp, unhealthy_after: Duration) -> (bool, Vec<(String, Option<f64>)>) {
        let Ok(g) = self.inner.lock() else { return (false, vec![]) };
        let ages: Vec<(String, Option<f64>)> = g
            .last_success
            .iter()
            .map(|(m, t)| (m.clone(), Some((now.millis() - t.millis()) as f64 / 1000.0)))
            .collect();
        let fresh = ages.iter().all(|(_, a)| a.is_some_and(|s| s * 1000.0 <= unhealthy_after.millis() as f64));
        (g.ready && fresh && !ages.is_empty(), ages)
    }
}

struct StreamRuntime {
    id: StreamId,
    engine: StreamEngine,
    /// Compare, classify, render: the window path every driver shares.
    path: WindowPath,
    cursor: Cursor,
    outbox: Vec<OutboxEntry>,
}

struct MonitorRuntime<S> {
    cfg: MonitorConfig,
    /// The endpoint's capture destination (its streams are `{endpoint}/{variant}/` below it).
    capture: CaptureSource<S>,
    baseline: Arc<Baseline>,
    streams: BTreeMap<StreamId, StreamRuntime>,
    next_poll: Timestamp,
    start: Timestamp,
}

/// What one poll of one stream did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Hour folders read.
    pub folders: u64,
    /// Objects read.
    pub objects: u64,
    /// Windows closed.
    pub windows: u64,
    /// Events queued.
    pub events_queued: u64,
    /// Events the bus took.
    pub events_sent: u64,
    /// The poll stopped before reading every settled folder because the deadline was near;
    /// the next poll goes on from the checkpoint.
    pub stopped_early: bool,
}

/// The running service.
pub struct Service<S, B> {
    monitors: Vec<MonitorRuntime<S>>,
    state: CheckpointStore<S>,
    reports: Option<S>,
    bus: Option<B>,
    clock: Arc<dyn Clock>,
    settings: EventSettings,
    classifier: ClassifierConfig,
    health: Arc<Health>,
    factory: Box<dyn StoreFactory<S>>,
    /// Retries of retryable PutEvents failures within a pass, and the first backoff.
    pub retries: (u32, StdDuration),
    deadline: Option<std::time::Instant>,
    slowest_folder: StdDuration,
}

/// Splits an object URI (`s3://bucket/dir/file` or a path) into its folder and file name.
fn split_object_uri(uri: &str) -> (Location, String) {
    let trimmed = uri.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((dir, file)) => (Location::parse(&format!("{dir}/")), file.to_owned()),
        None => (Location::parse("."), trimmed.to_owned()),
    }
}

impl<S: ObjectStore + 'static, B: EventBus> Service<S, B> {
    /// Resolves every monitor (discovering capture and baseline where the config leaves them
    /// out), loads baselines and checkpoints. Any problem is a startup error naming the monitor.
    pub async fn start<D: Discovery>(
        config: &Config,
        discovery: &D,
        factory: Box<dyn StoreFactory<S>>,
        bus: Option<B>,
        clock: Arc<dyn Clock>,
        settings: EventSettings,
    ) -> Result<Self, ServeError> {
        let state_uri = config.state.as_deref().ok_or_else(|| {
            ServeError::Config(
                "[state] uri is required by serve: checkpoints live there (s3://bucket/prefix/ or a folder)".into(),
            )
        })?;
        if config.monitors.is_empty() {
            return Err(ServeError::Config("no [[monitor]]: add one per endpoint to watch".into()));
        }
        let state = CheckpointStore::new(factory.open(&Location::parse(state_uri))?);
        let reports = match &config.reports {
            Some(u) => Some(factory.open(&Location::parse(u))?),
            None => None,
        };
        let now = clock.now();
        let mut monitors = Vec::new();
        for m in &config.monitors {
            let capture_uri = match &m.capture {
                Some(u) => u.clone(),
                None => discovery.capture_destination(&m.endpoint).await?,
            };
            let root = RootNames { name: "capture".into(), parent: String::new() };
            let capture = CaptureSource::new(factory.open(&Location::parse(&capture_uri))?, root, capture_uri.clone());
            let baseline = load_baseline(m, discovery, factory.as_ref()).await?;
            let start = match m.start {
                StartAt::Earliest => Timestamp::from_millis(0),
                StartAt::Now => now.floor(Duration::from_hours(1)),
                StartAt::At(t) => t.floor(Duration::from_hours(1)),
            };
            tracing::info!(endpoint = %m.endpoint, capture = %capture_uri, baseline = %baseline.source, features = baseline.features.len(), "monitor ready");
            monitors.push(MonitorRuntime {
                cfg: m.clone(),
                capture,
                baseline: Arc::new(baseline),
                streams: BTreeMap::new(),
                next_poll: now,
                start,
            });
        }
        let health = Arc::new(Health::default());
        health.set_ready();
        Ok(Service {
            monitors,
            state,
            reports,
            bus,
            clock,
            settings,
            classifier: config.classifier.clone(),
            health,
            factory,
            retries: (3, StdDuration::from_millis(200)),
            deadline: None,
            slowest_folder: StdDuration::ZERO,
        })
    }

    /// From now on, polls start another folder only while twice the slowest folder so far plus
    /// [`DEADLINE_RESERVE`] fits before `deadline`, and say when they stopped early (the Lambda
    /// handler sets the invocation's deadline). `None` lifts it.
    pub fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        self.deadline = deadline;
    }

    fn time_for_a_folder(&self) -> bool {
        self.deadline.is_none_or(|d| std::time::Instant::now() + self.slowest_folder * 2 + DEADLINE_RESERVE < d)
    }

    /// Forgets every stream's in-memory state, so the next poll starts from the checkpoints
    /// (a Lambda instance may have been idle while another one went on).
    pub fn reload_from_checkpoints(&mut self) {
        for m in &mut self.monitors {
            m.streams.clear();
        }
    }

    /// Returns the shared health (for `/healthz`).
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Returns the store factory (the Lambda handler reuses it).
    pub fn factory(&self) -> &dyn StoreFactory<S> {
        self.factory.as_ref()
    }

    /// Returns the earliest time a monitor is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.monitors.iter().map(|m| m.next_poll).min()
    }

    /// Polls every monitor that is due (all of them when `all`). Errors are logged per monitor
    /// and the others go on; returns the per-stream reports and the number of failed monitors.
    pub async fn poll(&mut self, all: bool) -> (BTreeMap<StreamId, PollReport>, usize) {
        let now = self.clock.now();
        let mut reports = BTreeMap::new();
        let mut failed = 0;
        for i in 0..self.monitors.len() {
            if !all && self.monitors[i].next_poll > now {
                continue;
            }
            match self.poll_monitor(i).await {
                Ok(r) => {
                    reports.extend(r);
                    self.health.poll_succeeded(&self.monitors[i].cfg.endpoint, self.clock.now());
                }
                Err(e) => {
                    failed += 1;
                    tracing::error!(endpoint = %self.monitors[i].cfg.endpoint, error = %e, "poll failed");
                    metrics::counter!(telemetry::POLL_FAILURES, "endpoint" => self.monitors[i].cfg.endpoint.clone())
                        .increment(1);
                }
            }
            let m = &mut self.monitors[i];
            m.next_poll = now + m.cfg.poll_interval;
        }
        (reports, failed)
    }

    async fn poll_monitor(&mut self, i: usize) -> Result<BTreeMap<StreamId, PollReport>, ServeError> {
        self.discover_streams(i).await?;
        let ids: Vec<StreamId> = self.monitors[i].streams.keys().cloned().collect();
        let mut out = BTreeMap::new();
        for id in ids {
            let report = self.poll_stream(i, &id).await?;
            out.insert(id, report);
        }
        Ok(out)
    }

    /// Adds the monitor's streams not yet known: the configured variant, or every variant
    /// folder under the endpoint's capture prefix.
    async fn discover_streams(&mut self, i: usize) -> Result<(), ServeError> {
        let m = &self.monitors[i];
        let endpoint = m.cfg.endpoint.clone();
        let variants: Vec<String> = match &m.cfg.variant {
            Some(v) => vec![v.clone()],
            None => m.capture.variants(&endpoint).await?,
        };
        for v in variants {
            let id = StreamId::new(&endpoint, &v);
            if self.monitors[i].streams.contains_key(&id) {
                continue;
            }
            let rt = self.open_stream(i, id.clone()).await?;
            self.monitors[i].streams.insert(id, rt);
        }
        Ok(())
    }

    async fn open_stream(&mut self, i: usize, id: StreamId) -> Result<StreamRuntime, ServeError> {
        let m = &self.monitors[i];
        let baseline = m.baseline.clone();
        // Without a known account the endpoint's ARN cannot be built; `resources` stays empty.
        let resources: Vec<String> =
            self.settings.account_known().then(|| self.settings.endpoint_arn(&id.endpoint)).into_iter().collect();
        match self.state.load(&id).await? {
            Some(cp) => {
                if cp.window != m.cfg.window {
                    return Err(ServeError::Config(format!(
                        "{id}: the checkpoint was written with window {} but the config says {}; delete {} to start over",
                        cp.window,
                        m.cfg.window,
                        self.state.store().uri(&crate::checkpoint::key(&id))
                    )));
                }
                let checkpoint_uri = self.state.store().uri(&crate::checkpoint::key(&id));
                if cp.baseline != baseline.source {
                    tracing::warn!(stream = %id, was = %cp.baseline, now = %baseline.source, "the baseline changed since the checkpoint; windows already open keep their profiles");
                }
                let engine = StreamEngine::restore(id.clone(), baseline, cp.engine)
                    .map_err(|e| ServeError::Config(format!("{id}: {e}; delete {checkpoint_uri} to start over")))?;
                tracing::info!(stream = %id, next_hour = ?cp.cursor.next_hour.map(|t| t.to_string()), outbox = cp.outbox.len(), "resumed from checkpoint");
                let path = WindowPath::resume(m.baseline.clone(), cp.classifier, self.settings.clone())
                    .with_resources(resources);
                Ok(StreamRuntime { id, engine, path, cursor: cp.cursor, outbox: cp.outbox })
            }
            None => {
                let cursor = Cursor { next_hour: (m.start.millis() > 0).then_some(m.start), recent: BTreeMap::new() };
                Ok(StreamRuntime {
                    engine: StreamEngine::new(id.clone(), baseline.clone(), m.cfg.window),
                    path: WindowPath::new(id.clone(), baseline, self.classifier.clone(), self.settings.clone())
                        .with_resources(resources),
                    id,
                    cursor,
                    outbox: Vec::new(),
                })
            }
        }
    }

    async fn poll_stream(&mut self, i: usize, id: &StreamId) -> Result<PollReport, ServeError> {
        let now = self.clock.now();
        let settle = self.monitors[i].cfg.settle;
        // Folders whose hour ended `settle` ago are complete; windows ending there can close.
        let settled_end = (now - settle).floor(Duration::from_hours(1));
        let mut report = PollReport::default();
        if !self.time_for_a_folder() {
            report.stopped_early = true;
            return Ok(report);
        }
        let Some(mut rt) = self.monitors[i].streams.remove(id) else { return Ok(report) };
        let result = self.poll_stream_inner(i, &mut rt, settled_end, &mut report).await;
        self.monitors[i].streams.insert(id.clone(), rt);
        result.map(|()| report)
    }

    async fn poll_stream_inner(
        &mut self,
        i: usize,
        rt: &mut StreamRuntime,
        settled_end: Timestamp,
        report: &mut PollReport,
    ) -> Result<(), ServeError> {
        let stream_label = rt.id.to_string();
        // List from the oldest folder still watched for late objects.
        let list_from = rt.cursor.recent.keys().next().copied().into_iter().chain(rt.cursor.next_hour).min();
        let folders: BTreeMap<Timestamp, Vec<String>> = self.monitors[i]
            .capture
            .hour_folders(&rt.id, list_from)
            .await?
            .into_iter()
            .map(|(h, objects)| (h, objects.into_iter().map(|o| o.key).collect()))
            .collect();
        // Objects that landed in folders already read: their records are late.
        let late: Vec<(Timestamp, String)> = folders
            .iter()
            .filter(|(h, _)| rt.cursor.recent.contains_key(h))
            .flat_map(|(h, objs)| {
                let seen = &rt.cursor.recent[h];
                objs.iter().filter(|k| !seen.contains(*k)).map(|k| (*h, k.clone())).collect::<Vec<_>>()
            })
            .collect();
        for (hour, key) in late {
            tracing::warn!(stream = %stream_label, key = %key, "object landed after its hour folder settled; its records count as late");
            self.ingest_objects(i, rt, hour, std::slice::from_ref(&key)).await?;
            if let Some(set) = rt.cursor.recent.get_mut(&hour) {
                set.insert(key);
            }
            report.objects += 1;
        }
        // New settled folders, in order.
        let due: Vec<Timestamp> = folders
            .keys()
            .copied()
            .filter(|h| rt.cursor.next_hour.is_none_or(|n| *h >= n) && *h + Duration::from_hours(1) <= settled_end)
            .collect();
        for hour in due {
            if !self.time_for_a_folder() {
                report.stopped_early = true;
                break;
            }
            let started = std::time::Instant::now();
            let keys = &folders[&hour];
            let closed = rt.engine.advance_to_folder(Some(hour));
            self.handle_closed(rt, closed, report).await?;
            self.ingest_objects(i, rt, hour, keys).await?;
            let closed = rt.engine.close_through(hour + Duration::from_hours(1));
            self.handle_closed(rt, closed, report).await?;
            rt.cursor.next_hour = Some(hour + Duration::from_hours(1));
            rt.cursor.recent.insert(hour, keys.iter().cloned().collect());
            while rt.cursor.recent.len() > LATE_SCAN_FOLDERS {
                rt.cursor.recent.pop_first();
            }
            report.folders += 1;
            report.objects += keys.len() as u64;
            self.checkpoint(i, rt).await?;
            self.slowest_folder = self.slowest_folder.max(started.elapsed());
        }
        // Time has passed beyond the data: windows up to the settled horizon are complete
        // (unless folders before it are still unread).
        if !report.stopped_early {
            if rt.cursor.next_hour.is_none_or(|n| n < settled_end) {
                rt.cursor.next_hour = Some(settled_end);
            }
            let closed = rt.engine.close_through(settled_end);
            self.handle_closed(rt, closed, report).await?;
        }
        if let Some(t) = rt.engine.closed_through() {
            let lag = (self.clock.now().millis() - t.millis()) as f64 / 1000.0;
            metrics::gauge!(telemetry::POLL_LAG, "stream" => stream_label.clone()).set(lag);
        }
        self.checkpoint(i, rt).await?;
        report.events_sent += self.flush_outbox(i, rt).await?;
        Ok(())
    }

    /// Reads objects of one folder in key order, fetching up to [`FETCH_CONCURRENCY`] ahead.
    async fn ingest_objects(
        &mut self,
        i: usize,
        rt: &mut StreamRuntime,
        hour: Timestamp,
        keys: &[String],
    ) -> Result<(), ServeError> {
        let label = rt.id.to_string();
        let capture = &self.monitors[i].capture;
        let mut issue_log: BTreeMap<crate::profile::SkipReason, u64> = BTreeMap::new();
        for chunk in keys.chunks(FETCH_CONCURRENCY) {
            let fetched = futures_util::future::join_all(chunk.iter().map(|k| capture.read(k))).await;
            for (key, bytes) in chunk.iter().zip(fetched) {
                let bytes = bytes?;
                let mut on_issue = |issue: &RecordIssue| {
                    let n = issue_log.entry(issue.reason).or_default();
                    *n += 1;
                    if *n <= 5 {
                        tracing::warn!(stream = %label, file = %issue.file, line = issue.line, reason = issue.reason.as_str(), detail = %issue.detail, "skipped");
                    }
                    metrics::counter!(telemetry::SKIPPED, "stream" => label.clone(), "reason" => issue.reason.as_str())
                        .increment(1);
                };
                let before = rt.engine.totals().rows;
                rt.engine
                    .ingest(key, Some(hour), &bytes[..], &mut on_issue)
                    .map_err(|e| ServeError::Read { uri: capture.uri(key), detail: e.to_string() })?;
                metrics::counter!(telemetry::OBJECTS, "stream" => label.clone()).increment(1);
                metrics::counter!(telemetry::BYTES, "stream" => label.clone()).increment(bytes.len() as u64);
                metrics::counter!(telemetry::ROWS, "stream" => label.clone())
                    .increment(rt.engine.totals().rows - before);
            }
        }
        Ok(())
    }

    async fn handle_closed(
        &mut self,
        rt: &mut StreamRuntime,
        closed: Vec<ClosedWindow>,
        report: &mut PollReport,
    ) -> Result<(), ServeError> {
        let mut files = ReportFiles::default();
        let mut tables = WindowTables::default();
        for cw in closed {
            let location = self.reports.as_ref().map(|s| s as &dyn ReportLocation);
            let judged = rt.path.judge(cw, location, EventTime::Now(self.clock.now()));
            report.windows += 1;
            metrics::counter!(telemetry::WINDOWS_CLOSED, "stream" => rt.id.to_string()).increment(1);
            // Reports before the window's events are queued: an event never points at a report
            // that is not there.
            if let Some(store) = &self.reports {
                deliver(&judged, &mut [&mut files, &mut tables]).map_err(|e| ServeError::Report(e.to_string()))?;
                for (key, bytes) in files.take().into_iter().chain(tables.take()) {
                    store.put(&key, bytes).await?;
                }
            }
            for (d, envelope) in judged.outcome.decisions.iter().zip(&judged.envelopes) {
                tracing::info!(stream = %rt.id, kind = d.kind.as_str(), episode = %d.episode_id, detected_at = %d.detected_at, "drift decision");
                rt.outbox.push(OutboxEntry {
                    id: d.event_id.clone(),
                    entry: envelope.bus_entry(),
                    attempts: 0,
                    last_error: None,
                });
                report.events_queued += 1;
            }
        }
        Ok(())
    }

    async fn checkpoint(&mut self, i: usize, rt: &StreamRuntime) -> Result<(), ServeError> {
        let cp = StreamCheckpoint {
            stream: rt.id.clone(),
            window: rt.engine.window(),
            baseline: self.monitors[i].baseline.source.clone(),
            cursor: rt.cursor.clone(),
            engine: rt.engine.snapshot(),
            classifier: rt.path.classifier().clone(),
            outbox: rt.outbox.clone(),
        };
        self.state.save(cp).await?;
        Ok(())
    }

    /// Sends the stream's outbox; logs events when there is no bus. Returns events sent.
    async fn flush_outbox(&mut self, i: usize, rt: &mut StreamRuntime) -> Result<u64, ServeError> {
        if rt.outbox.is_empty() {
            return Ok(0);
        }
        let Some(bus) = &self.bus else {
            for e in rt.outbox.drain(..) {
                tracing::info!(id = %e.id, detail_type = %e.entry.detail_type, detail = %e.entry.detail, "event (no [events] bus: logged only)");
            }
            self.checkpoint(i, rt).await?;
            return Ok(0);
        };
        let outbox = std::mem::take(&mut rt.outbox);
        let outcome = publish(bus, outbox, self.retries.0, self.retries.1).await;
        let label = rt.id.to_string();
        for (id, event_id) in &outcome.sent {
            tracing::info!(stream = %label, id = %id, event_id = %event_id, "event sent");
        }
        metrics::counter!(telemetry::EVENTS_SENT, "stream" => label.clone()).increment(outcome.sent.len() as u64);
        for (id, err) in &outcome.dropped {
            tracing::error!(stream = %label, id = %id, error = %err, "event dropped after repeated refusals");
            metrics::counter!(telemetry::EVENTS_FAILED, "stream" => label.clone(), "reason" => "dropped").increment(1);
        }
        if let Some(e) = &outcome.error {
            tracing::warn!(stream = %label, error = %e, waiting = outcome.remaining.len(), "the bus did not take the events; they wait in the outbox");
            metrics::counter!(telemetry::EVENTS_FAILED, "stream" => label.clone(), "reason" => "call").increment(1);
        }
        let sent = outcome.sent.len() as u64;
        rt.outbox = outcome.remaining;
        metrics::gauge!(telemetry::OUTBOX, "stream" => label).set(rt.outbox.len() as f64);
        self.checkpoint(i, rt).await?;
        Ok(sent)
    }

    /// Writes every stream's checkpoint and tries once more to send the outboxes (shutdown).
    pub async fn flush(&mut self) -> Result<(), ServeError> {
        for i in 0..self.monitors.len() {
            let ids: Vec<StreamId> = self.monitors[i].streams.keys().cloned().collect();
            for id in ids {
                let Some(mut rt) = self.monitors[i].streams.remove(&id) else { continue };
                let r = async {
                    self.checkpoint(i, &rt).await?;
                    self.flush_outbox(i, &mut rt).await
                }
                .await;
                self.monitors[i].streams.insert(id, rt);
                r?;
            }
        }
        Ok(())
    }

    /// Returns the number of configured monitors.
    pub fn monitor_count(&self) -> usize {
        self.monitors.len()
    }

    /// Returns the events waiting in every outbox.
    pub fn outbox_len(&self) -> usize {
        self.monitors.iter().flat_map(|m| m.streams.values()).map(|s| s.outbox.len()).sum()
    }
}

async fn load_baseline<S: ObjectStore, D: Discovery>(
    m: &MonitorConfig,
    discovery: &D,
    factory: &dyn StoreFactory<S>,
) -> Result<Baseline, ServeError> {
    let err = |source| ServeError::Baseline { endpoint: m.endpoint.clone(), source };
    let (stats_at, cons_at) = match &m.baseline {
        Some(u) => {
            let loc = Location::parse(u);
            ((loc.clone(), STATISTICS_FILE.to_owned()), (loc, CONSTRAINTS_FILE.to_owned()))
        }
        None => {
            let uris = discovery.baseline(&m.endpoint).await?;
            (split_object_uri(&uris.statistics), split_object_uri(&uris.constraints))
        }
    };
    let stats_store = factory.open(&stats_at.0)?;
    let cons_store = factory.open(&cons_at.0)?;
    let source = m.baseline.clone().unwrap_or_else(|| stats_store.uri(""));
    read_baseline_files((&stats_store, &stats_at.1), (&cons_store, &cons_at.1), &source).await.map_err(err)
}

/// Runs polls until `stop` resolves, then flushes within `shutdown_timeout`.
pub async fn run<S: ObjectStore + 'static, B: EventBus>(
    mut service: Service<S, B>,
    stop: impl std::future::Future<Output = ()>,
    shutdown_timeout: StdDuration,
) -> Result<(), ServeError> {
    tokio::pin!(stop);
    loop {
        service.poll(false).await;
        let now = service.clock.now();
        let wait = service.next_due().map(|t| (t.millis() - now.millis()).max(0)).unwrap_or(60_000);
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(StdDuration::from_millis(wait as u64)) => {}
        }
    }
    tracing::info!(timeout_s = shutdown_timeout.as_secs(), "stopping: writing checkpoints and sending the outbox");
    match tokio::time::timeout(shutdown_timeout, service.flush()).await {
        Ok(r) => r,
        Err(_) => {
            tracing::error!("shutdown flush did not finish in time; the outbox stays in the last checkpoint");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;

/// Converts an envelope to its PutEvents entry (used by the service).
impl EventEnvelope {
    /// Returns the PutEvents entry of this event. A detail that would exceed the 256 KB batch
    /// limit loses its `evidence.series` first, then all but the first 20 features and 50
    /// violations.
    pub fn bus_entry(&self) -> BusEntry {
        let mut detail = self.detail.clone();
        let mut entry = entry_of(self, &detail);
        if entry.size() > crate::publish::bus::MAX_BATCH_BYTES {
            if let Some(obj) = detail.evidence.as_object_mut() {
                obj.remove("series");
                // The full series stays in the window's drift.json.
                obj.insert("seriesOmitted".into(), serde_json::Value::Bool(true));
            }
            entry = entry_of(self, &detail);
        }
        if entry.size() > crate::publish::bus::MAX_BATCH_BYTES {
            let omitted = (detail.features.len().saturating_sub(20), detail.violations.len().saturating_sub(50));
            detail.features.truncate(20);
            detail.violations.truncate(50);
            if let Some(obj) = detail.evidence.as_object_mut() {
                obj.insert("featuresOmitted".into(), omitted.0.into());
                obj.insert("violationsOmitted".into(), omitted.1.into());
            }
            entry = entry_of(self, &detail);
        }
        entry
    }
}

fn entry_of(e: &EventEnvelope, detail: &crate::publish::events::EventDetail) -> BusEntry {
    BusEntry {
        source: e.source.clone(),
        detail_type: e.detail_type.to_owned(),
        detail: serde_json::to_string(detail).unwrap_or_else(|_| "{}".to_owned()),
        resources: e.resources.clone(),
    }
}
