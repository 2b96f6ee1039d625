//! `driftwatch baseline`: training data in, `statistics.json` + `constraints.json` out, as Model
//! Monitor's suggest-baseline job writes them.
//!
//! - CSV is read as text and typed with Deequ's rules (so `3.0` is Fractional); headerless files
//!   get Spark's names `_c0`, `_c1`, ...
//! - JSON Lines: one object per line, columns by key in first-seen order; values typed as in
//!   capture payloads.
//! - Columnar files (Parquet) are read outside the core (the binary's `training` module) into
//!   the same [`ColumnProfiles`].
//!
//! Statistics use the Deequ KLL port (c = 0.64, k = 2048), population standard deviation, Spark's
//! moment updates in row order, and 10 equal-width buckets; strings with at most 120 distinct
//! values get categorical buckets and a `domains` constraint.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::files::{
    ConstraintsFile, DistributionConstraintsFile, FeatureConstraints, MonitoringConfigFile, NumConstraints,
    StatisticsFile, StringConstraints,
};
use super::stats_writer::{domain_of, statistics_file};
use crate::payload::{decode_json, Table, Value};
use crate::profile::{categories::Categories, FeatureProfile, InferredType};

/// The text formats the core reads (columnar files are read by the binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Comma-separated values.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Why a baseline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The input cannot be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A CSV or JSON Lines record is malformed.
    #[error("{path}: line {line}: {detail}")]
    Record {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong (never the data).
        detail: String,
    },
    /// A columnar file (Parquet) cannot be read.
    #[error("{path}: {format}: {detail}")]
    Columnar {
        /// The file.
        path: String,
        /// The format (`parquet`).
        format: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// No rows or no columns.
    #[error("{path}: no rows to profile")]
    Empty {
        /// The file.
        path: String,
    },
    /// Two columns share a name.
    #[error("{path}: column {name:?} appears twice")]
    DuplicateColumn {
        /// The file.
        path: String,
        /// The name.
        name: String,
    },
}

/// The two baseline files.
#[derive(Debug, Clone)]
pub struct BuiltBaseline {
    /// `statistics.json`.
    pub statistics: StatisticsFile,
    /// `constraints.json`.
    pub constraints: ConstraintsFile,
    /// Number of rows profiled.
    pub rows: u64,
}

/// Where a training file's rows go, column by column: the baseline's profiles
/// ([`ColumnProfiles`]) or the model-quality baseline's labelled rows. The readers (CSV, JSON
/// Lines here, Parquet in the binary) call it in this order per row: [`RowSink::value`] or
/// [`RowSink::absent`] for each column, then [`RowSink::end_row`].
pub trait RowSink {
    /// The columns added so far, by index.
    fn columns(&self) -> &[String];
    /// The index of the column named `name`, if it was added.
    fn column_index(&self, name: &str) -> Option<usize> {
        self.columns().iter().position(|n| n == name)
    }
    /// The number of columns added.
    fn column_count(&self) -> usize {
        self.columns().len()
    }
    /// Adds a column (rows counted so far lacked it) and returns its index; `path` names the
    /// file in the error when the name is taken.
    fn add_column(&mut self, name: String, path: &str) -> Result<usize, BuildError>;
    /// Column `col` of the current row holds `value`; `string_column` when it comes from text
    /// (typed by content, as Deequ types string columns).
    fn value(&mut self, col: usize, value: &Value, string_column: bool);
    /// Column `col` is absent from the current row (a JSON object without the key).
    fn absent(&mut self, col: usize);
    /// The current row (1-based `line` of the file, or row number for columnar files) ends.
    fn end_row(&mut self, line: u64);
}

/// Column profiles being built, one per training column, in first-seen order.
#[derive(Debug, Default)]
pub struct ColumnProfiles {
    names: Vec<String>,
    profiles: Vec<FeatureProfile>,
    /// Per column, the lengths of its values (see [`super::TEXT_LENGTH_SUFFIX`]): kept for
    /// every column, used for those that turn out to be free text.
    lengths: Vec<FeatureProfile>,
    rows: u64,
}

