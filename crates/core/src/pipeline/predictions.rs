//! Predictions from captured responses, kept per window until their labels are joined.
//!
//! A model-quality job names the prediction in the response as Model Monitor's job definition
//! does: `--inference-attribute` (the predicted label or value) and `--probability-attribute`
//! (the positive class's probability), each a column index for CSV (`0` is the first response
//! column) or a name for JSON (`score`, or a path such as `predictions[0].score`, whose last
//! member names the cell). Only records with one response row are joined (Model Monitor's
//! ground truth carries one label per inference); the others are counted.
//!
//! Memory: a window holds one [`Prediction`] per captured record (its join key, about 40 bytes
//! for SageMaker's ids, and the prediction's text) until the window closes and is joined.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::payload::Table;
use crate::payload::{Cell, Value};

/// Where in the response a prediction is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attr {
    /// The response row's cell at this position (CSV columns, JSON values in order).
    Index(usize),
    /// The response row's cell of this name (JSON members).
    Name(String),
    /// The cell of this name when the row's cells are named (JSON), else the cell at this
    /// position (CSV): a bias facet named through the analysis config's `headers`.
    NameOrIndex(String, usize),
}

impl Attr {
    /// Reads an attribute as the flags and config give it: digits are an index, anything else
    /// a name (`$.` and a path before the last member are dropped; `[n]` indexes too).
    pub fn parse(s: &str) -> Attr {
        let s = s.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(i) = s.parse() {
                return Attr::Index(i);
            }
        }
        let last = s.trim_start_matches("$.").rsplit('.').next().unwrap_or(s);
        let name = last.split('[').next().unwrap_or(last);
        Attr::Name(name.to_owned())
    }

    fn find<'c, 'a>(&self, row: &'c [Cell<'a>]) -> Option<&'c Value<'a>> {
        match self {
            Attr::Index(i) => row.get(*i).map(|c| &c.value),
            Attr::Name(n) => row.iter().find(|c| c.name.as_deref() == Some(n.as_str())).map(|c| &c.value),
            Attr::NameOrIndex(n, i) => {
                if row.iter().any(|c| c.name.is_some()) {
                    Attr::Name(n.clone()).find(row)
                } else {
                    row.get(*i).map(|c| &c.value)
                }
            }
        }
    }
}

/// What to take from each captured response (and, for a bias monitor, request).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PredictionSpec {
    /// The predicted label or value.
    pub inference: Option<Attr>,
    /// The probability of the positive class.
    pub probability: Option<Attr>,
    /// Bias monitors: the request's cells of each facet, in the analysis config's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facets: Vec<Attr>,
    /// Bias monitors: the request's cell of the group variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Attr>,
}

impl PredictionSpec {
    /// What a stream's predictions keep for both monitors: the quality monitor's attributes
    /// and the bias monitor's facets (its probability when the quality monitor names none);
    /// `None` when neither monitor wants predictions.
    pub fn merged(quality: Option<&PredictionSpec>, bias: Option<&PredictionSpec>) -> Option<PredictionSpec> {
        match (quality, bias) {
            (Some(q), Some(b)) => Some(PredictionSpec {
                inference: q.inference.clone(),
                probability: q.probability.clone().or_else(|| b.probability.clone()),
                facets: b.facets.clone(),
                group: b.group.clone(),
            }),
            (q, b) => q.or(b).cloned(),
        }
    }
}

/// One captured record's prediction, waiting for its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    /// The join key: the caller's `inferenceId`, else the captured `eventId`.
    pub key: String,
    /// The inference attribute's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference: Option<String>,
    /// The probability attribute's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<String>,
    /// Bias monitors: each facet's value in the request (the spec's facets, in order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facets: Vec<Option<String>>,
    /// Bias monitors: the group variable's value in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Why a captured record gives no prediction to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictionSkip {
    /// Neither `inferenceId` nor `eventId`.
    NoId,
    /// No response, or a response without the named attributes.
    NoPrediction,
    /// The response has several rows (one label per inference cannot be matched to them).
    SeveralRows,
}

impl PredictionSkip {
    /// The reason's name in counts.
    pub fn as_str(self) -> &'static str {
        match self {
            PredictionSkip::NoId => "no_id",
            PredictionSkip::NoPrediction => "no_prediction",
            PredictionSkip::SeveralRows => "several_rows",
        }
    }
}

