//! `driftwatch serve`: the long-running agent (and, one pass at a time, the Lambda handler).
//!
//! Per stream, each poll: list the capture objects from the cursor on; read the objects not read
//! yet, folder by folder in key order, exactly as `replay` orders them; close the windows that
//! data time has passed (records `lateness` past their end, or `settle` behind the listing);
//! write their reports; queue their events in the outbox; checkpoint; then send the outbox.
//! Objects that land in a folder after its windows closed are found by re-listing the last few
//! folders and counted as late. Monitors that join ground truth read whole hour folders once
//! they settle. See `pipeline/design.md`.
//!
//! A poll starts every `poll_interval`, or at once when an object notification names one of the
//! monitor's streams ([`crate::notify`]; the interval is then the `sweep`). With `[workers]`,
//! a worker polls only the streams whose lease it holds ([`lease`]).
//!
//! Streams are polled concurrently ([`STREAM_CONCURRENCY`]) over one shared borrow of what does
//! not change during a poll (stores, bus, clock, settings); each stream owns its engine, cursor
//! and outbox. Objects are requested ahead in key order ([`FETCH_AHEAD`], within
//! [`FETCH_AHEAD_BUDGET`]), decoded ahead on tokio's blocking pool ([`DECODE_AHEAD`]), and
//! merged in key order, so results do not depend on timing. A
//! stop (SIGTERM) or a near deadline (read on the [`Clock`]) is checked between objects; a
//! stream stopped inside a folder drops its in-memory state and goes on from its checkpoint.

#[cfg(feature = "aws")]
pub mod http;
pub mod lease;
#[cfg(feature = "aws")]
pub mod wiring;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use crate::baseline::{Baseline, BaselineError, CONSTRAINTS_FILE, STATISTICS_FILE};
use crate::capture::layout::{RootPath, StreamId};
use crate::checkpoint::{CheckpointError, CheckpointStore, Cursor, QualityCheckpoint, StreamCheckpoint};
use crate::classify::ClassifierConfig;
use crate::config::{Config, MonitorConfig, StartAt};
use crate::discovery::{Discovery, DiscoveryError};
use crate::notify::{Queue, QueueMessage};
use crate::pipeline::predictions::PredictionSpec;
use crate::pipeline::{ClosedWindow, IssueSample, StreamEngine};
use crate::publish::bus::{publish, BusEntry, EventBus, OutboxEntry};
use crate::publish::events::{EventEnvelope, EventSettings};
use crate::publish::metrics_table::{QualityTables, WindowTables};
use crate::publish::window::{deliver, EventTime, JudgedWindow, QualityPath, ReportFiles, ReportLocation, WindowPath};
use crate::source::{CaptureSource, GroundTruthSource, SourceError};
use crate::store::{read_baseline_files, split_object_uri, Location, ObjectStore, StoreError, StoreFactory};
use crate::telemetry;
use crate::time::{Duration, Timestamp};

/// Folders re-listed after they settled, to find objects that land late.
pub const LATE_SCAN_FOLDERS: usize = 3;
/// Capture objects of one stream requested ahead of decoding, in key order: S3 answers a GET in
/// tens of milliseconds whatever the object's size, so a few requests at a time read a few
/// hundred small objects a second; 64 in flight hide that latency behind decoding.
pub const FETCH_AHEAD: usize = crate::source::DEFAULT_FETCH_AHEAD;
/// Bytes of one stream's fetched objects waiting to be decoded, at most (by the listing's mean
/// object size): large objects get fewer requests ahead, never fewer than one.
pub const FETCH_AHEAD_BUDGET: u64 = 16 << 20;
/// Objects of one stream decoded ahead of the merge, on the blocking pool: enough to keep the
/// cores busy while the merge runs; each holds a partial profile until merged.
pub const DECODE_AHEAD: usize = 4;
/// Streams polled at once. Each one's CPU work runs on the blocking pool, so this bounds memory
/// ([`FETCH_AHEAD_BUDGET`] and [`DECODE_AHEAD`] objects each) and connections, not cores.
pub const STREAM_CONCURRENCY: usize = 4;
/// Report objects of one window written at once: a window's nine or so objects (reports,
/// metrics tables) take one round trip instead of nine, and one slow or retried PUT does not
/// hold up the others.
pub const PUT_CONCURRENCY: usize = 8;
/// Skipped records logged per folder and reason; the rest are counted (`/metrics`, drift.json).
const LOGGED_ISSUES: u64 = 5;
/// Time kept free before a deadline for the last checkpoint and the outbox.
pub const DEADLINE_RESERVE: StdDuration = StdDuration::from_secs(2);

/// Writes every `(key, bytes)` to `store`, [`PUT_CONCURRENCY`] at a time; returns when all are
/// written or the first error (the others may or may not be written: a retry writes them again,
/// the same bytes under the same keys).
async fn put_all<S: ObjectStore>(
    store: &S,
    objects: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<(), StoreError> {
    use futures_util::{StreamExt as _, TryStreamExt as _};
    futures_util::stream::iter(objects)
        .map(|(key, bytes)| async move { store.put(&key, bytes).await })
        .buffer_unordered(PUT_CONCURRENCY)
        .try_collect::<()>()
        .await
}

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

/// A clock tests move by hand (the `testing` feature).
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

#[cfg(any(test, feature = "testing"))]
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

#[cfg(any(test, feature = "testing"))]
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
    /// The notification queue cannot be opened.
    #[error("[notifications] queue: {0}")]
    Notifications(String),
}

impl ServeError {
    /// Whether the error may pass by itself (a store or an API that did not answer, throttled or
    /// cut off), as opposed to a problem with the configuration or its files: the service retries
    /// the first, and refuses to start on the second.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ServeError::Store(StoreError::Remote { .. })
                | ServeError::Source(SourceError::Store(_))
                | ServeError::Discovery(DiscoveryError::Api { .. })
                | ServeError::Baseline { source: BaselineError::Io { .. }, .. }
                | ServeError::Notifications(_)
        )
    }
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
    /// Ground-truth folders read (a stream whose monitor judges model quality against labels).
    labels: Cursor,
    outbox: Vec<OutboxEntry>,
    /// When a poll last wrote this stream's checkpoint (`None`: not yet since it was opened).
    checkpointed_at: Option<Timestamp>,
}

struct MonitorRuntime<S> {
    cfg: MonitorConfig,
    /// The endpoint's capture destination (its streams are `{endpoint}/{variant}/` below it).
    capture: CaptureSource<S>,
    /// Where that is (notifications name a bucket and a key).
    capture_at: Location,
    baseline: Arc<Baseline>,
    /// Model quality, when the monitor judges it.
    quality: Option<MonitorQualityRuntime<S>>,
    streams: BTreeMap<StreamId, StreamRuntime>,
    next_poll: Timestamp,
    /// Streams a notification named since their last poll: polled at once, alone.
    woken: std::collections::BTreeSet<StreamId>,
    start: Timestamp,
    /// The `MonitoringSchedule` dimension of the stream's CloudWatch metrics.
    schedule: String,
    /// The `MonitoringSchedule` dimension of its model-quality metrics.
    quality_schedule: String,
    /// The bias monitor, when the monitor judges bias.
    bias: Option<Arc<crate::bias::window::BiasMonitor>>,
    /// What each record's prediction keeps (the quality monitor's attributes, the bias
    /// monitor's probability and facets); none without either monitor.
    predict: Option<PredictionSpec>,
}

/// A monitor's model quality: the path its streams judge with, where the prediction is in each
/// response, and the ground truth (none: quality is estimated from calibrated probabilities).
struct MonitorQualityRuntime<S> {
    path: QualityPath,
    spec: PredictionSpec,
    ground_truth: Option<GroundTruthSource<S>>,
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
    /// Ground-truth objects read.
    pub label_files: u64,
    /// The poll stopped before reading every settled folder because the deadline was near or
    /// the service is stopping; the next poll goes on from the checkpoint.
    pub stopped_early: bool,
}

/// Asks a running poll to stop between two objects (SIGTERM). Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<std::sync::atomic::AtomicBool>);

