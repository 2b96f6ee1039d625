//! `driftwatch replay`: captured files against a baseline, on a laptop, with no AWS account.
//!
//! Capture, baseline and `--output` are local folders or `s3://` locations, read and written
//! through the same stores as `serve` ([`crate::source`] lists the capture). Streams are
//! replayed one after another; each stream's files in hour-folder order, closing a window once
//! the replay has moved an hour past its end (see `pipeline/design.md`). Every closed
//! window is compared with the baseline, classified, reported and, for `--events`, turned into
//! the events a rule target would have received.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::baseline::{Baseline, BaselineError};
use crate::capture::layout::{CaptureObject, StreamId};
use crate::classify::ClassifierConfig;
use crate::pipeline::predictions::PredictionSpec;
use crate::pipeline::{
    window_in_range, ClosedWindow, IssueSample, ObjectDecoder, RecordIssue, StreamEngine, MAX_WINDOW, MIN_WINDOW,
};
use crate::profile::SkipReason;
use crate::publish::events::{EventEnvelope, EventSettings};
use crate::publish::html::{HtmlReport, StreamReport};
use crate::publish::metrics_table::{MetricsTable, QualityRows};
use crate::publish::window::{
    deliver, deliver_labels, EventTime, JudgedLabelledBias, JudgedQuality, JudgedWindow, LabelJudgements, QualityPath,
    ReportLocation, SinkError, WindowPath, WindowSink,
};
use crate::quality::ground_truth::{collection_hour, LabelFile};
use crate::quality::join::JoinRules;
use crate::source::{CaptureSource, SourceError};
use crate::store::{AnyStore, Location, ObjectStore, StoreError, StoreFactory};

pub use crate::publish::window::StreamSummary;
use crate::time::Duration;

/// File name of the metrics table inside `--output`.
pub const METRICS_FILE: &str = "drift_metrics.parquet";
/// File name of the model-quality table inside `--output`.
pub const QUALITY_METRICS_FILE: &str = "model_quality_metrics.parquet";
/// Issues logged per stream and reason before the rest are only counted.
const LOGGED_ISSUES: u64 = 5;

/// What to replay and where the results go.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Data Capture location (root, endpoint, variant, or one file): a folder or `s3://`.
    pub capture: String,
    /// Data-quality baseline location: a folder or `s3://` prefix holding `statistics.json`
    /// and `constraints.json`. None: no data-quality monitor (a model-quality one alone).
    pub baseline: Option<String>,
    /// Window length.
    pub window: Duration,
    /// `--events FILE`.
    pub events: Option<PathBuf>,
    /// `--output DIR|s3://...`.
    pub output: Option<String>,
    /// `--emf FILE`: each window's CloudWatch metrics in the embedded metric format.
    pub emf: Option<PathBuf>,
    /// `--monitoring-schedule`: the `MonitoringSchedule` dimension of the `--emf` metrics
    /// (default `driftwatch-<endpoint>`).
    pub monitoring_schedule: Option<String>,
    /// `--quality-monitoring-schedule`: that of the model-quality metrics (default: as above).
    pub quality_monitoring_schedule: Option<String>,
    /// `--report FILE.html`.
    pub report: Option<PathBuf>,
    /// Classifier settings.
    pub classifier: ClassifierConfig,
    /// Event envelope settings.
    pub event_settings: EventSettings,
    /// Draw a progress bar on a terminal.
    pub progress: bool,
    /// Threads that read and decode capture files (0: one per core). Results are the same
    /// whatever the number.
    pub threads: usize,
    /// Objects of a remote capture (`s3://`) requested ahead of decoding, in key order
    /// ([`crate::source::DEFAULT_FETCH_AHEAD`]); fewer when the objects are large
    /// ([`FETCH_AHEAD_BUDGET`]).
    pub fetch_ahead: usize,
    /// Capture records longer than this are skipped and counted (`record_too_large`).
    pub max_record_bytes: usize,
    /// Whether each window's `statistics.json` carries KLL sketches.
    pub report_sketches: bool,
    /// Model quality against ground truth (`--quality-baseline`, `--ground-truth`).
    pub quality: Option<QualityOptions>,
    /// Bias against a bias baseline (`--bias-config`, `--bias-baseline`).
    pub bias: Option<BiasOptions>,
}

/// `--bias-config` and what goes with it.
#[derive(Debug, Clone)]
pub struct BiasOptions {
    /// Clarify's analysis config (a local file).
    pub config: PathBuf,
    /// Folder or `s3://` prefix of the baseline's `analysis.json` (or the file itself).
    pub baseline: String,
    /// Where the predicted probability is in each response.
    pub probability: crate::pipeline::predictions::Attr,
    /// Overrides the config's probability threshold.
    pub threshold: Option<f64>,
}

/// Reads the bias config and baseline ([`crate::store::baseline::read_bias`], as the service
/// does): the monitor, and the prediction spec that takes each record's probability and facets.
fn load_bias(
    b: &BiasOptions,
    io: &ReplayIo<'_>,
) -> Result<(Arc<crate::bias::window::BiasMonitor>, PredictionSpec), ReplayError> {
    use crate::store::baseline::BiasFilesError;
    let config = b.config.display().to_string();
    let read = crate::store::baseline::read_bias(io.stores, &config, &b.baseline, b.probability.clone(), b.threshold);
    let (monitor, spec) = io.wait(read).map_err(|e| {
        let (what, detail) = match e {
            BiasFilesError::Store { what, source } => (what, source.to_string()),
            BiasFilesError::File { what, detail } => (what, detail),
        };
        ReplayError::Usage(format!("--{} {detail}", what.replace('_', "-")))
    })?;
    Ok((Arc::new(monitor), spec))
}

/// `--quality-baseline` and what goes with it.
#[derive(Debug, Clone)]
pub struct QualityOptions {
    /// Folder or `s3://` prefix of the model-quality `statistics.json` and `constraints.json`
    /// (none: the labels are joined for the bias monitor only).
    pub baseline: Option<String>,
    /// Folder or `s3://` prefix of the ground truth (`yyyy/mm/dd/hh/*.jsonl` by collection time);
    /// without it, binary quality is estimated from the calibrated probabilities.
    pub ground_truth: Option<String>,
    /// Where the prediction is in each response.
    pub spec: PredictionSpec,
    /// A probability at or above it predicts the positive class.
    pub probability_threshold: f64,
    /// How long after a window's end its labels are waited for.
    pub delay: Duration,
    /// A window is judged before the delay once this share of its predictions is labelled.
    pub enough_share: f64,
    /// How long after a window's end late labels still update it (default: three delays).
    pub expiry: Option<Duration>,
}

