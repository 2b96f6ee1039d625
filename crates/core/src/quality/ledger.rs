//! One stream's labels and predictions over data time: which window is judged when, with which
//! labels, and what the labels that come later change.
//!
//! Labels arrive in Model Monitor's ground-truth folders, one per collection hour; a folder's
//! labels are all in once its hour has ended. The ledger takes them in that order, at the data
//! time the stream has reached: [`LabelLedger::due`]`(t)` first applies every label collected
//! before `t`, then judges the windows whose time has come, then lets go of what can no longer
//! change. Because everything is decided on data time (window ends and collection hours),
//! never on when a driver happened to read a file, `replay` and the service give the same
//! judgements, files and events for the same objects.
//!
//! - **When a window is judged**: at its end plus the delay, or sooner, at the first hour once
//!   [`JoinRules::enough_share`] of its predictions are labelled; never before the window before
//!   it (the classifier reads windows in order). A window judged without labels (an estimate
//!   from calibrated scores) is judged at its end.
//! - **Late labels**: a label applied after its window was judged is used in the window's files
//!   (`statistics.json`, `constraint_violations.json`, `labels.json`), which are rendered again,
//!   and counted late; the judgement and its events stay as they were.
//! - **Memory**: a window's predictions (key and prediction text, about 100 bytes each) are held
//!   from its close until it is judged and, while some are unlabelled, until its end plus the
//!   expiry; a label is held until its prediction's window closes, at most the expiry after its
//!   collection. So the ledger holds at most `expiry` of traffic, and usually `delay` of it.
//! - **Every label and prediction is counted once**: a label is used (on time or late),
//!   unusable, a duplicate (a second label for a key still in the ledger), too late (its
//!   prediction's window expired), or unmatched (no prediction came within the expiry); a
//!   prediction is labelled or, once its window expires, unlabelled. A prediction whose key an
//!   earlier one in the ledger has is never joined (the first takes the label); once the
//!   earlier one is let go, a later prediction with the key can take a label again, so with
//!   windows longer than an hour and repeated keys the service (which moves the ledger every
//!   poll) may join a repeat that replay does not.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::decide::MetricJudgement;
use super::files::{QualityConstraints, QualityStatistics};
use super::ground_truth::{GroundTruth, HeldLabel, LabelFile, LabelIssue, LabelSkip, NAMED_LABEL_ISSUES};
use super::join::{JoinCounts, JoinRules, WindowQuality};
use super::metrics::{BinaryRow, LabelledRows};
use super::rows::{binary_label, labelled_row, RowSkip};
use crate::payload::Value;
use crate::pipeline::predictions::{PredictionSkip, Predictions};
use crate::time::{Duration, Timestamp, Window};

/// A ground-truth folder holds what was collected during its hour: its labels are all in once
/// that hour has ended.
pub const COLLECTION_FOLDER: Duration = Duration::from_hours(1);

/// When a label collected in hour folder `collected` is in (a file outside the layout: always).
fn available(collected: Option<Timestamp>) -> Option<Timestamp> {
    collected.map(|c| c + COLLECTION_FOLDER)
}

/// Whether a label collected in `collected` can join a prediction of `window`: neither waited
/// longer than the expiry for the other (the window for the label, or the label, from when it
/// was in, for the window to close). Decided on data time alone, so it does not depend on when
/// the ledger lets go of what waited too long.
fn joins(collected: Option<Timestamp>, window: Window, rules: &JoinRules) -> bool {
    let Some(c) = collected else { return true };
    c < window.end + rules.expiry && window.end < c + COLLECTION_FOLDER + rules.expiry
}

/// One prediction of a window and, once it came, its label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Row {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probability: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    collected: Option<Timestamp>,
    /// The label came after the window was judged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    late: bool,
    /// An earlier prediction has the same key: the label goes to that one, this one is never
    /// joined (kept so that the index is rebuilt the same after a checkpoint).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    repeated: bool,
    /// Bias monitors: the request's facet values and group (for the label-dependent metrics).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    facets: Vec<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<String>,
}

