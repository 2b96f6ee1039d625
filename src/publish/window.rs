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
use crate::quality::decide::{QualityClassifier, QualityDecision};
use crate::quality::estimate::{estimate, Calibration};
use crate::quality::ground_truth::LabelFile;
use crate::quality::join::{JoinRules, WindowQuality};
use crate::quality::ledger::{Judged, LabelLedger};
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
    /// The model-quality windows judged (or rendered again for late labels) when this window
    /// closed: its labels decide which (earlier windows, this one, or none).
    pub quality: Vec<JudgedQuality>,
    /// The window's bias against the bias baseline, when the stream has a bias monitor.
    pub bias: Option<crate::bias::window::BiasWindow>,
    /// One envelope per bias decision (`Bias Drift Detected` / `Resolved`), in order.
    pub bias_envelopes: Vec<EventEnvelope<crate::publish::events::BiasEventDetail>>,
    /// The bias over the labelled predictions of the windows judged when this window closed
    /// (with [`JudgedWindow::quality`]'s judgements, or alone when labels are joined for the
    /// bias monitor only).
    pub labelled_bias: Vec<JudgedLabelledBias>,
}

/// One window's bias over its predictions labelled when the label join judged it: every
/// metric, the label-dependent ones checked beyond their sampling errors, and their episodes.
#[derive(Debug)]
pub struct JudgedLabelledBias {
    /// The stream.
    pub stream: StreamId,
    /// The window.
    pub window: crate::time::Window,
    /// Its bias over the labelled predictions.
    pub bias: crate::bias::window::BiasWindow,
    /// One envelope per decision of the labels' bias episodes.
    pub envelopes: Vec<EventEnvelope<crate::publish::events::BiasEventDetail>>,
    /// `bias/analysis_with_labels.json` and `bias/constraint_violations_with_labels.json`,
    /// when the driver writes reports.
    pub files: Vec<(String, Vec<u8>)>,
}

/// What one move of the label join's time judged: model-quality windows (with a quality
/// monitor) and the bias over each judged window's labelled predictions (with a bias monitor).
#[derive(Debug, Default)]
pub struct LabelJudgements {
    /// Model-quality judgements and late-label updates, in window order.
    pub quality: Vec<JudgedQuality>,
    /// Labelled bias, in window order.
    pub bias: Vec<JudgedLabelledBias>,
}

impl LabelJudgements {
    /// Nothing was judged.
    pub fn is_empty(&self) -> bool {
        self.quality.is_empty() && self.bias.is_empty()
    }
}

/// One window's model quality after the path: judged, or rendered again because labels came
/// late (then it has no decisions).
#[derive(Debug)]
pub struct JudgedQuality {
    /// The stream.
    pub stream: StreamId,
    /// What the window's files show, with the judgement.
    pub quality: WindowQuality,
    /// The model-quality decisions of the judgement, in order.
    pub decisions: Vec<QualityDecision>,
    /// One envelope per decision (`Model Quality Degraded` / `Recovered`).
    pub envelopes: Vec<EventEnvelope<QualityEventDetail>>,
    /// The `model_quality/` files below the window's report folder, when the driver writes
    /// reports.
    pub files: Vec<(String, Vec<u8>)>,
}

/// The model-quality half of a stream's path: how labels are judged and the quality
/// baseline's constraints.
#[derive(Debug, Clone)]
pub struct QualityPath {
    /// Problem type, probability threshold, delay, early share, expiry.
    pub rules: JoinRules,
    /// The quality baseline's `constraints.json`.
    pub constraints: Arc<QualityConstraints>,
    /// The quality baseline's `statistics.json` (the baseline's sampling errors).
    pub statistics: Arc<QualityStatistics>,
    /// The baseline's score calibration (`calibration.json`): estimates without labels, and
    /// beside them.
    pub calibration: Option<Arc<Calibration>>,
    /// Ground truth comes (labels are joined); without, quality is estimated.
    pub labelled: bool,
    /// The stream has a model-quality monitor; without one, labels are joined for the bias
    /// monitor's label-dependent metrics only (no model-quality files, metrics or events).
    pub monitored: bool,
}

