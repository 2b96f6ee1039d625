//! Model Monitor baselines: `statistics.json` + `constraints.json`, read into one validated
//! [`Baseline`], and written by `driftwatch baseline` ([`build`]).
//!
//! Reading a baseline needs no sketch library: the KLL `sketch.data` levels are flattened into a
//! weighted CDF (level `i` weighs `2^i`), which is all the distances need.

pub mod build;
pub mod files;
mod stats_writer;

use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};

pub use self::files::{ConstraintsFile, StatisticsFile, Violation, ViolationsFile};
use self::files::{FeatureConstraints, FeatureStatistics, KllBucket, MonitoringConfigFile};
pub use self::stats_writer::{feature_statistics, statistics_file};
use crate::profile::{InferredType, WeightedCdf};

/// File name of the statistics inside a baseline folder.
pub const STATISTICS_FILE: &str = "statistics.json";
/// File name of the constraints inside a baseline folder.
pub const CONSTRAINTS_FILE: &str = "constraints.json";

/// The suffix of a derived feature that watches a free-text field by the length of its values
/// (`inputs.length` for the prompts of a text-generation endpoint). Free text has too many
/// distinct values for Model Monitor's categorical distribution, so the field alone is only
/// checked for completeness and type; its length in characters is a number whose distribution
/// moves when prompts change (another language, a template that changed, truncation upstream).
/// `driftwatch baseline` adds one for each such field (see [`build`]); a capture row's field
/// `X` feeds the baseline feature `X.length` when there is one.
pub const TEXT_LENGTH_SUFFIX: &str = ".length";

/// The value a `.length` feature profiles for a field's value: its length in characters, an
/// Integral number (a number or a boolean by the characters it was written with); missing for
/// a missing value.
pub fn text_length(v: &crate::payload::Value<'_>) -> crate::payload::Value<'static> {
    use crate::payload::Value;
    let chars = match v {
        Value::Missing | Value::NonFinite => return Value::Missing,
        Value::Text(t) => t.chars().count(),
        Value::Number { text, .. } => text.chars().count(),
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
    };
    // The text is only read when numbers are counted as categories, which a length is not.
    Value::Number { value: chars as f64, integral: true, text: std::borrow::Cow::Borrowed("") }
}

/// Why a baseline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The folder or one of its two files is missing.
    #[error("{path}: not found (a baseline folder holds statistics.json and constraints.json)")]
    Missing {
        /// The missing path.
        path: String,
    },
    /// The file exists but cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{path}: line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// A feature entry is inconsistent.
    #[error("{path}: feature {feature:?}: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// The feature.
        feature: String,
        /// What is wrong.
        detail: String,
    },
    /// The statistics list no features.
    #[error("{path}: no features (only data-quality baselines are supported, not model-quality ones)")]
    NoFeatures {
        /// The file.
        path: String,
    },
}

/// How the numeric `baseline_drift_check` distance is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ComparisonMethod {
    /// `linf_simple`: the largest CDF difference.
    Simple,
    /// `linf_robust`: `linf_simple` minus Deequ's small-sample correction.
    Robust,
}

/// How the categorical `baseline_drift_check` distance is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CategoricalMethod {
    /// The largest difference of category frequencies.
    LInfinity,
    /// Chi-square goodness of fit; a violation when the p-value is below the threshold.
    ChiSquared,
}

/// The monitoring settings of a baseline, defaults filled in, per-feature overrides applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MonitoringConfig {
    /// Whether constraint checks run.
    pub evaluate_constraints: bool,
    /// Whether metrics are emitted.
    pub emit_metrics: bool,
    /// Minimum share of values of the expected type.
    pub datatype_check_threshold: f64,
    /// Minimum share of string values inside the known domain.
    pub domain_content_threshold: f64,
    /// Whether `baseline_drift_check` runs.
    pub perform_comparison: bool,
    /// Numeric threshold.
    pub comparison_threshold: f64,
    /// Numeric method.
    pub comparison_method: ComparisonMethod,
    /// Categorical threshold.
    pub categorical_comparison_threshold: f64,
    /// Categorical method.
    pub categorical_drift_method: CategoricalMethod,
}