/// A labelled prediction as a bias monitor reads it when its window is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPrediction<'a> {
    /// The probability's text.
    pub probability: Option<&'a str>,
    /// The label's text.
    pub label: &'a str,
    /// The request's facet values.
    pub facets: &'a [Option<String>],
    /// The request's group.
    pub group: Option<&'a str>,
}

/// A closed window's predictions, judged or waiting to be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LedgerWindow {
    window: Window,
    rows: Vec<Row>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    skipped: BTreeMap<PredictionSkip, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    judged_at: Option<Timestamp>,
    /// A label came since the window's files were last rendered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    dirty: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    judgements: Vec<MetricJudgement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    estimate: Vec<MetricJudgement>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    estimated: bool,
    /// Once judged: its labelled predictions, as labelled rows (their keys and texts are let go;
    /// `rows` keeps only the predictions still waiting for a label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settled: Option<Settled>,
}

/// What a judged window's labelled predictions became: enough to render its files again when a
/// late label comes, at a few bytes a row instead of a key and a prediction's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settled {
    /// Every prediction of the window.
    predictions: u64,
    /// The usable labelled rows (on time and late).
    rows: PackedRows,
    /// Labels that were not usable, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    unusable: BTreeMap<RowSkip, u64>,
    /// Of the rows, those whose label came after the window was judged.
    late: u64,
    /// Of the rows, those the judgement saw.
    when_judged: u64,
}

/// Labelled rows as a checkpoint keeps them: binary and regression rows packed into base64
/// (9 and 16 bytes a row), multiclass rows as their label pairs.
#[derive(Debug, Clone, PartialEq)]
struct PackedRows(LabelledRows);

impl Serialize for PackedRows {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        use serde::ser::SerializeMap as _;
        let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut m = s.serialize_map(Some(1))?;
        match &self.0 {
            LabelledRows::Binary(rows) => {
                let mut bytes = Vec::with_capacity(rows.len() * 9);
                for r in rows {
                    bytes.push(u8::from(r.label) | (u8::from(r.predicted) << 1));
                    bytes.extend_from_slice(&r.score.to_le_bytes());
                }
                m.serialize_entry("binary", &b64(bytes))?;
            }
            LabelledRows::Regression(rows) => {
                let mut bytes = Vec::with_capacity(rows.len() * 16);
                for (y, p) in rows {
                    bytes.extend_from_slice(&y.to_le_bytes());
                    bytes.extend_from_slice(&p.to_le_bytes());
                }
                m.serialize_entry("regression", &b64(bytes))?;
            }
            LabelledRows::Multiclass(rows) => m.serialize_entry("multiclass", rows)?,
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for PackedRows {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        use serde::de::Error as _;
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Packed {
            Binary(String),
            Regression(String),
            Multiclass(Vec<(String, String)>),
        }
        let bytes = |text: &str, width: usize| -> Result<Vec<u8>, D::Error> {
            let b = base64::engine::general_purpose::STANDARD.decode(text).map_err(D::Error::custom)?;
            if b.len() % width != 0 {
                return Err(D::Error::custom(format!("packed rows of {} bytes are not rows of {width}", b.len())));
            }
            Ok(b)
        };
        let f64_at = |c: &[u8], i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&c[i..i + 8]);
            f64::from_le_bytes(a)
        };
        Ok(PackedRows(match Packed::deserialize(d)? {
            Packed::Binary(text) => LabelledRows::Binary(
                bytes(&text, 9)?
                    .chunks_exact(9)
                    .map(|c| BinaryRow { label: c[0] & 1 == 1, predicted: c[0] & 2 == 2, score: f64_at(c, 1) })
                    .collect(),
            ),
            Packed::Regression(text) => LabelledRows::Regression(
                bytes(&text, 16)?.chunks_exact(16).map(|c| (f64_at(c, 0), f64_at(c, 8))).collect(),
            ),
            Packed::Multiclass(rows) => LabelledRows::Multiclass(rows),
        }))
    }
}

