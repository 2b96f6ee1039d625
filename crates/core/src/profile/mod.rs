//! Per-feature, per-window statistics that merge.
//!
//! A [`FeatureProfile`] keeps counts, Deequ type counts, moments, a Deequ KLL sketch, capped
//! category counts and a HyperLogLog distinct count. Memory is bounded per feature (the sketch
//! keeps about 11,000 numbers at most, categories at most [`categories::DEFAULT_CAP`] values, the
//! HyperLogLog 4 KB), whatever the number of rows.
//!
//! Merge law: `merge(profile(a), profile(b))` equals `profile(a ++ b)`: exactly for counts,
//! categories and the distinct sketch, within float rounding for moments, within the KLL error
//! bound for quantiles. The property tests at the bottom check it.

pub mod categories;
pub mod hll;
pub mod kll;
mod moments;
mod radix;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use self::categories::Categories;
pub use self::hll::Hll;
pub use self::kll::{Kll, WeightedCdf};
pub use self::moments::Moments;
use crate::payload::{Value, ValueType};

/// Counts of present values by Deequ type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    /// Values matching the Integral pattern.
    pub integral: u64,
    /// Values matching the Fractional pattern.
    pub fractional: u64,
    /// `true` / `false`.
    pub boolean: u64,
    /// Anything else.
    pub string: u64,
}

impl TypeCounts {
    /// Returns the number of present values.
    pub fn total(&self) -> u64 {
        self.integral + self.fractional + self.boolean + self.string
    }

    /// Returns the count of one type.
    pub fn get(&self, t: ValueType) -> u64 {
        match t {
            ValueType::Integral => self.integral,
            ValueType::Fractional => self.fractional,
            ValueType::Boolean => self.boolean,
            ValueType::String => self.string,
        }
    }

    fn merge(&mut self, o: &TypeCounts) {
        self.integral += o.integral;
        self.fractional += o.fractional;
        self.boolean += o.boolean;
        self.string += o.string;
    }

    /// Returns the type Deequ infers for the column (`DataTypeHistogram.determineType`):
    /// all missing is Unknown; any string, or booleans mixed with numbers, is String; booleans
    /// only is Boolean; any fractional is Fractional; otherwise Integral.
    pub fn inferred(&self) -> InferredType {
        let numbers = self.integral + self.fractional;
        if self.total() == 0 {
            InferredType::Unknown
        } else if self.string > 0 || (self.boolean > 0 && numbers > 0) {
            InferredType::String
        } else if self.boolean > 0 {
            InferredType::Boolean
        } else if self.fractional > 0 {
            InferredType::Fractional
        } else {
            InferredType::Integral
        }
    }
}

/// A column type as Model Monitor names it in `statistics.json` and `constraints.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InferredType {
    /// Whole numbers.
    Integral,
    /// Real numbers.
    Fractional,
    /// Text (or anything mixed).
    String,
    /// `true` / `false` only.
    Boolean,
    /// No value present.
    Unknown,
}

impl InferredType {
    /// Parses Model Monitor's spelling; unknown names map to `Unknown`.
    pub fn parse(s: &str) -> InferredType {
        match s {
            "Integral" => InferredType::Integral,
            "Fractional" => InferredType::Fractional,
            "String" => InferredType::String,
            "Boolean" => InferredType::Boolean,
            _ => InferredType::Unknown,
        }
    }

    /// Returns Model Monitor's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InferredType::Integral => "Integral",
            InferredType::Fractional => "Fractional",
            InferredType::String => "String",
            InferredType::Boolean => "Boolean",
            InferredType::Unknown => "Unknown",
        }
    }

    /// Returns whether numeric statistics (KLL) describe this type.
    pub fn is_numeric(self) -> bool {
        matches!(self, InferredType::Integral | InferredType::Fractional)
    }

    /// Returns whether a value of type `t` conforms to a column of this type, as the
    /// `data_type_check` counts it: an integer is a valid Fractional, anything is a valid String.
    pub fn accepts(self, t: ValueType) -> bool {
        match self {
            InferredType::Integral => t == ValueType::Integral,
            InferredType::Fractional => matches!(t, ValueType::Integral | ValueType::Fractional),
            InferredType::Boolean => t == ValueType::Boolean,
            InferredType::String | InferredType::Unknown => true,
        }
    }
}