impl StopSignal {
    /// Asks every poll to stop at the next object.
    pub fn stop(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Returns whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// How a stream's poll ended.
enum Ended {
    /// Every settled folder read (or the poll stopped between folders): state and checkpoint
    /// agree.
    Clean,
    /// Stopped inside a folder: the in-memory state holds part of it, so it is dropped and the
    /// stream goes on from its last checkpoint (as after a crash, but on purpose).
    MidFolder,
}

/// One stream's poll: its report and how it ended, or why it failed.
type StreamPoll = Result<(PollReport, Ended), ServeError>;

/// What every stream's poll reads and nothing changes during a poll, so the streams of a poll
/// run concurrently over one shared borrow.
struct Shared<S, B> {
    state: CheckpointStore<S>,
    reports: Option<S>,
    bus: Option<B>,
    clock: Arc<dyn Clock>,
    settings: EventSettings,
    classifier: ClassifierConfig,
    /// Whether window reports carry KLL sketches.
    sketches: bool,
    /// The service's store factory: it opens the objects batch transform manifests name (other
    /// prefixes, other buckets), and the Lambda handler reuses it.
    linked: Arc<dyn StoreFactory<S>>,
    /// Where each closed window's CloudWatch metrics are printed (EMF lines; standard output
    /// unless `[cloudwatch] emf = false`).
    emf: Option<EmfOutput>,
    retries: (u32, StdDuration),
    deadline: Option<Timestamp>,
    stop: StopSignal,
    /// The slowest folder so far, in milliseconds of the clock (to plan for the deadline).
    slowest_folder_ms: std::sync::atomic::AtomicI64,
}

/// The running service.
pub struct Service<S, B> {
    monitors: Vec<MonitorRuntime<S>>,
    shared: Shared<S, B>,
    health: Arc<Health>,
    /// Object notifications, when the service reads them (`[notifications]`).
    queue: Option<Arc<dyn Queue>>,
    /// Notifications received and not deleted yet, by message id: deleted once what they
    /// announce is in a checkpoint.
    held: BTreeMap<String, Held>,
    /// Stream ownership, when several workers share the state store (`[workers]`).
    leases: Option<Arc<lease::Leases>>,
    /// Every stream seen, owned or not (to know this worker's share).
    streams_seen: std::collections::BTreeSet<StreamId>,
}

/// A notification waiting for its objects to be recorded.
struct Held {
    /// The latest delivery's receipt (a message delivered again gets a new one).
    receipt: String,
    /// Its objects: monitor, stream, hour folder, key below the capture destination.
    objects: Vec<(usize, StreamId, Timestamp, String)>,
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
            let root = RootPath::default();
            let capture = CaptureSource::new(factory.open(&Location::parse(&capture_uri))?, root, capture_uri.clone());
            let (baseline, found_schedule) = load_baseline(m, discovery, factory.as_ref()).await?;
            // The CloudWatch metrics' MonitoringSchedule: the config's, else the schedule the
            // baseline came from (its alarms keep working), else driftwatch-<endpoint>.
            let schedule = m
                .monitoring_schedule
                .clone()
                .or(found_schedule)
                .unwrap_or_else(|| crate::publish::emf::default_schedule(&m.endpoint));
            let quality_schedule = m.quality_monitoring_schedule.clone().unwrap_or_else(|| schedule.clone());
            if !baseline.unmatched_constraints.is_empty() {
                tracing::warn!(endpoint = %m.endpoint, baseline = %baseline.source, features = ?baseline.unmatched_constraints, "constraints.json names features statistics.json does not have: they are not columns and are not checked (are the two files from the same baseline?)");
            }
            let quality = load_quality(m, factory.as_ref()).await?;
            let bias = match &m.bias {
                Some(b) => Some(load_bias(&m.endpoint, b, factory.as_ref()).await?),
                None => None,
            };
            let predict = PredictionSpec::merged(quality.as_ref().map(|q| &q.spec), bias.as_ref().map(|(_, s)| s));
            let bias = bias.map(|(monitor, _)| monitor);
            let start = match m.start {
                StartAt::Earliest => Timestamp::from_millis(0),
                StartAt::Now => now.floor(Duration::from_hours(1)),
                StartAt::At(t) => t.floor(Duration::from_hours(1)),
            };
            tracing::info!(endpoint = %m.endpoint, capture = %capture_uri, baseline = %baseline.source, features = baseline.features.len(), "monitor ready");
            monitors.push(MonitorRuntime {
                cfg: m.clone(),
                capture,
                capture_at: Location::parse(&capture_uri),
                baseline: Arc::new(baseline),
                quality,
                streams: BTreeMap::new(),
                next_poll: now,
                woken: Default::default(),
                start,
                schedule,
                quality_schedule,
                bias,
                predict,
            });
        }
        let health = Arc::new(Health::default());
        health.set_ready();
        let linked: Arc<dyn StoreFactory<S>> = Arc::from(factory);
        Ok(Service {
            monitors,
            shared: Shared {
                state,
                reports,
                bus,
                clock,
                settings,
                classifier: config.classifier.clone(),
                sketches: config.report_sketches,
                linked,
                emf: config.emf.then(EmfOutput::stdout),
                retries: (3, StdDuration::from_millis(200)),
                deadline: None,
                stop: StopSignal::default(),
                slowest_folder_ms: std::sync::atomic::AtomicI64::new(0),
            },
            health,
            queue: None,
            held: BTreeMap::new(),
            leases: None,
            streams_seen: Default::default(),
        })
    }

    /// Shares the streams with the other workers on the same state store (`[workers]`): this
    /// worker polls only the streams whose lease it holds ([`lease`]).
    pub fn set_workers(&mut self, leases: lease::Leases) {
        tracing::info!(worker = %leases.me(), "sharing streams with the other workers on the state store");
        self.leases = Some(Arc::new(leases));
    }

    /// How long the run loop may sleep before leases need renewing (none without `[workers]`).
    pub fn lease_tick(&self) -> Option<StdDuration> {
        self.leases.as_ref().map(|l| StdDuration::from_millis(l.term().millis().max(3_000) as u64 / 3))
    }

    /// Renews the leases of the streams this worker holds (a stream another worker took is
    /// dropped, its checkpoint forgotten) and writes the heartbeat.
    async fn keep_leases(&mut self) -> Result<(), ServeError> {
        let Some(leases) = self.leases.clone() else { return Ok(()) };
        let store = self.shared.state.store();
        let now = self.shared.clock.now();
        leases.heartbeat(store, now).await?;
        for m in &mut self.monitors {
            let ids: Vec<StreamId> = m.streams.keys().cloned().collect();
            for id in ids {
                if leases.claim(store, &id, now, false).await? == lease::Claim::Taken {
                    m.streams.remove(&id);
                    self.shared.state.forget(&id);
                }
            }
        }
        Ok(())
    }

    /// Gives up the streams above this worker's share (their checkpoints are current: every
    /// poll ends with one), so that workers that joined take them.
    async fn give_up_extra(&mut self) -> Result<(), ServeError> {
        let Some(leases) = self.leases.clone() else { return Ok(()) };
        let share = leases.share(self.streams_seen.len());
        let mut held = leases.held();
        while held.len() > share {
            let Some(id) = held.pop() else { break };
            for m in &mut self.monitors {
                m.streams.remove(&id);
            }
            self.shared.state.forget(&id);
            leases.release(self.shared.state.store(), &id).await?;
        }
        Ok(())
    }
    /// Reads object notifications from `queue` (`[notifications]`): a notified stream is
    /// polled at once, and every stream is still listed every `sweep`.
    pub fn set_notifications(&mut self, queue: Arc<dyn Queue>, sweep: Duration) {
        for m in &mut self.monitors {
            m.cfg.poll_interval = sweep;
        }
        self.queue = Some(queue);
    }

    /// The notification queue, when there is one.
    pub fn queue(&self) -> Option<Arc<dyn Queue>> {
        self.queue.clone()
    }

    /// Takes notifications: the monitors of the streams they name are due at once, and each
    /// message is held until its objects are recorded ([`Service::recorded`]). Returns the
    /// receipts of messages that announce nothing to read (S3's test message, other events,
    /// objects outside every monitor's capture), to delete now. A message that cannot be read is
    /// neither held nor deleted: the queue delivers it again and, after its redrive policy's
    /// receive count, moves it to the dead-letter queue.
    pub fn route(&mut self, messages: Vec<QueueMessage>) -> Vec<String> {
        use crate::notify::{parse_message, Notice};
        let now = self.shared.clock.now();
        let mut delete = Vec::new();
        for msg in messages {
            if let Some(sent) = msg.sent_ms {
                let age = (now.millis() - sent).max(0) as f64 / 1000.0;
                metrics::gauge!(telemetry::QUEUE_LAG).set(age);
            }
            let created = match parse_message(&msg.body) {
                Ok(Notice::Created(c)) => c,
                Ok(Notice::Ignored(why)) => {
                    tracing::debug!(message = %msg.id, why, "notification ignored");
                    metrics::counter!(telemetry::NOTIFICATIONS, "outcome" => "ignored").increment(1);
                    delete.push(msg.receipt);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(message = %msg.id, error = %e, "unreadable notification: left for the queue's dead-letter queue");
                    metrics::counter!(telemetry::NOTIFICATIONS, "outcome" => "unreadable").increment(1);
                    continue;
                }
            };
            let mut objects = Vec::new();
            let mut recorded = 0;
            for o in &created {
                match self.place(&o.bucket, &o.key) {
                    Some(object) => {
                        // Already in the checkpoint (read by a listing, or a repeat): nothing to wake.
                        if self.is_recorded(&object) {
                            recorded += 1;
                        } else {
                            self.monitors[object.0].woken.insert(object.1.clone());
                        }
                        objects.push(object);
                    }
                    None => tracing::debug!(bucket = %o.bucket, key = %o.key, "not capture of a monitored stream"),
                }
            }
            tracing::debug!(message = %msg.id, objects = objects.len(), recorded, "notification");
            let outcome = if objects.is_empty() { "ignored" } else { "routed" };
            metrics::counter!(telemetry::NOTIFICATIONS, "outcome" => outcome).increment(1);
            if objects.is_empty() || recorded == objects.len() {
                delete.push(msg.receipt);
                continue;
            }
            // A message delivered again (its visibility timeout passed) keeps one entry, with
            // the newest receipt.
            self.held.insert(msg.id, Held { receipt: msg.receipt, objects });
        }
        delete
    }