/// Every label the ledger was given, by what became of it, over the stream's life.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelTotals {
    /// Ground-truth files read.
    pub files: u64,
    /// Labels taken (the first for their key).
    pub labels: u64,
    /// Second labels for a key still in the ledger (the first is kept).
    pub duplicates: u64,
    /// Of those, the ones whose label differed.
    pub conflicting: u64,
    /// Lines that gave no label, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<LabelSkip, u64>,
    /// The first [`NAMED_LABEL_ISSUES`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<LabelIssue>,
    /// Labels no prediction came for within the expiry of their collection.
    pub unmatched: u64,
    /// Labels that came after their prediction's window expired.
    pub too_late: u64,
    /// Predictions whose window expired without their label.
    pub expired_unlabelled: u64,
}

/// What the stream's classifier judges a window by.
#[derive(Debug)]
pub struct Judging<'a> {
    /// The window.
    pub window: Window,
    /// The data time it is judged at.
    pub judged_at: Timestamp,
    /// The rows labelled by then.
    pub rows: &'a LabelledRows,
    /// Their metrics (none without a row).
    pub statistics: Option<&'a QualityStatistics>,
    /// (score, predicted label) of each prediction with a usable probability, for estimates.
    pub scored: &'a [(f64, bool)],
    /// The predictions labelled by then, with their facets (for a bias monitor).
    pub labelled: &'a [LabelledPrediction<'a>],
}

/// What the classifier made of a window.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// The headline metrics against the baseline (estimates when `estimated`).
    pub judgements: Vec<MetricJudgement>,
    /// Estimated metrics beside the labels' ones (labels and a calibration), for the record.
    pub estimate: Vec<MetricJudgement>,
    /// Judged on estimates, without labels.
    pub estimated: bool,
}

/// One stream's model-quality join over data time (kept in checkpoints).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabelLedger {
    /// Labels are expected (ground truth was given); without, windows are judged at their end.
    labelled: bool,
    /// Labels given but not applied yet (collected at or after the data time reached), in the
    /// order given.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    incoming: VecDeque<(Option<Timestamp>, GroundTruthRecord)>,
    /// Labels applied whose prediction has not come, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    held: BTreeMap<String, HeldLabel>,
    /// Closed windows, oldest first: the judged ones, then those waiting.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    windows: VecDeque<LedgerWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_judged_at: Option<Timestamp>,
    totals: LabelTotals,
    /// Key -> (window start, row) of every prediction still in `windows` (the first one, for a
    /// key that repeats).
    #[serde(skip)]
    index: FxHashMap<String, (Timestamp, u32)>,
}

/// A label as the ledger keeps it in its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct GroundTruthRecord {
    key: String,
    label: String,
}

impl LabelLedger {
    /// A ledger for a stream judged against labels (`labelled`) or on estimates.
    pub fn new(labelled: bool) -> Self {
        LabelLedger { labelled, ..Default::default() }
    }

    /// Rebuilds the key index after the ledger was read from a checkpoint.
    pub fn rebuild(&mut self) {
        self.index.clear();
        for w in &self.windows {
            for (i, r) in w.rows.iter().enumerate().filter(|(_, r)| !r.repeated && !r.key.is_empty()) {
                self.index.insert(r.key.clone(), (w.window.start, i as u32));
            }
        }
    }

    /// Whether the stream is judged against labels.
    pub fn labelled(&self) -> bool {
        self.labelled
    }

    /// Every label so far, by what became of it.
    pub fn totals(&self) -> &LabelTotals {
        &self.totals
    }

