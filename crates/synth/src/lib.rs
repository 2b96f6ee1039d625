//! Synthetic Data Capture streams with known ground truth.
//!
//! Used for the bundled example, the scenario suite that scores the classifier, and benchmarks.
//! Everything is deterministic from a seed (splitmix64), so a scenario is the same on every
//! machine. A stream has a daily traffic cycle (quiet nights), multi-row CSV requests, a model
//! score in the response, and at most one scripted change.

pub mod labels;
pub mod suite;

use std::fmt::Write as _;

use driftwatch_core::time::{Duration, Timestamp};

pub use driftwatch_core::testing::Rng;

/// How a feature's values are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureKind {
    /// Normal values written with `decimals` decimals.
    Numeric {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
        /// Decimals written.
        decimals: usize,
    },
    /// Skewed positive values: `median * exp(sigma * normal)`, written with `decimals` decimals.
    LogNormal {
        /// Median.
        median: f64,
        /// Log-scale standard deviation.
        sigma: f64,
        /// Decimals written.
        decimals: usize,
    },
    /// Whole numbers: a rounded normal clamped to `[lo, hi]`.
    Integer {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
        /// Smallest value.
        lo: i64,
        /// Largest value.
        hi: i64,
    },
    /// One of `values` with `weights`.
    Category {
        /// The values.
        values: Vec<String>,
        /// Their weights.
        weights: Vec<f64>,
    },
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    /// Column name.
    pub name: String,
    /// Distribution.
    pub kind: FeatureKind,
}

impl FeatureSpec {
    /// A numeric column.
    pub fn numeric(name: &str, mean: f64, sd: f64, decimals: usize) -> Self {
        FeatureSpec { name: name.into(), kind: FeatureKind::Numeric { mean, sd, decimals } }
    }
    /// A skewed positive column.
    pub fn lognormal(name: &str, median: f64, sigma: f64, decimals: usize) -> Self {
        FeatureSpec { name: name.into(), kind: FeatureKind::LogNormal { median, sigma, decimals } }
    }
    /// An integer column.
    pub fn integer(name: &str, mean: f64, sd: f64, lo: i64, hi: i64) -> Self {
        FeatureSpec { name: name.into(), kind: FeatureKind::Integer { mean, sd, lo, hi } }
    }
    /// A categorical column.
    pub fn category(name: &str, values: &[(&str, f64)]) -> Self {
        FeatureSpec {
            name: name.into(),
            kind: FeatureKind::Category {
                values: values.iter().map(|v| v.0.to_string()).collect(),
                weights: values.iter().map(|v| v.1).collect(),
            },
        }
    }
}

/// A scripted change. Times are hours since the stream's start.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Nothing changes.
    None,
    /// The mean of a numeric feature jumps by `shift_sd` standard deviations.
    MeanStep {
        /// Feature index.
        feature: usize,
        /// When.
        at: f64,
        /// Size in standard deviations.
        shift_sd: f64,
    },
    /// A numeric feature is written in other units (values times `factor`) for `hours`
    /// (infinite: for good).
    UnitChange {
        /// Feature index.
        feature: usize,
        /// When.
        at: f64,
        /// For how long.
        hours: f64,
        /// Factor, e.g. 100.
        factor: f64,
    },
    /// A categorical feature's codes are renamed (their case flips).
    CategoryRename {
        /// Feature index.
        feature: usize,
        /// When.
        at: f64,
    },
    /// A feature goes empty (null) from `at` on, for `hours` (infinite: for good).
    GoesNull {
        /// Feature index.
        feature: usize,
        /// When.
        at: f64,
        /// For how long.
        hours: f64,
    },
    /// A feature's column disappears from requests.
    ColumnDropped {
        /// Feature index.
        feature: usize,
        /// When.
        at: f64,
    },
    /// A numeric mean creeps linearly by `total_sd` over `hours` (then stays).
    MeanRamp {
        /// Feature indices moving together (correlated drift when more than one).
        features: Vec<usize>,
        /// Start.
        at: f64,
        /// Length of the ramp.
        hours: f64,
        /// Total shift in standard deviations.
        total_sd: f64,
    },
    /// A sub-population (mean shifted by `offset_sd`) grows to `share` over `hours`.
    Mixture {
        /// Feature index.
        feature: usize,
        /// Start.
        at: f64,
        /// Length of the growth.
        hours: f64,
        /// Final share of the sub-population.
        share: f64,
        /// Its mean offset in standard deviations.
        offset_sd: f64,
    },
    /// Category weights move linearly to `to` over `hours`.
    ShareDrift {
        /// Feature index.
        feature: usize,
        /// Start.
        at: f64,
        /// Length.
        hours: f64,
        /// Final weights.
        to: Vec<f64>,
    },
    /// A short excursion of the mean that returns.
    Blip {
        /// Feature index.
        feature: usize,
        /// Start.
        at: f64,
        /// Length.
        hours: f64,
        /// Size in standard deviations.
        shift_sd: f64,
    },
}