/// A string column becomes free text, watched by a derived `<name>.length` feature, when its
/// values have more distinct values than Model Monitor gives a distribution to (so its drift
/// cannot be checked otherwise) and are this long on average: shorter ones are identifiers
/// (names, codes, e-mail addresses, UUIDs), whose length says little; prompts and documents
/// are longer.
pub const FREE_TEXT_MIN_MEAN_CHARS: f64 = 40.0;

impl ColumnProfiles {
    /// No columns yet.
    pub fn new() -> Self {
        ColumnProfiles::default()
    }
}

/// Appends `name` to a sink's columns and returns its index; a name already there is
/// [`BuildError::DuplicateColumn`] naming `path`.
pub fn push_column(names: &mut Vec<String>, name: String, path: &str) -> Result<usize, BuildError> {
    if names.contains(&name) {
        return Err(BuildError::DuplicateColumn { path: path.to_owned(), name });
    }
    names.push(name);
    Ok(names.len() - 1)
}

impl RowSink for ColumnProfiles {
    fn columns(&self) -> &[String] {
        &self.names
    }

    fn add_column(&mut self, name: String, path: &str) -> Result<usize, BuildError> {
        let idx = push_column(&mut self.names, name, path)?;
        let mut p = FeatureProfile {
            categories: Categories::with_cap(crate::profile::categories::DEFAULT_CAP),
            ..Default::default()
        };
        // Rows seen before this column appeared (JSON Lines) lacked it.
        p.missing = self.rows;
        self.profiles.push(p);
        self.lengths.push(FeatureProfile { missing: self.rows, ..Default::default() });
        Ok(idx)
    }

    fn value(&mut self, col: usize, value: &Value, string_column: bool) {
        self.profiles[col].observe(value, string_column);
        self.lengths[col].observe(&super::text_length(value), false);
    }

    fn absent(&mut self, col: usize) {
        self.profiles[col].missing += 1;
        self.lengths[col].missing += 1;
    }

    fn end_row(&mut self, _line: u64) {
        self.rows += 1;
    }
}

/// Profiles a training file in a text format. `header` applies to CSV only.
pub fn build(path: &Path, format: TextFormat, header: bool) -> Result<BuiltBaseline, BuildError> {
    let display = path.display().to_string();
    let mut cols = ColumnProfiles::new();
    read_text(path, format, header, &mut cols)?;
    cols.finish(&display)
}

/// Reads a training file in a text format into `sink`. `header` applies to CSV only.
pub fn read_text(path: &Path, format: TextFormat, header: bool, sink: &mut impl RowSink) -> Result<(), BuildError> {
    let display = path.display().to_string();
    match format {
        TextFormat::Csv => read_csv(BufReader::new(open(path, &display)?), &display, header, sink),
        TextFormat::Jsonl => read_jsonl(BufReader::new(open(path, &display)?), &display, sink),
    }
}

/// Opens a training file (`display` names it in the error).
pub fn open(path: &Path, display: &str) -> Result<File, BuildError> {
    File::open(path).map_err(|source| BuildError::Io { path: display.to_owned(), source })
}

/// Profiles CSV text from any reader (`display` names it in errors).
pub fn build_csv<R: std::io::Read>(input: R, header: bool, display: &str) -> Result<BuiltBaseline, BuildError> {
    let mut cols = ColumnProfiles::new();
    read_csv(input, display, header, &mut cols)?;
    cols.finish(display)
}