impl QualityOptions {
    /// The join rules these options give (the problem type comes from the baseline).
    pub fn rules(&self) -> JoinRules {
        let mut rules =
            JoinRules::new(crate::quality::ProblemType::BinaryClassification, self.probability_threshold, self.delay);
        rules.enough_share = self.enough_share;
        if let Some(e) = self.expiry {
            rules.expiry = e;
        }
        rules
    }
}

/// What the ground truth held, over the whole replay (what each stream made of it is in its
/// [`crate::publish::window::QualitySummary`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroundTruthSummary {
    /// Files read.
    pub files: u64,
    /// Label records read (repeated keys included).
    pub records: u64,
    /// Lines not used, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The baseline cannot be loaded.
    #[error("--baseline {0}")]
    Baseline(#[from] BaselineError),
    /// The capture folder cannot be read.
    #[error("--capture {0}")]
    Source(#[from] SourceError),
    /// A flag value is out of range.
    #[error("{0}")]
    Usage(String),
    /// Reading a capture file failed.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Listing or fetching a capture object failed.
    #[error("{0}")]
    Fetch(SourceError),
    /// A decoding thread failed (a bug: the file is not at fault).
    #[error("{path}: {detail}")]
    Decode {
        /// The file being decoded.
        path: String,
        /// What happened.
        detail: String,
    },
    /// Writing a report or the events failed.
    #[error("{0}")]
    Write(#[from] StoreError),
    /// Writing the metrics table failed.
    #[error("{0}")]
    Table(#[from] crate::publish::metrics_table::TableError),
    /// The quality baseline or the ground truth cannot be read.
    #[error("{0}")]
    Quality(String),
}

impl From<SinkError> for ReplayError {
    fn from(e: SinkError) -> Self {
        match e {
            SinkError::Store(e) => ReplayError::Write(e),
            SinkError::Format { path, detail } => {
                ReplayError::Table(crate::publish::metrics_table::TableError { path, detail })
            }
        }
    }
}

impl ReplayError {
    /// Returns whether this is a problem with the command's input (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ReplayError::Baseline(_) | ReplayError::Source(_) | ReplayError::Usage(_) | ReplayError::Quality(_)
        )
    }
}

/// The result of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    /// One entry per stream, in stream order.
    pub streams: Vec<StreamSummary>,
    /// Rows written to the metrics table.
    pub metrics_rows: u64,
    /// Rows written to the model-quality table.
    pub quality_rows: u64,
    /// The ground truth, when model quality was judged against labels.
    pub ground_truth: Option<GroundTruthSummary>,
    /// Whether a data-quality baseline was given (`--baseline`).
    pub data_quality: bool,
    /// Files that could not be read (path or URI, why): listed but unreadable, or failing
    /// when read (a dangling link, no permission, a broken gzip file). Counted and skipped.
    pub unreadable: Vec<(String, String)>,
    /// Other files below the location, by suffix: not capture, not read.
    pub other_files: BTreeMap<String, u64>,
}

/// Checks `--window`.
pub fn check_window(w: Duration) -> Result<Duration, ReplayError> {
    if !window_in_range(w) {
        return Err(ReplayError::Usage(format!(
            "--window {w}: must be between {MIN_WINDOW} and {MAX_WINDOW} (e.g. 15m, 1h, 1d)"
        )));
    }
    Ok(w)
}

/// The stores a replay reads and writes, and the async runtime their calls run on (replay's
/// own threads wait for them; local stores answer at once).
pub struct ReplayIo<'a> {
    /// Opens a location (`s3://` needs the `aws` feature).
    pub stores: &'a dyn StoreFactory<AnyStore>,
    /// Drives the stores' calls.
    pub runtime: &'a tokio::runtime::Handle,
}

impl ReplayIo<'_> {
    fn wait<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

