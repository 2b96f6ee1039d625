//! Model Monitor's model-quality files: `statistics.json` (a section per problem type, each
//! metric `{"value", "standard_deviation"}`, the confusion matrix and curves),
//! `constraints.json` (each metric `{"threshold", "comparison_operator"}`) and
//! `constraint_violations.json` (`{"violations": [{"metric_name", "constraint_check_type",
//! "description"}]}`).
//!
//! Reading is as tolerant as our data-quality reader: numbers may be written as the strings
//! `"NaN"`, `"Infinity"` and `"-Infinity"` (Model Monitor writes `"NaN"` for a standard
//! deviation it did not compute), unknown keys are ignored. Writing uses Model Monitor's key
//! order and writes a non-finite number as such a string.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value as Json;

use super::metrics::{Computed, PrCurve, RocCurve};
use super::{ProblemType, QualityError};

/// The version Model Monitor writes.
const FILE_VERSION: f64 = 0.0;

/// A number as Model Monitor writes it: finite numbers as numbers, others as strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() {
            s.serialize_f64(x)
        } else if x.is_nan() {
            s.serialize_str("NaN")
        } else if x > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }
}

fn number_of(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.trim() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        Json::Null => Some(f64::NAN),
        _ => None,
    }
}

/// One entry of a metrics section.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricEntry {
    /// A scalar metric.
    Scalar {
        /// The value.
        value: f64,
        /// Its standard deviation (NaN when not computed).
        standard_deviation: f64,
    },
    /// The confusion matrix: actual label -> predicted label -> count.
    Confusion(BTreeMap<String, BTreeMap<String, u64>>),
    /// The ROC curve.
    Roc(RocCurve),
    /// The precision-recall curve.
    Pr(PrCurve),
}

const CONFUSION: &str = "confusion_matrix";
const ROC: &str = "receiver_operating_characteristic_curve";
const PR: &str = "precision_recall_curve";

/// A model-quality `statistics.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityStatistics {
    /// The problem type (which section the metrics are in).
    pub problem: ProblemType,
    /// Rows the metrics were computed on (`dataset.item_count`).
    pub item_count: u64,
    /// The metrics in file order.
    pub metrics: Vec<(String, MetricEntry)>,
}

impl QualityStatistics {
    /// The file of one computation: the matrix first, then the scalars in Model Monitor's
    /// order with the curves after the four rates, as its documented example lists them.
    pub fn from_computed(problem: ProblemType, item_count: u64, c: &Computed, sd: &[(&str, f64)]) -> Self {
        let mut metrics = Vec::new();
        if let Some(m) = &c.confusion {
            metrics.push((CONFUSION.to_owned(), MetricEntry::Confusion(m.clone())));
        }
        for (name, value) in &c.scalars {
            if *name == "auc" {
                if let Some(roc) = &c.roc {
                    metrics.push((ROC.to_owned(), MetricEntry::Roc(roc.clone())));
                }
                if let Some(pr) = &c.pr {
                    metrics.push((PR.to_owned(), MetricEntry::Pr(pr.clone())));
                }
            }
            let standard_deviation = sd.iter().find(|(n, _)| n == name).map(|(_, s)| *s).unwrap_or(f64::NAN);
            metrics.push(((*name).to_owned(), MetricEntry::Scalar { value: *value, standard_deviation }));
        }
        QualityStatistics { problem, item_count, metrics }
    }

    /// The scalar metric `name`: (value, standard deviation).
    pub fn scalar(&self, name: &str) -> Option<(f64, f64)> {
        self.metrics.iter().find_map(|(n, e)| match e {
            MetricEntry::Scalar { value, standard_deviation } if n == name => Some((*value, *standard_deviation)),
            _ => None,
        })
    }

    /// Reads a model-quality `statistics.json` (`path` names it in errors).
    pub fn from_json(text: &str, path: &str) -> Result<Self, QualityError> {
        let bad = |detail: String| QualityError::Format { path: path.to_owned(), detail };
        let doc: Json = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let (problem, section) = find_section(&doc, ProblemType::metrics_section)
            .ok_or_else(|| bad("no regression_metrics, binary_classification_metrics or multiclass_classification_metrics section: not a model-quality statistics.json".into()))?;
        let item_count = doc.pointer("/dataset/item_count").and_then(Json::as_f64).unwrap_or(0.0) as u64;
        let mut metrics = Vec::new();
        for (name, v) in section {
            let entry = match name.as_str() {
                CONFUSION => {
                    let m: BTreeMap<String, BTreeMap<String, f64>> = serde_json::from_value(v.clone())
                        .map_err(|e| bad(format!("{}.{CONFUSION}: {e}", problem.metrics_section())))?;
                    MetricEntry::Confusion(
                        m.into_iter()
                            .map(|(a, row)| (a, row.into_iter().map(|(p, n)| (p, n.max(0.0) as u64)).collect()))
                            .collect(),
                    )
                }
                ROC => MetricEntry::Roc(RocCurve {
                    false_positive_rates: numbers(v.get("false_positive_rates")),
                    true_positive_rates: numbers(v.get("true_positive_rates")),
                }),
                PR => MetricEntry::Pr(PrCurve {
                    precisions: numbers(v.get("precisions")),
                    recalls: numbers(v.get("recalls")),
                }),
                _ => {
                    let Some(value) = v.get("value").and_then(number_of) else {
                        continue; // an entry we do not know: ignored, as unknown keys are
                    };
                    let standard_deviation = v.get("standard_deviation").and_then(number_of).unwrap_or(f64::NAN);
                    MetricEntry::Scalar { value, standard_deviation }
                }
            };
            metrics.push((name.clone(), entry));
        }
        // JSON objects are read without their order: put the entries back in Model Monitor's.
        let order = file_order(problem);
        metrics.sort_by_key(|(name, _)| order.iter().position(|n| n == name).unwrap_or(order.len()));
        Ok(QualityStatistics { problem, item_count, metrics })
    }
}