/// The predictions of a window (or of part of one), in capture order, and the records that
/// gave none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Predictions {
    /// One per joinable record.
    pub rows: Vec<Prediction>,
    /// Each row of the records with several rows, when the spec names facets (a bias monitor's
    /// DPPL and DI need no label): its prediction and its request row's facets, keyed
    /// `{key}#{row}`. Never joined to labels (one label per inference cannot be matched to
    /// several rows), so the records are also counted in `skipped` as `several_rows`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch_rows: Vec<Prediction>,
    /// Records without one, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<PredictionSkip, u64>,
}

impl Predictions {
    /// Whether nothing was recorded (a stream without a quality monitor).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.skipped.is_empty() && self.batch_rows.is_empty()
    }

    /// Every prediction a monitor without labels can read: the joinable ones, then the rows of
    /// records with several rows.
    pub fn unlabelled(&self) -> impl Iterator<Item = &Prediction> {
        self.rows.iter().chain(&self.batch_rows)
    }

    /// Appends `other` (objects merge in capture order, so the result is the same however
    /// objects were decoded).
    pub fn merge(&mut self, other: Predictions) {
        self.rows.extend(other.rows);
        self.batch_rows.extend(other.batch_rows);
        for (k, n) in other.skipped {
            *self.skipped.entry(k).or_default() += n;
        }
    }

    /// Takes one record's prediction from its response table (and the facets from its
    /// request's first row, when the spec names them). A record with several rows gives no
    /// joinable prediction; when the spec names facets and the request has as many rows as the
    /// response, each row's prediction is kept in [`Predictions::batch_rows`].
    pub fn observe(
        &mut self,
        spec: &PredictionSpec,
        key: Option<&str>,
        response: Option<&Table<'_>>,
        request: Option<&Table<'_>>,
    ) {
        let skip = |s: &mut Self, r: PredictionSkip| *s.skipped.entry(r).or_default() += 1;
        let Some(key) = key.filter(|k| !k.is_empty()) else { return skip(self, PredictionSkip::NoId) };
        let Some(response) = response.filter(|t| t.row_count() > 0) else {
            return skip(self, PredictionSkip::NoPrediction);
        };
        let request_row = |i: usize| request.filter(|t| t.row_count() > i).map_or(&[][..], |t| t.row(i));
        let n = response.row_count();
        if n > 1 {
            skip(self, PredictionSkip::SeveralRows);
            if !spec.facets.is_empty() && request.is_some_and(|t| t.row_count() == n) {
                for i in 0..n {
                    if let Some(p) = prediction(spec, format!("{key}#{i}"), response.row(i), request_row(i)) {
                        self.batch_rows.push(p);
                    }
                }
            }
            return;
        }
        match prediction(spec, key.to_owned(), response.row(0), request_row(0)) {
            Some(p) => self.rows.push(p),
            None => skip(self, PredictionSkip::NoPrediction),
        }
    }
}

/// One row's prediction: the spec's attributes in the response row and its facets in the
/// request row; none when the row has neither the inference nor the probability.
fn prediction(spec: &PredictionSpec, key: String, row: &[Cell<'_>], request: &[Cell<'_>]) -> Option<Prediction> {
    let text = |a: &Option<Attr>| a.as_ref().and_then(|a| a.find(row)).and_then(value_text);
    let inference = text(&spec.inference);
    let probability = text(&spec.probability);
    if inference.is_none() && probability.is_none() {
        return None;
    }
    let facets = spec.facets.iter().map(|a| a.find(request).and_then(value_text)).collect();
    let group = spec.group.as_ref().and_then(|a| a.find(request)).and_then(value_text);
    Some(Prediction { key, inference, probability, facets, group })
}

