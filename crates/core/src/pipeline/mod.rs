//! The engine the three drivers share: capture objects in, closed window profiles out.
//!
//! A [`StreamEngine`] owns one stream (endpoint, variant). Each object is decoded into a partial
//! profile per window, then merged into the open windows in object order; a window closes when
//! the driver's watermark passes its end. Records for a window that has already closed are late:
//! they are counted (`late_record`) and reported with file and line, never profiled twice and
//! never dropped silently. See `design.md` beside this file for why this makes replay and
//! service give the same windows.

pub mod fuzz;
pub mod mapping;
pub mod predictions;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::mapping::{Layout, RowMapper};
use self::predictions::{PredictionSpec, Predictions};
use crate::baseline::Baseline;
use crate::capture::layout::StreamId;
use crate::capture::{decode_line, CapturedPayload, RecordError};
use crate::payload::{body_text, decode_body, PayloadError, Table};
use crate::profile::{SkipCounts, SkipReason, WindowProfile};
use crate::time::{Duration, Timestamp, Window};

/// The UTF-8 byte order mark, which some tools write at the start of a text file.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// The largest capture record (one line) decoded, by default: a record is decoded whole, which
/// takes about twelve times its size in memory (its text, the body unescaped, a cell per value),
/// so the bound keeps one record under about 200 MB. Real-time endpoints take at most 6 MB a
/// request and a response (8 MB each once base64-encoded), so their records are below it; batch
/// transform records can be larger, and a replay can raise it (`--max-record-mib`).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;

/// At most this many example issues are kept per window (all are counted).
pub const ISSUES_PER_WINDOW: usize = 20;
/// Shortest window the engine accepts: below a minute, Data Capture's per-second timestamps and
/// the service's poll interval make windows too thin to compare.
pub const MIN_WINDOW: Duration = Duration::from_mins(1);
/// Longest window the engine accepts: windows are aligned within one UTC day and a day is
/// Model Monitor's longest schedule.
pub const MAX_WINDOW: Duration = Duration::from_days(1);

/// Whether `w` is a window length the engine accepts ([`MIN_WINDOW`] to [`MAX_WINDOW`]).
pub fn window_in_range(w: Duration) -> bool {
    (MIN_WINDOW..=MAX_WINDOW).contains(&w)
}

/// One record, row or value that was skipped, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordIssue {
    /// Object key or file path.
    pub file: String,
    /// 1-based line in the file.
    pub line: u64,
    /// Why.
    pub reason: SkipReason,
    /// Detail without payload content (field, position, counts).
    pub detail: String,
}

impl std::fmt::Display for RecordIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.reason.as_str(), self.detail)
    }
}

/// The skipped records of some decoded objects as a log wants them: the first few of each
/// reason in full, the rest only counted (decoding threads hand this back with their object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueSample {
    /// The first issues of each reason, in the order they were found.
    pub first: Vec<RecordIssue>,
    /// How many more of each reason there were.
    pub more: BTreeMap<SkipReason, u64>,
    keep: u64,
    kept: BTreeMap<SkipReason, u64>,
}

impl IssueSample {
    /// Keeps the first `keep_per_reason` issues of each reason.
    pub fn new(keep_per_reason: u64) -> Self {
        IssueSample { keep: keep_per_reason, ..Default::default() }
    }

    /// Takes one issue.
    pub fn record(&mut self, issue: &RecordIssue) {
        let n = self.kept.entry(issue.reason).or_default();
        if *n < self.keep {
            *n += 1;
            self.first.push(issue.clone());
        } else {
            *self.more.entry(issue.reason).or_default() += 1;
        }
    }

    /// Every issue taken, per reason.
    pub fn counts(&self) -> BTreeMap<SkipReason, u64> {
        let mut out = self.more.clone();
        for i in &self.first {
            *out.entry(i.reason).or_default() += 1;
        }
        out
    }
}

/// A window whose profile is final.
#[derive(Debug, Clone)]
pub struct ClosedWindow {
    /// The stream.
    pub stream: StreamId,
    /// Its time span.
    pub window: Window,
    /// Everything profiled in it.
    pub profile: WindowProfile,
    /// How columns were mapped.
    pub layout: Layout,
    /// The first [`ISSUES_PER_WINDOW`] issues attributed to this window.
    pub issues: Vec<RecordIssue>,
    /// The window's predictions, for the model-quality join (empty without a quality monitor).
    pub predictions: Predictions,
}

