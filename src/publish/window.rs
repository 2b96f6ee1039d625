//! The one path of a closed window, for every driver: compare it with the baseline, classify it,
//! render its reports and events, and hand the result to the sinks the driver chose.
//!
//! Replay, serve and the Lambda function differ only in where windows come from (local folders
//! or S3), which sinks receive them (files, S3 reports, the metrics table, an events file, the
//! outbox, the HTML page) and when they stop. Nothing here does I/O: sinks do, so the same
//! window gives the same bytes whatever writes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::baseline::Baseline;
use crate::capture::layout::StreamId;
use crate::classify::{ClassifierConfig, EpisodeSummary, StreamClassifier, WindowOutcome};
use crate::drift::{compare, WindowDrift};
use crate::pipeline::ClosedWindow;
use crate::profile::SkipCounts;
use crate::publish::events::{
    DriftQuality, EventEnvelope, EventReports, EventSettings, QualityEventDetail, QualityEventWindow,
};
use crate::publish::report::{render_window, RenderedReport, ReportUris, WindowReport};
use crate::quality::decide::{MetricJudgement, QualityClassifier, QualityDecision};
use crate::quality::estimate::{estimate, Calibration};
use crate::quality::ground_truth::Labels;
use crate::quality::join::{join_window, JoinRules, WindowQuality};
use crate::quality::{QualityConstraints, QualityStatistics};
use crate::store::{ObjectStore, StoreError};
use crate::time::Timestamp;

/// One closed window after the path: what every sink receives.
#[derive(Debug)]
pub struct JudgedWindow {
    /// The window and its profile.
    pub closed: ClosedWindow,
    /// The comparison with the baseline (Model Monitor's checks, distances, floors).
    pub drift: WindowDrift,
    /// The classifier's view: decisions, `drift.json`'s classification, per-feature extras.
    pub outcome: WindowOutcome,
    /// The window's report files and their URIs, when the driver writes reports.
    pub report: Option<(RenderedReport, ReportUris)>,
    /// One envelope per decision, in decision order.
    pub envelopes: Vec<EventEnvelope>,
    /// The window's model quality, once [`WindowPath::judge_quality`] joined its labels.
    pub quality: Option<WindowQuality>,
    /// The headline metrics judged against the baseline's, with their sampling errors.
    pub quality_judgements: Vec<MetricJudgement>,
    /// The model-quality decisions of the window, in order.
    pub quality_decisions: Vec<QualityDecision>,
    /// One envelope per model-quality decision (`Model Quality Degraded` / `Recovered`).
    pub quality_envelopes: Vec<EventEnvelope<QualityEventDetail>>,
}

/// The model-quality half of a stream's path: how labels are judged and the quality
/// baseline's constraints.
#[derive(Debug, Clone)]
pub struct QualityPath {
    /// Problem type, probability threshold, label delay.
    pub rules: JoinRules,
    /// The quality baseline's `constraints.json`.
    pub constraints: Arc<QualityConstraints>,
    /// The quality baseline's `statistics.json` (the baseline's sampling errors).
    pub statistics: Arc<QualityStatistics>,
    /// The baseline's score calibration (`calibration.json`): estimates without labels.
    pub calibration: Option<Arc<Calibration>>,
}

/// Where a driver's reports go, as far as the path needs to know: the URI an object key will
/// have (events point at the decision window's reports).
pub trait ReportLocation {
    /// Returns the URI of `key` (`s3://bucket/prefix/key` or a path).
    fn uri_of(&self, key: &str) -> String;
}

impl<S: ObjectStore> ReportLocation for S {
    fn uri_of(&self, key: &str) -> String {
        self.uri(key)
    }
}

/// When an event is said to have happened (the envelope's `time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// The decision's data time (`detectedAt`): replays of the past.
    DataTime,
    /// The moment the driver publishes it: the service.
    Now(Timestamp),
}

/// The per-stream state of the path: the baseline it compares with and the classifier.
#[derive(Debug, Clone)]
pub struct WindowPath {
    baseline: Arc<Baseline>,
    classifier: StreamClassifier,
    settings: EventSettings,
    /// `resources` of the stream's events when the driver knows them better than the settings
    /// (the service's discovered endpoint ARN; empty when no account is known).
    resources: Option<Vec<String>>,
    quality: Option<(QualityPath, QualityClassifier)>,
}