    /// Which monitor's stream an object belongs to: its monitor, stream, hour folder and key
    /// below the monitor's capture destination.
    fn place(&self, bucket: &str, key: &str) -> Option<(usize, StreamId, Timestamp, String)> {
        self.monitors.iter().enumerate().find_map(|(i, m)| {
            let rel = match &m.capture_at {
                Location::S3 { bucket: b, prefix } if b == bucket => key.strip_prefix(prefix.as_str())?,
                _ => return None,
            };
            let grouped = crate::capture::layout::group_streams([(rel.to_owned(), 0)], &RootPath::default());
            let (stream, objects) = grouped.streams.into_iter().next()?;
            let hour = objects.first()?.hour?;
            let wanted =
                stream.endpoint == m.cfg.endpoint && m.cfg.variant.as_ref().is_none_or(|v| *v == stream.variant);
            wanted.then(|| (i, stream, hour, rel.to_owned()))
        })
    }

    /// The receipts of held notifications whose objects are all recorded in their streams'
    /// checkpoints (read, or in a folder closed so long ago that it is no longer listed); they
    /// are forgotten here and are to be deleted. A stream that joins labels reads whole settled
    /// hours: its notification is recorded once its checkpointed cursor is sure to list the
    /// object (its folder not read yet), as the sweep would.
    pub fn recorded(&mut self) -> Vec<String> {
        self.sort_held().0
    }

    /// Whether a notified object is in its stream's checkpointed cursor: read, in a folder
    /// closed so long ago that it is no longer listed, or (a stream that joins labels) in a
    /// folder not read yet, which its cursor is sure to list.
    fn is_recorded(&self, (i, stream, hour, key): &(usize, StreamId, Timestamp, String)) -> bool {
        let m = &self.monitors[*i];
        let Some(rt) = m.streams.get(stream) else { return false };
        let c = &rt.cursor;
        let read = c.recent.get(hour).is_some_and(|keys| keys.contains(key));
        let unlisted = c.next_hour.is_some_and(|n| *hour < n) && !c.recent.contains_key(hour);
        let listed_later = m.quality.is_some() && c.next_hour.is_some_and(|n| *hour >= n);
        read || unlisted || listed_later
    }

