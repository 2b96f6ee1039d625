//! The per-window, per-feature metrics as one Parquet table (for Athena, DuckDB or pandas).
//!
//! One row per (stream, window, feature). Rows are buffered and written as row groups of
//! [`ROW_GROUP`] rows, so memory stays bounded however long the replay. Written with parquet's
//! column writers, without arrow (whose crates were most of a cold build); readers see the
//! same types as before: strings, UTC millisecond timestamps, unsigned 64-bit counts, doubles.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::TypePtr;

use crate::capture::layout::StreamId;
use crate::classify::FeatureExtras;
use crate::drift::WindowDrift;
use crate::pipeline::ClosedWindow;
use crate::profile::WindowProfile;
use crate::publish::window::{JudgedQuality, JudgedWindow, SinkError, WindowSink};
use crate::time::Window;

/// Rows per row group.
pub const ROW_GROUP: usize = 8192;

/// Why the table could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {detail}")]
pub struct TableError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub detail: String,
}

impl From<TableError> for SinkError {
    fn from(e: TableError) -> Self {
        SinkError::Format { path: e.path, detail: e.detail }
    }
}

const FLOAT_COLUMNS: [&str; 27] = [
    "completeness",
    "type_match",
    "unseen_share",
    "linf_simple",
    "linf_robust",
    "linf_noise_floor",
    "psi",
    "psi_noise_floor",
    "js",
    "js_noise_floor",
    "wasserstein",
    "wasserstein_noise_floor",
    "chi_square",
    "chi_square_p_value",
    "mean",
    "std_dev",
    "min",
    "max",
    "median",
    "drift_check_value",
    "drift_check_threshold",
    "step_distance",
    "step_noise_floor",
    "baseline_count",
    "expected_distance",
    "expected_noise_floor",
    "cycle_distance",
];

/// The table's schema (Parquet message type): the column order is the table's contract.
pub fn schema() -> TypePtr {
    let mut text = String::from(
        "message drift_metrics {
  required binary endpoint (STRING);
  required binary variant (STRING);
  required int64 window_start (TIMESTAMP(MILLIS,true));
  required int64 window_end (TIMESTAMP(MILLIS,true));
  required binary feature (STRING);
  required binary kind (STRING);
  required binary expected_type (STRING);
  required binary observed_type (STRING);
  required int64 window_records (INTEGER(64,false));
  required int64 window_rows (INTEGER(64,false));
  required int64 present (INTEGER(64,false));
  required int64 missing (INTEGER(64,false));
  required int64 non_finite (INTEGER(64,false));
",
    );
    for n in FLOAT_COLUMNS {
        text.push_str(&format!("  optional double {n};\n"));
    }
    text.push_str(
        "  optional binary drift_check_metric (STRING);
  required binary violations (STRING);
  optional binary state (STRING);
  optional binary cycle_model (STRING);
}",
    );
    // The text is ours and fixed; a parse failure is a bug caught by every test that writes.
    #[allow(clippy::expect_used)]
    Arc::new(parquet::schema::parser::parse_message_type(&text).expect("the metrics schema parses"))
}

/// One column's buffered values (definition levels for optional ones: 1 present, 0 null).
#[derive(Default)]
struct Strings {
    values: Vec<ByteArray>,
    defs: Vec<i16>,
}

impl Strings {
    fn push(&mut self, v: &str) {
        self.values.push(ByteArray::from(v));
        self.defs.push(1);
    }

    fn push_option(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.push(v),
            None => self.defs.push(0),
        }
    }
}

/// An optional numeric column's values and definition levels.
struct Optional<T> {
    values: Vec<T>,
    defs: Vec<i16>,
}

impl<T> Default for Optional<T> {
    fn default() -> Self {
        Optional { values: Vec::new(), defs: Vec::new() }
    }
}

impl<T> Optional<T> {
    fn push(&mut self, v: Option<T>) {
        match v {
            Some(x) => {
                self.values.push(x);
                self.defs.push(1);
            }
            None => self.defs.push(0),
        }
    }
}

/// A column of the row group being built, in schema order.
enum Column {
    Text(Strings),
    OptionalText(Strings),
    /// Timestamps and unsigned counts (stored as INT64, as Parquet stores UINT_64).
    Int(Vec<i64>),
    OptionalInt(Optional<i64>),
    OptionalDouble(Optional<f64>),
    Bool(Vec<bool>),
}