/// Running totals of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamTotals {
    /// Objects read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Non-blank lines read.
    pub lines: u64,
    /// Records whose rows went to a window (late ones excluded).
    pub records: u64,
    /// Rows profiled.
    pub rows: u64,
    /// Windows closed.
    pub windows: u64,
    /// Everything skipped, by reason.
    pub skipped: SkipCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct OpenWindow {
    profile: WindowProfile,
    issues: Vec<RecordIssue>,
    /// Predictions waiting for their labels (a stream with a quality monitor only; left out of
    /// checkpoints without one, so they keep their bytes).
    #[serde(default, skip_serializing_if = "Predictions::is_empty")]
    predictions: Predictions,
    /// In a decoded object's part of a window: the line of its first record (to name records
    /// that come after their window closed). Not kept in checkpoints.
    #[serde(skip)]
    first_line: Option<u64>,
}

impl OpenWindow {
    fn new(n_features: usize) -> Self {
        OpenWindow {
            profile: WindowProfile::new(n_features),
            issues: Vec::new(),
            predictions: Predictions::default(),
            first_line: None,
        }
    }

    fn push_issue(&mut self, issue: RecordIssue) {
        if self.issues.len() < ISSUES_PER_WINDOW {
            self.issues.push(issue);
        }
    }
}

/// What a checkpoint keeps of an engine (versioned by the checkpoint format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    window: Duration,
    layout: Option<Layout>,
    open: BTreeMap<Timestamp, OpenWindow>,
    closed_through: Option<Timestamp>,
    pending: OpenWindow,
    totals: StreamTotals,
    /// The latest record time applied (an addition: absent in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest: Option<Timestamp>,
}

/// The state of one stream: open windows, the column layout, totals.
#[derive(Debug)]
pub struct StreamEngine {
    stream: StreamId,
    baseline: Arc<Baseline>,
    window: Duration,
    mapper: Option<RowMapper>,
    open: BTreeMap<Timestamp, OpenWindow>,
    /// Windows ending at or before this instant are closed.
    closed_through: Option<Timestamp>,
    /// Skips and issues that belong to no open window yet (late or undatable records); they go
    /// to the next window that closes.
    pending: OpenWindow,
    totals: StreamTotals,
    /// The latest `inferenceTime` among the records applied: the data time the stream has
    /// reached (the service closes windows `lateness` behind it).
    latest: Option<Timestamp>,
    /// What to take from responses for the model-quality join (none: no quality monitor).
    predict: Option<Arc<PredictionSpec>>,
    /// Longer lines are skipped and counted (`record_too_large`).
    max_record_bytes: usize,
}