/// Reads CSV text into `sink` (`display` names the input in errors); headerless files get
/// Spark's names `_c0`, `_c1`, ...
pub fn read_csv<R: std::io::Read>(
    input: R,
    display: &str,
    header: bool,
    cols: &mut impl RowSink,
) -> Result<(), BuildError> {
    let quotes = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let input = QuoteCount { inner: input, quotes: quotes.clone() };
    let mut reader = csv::ReaderBuilder::new().has_headers(header).flexible(false).from_reader(input);
    let csv_err = |e: csv::Error| -> BuildError {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        let detail = match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("{len} fields where the first row has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not utf-8 text".to_owned(),
            csv::ErrorKind::Io(io) => io.to_string(),
            _ => "malformed csv".to_owned(),
        };
        BuildError::Record { path: display.to_owned(), line, detail }
    };
    if header {
        let h = reader.headers().map_err(csv_err)?.clone();
        for name in h.iter() {
            cols.add_column(name.trim().to_owned(), display)?;
        }
    }
    let mut record = csv::StringRecord::new();
    // The last record: (its first line, whether a field of it spans lines).
    let mut last = (0u64, false);
    while reader.read_record(&mut record).map_err(csv_err)? {
        last = (record.position().map(|p| p.line()).unwrap_or(0), record.iter().any(|f| f.contains('\n')));
        if cols.column_count() == 0 {
            for i in 0..record.len() {
                cols.add_column(format!("_c{i}"), display)?;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() != cols.column_count() {
            return Err(BuildError::Record {
                path: display.to_owned(),
                line,
                detail: format!("{} fields where the header has {}", record.len(), cols.column_count()),
            });
        }
        for (i, field) in record.iter().enumerate() {
            cols.value(i, &Value::from_text(field), true);
        }
        cols.end_row(line);
    }
    // A quote that is never closed makes the CSV reader take the rest of the file as one
    // field: the rows after it would be lost without a word.
    if quotes.get() % 2 == 1 && last.1 {
        return Err(BuildError::Record {
            path: display.to_owned(),
            line: last.0,
            detail: "a quoted field opened in this row is never closed: the rest of the file would be one field".into(),
        });
    }
    Ok(())
}

/// A reader that counts the `"` bytes it passes on (an odd count at the end: a quote never
/// closed).
struct QuoteCount<R> {
    inner: R,
    quotes: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for QuoteCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let q = memchr::memchr_iter(b'"', &buf[..n]).count() as u64;
        self.quotes.set(self.quotes.get() + q);
        Ok(n)
    }
}

/// Reads JSON Lines (one object per line, columns by key in first-seen order) into `cols`.
pub fn read_jsonl<R: BufRead>(mut reader: R, display: &str, cols: &mut impl RowSink) -> Result<(), BuildError> {
    let mut line = String::new();
    let mut line_no = 0u64;
    let mut seen: Vec<bool> = Vec::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|source| BuildError::Io { path: display.to_owned(), source })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut table = Table::default();
        decode_json(&line, None, &mut table).map_err(|e| BuildError::Record {
            path: display.to_owned(),
            line: line_no,
            detail: e.to_string(),
        })?;
        if table.row_count() != 1 || table.cells.iter().any(|c| c.name.is_none()) {
            return Err(BuildError::Record {
                path: display.to_owned(),
                line: line_no,
                detail: "expected one JSON object per line".into(),
            });
        }
        seen.clear();
        seen.resize(cols.column_count(), false);
        for cell in table.row(0) {
            let name = cell.name.as_deref().unwrap_or_default();
            let idx = match cols.column_index(name) {
                Some(i) => i,
                None => {
                    seen.push(false);
                    cols.add_column(name.to_owned(), display)?
                }
            };
            if seen[idx] {
                return Err(BuildError::Record {
                    path: display.to_owned(),
                    line: line_no,
                    detail: format!("key {name:?} appears twice"),
                });
            }
            seen[idx] = true;
            cols.value(idx, &cell.value, true);
        }
        for (i, s) in seen.iter().enumerate() {
            if !s {
                cols.absent(i);
            }
        }
        cols.end_row(line_no);
    }
    Ok(())
}

impl ColumnProfiles {
    /// The two baseline files from what was profiled; `path` names the input when it held no
    /// rows or no columns.
    pub fn finish(self, path: &str) -> Result<BuiltBaseline, BuildError> {
        if self.rows == 0 || self.names.is_empty() {
            return Err(BuildError::Empty { path: path.to_owned() });
        }
        Ok(finish(self))
    }
}