    /// [`Service::recorded`], and the receipts of held notifications for streams another
    /// worker owns (`[workers]`): to be made visible again for the owner to take
    /// ([`Queue::release`]); they are forgotten here too.
    pub fn sort_held(&mut self) -> (Vec<String>, Vec<String>) {
        let elsewhere: Vec<String> = match &self.leases {
            Some(leases) => self
                .held
                .iter()
                .filter(|(_, h)| h.objects.iter().any(|(_, stream, _, _)| !leases.holds(stream)))
                .map(|(id, _)| id.clone())
                .collect(),
            None => Vec::new(),
        };
        let elsewhere: Vec<String> =
            elsewhere.into_iter().filter_map(|id| self.held.remove(&id)).map(|h| h.receipt).collect();
        let done: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.objects.iter().all(|o| self.is_recorded(o)))
            .map(|(id, _)| id.clone())
            .collect();
        let done = done.into_iter().filter_map(|id| self.held.remove(&id)).map(|h| h.receipt).collect();
        (done, elsewhere)
    }

    /// Forgets the notifications held (the Lambda event source mapping delivers them again).
    pub fn forget_held(&mut self) {
        self.held.clear();
    }

    /// Writes the leases this worker holds expired (its checkpoints are current), so another
    /// worker or invocation takes the streams at once (`[workers]`; the Lambda handler after
    /// each pass).
    pub async fn release_leases(&mut self) {
        let Some(leases) = self.leases.clone() else { return };
        let store = self.shared.state.store();
        for id in leases.held() {
            if let Err(e) = leases.release(store, &id).await {
                tracing::warn!(stream = %id, error = %e, "cannot give the stream up; its lease expires by itself");
            }
        }
    }

    /// Notifications held.
    pub fn held_notifications(&self) -> usize {
        self.held.len()
    }

    /// From now on, polls start another folder only while twice the slowest folder so far plus
    /// [`DEADLINE_RESERVE`] fits before `deadline` (read on the service's clock), stop between
    /// objects once the reserve is all that is left, and say when they stopped early (the
    /// Lambda handler sets the invocation's deadline). `None` lifts it.
    pub fn set_deadline(&mut self, deadline: Option<Timestamp>) {
        self.shared.deadline = deadline;
    }

    /// Retries of retryable PutEvents failures within a pass, and the first backoff.
    pub fn set_retries(&mut self, retries: u32, first_backoff: StdDuration) {
        self.shared.retries = (retries, first_backoff);
    }

    /// The signal that stops a running poll between objects (the service's SIGTERM).
    pub fn stop_signal(&self) -> StopSignal {
        self.shared.stop.clone()
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
        self.shared.linked.as_ref()
    }

    /// Returns the service's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// Returns the earliest time a monitor is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        let now = self.shared.clock.now();
        self.monitors.iter().map(|m| if m.woken.is_empty() { m.next_poll } else { m.next_poll.min(now) }).min()
    }

    /// Polls every monitor that is due (all of them when `all`): up to [`STREAM_CONCURRENCY`]
    /// streams at once, each reading its folders in order. Errors are logged per stream and
    /// the others go on; returns the per-stream reports and the number of monitors with a
    /// failure.
    pub async fn poll(&mut self, all: bool) -> (BTreeMap<StreamId, PollReport>, usize) {
        use futures_util::StreamExt as _;
        let started = std::time::Instant::now();
        let now = self.shared.clock.now();
        // Monitors due for their listing poll every stream; others, only those a notification
        // woke.
        let scheduled: Vec<bool> = self.monitors.iter().map(|m| all || m.next_poll <= now).collect();
        let due: Vec<usize> =
            (0..self.monitors.len()).filter(|&i| scheduled[i] || !self.monitors[i].woken.is_empty()).collect();
        let mut failed_monitors = std::collections::BTreeSet::new();
        if let Err(e) = self.keep_leases().await {
            tracing::error!(error = %e, "cannot renew leases; streams are polled while their leases last");
        }
        for &i in &due {
            let m = &self.monitors[i];
            // A woken stream not open yet (a new variant, or one this worker may take) needs a
            // listing of the variants.
            let discover = scheduled[i] || m.woken.iter().any(|s| !m.streams.contains_key(s));
            if !discover {
                continue;
            }
            if let Err(e) = self.discover_streams(i).await {
                tracing::error!(endpoint = %self.monitors[i].cfg.endpoint, error = %e, "poll failed");
                self.monitor_failed(&mut failed_monitors, i);
            }
        }
        // Each due monitor's streams (all of them, or the woken ones), out of their maps for the
        // poll and back after it.
        let mut taken: Vec<(usize, BTreeMap<StreamId, StreamRuntime>)> = due
            .iter()
            .map(|&i| {
                let m = &mut self.monitors[i];
                let woken = std::mem::take(&mut m.woken);
                let streams = if scheduled[i] {
                    std::mem::take(&mut m.streams)
                } else {
                    woken.iter().filter_map(|s| m.streams.remove(s).map(|rt| (s.clone(), rt))).collect()
                };
                (i, streams)
            })
            .collect();
        let results: Vec<(usize, StreamId, StreamPoll)> = {
            let shared = &self.shared;
            let monitors = &self.monitors;
            let jobs = taken.iter_mut().flat_map(|(i, streams)| {
                let (i, m) = (*i, &monitors[*i]);
                streams.iter_mut().map(move |(id, rt)| async move { (i, id.clone(), shared.poll_stream(m, rt).await) })
            });
            futures_util::stream::iter(jobs).buffer_unordered(STREAM_CONCURRENCY).collect().await
        };
        let mut reports = BTreeMap::new();
        for (i, id, result) in results {
            match result {
                Ok((report, ended)) => {
                    tracing::debug!(stream = %id, objects = report.objects, folders = report.folders, windows = report.windows, stopped_early = report.stopped_early, "stream polled");
                    if matches!(ended, Ended::MidFolder) {
                        if let Some((_, streams)) = taken.iter_mut().find(|(j, _)| *j == i) {
                            streams.remove(&id);
                        }
                    }
                    reports.insert(id, report);
                }
                Err(e) => {
                    tracing::error!(stream = %id, error = %e, "poll failed");
                    self.monitor_failed(&mut failed_monitors, i);
                    // The stream may hold part of a folder (or labels) its checkpoint does not
                    // cover: reopened from the checkpoint on the next poll, it reads them again
                    // from there, so nothing is counted twice.
                    if let Some((_, streams)) = taken.iter_mut().find(|(j, _)| *j == i) {
                        streams.remove(&id);
                    }
                }
            }
        }
        for (i, streams) in taken {
            let m = &mut self.monitors[i];
            m.streams.extend(streams);
            if scheduled[i] {
                m.next_poll = now + m.cfg.poll_interval;
            }
            if !failed_monitors.contains(&i) {
                self.health.poll_succeeded(&m.cfg.endpoint, self.shared.clock.now());
            }
        }
        if let Err(e) = self.give_up_extra().await {
            tracing::error!(error = %e, "cannot give up streams above this worker's share");
        }
        let took = started.elapsed().as_secs_f64();
        metrics::gauge!(telemetry::POLL_SECONDS).set(took);
        metrics::counter!(telemetry::POLLS).increment(1);
        tracing::debug!(streams = reports.len(), seconds = took, "poll done");
        (reports, failed_monitors.len())
    }

    /// Marks monitor `i` failed in this poll; its failure counter moves once per poll, however
    /// many of its streams failed.
    fn monitor_failed(&self, failed: &mut std::collections::BTreeSet<usize>, i: usize) {
        if failed.insert(i) {
            metrics::counter!(telemetry::POLL_FAILURES, "endpoint" => self.monitors[i].cfg.endpoint.clone())
                .increment(1);
        }
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
            self.streams_seen.insert(id.clone());
            if let Some(leases) = self.leases.clone() {
                let may_take = leases.held().len() < leases.share(self.streams_seen.len());
                let now = self.shared.clock.now();
                if leases.claim(self.shared.state.store(), &id, now, may_take).await? == lease::Claim::Taken {
                    if self.monitors[i].streams.remove(&id).is_some() {
                        self.shared.state.forget(&id);
                    }
                    continue;
                }
            }
            if self.monitors[i].streams.contains_key(&id) {
                continue;
            }
            let rt = self.open_stream(i, id.clone()).await?;
            self.monitors[i].streams.insert(id, rt);
        }
        Ok(())
    }

    async fn open_stream(&self, i: usize, id: StreamId) -> Result<StreamRuntime, ServeError> {
        let m = &self.monitors[i];
        let shared = &self.shared;
        let baseline = m.baseline.clone();
        // Without a known account the endpoint's ARN cannot be built; `resources` stays empty.
        let resources: Vec<String> =
            shared.settings.account_known().then(|| shared.settings.endpoint_arn(&id.endpoint)).into_iter().collect();
        let checkpoint_uri = shared.state.store().uri(&crate::checkpoint::key(&id));
        match shared.state.load(&id).await? {
            Some(cp) => {
                if cp.window != m.cfg.window {
                    return Err(ServeError::Config(format!(
                        "{id}: the checkpoint was written with window {} but the config says {}; delete {checkpoint_uri} to start over",
                        cp.window, m.cfg.window,
                    )));
                }
                if cp.baseline != baseline.source {
                    tracing::warn!(stream = %id, was = %cp.baseline, now = %baseline.source, "the baseline changed since the checkpoint; windows already open keep their profiles");
                }
                let mut engine = StreamEngine::restore(id.clone(), baseline, cp.engine)
                    .map_err(|e| ServeError::Config(format!("{id}: {e}; delete {checkpoint_uri} to start over")))?;
                engine.set_max_record_bytes(m.cfg.max_record_bytes);
                tracing::info!(stream = %id, next_hour = ?cp.cursor.next_hour.map(|t| t.to_string()), outbox = cp.outbox.len(), "resumed from checkpoint");
                let mut path = WindowPath::resume(m.baseline.clone(), cp.classifier, shared.settings.clone())
                    .with_resources(resources)
                    .with_report_sketches(shared.sketches);
                let mut labels = Cursor::default();
                match (&m.quality, cp.quality) {
                    (Some(q), Some(saved)) => {
                        engine.set_predictions(Some(q.spec.clone()));
                        path = path.resume_quality(q.path.clone(), saved.state);
                        labels = saved.labels;
                    }
                    (Some(q), None) => {
                        // Model quality is new to this stream: it starts where the capture is.
                        tracing::info!(stream = %id, "model quality starts with this run");
                        engine.set_predictions(Some(q.spec.clone()));
                        path = path.with_quality(id.clone(), q.path.clone());
                        labels.next_hour = cp.cursor.next_hour;
                    }
                    (None, Some(_)) => {
                        tracing::warn!(stream = %id, "the checkpoint has model-quality state but the config no longer judges model quality; it is dropped");
                    }
                    (None, None) => {}
                }
                engine.set_predictions(m.predict.clone());
                if let Some(b) = &m.bias {
                    path = path.with_bias(id.clone(), b.clone());
                    path = path.resume_bias(cp.bias.into_iter().chain(cp.bias_labels).collect());
                }
                Ok(StreamRuntime {
                    id,
                    engine,
                    path,
                    cursor: cp.cursor,
                    labels,
                    outbox: cp.outbox,
                    checkpointed_at: None,
                })
            }
            None => {
                let start = (m.start.millis() > 0).then_some(m.start);
                let cursor = Cursor { next_hour: start, recent: BTreeMap::new() };
                let mut engine = StreamEngine::new(id.clone(), baseline.clone(), m.cfg.window);
                let mut path =
                    WindowPath::new(id.clone(), baseline, shared.classifier.clone(), shared.settings.clone())
                        .with_resources(resources)
                        .with_report_sketches(shared.sketches);
                if let Some(q) = &m.quality {
                    path = path.with_quality(id.clone(), q.path.clone());
                }
                engine.set_predictions(m.predict.clone());
                if let Some(b) = &m.bias {
                    path = path.with_bias(id.clone(), b.clone());
                }
                Ok(StreamRuntime {
                    engine,
                    path,
                    id,
                    cursor,
                    labels: Cursor { next_hour: start, recent: BTreeMap::new() },
                    outbox: Vec::new(),
                    checkpointed_at: None,
                })
            }
        }
    }

    /// Prints windows' CloudWatch metrics to `out` instead of standard output (`None`: not at
    /// all).
    pub fn set_emf_output(&mut self, out: Option<Box<dyn std::io::Write + Send>>) {
        self.shared.emf = out.map(EmfOutput::new);
    }

    /// Writes every stream's checkpoint and tries once more to send the outboxes (shutdown).
    pub async fn flush(&mut self) -> Result<(), ServeError> {
        for m in &mut self.monitors {
            let source = m.baseline.source.clone();
            for rt in m.streams.values_mut() {
                self.shared.checkpoint(&source, rt).await?;
                self.shared.flush_outbox(&source, rt).await?;
            }
        }
        // Checkpoints written: the other workers may take the streams at once.
        if let Some(leases) = &self.leases {
            let store = self.shared.state.store();
            for id in leases.held() {
                leases.release(store, &id).await?;
            }
            leases.retire(store).await?;
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

impl<S: ObjectStore + 'static, B: EventBus> Shared<S, B> {
    /// Returns whether the poll must stop now, between two objects: a stop was asked for, or
    /// only the reserve is left before the deadline.
    fn must_stop(&self) -> bool {
        self.stop.is_stopped() || self.deadline.is_some_and(|d| self.clock.now() + reserve() >= d)
    }

    /// [`Shared::must_stop`] after yielding to the task's other futures. The stop asked for in
    /// [`run`] reaches the [`StopSignal`] only when `run`'s task is polled again; reads that are
    /// ready at once (a memory store, objects already prefetched) would otherwise keep this
    /// poll running for many folders before the signal is seen.
    async fn stop_point(&self) -> bool {
        tokio::task::yield_now().await;
        self.must_stop()
    }

    /// Returns whether another folder fits before the deadline (twice the slowest so far and
    /// the reserve), and no stop was asked for.
    fn time_for_a_folder(&self) -> bool {
        let slowest = Duration::from_millis(self.slowest_folder_ms.load(std::sync::atomic::Ordering::Relaxed));
        !self.stop.is_stopped() && self.deadline.is_none_or(|d| self.clock.now() + slowest + slowest + reserve() < d)
    }

    async fn poll_stream(
        &self,
        m: &MonitorRuntime<S>,
        rt: &mut StreamRuntime,
    ) -> Result<(PollReport, Ended), ServeError> {
        let mut report = PollReport::default();
        // Folders whose hour ended `settle` ago are complete; windows ending there can close.
        let settled_end = (self.clock.now() - m.cfg.settle).floor(Duration::from_hours(1));
        if !self.time_for_a_folder() {
            report.stopped_early = true;
            return Ok((report, Ended::Clean));
        }
        // Without labels to join, windows close on data time; a monitor that joins labels
        // reads whole settled hours (its ledger applies labels by collection hour).
        if m.quality.is_none() {
            return self.poll_as_landed(m, rt, report).await;
        }
        let source = &m.baseline.source;
        // The ground truth is read just ahead of the capture: before windows ending at `t`
        // close, every label collected before `t` is in, so each window is judged with the
        // labels replay judges it with (quality::ledger), and labels never wait long in memory.
        let gt = m.quality.as_ref().and_then(|q| q.ground_truth.as_ref());
        let mut labels = match gt {
            Some(gt) => Some(self.list_labels(gt, rt, &mut report).await?),
            None => None,
        };
        let (folders, ahead) = list_capture(m, rt).await?;
        if !self.read_late(m, rt, &folders, &mut report).await? {
            report.stopped_early = true;
            return Ok((report, Ended::MidFolder));
        }
        // New settled folders, in order.
        let due: Vec<Timestamp> = folders
            .keys()
            .copied()
            .filter(|h| rt.cursor.next_hour.is_none_or(|n| *h >= n) && *h + Duration::from_hours(1) <= settled_end)
            .collect();
        let mut capture_stopped = false;
        for hour in due {
            if !self.time_for_a_folder() {
                report.stopped_early = true;
                capture_stopped = true;
                break;
            }
            let started = self.clock.now();
            if let (Some(gt), Some(folders)) = (gt, labels.as_mut()) {
                let through = (hour + Duration::from_hours(1)).min(settled_end);
                if !self.read_labels(gt, folders, source, rt, through, &mut report).await? {
                    report.stopped_early = true;
                    capture_stopped = true;
                    break;
                }
            }
            let keys = &folders[&hour];
            let closed = rt.engine.advance_to_folder(Some(hour));
            self.handle_closed(m, rt, closed, &mut report).await?;
            if self.ingest_objects(m, rt, hour, keys, ahead[&hour]).await? < keys.len() {
                report.stopped_early = true;
                return Ok((report, Ended::MidFolder));
            }
            let closed = rt.engine.close_through(hour + Duration::from_hours(1));
            self.handle_closed(m, rt, closed, &mut report).await?;
            rt.cursor.next_hour = Some(hour + Duration::from_hours(1));
            rt.cursor.recent.insert(hour, keys.iter().cloned().collect());
            while rt.cursor.recent.len() > LATE_SCAN_FOLDERS {
                rt.cursor.recent.pop_first();
            }
            report.folders += 1;
            report.objects += keys.len() as u64;
            self.checkpoint(source, rt).await?;
            let took = self.clock.now().millis() - started.millis();
            self.slowest_folder_ms.fetch_max(took, std::sync::atomic::Ordering::Relaxed);
        }
        // Time has passed beyond the data: windows up to the settled horizon are complete
        // (unless folders before it are still unread, or the labels stopped short of it: then
        // the horizon is where they stopped).
        if let (false, Some(gt), Some(folders)) = (capture_stopped, gt, labels.as_mut()) {
            if !self.read_labels(gt, folders, source, rt, settled_end, &mut report).await? {
                report.stopped_early = true;
                capture_stopped = true;
            }
        }
        if !capture_stopped {
            if rt.cursor.next_hour.is_none_or(|n| n < settled_end) {
                rt.cursor.next_hour = Some(settled_end);
            }
            let closed = rt.engine.close_through(settled_end);
            self.handle_closed(m, rt, closed, &mut report).await?;
            // Labels keep coming for an endpoint with no traffic: windows still waiting for
            // theirs are judged as the data time passes, and late labels are written.
            self.advance_quality(m, rt, settled_end, &mut report).await?;
        }
        self.finish_poll(source, rt, report, true).await
    }

    /// One poll of a stream whose monitor joins no labels: its capture is read as it lands and
    /// its windows close on data time (`pipeline/design.md`, "Closing on data time"). Every
    /// listed folder from the cursor on is read (the keys not read yet, in key order); a window
    /// closes once the latest record read is `lateness` past its end, or once its end is
    /// `settle` behind the listing (every record invoked before then has landed). Windows of an
    /// hour or less that divide it take records from one folder each, so a later folder is read
    /// while an earlier one may still grow, in the merge order replay has; longer windows read
    /// a folder only once every earlier one is closed.
    async fn poll_as_landed(
        &self,
        m: &MonitorRuntime<S>,
        rt: &mut StreamRuntime,
        mut report: PollReport,
    ) -> Result<(PollReport, Ended), ServeError> {
        let hour = Duration::from_hours(1);
        let source = &m.baseline.source;
        let window = rt.engine.window();
        let one_folder_each = hour.millis() % window.millis() == 0;
        let listed_at = self.clock.now();
        let (folders, ahead) = list_capture(m, rt).await?;
        let next = rt.cursor.next_hour;
        let closed_before = rt.engine.closed_through();
        let mut objects_at_checkpoint = 0;
        if !self.read_late(m, rt, &folders, &mut report).await? {
            report.stopped_early = true;
            return Ok((report, Ended::MidFolder));
        }
        // Where windows may close: behind the latest record by `lateness`, behind the listing
        // by `settle`.
        let horizon = |engine: &StreamEngine| {
            let by_wall = listed_at - m.cfg.settle;
            engine.latest().map_or(by_wall, |t| by_wall.max(t - m.cfg.lateness))
        };
        // The first listed folder not read in this poll bounds what may close.
        let mut unread: Option<Timestamp> = None;
        let reading = folders.iter().filter(|(h, _)| next.is_none_or(|n| **h >= n));
        for (i, (&h, keys)) in reading.enumerate() {
            let earlier_closed =
                (i == 0 && next.is_none_or(|n| h <= n)) || rt.engine.closed_through().is_some_and(|c| c >= h);
            if !self.time_for_a_folder() {
                report.stopped_early = true;
                unread = Some(h);
                break;
            }
            if !one_folder_each && !earlier_closed {
                unread = Some(h);
                break;
            }
            let seen = rt.cursor.recent.entry(h).or_default();
            let new: Vec<String> = keys.iter().filter(|k| !seen.contains(*k)).cloned().collect();
            if !new.is_empty() {
                let read = self.ingest_objects(m, rt, h, &new, ahead[&h]).await?;
                report.objects += read as u64;
                let stopped = read < new.len();
                // The cursor records objects, not folders: a folder read in part is checkpointed
                // as such and the next poll reads the rest of it.
                rt.cursor.recent.entry(h).or_default().extend(new.into_iter().take(read));
                if stopped {
                    report.stopped_early = true;
                    unread = Some(h);
                    break;
                }
            }
            // Later folders are not read yet: windows past this folder's end stay open.
            let closed = rt.engine.close_through(horizon(&rt.engine).min(h + hour));
            self.handle_closed(m, rt, closed, &mut report).await?;
            folders_done(rt, &mut report);
            // A long backlog is checkpointed every few seconds, not after every folder (each
            // checkpoint holds the classifier's history: one per folder dominated the time).
            let now = self.clock.now();
            let read = report.objects > objects_at_checkpoint;
            if read && rt.checkpointed_at.is_none_or(|t| t + BACKLOG_CHECKPOINT_EVERY <= now) {
                objects_at_checkpoint = report.objects;
                self.checkpoint_in_poll(source, rt).await?;
            }
        }
        let through = unread.map_or(horizon(&rt.engine), |u| horizon(&rt.engine).min(u));
        let closed = rt.engine.close_through(through);
        self.handle_closed(m, rt, closed, &mut report).await?;
        folders_done(rt, &mut report);
        // A poll that read nothing and closed nothing changed nothing a checkpoint holds but
        // the time through which windows are closed; what that decides (whether a record is
        // late, which windows close) reads it by whole windows, so the checkpoint is written
        // only once it passes a window's end. With many quiet streams, rewriting each one's
        // checkpoint every poll was most of the poll.
        let through_window = |t: Option<Timestamp>| t.map(|t| t.floor(window));
        let unchanged = report.objects == 0
            && report.windows == 0
            && through_window(rt.engine.closed_through()) == through_window(closed_before)
            && rt.cursor.next_hour == next;
        let write = !unchanged || rt.checkpointed_at.is_none();
        self.finish_poll(source, rt, report, write).await
    }

    /// The end of a stream's poll: its lag, its checkpoint (when `write`), then its outbox sent.
    async fn finish_poll(
        &self,
        baseline_source: &str,
        rt: &mut StreamRuntime,
        mut report: PollReport,
        write: bool,
    ) -> Result<(PollReport, Ended), ServeError> {
        if let Some(t) = rt.engine.closed_through() {
            let lag = (self.clock.now().millis() - t.millis()) as f64 / 1000.0;
            metrics::gauge!(telemetry::POLL_LAG, "stream" => rt.id.to_string()).set(lag);
        }
        if write {
            self.checkpoint_in_poll(baseline_source, rt).await?;
        }
        report.events_sent += self.flush_outbox(baseline_source, rt).await?;
        Ok((report, Ended::Clean))
    }

    /// Writes the stream's checkpoint and notes when.
    async fn checkpoint_in_poll(&self, baseline_source: &str, rt: &mut StreamRuntime) -> Result<(), ServeError> {
        self.checkpoint(baseline_source, rt).await?;
        rt.checkpointed_at = Some(self.clock.now());
        Ok(())
    }

    /// Reads the listed objects that landed in folders already closed (the last
    /// [`LATE_SCAN_FOLDERS`] are listed again): their records count as late. Returns `false`
    /// when it stopped between two objects ([`Shared::must_stop`]).
    async fn read_late(
        &self,
        m: &MonitorRuntime<S>,
        rt: &mut StreamRuntime,
        folders: &BTreeMap<Timestamp, Vec<String>>,
        report: &mut PollReport,
    ) -> Result<bool, ServeError> {
        let next = rt.cursor.next_hour;
        let late: Vec<(Timestamp, String)> = folders
            .iter()
            .filter(|(h, _)| next.is_some_and(|n| **h < n) && rt.cursor.recent.contains_key(h))
            .flat_map(|(h, objs)| {
                let seen = &rt.cursor.recent[h];
                objs.iter().filter(|k| !seen.contains(*k)).map(|k| (*h, k.clone())).collect::<Vec<_>>()
            })
            .collect();
        for (hour, key) in late {
            tracing::warn!(stream = %rt.id, key = %key, "object landed after its windows closed; its records count as late");
            if self.ingest_objects(m, rt, hour, std::slice::from_ref(&key), 1).await? == 0 {
                return Ok(false);
            }
            if let Some(set) = rt.cursor.recent.get_mut(&hour) {
                set.insert(key);
            }
            report.objects += 1;
        }
        Ok(true)
    }

    /// Lists the stream's ground-truth folders from its label cursor on and reads the objects
    /// that landed in folders already read (their labels count as late). Returns the folders
    /// to read, for [`Shared::read_labels`].
    async fn list_labels(
        &self,
        gt: &GroundTruthSource<S>,
        rt: &mut StreamRuntime,
        report: &mut PollReport,
    ) -> Result<BTreeMap<Timestamp, Vec<String>>, ServeError> {
        let label = rt.id.to_string();
        let cursor = &mut rt.labels;
        let list_from = cursor.recent.keys().next().copied().into_iter().chain(cursor.next_hour).min();
        let mut folders = gt.hour_folders(list_from).await?;
        let late: Vec<(Timestamp, String)> = folders
            .iter()
            .filter(|(h, _)| cursor.recent.contains_key(h))
            .flat_map(|(h, keys)| {
                let seen = &cursor.recent[h];
                keys.iter().filter(|k| !seen.contains(*k)).map(|k| (*h, k.clone())).collect::<Vec<_>>()
            })
            .collect();
        let files = late.len() as u64;
        for (hour, key) in late {
            tracing::warn!(stream = %label, key = %key, "ground truth landed after its hour folder settled; its labels count as late");
            rt.path.add_labels(&gt.read(&key).await?);
            if let Some(set) = rt.labels.recent.get_mut(&hour) {
                set.insert(key);
            }
        }
        let next = rt.labels.next_hour;
        folders.retain(|h, _| next.is_none_or(|n| *h >= n));
        metrics::counter!(telemetry::LABEL_FILES, "stream" => label).increment(files);
        report.label_files += files;
        Ok(folders)
    }

    /// Reads the listed ground-truth folders whose hour ended by `through` (a settled hour), in
    /// order, into the stream's ledger, which applies the labels as the data time passes their
    /// hour; each folder is checkpointed, as capture folders are. Returns `false` when the
    /// deadline stopped it before `through` (the capture must not pass the labels).
    async fn read_labels(
        &self,
        gt: &GroundTruthSource<S>,
        folders: &mut BTreeMap<Timestamp, Vec<String>>,
        baseline_source: &str,
        rt: &mut StreamRuntime,
        through: Timestamp,
        report: &mut PollReport,
    ) -> Result<bool, ServeError> {
        let label = rt.id.to_string();
        while let Some(entry) = folders.first_entry().filter(|e| *e.key() + Duration::from_hours(1) <= through) {
            if !self.time_for_a_folder() {
                return Ok(false);
            }
            let (hour, keys) = entry.remove_entry();
            for key in &keys {
                rt.path.add_labels(&gt.read(key).await?);
            }
            metrics::counter!(telemetry::LABEL_FILES, "stream" => label.clone()).increment(keys.len() as u64);
            report.label_files += keys.len() as u64;
            let cursor = &mut rt.labels;
            cursor.next_hour = Some(hour + Duration::from_hours(1));
            cursor.recent.insert(hour, keys.into_iter().collect());
            while cursor.recent.len() > LATE_SCAN_FOLDERS {
                cursor.recent.pop_first();
            }
            // A restart (or the next Lambda pass) goes on from here.
            self.checkpoint(baseline_source, rt).await?;
        }
        if rt.labels.next_hour.is_none_or(|n| n < through) {
            rt.labels.next_hour = Some(through);
        }
        Ok(true)
    }

    /// Reads the objects of one folder in key order into the engine: requested up to
    /// `ahead` objects ahead (at most [`FETCH_AHEAD`], fewer for large objects:
    /// [`FETCH_AHEAD_BUDGET`]),
    /// decoded up to [`DECODE_AHEAD`] ahead (on the blocking pool, off the async workers),
    /// merged in order. Returns how many of `keys` (the first ones) it read: fewer than all when
    /// it stopped between two objects ([`Shared::must_stop`]).
    async fn ingest_objects(
        &self,
        m: &MonitorRuntime<S>,
        rt: &mut StreamRuntime,
        hour: Timestamp,
        keys: &[String],
        ahead: usize,
    ) -> Result<usize, ServeError> {
        use futures_util::StreamExt as _;
        let label = rt.id.to_string();
        let capture = &m.capture;
        let mut logged: BTreeMap<crate::profile::SkipReason, u64> = BTreeMap::new();
        let mut note = |sample: &IssueSample| {
            for issue in &sample.first {
                let n = logged.entry(issue.reason).or_default();
                *n += 1;
                if *n <= LOGGED_ISSUES {
                    tracing::warn!(stream = %label, file = %issue.file, line = issue.line, reason = issue.reason.as_str(), detail = %issue.detail, "skipped");
                }
            }
            for (reason, n) in sample.counts() {
                metrics::counter!(telemetry::SKIPPED, "stream" => label.clone(), "reason" => reason.as_str())
                    .increment(n);
            }
        };
        let read_error =
            |key: &str, e: std::io::Error| ServeError::Read { uri: capture.uri(key), detail: e.to_string() };
        // Until the column layout is decided (by the first decodable record), one by one here.
        let mut next = 0;
        while next < keys.len() && rt.engine.layout().is_none() {
            if self.stop_point().await {
                return Ok(next);
            }
            let key = &keys[next];
            let bytes = capture.read_object(key, self.linked.as_ref()).await?;
            let mut sample = IssueSample::new(LOGGED_ISSUES);
            let before = rt.engine.totals().rows;
            rt.engine.ingest(key, Some(hour), &bytes[..], &mut |i| sample.record(i)).map_err(|e| read_error(key, e))?;
            note(&sample);
            self.count_object(&label, bytes.len() as u64, rt.engine.totals().rows - before);
            next += 1;
        }
        let Some(decoder) = rt.engine.decoder() else { return Ok(next) };
        let mut decoded = futures_util::stream::iter(&keys[next..])
            .map(|key| async move { capture.read_object(key, self.linked.as_ref()).await.map(|bytes| (key, bytes)) })
            .buffered(ahead)
            .map(|fetched| {
                let mut decoder = decoder.clone();
                async move {
                    let (key, bytes) = fetched?;
                    let size = bytes.len() as u64;
                    let owned_key = key.clone();
                    let result = tokio::task::spawn_blocking(move || {
                        decoder.decode_sampled(&owned_key, Some(hour), &bytes[..], LOGGED_ISSUES)
                    })
                    .await
                    .map_err(|e| ServeError::Read {
                        uri: capture.uri(key),
                        detail: format!("decoding stopped: {e}"),
                    })?;
                    result.map(|d| (d, size)).map_err(|e| read_error(key, e))
                }
            })
            .buffered(DECODE_AHEAD);
        let mut left = keys.len() - next;
        while let Some(item) = decoded.next().await {
            let ((object, sample), size) = item?;
            let before = rt.engine.totals().rows;
            for late in rt.engine.apply(object) {
                tracing::warn!(stream = %label, file = %late.file, line = late.line, reason = late.reason.as_str(), detail = %late.detail, "skipped");
            }
            note(&sample);
            self.count_object(&label, size, rt.engine.totals().rows - before);
            left -= 1;
            if left > 0 && self.stop_point().await {
                return Ok(keys.len() - left);
            }
        }
        Ok(keys.len())
    }

    fn count_object(&self, label: &str, bytes: u64, rows: u64) {
        metrics::counter!(telemetry::OBJECTS, "stream" => label.to_owned()).increment(1);
        metrics::counter!(telemetry::BYTES, "stream" => label.to_owned()).increment(bytes);
        metrics::counter!(telemetry::ROWS, "stream" => label.to_owned()).increment(rows);
    }

    async fn handle_closed(
        &self,
        m: &MonitorRuntime<S>,
        rt: &mut StreamRuntime,
        closed: Vec<ClosedWindow>,
        report: &mut PollReport,
    ) -> Result<(), ServeError> {
        let mut files = ReportFiles::default();
        let mut tables = WindowTables::default();
        let mut quality_tables = QualityTables::default();
        for cw in closed {
            let location = self.reports.as_ref().map(|s| s as &dyn ReportLocation);
            let judged = rt.path.judge(cw, location, EventTime::Now(self.clock.now()));
            report.windows += 1;
            metrics::counter!(telemetry::WINDOWS_CLOSED, "stream" => rt.id.to_string()).increment(1);
            // Reports before the window's events are queued: an event never points at a report
            // that is not there.
            if let Some(store) = &self.reports {
                deliver(&judged, &mut [&mut files, &mut tables, &mut quality_tables])
                    .map_err(|e| ServeError::Report(e.to_string()))?;
                put_all(store, files.take().into_iter().chain(tables.take()).chain(quality_tables.take())).await?;
            }
            // The window's CloudWatch metrics, once its reports are written. A window judged
            // again after a crash before its checkpoint prints them again (at least once, as
            // its events are sent).
            if let Some(out) = &self.emf {
                out.write_lines(&crate::publish::emf::closed_window_lines(&judged, &m.baseline, &m.schedule));
            }
            self.emit_label_metrics(m, &judged.quality, &judged.labelled_bias);
            queue_events(rt, &judged, report);
        }
        self.note_quality(rt);
        Ok(())
    }

    /// Moves the stream's model quality to `t` (windows judged, late labels written) and queues
    /// its events.
    async fn advance_quality(
        &self,
        m: &MonitorRuntime<S>,
        rt: &mut StreamRuntime,
        t: Timestamp,
        report: &mut PollReport,
    ) -> Result<(), ServeError> {
        let location = self.reports.as_ref().map(|s| s as &dyn ReportLocation);
        let judged = rt.path.advance_quality(t, location, EventTime::Now(self.clock.now()));
        if judged.is_empty() {
            return Ok(());
        }
        if let Some(store) = &self.reports {
            let mut files = ReportFiles::default();
            let mut tables = QualityTables::default();
            crate::publish::window::deliver_labels(&judged, &mut [&mut files, &mut tables])
                .map_err(|e| ServeError::Report(e.to_string()))?;
            put_all(store, files.take().into_iter().chain(tables.take())).await?;
        }
        self.emit_label_metrics(m, &judged.quality, &judged.bias);
        for q in &judged.quality {
            queue_quality_events(rt, q, report);
        }
        for b in &judged.bias {
            queue_bias_events(rt, &b.envelopes, report);
        }
        self.note_quality(rt);
        Ok(())
    }

    /// Prints the CloudWatch metric lines of model-quality judgements and labelled bias.
    fn emit_label_metrics(
        &self,
        m: &MonitorRuntime<S>,
        quality: &[crate::publish::window::JudgedQuality],
        bias: &[crate::publish::window::JudgedLabelledBias],
    ) {
        let Some(out) = &self.emf else { return };
        for q in quality {
            out.write_lines(&crate::publish::emf::quality_lines(q, &m.quality_schedule));
        }
        for b in bias {
            out.write_lines(&crate::publish::emf::labelled_bias_lines(b, &m.schedule));
        }
    }

    /// Sets the stream's model-quality gauges and counts its labels by outcome.
    fn note_quality(&self, rt: &StreamRuntime) {
        let Some(state) = rt.path.quality_state() else { return };
        let label = rt.id.to_string();
        metrics::gauge!(telemetry::PREDICTIONS_HELD, "stream" => label.clone())
            .set(state.ledger.predictions_held() as f64);
        metrics::gauge!(telemetry::LABELS_WAITING, "stream" => label).set(state.ledger.labels_waiting() as f64);
    }

    async fn checkpoint(&self, baseline_source: &str, rt: &StreamRuntime) -> Result<(), ServeError> {
        use crate::bias::decide::Stage;
        let bias = rt.path.bias_classifiers();
        let cp = StreamCheckpoint {
            stream: rt.id.clone(),
            window: rt.engine.window(),
            baseline: baseline_source.to_owned(),
            cursor: rt.cursor.clone(),
            engine: rt.engine.snapshot(),
            classifier: rt.path.classifier().clone(),
            outbox: rt.outbox.clone(),
            quality: rt
                .path
                .quality_state()
                .map(|state| QualityCheckpoint { state: state.clone(), labels: rt.labels.clone() }),
            bias: bias.iter().find(|c| c.stage() == Stage::Predictions).cloned(),
            bias_labels: bias.into_iter().find(|c| c.stage() == Stage::Labels),
        };
        self.state.save(cp).await?;
        Ok(())
    }

    /// Sends the stream's outbox; logs events when there is no bus. Returns events sent.
    async fn flush_outbox(&self, baseline_source: &str, rt: &mut StreamRuntime) -> Result<u64, ServeError> {
        if rt.outbox.is_empty() {
            return Ok(0);
        }
        let Some(bus) = &self.bus else {
            for e in rt.outbox.drain(..) {
                tracing::info!(id = %e.id, detail_type = %e.entry.detail_type, detail = %e.entry.detail, "event (no [events] bus: logged only)");
            }
            self.checkpoint(baseline_source, rt).await?;
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
        self.checkpoint(baseline_source, rt).await?;
        Ok(sent)
    }
}

/// Where EMF lines go: one writer shared by the streams of a poll (a line is written whole).
#[derive(Clone)]
struct EmfOutput(Arc<Mutex<Box<dyn std::io::Write + Send>>>);

impl EmfOutput {
    fn new(out: Box<dyn std::io::Write + Send>) -> Self {
        EmfOutput(Arc::new(Mutex::new(out)))
    }

    fn stdout() -> Self {
        EmfOutput::new(Box::new(std::io::stdout()))
    }

    /// Writes each line with its newline and flushes; a failure is logged (metrics are not
    /// worth stopping the stream for).
    fn write_lines(&self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        let mut out = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "CloudWatch metric lines could not be written");
        }
    }
}

