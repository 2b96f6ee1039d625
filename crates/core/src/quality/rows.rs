//! Labelled rows from a table: the ground truth, the predicted label and the probability,
//! picked by the attributes of a model-quality job, with every row that cannot be used
//! counted by reason (and the first few named by line and column).

use super::metrics::{BinaryRow, LabelledRows};
use super::{Attributes, ProblemType, QualityError};
use crate::baseline::build::{push_column, BuildError, RowSink};
use crate::payload::Value;

/// Why a row was left out of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowSkip {
    /// The ground-truth column is empty or absent.
    MissingLabel,
    /// The ground truth is not a label of the problem type (binary: 0/1 or true/false;
    /// regression: a number).
    InvalidLabel,
    /// The prediction (inference or probability column) is empty or absent.
    MissingPrediction,
    /// The prediction is not of the problem type (a probability outside [0, 1], a text where a
    /// number is needed).
    InvalidPrediction,
}

impl RowSkip {
    /// The reason's name in counts and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            RowSkip::MissingLabel => "missing_label",
            RowSkip::InvalidLabel => "invalid_label",
            RowSkip::MissingPrediction => "missing_prediction",
            RowSkip::InvalidPrediction => "invalid_prediction",
        }
    }
}

/// A skipped row, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// 1-based line (row number for columnar files).
    pub line: u64,
    /// The column at fault.
    pub column: String,
    /// Why.
    pub reason: RowSkip,
}

/// How many skipped rows are named one by one; the rest are counted.
pub const NAMED_SKIPS: usize = 10;

/// Reads a binary label: 1/0 (as numbers or text), true/false.
pub fn binary_label(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number { value, .. } if *value == 1.0 => Some(true),
        Value::Number { value, .. } if *value == 0.0 => Some(false),
        Value::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A class label's text: whole numbers without a fraction (`1.0` and `1` are the same class),
/// text as written.
pub fn class_label(v: &Value) -> Option<String> {
    match v {
        Value::Missing | Value::NonFinite => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number { value, .. } if value.fract() == 0.0 && value.abs() < 1e15 => Some(format!("{}", *value as i64)),
        Value::Number { value, .. } => Some(value.to_string()),
        Value::Text(t) => Some(t.trim().to_owned()),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number { value, .. } => Some(*value),
        _ => None,
    }
}

/// Which attribute a row's fault is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The ground truth.
    Label,
    /// The inference attribute.
    Inference,
    /// The probability attribute.
    Probability,
}

/// One labelled row of any problem type.
#[derive(Debug, Clone, PartialEq)]
pub enum OneRow {
    /// (label, prediction).
    Regression(f64, f64),
    /// A binary row.
    Binary(BinaryRow),
    /// (label, predicted label).
    Multiclass(String, String),
}

impl LabelledRows {
    /// No rows of `problem`'s kind.
    pub fn empty(problem: ProblemType) -> Self {
        match problem {
            ProblemType::Regression => LabelledRows::Regression(Vec::new()),
            ProblemType::BinaryClassification => LabelledRows::Binary(Vec::new()),
            ProblemType::MulticlassClassification => LabelledRows::Multiclass(Vec::new()),
        }
    }

    /// Appends a row (of the same kind; a row of another kind is a caller's bug and ignored).
    pub fn push(&mut self, row: OneRow) {
        match (self, row) {
            (LabelledRows::Regression(v), OneRow::Regression(y, p)) => v.push((y, p)),
            (LabelledRows::Binary(v), OneRow::Binary(r)) => v.push(r),
            (LabelledRows::Multiclass(v), OneRow::Multiclass(y, p)) => v.push((y, p)),
            _ => debug_assert!(false, "a row of another problem type"),
        }
    }
}

/// The labelled row of one label and its prediction, by the problem type's rules (the one rule
/// for baseline tables and joined capture alike): regression needs numbers; binary a 0/1 label
/// and a 0/1 inference or a probability in [0, 1] (at or above `threshold` predicts 1, and it
/// ranks the curves); multiclass a label and an inference. `None` or a missing value is a
/// missing attribute.
pub fn labelled_row(
    problem: ProblemType,
    threshold: f64,
    label: Option<&Value<'_>>,
    inference: Option<&Value<'_>>,
    probability: Option<&Value<'_>>,
) -> Result<OneRow, (RowSkip, Which)> {
    fn present<'v, 'a>(v: Option<&'v Value<'a>>) -> Option<&'v Value<'a>> {
        v.filter(|v| !matches!(v, Value::Missing))
    }
    let (label, inference, probability) = (present(label), present(inference), present(probability));
    let Some(label) = label else { return Err((RowSkip::MissingLabel, Which::Label)) };
    let binary = problem == ProblemType::BinaryClassification;
    if inference.is_none() && (!binary || probability.is_none()) {
        return Err((RowSkip::MissingPrediction, Which::Inference));
    }
    let invalid_label = Err((RowSkip::InvalidLabel, Which::Label));
    match problem {
        ProblemType::Regression => {
            let Some(y) = number(label) else { return invalid_label };
            let Some(p) = inference.and_then(number) else {
                return Err((RowSkip::InvalidPrediction, Which::Inference));
            };
            Ok(OneRow::Regression(y, p))
        }
        ProblemType::BinaryClassification => {
            let Some(y) = binary_label(label) else { return invalid_label };
            let prob = match probability {
                Some(v) => match number(v).filter(|p| (0.0..=1.0).contains(p)) {
                    Some(p) => Some(p),
                    None => return Err((RowSkip::InvalidPrediction, Which::Probability)),
                },
                None => None,
            };
            let predicted = match inference {
                Some(v) => binary_label(v).ok_or((RowSkip::InvalidPrediction, Which::Inference))?,
                None => prob.is_some_and(|p| p >= threshold),
            };
            let score = prob.unwrap_or(if predicted { 1.0 } else { 0.0 });
            Ok(OneRow::Binary(BinaryRow { label: y, predicted, score }))
        }
        ProblemType::MulticlassClassification => {
            let Some(y) = class_label(label) else { return invalid_label };
            let p = inference.and_then(class_label).ok_or((RowSkip::InvalidPrediction, Which::Inference))?;
            Ok(OneRow::Multiclass(y, p))
        }
    }
}