/// Statistics of one feature over a set of rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    /// Rows where the value was missing (empty, null, absent, or not finite).
    pub missing: u64,
    /// Of `missing`: values that were NaN or infinite.
    pub non_finite: u64,
    /// Of `missing`: rows whose object had no member of this name (JSON by-name layout).
    pub absent: u64,
    /// Present values by Deequ type.
    pub types: TypeCounts,
    /// Moments of numeric values.
    pub moments: Moments,
    /// Quantile sketch of numeric values.
    pub kll: Kll,
    /// Counts of text and boolean values (and of numbers' text when `numbers_as_categories`).
    pub categories: Categories,
    /// Distinct values (numbers by value, text by content).
    pub distinct: Hll,
}

impl FeatureProfile {
    /// Returns the number of present values.
    pub fn present(&self) -> u64 {
        self.types.total()
    }

    /// Returns present / (present + missing); `None` when no row was seen.
    pub fn completeness(&self) -> Option<f64> {
        let total = self.present() + self.missing;
        (total > 0).then(|| self.present() as f64 / total as f64)
    }

    /// Adds one value. `numbers_as_categories` also counts numbers by their text (used when the
    /// baseline treats the feature as a string, e.g. zip codes).
    #[inline]
    pub fn observe(&mut self, v: &Value<'_>, numbers_as_categories: bool) {
        match v {
            Value::Missing => self.missing += 1,
            Value::NonFinite => {
                self.missing += 1;
                self.non_finite += 1;
            }
            Value::Number { value, integral, text } => {
                if *integral {
                    self.types.integral += 1;
                } else {
                    self.types.fractional += 1;
                }
                self.moments.update(*value);
                self.kll.update(*value);
                self.distinct.insert_hash(hll::hash_f64(*value));
                if numbers_as_categories {
                    self.categories.add(text, 1);
                }
            }
            Value::Bool(b) => {
                self.types.boolean += 1;
                self.observe_category(if *b { "true" } else { "false" });
            }
            Value::Text(s) => {
                self.types.string += 1;
                self.observe_category(s);
            }
        }
    }

    #[inline]
    fn observe_category(&mut self, s: &str) {
        let h = hll::hash_bytes(s.as_bytes());
        self.distinct.insert_hash(h);
        self.categories.add_hashed(s, h, 1);
    }

    /// Drops the sketch's cached CDF and spare capacity (see [`Kll::trim`]).
    pub fn trim(&mut self) {
        self.kll.trim();
    }

    /// Records a row whose object had no member for this feature.
    pub fn observe_absent(&mut self) {
        self.missing += 1;
        self.absent += 1;
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: &FeatureProfile) {
        self.missing += other.missing;
        self.non_finite += other.non_finite;
        self.absent += other.absent;
        self.types.merge(&other.types);
        self.moments.merge(&other.moments);
        self.kll.merge(&other.kll);
        self.categories.merge(&other.categories);
        self.distinct.merge(&other.distinct);
    }

    /// Returns the estimated number of distinct present values (exact while the category
    /// counter has not overflowed and holds every value).
    pub fn distinct_estimate(&self) -> f64 {
        let cat_total = self.categories.total();
        if self.categories.overflow() == 0 && cat_total == self.present() && cat_total > 0 {
            self.categories.len() as f64
        } else {
            self.distinct.estimate()
        }
    }
}