impl StreamEngine {
    /// Creates the engine of one stream.
    pub fn new(stream: StreamId, baseline: Arc<Baseline>, window: Duration) -> Self {
        let n = baseline.features.len();
        StreamEngine {
            stream,
            baseline,
            window,
            mapper: None,
            open: BTreeMap::new(),
            closed_through: None,
            pending: OpenWindow::new(n),
            totals: StreamTotals::default(),
            latest: None,
            predict: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }

    /// Skips (and counts as `record_too_large`) capture records longer than `bytes`.
    pub fn set_max_record_bytes(&mut self, bytes: usize) {
        self.max_record_bytes = bytes;
    }

    /// Keeps each record's prediction (as `spec` names it) in its window for the model-quality
    /// join; the closed window carries them.
    pub fn set_predictions(&mut self, spec: Option<PredictionSpec>) {
        self.predict = spec.map(Arc::new);
    }

    /// Returns what a checkpoint must keep to resume exactly.
    pub fn snapshot(&self) -> EngineState {
        EngineState {
            window: self.window,
            layout: self.layout(),
            open: self.open.clone(),
            closed_through: self.closed_through,
            pending: self.pending.clone(),
            totals: self.totals.clone(),
            latest: self.latest,
        }
    }

    /// Resumes from a snapshot; fails when it does not fit the baseline or the window length.
    pub fn restore(stream: StreamId, baseline: Arc<Baseline>, state: EngineState) -> Result<Self, String> {
        let n = baseline.features.len();
        let fits = |w: &OpenWindow| w.profile.features.len() == n;
        if !state.open.values().all(fits) || !fits(&state.pending) {
            return Err(format!("the checkpoint has windows of another feature count than the baseline's {n}"));
        }
        let mut open = state.open;
        for w in open.values_mut() {
            w.profile.rebuild();
        }
        let mut pending = state.pending;
        pending.profile.rebuild();
        Ok(StreamEngine {
            mapper: state.layout.map(|l| RowMapper::new(&baseline, l)),
            stream,
            baseline,
            window: state.window,
            open,
            closed_through: state.closed_through,
            pending,
            totals: state.totals,
            latest: state.latest,
            predict: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        })
    }

    /// Returns the window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Returns the end of the data time through which windows are closed.
    pub fn closed_through(&self) -> Option<Timestamp> {
        self.closed_through
    }

    /// Returns the stream.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// Returns the totals so far.
    pub fn totals(&self) -> &StreamTotals {
        &self.totals
    }

    /// Returns the column layout, once decided.
    pub fn layout(&self) -> Option<Layout> {
        self.mapper.as_ref().map(RowMapper::layout)
    }

    /// Returns the latest record time applied (`inferenceTime`), if any record was dated.
    pub fn latest(&self) -> Option<Timestamp> {
        self.latest
    }

    /// Returns the start of the earliest open window.
    pub fn earliest_open(&self) -> Option<Timestamp> {
        self.open.keys().next().copied()
    }

    /// Returns a decoder for this stream's objects, once the column layout is decided (`None`
    /// before: the first decodable record decides it, so objects are read one by one, with
    /// [`StreamEngine::ingest`], until then). Objects decoded by clones of it, in any order and
    /// on any thread, then [applied](StreamEngine::apply) in data order, give exactly what
    /// `ingest` gives.
    pub fn decoder(&self) -> Option<ObjectDecoder> {
        self.mapper.as_ref().map(|m| ObjectDecoder {
            baseline: self.baseline.clone(),
            window: self.window,
            mapper: Some(m.clone()),
            predict: self.predict.clone(),
            max_record_bytes: self.max_record_bytes,
            spare: Default::default(),
        })
    }

    /// Reads one capture object. `hour` is its hour folder, which dates lines that cannot be
    /// dated themselves. Every skipped record, row or value is passed to `on_issue` and counted.
    pub fn ingest<R: BufRead>(
        &mut self,
        key: &str,
        hour: Option<Timestamp>,
        reader: R,
        on_issue: &mut dyn FnMut(&RecordIssue),
    ) -> std::io::Result<u64> {
        let mut decoder = ObjectDecoder {
            baseline: self.baseline.clone(),
            window: self.window,
            mapper: self.mapper.take(),
            predict: self.predict.clone(),
            max_record_bytes: self.max_record_bytes,
            spare: Default::default(),
        };
        let decoded = decoder.decode(key, hour, reader, on_issue);
        self.mapper = decoder.mapper;
        let decoded = decoded?;
        let bytes = decoded.bytes;
        for late in self.apply(decoded) {
            on_issue(&late);
        }
        Ok(bytes)
    }

    /// Merges a decoded object into the open windows (objects must come in data order, and
    /// the watermark must have been moved for each, as for [`StreamEngine::ingest`]). Returns
    /// the issues of its records that came after their window closed (named by file and line,
    /// for the driver to log; they are counted and kept with the next window either way).
    pub fn apply(&mut self, decoded: DecodedObject) -> Vec<RecordIssue> {
        let DecodedObject { key, hour, mut windows, undated, lines, bytes, layout, latest } = decoded;
        self.latest = self.latest.max(latest);
        if self.mapper.is_none() {
            if let Some(l) = layout {
                self.mapper = Some(RowMapper::new(&self.baseline, l));
            }
        }
        self.totals.lines += lines;
        self.totals.files += 1;
        self.totals.bytes += bytes;
        // Merge in window order; undated skips go to the window of the file's hour folder.
        if let Some(h) = hour {
            let start = h.floor(self.window);
            let n_features = self.baseline.features.len();
            let slot = windows.entry(start).or_insert_with(|| OpenWindow::new(n_features));
            merge_open(slot, undated);
        } else {
            merge_open(&mut self.pending, undated);
        }
        windows.into_iter().filter_map(|(start, part)| self.merge_partial(&key, start, part)).collect()
    }

    fn merge_partial(&mut self, key: &str, start: Timestamp, part: OpenWindow) -> Option<RecordIssue> {
        let end = start + self.window;
        let late = self.closed_through.is_some_and(|c| end <= c);
        if late {
            let p = &part.profile;
            // The late records are counted once, as late; their row- and value-level counts
            // go with them. Records skipped for other reasons keep their own reason.
            self.pending.profile.skipped.add(SkipReason::LateRecord, p.records);
            self.pending.profile.skipped.merge(&keep_record_level(&p.skipped));
            for i in part.issues {
                self.pending.push_issue(i);
            }
            if p.records > 0 {
                let issue = RecordIssue {
                    file: key.to_owned(),
                    line: part.first_line.unwrap_or(0),
                    reason: SkipReason::LateRecord,
                    detail: format!(
                        "{} records (from this line on) for window {} arrived after it closed",
                        p.records,
                        Window { start, end }.start
                    ),
                };
                self.pending.push_issue(issue.clone());
                return Some(issue);
            }
            return None;
        }
        let n_features = self.baseline.features.len();
        let slot = self.open.entry(start).or_insert_with(|| OpenWindow::new(n_features));
        self.totals.records += part.profile.records;
        self.totals.rows += part.profile.rows;
        merge_open(slot, part);
        None
    }

    /// Moves the watermark for the next object, from hour folder `hour`, in data order: Data
    /// Capture files a record under the hour of its invocation, so windows ending at or before
    /// that hour can get no more records and close (design.md). Objects outside the hour layout
    /// (`None`) close nothing.
    pub fn advance_to_folder(&mut self, hour: Option<Timestamp>) -> Vec<ClosedWindow> {
        match hour {
            Some(h) => self.close_through(h),
            None => Vec::new(),
        }
    }

    /// Closes every window that ends at or before `t`, oldest first.
    pub fn close_through(&mut self, t: Timestamp) -> Vec<ClosedWindow> {
        self.closed_through = Some(self.closed_through.map_or(t, |c| c.max(t)));
        let keep = self.open.split_off(&(t - self.window + Duration::from_millis(1)));
        let due = std::mem::replace(&mut self.open, keep);
        self.finish(due)
    }

    /// Closes every open window (end of a replay).
    pub fn close_all(&mut self) -> Vec<ClosedWindow> {
        let due = std::mem::take(&mut self.open);
        if let Some(last) = due.keys().next_back() {
            let end = *last + self.window;
            self.closed_through = Some(self.closed_through.map_or(end, |c| c.max(end)));
        }
        self.finish(due)
    }

    fn finish(&mut self, due: BTreeMap<Timestamp, OpenWindow>) -> Vec<ClosedWindow> {
        let layout = self.layout().unwrap_or(Layout::Positional { output_cols: 0 });
        let mut out = Vec::with_capacity(due.len());
        for (start, mut w) in due {
            if !self.pending.issues.is_empty() || self.pending.profile.skipped.total() > 0 {
                let pending = std::mem::replace(&mut self.pending, OpenWindow::new(self.baseline.features.len()));
                merge_open(&mut w, pending);
            }
            self.totals.skipped.merge(&w.profile.skipped);
            self.totals.windows += 1;
            // A closed window is compared many times (baseline, recent past, reports).
            w.profile.cache_cdfs();
            out.push(ClosedWindow {
                stream: self.stream.clone(),
                window: Window { start, end: start + self.window },
                profile: w.profile,
                layout,
                issues: w.issues,
                predictions: w.predictions,
            });
        }
        out
    }

    /// Returns counts that were skipped but not yet attributed to a closed window (reported at
    /// the end of a replay so that nothing goes uncounted).
    pub fn unattributed(&self) -> &SkipCounts {
        &self.pending.profile.skipped
    }
}

/// One capture object decoded into per-window partial profiles, ready to merge.
#[derive(Debug)]
pub struct DecodedObject {
    key: String,
    hour: Option<Timestamp>,
    windows: BTreeMap<Timestamp, OpenWindow>,
    undated: OpenWindow,
    lines: u64,
    bytes: u64,
    layout: Option<Layout>,
    /// The latest record time in the object.
    latest: Option<Timestamp>,
}

impl DecodedObject {
    /// Returns the bytes read.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// The decoding half of a [`StreamEngine`]: turns one capture object into partial window
/// profiles without touching the engine, so that objects can be decoded in parallel.
#[derive(Debug, Clone)]
pub struct ObjectDecoder {
    baseline: Arc<Baseline>,
    window: Duration,
    mapper: Option<RowMapper>,
    predict: Option<Arc<PredictionSpec>>,
    max_record_bytes: usize,
    /// Request and response tables, emptied and reused for every record.
    spare: (Table<'static>, Table<'static>),
}

impl ObjectDecoder {
    /// Decodes one capture object, keeping a sample of its issues (see [`IssueSample`]).
    pub fn decode_sampled<R: BufRead>(
        &mut self,
        key: &str,
        hour: Option<Timestamp>,
        reader: R,
        keep_per_reason: u64,
    ) -> std::io::Result<(DecodedObject, IssueSample)> {
        let mut sample = IssueSample::new(keep_per_reason);
        let object = self.decode(key, hour, reader, &mut |i| sample.record(i))?;
        Ok((object, sample))
    }