/// Lists a stream's capture from the oldest folder still watched for late objects: each hour
/// folder's keys in key order, and how many of its objects to request ahead (by their sizes).
async fn list_capture<S: ObjectStore>(
    m: &MonitorRuntime<S>,
    rt: &StreamRuntime,
) -> Result<(BTreeMap<Timestamp, Vec<String>>, BTreeMap<Timestamp, usize>), ServeError> {
    let list_from = rt.cursor.recent.keys().next().copied().into_iter().chain(rt.cursor.next_hour).min();
    let listed = m.capture.hour_folders(&rt.id, list_from).await?;
    let ahead = listed
        .iter()
        .map(|(h, objects)| {
            (*h, crate::source::requests_ahead(FETCH_AHEAD, FETCH_AHEAD_BUDGET, objects.iter().map(|o| o.size)))
        })
        .collect();
    let folders = listed.into_iter().map(|(h, objects)| (h, objects.into_iter().map(|o| o.key).collect())).collect();
    Ok((folders, ahead))
}

/// Moves the cursor past the hour folders whose windows have all closed (their keys kept for the
/// last [`LATE_SCAN_FOLDERS`], to find objects that land late); counts them in `report`.
fn folders_done(rt: &mut StreamRuntime, report: &mut PollReport) {
    let Some(done) = rt.engine.closed_through().map(|t| t.floor(Duration::from_hours(1))) else { return };
    let next = rt.cursor.next_hour;
    if next.is_some_and(|n| n >= done) {
        return;
    }
    report.folders += rt.cursor.recent.range(..done).filter(|(h, _)| next.is_none_or(|n| **h >= n)).count() as u64;
    rt.cursor.next_hour = Some(done);
    while rt.cursor.recent.range(..done).count() > LATE_SCAN_FOLDERS {
        rt.cursor.recent.pop_first();
    }
}