impl Default for MonitoringConfig {
    /// The documented defaults (0.1 thresholds, Robust, LInfinity, everything enabled).
    fn default() -> Self {
        MonitoringConfig {
            evaluate_constraints: true,
            emit_metrics: true,
            datatype_check_threshold: 0.1,
            domain_content_threshold: 0.1,
            perform_comparison: true,
            comparison_threshold: 0.1,
            comparison_method: ComparisonMethod::Robust,
            categorical_comparison_threshold: 0.1,
            categorical_drift_method: CategoricalMethod::LInfinity,
        }
    }
}

impl MonitoringConfig {
    /// Applies a `monitoring_config` (or per-feature override) on top of `self`.
    fn apply(&mut self, file: &MonitoringConfigFile, path: &str, feature: &str) -> Result<(), BaselineError> {
        let invalid =
            |detail: String| BaselineError::Invalid { path: path.to_owned(), feature: feature.to_owned(), detail };
        if let Some(v) = &file.evaluate_constraints {
            self.evaluate_constraints =
                enabled(v).ok_or_else(|| invalid(format!("evaluate_constraints {v:?}: use Enabled or Disabled")))?;
        }
        if let Some(v) = &file.emit_metrics {
            self.emit_metrics =
                enabled(v).ok_or_else(|| invalid(format!("emit_metrics {v:?}: use Enabled or Disabled")))?;
        }
        if let Some(v) = file.datatype_check_threshold {
            self.datatype_check_threshold = v;
        }
        if let Some(v) = file.domain_content_threshold {
            self.domain_content_threshold = v;
        }
        if let Some(d) = &file.distribution_constraints {
            if let Some(v) = d.enable_comparisons {
                self.perform_comparison = v;
            }
            if let Some(v) = &d.perform_comparison {
                self.perform_comparison =
                    enabled(v).ok_or_else(|| invalid(format!("perform_comparison {v:?}: use Enabled or Disabled")))?;
            }
            if let Some(v) = d.comparison_threshold {
                self.comparison_threshold = v;
                if d.categorical_comparison_threshold.is_none() {
                    self.categorical_comparison_threshold = v;
                }
            }
            if let Some(v) = d.categorical_comparison_threshold {
                self.categorical_comparison_threshold = v;
            }
            if let Some(v) = &d.comparison_method {
                self.comparison_method = match v.as_str() {
                    "Simple" | "linf_simple" => ComparisonMethod::Simple,
                    "Robust" | "linf_robust" => ComparisonMethod::Robust,
                    other => return Err(invalid(format!("comparison_method {other:?}: use Simple or Robust"))),
                };
            }
            if let Some(v) = &d.categorical_drift_method {
                self.categorical_drift_method = match v.as_str() {
                    "LInfinity" => CategoricalMethod::LInfinity,
                    "ChiSquared" => CategoricalMethod::ChiSquared,
                    other => {
                        return Err(invalid(format!("categorical_drift_method {other:?}: use LInfinity or ChiSquared")))
                    }
                };
            }
        }
        for (name, v) in [
            ("datatype_check_threshold", self.datatype_check_threshold),
            ("domain_content_threshold", self.domain_content_threshold),
            ("comparison_threshold", self.comparison_threshold),
            ("categorical_comparison_threshold", self.categorical_comparison_threshold),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(invalid(format!("{name} {v}: must be a number >= 0")));
            }
        }
        Ok(())
    }
}

fn enabled(v: &str) -> Option<bool> {
    match v {
        "Enabled" | "enabled" | "true" => Some(true),
        "Disabled" | "disabled" | "false" => Some(false),
        _ => None,
    }
}

/// A baseline feature's numeric distribution.
#[derive(Debug, Clone)]
pub struct NumericBaseline {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std_dev: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// CDF of the KLL sketch (or, without a sketch, of the buckets' midpoints).
    pub cdf: WeightedCdf,
    /// Whether `cdf` comes from the sketch (exact for Model Monitor's distances).
    pub from_sketch: bool,
    /// PSI/JS bin edges (the baseline deciles).
    pub edges: Vec<f64>,
    /// Baseline weight in each bin.
    pub bins: Vec<f64>,
    /// `integral sqrt(F (1 - F)) dx` (Wasserstein noise scale).
    pub process_scale: f64,
    /// Median of the baseline.
    pub median: f64,
}