/// Why a record, row or value was not profiled (or profiled only in part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Record: the line is not a JSON capture record.
    MalformedLine,
    /// Record: a required field (time, capture data) is absent.
    MissingField,
    /// Record: `inferenceTime` is not an RFC 3339 time.
    BadTime,
    /// Record: a body that does not decode (bad BASE64, CSV or JSON).
    UndecodablePayload,
    /// Record: a body of a kind driftwatch does not read (e.g. `application/x-npy`).
    UnsupportedPayload,
    /// Record: a line longer than the bound on one record's size (decoding it whole would take
    /// about twelve times its size in memory).
    RecordTooLarge,
    /// Record: its window had already closed when it was read (see the design note on lateness).
    LateRecord,
    /// Row: its number of columns differs from the baseline's.
    ColumnCount,
    /// Row: the response had a different number of rows than the request, so output columns
    /// are missing for these rows (the row is still profiled).
    UnpairedOutput,
    /// Value: NaN or infinite; counted as missing (the row is still profiled).
    NonFiniteValue,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 10] = [
        SkipReason::MalformedLine,
        SkipReason::MissingField,
        SkipReason::BadTime,
        SkipReason::UndecodablePayload,
        SkipReason::UnsupportedPayload,
        SkipReason::RecordTooLarge,
        SkipReason::LateRecord,
        SkipReason::ColumnCount,
        SkipReason::UnpairedOutput,
        SkipReason::NonFiniteValue,
    ];

    /// Returns the snake_case name used in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::MalformedLine => "malformed_line",
            SkipReason::MissingField => "missing_field",
            SkipReason::BadTime => "bad_time",
            SkipReason::UndecodablePayload => "undecodable_payload",
            SkipReason::UnsupportedPayload => "unsupported_payload",
            SkipReason::RecordTooLarge => "record_too_large",
            SkipReason::LateRecord => "late_record",
            SkipReason::ColumnCount => "column_count",
            SkipReason::UnpairedOutput => "unpaired_output",
            SkipReason::NonFiniteValue => "non_finite_value",
        }
    }

    /// Returns whether the whole record was left out (as opposed to a row or a value).
    pub fn drops_record(self) -> bool {
        matches!(
            self,
            SkipReason::MalformedLine
                | SkipReason::MissingField
                | SkipReason::BadTime
                | SkipReason::UndecodablePayload
                | SkipReason::UnsupportedPayload
                | SkipReason::RecordTooLarge
                | SkipReason::LateRecord
        )
    }
}

/// Counts by [`SkipReason`]; only non-zero counts are serialised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SkipCounts(BTreeMap<SkipReason, u64>);

impl SkipCounts {
    /// Adds `n` to a reason.
    pub fn add(&mut self, reason: SkipReason, n: u64) {
        if n > 0 {
            *self.0.entry(reason).or_default() += n;
        }
    }

    /// Returns the count of one reason.
    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: &SkipCounts) {
        for (r, n) in &other.0 {
            self.add(*r, *n);
        }
    }

    /// Iterates over non-zero counts in report order.
    pub fn iter(&self) -> impl Iterator<Item = (SkipReason, u64)> + '_ {
        self.0.iter().map(|(r, n)| (*r, *n))
    }

    /// Returns the number of records dropped whole.
    pub fn records_dropped(&self) -> u64 {
        self.iter().filter(|(r, _)| r.drops_record()).map(|(_, n)| n).sum()
    }

    /// Returns the total over all reasons.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Everything known about one stream's rows in one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowProfile {
    /// Capture records whose rows were profiled.
    pub records: u64,
    /// Rows profiled (one request may hold many).
    pub rows: u64,
    /// One profile per baseline feature, in baseline order.
    pub features: Vec<FeatureProfile>,
    /// Rows by their number of columns, for positional layouts (the baseline's count included).
    pub column_counts: BTreeMap<u32, u64>,
    /// Rows carrying a request column the baseline does not have, by column name (named
    /// layouts) or by `_cN` position (positional layouts): a schema break.
    pub extra_columns: BTreeMap<String, u64>,
    /// Named layouts: rows whose response carried a field that is not a baseline feature, by
    /// field name (`response[N]` for a value without a name): the model's output, left aside.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, u64>,
    /// Header rows the client sent at the top of a CSV request, read past (not data).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub header_rows: u64,
    /// What was left out, by reason.
    pub skipped: SkipCounts,
    /// Positional layouts: a profile per position of rows exactly one column short of the
    /// baseline (they are skipped as rows), so that the missing column can be inferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_rows: Option<Vec<FeatureProfile>>,
}