impl Change {
    /// Moves the change `hours` later.
    pub fn delay(&mut self, hours: f64) {
        match self {
            Change::None => {}
            Change::MeanStep { at, .. }
            | Change::UnitChange { at, .. }
            | Change::CategoryRename { at, .. }
            | Change::GoesNull { at, .. }
            | Change::ColumnDropped { at, .. }
            | Change::MeanRamp { at, .. }
            | Change::Mixture { at, .. }
            | Change::ShareDrift { at, .. }
            | Change::Blip { at, .. } => *at += hours,
        }
    }
}

/// A recurring pattern of one feature: normal traffic, not drift. Who calls at night is not who
/// calls at noon, and weekends differ from weekdays; training data pools them all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cycle {
    /// Feature index.
    pub feature: usize,
    /// Numeric: the mean's shift at the night peak, in standard deviations (log-scale sigmas
    /// for skewed features). It follows [`night`]: full at 03:00 UTC, none at 15:00.
    pub night_sd: f64,
    /// Numeric: the mean's shift on Saturdays and Sundays (UTC), in standard deviations.
    pub weekend_sd: f64,
    /// Categorical: the weights at the night peak (the feature's own weights hold at 15:00).
    pub night_weights: Option<Vec<f64>>,
    /// Categorical: the weights on Saturdays and Sundays (mixed in after the daily cycle).
    pub weekend_weights: Option<Vec<f64>>,
}

/// How far into the night `hour_of_day` (fractional, UTC) is: 1 at 03:00, 0 at 15:00, a cosine
/// between.
pub fn night(hour_of_day: f64) -> f64 {
    0.5 + 0.5 * (2.0 * std::f64::consts::PI * (hour_of_day - 3.0) / 24.0).cos()
}

/// Where in the cycles a moment falls: the hour of the day (fractional) and whether it is a
/// Saturday or Sunday (UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Fractional hour of the day, 0 to 24.
    pub hour: f64,
    /// Saturday or Sunday.
    pub weekend: bool,
}

impl Phase {
    /// The phase of a timestamp.
    pub fn of(t: Timestamp) -> Phase {
        let day_ms = 86_400_000i64;
        let ms = t.millis();
        let hour = ms.rem_euclid(day_ms) as f64 / 3_600_000.0;
        // 1970-01-01 was a Thursday: day 2 of the week counted from Saturday = 0.
        let weekday_from_saturday = (ms.div_euclid(day_ms) + 5).rem_euclid(7);
        Phase { hour, weekend: weekday_from_saturday < 2 }
    }
}

/// What a classifier should say about a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// `none`, `sudden`, `gradual` or `blip`.
    pub kind: &'static str,
    /// When the change starts (hours since start).
    pub onset_hours: Option<f64>,
    /// Features that change.
    pub features: Vec<String>,
}