/// Queues a judged window's events in the stream's outbox: its data-drift decisions, then the
/// model-quality decisions judged when it closed.
fn queue_events(rt: &mut StreamRuntime, judged: &JudgedWindow, report: &mut PollReport) {
    for (d, envelope) in judged.outcome.decisions.iter().zip(&judged.envelopes) {
        tracing::info!(stream = %rt.id, kind = d.kind.as_str(), episode = %d.episode_id, detected_at = %d.detected_at, "drift decision");
        queue(rt, &d.event_id, envelope.bus_entry(), report);
    }
    queue_bias_events(rt, &judged.bias_envelopes, report);
    for q in &judged.quality {
        queue_quality_events(rt, q, report);
    }
    for b in &judged.labelled_bias {
        queue_bias_events(rt, &b.envelopes, report);
    }
}

/// Queues bias decisions' events.
fn queue_bias_events(
    rt: &mut StreamRuntime,
    envelopes: &[EventEnvelope<crate::publish::events::BiasEventDetail>],
    report: &mut PollReport,
) {
    for e in envelopes {
        tracing::info!(stream = %rt.id, kind = e.detail.kind, judged_on = e.detail.judged_on, facet = %e.detail.facet, facet_value = %e.detail.facet_value, episode = %e.detail.episode_id, "bias decision");
        queue(rt, &e.id, e.bus_entry(), report);
    }
}

