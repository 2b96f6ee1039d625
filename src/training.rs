//! Training data for `driftwatch baseline`: the input formats, and Parquet read with parquet's
//! record reader into the core's [`ColumnProfiles`] (the core reads CSV and JSON Lines itself
//! and never depends on parquet).
//!
//! Parquet columns are typed by schema: integers Integral, floats and decimals Fractional,
//! strings typed by content as Deequ does for string columns; other types (dates, timestamps,
//! nested) are profiled as their display text.

use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use crate::baseline::build::{
    self as core_build, open, BuildError, BuiltBaseline, ColumnProfiles, RowSink, TextFormat,
};
use crate::payload::Value;
use crate::quality::rows::RowCollector;
use crate::quality::{Attributes, ProblemType, QualityBaseline, QualityError};

/// The format's name in errors.
const PARQUET: &str = "parquet";

/// Input formats of `driftwatch baseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Comma-separated values.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON object per line.
    Jsonl,
}

impl InputFormat {
    /// Guesses the format from a file extension.
    pub fn from_path(p: &Path) -> Option<InputFormat> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" | "txt" => Some(InputFormat::Csv),
            "parquet" | "pq" => Some(InputFormat::Parquet),
            "jsonl" | "ndjson" | "json" => Some(InputFormat::Jsonl),
            _ => None,
        }
    }
}

/// Profiles a training file. `header` applies to CSV only.
pub fn build(path: &Path, format: InputFormat, header: bool) -> Result<BuiltBaseline, BuildError> {
    match format {
        InputFormat::Csv => core_build::build(path, TextFormat::Csv, header),
        InputFormat::Jsonl => core_build::build(path, TextFormat::Jsonl, header),
        InputFormat::Parquet => {
            let display = path.display().to_string();
            let mut cols = ColumnProfiles::new();
            read_parquet(path, &display, &mut cols)?;
            cols.finish(&display)
        }
    }
}

/// Builds a model-quality baseline from a labelled file: the job's attributes pick the ground
/// truth and prediction columns (by name; `_c0`, `_c1`, ... for a headerless CSV).
pub fn build_quality(
    path: &Path,
    format: InputFormat,
    header: bool,
    problem: ProblemType,
    attrs: Attributes,
) -> Result<QualityBaseline, QualityError> {
    attrs.validate(problem)?;
    let scores = attrs.probability.is_some();
    let mut rows = RowCollector::new(problem, attrs);
    read(path, format, header, &mut rows)?;
    let collected = rows.finish(&path.display().to_string())?;
    Ok(QualityBaseline::of(problem, collected, scores))
}

/// Builds a bias baseline (`analysis.json`'s text and a one-line summary) from a labelled
/// training file and Clarify's analysis config at `config`: the label in `ground_truth`, the
/// predicted probability in `probability` (`threshold` overrides the config's). Errors name the
/// file and the flag.
pub fn build_bias(
    path: &Path,
    format: InputFormat,
    header: bool,
    config: &Path,
    ground_truth: Option<&str>,
    probability: Option<&str>,
    threshold: Option<f64>,
) -> Result<(String, String), String> {
    let shown = config.display().to_string();
    let text = std::fs::read_to_string(config).map_err(|e| format!("--bias-config {shown}: {e}"))?;
    let mut cfg = crate::bias::BiasConfig::from_json(&text, &shown).map_err(|e| e.to_string())?;
    if let Some(t) = threshold {
        if !(0.0..=1.0).contains(&t) {
            return Err(format!("--probability-threshold-attribute {t}: not between 0 and 1"));
        }
        cfg.probability_threshold = t;
    }
    let label_from_config = cfg.label.as_ref().map(|c| c.name_in(&cfg.headers));
    let Some(ground_truth) = ground_truth.map(str::to_owned).or(label_from_config) else {
        return Err(
            "--bias-config needs --ground-truth-attribute (the label column) or a \"label\" in the config".into()
        );
    };
    let Some(probability) = probability else {
        return Err("--bias-config needs --probability-attribute (the predicted probability column)".into());
    };
    let mut rows = crate::bias::analysis::BiasCollector::new(cfg, &ground_truth, probability);
    read(path, format, header, &mut rows).map_err(|e| e.to_string())?;
    let skipped: Vec<String> = rows.skipped.iter().map(|(r, n)| format!("{} {n}", r.as_str())).collect();
    let counted = rows.rows;
    let analysis = rows.finish(&path.display().to_string()).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&analysis.to_json()).map_err(|e| e.to_string())? + "\n";
    let facets: Vec<String> =
        analysis.facets.iter().map(|(name, values)| format!("{name} ({} values)", values.len())).collect();
    let skipped = if skipped.is_empty() { String::new() } else { format!(" (left out: {})", skipped.join(", ")) };
    Ok((text, format!("bias of {} from {counted} rows{skipped}", facets.join(", "))))
}

/// Reads a training file in any input format into `sink`. `header` applies to CSV only.
pub fn read(path: &Path, format: InputFormat, header: bool, sink: &mut impl RowSink) -> Result<(), BuildError> {
    match format {
        InputFormat::Csv => core_build::read_text(path, TextFormat::Csv, header, sink),
        InputFormat::Jsonl => core_build::read_text(path, TextFormat::Jsonl, header, sink),
        InputFormat::Parquet => read_parquet(path, &path.display().to_string(), sink),
    }
}