impl QualityPath {
    /// The model-quality path of a stream over a quality baseline at `uri`: checks that the
    /// prediction's attributes fit its problem type, the rules' values, and, without ground truth
    /// (`labelled` false), that quality can be estimated (binary, a probability, a
    /// calibration). The message says what to add or change.
    pub fn new(
        files: crate::store::baseline::QualityBaselineFiles,
        spec: &crate::pipeline::predictions::PredictionSpec,
        rules: JoinRules,
        labelled: bool,
        uri: &str,
    ) -> Result<QualityPath, String> {
        let problem = files.statistics.problem;
        crate::quality::check_prediction_attributes(
            problem,
            spec.inference.is_some(),
            spec.probability.is_some(),
            rules.probability_threshold,
        )
        .map_err(|e| e.to_string())?;
        rules.check()?;
        if !labelled {
            let why = if problem != crate::quality::ProblemType::BinaryClassification {
                Some(format!("the baseline is {}; only BinaryClassification can be estimated", problem.as_str()))
            } else if spec.probability.is_none() {
                Some("an estimate needs the probability attribute".to_owned())
            } else if files.calibration.is_none() {
                Some(format!(
                    "no {}{} (written by `driftwatch baseline --problem-type BinaryClassification --probability-attribute ...`)",
                    uri.trim_end_matches('/').to_owned() + "/",
                    crate::quality::estimate::Calibration::FILE
                ))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(format!("without ground truth quality is estimated: {why}"));
            }
        }
        Ok(QualityPath {
            rules: JoinRules { problem, ..rules },
            constraints: Arc::new(files.constraints),
            statistics: Arc::new(files.statistics),
            calibration: files.calibration.map(Arc::new),
            labelled,
            monitored: true,
        })
    }

    /// The label join of a stream with no model-quality monitor: ground truth joined for its
    /// bias monitor's label-dependent metrics, with the same reader, delay and judgement.
    pub fn labels_for_bias(rules: JoinRules) -> Result<QualityPath, String> {
        rules.check()?;
        let problem = crate::quality::ProblemType::BinaryClassification;
        Ok(QualityPath {
            rules: JoinRules { problem, ..rules },
            constraints: Arc::new(QualityConstraints { problem, constraints: Vec::new() }),
            statistics: Arc::new(QualityStatistics { problem, item_count: 0, metrics: Vec::new() }),
            calibration: None,
            labelled: true,
            monitored: false,
        })
    }
}

/// What a checkpoint keeps of a stream's model-quality state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QualityState {
    /// Episodes and judged history.
    pub classifier: QualityClassifier,
    /// Predictions waiting for labels, labels waiting for predictions.
    pub ledger: LabelLedger,
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

/// The envelope of a bias event.
type BiasEnvelope = EventEnvelope<crate::publish::events::BiasEventDetail>;

/// How a stream's events are addressed: the envelope settings, and the `resources` when the
/// driver knows them better than the settings (the service's discovered endpoint ARN; empty
/// when no account is known).
#[derive(Debug, Clone)]
struct EventTarget {
    settings: EventSettings,
    resources: Option<Vec<String>>,
}

impl EventTarget {
    /// The envelope `build` makes for a decision detected at `detected_at`: at that data time
    /// or the driver's now (`time`), with the driver's resources when it has them.
    fn envelope<D>(
        &self,
        time: EventTime,
        detected_at: Timestamp,
        build: impl FnOnce(&EventSettings, Timestamp) -> EventEnvelope<D>,
    ) -> EventEnvelope<D> {
        let at = match time {
            EventTime::DataTime => detected_at,
            EventTime::Now(now) => now,
        };
        let mut e = build(&self.settings, at);
        if let Some(r) = &self.resources {
            e.resources.clone_from(r);
        }
        e
    }

    /// A bias judgement of `window` (`bias`, over what `files` say) through `classifier`: its
    /// files below the window's report folder (when reports are written) and the envelopes of
    /// its decisions, which point at them.
    #[allow(clippy::too_many_arguments)]
    fn bias_judgement(
        &self,
        monitor: &crate::bias::window::BiasMonitor,
        classifier: &mut crate::bias::decide::BiasClassifier,
        stream: &StreamId,
        window: crate::time::Window,
        bias: &crate::bias::window::BiasWindow,
        files: crate::publish::report::BiasFiles,
        reports: Option<&dyn ReportLocation>,
        time: EventTime,
    ) -> (Vec<(String, Vec<u8>)>, Vec<BiasEnvelope>) {
        let prefix = crate::publish::report::window_prefix(stream, &window);
        let rendered = match reports {
            Some(_) => crate::publish::report::render_bias(&prefix, monitor, bias, files),
            None => Vec::new(),
        };
        let uri =
            |file: &str| reports.map(|loc| loc.uri_of(&format!("{prefix}/{}/{file}", crate::publish::report::BIAS)));
        let envelopes = classifier
            .observe(window, bias)
            .iter()
            .map(|d| {
                let reports = crate::publish::events::BiasEventReports {
                    analysis: uri(files.analysis),
                    violations: uri(files.violations),
                };
                self.envelope(time, d.detected_at, |settings, at| {
                    EventEnvelope::build_bias(d, stream, reports, settings, at)
                })
            })
            .collect();
        (rendered, envelopes)
    }
}