/// What a column holds (its Parquet physical type and whether it may be null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    OptionalText,
    Int,
    OptionalInt,
    OptionalDouble,
    Bool,
}

impl Column {
    fn of(kind: Kind) -> Column {
        match kind {
            Kind::Text => Column::Text(Strings::default()),
            Kind::OptionalText => Column::OptionalText(Strings::default()),
            Kind::Int => Column::Int(Vec::new()),
            Kind::OptionalInt => Column::OptionalInt(Optional::default()),
            Kind::OptionalDouble => Column::OptionalDouble(Optional::default()),
            Kind::Bool => Column::Bool(Vec::new()),
        }
    }
}

/// Column indices in schema order.
mod col {
    pub const ENDPOINT: usize = 0;
    pub const VARIANT: usize = 1;
    pub const START: usize = 2;
    pub const END: usize = 3;
    pub const FEATURE: usize = 4;
    pub const KIND: usize = 5;
    pub const EXPECTED: usize = 6;
    pub const OBSERVED: usize = 7;
    pub const RECORDS: usize = 8;
    pub const ROWS: usize = 9;
    pub const PRESENT: usize = 10;
    pub const MISSING: usize = 11;
    pub const NON_FINITE: usize = 12;
    pub const FIRST_FLOAT: usize = 13;
    pub const CHECK_METRIC: usize = FIRST_FLOAT + super::FLOAT_COLUMNS.len();
    pub const VIOLATIONS: usize = CHECK_METRIC + 1;
    pub const STATE: usize = CHECK_METRIC + 2;
    pub const CYCLE_MODEL: usize = CHECK_METRIC + 3;
    pub const COUNT: usize = CHECK_METRIC + 4;
}

struct Builders {
    kinds: Vec<Kind>,
    columns: Vec<Column>,
    len: usize,
}

impl Builders {
    fn new(kinds: Vec<Kind>) -> Self {
        let columns = kinds.iter().map(|k| Column::of(*k)).collect();
        Builders { kinds, columns, len: 0 }
    }

    /// The drift table's columns.
    fn drift() -> Self {
        Builders::new(
            (0..col::COUNT)
                .map(|i| match i {
                    col::START..=col::END | col::RECORDS..=col::NON_FINITE => Kind::Int,
                    i if (col::FIRST_FLOAT..col::CHECK_METRIC).contains(&i) => Kind::OptionalDouble,
                    col::CHECK_METRIC | col::STATE | col::CYCLE_MODEL => Kind::OptionalText,
                    _ => Kind::Text,
                })
                .collect(),
        )
    }

    /// Empties the builders, keeping their kinds; returns the columns.
    fn take(&mut self) -> Vec<Column> {
        let fresh = self.kinds.iter().map(|k| Column::of(*k)).collect();
        self.len = 0;
        std::mem::replace(&mut self.columns, fresh)
    }

    fn text(&mut self, i: usize, v: &str) {
        if let Column::Text(s) = &mut self.columns[i] {
            s.push(v);
        }
    }

    fn optional_text(&mut self, i: usize, v: Option<&str>) {
        if let Column::OptionalText(s) = &mut self.columns[i] {
            s.push_option(v);
        }
    }

    fn int(&mut self, i: usize, v: i64) {
        if let Column::Int(c) = &mut self.columns[i] {
            c.push(v);
        }
    }

    fn optional_int(&mut self, i: usize, v: Option<i64>) {
        if let Column::OptionalInt(c) = &mut self.columns[i] {
            c.push(v);
        }
    }

    fn count(&mut self, i: usize, v: u64) {
        // Parquet stores UINT_64 in INT64's bits.
        self.int(i, v as i64);
    }

    fn double(&mut self, i: usize, v: Option<f64>) {
        if let Column::OptionalDouble(c) = &mut self.columns[i] {
            c.push(v);
        }
    }

    fn boolean(&mut self, i: usize, v: bool) {
        if let Column::Bool(c) = &mut self.columns[i] {
            c.push(v);
        }
    }
}

