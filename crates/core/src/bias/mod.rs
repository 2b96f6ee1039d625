//! Bias drift: Clarify's post-training bias metrics, from Clarify's analysis config, written and
//! read as Clarify's `analysis.json`.
//!
//! - [`BiasConfig`]: the analysis config (`headers`, `label`, `label_values_or_threshold`,
//!   `facet`, `group_variable`, `probability_threshold`), read as tolerantly as the other Model
//!   Monitor files (unknown keys are Clarify's other settings and are ignored).
//! - [`metrics`]: the metrics that need no model call, from mergeable counts.
//! - [`analysis`]: `analysis.json` in Clarify's layout, and the baseline built from labelled rows.

pub mod analysis;
pub mod decide;
pub mod metrics;
pub mod window;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::payload::Value;
use crate::pipeline::predictions::Attr;

/// Clarify's default probability threshold: a probability above it predicts the favourable
/// label.
pub const DEFAULT_PROBABILITY_THRESHOLD: f64 = 0.5;

/// A column named by name or by index (`name_or_index`, `label`, `group_variable`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// By index (CSV captures have no header).
    Index(usize),
    /// By name.
    Name(String),
}

impl Column {
    /// Its index among `headers` (a name found there, or the index itself).
    pub fn index_in(&self, headers: &[String]) -> Option<usize> {
        match self {
            Column::Index(i) => Some(*i),
            Column::Name(n) => headers.iter().position(|h| h == n),
        }
    }

    /// Its name: the name, or the header at the index, or `_c<i>`.
    pub fn name_in(&self, headers: &[String]) -> String {
        match self {
            Column::Name(n) => n.clone(),
            Column::Index(i) => headers.get(*i).cloned().unwrap_or_else(|| format!("_c{i}")),
        }
    }
}

/// One facet of the config as written.
#[derive(Debug, Clone, Deserialize)]
struct FacetFile {
    name_or_index: Column,
    #[serde(default)]
    value_or_threshold: Option<Vec<Json>>,
}

/// The analysis config as written (Clarify's other keys: `dataset_type`, `methods`,
/// `predictor`, `features`, ... are read past).
#[derive(Debug, Clone, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    headers: Option<Vec<String>>,
    #[serde(default)]
    label: Option<Column>,
    #[serde(default)]
    label_values_or_threshold: Option<Vec<Json>>,
    #[serde(default)]
    facet: Vec<FacetFile>,
    #[serde(default)]
    group_variable: Option<Column>,
    #[serde(default)]
    probability_threshold: Option<f64>,
}

/// Which facet values are measured.
#[derive(Debug, Clone, PartialEq)]
pub enum FacetValues {
    /// Each of these values as one facet *d* (Clarify's `value_or_threshold` list): the metrics
    /// of all of them together.
    Listed(Vec<String>),
    /// Every value seen, each its own facet *d* against the rest.
    Each,
    /// A continuous facet (Clarify's rule, [`is_continuous`]): *d* is every value above the
    /// threshold; `label` is its `value_or_threshold` in the files (Clarify's interval
    /// `(threshold, max]`, the max of the data it was first measured on).
    Threshold {
        /// The threshold.
        threshold: f64,
        /// `value_or_threshold` as written.
        label: String,
    },
}

/// Clarify reads an integer facet column as continuous when at least this share of its values
/// are distinct (smclarify's `series_datatype`: "more than 5% of unique values"); a column with
/// any fractional value is continuous, text is categorical.
pub const CONTINUOUS_UNIQUE_SHARE: f64 = 0.05;

/// Whether a facet column is continuous by Clarify's rule, from its values' texts and counts.
pub fn is_continuous<'a>(values: impl Iterator<Item = (&'a str, u64)>) -> bool {
    let (mut distinct, mut rows, mut fractional) = (0u64, 0u64, false);
    for (v, n) in values {
        let t = v.trim();
        if t.parse::<i64>().is_err() {
            if t.parse::<f64>().is_err() {
                return false;
            }
            fractional = true;
        }
        distinct += 1;
        rows += n;
    }
    rows > 0 && (fractional || distinct as f64 / rows as f64 >= CONTINUOUS_UNIQUE_SHARE)
}

/// Clarify's `value_or_threshold` of a threshold facet: pandas' interval `(threshold, max]`,
/// integers when the column and the threshold are integers, else Python's float text (`100.0`).
pub fn threshold_label(threshold: f64, max: f64, integer_column: bool) -> String {
    let integers = integer_column && threshold.fract() == 0.0 && max.fract() == 0.0;
    if integers {
        format!("({}, {}]", threshold as i64, max as i64)
    } else {
        format!("({threshold:?}, {max:?}]")
    }
}

