//! Model Monitor's `statistics.json`, `constraints.json` and `constraint_violations.json` as serde
//! types, for reading and writing.
//!
//! Real files differ from the documented schema (see `sagemaker-formats.md` §2): numbers are
//! floats (`"count" : 24.0`), the string `"NaN"` stands for a number, key sets vary by container
//! version, high-cardinality strings have no distribution, and per-feature overrides are spelled
//! two ways. Reading is therefore lenient (unknown keys ignored, every number an `f64`, `"NaN"`
//! and `"Infinity"` accepted); writing follows what current containers emit.

use serde::{Deserialize, Serialize};

/// `statistics.json` (data quality).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatisticsFile {
    /// Always 0.
    #[serde(default, with = "lenient")]
    pub version: f64,
    /// Row count of the profiled data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetStatistics>,
    /// One entry per column, in column order.
    #[serde(default)]
    pub features: Vec<FeatureStatistics>,
}

/// `dataset` in `statistics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStatistics {
    /// Number of rows.
    pub item_count: Count,
}

/// One feature in `statistics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatistics {
    /// Column name (`_c0`, `_c1`, ... for headerless data).
    pub name: String,
    /// `Integral`, `Fractional`, `String`, `Boolean` or `Unknown`.
    pub inferred_type: String,
    /// Present for numeric columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical_statistics: Option<NumericalStatistics>,
    /// Present for string columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_statistics: Option<StringStatistics>,
}

/// `common` in a feature's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommonStatistics {
    /// Non-null values.
    pub num_present: Count,
    /// Null values.
    pub num_missing: Count,
}

/// `numerical_statistics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericalStatistics {
    /// Counts.
    pub common: CommonStatistics,
    /// Mean (sum / num_present).
    #[serde(with = "lenient")]
    pub mean: f64,
    /// Sum.
    #[serde(with = "lenient")]
    pub sum: f64,
    /// Population standard deviation.
    #[serde(with = "lenient")]
    pub std_dev: f64,
    /// Minimum.
    #[serde(with = "lenient")]
    pub min: f64,
    /// Maximum.
    #[serde(with = "lenient")]
    pub max: f64,
    /// KLL buckets and sketch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<NumericalDistribution>,
    /// HyperLogLog estimate of distinct values (newer containers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_num_distinct_values: Option<Count>,
    /// num_present / rows (newer containers).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_opt")]
    pub completeness: Option<f64>,
}

/// `distribution` of a numeric feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericalDistribution {
    /// Deequ KLL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kll: Option<KllDistribution>,
}

/// `kll`: ten equal-width buckets plus the sketch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllDistribution {
    /// `[lower, upper)` buckets, the last closed.
    #[serde(default)]
    pub buckets: Vec<KllBucket>,
    /// The compactor levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sketch: Option<KllSketchData>,
}

/// One KLL bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllBucket {
    /// Lower bound.
    #[serde(with = "lenient")]
    pub lower_bound: f64,
    /// Upper bound.
    #[serde(with = "lenient")]
    pub upper_bound: f64,
    /// Weight of items in the bucket.
    #[serde(with = "lenient")]
    pub count: f64,
}

/// `sketch`: Deequ's `QuantileNonSample` compactors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllSketchData {
    /// `c` and `k`.
    pub parameters: KllParameters,
    /// `data[i]`: items of weight `2^i`.
    #[serde(default)]
    pub data: Vec<Vec<f64>>,
}

/// Sketch parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllParameters {
    /// Shrinking factor (0.64).
    #[serde(with = "lenient")]
    pub c: f64,
    /// Sketch size (2048.0).
    #[serde(with = "lenient")]
    pub k: f64,
}

/// `string_statistics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringStatistics {
    /// Counts.
    pub common: CommonStatistics,
    /// Approximate distinct count.
    #[serde(with = "lenient")]
    pub distinct_count: f64,
    /// Categorical buckets; absent for high-cardinality strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<StringDistribution>,
    /// num_present / rows (newer containers).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_opt")]
    pub completeness: Option<f64>,
}

/// `distribution` of a string feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringDistribution {
    /// Value counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical: Option<CategoricalDistribution>,
}

/// `categorical`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalDistribution {
    /// One bucket per value.
    #[serde(default)]
    pub buckets: Vec<CategoricalBucket>,
}

/// One category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalBucket {
    /// The value (numbers and booleans are read as their text).
    #[serde(deserialize_with = "text_like")]
    pub value: String,
    /// How often it occurred.
    #[serde(with = "lenient")]
    pub count: f64,
}

/// `constraints.json` (data quality).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstraintsFile {
    /// Always 0.
    #[serde(default, with = "lenient")]
    pub version: f64,
    /// Per-feature constraints.
    #[serde(default)]
    pub features: Vec<FeatureConstraints>,
    /// Dataset-wide settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_config: Option<MonitoringConfigFile>,
}

/// One feature's constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConstraints {
    /// Column name.
    pub name: String,
    /// Expected type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred_type: Option<String>,
    /// Minimum share of non-null values.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_opt")]
    pub completeness: Option<f64>,
    /// Numeric constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_constraints: Option<NumConstraints>,
    /// String constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_constraints: Option<StringConstraints>,
    /// Per-feature overrides (`monitoringConfigOverrides` in the docs,
    /// `monitoring_config_overrides` in older files).
    #[serde(
        default,
        rename = "monitoringConfigOverrides",
        alias = "monitoring_config_overrides",
        skip_serializing_if = "Option::is_none"
    )]
    pub overrides: Option<MonitoringConfigFile>,
}

