//! `analysis.json` in Clarify's layout, and the bias baseline built from labelled rows.
//!
//! ```json
//! {"version": "1.0",
//!  "post_training_bias_metrics": {
//!    "label": "approved", "label_value_or_threshold": "1",
//!    "facets": {"employment": [{"value_or_threshold": "self-employed",
//!      "metrics": [{"name": "AD", "description": "Accuracy Difference (AD)", "value": 0.02}, ...]}]}}}
//! ```
//! An infinite value is written `"Infinity"` / `"-Infinity"`; an undefined one `null` with an
//! `"error"`, as Clarify's outputs hold them. Clarify's own files (Python's `json`, which writes
//! bare `Infinity` and `NaN`) are read too.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::metrics::{FacetCounts, Metric, MetricValue};
use super::{value_text, BiasConfig, Column, FacetValues};

use crate::baseline::build::{push_column, BuildError, RowSink};
use crate::payload::Value;

/// The file name.
pub const ANALYSIS_FILE: &str = "analysis.json";

/// The metrics of one facet value (or list of values).
#[derive(Debug, Clone, PartialEq)]
pub struct FacetValueMetrics {
    /// `value_or_threshold` as written (several values joined by `,`).
    pub value_or_threshold: String,
    /// The metrics, in Clarify's order.
    pub metrics: Vec<(Metric, MetricValue)>,
}

/// A bias analysis: the metrics of every facet value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BiasAnalysis {
    /// The label's name.
    pub label: String,
    /// The favourable label values, joined by `,`.
    pub label_value_or_threshold: String,
    /// Per facet (by name), its values' metrics.
    pub facets: BTreeMap<String, Vec<FacetValueMetrics>>,
}

impl BiasAnalysis {
    /// The metrics of every facet of `config` over `counts` (one [`FacetCounts`] per facet, in
    /// the config's order).
    pub fn of(config: &BiasConfig, label: &str, counts: &[FacetCounts]) -> BiasAnalysis {
        let mut facets = BTreeMap::new();
        for (facet, c) in config.facets.iter().zip(counts) {
            let entries: Vec<FacetValueMetrics> = facet
                .entries(c.by_value.keys(), std::iter::empty())
                .into_iter()
                .map(|(value_or_threshold, d)| FacetValueMetrics { value_or_threshold, metrics: c.metrics(&d) })
                .collect();
            facets.insert(facet.name.clone(), entries);
        }
        BiasAnalysis { label: label.to_owned(), label_value_or_threshold: config.label_values.join(","), facets }
    }

    /// The file's JSON.
    pub fn to_json(&self) -> Json {
        let facets: serde_json::Map<String, Json> = self
            .facets
            .iter()
            .map(|(name, entries)| {
                let list: Vec<Json> = entries
                    .iter()
                    .map(|e| {
                        let metrics: Vec<Json> = e
                            .metrics
                            .iter()
                            .map(|(m, v)| {
                                let mut o = json!({"name": m.code(), "description": m.description()});
                                match v {
                                    MetricValue::Value(x) if x.is_finite() => o["value"] = json!(x),
                                    MetricValue::Value(x) => {
                                        o["value"] = json!(if *x > 0.0 { "Infinity" } else { "-Infinity" })
                                    }
                                    MetricValue::Error(e) => {
                                        o["value"] = Json::Null;
                                        o["error"] = json!(e);
                                    }
                                }
                                o
                            })
                            .collect();
                        json!({"value_or_threshold": e.value_or_threshold, "metrics": metrics})
                    })
                    .collect();
                (name.clone(), Json::Array(list))
            })
            .collect();
        json!({
            "version": "1.0",
            "post_training_bias_metrics": {
                "label": self.label,
                "label_value_or_threshold": self.label_value_or_threshold,
                "facets": facets,
            }
        })
    }