impl WindowPath {
    /// A path for a new stream.
    pub fn new(stream: StreamId, baseline: Arc<Baseline>, config: ClassifierConfig, settings: EventSettings) -> Self {
        let classifier = StreamClassifier::new(stream, &baseline, config);
        WindowPath::resume(baseline, classifier, settings)
    }

    /// A path that goes on with a classifier restored from a checkpoint.
    pub fn resume(baseline: Arc<Baseline>, classifier: StreamClassifier, settings: EventSettings) -> Self {
        WindowPath { baseline, classifier, settings, resources: None, quality: None }
    }

    /// Judges model quality too ([`WindowPath::judge_quality`]).
    pub fn with_quality(mut self, stream: StreamId, quality: QualityPath) -> Self {
        let classifier = QualityClassifier::new(stream, &quality.statistics, &quality.constraints);
        self.quality = Some((quality, classifier));
        self
    }

    /// Joins a judged window's predictions with `labels` (each label is used once), computes
    /// its model-quality statistics and violations, and adds the `model_quality/` files to its
    /// report when it has one. Nothing happens on a path without [`QualityPath`].
    pub fn judge_quality(&mut self, judged: &mut JudgedWindow, labels: Option<&mut Labels>, time: EventTime) {
        let Some((q, classifier)) = &mut self.quality else { return };
        let closed = &judged.closed;
        let (quality, (judgements, decision)) = match (labels, &q.calibration) {
            (Some(labels), _) => {
                let quality = join_window(&closed.predictions, labels, &q.rules, closed.window.end, &q.constraints);
                let judged = classifier.observe(closed.window, &quality.rows, quality.statistics.as_ref());
                (quality, judged)
            }
            (None, Some(calibration)) => {
                let quality = WindowQuality::unlabelled(&closed.predictions);
                let scored = scored_predictions(&closed.predictions, q.rules.probability_threshold);
                let estimates = estimate(calibration, &scored);
                let judged = classifier.observe_estimate(closed.window, &estimates, scored.len() as u64);
                (quality, judged)
            }
            (None, None) => return,
        };
        if let Some((rendered, _)) = &mut judged.report {
            let prefix = crate::publish::report::window_prefix(&closed.stream, &closed.window);
            rendered.files.extend(crate::publish::report::render_quality(&prefix, &quality, &judgements));
        }
        if let Some(d) = decision {
            // The model-quality files sit below the window's data-quality ones.
            let beside = |uri: &String, file: &str| {
                uri.rsplit_once('/').map(|(dir, _)| format!("{dir}/{}/{file}", crate::publish::report::MODEL_QUALITY))
            };
            let uris = judged.report.as_ref().map(|r| &r.1);
            let reports = EventReports {
                statistics: uris.and_then(|u| beside(&u.statistics, crate::publish::report::STATISTICS)),
                violations: uris.and_then(|u| beside(&u.violations, crate::publish::report::VIOLATIONS)),
            };
            let at = match time {
                EventTime::DataTime => d.detected_at,
                EventTime::Now(now) => now,
            };
            let window = QualityEventWindow {
                start: closed.window.start.to_string(),
                end: closed.window.end.to_string(),
                predictions: quality.counts.predictions,
                labelled: quality.counts.labelled,
            };
            let mut e = EventEnvelope::build_quality(&d, &closed.stream, &window, reports, &self.settings, at);
            if let Some(r) = &self.resources {
                e.resources.clone_from(r);
            }
            judged.quality_envelopes.push(e);
            judged.quality_decisions.push(d);
        }
        // The data-drift events of this window say what the labels say over their span.
        let estimated = quality.estimated;
        for (e, d) in judged.envelopes.iter_mut().zip(&judged.outcome.decisions) {
            let (verdict, windows_judged) = classifier.verdict(d.onset);
            e.detail.quality = DriftQuality { verdict, windows_judged, estimated };
        }
        judged.quality_judgements = judgements;
        judged.quality = Some(quality);
    }

    /// Sets the events' `resources` (replacing the ARN built from the settings).
    pub fn with_resources(mut self, resources: Vec<String>) -> Self {
        self.resources = Some(resources);
        self
    }

    /// The classifier (for checkpoints and the episode list).
    pub fn classifier(&self) -> &StreamClassifier {
        &self.classifier
    }