/// How the stream's requests and responses are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Payload {
    /// CSV rows in, one score per row out (`text/csv`), as SageMaker's built-in algorithms do;
    /// the baseline is built from the training data with the score first (Model Monitor's
    /// convention).
    #[default]
    Csv,
    /// JSON objects by feature name in (`{"instances": [{"income": 52000, ...}]}`, a column that
    /// is null today written as `null`, a dropped one left out) and
    /// `{"predictions": [{"score": 0.73}]}` out, as a framework container does; training data
    /// has no score column.
    JsonObjects,
}

/// A synthetic stream.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Endpoint name.
    pub endpoint: String,
    /// Variant name.
    pub variant: String,
    /// First hour.
    pub start: Timestamp,
    /// Number of hours.
    pub hours: u32,
    /// Requests per hour at the daily peak (16:00 UTC); nights get 15% of it.
    pub peak_rate: f64,
    /// Largest number of rows per request.
    pub max_rows: u32,
    /// Input columns.
    pub features: Vec<FeatureSpec>,
    /// The scripted changes, in time order (usually one).
    pub changes: Vec<Change>,
    /// Recurring patterns (daily and weekly cycles); training data pools every phase.
    pub cycles: Vec<Cycle>,
    /// Seed.
    pub seed: u64,
    /// How requests and responses are written.
    pub payload: Payload,
}