/// A Parquet file written a row group at a time: what both tables share.
struct ParquetRows<W: Write + Send> {
    path: PathBuf,
    writer: SerializedFileWriter<W>,
    builders: Builders,
    rows: u64,
}

impl<W: Write + Send> ParquetRows<W> {
    fn new(w: W, path: &Path, schema: TypePtr, builders: Builders) -> Result<Self, TableError> {
        let err = |detail: String| TableError { path: path.display().to_string(), detail };
        let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
        let writer = SerializedFileWriter::new(w, schema, Arc::new(props)).map_err(|e| err(e.to_string()))?;
        Ok(ParquetRows { path: path.to_owned(), writer, builders, rows: 0 })
    }

    /// Counts a row the builders took; writes a row group when [`ROW_GROUP`] are buffered.
    fn row_done(&mut self) -> Result<(), TableError> {
        self.builders.len += 1;
        self.rows += 1;
        if self.builders.len >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows as one row group.
    fn flush(&mut self) -> Result<(), TableError> {
        if self.builders.len == 0 {
            return Ok(());
        }
        let path = self.path.display().to_string();
        let err = |e: parquet::errors::ParquetError| TableError { path: path.clone(), detail: e.to_string() };
        let columns = self.builders.take();
        let mut group = self.writer.next_row_group().map_err(err)?;
        for column in columns {
            let Some(mut w) = group.next_column().map_err(err)? else {
                return Err(TableError { path, detail: "the schema has fewer columns than the table".into() });
            };
            match column {
                Column::Text(s) => w.typed::<ByteArrayType>().write_batch(&s.values, None, None),
                Column::OptionalText(s) => w.typed::<ByteArrayType>().write_batch(&s.values, Some(&s.defs), None),
                Column::Int(v) => w.typed::<Int64Type>().write_batch(&v, None, None),
                Column::OptionalInt(d) => w.typed::<Int64Type>().write_batch(&d.values, Some(&d.defs), None),
                Column::OptionalDouble(d) => w.typed::<DoubleType>().write_batch(&d.values, Some(&d.defs), None),
                Column::Bool(v) => w.typed::<BoolType>().write_batch(&v, None, None),
            }
            .map_err(err)?;
            w.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        self.writer.flush().map_err(|e| TableError { path, detail: e.to_string() })?;
        Ok(())
    }

    /// Writes the remaining rows and the footer; returns the number of rows.
    fn close(mut self) -> Result<u64, TableError> {
        self.flush()?;
        let path = self.path.display().to_string();
        self.writer.close().map_err(|e| TableError { path, detail: e.to_string() })?;
        Ok(self.rows)
    }

    /// Finishes the file and returns its writer (the bytes of an in-memory table).
    fn into_inner(mut self) -> Result<W, TableError> {
        self.flush()?;
        let path = self.path.display().to_string();
        self.writer.into_inner().map_err(|e| TableError { path, detail: e.to_string() })
    }
}

/// Creates (or truncates) a table's file, with its folder.
fn create_file(path: &Path) -> Result<File, TableError> {
    let err = |detail: String| TableError { path: path.display().to_string(), detail };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    File::create(path).map_err(|e| err(e.to_string()))
}

/// Writes the metrics table as Parquet, to a file (replay) or to memory (one window, service).
pub struct MetricsTable<W: Write + Send = File> {
    out: ParquetRows<W>,
}

impl MetricsTable<File> {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> Result<Self, TableError> {
        Self::with_writer(create_file(path)?, path)
    }
}

impl MetricsTable<Vec<u8>> {
    /// Writes to memory; `name` names the table in errors.
    pub fn in_memory(name: &str) -> Result<Self, TableError> {
        Self::with_writer(Vec::new(), Path::new(name))
    }

    /// Finishes the file and returns its bytes.
    pub fn into_bytes(self) -> Result<Vec<u8>, TableError> {
        self.out.into_inner()
    }
}

impl<W: Write + Send> WindowSink for MetricsTable<W> {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        let c = &w.closed;
        self.append(&c.stream, &c.window, &c.profile, &w.drift, &w.outcome.extras)?;
        Ok(())
    }
}

/// The service's metrics table: one small Parquet object per window under `drift_metrics/`,
/// partitioned as Athena and Glue expect (`endpoint=/variant=/date=`). Taken with
/// [`WindowTables::take`].
#[derive(Debug, Default)]
pub struct WindowTables {
    files: Vec<(String, Vec<u8>)>,
}

impl WindowTables {
    /// Returns the objects (key, bytes) made so far and forgets them.
    pub fn take(&mut self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.files)
    }