/// The threshold of an interval label `(threshold, max]`, when `label` is one.
pub fn threshold_of_label(label: &str) -> Option<f64> {
    let inner = label.trim().strip_prefix('(')?.strip_suffix(']')?;
    let (lo, _) = inner.split_once(',')?;
    lo.trim().parse().ok()
}

impl Facet {
    /// The single number of `value_or_threshold`, when the config gives one (a threshold if
    /// the column turns out continuous).
    pub fn single_number(&self) -> Option<f64> {
        match &self.values {
            FacetValues::Listed(v) if v.len() == 1 => v[0].trim().parse::<f64>().ok().filter(|x| x.is_finite()),
            _ => None,
        }
    }

    /// What is measured over a facet's counts: each `(value_or_threshold, the seen values that
    /// are d)`. `also` are values reported even when unseen (a baseline's values that stopped
    /// appearing), for a facet measured value by value.
    pub fn entries<'a>(
        &self,
        seen: impl Iterator<Item = &'a String>,
        also: impl Iterator<Item = &'a str>,
    ) -> Vec<(String, Vec<String>)> {
        match &self.values {
            FacetValues::Listed(values) => {
                let d = seen.filter(|s| values.iter().any(|v| same_value(v, s))).cloned().collect();
                vec![(values.join(","), d)]
            }
            FacetValues::Threshold { threshold, label } => {
                let d = seen.filter(|s| s.trim().parse::<f64>().is_ok_and(|x| x > *threshold)).cloned().collect();
                vec![(label.clone(), d)]
            }
            FacetValues::Each => {
                let mut values: Vec<String> = seen.cloned().collect();
                for v in also {
                    if !values.iter().any(|s| s == v) {
                        values.push(v.to_owned());
                    }
                }
                values.sort();
                values.into_iter().map(|v| (v.clone(), vec![v])).collect()
            }
        }
    }
}

/// One facet: the sensitive attribute and the values measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    /// The column.
    pub column: Column,
    /// Its name in the files (the name, or the header at its index).
    pub name: String,
    /// The values measured.
    pub values: FacetValues,
}

/// A validated analysis config.
#[derive(Debug, Clone, PartialEq)]
pub struct BiasConfig {
    /// Column names (CSV captures have no header, so facets are found by name through these).
    pub headers: Vec<String>,
    /// The label column of the training data, when the config names it.
    pub label: Option<Column>,
    /// The label values that are the favourable outcome (their text).
    pub label_values: Vec<String>,
    /// The facets.
    pub facets: Vec<Facet>,
    /// The group variable (CDDPL), when there is one.
    pub group: Option<Column>,
    /// A probability above it predicts the favourable label.
    pub probability_threshold: f64,
}

/// What is wrong with an analysis config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {detail}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong and how to fix it.
    pub detail: String,
}

/// The text of a JSON scalar as a facet or label value (`1` and `"1"` alike).
fn text_of(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl BiasConfig {
    /// Reads an analysis config (`path` names it in errors).
    pub fn from_json(text: &str, path: &str) -> Result<BiasConfig, ConfigError> {
        let bad = |detail: String| ConfigError { path: path.to_owned(), detail };
        let file: ConfigFile = serde_json::from_str(text).map_err(|e| bad(format!("not an analysis config: {e}")))?;
        if file.facet.is_empty() {
            return Err(bad(
                "no \"facet\": name the sensitive attribute (\"facet\": [{\"name_or_index\": \"...\"}])".into()
            ));
        }
        let headers = file.headers.unwrap_or_default();
        let mut facets = Vec::new();
        for f in file.facet {
            if let (Column::Name(n), false) = (&f.name_or_index, headers.is_empty()) {
                if !headers.contains(n) {
                    return Err(bad(format!("facet {n:?} is not among \"headers\" ({})", headers.join(", "))));
                }
            }
            let values = match f.value_or_threshold {
                Some(list) if !list.is_empty() => FacetValues::Listed(
                    list.iter()
                        .map(|v| text_of(v).ok_or_else(|| bad(format!("facet value {v} is not a string or number"))))
                        .collect::<Result<_, _>>()?,
                ),
                _ => FacetValues::Each,
            };
            facets.push(Facet { name: f.name_or_index.name_in(&headers), column: f.name_or_index, values });
        }
        let label_values = file
            .label_values_or_threshold
            .unwrap_or_else(|| vec![Json::from(1)])
            .iter()
            .map(|v| text_of(v).ok_or_else(|| bad(format!("label value {v} is not a string or number"))))
            .collect::<Result<Vec<_>, _>>()?;
        let probability_threshold = file.probability_threshold.unwrap_or(DEFAULT_PROBABILITY_THRESHOLD);
        if !(0.0..=1.0).contains(&probability_threshold) {
            return Err(bad(format!("probability_threshold {probability_threshold} is not between 0 and 1")));
        }
        Ok(BiasConfig {
            headers,
            label: file.label,
            label_values,
            facets,
            group: file.group_variable,
            probability_threshold,
        })
    }

    /// Whether a label value is the favourable outcome: its text is one of the label values, or
    /// both are numbers and equal.
    pub fn favourable(&self, v: &Value<'_>) -> Option<bool> {
        let text = value_text(v)?;
        Some(self.label_values.iter().any(|l| same_value(l, &text)))
    }

    /// Where each facet, and the group variable, is in a captured request: by name in JSON
    /// objects, else at its position among `headers` without the label (the capture's request
    /// has the features only), or at the index the config gives.
    pub fn request_attrs(&self) -> (Vec<Attr>, Option<Attr>) {
        let label = self.label.as_ref().map(|l| l.name_in(&self.headers));
        let features: Vec<&String> = self.headers.iter().filter(|h| Some(*h) != label.as_ref()).collect();
        let attr = |c: &Column| match c {
            Column::Index(i) => Attr::Index(*i),
            Column::Name(n) => match features.iter().position(|h| *h == n) {
                Some(i) => Attr::NameOrIndex(n.clone(), i),
                None => Attr::Name(n.clone()),
            },
        };
        (self.facets.iter().map(|f| attr(&f.column)).collect(), self.group.as_ref().map(attr))
    }

    /// Whether a probability predicts the favourable label (above the threshold, as Clarify).
    pub fn predicted(&self, probability: f64) -> bool {
        probability > self.probability_threshold
    }
}

/// The text of a present value (`None` when missing).
pub fn value_text(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Missing | Value::NonFinite => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number { text, .. } => Some(text.to_string()),
        Value::Text(t) => Some(t.to_string()),
    }
}