impl StreamSpec {
    /// Returns the ground truth of each scripted change (`none` when there is none).
    pub fn truth(&self) -> Vec<Truth> {
        let name = |i: &usize| self.features[*i].name.clone();
        let mut out: Vec<Truth> = self
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::None => None,
                Change::MeanStep { feature, at, .. }
                | Change::UnitChange { feature, at, .. }
                | Change::CategoryRename { feature, at }
                | Change::ColumnDropped { feature, at }
                | Change::GoesNull { feature, at, .. } => {
                    Some(Truth { kind: "sudden", onset_hours: Some(*at), features: vec![name(feature)] })
                }
                Change::MeanRamp { features, at, .. } => Some(Truth {
                    kind: "gradual",
                    onset_hours: Some(*at),
                    features: features.iter().map(name).collect(),
                }),
                Change::Mixture { feature, at, .. } | Change::ShareDrift { feature, at, .. } => {
                    Some(Truth { kind: "gradual", onset_hours: Some(*at), features: vec![name(feature)] })
                }
                Change::Blip { feature, at, .. } => {
                    Some(Truth { kind: "blip", onset_hours: Some(*at), features: vec![name(feature)] })
                }
            })
            .collect();
        if out.is_empty() {
            out.push(Truth { kind: "none", onset_hours: None, features: vec![] });
        }
        out
    }

    /// The model: a fixed logistic score of the numeric inputs (the response column).
    fn score(&self, values: &[Option<f64>]) -> f64 {
        let mut z = -0.5;
        for (i, (f, v)) in self.features.iter().zip(values).enumerate() {
            let w = if i % 2 == 0 { 0.8 } else { -0.5 };
            match (&f.kind, v) {
                (FeatureKind::Numeric { mean, sd, .. } | FeatureKind::Integer { mean, sd, .. }, Some(v)) => {
                    z += w * (v - mean) / sd.max(1e-9);
                }
                (FeatureKind::LogNormal { median, sigma, .. }, Some(lv)) => {
                    z += w * (lv - median.ln()) / sigma.max(1e-9)
                }
                _ => {}
            }
        }
        1.0 / (1.0 + (-z).exp())
    }

    /// Returns the training data as CSV with a header, the model score first (Model Monitor's
    /// convention for baselines of captured output + input).
    pub fn baseline_csv(&self, rows: usize) -> String {
        let mut rng = Rng::new(self.seed ^ 0xba5e);
        let with_score = self.payload == Payload::Csv;
        let names = self.features.iter().map(|f| f.name.as_str());
        let header: Vec<&str> =
            if with_score { std::iter::once("score").chain(names).collect() } else { names.collect() };
        let mut out = header.join(",");
        out.push('\n');
        let mut cells = Vec::new();
        for _ in 0..rows {
            // Training data pools every phase of the cycles, as traffic brings them.
            let phase = (!self.cycles.is_empty()).then(|| training_phase(&mut rng));
            let (text, nums) = self.draw_row(&mut rng, -1.0, phase, &mut cells);
            if with_score {
                let _ = write!(out, "{:.6},", self.score(&nums));
            }
            out.push_str(&text.join(","));
            out.push('\n');
        }
        out
    }

    /// Draws one row at `t` hours (negative: training data, no change) and `phase` of the
    /// cycles (`None`: no cycle applies). Returns the text of each column (absent columns
    /// omitted) and the numeric values the model sees.
    fn draw_row(
        &self,
        rng: &mut Rng,
        t: f64,
        phase: Option<Phase>,
        scratch: &mut Vec<Option<f64>>,
    ) -> (Vec<String>, Vec<Option<f64>>) {
        scratch.clear();
        let mut text = Vec::with_capacity(self.features.len());
        let mut nums = Vec::with_capacity(self.features.len());
        for (i, f) in self.features.iter().enumerate() {
            let active = |at: f64| t >= at;
            if self.dropped(i, t) {
                nums.push(None);
                continue;
            }
            let null = self
                .changes
                .iter()
                .any(|c| matches!(c, Change::GoesNull { feature, at, hours } if *feature == i && active(*at) && t < at + hours));
            if null {
                text.push(String::new());
                nums.push(None);
                continue;
            }
            let cycle = phase.and_then(|ph| self.cycles.iter().find(|c| c.feature == i).map(|c| (c, ph)));
            let cycle_sd =
                cycle.map_or(0.0, |(c, ph)| c.night_sd * night(ph.hour) + if ph.weekend { c.weekend_sd } else { 0.0 });
            match &f.kind {
                FeatureKind::Numeric { mean, sd, decimals } => {
                    let v = self.numeric_value(rng, i, *mean + cycle_sd * sd, *sd, t) * self.unit_factor(i, t);
                    text.push(format!("{v:.decimals$}"));
                    nums.push(Some(v));
                }
                FeatureKind::LogNormal { median, sigma, decimals } => {
                    // Shifts act on the log scale: one "sd" is one sigma.
                    let v =
                        median * self.numeric_value(rng, i, cycle_sd * sigma, *sigma, t).exp() * self.unit_factor(i, t);
                    text.push(format!("{v:.decimals$}"));
                    nums.push(Some(v.ln()));
                }
                FeatureKind::Integer { mean, sd, lo, hi } => {
                    let v =
                        self.numeric_value(rng, i, *mean + cycle_sd * sd, *sd, t).round().clamp(*lo as f64, *hi as f64);
                    let factor = self.unit_factor(i, t);
                    if factor == 1.0 {
                        text.push(format!("{}", v as i64));
                    } else if factor > 1.0 {
                        text.push(format!("{}", (v * factor) as i64));
                    } else {
                        text.push(format!("{:.3}", v * factor));
                    }
                    nums.push(Some(v));
                }
                FeatureKind::Category { values, weights } => {
                    let moves = cycle.is_some()
                        || self
                            .changes
                            .iter()
                            .any(|c| matches!(c, Change::ShareDrift { feature, .. } if *feature == i));
                    // Cycles and drifts move shares: the weights as shares first (they need not
                    // sum to one), so that every move is in the same units.
                    let total: f64 = weights.iter().sum();
                    let shares: Vec<f64> = if moves && total > 0.0 {
                        weights.iter().map(|w| w / total).collect()
                    } else {
                        weights.clone()
                    };
                    let mut w: Vec<f64> = shares.clone();
                    if let Some((c, ph)) = cycle {
                        let mix = |w: &mut Vec<f64>, to: &Option<Vec<f64>>, a: f64| {
                            if let Some(to) = to.as_ref().filter(|to| to.len() == w.len()) {
                                for (x, y) in w.iter_mut().zip(to) {
                                    *x += (y - *x) * a;
                                }
                            }
                        };
                        mix(&mut w, &c.night_weights, night(ph.hour));
                        mix(&mut w, &c.weekend_weights, if ph.weekend { 1.0 } else { 0.0 });
                    }
                    let base_w = w.clone();
                    for c in &self.changes {
                        if let Change::ShareDrift { feature, at, hours, to } = c {
                            if *feature == i && active(*at) {
                                let p = ((t - at) / hours).clamp(0.0, 1.0);
                                // On top of a cycle the drift moves every phase's mix by the
                                // same amount.
                                w = base_w
                                    .iter()
                                    .zip(&shares)
                                    .zip(to)
                                    .map(|((c, a), b)| (c + (b - a) * p).max(0.0))
                                    .collect();
                            }
                        }
                    }
                    let mut v = values[rng.weighted(&w)].clone();
                    if self
                        .changes
                        .iter()
                        .any(|c| matches!(c, Change::CategoryRename { feature, at } if *feature == i && active(*at)))
                    {
                        // Codes renamed: the case flips (CAR -> car, web -> WEB).
                        v = if v == v.to_lowercase() { v.to_uppercase() } else { v.to_lowercase() };
                    }
                    text.push(v);
                    nums.push(None);
                }
            }
        }
        (text, nums)
    }

    /// Whether feature `i` has been dropped from the requests at `t` hours.
    fn dropped(&self, i: usize, t: f64) -> bool {
        self.changes.iter().any(|c| matches!(c, Change::ColumnDropped { feature, at } if *feature == i && t >= *at))
    }

    /// One request row as a JSON object by feature name: numbers as numbers, categories as
    /// strings, a null column as `null`, a dropped one left out.
    fn json_row(&self, t: f64, text: &[String]) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        let present = (0..self.features.len()).filter(|i| !self.dropped(*i, t));
        for (i, cell) in present.zip(text) {
            let f = &self.features[i];
            let v = if cell.is_empty() {
                serde_json::Value::Null
            } else if matches!(f.kind, FeatureKind::Category { .. }) {
                serde_json::Value::String(cell.clone())
            } else {
                serde_json::from_str(cell).unwrap_or_else(|_| serde_json::Value::String(cell.clone()))
            };
            obj.insert(f.name.clone(), v);
        }
        serde_json::Value::Object(obj)
    }

    /// The product of the unit changes active on feature `i` at `t` hours.
    fn unit_factor(&self, i: usize, t: f64) -> f64 {
        self.changes.iter().fold(1.0, |f, c| match c {
            Change::UnitChange { feature, at, hours, factor } if *feature == i && t >= *at && t < at + hours => {
                f * factor
            }
            _ => f,
        })
    }

    fn numeric_value(&self, rng: &mut Rng, i: usize, mean: f64, sd: f64, t: f64) -> f64 {
        let mut shift = 0.0;
        for c in &self.changes {
            match c {
                Change::MeanStep { feature, at, shift_sd } if *feature == i && t >= *at => shift += shift_sd,
                Change::MeanRamp { features, at, hours, total_sd } if features.contains(&i) && t >= *at => {
                    shift += total_sd * ((t - at) / hours).clamp(0.0, 1.0);
                }
                Change::Blip { feature, at, hours, shift_sd } if *feature == i && t >= *at && t < at + hours => {
                    shift += shift_sd
                }
                Change::Mixture { feature, at, hours, share, offset_sd } if *feature == i && t >= *at => {
                    let p = share * ((t - at) / hours).clamp(0.0, 1.0);
                    if rng.uniform() < p {
                        return mean + offset_sd * sd + 0.5 * sd * rng.normal();
                    }
                }
                _ => {}
            }
        }
        mean + shift * sd + sd * rng.normal()
    }

    /// Generates the capture files of every hour: `(hour start, [(file name, contents)])`.
    /// Records within an hour are spread over files written about every 10 minutes.
    pub fn generate(&self, mut each_hour: impl FnMut(Timestamp, Vec<(String, String)>)) {
        let mut rng = Rng::new(self.seed);
        let mut cells = Vec::new();
        for h in 0..self.hours {
            let hour = self.start + Duration::from_hours(i64::from(h));
            let hod = f64::from(hour.civil().hour);
            let n = rng.poisson(self.peak_rate * traffic(hod));
            let mut times: Vec<i64> = (0..n).map(|_| (rng.uniform() * 3_600_000.0) as i64).collect();
            times.sort_unstable();
            let mut files: Vec<(String, String)> = Vec::new();
            for (k, ms) in times.iter().enumerate() {
                let t = hour + Duration::from_millis(*ms);
                let bucket = (ms / 600_000) as usize;
                while files.len() <= bucket {
                    let minute = files.len() * 10;
                    files.push((format!("{minute:02}-00-000-{:016x}.jsonl", rng.next_u64()), String::new()));
                }
                let rows = 1 + (rng.next_u64() % u64::from(self.max_rows)) as usize;
                let th = (t.millis() - self.start.millis()) as f64 / 3_600_000.0;
                let mut input = String::new();
                let mut output = String::new();
                let (mut instances, mut predictions) = (Vec::new(), Vec::new());
                for r in 0..rows {
                    let phase = (!self.cycles.is_empty()).then(|| Phase::of(t));
                    let (text, nums) = self.draw_row(&mut rng, th, phase, &mut cells);
                    let score = self.score(&nums);
                    match self.payload {
                        Payload::Csv => {
                            if r > 0 {
                                input.push('\n');
                                output.push('\n');
                            }
                            input.push_str(&text.join(","));
                            let _ = write!(output, "{score:.6}");
                        }
                        Payload::JsonObjects => {
                            instances.push(self.json_row(th, &text));
                            let rounded = (score * 1e6).round() / 1e6;
                            predictions.push(serde_json::json!({ "score": rounded }));
                        }
                    }
                }
                let (content_type, encoding) = match self.payload {
                    Payload::Csv => ("text/csv", "CSV"),
                    Payload::JsonObjects => {
                        input = serde_json::json!({ "instances": instances }).to_string();
                        output = serde_json::json!({ "predictions": predictions }).to_string();
                        ("application/json", "JSON")
                    }
                };
                let output_type = if content_type == "text/csv" { "text/csv; charset=utf-8" } else { content_type };
                let line = serde_json::json!({
                    "captureData": {
                        "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": input, "encoding": encoding},
                        "endpointOutput": {"observedContentType": output_type, "mode": "OUTPUT", "data": output, "encoding": encoding}
                    },
                    // Unique per record, as SageMaker's are (the stream's seed, the hour, the record).
                    "eventMetadata": {
                        "eventId": format!("{:016x}-{:06x}-{k}", self.seed, hour.millis() / 3_600_000),
                        "inferenceTime": t.to_string()
                    },
                    "eventVersion": "0"
                });
                let file = &mut files[bucket].1;
                file.push_str(&line.to_string());
                file.push('\n');
            }
            files.retain(|f| !f.1.is_empty());
            each_hour(hour, files);
        }
    }

    /// Writes the capture files below `root` in the Data Capture layout.
    pub fn write_capture(&self, root: &std::path::Path) -> std::io::Result<u64> {
        let mut bytes = 0u64;
        let mut err = None;
        self.generate(|hour, files| {
            if err.is_some() {
                return;
            }
            let dir =
                root.join(&self.endpoint).join(&self.variant).join(driftwatch_core::capture::layout::hour_path(hour));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                err = Some(e);
                return;
            }
            for (name, text) in files {
                bytes += text.len() as u64;
                if let Err(e) = std::fs::write(dir.join(name), text) {
                    err = Some(e);
                    return;
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(bytes),
        }
    }
}

/// The objects of the same traffic as a batch transform job with data capture would leave them,
/// one job an hour: the job's input objects (CSV, one row a line), its output objects (one line
/// per input line, with `GenerateInferenceId`'s two columns), and the capture destination's
/// manifests naming them.
#[derive(Debug, Clone, Default)]
pub struct BatchObjects {
    /// `(key below the data prefix, text)`: `in/{hour}/part-N.csv` and
    /// `out/{hour}/part-N.csv.out`.
    pub data: Vec<(String, String)>,
    /// `(key below the capture destination, text)`: `input/yyyy/mm/dd/hh/manifest.jsonl` and
    /// `output/yyyy/mm/dd/hh/manifest.jsonl`, naming objects below `data_prefix`.
    pub manifests: Vec<(String, String)>,
}

impl StreamSpec {
    /// The stream's traffic as hourly batch transform jobs (see [`BatchObjects`]): each hour's
    /// rows, in capture order, split over two input objects. The manifests name the objects as
    /// `{data_prefix}in/...` (an `s3://` prefix or a local folder ending in `/`). Only CSV
    /// payloads (a batch job's usual input).
    pub fn batch_transform(&self, data_prefix: &str) -> BatchObjects {
        assert_eq!(self.payload, Payload::Csv, "batch transform objects are generated from CSV capture");
        let mut out = BatchObjects::default();
        self.generate(|hour, files| {
            let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
            for (_, text) in files {
                for line in text.lines() {
                    let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else { continue };
                    let data = |side: &str| record["captureData"][side]["data"].as_str().unwrap_or("").to_owned();
                    inputs.extend(data("endpointInput").lines().map(str::to_owned));
                    outputs.extend(data("endpointOutput").lines().map(str::to_owned));
                }
            }
            if inputs.is_empty() {
                return;
            }
            let folder = driftwatch_core::capture::layout::hour_path(hour);
            let stamp = hour.to_string();
            let half = inputs.len().div_ceil(2);
            let (mut in_names, mut out_names) = (Vec::new(), Vec::new());
            for (part, range) in [(0, 0..half), (1, half..inputs.len())] {
                if range.is_empty() {
                    continue;
                }
                let name = format!("{}/part-{part}.csv", folder.replace('/', "-"));
                let input: String = inputs[range.clone()].iter().map(|l| format!("{l}\n")).collect();
                let output: String = range
                    .map(|i| {
                        let id = format!(
                            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                            self.seed as u32,
                            (hour.millis() / 3_600_000) as u16,
                            (i >> 12) & 0xfff,
                            i & 0xfff,
                            hour.millis()
                        );
                        format!("{},{id},{stamp}\n", outputs.get(i).map_or("", String::as_str))
                    })
                    .collect();
                out.data.push((format!("in/{name}"), input));
                out.data.push((format!("out/{name}.out"), output));
                in_names.push(serde_json::Value::String(name.clone()));
                out_names.push(serde_json::Value::String(format!("{name}.out")));
            }
            let manifest = |prefix: String, names: Vec<serde_json::Value>| {
                let mut items = vec![serde_json::json!({ "prefix": prefix })];
                items.extend(names);
                serde_json::Value::Array(items).to_string() + "\n"
            };
            out.manifests
                .push((format!("input/{folder}/manifest.jsonl"), manifest(format!("{data_prefix}in/"), in_names)));
            out.manifests
                .push((format!("output/{folder}/manifest.jsonl"), manifest(format!("{data_prefix}out/"), out_names)));
        });
        out
    }
}

/// Requests per hour relative to the daily peak at 16:00 UTC: 15% at 04:00, a cosine between.
pub fn traffic(hour_of_day: f64) -> f64 {
    0.15 + 0.85 * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * (hour_of_day - 4.0) / 24.0).cos())
}