/// A baseline feature's category frequencies.
#[derive(Debug, Clone)]
pub struct CategoricalBaseline {
    /// Values and counts, in file order.
    pub counts: Vec<(String, f64)>,
    /// Position of each value in `counts`.
    pub index: FxHashMap<String, usize>,
    /// Sum of counts.
    pub total: f64,
}

/// One column of the baseline, with its constraints.
#[derive(Debug, Clone)]
pub struct BaselineFeature {
    /// Column name.
    pub name: String,
    /// Type the `data_type_check` expects (constraints first, statistics otherwise).
    pub expected_type: InferredType,
    /// Type in `statistics.json`.
    pub stats_type: InferredType,
    /// Non-null values in the baseline data.
    pub num_present: f64,
    /// Null values in the baseline data.
    pub num_missing: f64,
    /// Numeric distribution, when the statistics have one.
    pub numeric: Option<NumericBaseline>,
    /// Categorical distribution, when the statistics have one.
    pub categorical: Option<CategoricalBaseline>,
    /// Minimum completeness (constraints).
    pub completeness: Option<f64>,
    /// Whether values must be `>= 0` (constraints).
    pub is_non_negative: Option<bool>,
    /// Known values (constraints).
    pub domains: Option<FxHashSet<String>>,
    /// Settings for this feature, overrides applied.
    pub config: MonitoringConfig,
}

impl BaselineFeature {
    /// Returns whether the window profile should also count numbers as categories.
    pub fn is_categorical(&self) -> bool {
        matches!(self.expected_type, InferredType::String | InferredType::Boolean)
            || matches!(self.stats_type, InferredType::String | InferredType::Boolean)
    }
}

/// A validated baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Where it was read from (a folder or an S3 prefix).
    pub source: String,
    /// Rows in the baseline data.
    pub item_count: Option<f64>,
    /// Columns, in position order.
    pub features: Vec<BaselineFeature>,
    /// Dataset-wide settings.
    pub config: MonitoringConfig,
    /// Features `constraints.json` names but `statistics.json` does not have: not columns, not
    /// checked (the drivers say so when they load the baseline).
    pub unmatched_constraints: Vec<String>,
}

impl Baseline {
    /// The baseline of a stream without a data-quality monitor: no features, so nothing is
    /// profiled or checked; the capture is read only for what other monitors take from it (the
    /// predictions of a model-quality monitor). `source` says why, for messages.
    pub fn without_features(source: impl Into<String>) -> Baseline {
        Baseline {
            source: source.into(),
            item_count: None,
            features: Vec::new(),
            config: MonitoringConfig::default(),
            unmatched_constraints: Vec::new(),
        }
    }

    /// Whether the stream has a data-quality monitor (the baseline has features).
    pub fn monitors_data(&self) -> bool {
        !self.features.is_empty()
    }

    /// Loads `statistics.json` and `constraints.json` from a folder.
    pub fn load_dir(dir: &Path) -> Result<Baseline, BaselineError> {
        let meta = std::fs::metadata(dir).map_err(|_| BaselineError::Missing { path: dir.display().to_string() })?;
        if !meta.is_dir() {
            return Err(BaselineError::Invalid {
                path: dir.display().to_string(),
                feature: String::new(),
                detail: "not a folder (pass the folder that holds statistics.json and constraints.json)".into(),
            });
        }
        // Parsed as they are read: a wide baseline's statistics.json (88 MB for 1,000 features
        // with their KLL sketches) is never held as text beside its parsed form.
        let open = |name: &str| -> Result<(PathBuf, std::io::BufReader<std::fs::File>), BaselineError> {
            let p = dir.join(name);
            match std::fs::File::open(&p) {
                Ok(f) => Ok((p, std::io::BufReader::with_capacity(1 << 20, f))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(BaselineError::Missing { path: p.display().to_string() })
                }
                Err(e) => Err(BaselineError::Io { path: p.display().to_string(), source: e }),
            }
        };
        let (sp, stats) = open(STATISTICS_FILE)?;
        let (cp, constraints) = open(CONSTRAINTS_FILE)?;
        let (sp, cp) = (sp.display().to_string(), cp.display().to_string());
        let stats: StatisticsFile = parse_json_reader(stats, &sp)?;
        let cons: ConstraintsFile = parse_json_reader(constraints, &cp)?;
        Baseline::from_files(stats, &sp, cons, &cp, &dir.display().to_string())
    }

