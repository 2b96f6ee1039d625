//! The per-window, per-feature metrics as one Parquet table (for Athena, DuckDB or pandas).
//!
//! One row per (stream, window, feature). Rows are buffered and written as row groups of
//! [`ROW_GROUP`] rows, so memory stays bounded however long the replay.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, StringBuilder, TimestampMillisecondBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

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

/// The table's schema.
pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("endpoint", DataType::Utf8, false),
        Field::new("variant", DataType::Utf8, false),
        Field::new("window_start", ts.clone(), false),
        Field::new("window_end", ts, false),
        Field::new("feature", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("expected_type", DataType::Utf8, false),
        Field::new("observed_type", DataType::Utf8, false),
        Field::new("window_records", DataType::UInt64, false),
        Field::new("window_rows", DataType::UInt64, false),
        Field::new("present", DataType::UInt64, false),
        Field::new("missing", DataType::UInt64, false),
        Field::new("non_finite", DataType::UInt64, false),
    ];
    fields.extend(FLOAT_COLUMNS.iter().map(|n| Field::new(*n, DataType::Float64, true)));
    fields.push(Field::new("drift_check_metric", DataType::Utf8, true));
    fields.push(Field::new("violations", DataType::Utf8, false));
    fields.push(Field::new("state", DataType::Utf8, true));
    fields.push(Field::new("cycle_model", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

struct Builders {
    endpoint: StringBuilder,
    variant: StringBuilder,
    start: TimestampMillisecondBuilder,
    end: TimestampMillisecondBuilder,
    feature: StringBuilder,
    kind: StringBuilder,
    expected: StringBuilder,
    observed: StringBuilder,
    records: UInt64Builder,
    rows: UInt64Builder,
    present: UInt64Builder,
    missing: UInt64Builder,
    non_finite: UInt64Builder,
    floats: Vec<Float64Builder>,
    check_metric: StringBuilder,
    violations: StringBuilder,
    state: StringBuilder,
    cycle_model: StringBuilder,
    len: usize,
}

impl Builders {
    fn new() -> Self {
        Builders {
            endpoint: StringBuilder::new(),
            variant: StringBuilder::new(),
            start: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            end: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            feature: StringBuilder::new(),
            kind: StringBuilder::new(),
            expected: StringBuilder::new(),
            observed: StringBuilder::new(),
            records: UInt64Builder::new(),
            rows: UInt64Builder::new(),
            present: UInt64Builder::new(),
            missing: UInt64Builder::new(),
            non_finite: UInt64Builder::new(),
            floats: FLOAT_COLUMNS.iter().map(|_| Float64Builder::new()).collect(),
            check_metric: StringBuilder::new(),
            violations: StringBuilder::new(),
            state: StringBuilder::new(),
            cycle_model: StringBuilder::new(),
            len: 0,
        }
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.endpoint.finish()),
            Arc::new(self.variant.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            Arc::new(self.feature.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.expected.finish()),
            Arc::new(self.observed.finish()),
            Arc::new(self.records.finish()),
            Arc::new(self.rows.finish()),
            Arc::new(self.present.finish()),
            Arc::new(self.missing.finish()),
            Arc::new(self.non_finite.finish()),
        ];
        cols.extend(self.floats.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.check_metric.finish()));
        cols.push(Arc::new(self.violations.finish()));
        cols.push(Arc::new(self.state.finish()));
        cols.push(Arc::new(self.cycle_model.finish()));
        self.len = 0;
        RecordBatch::try_new(schema.clone(), cols)
    }
}

/// Writes the metrics table as Parquet, to a file (replay) or to memory (one window, service).
pub struct MetricsTable<W: Write + Send = File> {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<W>,
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
        let schema = schema();
        let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
        let writer = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(|e| err(e.to_string()))?;
        Ok(MetricsTable { path: path.to_owned(), schema, writer, builders: Builders::new(), rows: 0 })
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
            b.endpoint.append_value(&stream.endpoint);
            b.variant.append_value(&stream.variant);
            b.start.append_value(window.start.millis());
            b.end.append_value(window.end.millis());
            b.feature.append_value(&f.name);
            b.kind.append_value(match f.kind {
                crate::drift::FeatureKind::Numeric => "numeric",
                crate::drift::FeatureKind::Categorical => "categorical",
                crate::drift::FeatureKind::Unmonitored => "unmonitored",
            });
            b.expected.append_value(f.expected_type);
            b.observed.append_value(f.observed_type);
            b.records.append_value(profile.records);
            b.rows.append_value(profile.rows);
            b.present.append_value(f.present);
            b.missing.append_value(f.missing);
            b.non_finite.append_value(f.non_finite);
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
            for (builder, v) in b.floats.iter_mut().zip(values) {
                builder.append_option(v.filter(|x| x.is_finite()));
            }
            b.check_metric.append_option(f.drift_check.as_ref().map(|d| d.metric));
            let checks: Vec<&str> = drift
                .violations
                .iter()
                .filter(|v| v.feature_name == f.name)
                .map(|v| v.constraint_check_type.as_str())
                .collect();
            b.violations.append_value(checks.join(","));
            b.state.append_option(extra.state.as_deref());
            b.cycle_model.append_option(extra.cycle_model.as_deref());
            b.len += 1;
            self.rows += 1;
        }
        if self.builders.len >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), TableError> {
        if self.builders.len == 0 {
            return Ok(());
        }
        let err =
            |e: &dyn std::fmt::Display| TableError { path: self.path.display().to_string(), detail: e.to_string() };
        let batch = self.builders.finish(&self.schema).map_err(|e| err(&e))?;
        self.writer.write(&batch).map_err(|e| err(&e))?;
        self.writer.flush().map_err(|e| err(&e))?;
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