/// Two value texts are the same value: equal text, or equal numbers (`1` and `1.0`).
pub fn same_value(a: &str, b: &str) -> bool {
    a == b || matches!((a.trim().parse::<f64>(), b.trim().parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_clarify_config() {
        let text = r#"{
            "dataset_type": "text/csv",
            "headers": ["label", "age", "employment", "region"],
            "label": "label",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "employment", "value_or_threshold": ["self-employed"]}, {"name_or_index": 3}],
            "group_variable": "region",
            "probability_threshold": 0.6,
            "methods": {"post_training_bias": {"methods": "all"}},
            "predictor": {"model_name": "m", "instance_type": "ml.m5.xlarge", "initial_instance_count": 1}
        }"#;
        let c = BiasConfig::from_json(text, "c.json").unwrap();
        assert_eq!(c.facets[0].name, "employment");
        assert_eq!(c.facets[0].values, FacetValues::Listed(vec!["self-employed".into()]));
        assert_eq!(c.facets[1].name, "region");
        assert_eq!(c.facets[1].values, FacetValues::Each);
        assert_eq!(c.group, Some(Column::Name("region".into())));
        assert_eq!(c.probability_threshold, 0.6);
        assert!(c.predicted(0.61) && !c.predicted(0.6));
        let one = Value::Number { value: 1.0, integral: false, text: "1.0".into() };
        assert_eq!(c.favourable(&one), Some(true));
        assert_eq!(c.favourable(&Value::Missing), None);
        let e =
            BiasConfig::from_json(r#"{"headers": ["a"], "facet": [{"name_or_index": "b"}]}"#, "c.json").unwrap_err();
        assert!(e.to_string().contains("facet \"b\" is not among \"headers\""), "{e}");
        assert!(BiasConfig::from_json("{}", "c.json").unwrap_err().to_string().contains("no \"facet\""));
    }

    #[test]
    fn continuous_columns_and_interval_labels_follow_clarify() {
        // Any fractional value: continuous. Integers: continuous from 5% distinct values.
        assert!(is_continuous([("1.5", 10), ("2", 10)].into_iter()));
        assert!(!is_continuous([("0", 500), ("1", 500)].into_iter()));
        let ages: Vec<(String, u64)> = (18..80).map(|a| (a.to_string(), 10)).collect();
        assert!(is_continuous(ages.iter().map(|(a, n)| (a.as_str(), *n))));
        assert!(!is_continuous([("RENT", 10), ("OWN", 10)].into_iter()));
        assert_eq!(threshold_label(40.0, 79.0, true), "(40, 79]");
        assert_eq!(threshold_label(100.0, 2278.0, false), "(100.0, 2278.0]");
        assert_eq!(threshold_label(2.5, 3.0, true), "(2.5, 3.0]");
        assert_eq!(threshold_of_label("(100.0, 2278.0]"), Some(100.0));
        assert_eq!(threshold_of_label("RENT"), None);
    }
}