impl WindowProfile {
    /// Creates an empty profile for `n_features` baseline features.
    pub fn new(n_features: usize) -> Self {
        WindowProfile { features: vec![FeatureProfile::default(); n_features], ..Default::default() }
    }

    /// Merges `other` into `self`; both must describe the same features.
    pub fn merge(&mut self, other: &WindowProfile) {
        debug_assert_eq!(self.features.len(), other.features.len());
        self.records += other.records;
        self.rows += other.rows;
        for (a, b) in self.features.iter_mut().zip(&other.features) {
            a.merge(b);
        }
        for (k, v) in &other.column_counts {
            *self.column_counts.entry(*k).or_default() += v;
        }
        for (k, v) in &other.extra_columns {
            *self.extra_columns.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.outputs {
            *self.outputs.entry(k.clone()).or_default() += v;
        }
        self.header_rows += other.header_rows;
        self.skipped.merge(&other.skipped);
        match (&mut self.short_rows, &other.short_rows) {
            (Some(a), Some(b)) => a.iter_mut().zip(b).for_each(|(x, y)| x.merge(y)),
            (None, Some(b)) => self.short_rows = Some(b.clone()),
            _ => {}
        }
    }

    /// Builds every sketch's CDF once, for the comparisons of a closed window.
    pub fn cache_cdfs(&mut self) {
        for f in self.features.iter_mut().chain(self.short_rows.iter_mut().flatten()) {
            f.kll.cache_cdf();
        }
    }

    /// Drops cached CDFs and spare capacity, for profiles that are kept but not compared again.
    pub fn trim(&mut self) {
        for f in self.features.iter_mut().chain(self.short_rows.iter_mut().flatten()) {
            f.trim();
        }
    }

    /// Restores derived sketch fields after deserialization (checkpoints).
    pub fn rebuild(&mut self) {
        for f in self.features.iter_mut().chain(self.short_rows.iter_mut().flatten()) {
            f.kll.rebuild();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::borrow::Cow;

    fn value_strategy() -> impl Strategy<Value = Value<'static>> {
        prop_oneof![
            3 => (-1.0e6f64..1.0e6).prop_map(|v| Value::Number { value: v, integral: false, text: Cow::Owned(v.to_string()) }),
            2 => (-50i64..50).prop_map(|v| Value::Number { value: v as f64, integral: true, text: Cow::Owned(v.to_string()) }),
            1 => "[a-e]{1,2}".prop_map(|s| Value::Text(Cow::Owned(s))),
            1 => any::<bool>().prop_map(Value::Bool),
            1 => Just(Value::Missing),
            1 => Just(Value::NonFinite),
        ]
    }

    fn profile(values: &[Value<'_>], cap: usize) -> FeatureProfile {
        let mut p = FeatureProfile { categories: Categories::with_cap(cap), ..Default::default() };
        for v in values {
            p.observe(v, true);
        }
        p
    }

    fn assert_merge_law(a: &[Value<'static>], b: &[Value<'static>], cap: usize) -> Result<(), TestCaseError> {
        let mut merged = profile(a, cap);
        merged.merge(&profile(b, cap));
        let all: Vec<_> = a.iter().chain(b).cloned().collect();
        let whole = profile(&all, cap);
        prop_assert_eq!(merged.missing, whole.missing);
        prop_assert_eq!(merged.non_finite, whole.non_finite);
        prop_assert_eq!(merged.types, whole.types);
        prop_assert_eq!(&merged.categories, &whole.categories);
        prop_assert_eq!(&merged.distinct, &whole.distinct);
        let (m, w) = (merged.moments, whole.moments);
        prop_assert_eq!(m.n, w.n);
        prop_assert_eq!(m.min.to_bits(), w.min.to_bits());
        prop_assert_eq!(m.max.to_bits(), w.max.to_bits());
        let tol = |x: f64| 1e-9 * (1.0 + x.abs());
        prop_assert!((m.mean - w.mean).abs() <= tol(w.mean), "mean {} vs {}", m.mean, w.mean);
        prop_assert!((m.sum - w.sum).abs() <= 1e-6 * (1.0 + w.sum.abs()), "sum {} vs {}", m.sum, w.sum);
        prop_assert!((m.m2 - w.m2).abs() <= 1e-7 * (1.0 + w.m2.abs()), "m2 {} vs {}", m.m2, w.m2);
        // Quantiles: ranks agree within the sketch's error bound (1% of the count).
        let (cm, cw) = (merged.kll.cdf(), whole.kll.cdf());
        prop_assert_eq!(cm.total(), cw.total());
        let n = cw.total();
        if n > 0.0 {
            for q in [0.05, 0.25, 0.5, 0.75, 0.95] {
                let x = cw.quantile(q).unwrap_or(0.0);
                let diff = (cm.rank(x) - cw.rank(x)).abs() / n;
                prop_assert!(diff <= 0.01, "rank at q {} differs by {}", q, diff);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn merge_equals_profile_of_concatenation(
            a in proptest::collection::vec(value_strategy(), 0..600),
            b in proptest::collection::vec(value_strategy(), 0..600),
            cap in 1usize..20,
        ) {
            assert_merge_law(&a, &b, cap)?;
        }

        #[test]
        fn merge_law_holds_past_sketch_compaction(
            seed in 0u64..1000,
            na in 0usize..12_000,
            nb in 0usize..12_000,
        ) {
            let gen = |n: usize, s: u64| -> Vec<Value<'static>> {
                (0..n).map(|i| {
                    let h = hll::mix64(s ^ (i as u64).wrapping_mul(0x9e37));
                    let v = (h % 100_000) as f64 / 7.0;
                    Value::Number { value: v, integral: false, text: Cow::Owned(String::new()) }
                }).collect()
            };
            assert_merge_law(&gen(na, seed), &gen(nb, seed + 1), 10)?;
        }
    }

    #[test]
    fn inferred_type_rules() {
        let t = |integral, fractional, boolean, string| TypeCounts { integral, fractional, boolean, string }.inferred();
        assert_eq!(t(0, 0, 0, 0), InferredType::Unknown);
        assert_eq!(t(5, 0, 0, 0), InferredType::Integral);
        assert_eq!(t(5, 1, 0, 0), InferredType::Fractional);
        assert_eq!(t(5, 1, 0, 1), InferredType::String);
        assert_eq!(t(1, 0, 3, 0), InferredType::String);
        assert_eq!(t(0, 0, 3, 0), InferredType::Boolean);
    }

    #[test]
    fn window_merge_and_serde() {
        let mut a = WindowProfile::new(2);
        a.features[0].observe(&Value::from_text("1.5"), false);
        a.skipped.add(SkipReason::BadTime, 2);
        a.column_counts.insert(2, 1);
        let mut b = WindowProfile::new(2);
        b.features[1].observe(&Value::from_text("x"), false);
        b.skipped.add(SkipReason::BadTime, 1);
        b.extra_columns.insert("_c2".into(), 4);
        a.merge(&b);
        assert_eq!(a.skipped.get(SkipReason::BadTime), 3);
        assert_eq!(a.features[1].types.string, 1);
        let json = serde_json::to_string(&a).unwrap();
        let mut back: WindowProfile = serde_json::from_str(&json).unwrap();
        back.rebuild();
        assert_eq!(back, a);
    }
}