    /// Builds a baseline from the two files' text; paths are used in error messages.
    pub fn from_json(
        statistics: &str,
        statistics_path: &str,
        constraints: &str,
        constraints_path: &str,
        source: &str,
    ) -> Result<Baseline, BaselineError> {
        let stats: StatisticsFile = parse_json(statistics, statistics_path)?;
        let cons: ConstraintsFile = parse_json(constraints, constraints_path)?;
        Baseline::from_files(stats, statistics_path, cons, constraints_path, source)
    }

    /// Validates parsed files into a baseline.
    pub fn from_files(
        stats: StatisticsFile,
        statistics_path: &str,
        cons: ConstraintsFile,
        constraints_path: &str,
        source: &str,
    ) -> Result<Baseline, BaselineError> {
        if stats.features.is_empty() {
            return Err(BaselineError::NoFeatures { path: statistics_path.to_owned() });
        }
        let mut config = MonitoringConfig::default();
        if let Some(mc) = &cons.monitoring_config {
            config.apply(mc, constraints_path, "monitoring_config")?;
        }
        let mut by_name: FxHashMap<&str, &FeatureConstraints> = FxHashMap::default();
        for c in &cons.features {
            by_name.insert(c.name.as_str(), c);
        }
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let mut features = Vec::with_capacity(stats.features.len());
        for fs in &stats.features {
            if !seen.insert(fs.name.as_str()) {
                return Err(BaselineError::Invalid {
                    path: statistics_path.to_owned(),
                    feature: fs.name.clone(),
                    detail: "listed twice".into(),
                });
            }
            let constraints = by_name.get(fs.name.as_str()).copied();
            features.push(build_feature(fs, constraints, &config, statistics_path, constraints_path)?);
        }
        // A constraint for a feature the statistics do not have (the SDK's own test files have
        // one; hand edits and mixed baselines make more): the columns are the statistics'
        // features. Taken as one more column, it would make every captured row one column
        // short and nothing would be monitored; it is set aside and named instead.
        let unmatched_constraints: Vec<String> =
            cons.features.iter().filter(|c| !seen.contains(c.name.as_str())).map(|c| c.name.clone()).collect();
        Ok(Baseline {
            source: source.to_owned(),
            item_count: stats.dataset.map(|d| d.item_count.0),
            features,
            config,
            unmatched_constraints,
        })
    }

    /// Returns the position of a feature by name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, path: &str) -> Result<T, BaselineError> {
    serde_json::from_str(text).map_err(|e| parse_error(&e, path))
}

/// [`parse_json`] from a reader (a read error is an I/O error naming the file).
fn parse_json_reader<T: serde::de::DeserializeOwned>(r: impl std::io::Read, path: &str) -> Result<T, BaselineError> {
    serde_json::from_reader(r).map_err(|e| match e.classify() {
        serde_json::error::Category::Io => BaselineError::Io { path: path.to_owned(), source: e.into() },
        _ => parse_error(&e, path),
    })
}

fn parse_error(e: &serde_json::Error, path: &str) -> BaselineError {
    BaselineError::Parse {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or("").to_owned(),
    }
}