fn finish(mut cols: ColumnProfiles) -> BuiltBaseline {
    // Free-text columns get their length as a derived feature, after the columns.
    let free_text: Vec<usize> = (0..cols.names.len())
        .filter(|&i| {
            let p = &cols.profiles[i];
            let derived = format!("{}{}", cols.names[i], super::TEXT_LENGTH_SUFFIX);
            p.types.inferred() == InferredType::String
                && domain_of(p).is_none()
                && cols.lengths[i].moments.n > 0
                && cols.lengths[i].moments.deequ_mean() >= FREE_TEXT_MIN_MEAN_CHARS
                && !cols.names.contains(&derived)
        })
        .collect();
    for i in free_text {
        let name = format!("{}{}", cols.names[i], super::TEXT_LENGTH_SUFFIX);
        let lengths = std::mem::take(&mut cols.lengths[i]);
        cols.names.push(name);
        cols.profiles.push(lengths);
    }
    let statistics = statistics_file(cols.rows, cols.names.iter().map(String::as_str).zip(cols.profiles.iter()));
    let features = cols
        .names
        .iter()
        .zip(&cols.profiles)
        .map(|(name, p)| {
            let inferred = p.types.inferred();
            let rows = p.present() + p.missing;
            let completeness = if rows > 0 { p.present() as f64 / rows as f64 } else { 0.0 };
            FeatureConstraints {
                name: name.clone(),
                inferred_type: Some(inferred.as_str().to_owned()),
                completeness: Some(completeness),
                num_constraints: inferred
                    .is_numeric()
                    .then_some(NumConstraints { is_non_negative: Some(p.moments.n > 0 && p.moments.min >= 0.0) }),
                string_constraints: matches!(inferred, InferredType::String | InferredType::Boolean)
                    .then(|| domain_of(p))
                    .flatten()
                    .map(|domains| StringConstraints { domains: Some(domains), overrides: None }),
                overrides: None,
            }
        })
        .collect();
    let constraints =
        ConstraintsFile { version: 0.0, features, monitoring_config: Some(suggested_monitoring_config()) };
    BuiltBaseline { statistics, constraints, rows: cols.rows }
}

/// The `monitoring_config` Model Monitor's suggest-baseline job writes.
pub fn suggested_monitoring_config() -> MonitoringConfigFile {
    MonitoringConfigFile {
        evaluate_constraints: Some("Enabled".into()),
        emit_metrics: Some("Enabled".into()),
        datatype_check_threshold: Some(1.0),
        domain_content_threshold: Some(1.0),
        distribution_constraints: Some(DistributionConstraintsFile {
            perform_comparison: Some("Enabled".into()),
            enable_comparisons: None,
            comparison_threshold: Some(0.1),
            comparison_method: Some("Robust".into()),
            categorical_comparison_threshold: Some(0.1),
            categorical_drift_method: Some("LInfinity".into()),
        }),
    }
}

impl BuiltBaseline {
    /// The two files' names and texts, as Model Monitor lays them out.
    pub fn file_texts(&self) -> Result<Vec<(&'static str, String)>, serde_json::Error> {
        Ok(vec![
            (super::STATISTICS_FILE, serde_json::to_string_pretty(&self.statistics)? + "\n"),
            (super::CONSTRAINTS_FILE, serde_json::to_string_pretty(&self.constraints)? + "\n"),
        ])
    }
}

/// Writes both files into `dir` (created if needed).
pub fn write_dir(b: &BuiltBaseline, dir: &Path) -> Result<(), BuildError> {
    let texts = b
        .file_texts()
        .map_err(|e| BuildError::Io { path: dir.display().to_string(), source: std::io::Error::other(e) })?;
    write_files(dir, &texts)
}

/// Writes named texts into `dir` (created if needed).
pub fn write_files(dir: &Path, files: &[(&str, String)]) -> Result<(), BuildError> {
    let io = |path: &Path, source: std::io::Error| BuildError::Io { path: path.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    Ok(())
}