    /// Decodes one capture object (see [`StreamEngine::ingest`]); every skipped record, row or
    /// value is passed to `on_issue` and counted in the result.
    pub fn decode<R: BufRead>(
        &mut self,
        key: &str,
        hour: Option<Timestamp>,
        mut reader: R,
        on_issue: &mut dyn FnMut(&RecordIssue),
    ) -> std::io::Result<DecodedObject> {
        let n_features = self.baseline.features.len();
        let mut partial: BTreeMap<Timestamp, OpenWindow> = BTreeMap::new();
        let mut undated = OpenWindow::new(n_features);
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut line_no = 0u64;
        let mut bytes = 0u64;
        let mut lines = 0u64;
        let mut latest: Option<Timestamp> = None;
        loop {
            buf.clear();
            let (n, cut) = read_line_bounded(&mut reader, &mut buf, self.max_record_bytes)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            line_no += 1;
            if cut {
                lines += 1;
                let i = RecordIssue {
                    file: key.to_owned(),
                    line: line_no,
                    reason: SkipReason::RecordTooLarge,
                    detail: format!(
                        "a record of {n} bytes, above the bound of {} bytes (decoding it takes about twelve times its size)",
                        self.max_record_bytes
                    ),
                };
                on_issue(&i);
                undated.profile.skipped.add(SkipReason::RecordTooLarge, 1);
                undated.push_issue(i);
                continue;
            }
            let line = trim_line(&buf);
            // A UTF-8 byte order mark before the first record (editors on Windows add one).
            let line = if line_no == 1 { line.strip_prefix(UTF8_BOM).unwrap_or(line) } else { line };
            if line.is_empty() {
                continue;
            }
            lines += 1;
            let issue = |reason: SkipReason, detail: String| RecordIssue {
                file: key.to_owned(),
                line: line_no,
                reason,
                detail,
            };
            let text = match std::str::from_utf8(line) {
                Ok(t) => t,
                Err(e) => {
                    let i = issue(SkipReason::MalformedLine, format!("not utf-8 text at byte {}", e.valid_up_to()));
                    on_issue(&i);
                    undated.profile.skipped.add(SkipReason::MalformedLine, 1);
                    undated.push_issue(i);
                    continue;
                }
            };
            let record = match decode_line(text) {
                Ok(r) => r,
                Err(e) => {
                    let reason = match &e {
                        RecordError::Malformed { .. } => SkipReason::MalformedLine,
                        RecordError::MissingField { .. } => SkipReason::MissingField,
                        RecordError::BadTime { .. } => SkipReason::BadTime,
                    };
                    let i = issue(reason, e.to_string());
                    on_issue(&i);
                    undated.profile.skipped.add(reason, 1);
                    undated.push_issue(i);
                    continue;
                }
            };
            latest = latest.max(Some(record.time));
            let start = record.time.floor(self.window);
            let slot = partial.entry(start).or_insert_with(|| OpenWindow::new(n_features));
            slot.first_line.get_or_insert(line_no);
            if let Err((reason, detail)) = self.profile_record(&record, slot, &mut |reason, detail| {
                let i = issue(reason, detail);
                on_issue(&i);
                i
            }) {
                let i = issue(reason, detail);
                on_issue(&i);
                slot.profile.skipped.add(reason, 1);
                slot.push_issue(i);
            }
        }
        let layout = self.mapper.as_ref().map(RowMapper::layout);
        Ok(DecodedObject { key: key.to_owned(), hour, windows: partial, undated, lines, bytes, layout, latest })
    }