/// A moment of a typical week drawn as traffic brings them (busy afternoons more often than
/// quiet nights), for training data that pools every phase of the cycles.
fn training_phase(rng: &mut Rng) -> Phase {
    loop {
        let hour_of_week = rng.uniform() * 168.0;
        let hour = hour_of_week % 24.0;
        if rng.uniform() < traffic(hour.floor()) {
            // Counted from Saturday 00:00: the first two days are the weekend.
            return Phase { hour, weekend: hour_of_week < 48.0 };
        }
    }
}

/// The bundled example stream (`examples/capture/`): on day 2 at 16:00 an upstream change sends
/// `loan_amount` in cents for five hours (a sudden shift, fixed the same evening); from day 3 at
/// 18:00 applicants' `income` creeps down by one standard deviation over two days (gradual).
pub fn example_spec() -> StreamSpec {
    StreamSpec {
        endpoint: "loan-scoring-prod".into(),
        variant: "AllTraffic".into(),
        start: Timestamp::from_civil(2026, 3, 1, 0, 0, 0).unwrap_or(Timestamp::from_millis(0)),
        hours: 120,
        peak_rate: 100.0,
        max_rows: 3,
        features: loan_features(),
        changes: vec![
            Change::UnitChange { feature: 0, at: 40.0, hours: 5.0, factor: 100.0 },
            Change::MeanRamp { features: vec![1], at: 66.0, hours: 48.0, total_sd: -1.0 },
        ],
        cycles: vec![],
        seed: 2026,
        payload: Payload::Csv,
    }
}