    /// The object key of a window's table.
    pub fn key(cw: &ClosedWindow) -> String {
        let c = cw.window.start.civil();
        format!(
            "drift_metrics/endpoint={}/variant={}/date={:04}-{:02}-{:02}/{:02}{:02}.parquet",
            cw.stream.endpoint, cw.stream.variant, c.year, c.month, c.day, c.hour, c.minute
        )
    }
}

impl WindowSink for WindowTables {
    fn accept(&mut self, w: &JudgedWindow) -> Result<(), SinkError> {
        let mut table = MetricsTable::in_memory("drift_metrics")?;
        table.accept(w)?;
        self.files.push((WindowTables::key(&w.closed), table.into_bytes()?));
        Ok(())
    }
}

impl<W: Write + Send> MetricsTable<W> {
    fn with_writer(w: W, path: &Path) -> Result<Self, TableError> {
        Ok(MetricsTable { out: ParquetRows::new(w, path, schema(), Builders::drift())? })
    }

    /// Appends one window's rows; `extras` is aligned with the features (or empty).
    pub fn append(
        &mut self,
        stream: &StreamId,
        window: &Window,
        profile: &WindowProfile,
        drift: &WindowDrift,
        extras: &[FeatureExtras],
    ) -> Result<(), TableError> {
        for (i, f) in drift.features.iter().enumerate() {
            let b = &mut self.out.builders;
            let extra = extras.get(i).cloned().unwrap_or_default();
            b.text(col::ENDPOINT, &stream.endpoint);
            b.text(col::VARIANT, &stream.variant);
            b.int(col::START, window.start.millis());
            b.int(col::END, window.end.millis());
            b.text(col::FEATURE, &f.name);
            b.text(
                col::KIND,
                match f.kind {
                    crate::drift::FeatureKind::Numeric => "numeric",
                    crate::drift::FeatureKind::Categorical => "categorical",
                    crate::drift::FeatureKind::Unmonitored => "unmonitored",
                },
            );
            b.text(col::EXPECTED, f.expected_type);
            b.text(col::OBSERVED, f.observed_type);
            b.count(col::RECORDS, profile.records);
            b.count(col::ROWS, profile.rows);
            b.count(col::PRESENT, f.present);
            b.count(col::MISSING, f.missing);
            b.count(col::NON_FINITE, f.non_finite);
            let values: [Option<f64>; 27] = [
                f.completeness,
                f.type_match,
                f.unseen_share,
                f.linf_simple,
                f.linf_robust,
                f.linf_noise_floor,
                f.psi.map(|s| s.value),
                f.psi.map(|s| s.noise_floor),
                f.js.map(|s| s.value),
                f.js.map(|s| s.noise_floor),
                f.wasserstein.map(|s| s.value),
                f.wasserstein.map(|s| s.noise_floor),
                f.chi_square.map(|c| c.statistic),
                f.chi_square.map(|c| c.p_value),
                f.mean,
                f.std_dev,
                f.min,
                f.max,
                f.median,
                f.drift_check.as_ref().map(|d| d.value),
                f.drift_check.as_ref().map(|d| d.threshold),
                extra.step_distance,
                extra.step_noise_floor,
                Some(f.baseline_count),
                extra.expected_distance,
                extra.expected_noise_floor,
                extra.cycle_distance,
            ];
            for (j, v) in values.into_iter().enumerate() {
                b.double(col::FIRST_FLOAT + j, v.filter(|x| x.is_finite()));
            }
            b.optional_text(col::CHECK_METRIC, f.drift_check.as_ref().map(|d| d.metric));
            let checks: Vec<&str> = drift
                .violations
                .iter()
                .filter(|v| v.feature_name == f.name)
                .map(|v| v.constraint_check_type.as_str())
                .collect();
            b.text(col::VIOLATIONS, &checks.join(","));
            b.optional_text(col::STATE, extra.state.as_deref());
            b.optional_text(col::CYCLE_MODEL, extra.cycle_model.as_deref());
            self.out.row_done()?;
        }
        Ok(())
    }