    /// Reads an `analysis.json` (driftwatch's or Clarify's; `path` names it in errors). Metrics
    /// driftwatch does not compute (FT, pre-training ones) are read past.
    pub fn from_json(text: &str, path: &str) -> Result<BiasAnalysis, super::ConfigError> {
        let bad = |detail: String| super::ConfigError { path: path.to_owned(), detail };
        let doc: Json = serde_json::from_str(&python_json(text)).map_err(|e| bad(format!("not JSON: {e}")))?;
        let post = doc
            .get("post_training_bias_metrics")
            .ok_or_else(|| bad("no \"post_training_bias_metrics\": not a bias analysis.json".into()))?;
        let text_of = |v: Option<&Json>| match v {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let mut facets = BTreeMap::new();
        let listed = post.get("facets").and_then(Json::as_object).ok_or_else(|| bad("no \"facets\" object".into()))?;
        for (name, entries) in listed {
            let entries = entries.as_array().ok_or_else(|| bad(format!("facets.{name} is not a list")))?;
            let mut out = Vec::new();
            for e in entries {
                let mut metrics = Vec::new();
                for m in e.get("metrics").and_then(Json::as_array).into_iter().flatten() {
                    let Some(metric) = m.get("name").and_then(Json::as_str).and_then(Metric::from_code) else {
                        continue;
                    };
                    let value = match m.get("value") {
                        Some(Json::Number(n)) => n.as_f64().map(MetricValue::Value),
                        Some(Json::String(s)) => match s.as_str() {
                            "Infinity" | "inf" => Some(MetricValue::Value(f64::INFINITY)),
                            "-Infinity" | "-inf" => Some(MetricValue::Value(f64::NEG_INFINITY)),
                            _ => s.parse::<f64>().ok().map(MetricValue::Value),
                        },
                        _ => None,
                    }
                    .unwrap_or_else(|| MetricValue::Error(text_of(m.get("error"))));
                    metrics.push((metric, value));
                }
                out.push(FacetValueMetrics { value_or_threshold: text_of(e.get("value_or_threshold")), metrics });
            }
            facets.insert(name.clone(), out);
        }
        Ok(BiasAnalysis {
            label: text_of(post.get("label")),
            label_value_or_threshold: text_of(post.get("label_value_or_threshold")),
            facets,
        })
    }
}

/// Python's `json` output made JSON: bare `Infinity`, `-Infinity` and `NaN` outside strings
/// become strings (`NaN` becomes `null`).
fn python_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let token = ["-Infinity", "Infinity", "NaN"].into_iter().find(|t| rest.starts_with(t));
        match token {
            Some("NaN") => out.push_str("null"),
            Some(t) => {
                out.push('"');
                out.push_str(t);
                out.push('"');
            }
            None => {
                if c == '"' {
                    in_string = true;
                }
                out.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            }
        }
        rest = &rest[token.map_or(0, str::len)..];
    }
    out
}

/// Why a training row was left out of the bias baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BiasSkip {
    /// No probability (missing, or not a number in 0..1).
    NoProbability,
    /// No label.
    NoLabel,
    /// No facet value.
    NoFacet,
}

impl BiasSkip {
    /// The reason's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BiasSkip::NoProbability => "no_probability",
            BiasSkip::NoLabel => "no_label",
            BiasSkip::NoFacet => "no_facet",
        }
    }
}

/// Collects the counts of every facet of a config from a training table (the `RowSink` of
/// `driftwatch baseline --bias-config`): each row's facet values, group, label and
/// probability.
#[derive(Debug)]
pub struct BiasCollector {
    config: BiasConfig,
    ground_truth: String,
    probability: String,
    names: Vec<String>,
    /// Row cells of the columns wanted, by column index.
    cells: BTreeMap<usize, Value<'static>>,
    /// Per facet, its counts.
    pub counts: Vec<FacetCounts>,
    /// Rows left out, by reason (a row without one facet's value is left out of that facet
    /// only, and counted once per facet).
    pub skipped: BTreeMap<BiasSkip, u64>,
    /// Rows counted.
    pub rows: u64,
}

impl BiasCollector {
    /// A collector for `config`, the label in column `ground_truth` and the probability in
    /// `probability`.
    pub fn new(config: BiasConfig, ground_truth: &str, probability: &str) -> Self {
        let counts = vec![FacetCounts::default(); config.facets.len()];
        BiasCollector {
            config,
            ground_truth: ground_truth.to_owned(),
            probability: probability.to_owned(),
            names: Vec::new(),
            cells: BTreeMap::new(),
            counts,
            skipped: BTreeMap::new(),
            rows: 0,
        }
    }

    fn index(&self, c: &Column) -> Option<usize> {
        match c {
            Column::Index(i) => Some(*i),
            Column::Name(n) => self.names.iter().position(|h| h == n),
        }
    }