/// Queues the events of one model-quality judgement.
fn queue_quality_events(rt: &mut StreamRuntime, q: &crate::publish::window::JudgedQuality, report: &mut PollReport) {
    if !q.quality.update {
        metrics::counter!(telemetry::QUALITY_JUDGED, "stream" => rt.id.to_string()).increment(1);
    }
    for (d, envelope) in q.decisions.iter().zip(&q.envelopes) {
        tracing::info!(stream = %rt.id, kind = d.kind.as_str(), episode = %d.episode_id, detected_at = %d.detected_at, judged_at = %d.judged_at, estimated = d.estimated, "model-quality decision");
        queue(rt, &d.event_id, envelope.bus_entry(), report);
    }
}

/// Puts one event in the stream's outbox.
fn queue(rt: &mut StreamRuntime, id: &str, entry: BusEntry, report: &mut PollReport) {
    rt.outbox.push(OutboxEntry { id: id.to_owned(), entry, attempts: 0, last_error: None });
    report.events_queued += 1;
}

/// Loads a monitor's model-quality baseline and opens its ground truth. Any problem names the
/// monitor and the key.
async fn load_quality<S: ObjectStore>(
    m: &MonitorConfig,
    factory: &dyn StoreFactory<S>,
) -> Result<Option<MonitorQualityRuntime<S>>, ServeError> {
    let Some(q) = &m.quality else { return Ok(None) };
    let err = |key: &str, e: String| ServeError::Config(format!("[[monitor]] {}: {key}: {e}", m.endpoint));
    let labelled = q.ground_truth.is_some();
    let path = match &q.baseline {
        Some(baseline) => {
            let store = factory.open(&Location::parse(baseline))?;
            let files = crate::store::baseline::read_quality_baseline(&store).await.map_err(|e| match e {
                // The store did not answer: may pass (retried at start), unlike a file that is wrong.
                crate::store::baseline::QualityBaselineError::Read(BaselineError::Io { path, source }) => {
                    ServeError::Store(StoreError::Remote { uri: path, detail: source.to_string() })
                }
                e => err("quality_baseline", e.to_string()),
            })?;
            QualityPath::new(files, &q.spec, q.rules.clone(), labelled, baseline)
                .map_err(|e| err("quality_baseline", e))?
        }
        None => QualityPath::labels_for_bias(q.rules.clone()).map_err(|e| err("ground_truth", e))?,
    };
    let ground_truth = match &q.ground_truth {
        Some(uri) => Some(GroundTruthSource::new(factory.open(&Location::parse(uri))?)),
        None => None,
    };
    tracing::info!(endpoint = %m.endpoint, quality_baseline = ?q.baseline, problem = path.rules.problem.as_str(), ground_truth = ?q.ground_truth, "model quality ready");
    Ok(Some(MonitorQualityRuntime { path, spec: q.spec.clone(), ground_truth }))
}