    /// Labels waiting: not applied yet, or applied with no prediction yet.
    pub fn labels_waiting(&self) -> usize {
        self.incoming.len() + self.held.len()
    }

    /// Predictions held with their keys in windows (waiting to be judged, or for late labels);
    /// a judged window's labelled ones are kept as labelled rows only.
    pub fn predictions_held(&self) -> usize {
        self.windows.iter().map(|w| w.rows.iter().filter(|r| !r.key.is_empty()).count()).sum()
    }

    /// Takes one ground-truth file's labels (applied once the data time passes its hour) and
    /// counts its lines.
    pub fn add_file(&mut self, file: &LabelFile) {
        self.totals.files += 1;
        for (reason, n) in &file.skipped {
            *self.totals.skipped.entry(*reason).or_default() += n;
        }
        for issue in &file.issues {
            if self.totals.issues.len() < NAMED_LABEL_ISSUES {
                self.totals.issues.push(issue.clone());
            }
        }
        for gt in &file.labels {
            self.add(gt.clone(), file.collected);
        }
    }

    /// Takes one label collected in hour folder `collected` (None: outside the layout, applied
    /// at once).
    pub fn add(&mut self, gt: GroundTruth, collected: Option<Timestamp>) {
        self.incoming.push_back((collected, GroundTruthRecord { key: gt.key, label: gt.label }));
    }

    /// Takes a closed window's predictions (windows come in order); each takes its label from
    /// those held.
    pub fn push(&mut self, window: Window, predictions: Predictions, rules: &JoinRules) {
        let mut w = LedgerWindow {
            window,
            rows: Vec::with_capacity(predictions.rows.len()),
            skipped: predictions.skipped,
            judged_at: None,
            dirty: false,
            judgements: Vec::new(),
            estimate: Vec::new(),
            estimated: false,
            settled: None,
        };
        for p in predictions.rows {
            let mut row = Row {
                key: p.key,
                inference: p.inference,
                probability: p.probability,
                facets: p.facets,
                group: p.group,
                ..Default::default()
            };
            row.repeated = self.index.contains_key(&row.key);
            if !row.repeated {
                self.index.insert(row.key.clone(), (window.start, w.rows.len() as u32));
                if let Some(h) = self.held.remove(&row.key) {
                    if joins(h.collected, window, rules) {
                        row.label = Some(h.label);
                        row.collected = h.collected;
                    } else {
                        self.totals.too_late += 1;
                    }
                }
            }
            w.rows.push(row);
        }
        self.windows.push_back(w);
    }