    /// The analysis of what was collected, or which named column the table lacks (`path` names
    /// the input).
    pub fn finish(mut self, path: &str) -> Result<BiasAnalysis, super::ConfigError> {
        let missing = |what: &str, name: &str| super::ConfigError {
            path: path.to_owned(),
            detail: format!("{what} {name:?} is not a column (columns: {})", self.names.join(", ")),
        };
        for (what, name) in
            [("--ground-truth-attribute", &self.ground_truth), ("--probability-attribute", &self.probability)]
        {
            if !self.names.contains(name) {
                return Err(missing(what, name));
            }
        }
        for f in &self.config.facets {
            if self.index(&f.column).is_none_or(|i| i >= self.names.len()) {
                return Err(missing("facet", &f.name));
            }
        }
        if self.rows == 0 {
            return Err(super::ConfigError {
                path: path.to_owned(),
                detail: "no row with a label and a probability".into(),
            });
        }
        // A single numeric value over a continuous column is a threshold (Clarify's rule).
        for (facet, c) in self.config.facets.iter_mut().zip(&self.counts) {
            let Some(threshold) = facet.single_number() else { continue };
            if !super::is_continuous(c.by_value.iter().map(|(v, g)| (v.as_str(), g.n))) {
                continue;
            }
            let numbers = c.by_value.keys().filter_map(|v| v.trim().parse::<f64>().ok());
            let max = numbers.fold(f64::NEG_INFINITY, f64::max);
            let integer_column = c.by_value.keys().all(|v| v.trim().parse::<i64>().is_ok());
            let label = super::threshold_label(threshold, max, integer_column);
            facet.values = FacetValues::Threshold { threshold, label };
        }
        Ok(BiasAnalysis::of(&self.config, &self.ground_truth, &self.counts))
    }
}

impl RowSink for BiasCollector {
    fn columns(&self) -> &[String] {
        &self.names
    }

    fn add_column(&mut self, name: String, path: &str) -> Result<usize, BuildError> {
        push_column(&mut self.names, name, path)
    }

    fn value(&mut self, col: usize, value: &Value, _string_column: bool) {
        self.cells.insert(col, value.to_static());
    }

    fn absent(&mut self, _col: usize) {}