/// The per-stream state of the path: the baseline it compares with and the classifier.
#[derive(Debug, Clone)]
pub struct WindowPath {
    baseline: Arc<Baseline>,
    classifier: StreamClassifier,
    /// How the stream's events are addressed.
    events: EventTarget,
    quality: Option<(QualityPath, QualityState)>,
    /// Whether window reports carry KLL sketches (`[reports] sketches`).
    sketches: bool,
    /// The bias monitor and its episodes, when the stream has one.
    bias: Option<BiasState>,
}

/// A stream's bias monitor and its two episode classifiers.
#[derive(Debug, Clone)]
struct BiasState {
    monitor: Arc<crate::bias::window::BiasMonitor>,
    /// Over each window's predictions as it closes.
    predictions: crate::bias::decide::BiasClassifier,
    /// Over each window's labelled predictions when the label join judges it.
    labels: crate::bias::decide::BiasClassifier,
}

impl WindowPath {
    /// Judges each window's bias against `monitor` too (its predictions must carry the
    /// facets: the engine's prediction spec names them).
    pub fn with_bias(mut self, stream: StreamId, monitor: Arc<crate::bias::window::BiasMonitor>) -> Self {
        use crate::bias::decide::{BiasClassifier, Stage};
        self.bias = Some(BiasState {
            monitor,
            predictions: BiasClassifier::at(stream.clone(), Stage::Predictions),
            labels: BiasClassifier::at(stream, Stage::Labels),
        });
        self
    }

    /// A window's bias, its decisions' envelopes, and its files below the report folder when
    /// reports are written.
    fn judge_bias(
        &mut self,
        closed: &ClosedWindow,
        report: Option<&mut (RenderedReport, ReportUris)>,
        reports: Option<&dyn ReportLocation>,
        time: EventTime,
    ) -> (Option<crate::bias::window::BiasWindow>, Vec<EventEnvelope<crate::publish::events::BiasEventDetail>>) {
        let Some(state) = self.bias.as_mut() else { return (None, Vec::new()) };
        let (counts, rows, skipped) = state.monitor.counts(closed.predictions.unlabelled());
        let bias = state.monitor.judge(&counts, rows, skipped);
        let (files, envelopes) = self.events.bias_judgement(
            &state.monitor,
            &mut state.predictions,
            &closed.stream,
            closed.window,
            &bias,
            crate::publish::report::BiasFiles::PREDICTIONS,
            reports,
            time,
        );
        if let Some((rendered, _)) = report {
            rendered.files.extend(files);
        }
        (Some(bias), envelopes)
    }

    /// A path for a new stream.
    pub fn new(stream: StreamId, baseline: Arc<Baseline>, config: ClassifierConfig, settings: EventSettings) -> Self {
        let classifier = StreamClassifier::new(stream, &baseline, config);
        WindowPath::resume(baseline, classifier, settings)
    }

    /// A path that goes on with a classifier restored from a checkpoint.
    pub fn resume(baseline: Arc<Baseline>, classifier: StreamClassifier, settings: EventSettings) -> Self {
        WindowPath {
            baseline,
            classifier,
            events: EventTarget { settings, resources: None },
            quality: None,
            sketches: true,
            bias: None,
        }
    }

    /// Judges model quality too: each closed window's predictions wait in the stream's ledger
    /// until their labels came (or are estimated at once without ground truth).
    pub fn with_quality(self, stream: StreamId, quality: QualityPath) -> Self {
        let classifier = QualityClassifier::new(stream, &quality.statistics, &quality.constraints);
        let ledger = LabelLedger::new(quality.labelled);
        self.resume_quality(quality, QualityState { classifier, ledger })
    }

