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
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::TypePtr;

use crate::capture::layout::StreamId;
use crate::classify::FeatureExtras;
use crate::drift::WindowDrift;
use crate::pipeline::ClosedWindow;
use crate::profile::WindowProfile;
use crate::publish::window::{JudgedWindow, SinkError, WindowSink};
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

#[derive(Default)]
struct Doubles {
    values: Vec<f64>,
    defs: Vec<i16>,
}

/// A column of the row group being built, in schema order.
enum Column {
    Text(Strings),
    OptionalText(Strings),
    /// Timestamps and unsigned counts (stored as INT64, as Parquet stores UINT_64).
    Int(Vec<i64>),
    OptionalDouble(Doubles),
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
    columns: Vec<Column>,
    len: usize,
}

impl Builders {
    fn new() -> Self {
        let columns = (0..col::COUNT)
            .map(|i| match i {
                col::START..=col::END | col::RECORDS..=col::NON_FINITE => Column::Int(Vec::new()),
                i if (col::FIRST_FLOAT..col::CHECK_METRIC).contains(&i) => Column::OptionalDouble(Doubles::default()),
                col::CHECK_METRIC | col::STATE | col::CYCLE_MODEL => Column::OptionalText(Strings::default()),
                _ => Column::Text(Strings::default()),
            })
            .collect();
        Builders { columns, len: 0 }
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

    fn count(&mut self, i: usize, v: u64) {
        // Parquet stores UINT_64 in INT64's bits.
        self.int(i, v as i64);
    }

    fn double(&mut self, i: usize, v: Option<f64>) {
        if let Column::OptionalDouble(c) = &mut self.columns[i] {
            match v {
                Some(x) => {
                    c.values.push(x);
                    c.defs.push(1);
                }
                None => c.defs.push(0),
            }
        }
    }
}

/// Writes the metrics table as Parquet, to a file (replay) or to memory (one window, service).
pub struct MetricsTable<W: Write + Send = File> {
    path: PathBuf,
    writer: SerializedFileWriter<W>,
    builders: Builders,
    rows: u64,
}

impl MetricsTable<File> {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> Result<Self, TableError> {
        let err = |detail: String| TableError { path: path.display().to_string(), detail };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let file = File::create(path).map_err(|e| err(e.to_string()))?;
        Self::with_writer(file, path)
    }
}

impl MetricsTable<Vec<u8>> {
    /// Writes to memory; `name` names the table in errors.
    pub fn in_memory(name: &str) -> Result<Self, TableError> {
        Self::with_writer(Vec::new(), Path::new(name))
    }

    /// Finishes the file and returns its bytes.
    pub fn into_bytes(mut self) -> Result<Vec<u8>, TableError> {
        self.flush()?;
        let path = self.path.display().to_string();
        self.writer.into_inner().map_err(|e| TableError { path, detail: e.to_string() })
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
        let err = |detail: String| TableError { path: path.display().to_string(), detail };
        let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
        let writer = SerializedFileWriter::new(w, schema(), Arc::new(props)).map_err(|e| err(e.to_string()))?;
        Ok(MetricsTable { path: path.to_owned(), writer, builders: Builders::new(), rows: 0 })
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
        let b = &mut self.builders;
        for (i, f) in drift.features.iter().enumerate() {
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
            b.len += 1;
            self.rows += 1;
        }
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
        let columns = std::mem::replace(&mut self.builders, Builders::new()).columns;
        let mut group = self.writer.next_row_group().map_err(err)?;
        for column in columns {
            let Some(mut w) = group.next_column().map_err(err)? else {
                return Err(TableError { path, detail: "the schema has fewer columns than the table".into() });
            };
            match column {
                Column::Text(s) => w.typed::<ByteArrayType>().write_batch(&s.values, None, None),
                Column::OptionalText(s) => w.typed::<ByteArrayType>().write_batch(&s.values, Some(&s.defs), None),
                Column::Int(v) => w.typed::<Int64Type>().write_batch(&v, None, None),
                Column::OptionalDouble(d) => w.typed::<DoubleType>().write_batch(&d.values, Some(&d.defs), None),
            }
            .map_err(err)?;
            w.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        self.writer.flush().map_err(|e| TableError { path, detail: e.to_string() })?;
        Ok(())
    }

    /// Writes the remaining rows and the footer; returns the number of rows.
    pub fn close(mut self) -> Result<u64, TableError> {
        self.flush()?;
        let path = self.path.display().to_string();
        self.writer.close().map_err(|e| TableError { path, detail: e.to_string() })?;
        Ok(self.rows)
    }
}