fn value_text(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Missing | Value::NonFinite => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number { value, text, .. } => Some(if text.is_empty() { value.to_string() } else { text.to_string() }),
        Value::Text(t) => Some(t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{decode_body, Table};

    fn table<'a>(body: &'a str, content_type: &str) -> Table<'a> {
        let mut t = Table::default();
        decode_body(body, Some(content_type), "CSV", None, &mut t).unwrap();
        t
    }

    #[test]
    fn attributes_by_index_name_and_path() {
        assert_eq!(Attr::parse("0"), Attr::Index(0));
        assert_eq!(Attr::parse("score"), Attr::Name("score".into()));
        assert_eq!(Attr::parse("$.predictions[0].score"), Attr::Name("score".into()));
        let spec = PredictionSpec {
            inference: Some(Attr::parse("1")),
            probability: Some(Attr::parse("0")),
            ..Default::default()
        };
        let mut p = Predictions::default();
        let csv = table("0.83,1", "text/csv");
        p.observe(&spec, Some("e1"), Some(&csv), None);
        assert_eq!(
            p.rows[0],
            Prediction {
                key: "e1".into(),
                inference: Some("1".into()),
                probability: Some("0.83".into()),
                facets: vec![],
                group: None
            }
        );
        let json = table(r#"{"predictions": [{"score": 0.25, "label": "no"}]}"#, "application/json");
        let spec = PredictionSpec {
            inference: Some(Attr::parse("predictions[0].label")),
            probability: Some(Attr::parse("score")),
            ..Default::default()
        };
        p.observe(&spec, Some("e2"), Some(&json), None);
        assert_eq!(p.rows[1].probability.as_deref(), Some("0.25"));
        assert_eq!(p.rows[1].inference.as_deref(), Some("no"));
    }

    #[test]
    fn bias_facets_are_read_from_the_request() {
        let spec = PredictionSpec {
            probability: Some(Attr::Index(0)),
            facets: vec![Attr::NameOrIndex("employment".into(), 1), Attr::Index(7)],
            group: Some(Attr::NameOrIndex("region".into(), 2)),
            ..Default::default()
        };
        let mut p = Predictions::default();
        let out = table("0.7", "text/csv");
        let csv = table("41,self,north", "text/csv");
        p.observe(&spec, Some("a"), Some(&out), Some(&csv));
        let json = table(r#"{"age": 41, "region": "south", "employment": "salaried"}"#, "application/json");
        p.observe(&spec, Some("b"), Some(&out), Some(&json));
        assert_eq!(p.rows[0].facets, [Some("self".to_owned()), None]);
        assert_eq!(p.rows[0].group.as_deref(), Some("north"));
        assert_eq!(p.rows[1].facets, [Some("salaried".to_owned()), None]);
        assert_eq!(p.rows[1].group.as_deref(), Some("south"));
        // A batch of three rows: no joinable prediction, but each row's for the facets.
        let out = table("0.7\n0.2\n0.9", "text/csv");
        let csv = table("41,self,north\n30,salaried,south\n52,self,east", "text/csv");
        p.observe(&spec, Some("c"), Some(&out), Some(&csv));
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.skipped[&PredictionSkip::SeveralRows], 1);
        let batch: Vec<(&str, Option<&str>, Option<&str>)> =
            p.batch_rows.iter().map(|b| (b.key.as_str(), b.probability.as_deref(), b.facets[0].as_deref())).collect();
        assert_eq!(
            batch,
            [
                ("c#0", Some("0.7"), Some("self")),
                ("c#1", Some("0.2"), Some("salaried")),
                ("c#2", Some("0.9"), Some("self"))
            ]
        );
        assert_eq!(p.unlabelled().count(), 5);
        // Rows that cannot be paired (two requests, three answers) are not guessed.
        let two = table("41,self,north\n30,salaried,south", "text/csv");
        p.observe(&spec, Some("d"), Some(&out), Some(&two));
        assert_eq!((p.batch_rows.len(), p.skipped[&PredictionSkip::SeveralRows]), (3, 2));
    }

    #[test]
    fn records_that_cannot_be_joined_are_counted() {
        let spec = PredictionSpec { inference: None, probability: Some(Attr::Index(0)), ..Default::default() };
        let mut p = Predictions::default();
        let two = table("0.1\n0.2", "text/csv");
        p.observe(&spec, Some("a"), Some(&two), None);
        p.observe(&spec, None, None, None);
        p.observe(&spec, Some("b"), None, None);
        let wide = table("x", "text/csv");
        let spec_far = PredictionSpec { inference: None, probability: Some(Attr::Index(3)), ..Default::default() };
        p.observe(&spec_far, Some("c"), Some(&wide), None);
        assert!(p.rows.is_empty());
        let counts: Vec<(PredictionSkip, u64)> = p.skipped.iter().map(|(k, n)| (*k, *n)).collect();
        assert_eq!(
            counts,
            [(PredictionSkip::NoId, 1), (PredictionSkip::NoPrediction, 2), (PredictionSkip::SeveralRows, 1)]
        );
        let mut q = Predictions::default();
        q.merge(p.clone());
        q.merge(p);
        assert_eq!(q.skipped[&PredictionSkip::NoPrediction], 4);
    }
}