/// The feature set of the bundled loan-scoring example.
pub fn loan_features() -> Vec<FeatureSpec> {
    vec![
        FeatureSpec::numeric("loan_amount", 15_000.0, 6_000.0, 2),
        FeatureSpec::numeric("income", 62_000.0, 18_000.0, 2),
        FeatureSpec::integer("term_months", 48.0, 12.0, 12, 84),
        FeatureSpec::numeric("debt_to_income", 0.32, 0.09, 4),
        FeatureSpec::integer("credit_lines", 7.0, 3.0, 0, 30),
        FeatureSpec::category("home_ownership", &[("RENT", 0.45), ("MORTGAGE", 0.4), ("OWN", 0.15)]),
        FeatureSpec::category("purpose", &[("DEBT", 0.5), ("CAR", 0.2), ("HOME", 0.2), ("OTHER", 0.1)]),
    ]
}

/// A mixed feature set of any width for benchmarks: in turn a two-decimal number, a skewed
/// amount, a small integer, a four-decimal ratio and a category of three to six codes (so about
/// a fifth of the columns are categorical), named `f00`, `f01`, ...
pub fn bench_features(n: usize) -> Vec<FeatureSpec> {
    const CODES: [&str; 6] = ["A", "B", "C", "D", "E", "F"];
    (0..n)
        .map(|i| {
            let name = format!("f{i:02}");
            let k = i as f64;
            match i % 5 {
                0 => FeatureSpec::numeric(&name, 100.0 + 10.0 * k, 15.0 + k, 2),
                1 => FeatureSpec::lognormal(&name, 5_000.0 + 100.0 * k, 0.6, 2),
                2 => FeatureSpec::integer(&name, 8.0 + k % 7.0, 3.0, 0, 40),
                3 => FeatureSpec::numeric(&name, 0.3, 0.08, 4),
                _ => {
                    let codes = 3 + i % 4;
                    let values: Vec<(&str, f64)> =
                        CODES[..codes].iter().zip(1..).map(|(c, w)| (*c, f64::from(w))).collect();
                    FeatureSpec::category(&name, &values)
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped() {
        let spec = StreamSpec {
            endpoint: "ep".into(),
            variant: "AllTraffic".into(),
            start: Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(),
            hours: 24,
            peak_rate: 60.0,
            max_rows: 3,
            features: loan_features(),
            changes: vec![],
            cycles: vec![],
            seed: 7,
            payload: Payload::Csv,
        };
        let mut a = vec![];
        spec.generate(|h, f| a.push((h, f)));
        let mut b = vec![];
        spec.generate(|h, f| b.push((h, f)));
        assert_eq!(a, b);
        let per_hour: Vec<usize> = a.iter().map(|(_, f)| f.iter().map(|x| x.1.lines().count()).sum()).collect();
        assert!(per_hour[4] < per_hour[16], "nights are quieter: {per_hour:?}");
        let csv = spec.baseline_csv(10);
        assert!(csv.starts_with("score,loan_amount,income,term_months"));
        assert_eq!(csv.lines().count(), 11);
    }
}