/// Runs a replay. Issues (skipped records) are logged, a few per reason and stream, and all
/// are counted in the summary and the reports.
pub fn run(opts: &ReplayOptions, io: &ReplayIo<'_>) -> Result<ReplaySummary, ReplayError> {
    let window = check_window(opts.window)?;
    check_outputs(opts)?;
    let threads = thread_count(opts.threads);
    let baseline = Arc::new(match &opts.baseline {
        Some(b) => load_baseline(b, io)?,
        None if opts.quality.is_some() || opts.bias.is_some() => {
            Baseline::without_features("no --baseline: model quality or bias only")
        }
        None => {
            return Err(ReplayError::Usage(
                "--baseline or --quality-baseline is needed (what to judge the capture against)".into(),
            ))
        }
    });
    if !baseline.unmatched_constraints.is_empty() {
        tracing::warn!(baseline = %baseline.source, features = ?baseline.unmatched_constraints, "constraints.json names features statistics.json does not have: they are not columns and are not checked (are the two files from the same baseline?)");
    }
    let source = crate::source::open(&opts.capture, io.stores)?;
    let listed = io.wait(source.streams())?;
    for (uri, why) in &listed.unreadable {
        tracing::warn!(file = %uri, reason = %why, "skipped: cannot be read");
    }
    let streams = &listed.streams;
    let total_bytes: u64 = streams.values().flatten().map(|f| f.size).sum();
    let bar = progress_bar(opts.progress, total_bytes);
    let output = match &opts.output {
        Some(o) => Some(Output::open(o, io)?),
        None => None,
    };
    let mut table = match &output {
        Some(o) => Some(MetricsTable::create(&o.table_path)?),
        None => None,
    };
    let mut events_out = match &opts.events {
        Some(p) => Some(EventsFile(LineFile::create(p).map_err(|e| ReplayError::Usage(format!("--events {e}")))?)),
        None => None,
    };
    let mut emf_out = match &opts.emf {
        Some(p) => Some(EmfFile {
            file: LineFile::create(p).map_err(|e| ReplayError::Usage(format!("--emf {e}")))?,
            baseline: baseline.clone(),
            schedule: opts.monitoring_schedule.clone(),
            quality_schedule: opts.quality_monitoring_schedule.clone(),
        }),
        None => None,
    };
    let mut page = opts.report.as_ref().map(|_| HtmlReport::new(opts.capture.clone(), &baseline));
    let mut summary = ReplaySummary {
        data_quality: baseline.monitors_data(),
        unreadable: listed.unreadable.clone(),
        other_files: listed.other.clone(),
        ..Default::default()
    };
    let quality = match &opts.quality {
        Some(q) => Some(load_quality(q, io)?),
        None => None,
    };
    let mut quality_rows = QualityRows::default();
    let bias = match &opts.bias {
        Some(b) => Some(load_bias(b, io)?),
        None => None,
    };
    // What each record's prediction keeps: the quality monitor's attributes, and the bias
    // monitor's probability and facets.
    let predict = PredictionSpec::merged(opts.quality.as_ref().map(|q| &q.spec), bias.as_ref().map(|(_, s)| s));
    for (stream, files) in streams {
        bar.set_message(stream.to_string());
        let mut path =
            WindowPath::new(stream.clone(), baseline.clone(), opts.classifier.clone(), opts.event_settings.clone())
                .with_report_sketches(opts.report_sketches);
        if let Some((monitor, _)) = &bias {
            path = path.with_bias(stream.clone(), monitor.clone());
        }
        if let Some(q) = &quality {
            path = path.with_quality(stream.clone(), q.path.clone());
            for f in &q.files {
                path.add_labels(f);
            }
        }
        let mut ctx = StreamRun {
            path,
            predict: predict.clone(),
            reports: output.as_ref().map(|o| Reports { store: &o.store, io }),
            table: table.as_mut(),
            quality_table: output.as_ref().map(|_| &mut quality_rows),
            events: events_out.as_mut(),
            emf: emf_out.as_mut(),
            summary: StreamSummary { stream: Some(stream.clone()), ..Default::default() },
            page: page.as_ref().map(|_| StreamReport::new(stream.clone(), &baseline)),
            unreadable: Vec::new(),
            max_record_bytes: opts.max_record_bytes,
            fetch_ahead: opts.fetch_ahead,
        };
        let engine = replay_stream(stream, &source, files, &baseline, window, threads, &bar, io, &mut ctx)?;
        summary.unreadable.append(&mut ctx.unreadable);
        // The labels' time runs on past the capture: every window still waiting is judged.
        let reports = ctx.reports.as_ref().map(|r| r.store as &dyn ReportLocation);
        let judged = ctx.path.finish_quality(reports, EventTime::DataTime);
        ctx.deliver_labels(&judged)?;
        let totals = engine.totals();
        ctx.summary.records = totals.records;
        ctx.summary.rows = totals.rows;
        ctx.summary.skipped = totals.skipped.clone();
        ctx.summary.skipped.merge(engine.unattributed());
        ctx.summary.episodes = ctx.path.episodes();
        if let Some(state) = ctx.path.quality_state() {
            let q = ctx.summary.quality.get_or_insert_with(Default::default);
            q.estimated = !state.ledger.labelled();
            q.labels = state.ledger.labelled().then(|| state.ledger.totals().clone());
        }
        if let (Some(p), Some(mut sp)) = (page.as_mut(), ctx.page.take()) {
            sp.finish(&ctx.summary);
            p.streams.push(sp);
        }
        summary.streams.push(ctx.summary);
    }
    if let Some(LoadedQuality { summary: gt, files, .. }) = &quality {
        for i in files.iter().flat_map(|f| &f.issues).take(crate::quality::ground_truth::NAMED_LABEL_ISSUES) {
            tracing::warn!(file = %i.file, line = i.line, field = i.reason.field(), reason = i.reason.as_str(), "ground-truth line skipped");
        }
        if opts.quality.as_ref().is_some_and(|q| q.ground_truth.is_some()) {
            summary.ground_truth = Some(gt.clone());
        }
    }
    if let (Some(p), Some(path)) = (&page, &opts.report) {
        crate::store::write_atomic(path, crate::publish::html::render(p).as_bytes())?;
    }
    bar.finish_and_clear();
    if let (Some(t), Some(o)) = (table, &output) {
        summary.metrics_rows = t.close()?;
        if !quality_rows.is_empty() {
            summary.quality_rows = quality_rows.write(&o.quality_path)?;
        }
        o.finish_tables(io)?;
    }
    if let Some(e) = events_out {
        e.0.close()?;
    }
    if let Some(e) = emf_out {
        e.file.close()?;
    }
    Ok(summary)
}