    fn end_row(&mut self, _line: u64) {
        let cells = std::mem::take(&mut self.cells);
        let cell = |name: &str| self.names.iter().position(|n| n == name).and_then(|i| cells.get(&i));
        let probability = match cell(&self.probability) {
            Some(Value::Number { value, .. }) if (0.0..=1.0).contains(value) => *value,
            _ => {
                *self.skipped.entry(BiasSkip::NoProbability).or_default() += 1;
                return;
            }
        };
        let Some(label) = cell(&self.ground_truth).and_then(|v| self.config.favourable(v)) else {
            *self.skipped.entry(BiasSkip::NoLabel).or_default() += 1;
            return;
        };
        let predicted = self.config.predicted(probability);
        let group =
            self.config.group.as_ref().and_then(|g| self.index(g)).and_then(|i| cells.get(&i)).and_then(value_text);
        self.rows += 1;
        for (k, facet) in self.config.facets.iter().enumerate() {
            let value = self.index(&facet.column).and_then(|i| cells.get(&i)).and_then(value_text);
            match value {
                Some(v) => self.counts[k].count(&v, group.as_deref(), predicted, Some(label)),
                None => *self.skipped.entry(BiasSkip::NoFacet).or_default() += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::build::read_csv;

    const CONFIG: &str = r#"{"headers": ["approved", "score", "employment", "region"], "label": "approved",
        "label_values_or_threshold": [1], "facet": [{"name_or_index": "employment", "value_or_threshold": ["self"]}],
        "group_variable": "region", "probability_threshold": 0.5}"#;

    #[test]
    fn a_baseline_from_labelled_rows_and_back() {
        let csv = "approved,score,employment,region\n1,0.9,self,n\n0,0.7,self,n\n1,0.2,self,s\n0,0.1,self,s\n\
                   1,0.8,salaried,n\n1,0.9,salaried,n\n0,0.6,salaried,n\n0,0.3,salaried,s\n0,0.2,salaried,s\n1,0.4,salaried,s\n\
                   1,,salaried,s\n";
        let config = BiasConfig::from_json(CONFIG, "c.json").unwrap();
        let mut c = BiasCollector::new(config.clone(), "approved", "score");
        read_csv(csv.as_bytes(), "t.csv", true, &mut c).unwrap();
        assert_eq!(c.skipped.get(&BiasSkip::NoProbability), Some(&1));
        let analysis = c.finish("t.csv").unwrap();
        let facet = &analysis.facets["employment"];
        assert_eq!(facet.len(), 1);
        assert_eq!(facet[0].value_or_threshold, "self");
        // The same table as metrics::tests::every_metric_by_hand: DPPL 0, DI 1, AD 1/6.
        let get = |m: Metric| facet[0].metrics.iter().find(|(x, _)| *x == m).unwrap().1.value().unwrap();
        assert!((get(Metric::Dppl) - 0.0).abs() < 1e-12);
        assert!((get(Metric::Di) - 1.0).abs() < 1e-12);
        assert!((get(Metric::Ad) - (4.0 / 6.0 - 2.0 / 4.0)).abs() < 1e-12);
        // Written and read back.
        let text = serde_json::to_string_pretty(&analysis.to_json()).unwrap();
        let back = BiasAnalysis::from_json(&text, "analysis.json").unwrap();
        assert_eq!(back, analysis);
    }

    #[test]
    fn clarify_files_with_infinity_and_errors_are_read() {
        let text = r#"{"version": "1.0", "post_training_bias_metrics": {"label": "y", "label_value_or_threshold": "1",
          "facets": {"sex": [{"value_or_threshold": "0", "metrics": [
            {"name": "DI", "description": "Disparate Impact (DI)", "value": Infinity},
            {"name": "DPPL", "description": "x", "value": -Infinity},
            {"name": "FT", "description": "Flip Test (FT)", "value": 0.1},
            {"name": "RD", "description": "Recall Difference (RD)", "value": null, "error": "Facet set is empty"},
            {"name": "DCAcc", "description": "\"Infinity\" in a string", "value": "Infinity"},
            {"name": "TE", "description": "x", "value": NaN}]}]}}}"#;
        let a = BiasAnalysis::from_json(text, "analysis.json").unwrap();
        let m = &a.facets["sex"][0].metrics;
        assert_eq!(m.len(), 5, "FT is read past: {m:?}");
        assert_eq!(m[0], (Metric::Di, MetricValue::Value(f64::INFINITY)));
        assert_eq!(m[1], (Metric::Dppl, MetricValue::Value(f64::NEG_INFINITY)));
        assert_eq!(m[2], (Metric::Rd, MetricValue::Error("Facet set is empty".into())));
        assert_eq!(m[3], (Metric::Dca, MetricValue::Value(f64::INFINITY)));
        assert_eq!(m[4], (Metric::Te, MetricValue::Error(String::new())));
        // Written as Clarify's outputs hold them: "Infinity", null with an error.
        let out = a.to_json().to_string();
        assert!(out.contains(r#""value":"Infinity""#) && out.contains(r#""error":"Facet set is empty""#), "{out}");
        assert!(BiasAnalysis::from_json("{}", "a.json").is_err());
    }

    #[test]
    fn a_single_number_over_a_continuous_column_is_a_threshold() {
        let config = BiasConfig::from_json(
            r#"{"headers": ["y", "p", "age"], "label": "y", "facet": [{"name_or_index": "age", "value_or_threshold": [40]}]}"#,
            "c.json",
        )
        .unwrap();
        let mut csv = String::from("y,p,age\n");
        for age in 20..80 {
            // Older applicants approved less often.
            let p = if age > 40 { 0.3 } else { 0.7 };
            csv.push_str(&format!("{},{p},{age}\n", u8::from(age % 3 == 0)));
        }
        let mut c = BiasCollector::new(config, "y", "p");
        read_csv(csv.as_bytes(), "t.csv", true, &mut c).unwrap();
        let a = c.finish("t.csv").unwrap();
        let entries = &a.facets["age"];
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].value_or_threshold, "(40, 79]");
        let dppl = entries[0].metrics.iter().find(|(m, _)| *m == Metric::Dppl).unwrap().1.value().unwrap();
        assert!((dppl - 1.0).abs() < 1e-12, "everyone up to 40 approved, no one above: {dppl}");
    }
}