    /// Decodes a record's bodies and maps its rows into `slot`. Errors that drop the record are
    /// returned; issues about part of it go through `issue` and are kept in `slot`.
    fn profile_record(
        &mut self,
        record: &crate::capture::CaptureRecord<'_>,
        slot: &mut OpenWindow,
        issue: &mut dyn FnMut(SkipReason, String) -> RecordIssue,
    ) -> Result<(), (SkipReason, String)> {
        let input_body = match &record.input {
            Some(p) => Some(body_of(p).map_err(|e| payload_skip("endpointInput", &e))?),
            None => None,
        };
        // With a request-only layout the response is not read at all, unless its prediction
        // is wanted.
        let needs_output = match self.mapper.as_ref().map(RowMapper::layout) {
            Some(Layout::Positional { output_cols: 0 }) => record.input.is_none() || self.predict.is_some(),
            _ => true,
        };
        let (output_body, output_error) = match (&record.output, needs_output) {
            (Some(p), true) => match body_of(p) {
                Ok(b) => (Some(b), None),
                Err(e) => (None, Some(e)),
            },
            _ => (None, None),
        };
        let (spare_in, spare_out) = std::mem::take(&mut self.spare);
        let (mut input, mut output) = (spare_in.recycle(), spare_out.recycle());
        let result = self.profile_bodies(
            record,
            input_body.as_deref(),
            output_body.as_deref(),
            output_error,
            (&mut input, &mut output),
            slot,
            issue,
        );
        self.spare = (input.recycle(), output.recycle());
        result
    }