/// Checks, before anything is read, that the local outputs can be written: `--output` is a
/// folder (or can be made one) that takes files, `--report`'s folder takes files and the path is
/// not a folder. A replay of a day of capture should not fail at its end for a typo.
fn check_outputs(opts: &ReplayOptions) -> Result<(), ReplayError> {
    let usage = |flag: &str, path: &std::path::Path, why: String| {
        ReplayError::Usage(format!("{flag} {}: {why}", path.display()))
    };
    let probe = |flag: &str, dir: &std::path::Path| -> Result<(), ReplayError> {
        if dir.exists() && !dir.is_dir() {
            return Err(usage(flag, dir, "exists and is not a folder".into()));
        }
        std::fs::create_dir_all(dir).map_err(|e| usage(flag, dir, format!("cannot be made a folder: {e}")))?;
        let test = dir.join(format!(".driftwatch-write-test-{}", std::process::id()));
        std::fs::write(&test, b"").map_err(|e| usage(flag, dir, format!("cannot be written: {e}")))?;
        let _ = std::fs::remove_file(&test);
        Ok(())
    };
    if let Some(Location::Local(dir)) = opts.output.as_deref().map(Location::parse) {
        probe("--output", &dir)?;
    }
    for (flag, path) in [("--report", &opts.report), ("--events", &opts.events), ("--emf", &opts.emf)] {
        let Some(path) = path else { continue };
        if path.is_dir() {
            return Err(usage(flag, path, "is a folder; name a file".into()));
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        probe(flag, dir)?;
    }
    Ok(())
}

/// The model-quality side of a replay: the path's rules and constraints, and every label.
struct LoadedQuality {
    path: QualityPath,
    /// Every ground-truth file, in collection order (none: the quality is estimated).
    files: Vec<LabelFile>,
    summary: GroundTruthSummary,
}

/// Reads the quality baseline and every ground-truth file (`*.jsonl` below the location; the
/// hour folder of each is its collection time).
fn load_quality(q: &QualityOptions, io: &ReplayIo<'_>) -> Result<LoadedQuality, ReplayError> {
    let open = |flag: &str, location: &str| {
        io.stores.open(&Location::parse(location)).map_err(|e| ReplayError::Usage(format!("{flag} {e}")))
    };
    let labelled = q.ground_truth.is_some();
    let path = match &q.baseline {
        Some(baseline) => {
            let store = open("--quality-baseline", baseline)?;
            let files = io
                .wait(crate::store::baseline::read_quality_baseline(&store))
                .map_err(|e| ReplayError::Quality(format!("--quality-baseline {e}")))?;
            QualityPath::new(files, &q.spec, q.rules(), labelled, &store.uri("")).map_err(|e| {
                let flag = if labelled { "--quality-baseline" } else { "--quality-baseline without --ground-truth" };
                ReplayError::Usage(format!("{flag}: {e}"))
            })?
        }
        None => {
            QualityPath::labels_for_bias(q.rules()).map_err(|e| ReplayError::Usage(format!("--ground-truth: {e}")))?
        }
    };
    let Some(ground_truth) = &q.ground_truth else {
        return Ok(LoadedQuality { path, files: Vec::new(), summary: GroundTruthSummary::default() });
    };
    let gt = open("--ground-truth", ground_truth)?;
    let objects =
        io.wait(gt.list("", None)).map_err(|e| ReplayError::Quality(format!("--ground-truth {ground_truth}: {e}")))?;
    let mut files = Vec::new();
    let mut summary = GroundTruthSummary::default();
    for o in objects.iter().filter(|o| o.key.ends_with(".jsonl")) {
        let bytes = io
            .wait(gt.get(&o.key))
            .map_err(|e| ReplayError::Quality(format!("--ground-truth {e}")))?
            .unwrap_or_default();
        let file = LabelFile::read(&gt.uri(&o.key), collection_hour(&o.key), &String::from_utf8_lossy(&bytes));
        summary.files += 1;
        summary.records += file.labels.len() as u64;
        for (r, n) in &file.skipped {
            *summary.skipped.entry(r.as_str()).or_default() += n;
        }
        files.push(file);
    }
    if summary.files == 0 {
        return Err(ReplayError::Quality(format!("--ground-truth {ground_truth}: no .jsonl files")));
    }
    // In collection order (a file outside the hour layout first), each hour's files in key order.
    files.sort_by_key(|f| f.collected);
    Ok(LoadedQuality { path, files, summary })
}

/// Reads the baseline at `location`: a local folder (with the core's checks of its shape) or
/// an `s3://` prefix.
fn load_baseline(location: &str, io: &ReplayIo<'_>) -> Result<Baseline, ReplayError> {
    let at = Location::parse(location);
    if let Location::Local(dir) = &at {
        return Ok(Baseline::load_dir(dir)?);
    }
    let store = io.stores.open(&at).map_err(|e| ReplayError::Usage(format!("--baseline {e}")))?;
    Ok(io.wait(crate::store::read_baseline(&store, location))?)
}

/// `--output`: a folder, or an S3 prefix. The metrics tables are written to local files (in
/// the folder itself, or temporary files uploaded at the end for S3).
struct Output {
    store: AnyStore,
    table_path: PathBuf,
    quality_path: PathBuf,
    /// For S3: the temporary files to upload as [`METRICS_FILE`] and [`QUALITY_METRICS_FILE`].
    upload: Option<(tempfile_path::TempPath, tempfile_path::TempPath)>,
}

impl Output {
    fn open(location: &str, io: &ReplayIo<'_>) -> Result<Output, ReplayError> {
        let at = Location::parse(location);
        let store = io.stores.open(&at).map_err(|e| ReplayError::Usage(format!("--output {e}")))?;
        Ok(match at {
            Location::Local(dir) => Output {
                store,
                table_path: dir.join(METRICS_FILE),
                quality_path: dir.join(QUALITY_METRICS_FILE),
                upload: None,
            },
            Location::S3 { .. } => {
                let tmp =
                    (tempfile_path::TempPath::new(METRICS_FILE), tempfile_path::TempPath::new(QUALITY_METRICS_FILE));
                Output {
                    store,
                    table_path: tmp.0.path().to_owned(),
                    quality_path: tmp.1.path().to_owned(),
                    upload: Some(tmp),
                }
            }
        })
    }

    /// Uploads the tables written to temporary files (S3).
    fn finish_tables(&self, io: &ReplayIo<'_>) -> Result<(), ReplayError> {
        let Some((metrics, quality)) = &self.upload else { return Ok(()) };
        for (tmp, name) in [(metrics, METRICS_FILE), (quality, QUALITY_METRICS_FILE)] {
            if !tmp.path().exists() {
                continue;
            }
            let bytes = std::fs::read(tmp.path())
                .map_err(|source| StoreError::Io { path: tmp.path().display().to_string(), source })?;
            io.wait(self.store.put(name, bytes))?;
        }
        Ok(())
    }
}

/// A temporary file removed when dropped (without a dependency for one file).
mod tempfile_path {
    use std::path::{Path, PathBuf};

    /// A path in the temporary folder, unique to this process.
    pub struct TempPath(PathBuf);

    impl TempPath {
        /// `{tmp}/driftwatch-{pid}-{name}`.
        pub fn new(name: &str) -> TempPath {
            TempPath(std::env::temp_dir().join(format!("driftwatch-{}-{name}", std::process::id())))
        }

        /// The path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn progress_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Per-stream state of a replay: the window path and the sinks its windows go to.
struct StreamRun<'a> {
    path: WindowPath,
    /// What to keep of each response for the model-quality join.
    predict: Option<PredictionSpec>,
    reports: Option<Reports<'a>>,
    table: Option<&'a mut MetricsTable>,
    quality_table: Option<&'a mut QualityRows>,
    events: Option<&'a mut EventsFile>,
    emf: Option<&'a mut EmfFile>,
    summary: StreamSummary,
    page: Option<StreamReport>,
    /// Files of the stream that failed when read: (path or URI, why).
    unreadable: Vec<(String, String)>,
    /// Longer capture records are skipped.
    max_record_bytes: usize,
    /// Objects of a remote capture requested ahead ([`ReplayOptions::fetch_ahead`]).
    fetch_ahead: usize,
}

impl StreamRun<'_> {
    /// Runs `f` with every sink of the stream, in the order they take a window.
    fn with_sinks(
        &mut self,
        f: impl FnOnce(&mut [&mut dyn WindowSink]) -> Result<(), SinkError>,
    ) -> Result<(), ReplayError> {
        f(&mut [
            &mut self.reports.as_mut(),
            &mut self.table.as_deref_mut(),
            &mut self.quality_table.as_deref_mut(),
            &mut self.events.as_deref_mut(),
            &mut self.emf.as_deref_mut(),
            &mut self.page.as_mut(),
            &mut self.summary,
        ])?;
        Ok(())
    }

    /// Hands a judged window to every sink.
    fn deliver(&mut self, judged: &JudgedWindow) -> Result<(), ReplayError> {
        self.with_sinks(|sinks| deliver(judged, sinks))
    }

    /// Hands what the label join judged after the capture ended to every sink.
    fn deliver_labels(&mut self, l: &LabelJudgements) -> Result<(), ReplayError> {
        self.with_sinks(|sinks| deliver_labels(l, sinks))
    }
}

/// `--output`: each window's report files, written as the window closes.
struct Reports<'a> {
    store: &'a AnyStore,
    io: &'a ReplayIo<'a>,
}