    /// Judges model quality too, going on from a checkpoint's state.
    pub fn resume_quality(mut self, quality: QualityPath, mut state: QualityState) -> Self {
        state.ledger.rebuild();
        self.quality = Some((quality, state));
        self
    }

    /// Goes on with bias episodes restored from a checkpoint (after [`WindowPath::with_bias`]):
    /// each classifier replaces the one of its stage.
    pub fn resume_bias(mut self, classifiers: Vec<crate::bias::decide::BiasClassifier>) -> Self {
        use crate::bias::decide::Stage;
        if let Some(state) = &mut self.bias {
            for c in classifiers {
                match c.stage() {
                    Stage::Predictions => state.predictions = c,
                    Stage::Labels => state.labels = c,
                }
            }
        }
        self
    }

    /// The bias episodes of both stages (for checkpoints), when the stream has a bias monitor.
    pub fn bias_classifiers(&self) -> Vec<crate::bias::decide::BiasClassifier> {
        self.bias.iter().flat_map(|s| [s.predictions.clone(), s.labels.clone()]).collect()
    }

    /// The model-quality state (for checkpoints), when the stream has a quality monitor.
    pub fn quality_state(&self) -> Option<&QualityState> {
        self.quality.as_ref().map(|(_, s)| s)
    }

    /// Gives the stream one ground-truth file's labels (used once the data time passes their
    /// collection hour).
    pub fn add_labels(&mut self, file: &LabelFile) {
        if let Some((_, s)) = &mut self.quality {
            s.ledger.add_file(file);
        }
    }

    /// The end of a replay: every window still waiting is judged with the labels there are.
    /// Labels no window took are counted unmatched.
    pub fn finish_quality(&mut self, reports: Option<&dyn ReportLocation>, time: EventTime) -> LabelJudgements {
        let out = self.quality_due(None, reports, time);
        if let Some((_, s)) = &mut self.quality {
            s.ledger.finish();
        }
        out
    }

    /// Moves the stream's model quality to data time `t`, the stream's closed-through time when
    /// no window closed (an idle endpoint's labels still come): judges the windows whose
    /// labels are in, renders again those that got late labels. The windows' results do not
    /// depend on how often this is called (`quality::ledger`).
    pub fn advance_quality(
        &mut self,
        t: Timestamp,
        reports: Option<&dyn ReportLocation>,
        time: EventTime,
    ) -> LabelJudgements {
        self.quality_due(Some(t), reports, time)
    }