    /// [`ObjectDecoder::profile_record`] once the body texts are known, decoding them into
    /// `tables` (empty on entry).
    #[allow(clippy::too_many_arguments)]
    fn profile_bodies<'b>(
        &mut self,
        record: &crate::capture::CaptureRecord<'_>,
        input_body: Option<&'b str>,
        output_body: Option<&'b str>,
        mut output_error: Option<PayloadError>,
        tables: (&mut Table<'b>, &mut Table<'b>),
        slot: &mut OpenWindow,
        issue: &mut dyn FnMut(SkipReason, String) -> RecordIssue,
    ) -> Result<(), (SkipReason, String)> {
        let (input_table, output_table) = tables;
        let mut input = None;
        if let (Some(p), Some(body)) = (&record.input, input_body) {
            decode_body(body, p.content_type.as_deref(), &p.encoding, None, input_table)
                .map_err(|e| payload_skip("endpointInput", &e))?;
            let known = |name: &str| match &self.mapper {
                Some(m) => m.knows(name),
                None => self.baseline.position(name).is_some(),
            };
            if input_table.row_count() > 0 && is_header(input_table.row(0), known) {
                input_table.drop_first_row();
                slot.profile.header_rows += 1;
            }
            input = Some(&*input_table);
        }
        let mut output = None;
        if let (Some(p), Some(body)) = (&record.output, output_body) {
            let expect = input.map(Table::row_count);
            match decode_body(body, p.content_type.as_deref(), &p.encoding, expect, output_table) {
                Ok(()) => output = Some(&*output_table),
                Err(e) => output_error = Some(e),
            }
        }
        if let Some(e) = &output_error {
            if input.is_none() {
                return Err(payload_skip("endpointOutput", e));
            }
        }
        let rows = input.map(Table::row_count).or(output.map(Table::row_count)).unwrap_or(0);
        if rows == 0 {
            return Err((SkipReason::UndecodablePayload, "body has no rows".into()));
        }
        if !self.baseline.monitors_data() {
            // No data-quality monitor: nothing to map or profile; the record counts, and its
            // prediction is kept below. The layout says the inputs are all there is, so
            // responses are read only when a prediction is wanted.
            self.mapper.get_or_insert_with(|| RowMapper::new(&self.baseline, Layout::Positional { output_cols: 0 }));
            slot.profile.records += 1;
            self.keep_prediction(record, input, output, slot);
            return Ok(());
        }
        let mapper = self.mapper.get_or_insert_with(|| {
            let layout = Layout::decide(
                self.baseline.features.len(),
                input.map(|t| t.row(0)),
                output.filter(|t| t.row_count() > 0).map(|t| t.row(0)),
            );
            RowMapper::new(&self.baseline, layout)
        });
        let outcome = mapper.map_record(input, output, &mut slot.profile);
        slot.profile.records += 1;
        self.keep_prediction(record, input, output, slot);
        if outcome.unpaired > 0 {
            let why = match (&output_error, output) {
                (Some(e), _) => format!("endpointOutput: {e}"),
                (None, None) => "no endpointOutput".to_owned(),
                (None, Some(t)) => format!("the response has {} rows", t.row_count()),
            };
            let i = issue(
                SkipReason::UnpairedOutput,
                format!("{} of {rows} rows profiled without response columns: {why}", outcome.unpaired),
            );
            slot.push_issue(i);
        }
        if outcome.wrong_width > 0 {
            let i = issue(
                SkipReason::ColumnCount,
                format!(
                    "{} of {} rows have a column count other than the baseline's {}",
                    outcome.wrong_width,
                    rows,
                    self.baseline.features.len()
                ),
            );
            slot.push_issue(i);
        }
        if outcome.non_finite > 0 {
            let i = issue(
                SkipReason::NonFiniteValue,
                format!("{} NaN or infinite values counted as missing", outcome.non_finite),
            );
            slot.push_issue(i);
        }
        Ok(())
    }
}

impl ObjectDecoder {
    /// Keeps the record's prediction in its window, when a quality monitor wants it.
    fn keep_prediction(
        &self,
        record: &crate::capture::CaptureRecord<'_>,
        input: Option<&Table<'_>>,
        output: Option<&Table<'_>>,
        slot: &mut OpenWindow,
    ) {
        if let Some(spec) = &self.predict {
            let key = record.inference_id.as_deref().or(record.event_id.as_deref());
            slot.predictions.observe(spec, key, output, input);
        }
    }
}

/// Whether a request's first row is a header the client sent with its CSV: every cell is text
/// without a name (a CSV cell) and at least half of them are baseline feature names. A data row
/// of categories could only pass if its values were feature names.
fn is_header(row: &[crate::payload::Cell<'_>], known: impl Fn(&str) -> bool) -> bool {
    use crate::payload::Value;
    if row.is_empty() || !row.iter().all(|c| c.name.is_none() && matches!(c.value, Value::Text(_))) {
        return false;
    }
    let names = row.iter().filter(|c| matches!(&c.value, Value::Text(t) if known(t))).count();
    2 * names >= row.len()
}

fn keep_record_level(s: &SkipCounts) -> SkipCounts {
    let mut out = SkipCounts::default();
    for (r, n) in s.iter() {
        if r.drops_record() {
            out.add(r, n);
        }
    }
    out
}

fn merge_open(into: &mut OpenWindow, from: OpenWindow) {
    into.profile.merge(&from.profile);
    into.predictions.merge(from.predictions);
    for i in from.issues {
        into.push_issue(i);
    }
}

fn body_of<'a>(p: &'a CapturedPayload<'a>) -> Result<std::borrow::Cow<'a, str>, PayloadError> {
    body_text(&p.data, &p.encoding, p.content_type.as_deref())
}

fn payload_skip(side: &str, e: &PayloadError) -> (SkipReason, String) {
    let reason = if e.is_unsupported() { SkipReason::UnsupportedPayload } else { SkipReason::UndecodablePayload };
    (reason, format!("{side}: {e}"))
}

/// Reads one line (through its `\n`) into `buf`, keeping at most `max` bytes of it: returns the
/// bytes read and whether the line was longer than `max` (then `buf` is empty and the line was
/// read past without being held, so memory stays bounded whatever the line).
fn read_line_bounded<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<(usize, bool)> {
    let (mut read, mut cut) = (0usize, false);
    loop {
        let available = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((read, cut));
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !cut {
            if buf.len() + take > max {
                cut = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        read += take;
        if done {
            return Ok((read, cut));
        }
    }
}

fn trim_line(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    let mut start = 0;
    while start < end && matches!(b[start], b' ' | b'\t') {
        start += 1;
    }
    &b[start..end]
}

#[cfg(test)]
mod tests;