/// The three attribute columns of the current row.
#[derive(Debug, Default)]
struct Cells {
    label: Option<Value<'static>>,
    inference: Option<Value<'static>>,
    probability: Option<Value<'static>>,
}

/// Collects labelled rows from a training table (implements [`RowSink`]).
#[derive(Debug)]
pub struct RowCollector {
    problem: ProblemType,
    attrs: Attributes,
    names: Vec<String>,
    /// Column indexes of (label, inference, probability) once their names are seen.
    cols: [Option<usize>; 3],
    cells: Cells,
    rows: LabelledRows,
    skipped: std::collections::BTreeMap<RowSkip, u64>,
    named: Vec<SkippedRow>,
}

fn owned(v: &Value) -> Value<'static> {
    v.to_static()
}

impl RowCollector {
    /// A collector for `problem` with the job's attributes (validated by the caller:
    /// [`Attributes::validate`]).
    pub fn new(problem: ProblemType, attrs: Attributes) -> Self {
        RowCollector {
            problem,
            attrs,
            names: Vec::new(),
            cols: [None; 3],
            cells: Cells::default(),
            rows: LabelledRows::empty(problem),
            skipped: Default::default(),
            named: Vec::new(),
        }
    }

    fn skip(&mut self, line: u64, column: &str, reason: RowSkip) {
        *self.skipped.entry(reason).or_default() += 1;
        if self.named.len() < NAMED_SKIPS {
            self.named.push(SkippedRow { line, column: column.to_owned(), reason });
        }
    }

    /// The rows collected, or why there are none; `path` names the input. A named column the
    /// table does not have is an error naming the flag and the columns there are.
    pub fn finish(self, path: &str) -> Result<Collected, QualityError> {
        let wanted = [
            ("--ground-truth-attribute", Some(&self.attrs.ground_truth)),
            ("--inference-attribute", self.attrs.inference.as_ref()),
            ("--probability-attribute", self.attrs.probability.as_ref()),
        ];
        for (i, (flag, name)) in wanted.iter().enumerate() {
            if let (Some(name), None) = (name, self.cols[i]) {
                return Err(QualityError::MissingColumn {
                    path: path.to_owned(),
                    flag,
                    name: (*name).clone(),
                    columns: self.names.clone(),
                });
            }
        }
        let rows = self.rows;
        if rows.is_empty() {
            return Err(QualityError::NoRows { path: path.to_owned(), skipped: self.named });
        }
        Ok(Collected { rows, skipped: self.skipped, named: self.named })
    }

    fn column_of(&self, i: usize) -> &str {
        let name = [Some(&self.attrs.ground_truth), self.attrs.inference.as_ref(), self.attrs.probability.as_ref()][i];
        name.map(String::as_str).unwrap_or_default()
    }
}

/// What a collector gathered.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    /// The usable rows.
    pub rows: LabelledRows,
    /// Rows left out, by reason.
    pub skipped: std::collections::BTreeMap<RowSkip, u64>,
    /// The first [`NAMED_SKIPS`] of them.
    pub named: Vec<SkippedRow>,
}

impl RowSink for RowCollector {
    fn columns(&self) -> &[String] {
        &self.names
    }

    fn add_column(&mut self, name: String, path: &str) -> Result<usize, BuildError> {
        let idx = push_column(&mut self.names, name, path)?;
        for (i, want) in
            [Some(&self.attrs.ground_truth), self.attrs.inference.as_ref(), self.attrs.probability.as_ref()]
                .into_iter()
                .enumerate()
        {
            if want == Some(&self.names[idx]) {
                self.cols[i] = Some(idx);
            }
        }
        Ok(idx)
    }

    fn value(&mut self, col: usize, value: &Value, _string_column: bool) {
        if self.cols[0] == Some(col) {
            self.cells.label = Some(owned(value));
        }
        if self.cols[1] == Some(col) {
            self.cells.inference = Some(owned(value));
        }
        if self.cols[2] == Some(col) {
            self.cells.probability = Some(owned(value));
        }
    }

    fn absent(&mut self, _col: usize) {}

    fn end_row(&mut self, line: u64) {
        let cells = std::mem::take(&mut self.cells);
        match labelled_row(
            self.problem,
            self.attrs.probability_threshold,
            cells.label.as_ref(),
            cells.inference.as_ref(),
            cells.probability.as_ref(),
        ) {
            Ok(row) => self.rows.push(row),
            Err((reason, which)) => {
                // A missing prediction of a binary job without an inference column is the
                // probability column's.
                let which = match which {
                    Which::Inference if self.attrs.inference.is_none() => Which::Probability,
                    w => w,
                };
                let column = self.column_of(which as usize).to_owned();
                self.skip(line, &column, reason);
            }
        }
    }
}