    /// Writes the remaining rows and the footer; returns the number of rows.
    pub fn close(self) -> Result<u64, TableError> {
        self.out.close()
    }
}

/// The model-quality table's schema: one row per (stream, window, metric). The column order is
/// the table's contract.
pub fn quality_schema() -> TypePtr {
    let text = "message model_quality_metrics {
  required binary endpoint (STRING);
  required binary variant (STRING);
  required int64 window_start (TIMESTAMP(MILLIS,true));
  required int64 window_end (TIMESTAMP(MILLIS,true));
  optional int64 judged_at (TIMESTAMP(MILLIS,true));
  required binary problem_type (STRING);
  required binary metric (STRING);
  optional double value;
  required boolean violated;
  required boolean headline;
  optional double baseline;
  optional binary comparison_operator (STRING);
  optional double judged_value;
  optional double standard_error;
  optional double interval_low;
  optional double interval_high;
  optional double z;
  required boolean degraded;
  optional double estimated_value;
  required boolean estimated;
  required int64 predictions (INTEGER(64,false));
  required int64 labelled (INTEGER(64,false));
  required int64 labelled_when_judged (INTEGER(64,false));
  required int64 late_labels (INTEGER(64,false));
  optional double labelled_share;
}";
    // The text is ours and fixed; a parse failure is a bug caught by every test that writes.
    #[allow(clippy::expect_used)]
    Arc::new(parquet::schema::parser::parse_message_type(text).expect("the quality schema parses"))
}

/// Column kinds of [`quality_schema`], in order.
const QUALITY_COLUMNS: [Kind; 25] = [
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::OptionalInt,
    Kind::Text,
    Kind::Text,
    Kind::OptionalDouble,
    Kind::Bool,
    Kind::Bool,
    Kind::OptionalDouble,
    Kind::OptionalText,
    Kind::OptionalDouble,
    Kind::OptionalDouble,
    Kind::OptionalDouble,
    Kind::OptionalDouble,
    Kind::OptionalDouble,
    Kind::Bool,
    Kind::OptionalDouble,
    Kind::Bool,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::OptionalDouble,
];

/// Writes the model-quality table: per window, a row per metric of its `statistics.json`
/// (every label that came) and per headline metric its judgement (value, sampling error,
/// interval, z, degraded) and, with a calibration, the estimate beside it.
pub struct QualityTable<W: Write + Send = File> {
    out: ParquetRows<W>,
}

impl QualityTable<File> {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> Result<Self, TableError> {
        let file = create_file(path)?;
        Ok(QualityTable { out: ParquetRows::new(file, path, quality_schema(), Builders::new(QUALITY_COLUMNS.into()))? })
    }
}

impl QualityTable<Vec<u8>> {
    /// Writes to memory; `name` names the table in errors.
    pub fn in_memory(name: &str) -> Result<Self, TableError> {
        let path = Path::new(name);
        Ok(QualityTable {
            out: ParquetRows::new(Vec::new(), path, quality_schema(), Builders::new(QUALITY_COLUMNS.into()))?,
        })
    }

    /// Finishes the file and returns its bytes.
    pub fn into_bytes(self) -> Result<Vec<u8>, TableError> {
        self.out.into_inner()
    }
}