    /// Episodes so far.
    pub fn episodes(&self) -> Vec<EpisodeSummary> {
        self.classifier.episodes()
    }

    /// Runs one closed window through compare, classify and rendering. `reports` is where the
    /// driver will write the window's report files (none: no reports).
    pub fn judge(
        &mut self,
        closed: ClosedWindow,
        reports: Option<&dyn ReportLocation>,
        time: EventTime,
    ) -> JudgedWindow {
        if !self.baseline.monitors_data() {
            return self.judge_without_data_quality(closed, reports);
        }
        let drift = compare(&self.baseline, &closed.profile, closed.layout.is_positional());
        let outcome = self.classifier.observe(&self.baseline, &closed, &drift);
        let report = reports.map(|loc| {
            let rendered = render_window(
                &self.baseline,
                &WindowReport {
                    stream: &closed.stream,
                    window: closed.window,
                    profile: &closed.profile,
                    drift: &drift,
                    layout: closed.layout,
                    issues: &closed.issues,
                    classification: Some(outcome.view.clone()),
                },
            );
            let uris = ReportUris {
                statistics: loc.uri_of(&rendered.statistics_key),
                violations: loc.uri_of(&rendered.violations_key),
            };
            (rendered, uris)
        });
        let envelopes = outcome
            .decisions
            .iter()
            .map(|d| {
                let at = match time {
                    EventTime::DataTime => d.detected_at,
                    EventTime::Now(now) => now,
                };
                let mut e = EventEnvelope::build(d, &closed, report.as_ref().map(|r| &r.1), &self.settings, at);
                if let Some(r) = &self.resources {
                    e.resources.clone_from(r);
                }
                e
            })
            .collect();
        JudgedWindow {
            closed,
            drift,
            outcome,
            report,
            envelopes,
            quality: None,
            quality_judgements: Vec::new(),
            quality_decisions: Vec::new(),
            quality_envelopes: Vec::new(),
        }
    }
}

impl WindowPath {
    /// A window of a stream with no data-quality monitor: nothing compared, classified or
    /// reported for its features; the report holds only what the other monitors add (its
    /// data-quality keys are where those files would be, so model-quality URIs sit beside them).
    fn judge_without_data_quality(
        &mut self,
        closed: ClosedWindow,
        reports: Option<&dyn ReportLocation>,
    ) -> JudgedWindow {
        let report = reports.map(|loc| {
            let prefix = crate::publish::report::window_prefix(&closed.stream, &closed.window);
            let statistics_key = format!("{prefix}/{}", crate::publish::report::STATISTICS);
            let violations_key = format!("{prefix}/{}", crate::publish::report::VIOLATIONS);
            let uris = ReportUris { statistics: loc.uri_of(&statistics_key), violations: loc.uri_of(&violations_key) };
            (RenderedReport { files: Vec::new(), statistics_key, violations_key }, uris)
        });
        JudgedWindow {
            closed,
            drift: WindowDrift { features: Vec::new(), violations: Vec::new(), missing_column: None },
            outcome: WindowOutcome::default(),
            report,
            envelopes: Vec::new(),
            quality: None,
            quality_judgements: Vec::new(),
            quality_decisions: Vec::new(),
            quality_envelopes: Vec::new(),
        }
    }
}

/// Why a sink could not take a window.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing a file or an object failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A file format writer (the metrics table) could not take the window's rows.
    #[error("{path}: {detail}")]
    Format {
        /// The file or object.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// The (score, predicted label) of each prediction with a probability, for an estimate.
fn scored_predictions(p: &crate::pipeline::predictions::Predictions, threshold: f64) -> Vec<(f64, bool)> {
    p.rows
        .iter()
        .filter_map(|r| {
            let score: f64 = r.probability.as_deref()?.trim().parse().ok().filter(|s: &f64| (0.0..=1.0).contains(s))?;
            let predicted = match r.inference.as_deref().map(crate::payload::Value::from_text) {
                Some(v) => crate::quality::rows::binary_label(&v)?,
                None => score >= threshold,
            };
            Some((score, predicted))
        })
        .collect()
}

/// Something that takes judged windows: a report writer, the metrics table, an events file, the
/// outbox, the HTML page, a summary.
///
/// Contract: `accept` is called once per window, in window order within a stream, and never
/// again for a window that was accepted. An error stops the driver's run (after which nothing is
/// assumed about what the sink kept); sinks do not retry.
pub trait WindowSink {
    /// Takes one window.
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError>;
}

impl<S: WindowSink + ?Sized> WindowSink for Option<&mut S> {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        match self {
            Some(s) => s.accept(w),
            None => Ok(()),
        }
    }
}