/// [`DEADLINE_RESERVE`] on the service's clock.
fn reserve() -> Duration {
    Duration::from_millis(DEADLINE_RESERVE.as_millis() as i64)
}

/// Reads a monitor's bias config and baseline ([`crate::store::baseline::read_bias`]): a store
/// that does not answer is a store error (retried at start), a wrong file a config error.
async fn load_bias<S: ObjectStore>(
    endpoint: &str,
    b: &crate::config::MonitorBias,
    factory: &dyn StoreFactory<S>,
) -> Result<(Arc<crate::bias::window::BiasMonitor>, PredictionSpec), ServeError> {
    use crate::store::baseline::BiasFilesError;
    let (monitor, spec) =
        crate::store::baseline::read_bias(factory, &b.config, &b.baseline, b.probability.clone(), b.threshold)
            .await
            .map_err(|e| match e {
                BiasFilesError::Store { source, .. } => ServeError::Store(source),
                e @ BiasFilesError::File { .. } => ServeError::Config(format!("endpoint {endpoint}: {e}")),
            })?;
    tracing::info!(endpoint, baseline = %b.baseline, facets = monitor.config.facets.len(), "bias monitor ready");
    Ok((Arc::new(monitor), spec))
}

async fn load_baseline<S: ObjectStore, D: Discovery>(
    m: &MonitorConfig,
    discovery: &D,
    factory: &dyn StoreFactory<S>,
) -> Result<(Baseline, Option<String>), ServeError> {
    let err = |source| ServeError::Baseline { endpoint: m.endpoint.clone(), source };
    let (stats_at, cons_at, schedule) = match &m.baseline {
        Some(u) => {
            let loc = Location::parse(u);
            ((loc.clone(), STATISTICS_FILE.to_owned()), (loc, CONSTRAINTS_FILE.to_owned()), None)
        }
        None => {
            let uris = discovery.baseline(&m.endpoint).await?;
            (split_object_uri(&uris.statistics), split_object_uri(&uris.constraints), uris.schedule)
        }
    };
    let stats_store = factory.open(&stats_at.0)?;
    let cons_store = factory.open(&cons_at.0)?;
    let source = m.baseline.clone().unwrap_or_else(|| stats_store.uri(""));
    let baseline =
        read_baseline_files((&stats_store, &stats_at.1), (&cons_store, &cons_at.1), &source).await.map_err(err)?;
    Ok((baseline, schedule))
}

/// A notification for a stream another worker owns is made visible again at once, for the owner
/// to take: with N workers a message is received about N times before it reaches its owner (a
/// pause here would add to every one of them). While an owner is dead and its lease not yet
/// expired, its messages go round the live workers until one takes the stream over.
const NOT_MINE_DELAY: StdDuration = StdDuration::ZERO;
/// Inside a poll that reads many folders (a backlog), the stream's checkpoint is written at most
/// this often (and always at the poll's end): a restart then reads at most this much again.
const BACKLOG_CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// Batches of notifications taken ahead of the polls that read their objects: few, since a
/// message taken is invisible to every other worker and comes back after its visibility timeout
/// if it waits here longer than that (a backlog taken far ahead is taken again and again).
const NOTIFICATION_BATCHES_AHEAD: usize = 2;
/// Receives in flight at once: one receive brings at most [`RECEIVE_MAX`] messages per round
/// trip, so one receiver alone caps a worker at that many notifications per round trip to the
/// queue; everything received while a poll runs goes into the next one.
const RECEIVERS: usize = 4;
/// Messages per receive (SQS's largest) and its long-polling wait (SQS's longest).
const RECEIVE_MAX: usize = 10;
const RECEIVE_WAIT: StdDuration = StdDuration::from_secs(20);
/// After a failed receive, the next waits this long (doubling up to a minute).
const RECEIVE_BACKOFF: StdDuration = StdDuration::from_secs(1);

/// Takes notifications from `queue` until the service stops, handing each batch to `tx`.
async fn receive_notifications(
    queue: Arc<dyn Queue>,
    tx: tokio::sync::mpsc::Sender<Vec<QueueMessage>>,
    stop: StopSignal,
) {
    let mut backoff = RECEIVE_BACKOFF;
    while !stop.is_stopped() {
        match queue.receive(RECEIVE_MAX, RECEIVE_WAIT).await {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => {
                backoff = RECEIVE_BACKOFF;
                if tx.send(batch).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, pause_s = backoff.as_secs(), "cannot receive notifications; the listing sweep goes on");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(StdDuration::from_secs(60));
            }
        }
    }
}

/// Deletes the notifications in `delete` (their objects are recorded, or they announced nothing
/// to read) and makes those in `hand_back` (streams another worker owns) visible again, on a
/// task of its own: the next poll does not wait for the queue's answers.
fn settle_notifications(queue: &Arc<dyn Queue>, delete: Vec<String>, hand_back: Vec<String>) {
    if delete.is_empty() && hand_back.is_empty() {
        return;
    }
    let queue = queue.clone();
    tokio::spawn(async move {
        if !delete.is_empty() {
            match queue.delete(&delete).await {
                Ok(()) => metrics::counter!(telemetry::NOTIFICATIONS_DELETED).increment(delete.len() as u64),
                // Delivered again after their visibility timeout: recorded by then, deleted at once.
                Err(e) => tracing::warn!(error = %e, "cannot delete notifications; they will be delivered again"),
            }
        }
        if !hand_back.is_empty() {
            if let Err(e) = queue.release(&hand_back, NOT_MINE_DELAY).await {
                tracing::warn!(error = %e, "cannot hand notifications back; they return after their visibility timeout");
            }
        }
    });
}

/// Runs polls until `stop` resolves, then flushes within `shutdown_timeout`. A poll under way
/// when `stop` resolves stops at the next object and checkpoints what it read.
pub async fn run<S: ObjectStore + 'static, B: EventBus>(
    mut service: Service<S, B>,
    stop: impl std::future::Future<Output = ()>,
    shutdown_timeout: StdDuration,
) -> Result<(), ServeError> {
    tokio::pin!(stop);
    let signal = service.stop_signal();
    let clock = service.clock();
    // Notifications are taken on a task of their own (long polling) and handed over here.
    let queue = service.queue();
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<QueueMessage>>(NOTIFICATION_BATCHES_AHEAD);
    let receivers: Vec<_> = match &queue {
        Some(q) => {
            (0..RECEIVERS).map(|_| tokio::spawn(receive_notifications(q.clone(), tx.clone(), signal.clone()))).collect()
        }
        None => Vec::new(),
    };
    drop(tx);
    let mut rx = queue.as_ref().map(|_| rx);
    loop {
        let stopping = {
            let poll = service.poll(false);
            tokio::pin!(poll);
            tokio::select! {
                _ = &mut poll => false,
                _ = &mut stop => {
                    tracing::info!("stop asked for during a poll: stopping at the next object");
                    signal.stop();
                    poll.await;
                    true
                }
            }
        };
        if stopping {
            break;
        }
        if let Some(q) = &queue {
            let (done, elsewhere) = service.sort_held();
            settle_notifications(q, done, elsewhere);
        }
        let now = clock.now();
        let mut wait = service.next_due().map(|t| (t.millis() - now.millis()).max(0)).unwrap_or(60_000);
        if let Some(tick) = service.lease_tick() {
            wait = wait.min(tick.as_millis() as i64);
        }
        let batch = tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(StdDuration::from_millis(wait as u64)) => None,
            Some(batch) = async { rx.as_mut()?.recv().await }, if rx.is_some() => Some(batch),
        };
        if let (Some(mut batch), Some(q), Some(rx)) = (batch, &queue, rx.as_mut()) {
            // Everything that has arrived meanwhile goes into the same poll.
            while let Ok(more) = rx.try_recv() {
                batch.extend(more);
            }
            settle_notifications(q, service.route(batch), Vec::new());
        }
    }
    for r in receivers {
        r.abort();
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
            let trimmed = detail.evidence.trimmed_mut();
            if trimmed.series.take().is_some() {
                // The full series stays in the window's drift.json.
                trimmed.series_omitted = Some(true);
            }
            entry = entry_of(self, &detail);
        }
        if entry.size() > crate::publish::bus::MAX_BATCH_BYTES {
            let omitted = (detail.features.len().saturating_sub(20), detail.violations.len().saturating_sub(50));
            detail.features.truncate(20);
            detail.violations.truncate(50);
            let trimmed = detail.evidence.trimmed_mut();
            trimmed.features_omitted = Some(omitted.0);
            trimmed.violations_omitted = Some(omitted.1);
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

/// The PutEvents entry of an envelope whose detail is sent whole (model-quality and bias
/// events: a few kilobytes, a handful of metrics, no series).
fn whole_entry<D: serde::Serialize>(e: &EventEnvelope<D>) -> BusEntry {
    BusEntry {
        source: e.source.clone(),
        detail_type: e.detail_type.to_owned(),
        detail: serde_json::to_string(&e.detail).unwrap_or_else(|_| "{}".to_owned()),
        resources: e.resources.clone(),
    }
}

impl EventEnvelope<crate::publish::events::BiasEventDetail> {
    /// Returns the PutEvents entry of a bias event.
    pub fn bus_entry(&self) -> BusEntry {
        whole_entry(self)
    }
}

impl EventEnvelope<crate::publish::events::QualityEventDetail> {
    /// Returns the PutEvents entry of a model-quality event.
    pub fn bus_entry(&self) -> BusEntry {
        whole_entry(self)
    }
}