    /// Moves the stream's model quality to data time `t` (None: everything is in): judges the
    /// windows whose labels are in (or whose delay passed), renders their files and events,
    /// and renders again the windows that got late labels.
    fn quality_due(
        &mut self,
        t: Option<Timestamp>,
        reports: Option<&dyn ReportLocation>,
        time: EventTime,
    ) -> LabelJudgements {
        let Some((q, state)) = &mut self.quality else { return LabelJudgements::default() };
        let stream = state.classifier.stream().clone();
        let classifier = &mut state.classifier;
        let mut decisions: Vec<(Timestamp, QualityDecision)> = Vec::new();
        // A bias monitor reads the predictions labelled by each judgement: every metric,
        // label-dependent ones included, over them.
        let bias_monitor = self.bias.as_ref().map(|b| b.monitor.clone());
        let mut bias_labelled: Vec<(crate::time::Window, crate::bias::window::BiasWindow)> = Vec::new();
        let (labelled, monitored) = (q.labelled, q.monitored);
        let calibration = q.calibration.clone();
        let qualities = state.ledger.due(t, &q.rules, &q.constraints, &mut |j| {
            if let (Some(m), true) = (&bias_monitor, labelled) {
                bias_labelled.push((j.window, m.judge_labelled(j.labelled)));
            }
            if !monitored {
                return Judged::default();
            }
            let estimates = calibration.as_ref().map(|c| estimate(c, j.scored));
            let (judgements, decision, estimate_beside) = if labelled {
                let (judgements, decision) = classifier.observe(j.window, j.rows, j.statistics);
                let beside = estimates.as_ref().map(|e| classifier.assess_estimate(e)).unwrap_or_default();
                (judgements, decision, beside)
            } else {
                let e = estimates.unwrap_or_default();
                let (judgements, decision) = classifier.observe_estimate(j.window, &e, j.scored.len() as u64);
                (judgements, decision, Vec::new())
            };
            if let Some(mut d) = decision {
                d.judged_at = j.judged_at;
                decisions.push((j.window.start, d));
            }
            Judged { judgements, estimate: estimate_beside, estimated: !labelled }
        });
        let mut out = LabelJudgements::default();
        if let Some(b) = &mut self.bias {
            for (window, bias) in bias_labelled {
                let (files, envelopes) = self.events.bias_judgement(
                    &b.monitor,
                    &mut b.labels,
                    &stream,
                    window,
                    &bias,
                    crate::publish::report::BiasFiles::LABELS,
                    reports,
                    time,
                );
                out.bias.push(JudgedLabelledBias { stream: stream.clone(), window, bias, envelopes, files });
            }
        }
        if !monitored {
            return out;
        }
        for quality in qualities {
            let prefix = crate::publish::report::window_prefix(&stream, &quality.window);
            let files = match reports {
                Some(_) => crate::publish::report::render_quality(&prefix, &quality),
                None => Vec::new(),
            };
            let uri = |file: &str| {
                reports.map(|loc| loc.uri_of(&format!("{prefix}/{}/{file}", crate::publish::report::MODEL_QUALITY)))
            };
            let mut judged =
                JudgedQuality { stream: stream.clone(), quality, decisions: Vec::new(), envelopes: Vec::new(), files };
            if !judged.quality.update {
                let start = judged.quality.window.start;
                for (_, d) in decisions.iter().filter(|(s, _)| *s == start) {
                    let window = QualityEventWindow {
                        start: judged.quality.window.start.to_string(),
                        end: judged.quality.window.end.to_string(),
                        predictions: judged.quality.counts.predictions,
                        labelled: if judged.quality.estimated { 0 } else { judged.quality.counts.labelled_when_judged },
                    };
                    let reports = EventReports {
                        statistics: uri(crate::publish::report::STATISTICS),
                        violations: uri(crate::publish::report::VIOLATIONS),
                    };
                    let e = self.events.envelope(time, d.detected_at, |settings, at| {
                        EventEnvelope::build_quality(d, &stream, &window, reports, settings, at)
                    });
                    judged.envelopes.push(e);
                    judged.decisions.push(d.clone());
                }
            }
            out.quality.push(judged);
        }
        out
    }

    /// Leaves the KLL sketches out of each window's `statistics.json` (`false`).
    pub fn with_report_sketches(mut self, sketches: bool) -> Self {
        self.sketches = sketches;
        self
    }