impl<S: WindowSink + ?Sized> WindowSink for &mut S {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        (**self).accept(w)
    }
}

/// Hands each window to every sink, in order (the first error stops).
pub fn deliver(w: &JudgedWindow, sinks: &mut [&mut dyn WindowSink]) -> Result<(), SinkError> {
    for s in sinks.iter_mut() {
        s.accept(w)?;
    }
    Ok(())
}

/// What a run found in one stream (the replay's summary table, the report page's header).
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    /// The stream.
    pub stream: Option<StreamId>,
    /// Windows closed.
    pub windows: u64,
    /// Capture records profiled.
    pub records: u64,
    /// Rows profiled.
    pub rows: u64,
    /// Skipped records, rows and values by reason.
    pub skipped: SkipCounts,
    /// Windows with at least one violation.
    pub windows_with_violations: u64,
    /// Violations by feature.
    pub violations_by_feature: BTreeMap<String, u64>,
    /// Episodes found by the classifier.
    pub episodes: Vec<EpisodeSummary>,
    /// Events decided.
    pub events: u64,
    /// Model quality, when the stream has a quality monitor.
    pub quality: Option<QualitySummary>,
}

/// What the model-quality join found in a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualitySummary {
    /// Windows judged.
    pub windows: u64,
    /// Windows with a labelled row.
    pub windows_labelled: u64,
    /// Windows violating the quality baseline's constraints.
    pub windows_violating: u64,
    /// Records with a prediction to join.
    pub predictions: u64,
    /// Of those, labelled.
    pub labelled: u64,
    /// Labels used that came after the delay.
    pub late_labels: u64,
    /// Labels found but unusable, by reason.
    pub unusable: BTreeMap<&'static str, u64>,
    /// Records without a prediction, by reason.
    pub without_prediction: BTreeMap<&'static str, u64>,
    /// Model-quality decisions: (kind, onset, decided at).
    pub decisions: Vec<(crate::classify::Kind, Timestamp, Timestamp)>,
    /// Judged without labels (estimates).
    pub estimated: bool,
}

impl StreamSummary {
    /// Returns `endpoint/variant`.
    pub fn name(&self) -> String {
        self.stream.as_ref().map(ToString::to_string).unwrap_or_default()
    }
}

impl WindowSink for StreamSummary {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        self.windows += 1;
        if !w.drift.violations.is_empty() {
            self.windows_with_violations += 1;
        }
        for v in &w.drift.violations {
            *self.violations_by_feature.entry(v.feature_name.clone()).or_default() += 1;
        }
        self.events += (w.envelopes.len() + w.quality_envelopes.len()) as u64;
        if let Some(q) = &w.quality {
            let s = self.quality.get_or_insert_with(QualitySummary::default);
            s.estimated = q.estimated;
            s.windows += 1;
            s.windows_labelled += u64::from(q.counts.labelled > 0);
            s.windows_violating += u64::from(!q.violations.is_empty());
            s.predictions += q.counts.predictions;
            s.labelled += q.counts.labelled;
            s.late_labels += q.counts.late_labels;
            for (k, n) in &q.counts.unusable {
                *s.unusable.entry(k).or_default() += n;
            }
            for (k, n) in &q.counts.records_without_prediction {
                *s.without_prediction.entry(k).or_default() += n;
            }
            s.decisions.extend(w.quality_decisions.iter().map(|d| (d.kind, d.onset, d.detected_at)));
        }
        Ok(())
    }
}

/// The report files of each window, collected for a driver that writes them asynchronously
/// (the service, to S3). Taken with [`ReportFiles::take`].
#[derive(Debug, Default)]
pub struct ReportFiles {
    files: Vec<(String, Vec<u8>)>,
}

impl ReportFiles {
    /// Returns the files collected so far (key, bytes), in window order, and forgets them.
    pub fn take(&mut self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.files)
    }
}

impl WindowSink for ReportFiles {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        if let Some((rendered, _)) = &w.report {
            self.files.extend(rendered.files.iter().cloned());
        }
        Ok(())
    }
}
