//! Training data for `driftwatch baseline`: the input formats, and Parquet read through arrow
//! into the core's [`ColumnProfiles`] (the core reads CSV and JSON Lines itself and never
//! depends on arrow).
//!
//! Parquet columns are typed by schema: integers Integral, floats and decimals Fractional,
//! strings typed by content as Deequ does for string columns; other types (dates, timestamps,
//! nested) are profiled as their display text.

use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};

use crate::baseline::build::{self as core_build, open, BuildError, BuiltBaseline, ColumnProfiles, TextFormat};
use crate::payload::Value;
use crate::profile::FeatureProfile;

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
            profile_parquet(path, &display)?.finish(&display)
        }
    }
}

fn profile_parquet(path: &Path, display: &str) -> Result<ColumnProfiles, BuildError> {
    let perr = |e: &dyn std::fmt::Display| BuildError::Columnar {
        path: display.to_owned(),
        format: PARQUET,
        detail: e.to_string(),
    };
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open(path, display)?)
        .map_err(|e| perr(&e))?;
    let schema = builder.schema().clone();
    let mut cols = ColumnProfiles::new();
    for f in schema.fields() {
        cols.add_column(f.name().clone(), display)?;
    }
    let reader = builder.with_batch_size(8192).build().map_err(|e| perr(&e))?;
    for batch in reader {
        let batch = batch.map_err(|e| perr(&e))?;
        for (ci, col) in batch.columns().iter().enumerate() {
            observe_arrow(col.as_ref(), cols.profile_mut(ci), display)?;
        }
        cols.add_rows(batch.num_rows() as u64);
    }
    Ok(cols)
}

fn observe_arrow(col: &dyn Array, p: &mut FeatureProfile, display: &str) -> Result<(), BuildError> {
    macro_rules! numbers {
        ($t:ty, $integral:expr) => {{
            let a = col.as_primitive::<$t>();
            for i in 0..a.len() {
                if a.is_null(i) {
                    p.observe(&Value::Missing, false);
                } else {
                    let v = a.value(i) as f64;
                    let value = if v.is_finite() {
                        Value::Number { value: v, integral: $integral, text: std::borrow::Cow::Borrowed("") }
                    } else {
                        Value::NonFinite
                    };
                    p.observe(&value, false);
                }
            }
        }};
    }
    match col.data_type() {
        DataType::Int8 => numbers!(Int8Type, true),
        DataType::Int16 => numbers!(Int16Type, true),
        DataType::Int32 => numbers!(Int32Type, true),
        DataType::Int64 => numbers!(Int64Type, true),
        DataType::UInt8 => numbers!(UInt8Type, true),
        DataType::UInt16 => numbers!(UInt16Type, true),
        DataType::UInt32 => numbers!(UInt32Type, true),
        DataType::UInt64 => numbers!(UInt64Type, true),
        DataType::Float32 => numbers!(Float32Type, false),
        DataType::Float64 => numbers!(Float64Type, false),
        DataType::Boolean => {
            let a = col.as_boolean();
            for i in 0..a.len() {
                let v = if a.is_null(i) { Value::Missing } else { Value::Bool(a.value(i)) };
                p.observe(&v, false);
            }
        }
        DataType::Utf8 => {
            let a = col.as_string::<i32>();
            for i in 0..a.len() {
                let v = if a.is_null(i) { Value::Missing } else { Value::from_text(a.value(i)) };
                p.observe(&v, true);
            }
        }
        DataType::LargeUtf8 => {
            let a = col.as_string::<i64>();
            for i in 0..a.len() {
                let v = if a.is_null(i) { Value::Missing } else { Value::from_text(a.value(i)) };
                p.observe(&v, true);
            }
        }
        other => {
            // Dates, decimals, timestamps, nested types: profiled as their display text.
            let fmt = arrow::util::display::ArrayFormatter::try_new(col, &Default::default()).map_err(|e| {
                BuildError::Columnar {
                    path: display.to_owned(),
                    format: PARQUET,
                    detail: format!("column type {other} cannot be profiled: {e}"),
                }
            })?;
            for i in 0..col.len() {
                if col.is_null(i) {
                    p.observe(&Value::Missing, false);
                } else {
                    let text = fmt.value(i).to_string();
                    let v = if matches!(other, DataType::Decimal128(..) | DataType::Decimal256(..)) {
                        match text.parse::<f64>() {
                            Ok(x) if x.is_finite() => {
                                Value::Number { value: x, integral: false, text: text.clone().into() }
                            }
                            _ => Value::NonFinite,
                        }
                    } else {
                        Value::Text(text.into())
                    };
                    p.observe(&v, true);
                }
            }
        }
    }
    Ok(())
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