    /// Sets the events' `resources` (replacing the ARN built from the settings).
    pub fn with_resources(mut self, resources: Vec<String>) -> Self {
        self.events.resources = Some(resources);
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
            return self.judge_without_data_quality(closed, reports, time);
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
                self.sketches,
            );
            let uris = ReportUris {
                statistics: loc.uri_of(&rendered.statistics_key),
                violations: loc.uri_of(&rendered.violations_key),
            };
            (rendered, uris)
        });
        let mut envelopes: Vec<EventEnvelope> = outcome
            .decisions
            .iter()
            .map(|d| {
                self.events.envelope(time, d.detected_at, |settings, at| {
                    EventEnvelope::build(d, &closed, report.as_ref().map(|r| &r.1), settings, at)
                })
            })
            .collect();
        let mut judged = self.with_other_monitors(closed, drift, outcome, report, reports, time);
        // The data-drift events say what the windows judged by now (this window's end) say
        // over their span.
        if let Some((q, state)) = self.quality.as_ref().filter(|(q, _)| q.monitored) {
            for (e, d) in envelopes.iter_mut().zip(&judged.outcome.decisions) {
                let (verdict, windows_judged) = state.classifier.verdict(d.onset);
                e.detail.quality = DriftQuality { verdict, windows_judged, estimated: !q.labelled };
            }
        }
        judged.envelopes = envelopes;
        judged
    }

    /// Hands a closed window's predictions to the stream's ledger and gives the window what is
    /// judged at its end (model quality and labelled bias).
    fn close_quality(&mut self, judged: &mut JudgedWindow, reports: Option<&dyn ReportLocation>, time: EventTime) {
        let Some((q, state)) = &mut self.quality else { return };
        let closed = &mut judged.closed;
        state.ledger.push(closed.window, std::mem::take(&mut closed.predictions), &q.rules);
        let labels = self.quality_due(Some(closed.window.end), reports, time);
        judged.quality = labels.quality;
        judged.labelled_bias = labels.bias;
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
        time: EventTime,
    ) -> JudgedWindow {
        let report = reports.map(|loc| {
            let prefix = crate::publish::report::window_prefix(&closed.stream, &closed.window);
            let statistics_key = format!("{prefix}/{}", crate::publish::report::STATISTICS);
            let violations_key = format!("{prefix}/{}", crate::publish::report::VIOLATIONS);
            let uris = ReportUris { statistics: loc.uri_of(&statistics_key), violations: loc.uri_of(&violations_key) };
            (RenderedReport { files: Vec::new(), statistics_key, violations_key }, uris)
        });
        let drift = WindowDrift { features: Vec::new(), violations: Vec::new(), missing_column: None };
        self.with_other_monitors(closed, drift, WindowOutcome::default(), report, reports, time)
    }

    /// The judged window (its data-drift envelopes still to be set) with what the other monitors
    /// add: its bias (files into `report`), then the model quality and labelled bias judged at
    /// its end.
    fn with_other_monitors(
        &mut self,
        closed: ClosedWindow,
        drift: WindowDrift,
        outcome: WindowOutcome,
        mut report: Option<(RenderedReport, ReportUris)>,
        reports: Option<&dyn ReportLocation>,
        time: EventTime,
    ) -> JudgedWindow {
        let (bias, bias_envelopes) = self.judge_bias(&closed, report.as_mut(), reports, time);
        let mut judged = JudgedWindow {
            closed,
            drift,
            outcome,
            report,
            envelopes: Vec::new(),
            quality: Vec::new(),
            bias,
            bias_envelopes,
            labelled_bias: Vec::new(),
        };
        self.close_quality(&mut judged, reports, time);
        judged
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

/// Something that takes judged windows: a report writer, the metrics table, an events file, the
/// outbox, the HTML page, a summary.
///
/// Contract: `accept` is called once per window, in window order within a stream, and never
/// again for a window that was accepted; `accept_quality` once per model-quality judgement, in
/// window order, and again for a window whose files change because labels came late (the
/// quality's `update` is set then). An error stops the driver's run (after which nothing is
/// assumed about what the sink kept); sinks do not retry.
pub trait WindowSink {
    /// Takes one window.
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError>;

    /// Takes one window's model quality (the default ignores it).
    fn accept_quality(&mut self, _q: &JudgedQuality) -> Result<(), SinkError> {
        Ok(())
    }

    /// Takes one window's bias over its labelled predictions (the default ignores it).
    fn accept_labelled_bias(&mut self, _b: &JudgedLabelledBias) -> Result<(), SinkError> {
        Ok(())
    }
}

impl<S: WindowSink + ?Sized> WindowSink for Option<&mut S> {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        match self {
            Some(s) => s.accept(w),
            None => Ok(()),
        }
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        match self {
            Some(s) => s.accept_quality(q),
            None => Ok(()),
        }
    }

    fn accept_labelled_bias(&mut self, b: &JudgedLabelledBias) -> Result<(), SinkError> {
        match self {
            Some(s) => s.accept_labelled_bias(b),
            None => Ok(()),
        }
    }
}

impl<S: WindowSink + ?Sized> WindowSink for &mut S {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        (**self).accept(w)
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        (**self).accept_quality(q)
    }

    fn accept_labelled_bias(&mut self, b: &JudgedLabelledBias) -> Result<(), SinkError> {
        (**self).accept_labelled_bias(b)
    }
}

/// Hands a window, then the model qualities and labelled bias judged when it closed, to
/// every sink, in order (the first error stops).
pub fn deliver(w: &JudgedWindow, sinks: &mut [&mut dyn WindowSink]) -> Result<(), SinkError> {
    for s in sinks.iter_mut() {
        s.accept(w)?;
    }
    for q in &w.quality {
        deliver_quality(q, sinks)?;
    }
    for b in &w.labelled_bias {
        deliver_labelled_bias(b, sinks)?;
    }
    Ok(())
}

/// Hands one model quality to every sink, in order (the first error stops).
pub fn deliver_quality(q: &JudgedQuality, sinks: &mut [&mut dyn WindowSink]) -> Result<(), SinkError> {
    for s in sinks.iter_mut() {
        s.accept_quality(q)?;
    }
    Ok(())
}