impl WindowSink for Reports<'_> {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        if let Some((rendered, _)) = &w.report {
            for (key, bytes) in &rendered.files {
                self.io.wait(self.store.put(key, bytes.clone()))?;
            }
        }
        Ok(())
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        for (key, bytes) in &q.files {
            self.io.wait(self.store.put(key, bytes.clone()))?;
        }
        Ok(())
    }

    fn accept_labelled_bias(&mut self, b: &JudgedLabelledBias) -> Result<(), SinkError> {
        for (key, bytes) in &b.files {
            self.io.wait(self.store.put(key, bytes.clone()))?;
        }
        Ok(())
    }
}

/// Bytes of fetched objects waiting to be decoded, at most: large objects get fewer requests
/// ahead (never fewer than one), so memory does not grow with the objects' size.
pub const FETCH_AHEAD_BUDGET: u64 = 64 << 20;

/// At most this many decoded objects per decoding thread wait to be merged: enough to keep
/// every thread busy while the merge or one file is slow.
const IN_FLIGHT_PER_THREAD: usize = 4;
/// Memory that decoded objects waiting to be merged may take: each holds a partial profile,
/// at most about [`PARTIAL_BYTES_PER_FEATURE`] per feature (a full sketch, distinct registers,
/// categories), so wide baselines get fewer objects in flight (never fewer than one per thread).
const IN_FLIGHT_BUDGET: usize = 16 << 20;
/// See [`IN_FLIGHT_BUDGET`].
const PARTIAL_BYTES_PER_FEATURE: usize = 56 << 10;

/// How many decoded objects may wait to be merged, for `threads` threads and a baseline of
/// `features` features.
fn in_flight(threads: usize, features: usize) -> usize {
    let by_memory = IN_FLIGHT_BUDGET / (features.max(1) * PARTIAL_BYTES_PER_FEATURE);
    by_memory.clamp(threads, threads * IN_FLIGHT_PER_THREAD)
}

/// Returns the number of decoding threads for `--threads` (0: one per core).
pub fn thread_count(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }
}

/// The issues a replay logs: the first [`LOGGED_ISSUES`] per reason and stream; the rest are
/// only counted.
#[derive(Default)]
struct IssueLog {
    logged: BTreeMap<SkipReason, u64>,
}

impl IssueLog {
    fn log(&mut self, stream: &StreamId, bar: &ProgressBar, i: &RecordIssue) {
        let n = self.logged.entry(i.reason).or_default();
        *n += 1;
        if *n <= LOGGED_ISSUES {
            bar.suspend(|| {
                tracing::warn!(stream = %stream, file = %i.file, line = i.line, reason = i.reason.as_str(), detail = %i.detail, "skipped");
            });
        }
    }

    fn count(&mut self, reason: SkipReason, n: u64) {
        *self.logged.entry(reason).or_default() += n;
    }

    fn finish(self, stream: &StreamId, bar: &ProgressBar) {
        for (reason, n) in self.logged {
            if n > LOGGED_ISSUES {
                bar.suspend(|| {
                    tracing::warn!(stream = %stream, reason = reason.as_str(), more = n - LOGGED_ISSUES, "further skipped records not logged; drift.json lists examples per window");
                });
            }
        }
    }
}

/// What a decoding thread hands back for one file: the decoded object and a sample of its
/// issues (for the log), or why the file could not be read.
enum Decoded {
    Object { object: Box<crate::pipeline::DecodedObject>, issues: IssueSample },
    Unreadable(String),
}

/// What an error reading one capture object means for the replay: an error this object alone
/// is wrong about (unreadable locally, gone since the listing, a broken batch manifest or gzip
/// stream) is `Ok(why)`: counted, named and skipped; anything else (the network, S3) stops the
/// replay.
fn skip_or_stop(e: SourceError) -> Result<String, ReplayError> {
    match e {
        e @ (SourceError::Batch { .. }
        | SourceError::Gone { .. }
        | SourceError::Compressed { .. }
        | SourceError::Store(StoreError::Io { .. })) => Ok(e.to_string()),
        e => Err(ReplayError::Fetch(e)),
    }
}

/// Opens one capture object as a stream (a local file is read as it is decoded, never whole);
/// `Ok(Err(why))` when it is skipped ([`skip_or_stop`]).
fn open(
    source: &CaptureSource<AnyStore>,
    file: &CaptureObject,
    io: &ReplayIo<'_>,
) -> Result<Result<Box<dyn std::io::BufRead + Send>, String>, ReplayError> {
    match io.wait(source.open_object(&file.key, io.stores)) {
        Ok(reader) => Ok(Ok(reader)),
        Err(e) => skip_or_stop(e).map(Err),
    }
}

