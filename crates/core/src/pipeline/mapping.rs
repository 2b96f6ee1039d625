//! From decoded request/response rows to baseline columns.
//!
//! The layout is decided once per stream, from its first decodable record, and then kept (and
//! checkpointed): deciding per record would let a schema change re-align silently (a request that
//! lost a column plus a one-column response has exactly the baseline's width).
//! - Named: the request's rows are JSON objects; cells map to features by name.
//! - Positional with `output_cols = 0`: the request's columns are the baseline's.
//! - Positional with `output_cols = k`: Model Monitor's convention, the response's `k` columns
//!   first, then the request's. Chosen whenever a response is captured and the request alone does
//!   not have the baseline's width (if the sum does not fit either, the column checks say so).

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::baseline::{text_length, Baseline, TEXT_LENGTH_SUFFIX};
use crate::payload::{Cell, Table, Value};
use crate::profile::{SkipReason, WindowProfile};

/// How rows map to baseline columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layout {
    /// Response columns (`output_cols` of them) then request columns, by position.
    Positional {
        /// Width of the response part (0: request only).
        output_cols: usize,
    },
    /// By JSON member name.
    Named,
}

impl Layout {
    /// Decides the layout from a record's first request and response rows.
    pub fn decide(baseline_cols: usize, input: Option<&[Cell<'_>]>, output: Option<&[Cell<'_>]>) -> Layout {
        let named = |row: &[Cell<'_>]| !row.is_empty() && row.iter().all(|c| c.name.is_some());
        match (input, output) {
            (Some(i), _) if named(i) => Layout::Named,
            // Model Monitor's convention: the baseline's columns are the response's first ones,
            // then the request's. As many response columns as the request lacks (none when it
            // has them all, or more: extra request columns are a schema break); response
            // columns beyond them are the model's other outputs.
            (Some(i), Some(o)) => {
                let lacking = baseline_cols.saturating_sub(i.len());
                // A response narrower than what the request lacks: all of it (the rows come out
                // short and are counted as `column_count`).
                Layout::Positional { output_cols: lacking.min(o.len()) }
            }
            (Some(_), None) => Layout::Positional { output_cols: 0 },
            (None, Some(o)) if named(o) => Layout::Named,
            (None, Some(o)) => Layout::Positional { output_cols: o.len() },
            (None, None) => Layout::Positional { output_cols: 0 },
        }
    }

    /// Returns whether columns are matched by position.
    pub fn is_positional(self) -> bool {
        matches!(self, Layout::Positional { .. })
    }
}

/// Maps rows of one stream into window profiles.
#[derive(Debug, Clone)]
pub struct RowMapper {
    layout: Layout,
    width: usize,
    by_name: FxHashMap<String, usize>,
    /// Named layouts: for a field `X` the baseline watches by length, the index of `X.length`.
    length_of: FxHashMap<String, usize>,
    categorical: Vec<bool>,
    seen: Vec<bool>,
}

/// What happened to one record's rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RowOutcome {
    /// Rows profiled.
    pub profiled: u64,
    /// Rows skipped for a column count different from the baseline's.
    pub wrong_width: u64,
    /// Rows profiled without response columns (response had another row count).
    pub unpaired: u64,
    /// Values that were NaN or infinite.
    pub non_finite: u64,
}

impl RowMapper {
    /// Creates a mapper for a baseline and a layout.
    pub fn new(baseline: &Baseline, layout: Layout) -> Self {
        RowMapper {
            layout,
            width: baseline.features.len(),
            by_name: baseline.features.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect(),
            length_of: baseline
                .features
                .iter()
                .enumerate()
                .filter_map(|(i, f)| Some((f.name.strip_suffix(TEXT_LENGTH_SUFFIX)?.to_owned(), i)))
                .collect(),
            categorical: baseline.features.iter().map(|f| f.is_categorical()).collect(),
            seen: vec![false; baseline.features.len()],
        }
    }

    /// Whether `name` is a baseline feature, or a field the baseline watches by length.
    pub fn knows(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.length_of.contains_key(name)
    }