    /// Moves the ledger to data time `t` (None: the end of a replay, everything is in): applies
    /// the labels collected before `t`, judges the windows whose time has come (through
    /// `judge`, in order), renders again the judged windows that got labels since, and lets go
    /// of windows and labels that can no longer change. Returns the windows' qualities to write.
    pub fn due(
        &mut self,
        t: Option<Timestamp>,
        rules: &JoinRules,
        constraints: &QualityConstraints,
        judge: &mut dyn FnMut(&Judging<'_>) -> Judged,
    ) -> Vec<WindowQuality> {
        self.apply_labels(t, rules);
        let mut out = Vec::new();
        while let Some(i) = self.windows.iter().position(|w| w.judged_at.is_none()) {
            let Some(at) = self.judge_time(&self.windows[i], rules) else { break };
            let at = self.last_judged_at.map_or(at, |l| l.max(at));
            if t.is_some_and(|t| at > t) {
                break;
            }
            self.last_judged_at = Some(at);
            let w = &mut self.windows[i];
            w.judged_at = Some(at);
            for r in &mut w.rows {
                if r.label.is_some() && available(r.collected).is_some_and(|a| a > at) {
                    r.late = true;
                }
            }
            let (on_time, _) = labelled_rows(w, rules, |r| !r.late);
            let statistics = (!on_time.is_empty()).then(|| super::statistics(rules.problem, &on_time));
            let scored = scored(w, rules.probability_threshold);
            let labelled: Vec<LabelledPrediction<'_>> = w
                .rows
                .iter()
                .filter(|r| !r.late && !r.repeated)
                .filter_map(|r| {
                    Some(LabelledPrediction {
                        probability: r.probability.as_deref(),
                        label: r.label.as_deref()?,
                        facets: &r.facets,
                        group: r.group.as_deref(),
                    })
                })
                .collect();
            let judged = judge(&Judging {
                window: w.window,
                judged_at: at,
                rows: &on_time,
                statistics: statistics.as_ref(),
                scored: &scored,
                labelled: &labelled,
            });
            w.judgements = judged.judgements;
            w.estimate = judged.estimate;
            w.estimated = judged.estimated;
            w.dirty = false;
            let mut rendered = render(w, rules, constraints, false);
            rendered.judged_statistics = statistics;
            out.push(rendered);
            settle(w, rules, &mut self.index);
        }
        for w in self.windows.iter_mut().filter(|w| w.dirty && w.judged_at.is_some()) {
            w.dirty = false;
            out.push(render(w, rules, constraints, true));
        }
        if let Some(t) = t {
            self.let_go(t, rules);
        }
        out
    }

    /// Labels still held when a replay ends (none of its windows took them): unmatched.
    pub fn finish(&mut self) {
        self.totals.unmatched += self.held.len() as u64;
        self.held.clear();
    }

    /// Applies the labels collected before `t` in collection order (a file outside the layout
    /// first; within an hour, in the order given: a folder's files in key order, each file's
    /// lines in order), so the first of two labels for a key is the first collected, however
    /// far ahead the driver read.
    fn apply_labels(&mut self, t: Option<Timestamp>, rules: &JoinRules) {
        let mut keep = VecDeque::new();
        let mut now = Vec::new();
        while let Some((collected, gt)) = self.incoming.pop_front() {
            match (available(collected), t) {
                (Some(a), Some(t)) if a > t => keep.push_back((collected, gt)),
                _ => now.push((collected, gt)),
            }
        }
        self.incoming = keep;
        now.sort_by_key(|(collected, _)| *collected);
        for (collected, gt) in now {
            self.apply(gt, collected, rules);
        }
    }

    fn apply(&mut self, gt: GroundTruthRecord, collected: Option<Timestamp>, rules: &JoinRules) {
        if let Some(&(start, i)) = self.index.get(&gt.key) {
            let at = self.windows.partition_point(|w| w.window.start < start);
            if let Some(w) = self.windows.get_mut(at).filter(|w| w.window.start == start) {
                if let Some(row) = w.rows.get_mut(i as usize) {
                    match &row.label {
                        Some(kept) => {
                            self.totals.duplicates += 1;
                            self.totals.conflicting += u64::from(*kept != gt.label);
                        }
                        None if !joins(collected, w.window, rules) => {
                            self.totals.labels += 1;
                            self.totals.too_late += 1;
                        }
                        None => {
                            self.totals.labels += 1;
                            row.label = Some(gt.label);
                            row.collected = collected;
                            if let Some(settled) = &mut w.settled {
                                // A late label: into the window's labelled rows; the prediction
                                // is let go (its key leaves the index).
                                let taken = std::mem::take(row);
                                row.label = taken.label.clone();
                                settled.take_late(&taken, rules);
                                self.index.remove(&gt.key);
                                w.dirty = true;
                            }
                        }
                    }
                    return;
                }
            }
        }
        match self.held.get(&gt.key) {
            Some(kept) => {
                self.totals.duplicates += 1;
                self.totals.conflicting += u64::from(kept.label != gt.label);
            }
            None => {
                self.totals.labels += 1;
                self.held.insert(gt.key, HeldLabel { label: gt.label, collected });
            }
        }
    }

    /// When a waiting window can be judged, as far as the labels applied tell: the first hour
    /// at which enough of its predictions are labelled, else its end plus the delay. None when
    /// neither is known yet (more labels may come before the delay).
    fn judge_time(&self, w: &LedgerWindow, rules: &JoinRules) -> Option<Timestamp> {
        let deadline = w.window.end + rules.delay;
        let n = w.rows.len();
        if !self.labelled || n == 0 {
            return Some(w.window.end);
        }
        let need = ((rules.enough_share * n as f64).ceil() as usize).clamp(1, n);
        let mut times: Vec<i64> = w
            .rows
            .iter()
            .filter(|r| r.label.is_some())
            .map(|r| available(r.collected).map_or(i64::MIN, Timestamp::millis))
            .collect();
        if times.len() >= need {
            times.sort_unstable();
            let enough = Timestamp::from_millis(times[need - 1]).max(w.window.end);
            return Some(enough.min(deadline));
        }
        // Not enough yet: the deadline decides, once the data time has reached it.
        Some(deadline)
    }

    /// Lets go of what can no longer change at `t`: judged windows whose predictions are all
    /// labelled or whose expiry has passed (their last files are rendered already), and held
    /// labels no prediction came for within the expiry.
    fn let_go(&mut self, t: Timestamp, rules: &JoinRules) {
        let (index, totals, labelled) = (&mut self.index, &mut self.totals, self.labelled);
        self.windows.retain(|w| {
            let Some(_) = w.judged_at else { return true };
            if !labelled {
                // Judged on estimates: no label is coming.
                return false;
            }
            let unlabelled = w.rows.iter().filter(|r| r.label.is_none()).count() as u64;
            // A label applied after `t` was collected after `t - 1 h`: past the expiry, it could
            // not join the window anyway.
            let expired = t >= w.window.end + rules.expiry + COLLECTION_FOLDER;
            if unlabelled > 0 && !expired {
                return true;
            }
            totals.expired_unlabelled += unlabelled;
            for (i, r) in w.rows.iter().enumerate() {
                if index.get(&r.key) == Some(&(w.window.start, i as u32)) {
                    index.remove(&r.key);
                }
            }
            false
        });
        let before = self.held.len();
        self.held.retain(|_, h| available(h.collected).is_none_or(|a| t < a + rules.expiry));
        self.totals.unmatched += (before - self.held.len()) as u64;
    }
}

/// The labelled rows of `w` that `take` keeps, and the unusable labels among them by reason.
fn labelled_rows(w: &LedgerWindow, rules: &JoinRules, take: impl Fn(&Row) -> bool) -> (LabelledRows, Unusable) {
    let mut rows = LabelledRows::empty(rules.problem);
    let mut unusable = Unusable::new();
    for r in w.rows.iter().filter(|r| take(r)) {
        let Some(label) = &r.label else { continue };
        let label = Value::from_text(label);
        let inference = r.inference.as_deref().map(Value::from_text);
        let probability = r.probability.as_deref().map(Value::from_text);
        match labelled_row(
            rules.problem,
            rules.probability_threshold,
            Some(&label),
            inference.as_ref(),
            probability.as_ref(),
        ) {
            Ok(row) => rows.push(row),
            Err((reason, _)) => *unusable.entry(reason).or_default() += 1,
        }
    }
    (rows, unusable)
}

type Unusable = BTreeMap<RowSkip, u64>;

/// The (score, predicted label) of each prediction with a probability in [0, 1], for an
/// estimate.
fn scored(w: &LedgerWindow, threshold: f64) -> Vec<(f64, bool)> {
    w.rows
        .iter()
        .filter_map(|r| {
            let score: f64 = r.probability.as_deref()?.trim().parse().ok().filter(|s: &f64| (0.0..=1.0).contains(s))?;
            let predicted = match r.inference.as_deref().map(Value::from_text) {
                Some(v) => binary_label(&v)?,
                None => score >= threshold,
            };
            Some((score, predicted))
        })
        .collect()
}

/// A window's quality as its files show it now.
fn render(w: &LedgerWindow, rules: &JoinRules, constraints: &QualityConstraints, update: bool) -> WindowQuality {
    let unlabelled = w.rows.iter().filter(|r| r.label.is_none()).count() as u64;
    let (all, unusable, predictions, late, when_judged) = match &w.settled {
        Some(s) => (s.rows.0.clone(), s.unusable.clone(), s.predictions, s.late, s.when_judged),
        None => {
            let (all, unusable) = labelled_rows(w, rules, |_| true);
            let (on_time, _) = labelled_rows(w, rules, |r| !r.late);
            let late = (all.len() - on_time.len()) as u64;
            let on_time = on_time.len() as u64;
            (all, unusable, w.rows.len() as u64, late, on_time)
        }
    };
    let labelled = all.len() as u64;
    let mut counts = JoinCounts {
        predictions,
        labelled,
        unlabelled,
        unusable: unusable.iter().map(|(k, n)| (k.as_str(), *n)).collect(),
        late_labels: late,
        records_without_prediction: w.skipped.iter().map(|(k, n)| (k.as_str(), *n)).collect(),
        labelled_share: if predictions == 0 { 0.0 } else { labelled as f64 / predictions as f64 },
        judged_at: w.judged_at,
        labelled_when_judged: when_judged,
    };
    if w.estimated {
        counts.unlabelled = predictions;
    }
    let statistics = (!all.is_empty()).then(|| super::statistics(rules.problem, &all));
    let violations = statistics.as_ref().map(|s| constraints.check(s)).unwrap_or_default();
    WindowQuality {
        window: w.window,
        counts,
        statistics,
        judged_statistics: None,
        violations,
        judgements: w.judgements.clone(),
        estimate: w.estimate.clone(),
        estimated: w.estimated,
        update,
    }
}

/// Lets go of a just-judged window's labelled predictions: they become labelled rows, and only
/// the predictions still waiting for a label keep their keys (re-indexed at their new place).
fn settle(w: &mut LedgerWindow, rules: &JoinRules, index: &mut FxHashMap<String, (Timestamp, u32)>) {
    let (all, unusable) = labelled_rows(w, rules, |_| true);
    let (on_time, _) = labelled_rows(w, rules, |r| !r.late);
    let start = w.window.start;
    let mut waiting = Vec::new();
    for (i, r) in std::mem::take(&mut w.rows).into_iter().enumerate() {
        let indexed = index.get(&r.key) == Some(&(start, i as u32));
        if indexed {
            index.remove(&r.key);
        }
        if r.label.is_none() {
            if indexed {
                index.insert(r.key.clone(), (start, waiting.len() as u32));
            }
            waiting.push(r);
        }
    }
    w.settled = Some(Settled {
        predictions: (waiting.len() + (all.len() + unusable.values().sum::<u64>() as usize)) as u64,
        late: (all.len() - on_time.len()) as u64,
        when_judged: on_time.len() as u64,
        rows: PackedRows(all),
        unusable,
    });
    w.rows = waiting;
}

impl Settled {
    /// Takes a label that came after the window was judged (its row holds the label and the
    /// prediction's text).
    fn take_late(&mut self, row: &Row, rules: &JoinRules) {
        let label = row.label.as_deref().map(Value::from_text);
        let inference = row.inference.as_deref().map(Value::from_text);
        let probability = row.probability.as_deref().map(Value::from_text);
        match labelled_row(
            rules.problem,
            rules.probability_threshold,
            label.as_ref(),
            inference.as_ref(),
            probability.as_ref(),
        ) {
            Ok(one) => {
                self.rows.0.push(one);
                self.late += 1;
            }
            Err((reason, _)) => *self.unusable.entry(reason).or_default() += 1,
        }
    }
}

#[cfg(test)]
mod tests;