/// Hands one labelled bias to every sink, in order (the first error stops).
pub fn deliver_labelled_bias(b: &JudgedLabelledBias, sinks: &mut [&mut dyn WindowSink]) -> Result<(), SinkError> {
    for s in sinks.iter_mut() {
        s.accept_labelled_bias(b)?;
    }
    Ok(())
}

/// Hands what one move of the label join judged to every sink: model quality, then bias.
pub fn deliver_labels(l: &LabelJudgements, sinks: &mut [&mut dyn WindowSink]) -> Result<(), SinkError> {
    for q in &l.quality {
        deliver_quality(q, sinks)?;
    }
    for b in &l.bias {
        deliver_labelled_bias(b, sinks)?;
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

/// One model-quality decision as a summary lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QualityDecided {
    /// Sudden, gradual or resolved.
    pub kind: crate::classify::Kind,
    /// Start of the change.
    pub onset: Timestamp,
    /// End of the deciding window.
    pub detected_at: Timestamp,
    /// When the deciding window's labels were in (its judgement's data time).
    pub judged_at: Timestamp,
}

/// What the model-quality join found in a stream: each judged window's latest account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualitySummary {
    /// Per judged window (by start): its account and whether it violates the quality baseline.
    pub by_window: BTreeMap<Timestamp, (crate::quality::join::JoinCounts, bool)>,
    /// Model-quality decisions.
    pub decisions: Vec<QualityDecided>,
    /// Judged without labels (estimates).
    pub estimated: bool,
    /// What became of the ground truth's labels in this stream (set at the end of a run).
    pub labels: Option<crate::quality::ledger::LabelTotals>,
}

impl QualitySummary {
    /// Windows judged.
    pub fn windows(&self) -> u64 {
        self.by_window.len() as u64
    }

    /// Windows with a labelled row.
    pub fn windows_labelled(&self) -> u64 {
        self.by_window.values().filter(|(c, _)| c.labelled > 0).count() as u64
    }

    /// Windows violating the quality baseline's constraints.
    pub fn windows_violating(&self) -> u64 {
        self.by_window.values().filter(|(_, v)| *v).count() as u64
    }

    fn sum(&self, f: impl Fn(&crate::quality::join::JoinCounts) -> u64) -> u64 {
        self.by_window.values().map(|(c, _)| f(c)).sum()
    }

    /// Records with a prediction to join.
    pub fn predictions(&self) -> u64 {
        self.sum(|c| c.predictions)
    }

    /// Of those, labelled.
    pub fn labelled(&self) -> u64 {
        self.sum(|c| c.labelled)
    }

    /// Labels used that came after their window was judged.
    pub fn late_labels(&self) -> u64 {
        self.sum(|c| c.late_labels)
    }

    fn by_reason(
        &self,
        f: impl Fn(&crate::quality::join::JoinCounts) -> &BTreeMap<&'static str, u64>,
    ) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for (c, _) in self.by_window.values() {
            for (k, n) in f(c) {
                *out.entry(*k).or_default() += n;
            }
        }
        out
    }

    /// Labels found but unusable, by reason.
    pub fn unusable(&self) -> BTreeMap<&'static str, u64> {
        self.by_reason(|c| &c.unusable)
    }

    /// Records without a prediction, by reason.
    pub fn without_prediction(&self) -> BTreeMap<&'static str, u64> {
        self.by_reason(|c| &c.records_without_prediction)
    }
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
        self.events += (w.envelopes.len() + w.bias_envelopes.len()) as u64;
        Ok(())
    }

    fn accept_labelled_bias(&mut self, b: &JudgedLabelledBias) -> Result<(), SinkError> {
        self.events += b.envelopes.len() as u64;
        Ok(())
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        self.events += q.envelopes.len() as u64;
        let s = self.quality.get_or_insert_with(QualitySummary::default);
        s.estimated = q.quality.estimated;
        s.by_window.insert(q.quality.window.start, (q.quality.counts.clone(), !q.quality.violations.is_empty()));
        s.decisions.extend(q.decisions.iter().map(|d| QualityDecided {
            kind: d.kind,
            onset: d.onset,
            detected_at: d.detected_at,
            judged_at: d.judged_at,
        }));
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

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        self.files.extend(q.files.iter().cloned());
        Ok(())
    }

    fn accept_labelled_bias(&mut self, b: &JudgedLabelledBias) -> Result<(), SinkError> {
        self.files.extend(b.files.iter().cloned());
        Ok(())
    }
}