    /// Returns the layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Profiles the rows of one record into `w`.
    pub fn map_record(
        &mut self,
        input: Option<&Table<'_>>,
        output: Option<&Table<'_>>,
        w: &mut WindowProfile,
    ) -> RowOutcome {
        let mut out = RowOutcome::default();
        let in_rows = input.map(Table::row_count);
        let out_rows = output.map(Table::row_count);
        let (rows, paired) = match (in_rows, out_rows) {
            (Some(i), Some(o)) => (i, i == o),
            (Some(i), None) => (i, false),
            (None, Some(o)) => (o, true),
            (None, None) => (0, false),
        };
        let output_expected = match self.layout {
            Layout::Positional { output_cols } => output_cols > 0,
            Layout::Named => output.is_some(),
        };
        for r in 0..rows {
            let in_row: &[Cell<'_>] = match input {
                Some(t) => t.row(r),
                None => &[],
            };
            let out_row: Option<&[Cell<'_>]> = if paired { output.map(|t| t.row(r)) } else { None };
            let profiled = match self.layout {
                Layout::Positional { output_cols } => self.positional(in_row, out_row, output_cols, w, &mut out),
                Layout::Named => {
                    self.named(in_row, out_row, w, &mut out);
                    true
                }
            };
            // A row is counted under one reason: skipped for its width, or profiled without
            // its response.
            if !profiled {
                out.wrong_width += 1;
            } else {
                out.profiled += 1;
                if output_expected && out_row.is_none() {
                    out.unpaired += 1;
                }
            }
        }
        w.rows += out.profiled;
        w.skipped.add(SkipReason::ColumnCount, out.wrong_width);
        w.skipped.add(SkipReason::UnpairedOutput, out.unpaired);
        w.skipped.add(SkipReason::NonFiniteValue, out.non_finite);
        out
    }

    fn positional(
        &mut self,
        in_row: &[Cell<'_>],
        out_row: Option<&[Cell<'_>]>,
        output_cols: usize,
        w: &mut WindowProfile,
        out: &mut RowOutcome,
    ) -> bool {
        let out_width = match out_row {
            Some(o) if output_cols > 0 => o.len().min(output_cols),
            _ => output_cols,
        };
        // Response columns beyond the ones the baseline takes: the model's other outputs.
        if let Some(o) = out_row.filter(|o| output_cols > 0 && o.len() > output_cols) {
            for j in output_cols..o.len() {
                *w.outputs.entry(format!("response[{j}]")).or_default() += 1;
            }
        }
        let width = out_width + in_row.len();
        *w.column_counts.entry(u32::try_from(width).unwrap_or(u32::MAX)).or_default() += 1;
        if width != self.width {
            if width > self.width {
                for i in self.width..width {
                    *w.extra_columns.entry(format!("_c{i}")).or_default() += 1;
                }
            } else if width + 1 == self.width {
                // One column short: profile the row by position so that the missing column
                // can be inferred (see drift::guess_missing_column).
                let short = w.short_rows.get_or_insert_with(|| vec![Default::default(); width]);
                let out_cells = out_row.filter(|_| output_cols > 0).unwrap_or(&[]);
                for (p, c) in short.iter_mut().zip(out_cells.iter().chain(in_row)) {
                    p.observe(&c.value, true);
                }
            }
            return false;
        }
        let missing = Value::Missing;
        for i in 0..out_width {
            let v = match out_row {
                Some(o) if output_cols > 0 => &o[i].value,
                _ => &missing,
            };
            self.observe(i, v, w, out);
        }
        for (j, c) in in_row.iter().enumerate() {
            self.observe(out_width + j, &c.value, w, out);
        }
        true
    }

    fn named(
        &mut self,
        in_row: &[Cell<'_>],
        out_row: Option<&[Cell<'_>]>,
        w: &mut WindowProfile,
        out: &mut RowOutcome,
    ) {
        self.seen.iter_mut().for_each(|s| *s = false);
        let n_in = in_row.len();
        for (pos, c) in in_row.iter().chain(out_row.unwrap_or(&[])).enumerate() {
            let name = c.name.as_deref();
            // A free-text field watched by its length (`X.length`), beside or instead of itself.
            // (Most baselines have none: no lookup per cell then.)
            let length = name.filter(|_| !self.length_of.is_empty()).and_then(|n| self.length_of.get(n).copied());
            if let Some(l) = length.filter(|l| !self.seen[*l]) {
                self.seen[l] = true;
                self.observe(l, &text_length(&c.value), w, out);
            }
            let idx = name.and_then(|n| self.by_name.get(n).copied());
            match idx {
                Some(i) if !self.seen[i] => {
                    self.seen[i] = true;
                    self.observe(i, &c.value, w, out);
                }
                Some(_) => {}
                None if length.is_some() => {}
                // A request field the baseline does not know: the schema changed.
                None if pos < n_in => {
                    let key = c.name.as_deref().map(str::to_owned).unwrap_or_else(|| format!("_c{pos}"));
                    *w.extra_columns.entry(key).or_default() += 1;
                }
                // A response field that is not a feature: the model's output (a baseline built
                // from training data has none of it).
                None => {
                    let key =
                        c.name.as_deref().map(str::to_owned).unwrap_or_else(|| format!("response[{}]", pos - n_in));
                    *w.outputs.entry(key).or_default() += 1;
                }
            }
        }
        for i in 0..self.width {
            if !self.seen[i] {
                w.features[i].observe_absent();
            }
        }
    }

    #[inline]
    fn observe(&self, i: usize, v: &Value<'_>, w: &mut WindowProfile, out: &mut RowOutcome) {
        if matches!(v, Value::NonFinite) {
            out.non_finite += 1;
        }
        w.features[i].observe(v, self.categorical[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::decode_body;

    fn baseline(names: &[&str]) -> Baseline {
        let feats: Vec<String> = names
            .iter()
            .map(|n| format!(r#"{{"name":"{n}","inferred_type":"Fractional","numerical_statistics":{{"common":{{"num_present":1,"num_missing":0}},"mean":1,"sum":1,"std_dev":0,"min":1,"max":1}}}}"#))
            .collect();
        let stats = format!(r#"{{"features":[{}]}}"#, feats.join(","));
        Baseline::from_json(&stats, "s", "{}", "c", "t").unwrap()
    }

    fn table<'a>(body: &'a str, ct: &str) -> Table<'a> {
        let mut t = Table::default();
        decode_body(body, Some(ct), "CSV", None, &mut t).unwrap();
        t
    }

    #[test]
    fn decides_layouts() {
        let b = baseline(&["label", "a", "b"]);
        let i = table("1,2", "text/csv");
        let o = table("0.5", "text/csv");
        assert_eq!(Layout::decide(3, Some(i.row(0)), Some(o.row(0))), Layout::Positional { output_cols: 1 });
        let i3 = table("1,2,3", "text/csv");
        assert_eq!(Layout::decide(3, Some(i3.row(0)), Some(o.row(0))), Layout::Positional { output_cols: 0 });
        // A response of a label and its probability: the baseline takes the first.
        let o2 = table("1,0.83", "text/csv");
        assert_eq!(Layout::decide(3, Some(i.row(0)), Some(o2.row(0))), Layout::Positional { output_cols: 1 });
        // An extra request column: still no response column (a schema break, not a shift).
        let i4 = table("1,2,3,4", "text/csv");
        assert_eq!(Layout::decide(3, Some(i4.row(0)), Some(o.row(0))), Layout::Positional { output_cols: 0 });
        let named = table(r#"{"a": 1, "b": 2}"#, "application/json");
        assert_eq!(Layout::decide(3, Some(named.row(0)), None), Layout::Named);
        drop(b);
    }

    #[test]
    fn output_first_then_input() {
        let b = baseline(&["label", "a", "b"]);
        let mut m = RowMapper::new(&b, Layout::Positional { output_cols: 1 });
        let mut w = WindowProfile::new(3);
        let i = table("1,2\n3,4\n", "text/csv");
        let o = table("0.1\n0.9\n", "text/csv");
        let r = m.map_record(Some(&i), Some(&o), &mut w);
        assert_eq!(r, RowOutcome { profiled: 2, ..Default::default() });
        assert_eq!(w.features[0].moments.sum, 1.0);
        assert_eq!(w.features[1].moments.sum, 4.0);
        assert_eq!(w.features[2].moments.sum, 6.0);
        assert_eq!(w.column_counts[&3], 2);

        // A response with another row count: rows profiled, label missing, counted as unpaired.
        let o1 = table("0.5", "text/csv");
        let r = m.map_record(Some(&i), Some(&o1), &mut w);
        assert_eq!((r.profiled, r.unpaired), (2, 2));
        assert_eq!(w.features[0].missing, 2);
        assert_eq!(w.skipped.get(SkipReason::UnpairedOutput), 2);
    }

    #[test]
    fn response_columns_beyond_the_baseline_are_outputs() {
        let b = baseline(&["label", "a", "b"]);
        let mut m = RowMapper::new(&b, Layout::Positional { output_cols: 1 });
        let mut w = WindowProfile::new(3);
        let i = table("1,2\n3,4\n", "text/csv");
        let o = table("1,0.8\n0,0.3\n", "text/csv");
        let r = m.map_record(Some(&i), Some(&o), &mut w);
        assert_eq!(r, RowOutcome { profiled: 2, ..Default::default() });
        assert_eq!(w.features[0].moments.sum, 1.0);
        assert_eq!(w.outputs.get("response[1]"), Some(&2));
        assert!(w.extra_columns.is_empty());
    }

    #[test]
    fn wrong_width_rows_are_skipped_and_counted() {
        let b = baseline(&["a", "b"]);
        let mut m = RowMapper::new(&b, Layout::Positional { output_cols: 0 });
        let mut w = WindowProfile::new(2);
        let i = table("1,2\n3\n4,5,6\nNaN,7\n", "text/csv");
        let r = m.map_record(Some(&i), None, &mut w);
        assert_eq!((r.profiled, r.wrong_width, r.non_finite), (2, 2, 1));
        assert_eq!(w.skipped.get(SkipReason::ColumnCount), 2);
        assert_eq!(w.skipped.get(SkipReason::NonFiniteValue), 1);
        assert_eq!(w.features[0].missing, 1);
        assert_eq!(w.column_counts.get(&1), Some(&1));
        assert_eq!(w.extra_columns.get("_c2"), Some(&1));
        assert_eq!(w.rows, 2);
    }

    #[test]
    fn named_rows_by_key() {
        let b = baseline(&["a", "b", "score"]);
        let mut m = RowMapper::new(&b, Layout::Named);
        let mut w = WindowProfile::new(3);
        let i = table(r#"{"instances": [{"b": 2, "a": 1, "zip": "x"}, {"a": 3}]}"#, "application/json");
        let o = table(r#"{"predictions": [{"score": 0.5}, {"score": 0.7}]}"#, "application/json");
        m.map_record(Some(&i), Some(&o), &mut w);
        assert_eq!(w.features[0].moments.sum, 4.0);
        assert_eq!(w.features[1].absent, 1);
        assert_eq!(w.features[2].moments.n, 2);
        assert_eq!(w.extra_columns.get("zip"), Some(&1));
        assert!(w.outputs.is_empty(), "score is a feature of this baseline");

        // A baseline from training data has no score: it is the model's output, not a column.
        let b = baseline(&["a", "b"]);
        let mut m = RowMapper::new(&b, Layout::Named);
        let mut w = WindowProfile::new(2);
        let o =
            table(r#"{"predictions": [{"score": 0.5, "label": 1}, {"score": 0.7, "label": 0}]}"#, "application/json");
        m.map_record(Some(&i), Some(&o), &mut w);
        assert_eq!(w.outputs.get("score"), Some(&2));
        assert_eq!(w.outputs.get("label"), Some(&2));
        assert_eq!(w.extra_columns.get("zip"), Some(&1), "a request field is still a break");
        assert_eq!(w.extra_columns.len(), 1);
        // A response without names (one number per request row, as the pipeline decodes it
        // knowing the request's row count): by position.
        let mut o = Table::default();
        decode_body("[0.5, 0.7]", Some("application/json"), "JSON", Some(2), &mut o).unwrap();
        m.map_record(Some(&i), Some(&o), &mut w);
        assert_eq!(w.outputs.get("response[0]"), Some(&2));
    }
}