/// The entries of a metrics section in the order Model Monitor writes them.
fn file_order(problem: ProblemType) -> Vec<String> {
    use super::metrics::{compute, LabelledRows};
    let empty = match problem {
        ProblemType::Regression => LabelledRows::Regression(Vec::new()),
        ProblemType::BinaryClassification => LabelledRows::Binary(Vec::new()),
        ProblemType::MulticlassClassification => LabelledRows::Multiclass(Vec::new()),
    };
    QualityStatistics::from_computed(problem, 0, &compute(&empty), &[]).metrics.into_iter().map(|(n, _)| n).collect()
}

fn numbers(v: Option<&Json>) -> Vec<f64> {
    v.and_then(Json::as_array).map(|a| a.iter().filter_map(number_of).collect()).unwrap_or_default()
}

fn find_section(
    doc: &Json,
    section: fn(ProblemType) -> &'static str,
) -> Option<(ProblemType, &serde_json::Map<String, Json>)> {
    [ProblemType::BinaryClassification, ProblemType::MulticlassClassification, ProblemType::Regression]
        .into_iter()
        .find_map(|p| doc.get(section(p)).and_then(Json::as_object).map(|m| (p, m)))
}

struct Scalar(f64, f64);

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("value", &Number(self.0))?;
        m.serialize_entry("standard_deviation", &Number(self.1))?;
        m.end()
    }
}

struct Curve<'a>(&'static str, &'a [f64], &'static str, &'a [f64]);

impl Serialize for Curve<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry(self.0, &self.1.iter().map(|x| Number(*x)).collect::<Vec<_>>())?;
        m.serialize_entry(self.2, &self.3.iter().map(|x| Number(*x)).collect::<Vec<_>>())?;
        m.end()
    }
}

struct Section<'a>(&'a [(String, MetricEntry)]);

impl Serialize for Section<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (name, e) in self.0 {
            match e {
                MetricEntry::Scalar { value, standard_deviation } => {
                    m.serialize_entry(name, &Scalar(*value, *standard_deviation))?
                }
                MetricEntry::Confusion(c) => m.serialize_entry(name, c)?,
                MetricEntry::Roc(r) => m.serialize_entry(
                    name,
                    &Curve(
                        "false_positive_rates",
                        &r.false_positive_rates,
                        "true_positive_rates",
                        &r.true_positive_rates,
                    ),
                )?,
                MetricEntry::Pr(p) => {
                    m.serialize_entry(name, &Curve("precisions", &p.precisions, "recalls", &p.recalls))?
                }
            }
        }
        m.end()
    }
}

#[derive(Serialize)]
struct Dataset {
    item_count: u64,
}

impl Serialize for QualityStatistics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("version", &FILE_VERSION)?;
        m.serialize_entry("dataset", &Dataset { item_count: self.item_count })?;
        m.serialize_entry(self.problem.metrics_section(), &Section(&self.metrics))?;
        m.end()
    }
}

/// How a window's metric is compared with its threshold; the name is the violation's
/// `constraint_check_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Operator {
    /// Violated when the value is below the threshold.
    LessThanThreshold,
    /// Violated when the value is above the threshold.
    GreaterThanThreshold,
    /// Violated when the value is at or below the threshold.
    LessThanOrEqualToThreshold,
    /// Violated when the value is at or above the threshold.
    GreaterThanOrEqualToThreshold,
}

impl Operator {
    /// The name in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::LessThanThreshold => "LessThanThreshold",
            Operator::GreaterThanThreshold => "GreaterThanThreshold",
            Operator::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
            Operator::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
        }
    }

    /// Whether `value` violates `threshold` (never for a NaN value).
    pub fn violated(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::LessThanThreshold => value < threshold,
            Operator::GreaterThanThreshold => value > threshold,
            Operator::LessThanOrEqualToThreshold => value <= threshold,
            Operator::GreaterThanOrEqualToThreshold => value >= threshold,
        }
    }

    /// Whether a larger value of the metric is better (the operator guards a floor).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Operator::LessThanThreshold | Operator::LessThanOrEqualToThreshold)
    }
}