/// A capture object as a decoding thread gets it: opened there (a local file, streamed), or
/// already fetched whole by the prefetcher (a remote one).
enum Input {
    /// Open it now.
    Lazy,
    /// Fetched ahead: its bytes, or why it could not be read (as [`open`] says).
    Fetched(Result<Result<Vec<u8>, String>, ReplayError>),
}

/// Reads one capture object whole (the prefetcher's request); `Ok(Err(why))` when it is
/// skipped ([`skip_or_stop`]).
async fn fetch(
    source: &CaptureSource<AnyStore>,
    file: &CaptureObject,
    stores: &dyn crate::store::StoreFactory<AnyStore>,
) -> Result<Result<Vec<u8>, String>, ReplayError> {
    match source.read_object(&file.key, stores).await {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(e) => skip_or_stop(e).map(Err),
    }
}

fn decode_file(
    decoder: &mut ObjectDecoder,
    source: &CaptureSource<AnyStore>,
    file: &CaptureObject,
    input: Input,
    io: &ReplayIo<'_>,
) -> Result<Decoded, ReplayError> {
    let opened = match input {
        Input::Lazy => open(source, file, io)?,
        Input::Fetched(fetched) => {
            fetched?.map(|bytes| Box::new(std::io::Cursor::new(bytes)) as Box<dyn std::io::BufRead + Send>)
        }
    };
    let reader = match opened {
        Ok(r) => r,
        Err(why) => return Ok(Decoded::Unreadable(why)),
    };
    // A file that fails while read (a broken gzip stream, a disk error) is skipped whole.
    match decoder.decode_sampled(&file.key, file.hour, reader, LOGGED_ISSUES) {
        Ok((object, issues)) => Ok(Decoded::Object { object: Box::new(object), issues }),
        Err(e) => Ok(Decoded::Unreadable(format!("{}: {e}", source.uri(&file.key)))),
    }
}

#[allow(clippy::too_many_arguments)]
fn replay_stream(
    stream: &StreamId,
    source: &CaptureSource<AnyStore>,
    files: &[CaptureObject],
    baseline: &Arc<Baseline>,
    window: Duration,
    threads: usize,
    bar: &ProgressBar,
    io: &ReplayIo<'_>,
    ctx: &mut StreamRun<'_>,
) -> Result<StreamEngine, ReplayError> {
    let mut engine = StreamEngine::new(stream.clone(), baseline.clone(), window);
    engine.set_predictions(ctx.predict.clone());
    engine.set_max_record_bytes(ctx.max_record_bytes);
    let mut log = IssueLog::default();
    // One by one until the column layout is decided (by the first decodable record), then,
    // with more than one thread, decoded in parallel and merged in order.
    let mut next = 0;
    // A remote capture is fetched ahead whatever the number of threads (the decoded objects
    // are merged in order either way, with the same result as reading them one by one).
    let remote = source.is_remote();
    while next < files.len() && ((threads <= 1 && !remote) || engine.layout().is_none()) {
        let file = &files[next];
        for closed in engine.advance_to_folder(file.hour) {
            handle_window(closed, ctx)?;
        }
        match open(source, file, io)? {
            Ok(reader) => {
                if let Err(e) = engine.ingest(&file.key, file.hour, reader, &mut |i| log.log(stream, bar, i)) {
                    skip_file(ctx, bar, source.uri(&file.key), format!("{}: {e}", source.uri(&file.key)));
                }
            }
            Err(why) => skip_file(ctx, bar, source.uri(&file.key), why),
        }
        bar.inc(file.size);
        next += 1;
    }
    if let Some(decoder) = engine.decoder().filter(|_| next < files.len()) {
        let in_flight = in_flight(threads, baseline.features.len());
        let decode = |decoder: &mut ObjectDecoder, file: &CaptureObject, input: Input| {
            decode_file(decoder, source, file, input, io)
        };
        let rest = &files[next..];
        let ahead = remote
            .then(|| crate::source::requests_ahead(ctx.fetch_ahead, FETCH_AHEAD_BUDGET, rest.iter().map(|f| f.size)));
        let feed = |i: usize| fetch(source, &rest[i], io.stores);
        let prefetch = ahead.map(|n| (n, &feed as &(dyn Fn(usize) -> _ + Sync), io));
        decode_in_parallel(rest, &decoder, threads, in_flight, prefetch, decode, |file, decoded| {
            for closed in engine.advance_to_folder(file.hour) {
                handle_window(closed, ctx)?;
            }
            match decoded {
                Decoded::Object { object, issues } => {
                    for i in &issues.first {
                        log.log(stream, bar, i);
                    }
                    for (r, n) in issues.more {
                        log.count(r, n);
                    }
                    for late in engine.apply(*object) {
                        log.log(stream, bar, &late);
                    }
                }
                Decoded::Unreadable(why) => skip_file(ctx, bar, source.uri(&file.key), why),
            }
            bar.inc(file.size);
            Ok(())
        })?;
    }
    for closed in engine.close_all() {
        handle_window(closed, ctx)?;
    }
    log.finish(stream, bar);
    Ok(engine)
}