fn read_parquet(path: &Path, display: &str, cols: &mut impl RowSink) -> Result<(), BuildError> {
    let perr = |e: &dyn std::fmt::Display| BuildError::Columnar {
        path: display.to_owned(),
        format: PARQUET,
        detail: e.to_string(),
    };
    let reader = SerializedFileReader::new(open(path, display)?).map_err(|e| perr(&e))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    for field in schema.root_schema().get_fields() {
        cols.add_column(field.name().to_owned(), display)?;
    }
    for (n, row) in reader.get_row_iter(None).map_err(|e| perr(&e))?.enumerate() {
        let row = row.map_err(|e| perr(&e))?;
        for (ci, (_, field)) in row.get_column_iter().enumerate() {
            let (value, string_column) = value_of(field);
            cols.value(ci, &value, string_column);
        }
        cols.end_row(n as u64 + 1);
    }
    Ok(())
}

/// A Parquet value as the profile sees it, and whether it comes from a text column (typed by
/// content, as Deequ types string columns).
fn value_of(field: &Field) -> (Value<'_>, bool) {
    let integral = |v: f64| Value::Number { value: v, integral: true, text: std::borrow::Cow::Borrowed("") };
    let fractional = |v: f64| {
        if v.is_finite() {
            Value::Number { value: v, integral: false, text: std::borrow::Cow::Borrowed("") }
        } else {
            Value::NonFinite
        }
    };
    match field {
        Field::Null => (Value::Missing, false),
        Field::Bool(b) => (Value::Bool(*b), false),
        Field::Byte(v) => (integral(f64::from(*v)), false),
        Field::Short(v) => (integral(f64::from(*v)), false),
        Field::Int(v) => (integral(f64::from(*v)), false),
        Field::Long(v) => (integral(*v as f64), false),
        Field::UByte(v) => (integral(f64::from(*v)), false),
        Field::UShort(v) => (integral(f64::from(*v)), false),
        Field::UInt(v) => (integral(f64::from(*v)), false),
        Field::ULong(v) => (integral(*v as f64), false),
        Field::Float(v) => (fractional(f64::from(*v)), false),
        Field::Double(v) => (fractional(*v), false),
        Field::Str(s) => (Value::from_text(s), true),
        Field::Decimal(_) => {
            // Decimals are Fractional, from their exact text.
            let text = field.to_string();
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => {
                    (Value::Number { value: x, integral: false, text: std::borrow::Cow::Owned(text) }, true)
                }
                _ => (Value::NonFinite, true),
            }
        }
        // Dates, timestamps, binary, nested types: profiled as their display text.
        other => (Value::Text(std::borrow::Cow::Owned(other.to_string())), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_jsonl_and_parquet_alike() {
        use arrow::array::{Float64Array, Int64Array, StringArray};
        use arrow::record_batch::RecordBatch;
        use std::sync::Arc;
        let tmp = tempfile::tempdir().unwrap();
        let n = 300;
        let amounts: Vec<f64> = (0..n).map(|i| f64::from(i) * 1.5).collect();
        let counts: Vec<i64> = (0..n).map(|i| i64::from(i % 7)).collect();
        let states: Vec<&str> = (0..n).map(|i| ["CA", "NY", "TX"][(i % 3) as usize]).collect();
        let mut jsonl = String::new();
        for i in 0..n as usize {
            jsonl.push_str(&format!(
                "{{\"amount\": {:?}, \"count\": {}, \"state\": \"{}\"}}\n",
                amounts[i], counts[i], states[i]
            ));
        }
        std::fs::write(tmp.path().join("t.jsonl"), jsonl).unwrap();
        let batch = RecordBatch::try_from_iter(vec![
            ("amount", Arc::new(Float64Array::from(amounts)) as _),
            ("count", Arc::new(Int64Array::from(counts)) as _),
            ("state", Arc::new(StringArray::from(states)) as _),
        ])
        .unwrap();
        let file = std::fs::File::create(tmp.path().join("t.parquet")).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let a = build(&tmp.path().join("t.jsonl"), InputFormat::Jsonl, true).unwrap();
        let b = build(&tmp.path().join("t.parquet"), InputFormat::Parquet, true).unwrap();
        assert_eq!(a.statistics, b.statistics);
        assert_eq!(a.constraints, b.constraints);
        let f = &a.statistics.features;
        assert_eq!(
            (f[0].inferred_type.as_str(), f[1].inferred_type.as_str(), f[2].inferred_type.as_str()),
            ("Fractional", "Integral", "String")
        );
        let state = f[2].string_statistics.as_ref().unwrap();
        assert_eq!(state.distinct_count, 3.0);
        assert_eq!(state.distribution.as_ref().unwrap().categorical.as_ref().unwrap().buckets.len(), 3);
        let domains = a.constraints.features[2].string_constraints.as_ref().unwrap().domains.clone().unwrap();
        assert_eq!(domains, vec!["CA", "NY", "TX"]);
        // The built files load back as a baseline.
        crate::baseline::build::write_dir(&a, &tmp.path().join("out")).unwrap();
        let loaded = crate::baseline::Baseline::load_dir(&tmp.path().join("out")).unwrap();
        assert_eq!(loaded.features.len(), 3);
        assert_eq!(loaded.features[0].numeric.as_ref().unwrap().cdf.total(), 300.0);
    }
}