/// One constraint of `constraints.json`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
pub struct Constraint {
    /// The threshold.
    pub threshold: f64,
    /// The operator.
    pub comparison_operator: Operator,
}

/// A model-quality `constraints.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityConstraints {
    /// The problem type.
    pub problem: ProblemType,
    /// Constraints by metric, in file order.
    pub constraints: Vec<(String, Constraint)>,
}

impl QualityConstraints {
    /// The constraints Model Monitor suggests: each suggested metric's baseline value as its
    /// threshold (metrics whose value is not a number are left out).
    pub fn suggest(stats: &QualityStatistics) -> Self {
        let constraints = stats
            .problem
            .suggested_constraints()
            .iter()
            .filter_map(|(name, op)| {
                let (value, _) = stats.scalar(name)?;
                value
                    .is_finite()
                    .then(|| ((*name).to_owned(), Constraint { threshold: value, comparison_operator: *op }))
            })
            .collect();
        QualityConstraints { problem: stats.problem, constraints }
    }

    /// Reads a model-quality `constraints.json` (`path` names it in errors).
    pub fn from_json(text: &str, path: &str) -> Result<Self, QualityError> {
        let bad = |detail: String| QualityError::Format { path: path.to_owned(), detail };
        let doc: Json = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let (problem, section) = find_section(&doc, ProblemType::constraints_section).ok_or_else(|| {
            bad("no regression_constraints, binary_classification_constraints or multiclass_classification_constraints section: not a model-quality constraints.json".into())
        })?;
        let mut constraints = Vec::new();
        for (name, v) in section {
            let threshold = v
                .get("threshold")
                .and_then(number_of)
                .ok_or_else(|| bad(format!("{}.{name}: no threshold", problem.constraints_section())))?;
            let comparison_operator: Operator = v
                .get("comparison_operator")
                .cloned()
                .ok_or_else(|| bad(format!("{}.{name}: no comparison_operator", problem.constraints_section())))
                .and_then(|o| {
                    serde_json::from_value(o)
                        .map_err(|e| bad(format!("{}.{name}.comparison_operator: {e}", problem.constraints_section())))
                })?;
            constraints.push((name.clone(), Constraint { threshold, comparison_operator }));
        }
        let order = file_order(problem);
        constraints.sort_by_key(|(name, _)| order.iter().position(|n| n == name).unwrap_or(order.len()));
        Ok(QualityConstraints { problem, constraints })
    }

    /// The violations of `stats` by Model Monitor's rule: every constrained metric whose value
    /// is on the wrong side of its threshold (a metric the window lacks, or NaN, is not judged).
    pub fn check(&self, stats: &QualityStatistics) -> Vec<QualityViolation> {
        self.constraints
            .iter()
            .filter_map(|(name, c)| {
                let (value, sd) = stats.scalar(name)?;
                (value.is_finite() && c.comparison_operator.violated(value, c.threshold)).then(|| QualityViolation {
                    metric_name: name.clone(),
                    constraint_check_type: c.comparison_operator.as_str().to_owned(),
                    description: format!(
                        "Metric {} with {} +/- {} was {} '{}'",
                        camel_case(name),
                        significant(value, 4),
                        significant(sd, 3),
                        c.comparison_operator.as_str(),
                        significant(c.threshold, 4)
                    ),
                })
            })
            .collect()
    }
}

impl Serialize for QualityConstraints {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entries<'a>(&'a [(String, Constraint)]);
        impl Serialize for Entries<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                struct One<'a>(&'a Constraint);
                impl Serialize for One<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut m = s.serialize_map(Some(2))?;
                        m.serialize_entry("threshold", &Number(self.0.threshold))?;
                        m.serialize_entry("comparison_operator", self.0.comparison_operator.as_str())?;
                        m.end()
                    }
                }
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (name, c) in self.0 {
                    m.serialize_entry(name, &One(c))?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("version", &FILE_VERSION)?;
        m.serialize_entry(self.problem.constraints_section(), &Entries(&self.constraints))?;
        m.end()
    }
}

/// One model-quality violation, as Model Monitor writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QualityViolation {
    /// The metric (`auc`, `f1`, ...).
    pub metric_name: String,
    /// The operator that was violated.
    pub constraint_check_type: String,
    /// `Metric <camelCase name> with <value> +/- <sd> was <operator> '<threshold>'`.
    pub description: String,
}

/// The metric's name as Model Monitor's descriptions write it: `true_positive_rate` ->
/// `truePositiveRate` (an underscore before a digit stays: `f0_5`).
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut parts = name.split('_');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for p in parts {
        let mut chars = p.chars();
        match chars.next() {
            Some(c) if c.is_ascii_digit() => {
                out.push('_');
                out.push_str(p);
            }
            Some(c) => {
                out.push(c.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
            None => {}
        }
    }
    out
}

/// `x` with `digits` significant digits, trailing zeros dropped; `NaN` for NaN.
pub fn significant(x: f64, digits: i32) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A `constraint_violations.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QualityViolations {
    /// The violations.
    pub violations: Vec<QualityViolation>,
}