/// Decodes `files` with `decode` on `threads` threads and hands each result to `merge` in
/// file order, on the calling thread. At most `in_flight` files are decoded but not yet merged
/// at any time. With `prefetch` (`(ahead, fetch, io)`), a thread of its own requests the files
/// in order, `ahead` at a time, with `fetch` on the runtime, and the decoding threads take
/// them as they come; without, each decoding thread opens its file. The first error (reading
/// a file, or from `merge`) stops the work.
#[allow(clippy::type_complexity)]
fn decode_in_parallel<'f, F>(
    files: &[CaptureObject],
    decoder: &ObjectDecoder,
    threads: usize,
    in_flight: usize,
    prefetch: Option<(usize, &(dyn Fn(usize) -> F + Sync), &ReplayIo<'_>)>,
    decode: impl Fn(&mut ObjectDecoder, &CaptureObject, Input) -> Result<Decoded, ReplayError> + Sync,
    mut merge: impl FnMut(&CaptureObject, Decoded) -> Result<(), ReplayError>,
) -> Result<(), ReplayError>
where
    F: std::future::Future<Output = Result<Result<Vec<u8>, String>, ReplayError>> + Send + 'f,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::sync::Mutex;

    let next = AtomicUsize::new(0);
    // A credit per file that may be decoded ahead of the merge; a thread takes one before it
    // takes a file, the merge returns one per merged file.
    let (credit_tx, credit_rx) = mpsc::sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = credit_tx.send(());
    }
    let credit_rx = Mutex::new(credit_rx);
    // Fetched files, in order, for the decoding threads (with a prefetcher).
    type Fetched = (usize, Result<Result<Vec<u8>, String>, ReplayError>);
    let (fetched_tx, fetched_rx) = tokio::sync::mpsc::channel::<Fetched>(prefetch.map_or(1, |(ahead, _, _)| ahead));
    let fetched_rx = Mutex::new(fetched_rx);
    std::thread::scope(|scope| {
        // Owned here, so that leaving early (an error) drops it before the threads are joined
        // and wakes the ones waiting for a credit.
        let credit_tx = credit_tx;
        if let Some((ahead, fetch, io)) = prefetch {
            scope.spawn(move || {
                use futures_util::StreamExt as _;
                io.wait(async {
                    let mut requests =
                        futures_util::stream::iter(0..files.len()).map(fetch).buffered(ahead).enumerate();
                    // Waits while the queue is full (the decoders are behind); stops when the
                    // merge closed it (done, or an error).
                    while let Some(item) = requests.next().await {
                        if fetched_tx.send(item).await.is_err() {
                            return;
                        }
                    }
                });
            });
        } else {
            drop(fetched_tx);
        }
        let lazy = prefetch.is_none();
        let (done_tx, done_rx) = mpsc::channel::<(usize, Result<Decoded, ReplayError>)>();
        for _ in 0..threads {
            let (credit_rx, next, done_tx, decode, fetched_rx) =
                (&credit_rx, &next, done_tx.clone(), &decode, &fetched_rx);
            let mut decoder = decoder.clone();
            scope.spawn(move || loop {
                let credit = match credit_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                if credit.is_err() {
                    return;
                }
                let (i, input) = if lazy {
                    (next.fetch_add(1, Ordering::SeqCst), Input::Lazy)
                } else {
                    let got = match fetched_rx.lock() {
                        Ok(mut rx) => rx.blocking_recv(),
                        Err(_) => return,
                    };
                    match got {
                        Some((i, bytes)) => (i, Input::Fetched(bytes)),
                        None => return,
                    }
                };
                let Some(file) = files.get(i) else { return };
                let decoded =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(&mut decoder, file, input)))
                        .unwrap_or_else(|_| {
                            Err(ReplayError::Decode { path: file.key.clone(), detail: "the decoder panicked".into() })
                        });
                if done_tx.send((i, decoded)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let result = (|| {
            let mut waiting: BTreeMap<usize, Result<Decoded, ReplayError>> = BTreeMap::new();
            for (i, file) in files.iter().enumerate() {
                let decoded = loop {
                    if let Some(d) = waiting.remove(&i) {
                        break d;
                    }
                    match done_rx.recv() {
                        Ok((j, d)) => {
                            waiting.insert(j, d);
                        }
                        Err(_) => {
                            return Err(ReplayError::Decode {
                                path: file.key.clone(),
                                detail: "every decoding thread stopped".into(),
                            })
                        }
                    }
                };
                merge(file, decoded?)?;
                let _ = credit_tx.send(());
            }
            Ok(())
        })();
        // Leaving (done or an error): no more credits, and the queue closed and emptied, which
        // stops the prefetcher at its next item and the decoders waiting on it.
        drop(credit_tx);
        if let Ok(mut rx) = fetched_rx.lock() {
            rx.close();
            while rx.try_recv().is_ok() {}
        }
        result
    })
}

/// Counts and names a file that could not be read; the replay goes on without it.
fn skip_file(ctx: &mut StreamRun<'_>, bar: &ProgressBar, uri: String, why: String) {
    bar.suspend(|| tracing::warn!(file = %uri, reason = %why, "skipped: cannot be read"));
    ctx.unreadable.push((uri, why));
}

fn handle_window(closed: ClosedWindow, ctx: &mut StreamRun<'_>) -> Result<(), ReplayError> {
    let reports = ctx.reports.as_ref().map(|r| r.store as &dyn ReportLocation);
    let judged = ctx.path.judge(closed, reports, EventTime::DataTime);
    ctx.deliver(&judged)
}

/// A file of JSON lines written as a replay goes (`--events`, `--emf`), synced at the end.
struct LineFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl LineFile {
    fn create(path: &std::path::Path) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io { path: path.display().to_string(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let f = std::fs::File::create(path).map_err(io)?;
        Ok(LineFile { path: path.to_owned(), out: std::io::BufWriter::new(f) })
    }

    fn write_line(&mut self, line: &str) -> Result<(), StoreError> {
        let io = |source| StoreError::Io { path: self.path.display().to_string(), source };
        self.out.write_all(line.as_bytes()).map_err(io)?;
        self.out.write_all(b"\n").map_err(io)?;
        Ok(())
    }

    fn close(mut self) -> Result<(), ReplayError> {
        let path = self.path.display().to_string();
        self.out.flush().map_err(|source| StoreError::Io { path: path.clone(), source })?;
        self.out.get_ref().sync_all().map_err(|source| StoreError::Io { path, source })?;
        Ok(())
    }
}

/// `--events FILE`: one envelope per line, in data time.
struct EventsFile(LineFile);

impl EventsFile {
    fn write<D: serde::Serialize>(&mut self, e: &EventEnvelope<D>) -> Result<(), StoreError> {
        let line = serde_json::to_string(e).map_err(|e| StoreError::Io {
            path: self.0.path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        self.0.write_line(&line)
    }
}

impl WindowSink for EventsFile {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        for e in &w.envelopes {
            self.write(e)?;
        }
        for e in &w.bias_envelopes {
            self.write(e)?;
        }
        Ok(())
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        for e in &q.envelopes {
            self.write(e)?;
        }
        Ok(())
    }

    fn accept_labelled_bias(&mut self, b: &JudgedLabelledBias) -> Result<(), SinkError> {
        for e in &b.envelopes {
            self.write(e)?;
        }
        Ok(())
    }
}

/// `--emf FILE`: each window's CloudWatch metrics, as the service prints them to its log.
struct EmfFile {
    file: LineFile,
    baseline: Arc<Baseline>,
    /// `--monitoring-schedule` (otherwise each endpoint's default).
    schedule: Option<String>,
    /// `--quality-monitoring-schedule` (otherwise as the data metrics').
    quality_schedule: Option<String>,
}

impl EmfFile {
    fn schedule(&self, endpoint: &str) -> String {
        self.schedule.clone().unwrap_or_else(|| crate::publish::emf::default_schedule(endpoint))
    }
}

impl WindowSink for EmfFile {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        let schedule = self.schedule(&w.closed.stream.endpoint);
        for line in crate::publish::emf::closed_window_lines(w, &self.baseline, &schedule) {
            self.file.write_line(&line)?;
        }
        Ok(())
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        let schedule = self.quality_schedule.clone().unwrap_or_else(|| self.schedule(&q.stream.endpoint));
        for line in crate::publish::emf::quality_lines(q, &schedule) {
            self.file.write_line(&line)?;
        }
        Ok(())
    }

    fn accept_labelled_bias(&mut self, b: &JudgedLabelledBias) -> Result<(), SinkError> {
        let schedule = self.schedule(&b.stream.endpoint);
        for line in crate::publish::emf::labelled_bias_lines(b, &schedule) {
            self.file.write_line(&line)?;
        }
        Ok(())
    }
}

/// Writes the end-of-replay table: per stream, windows, rows, skipped, violations, episodes.
pub fn print_summary(s: &ReplaySummary, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<36} {:>7} {:>9} {:>9} {:>8} {:>10}  features with violations",
        "stream", "windows", "records", "rows", "skipped", "violating"
    )?;
    for st in &s.streams {
        let name = st.name();
        let mut feats: Vec<(&String, &u64)> = st.violations_by_feature.iter().collect();
        feats.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let shown: Vec<String> = feats.iter().take(4).map(|(f, n)| format!("{f} ({n})")).collect();
        let more = if feats.len() > 4 { format!(", +{} more", feats.len() - 4) } else { String::new() };
        writeln!(
            out,
            "{:<36} {:>7} {:>9} {:>9} {:>8} {:>10}  {}{}",
            name,
            st.windows,
            st.records,
            st.rows,
            st.skipped.records_dropped(),
            st.windows_with_violations,
            match (shown.is_empty(), s.data_quality) {
                (_, false) => "data quality not monitored (no --baseline)".to_owned(),
                (true, true) => "-".to_owned(),
                (false, true) => shown.join(", "),
            },
            more
        )?;
        if st.skipped.total() > 0 {
            let parts: Vec<String> = st.skipped.iter().map(|(r, n)| format!("{} {n}", r.as_str())).collect();
            writeln!(out, "{:<36} skipped: {}", "", parts.join(", "))?;
        }
        if let Some(q) = st.quality.as_ref().filter(|q| q.estimated) {
            writeln!(
                out,
                "{:<36} model quality estimated without labels: {} predictions in {} windows",
                "",
                q.predictions(),
                q.windows()
            )?;
        } else if let Some(q) = &st.quality {
            let (predictions, labelled) = (q.predictions(), q.labelled());
            let share = if predictions == 0 { 0.0 } else { 100.0 * labelled as f64 / predictions as f64 };
            let mut extra: Vec<String> = Vec::new();
            if q.late_labels() > 0 {
                extra.push(format!("{} labels came after their window was judged", q.late_labels()));
            }
            extra.extend(q.unusable().iter().map(|(r, n)| format!("{r} {n}")));
            extra.extend(q.without_prediction().iter().map(|(r, n)| format!("no prediction ({r}) {n}")));
            writeln!(
                out,
                "{:<36} model quality: {labelled} of {predictions} predictions labelled ({share:.1}%), {} of {} windows violate the quality baseline{}",
                "",
                q.windows_violating(),
                q.windows(),
                if extra.is_empty() { String::new() } else { format!("; {}", extra.join(", ")) }
            )?;
            if let Some(l) = &q.labels {
                writeln!(
                    out,
                    "{:<36} labels: {} matched no record of this stream; {} duplicates ({} conflicting); {} came after their window expired",
                    "", l.unmatched, l.duplicates, l.conflicting, l.too_late
                )?;
            }
        }
    }
    if !s.unreadable.is_empty() {
        let (uri, why) = &s.unreadable[0];
        writeln!(out, "files skipped: {} cannot be read (the first: {uri}: {why})", s.unreadable.len())?;
    }
    if !s.other_files.is_empty() {
        let parts: Vec<String> = s
            .other_files
            .iter()
            .map(
                |(suffix, n)| {
                    if suffix.is_empty() {
                        format!("{n} without a suffix")
                    } else {
                        format!("{n} .{suffix}")
                    }
                },
            )
            .collect();
        writeln!(out, "not capture, not read: {} files ({})", s.other_files.values().sum::<u64>(), parts.join(", "))?;
    }
    if let Some(gt) = &s.ground_truth {
        let skipped: u64 = gt.skipped.values().sum();
        writeln!(out, "ground truth: {} label records in {} files; {} lines skipped", gt.records, gt.files, skipped)?;
    }
    let episodes: usize = s.streams.iter().map(|st| st.episodes.len()).sum();
    writeln!(out)?;
    if episodes == 0 {
        writeln!(out, "episodes: none")?;
    } else {
        writeln!(out, "episodes:")?;
        for st in &s.streams {
            let name = st.name();
            for e in &st.episodes {
                writeln!(out, "  {name}  {e}")?;
            }
        }
    }
    for st in &s.streams {
        let Some(q) = &st.quality else { continue };
        if q.decisions.is_empty() {
            writeln!(out, "model quality episodes ({}): none", st.name())?;
            continue;
        }
        writeln!(out, "model quality episodes ({}):", st.name())?;
        for d in &q.decisions {
            let what = match d.kind {
                crate::classify::Kind::Resolved => "recovered".to_owned(),
                k => format!("{:<8} {:<11}", k.as_str(), k.action()),
            };
            writeln!(out, "  {what} onset {}  decided {}  labels in by {}", d.onset, d.detected_at, d.judged_at)?;
        }
    }
    Ok(())
}