fn build_feature(
    fs: &FeatureStatistics,
    cons: Option<&FeatureConstraints>,
    global: &MonitoringConfig,
    statistics_path: &str,
    constraints_path: &str,
) -> Result<BaselineFeature, BaselineError> {
    let stats_type = InferredType::parse(&fs.inferred_type);
    let expected_type = cons.and_then(|c| c.inferred_type.as_deref()).map(InferredType::parse).unwrap_or(stats_type);
    let mut config = global.clone();
    if let Some(c) = cons {
        for o in [c.overrides.as_ref(), c.string_constraints.as_ref().and_then(|s| s.overrides.as_ref())]
            .into_iter()
            .flatten()
        {
            config.apply(o, constraints_path, &fs.name)?;
        }
    }
    let (mut num_present, mut num_missing) = (0.0, 0.0);
    let mut numeric = None;
    if let Some(ns) = &fs.numerical_statistics {
        num_present = ns.common.num_present.0;
        num_missing = ns.common.num_missing.0;
        let kll = ns.distribution.as_ref().and_then(|d| d.kll.as_ref());
        let sketch = kll.and_then(|k| k.sketch.as_ref()).filter(|s| !s.data.is_empty());
        let (cdf, from_sketch) = match (sketch, kll) {
            (Some(s), _) => {
                let in_range = s.parameters.k > 0.0 && s.parameters.c > 0.0 && s.parameters.c <= 1.0;
                if !in_range {
                    return Err(BaselineError::Invalid {
                        path: statistics_path.to_owned(),
                        feature: fs.name.clone(),
                        detail: format!(
                            "kll sketch parameters c={} k={} are out of range",
                            s.parameters.c, s.parameters.k
                        ),
                    });
                }
                (WeightedCdf::from_levels(s.data.iter().map(Vec::as_slice)), true)
            }
            (None, Some(k)) if !k.buckets.is_empty() => (cdf_from_buckets(&k.buckets), false),
            _ => (WeightedCdf::default(), false),
        };
        if !cdf.is_empty() {
            let edges = cdf.decile_edges();
            numeric = Some(NumericBaseline {
                mean: ns.mean,
                std_dev: ns.std_dev,
                min: ns.min,
                max: ns.max,
                bins: cdf.bin_weights(&edges),
                edges,
                process_scale: cdf.process_scale(),
                median: cdf.quantile(0.5).unwrap_or(f64::NAN),
                cdf,
                from_sketch,
            });
        }
    }
    let mut categorical = None;
    if let Some(ss) = &fs.string_statistics {
        num_present = ss.common.num_present.0;
        num_missing = ss.common.num_missing.0;
        if let Some(buckets) = ss.distribution.as_ref().and_then(|d| d.categorical.as_ref()).map(|c| &c.buckets) {
            let mut counts: Vec<(String, f64)> = Vec::with_capacity(buckets.len());
            let mut index = FxHashMap::default();
            for b in buckets {
                if !b.count.is_finite() || b.count < 0.0 {
                    continue;
                }
                match index.get(&b.value) {
                    Some(&i) => {
                        let entry: &mut (String, f64) = &mut counts[i];
                        entry.1 += b.count;
                    }
                    None => {
                        index.insert(b.value.clone(), counts.len());
                        counts.push((b.value.clone(), b.count));
                    }
                }
            }
            let total: f64 = counts.iter().map(|c| c.1).sum();
            if total > 0.0 {
                categorical = Some(CategoricalBaseline { counts, index, total });
            }
        }
    }
    let domains = cons
        .and_then(|c| c.string_constraints.as_ref())
        .and_then(|s| s.domains.as_ref())
        .map(|d| d.iter().cloned().collect::<FxHashSet<_>>());
    Ok(BaselineFeature {
        name: fs.name.clone(),
        expected_type,
        stats_type,
        num_present,
        num_missing,
        numeric,
        categorical,
        completeness: cons.and_then(|c| c.completeness),
        is_non_negative: cons.and_then(|c| c.num_constraints.as_ref()).and_then(|n| n.is_non_negative),
        domains,
        config,
    })
}

/// Without a sketch, each bucket's count sits at its midpoint: an approximation of the CDF.
fn cdf_from_buckets(buckets: &[KllBucket]) -> WeightedCdf {
    WeightedCdf::from_points(buckets.iter().map(|b| ((b.lower_bound + b.upper_bound) / 2.0, b.count)).collect())
}

#[cfg(test)]
mod tests;