impl<W: Write + Send> QualityTable<W> {
    /// Appends one window's rows.
    pub fn append(&mut self, stream: &StreamId, q: &crate::quality::join::WindowQuality) -> Result<(), TableError> {
        let scalars: Vec<(&str, f64)> = q
            .statistics
            .iter()
            .flat_map(|s| s.metrics.iter())
            .filter_map(|(name, e)| match e {
                crate::quality::files::MetricEntry::Scalar { value, .. } => Some((name.as_str(), *value)),
                _ => None,
            })
            .collect();
        let mut names: Vec<&str> = scalars.iter().map(|(n, _)| *n).collect();
        for j in &q.judgements {
            if !names.contains(&j.name.as_str()) {
                names.push(&j.name);
            }
        }
        let problem = q.statistics.as_ref().map_or("", |s| s.problem.as_str());
        let finite = |v: f64| Some(v).filter(|x| x.is_finite());
        for name in names {
            let judged = q.judgements.iter().find(|j| j.name == name);
            let value = match (scalars.iter().find(|(n, _)| *n == name), judged) {
                (Some((_, v)), _) => finite(*v),
                (None, Some(j)) => finite(j.value),
                (None, None) => None,
            };
            let b = &mut self.out.builders;
            b.text(0, &stream.endpoint);
            b.text(1, &stream.variant);
            b.int(2, q.window.start.millis());
            b.int(3, q.window.end.millis());
            b.optional_int(4, q.counts.judged_at.map(|t| t.millis()));
            b.text(5, problem);
            b.text(6, name);
            b.double(7, value);
            b.boolean(8, q.violations.iter().any(|v| v.metric_name == name));
            b.boolean(9, judged.is_some());
            b.double(10, judged.and_then(|j| finite(j.baseline)));
            b.optional_text(11, judged.map(|j| j.comparison_operator.as_str()));
            b.double(12, judged.and_then(|j| finite(j.value)));
            b.double(13, judged.and_then(|j| finite(j.standard_error)));
            b.double(14, judged.and_then(|j| finite(j.interval[0])));
            b.double(15, judged.and_then(|j| finite(j.interval[1])));
            b.double(16, judged.and_then(|j| finite(j.z)));
            b.boolean(17, judged.is_some_and(|j| j.degraded));
            b.double(18, q.estimate.iter().find(|e| e.name == name).and_then(|e| finite(e.value)));
            b.boolean(19, q.estimated);
            b.count(20, q.counts.predictions);
            b.count(21, q.counts.labelled);
            b.count(22, q.counts.labelled_when_judged);
            b.count(23, q.counts.late_labels);
            b.double(24, finite(q.counts.labelled_share).filter(|_| !q.estimated));
            self.out.row_done()?;
        }
        Ok(())
    }

    /// Writes the remaining rows and the footer; returns the number of rows.
    pub fn close(self) -> Result<u64, TableError> {
        self.out.close()
    }
}

/// Replay's model-quality table: the latest rows of each window (a window is rendered again
/// when labels come late), written when the replay ends.
#[derive(Debug, Default)]
pub struct QualityRows {
    windows: std::collections::BTreeMap<(StreamId, crate::time::Timestamp), crate::quality::join::WindowQuality>,
}

impl QualityRows {
    /// Writes every window's latest rows to `path`; returns the number of rows.
    pub fn write(self, path: &Path) -> Result<u64, TableError> {
        let mut table = QualityTable::create(path)?;
        for ((stream, _), q) in &self.windows {
            table.append(stream, q)?;
        }
        table.close()
    }

    /// Whether no window had a model quality.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

impl WindowSink for QualityRows {
    fn accept(&mut self, _w: &JudgedWindow) -> Result<(), SinkError> {
        Ok(())
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        self.windows.insert((q.stream.clone(), q.quality.window.start), q.quality.clone());
        Ok(())
    }
}

/// The service's model-quality table: one Parquet object per window under
/// `model_quality_metrics/`, partitioned as the drift table is, written again when the window's
/// labels change. Taken with [`QualityTables::take`].
#[derive(Debug, Default)]
pub struct QualityTables {
    files: Vec<(String, Vec<u8>)>,
}

impl QualityTables {
    /// Returns the objects (key, bytes) made so far and forgets them.
    pub fn take(&mut self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.files)
    }

    /// The object key of a window's table.
    pub fn key(stream: &StreamId, window: &Window) -> String {
        let c = window.start.civil();
        format!(
            "model_quality_metrics/endpoint={}/variant={}/date={:04}-{:02}-{:02}/{:02}{:02}.parquet",
            stream.endpoint, stream.variant, c.year, c.month, c.day, c.hour, c.minute
        )
    }
}

impl WindowSink for QualityTables {
    fn accept(&mut self, _w: &JudgedWindow) -> Result<(), SinkError> {
        Ok(())
    }

    fn accept_quality(&mut self, q: &JudgedQuality) -> Result<(), SinkError> {
        let mut table = QualityTable::in_memory("model_quality_metrics")?;
        table.append(&q.stream, &q.quality)?;
        self.files.push((QualityTables::key(&q.stream, &q.quality.window), table.into_bytes()?));
        Ok(())
    }
}