/// `num_constraints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumConstraints {
    /// Whether every value must be `>= 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_non_negative: Option<bool>,
}

/// `string_constraints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringConstraints {
    /// Known values, for low-cardinality strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    /// Overrides placed here by some SDK versions.
    #[serde(
        default,
        rename = "monitoring_config_overrides",
        alias = "monitoringConfigOverrides",
        skip_serializing_if = "Option::is_none"
    )]
    pub overrides: Option<MonitoringConfigFile>,
}

/// `monitoring_config` (and per-feature overrides, which use the same keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitoringConfigFile {
    /// `Enabled` / `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_constraints: Option<String>,
    /// `Enabled` / `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit_metrics: Option<String>,
    /// Minimum share of values of the expected type.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_opt")]
    pub datatype_check_threshold: Option<f64>,
    /// Minimum share of string values inside the known domain.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_opt")]
    pub domain_content_threshold: Option<f64>,
    /// Distribution comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_constraints: Option<DistributionConstraintsFile>,
}

/// `distribution_constraints`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionConstraintsFile {
    /// `Enabled` / `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perform_comparison: Option<String>,
    /// Older spelling of `perform_comparison`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_comparisons: Option<bool>,
    /// Numeric threshold on the L-infinity distance.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_opt")]
    pub comparison_threshold: Option<f64>,
    /// `Simple` or `Robust` (`linf_simple` / `linf_robust` accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_method: Option<String>,
    /// Categorical threshold (defaults to `comparison_threshold`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_opt")]
    pub categorical_comparison_threshold: Option<f64>,
    /// `LInfinity` or `ChiSquared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_drift_method: Option<String>,
}

/// `constraint_violations.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViolationsFile {
    /// The violations, in feature order.
    #[serde(default)]
    pub violations: Vec<Violation>,
}

/// One violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Feature (column) name.
    pub feature_name: String,
    /// One of Model Monitor's six check names.
    pub constraint_check_type: String,
    /// Human-readable detail with the observed and expected values.
    pub description: String,
}

/// A count that real files write as an integer or a float; written back as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Count(pub f64);

impl Serialize for Count {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() && self.0 >= 0.0 && self.0.fract() == 0.0 && self.0 < 9.0e15 {
            s.serialize_u64(self.0 as u64)
        } else {
            lenient::serialize(&self.0, s)
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::deserialize(d).map(Count)
    }
}

/// `f64` that also reads `"NaN"`, `"Infinity"`, `"-Infinity"`, numeric strings and `null` (NaN),
/// and writes non-finite values as those strings (JSON has no NaN).
pub mod lenient {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    /// Writes finite values as numbers, others as `"NaN"` / `"Infinity"` / `"-Infinity"`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }

    /// Reads a number, a numeric string or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(LenientF64)
    }

    struct LenientF64;

    impl<'de> Visitor<'de> for LenientF64 {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number or \"NaN\"")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
            Ok(f64::NAN)
        }
        fn visit_none<E: de::Error>(self) -> Result<f64, E> {
            Ok(f64::NAN)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v.trim() {
                "NaN" | "nan" => Ok(f64::NAN),
                "Infinity" | "inf" | "+Infinity" => Ok(f64::INFINITY),
                "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
                t => t.parse().map_err(|_| E::custom(format!("expected a number, found the string {v:?}"))),
            }
        }
    }
}

/// `Option<f64>` with [`lenient`] numbers.
pub mod lenient_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some` leniently (`None` is skipped by the field attribute).
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => super::lenient::serialize(x, s),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional lenient number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super::lenient")] f64);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

fn text_like<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Null => Ok(String::new()),
        other => Ok(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_numbers() {
        #[derive(Deserialize, Serialize)]
        struct T {
            #[serde(with = "lenient")]
            a: f64,
        }
        for (json, check) in [
            (r#"{"a": 1}"#, 1.0),
            (r#"{"a": 2.5}"#, 2.5),
            (r#"{"a": 1.4402689218907343E10}"#, 1.4402689218907343e10),
            (r#"{"a": "3.5"}"#, 3.5),
        ] {
            assert_eq!(serde_json::from_str::<T>(json).unwrap().a, check, "{json}");
        }
        assert!(serde_json::from_str::<T>(r#"{"a": "NaN"}"#).unwrap().a.is_nan());
        assert!(serde_json::from_str::<T>(r#"{"a": null}"#).unwrap().a.is_nan());
        assert!(serde_json::from_str::<T>(r#"{"a": "x"}"#).is_err());
        assert_eq!(serde_json::to_string(&T { a: f64::NAN }).unwrap(), r#"{"a":"NaN"}"#);
    }

    #[test]
    fn counts_write_as_integers() {
        assert_eq!(serde_json::to_string(&Count(24.0)).unwrap(), "24");
        assert_eq!(serde_json::from_str::<Count>("24.0").unwrap(), Count(24.0));
    }
}
