//! One window against the baseline: Model Monitor's six constraint checks and, beside them,
//! drift distances with their noise floors.
//!
//! Checks follow Model Monitor's names and thresholds (`constraints.json`):
//! - `data_type_check`: share of present values of the expected type (an integer counts as
//!   Fractional, anything as String) below `datatype_check_threshold`.
//! - `completeness_check`: share of non-missing values below the feature's `completeness`.
//! - `baseline_drift_check`: `linf_simple` / `linf_robust` (numeric, and categorical LInfinity)
//!   above the threshold, or a ChiSquared p-value below it.
//! - `missing_column_check` / `extra_column_check`: most rows (more than half) have fewer / more
//!   columns than the baseline (positional layouts), or lack / carry a named column. A handful of
//!   malformed rows are reported as skipped rows, not as a schema change.
//! - `categorical_values_check`: share of string values inside the baseline domain below
//!   `domain_content_threshold`.

pub mod distance;

use serde::Serialize;

use self::distance::{
    chi_square, linf_categorical, linf_floor, linf_numeric, linf_robust, psi_js, wasserstein_scored, CategoryCounts,
    ChiSquare, Scored,
};
use crate::baseline::{Baseline, BaselineFeature, CategoricalMethod, ComparisonMethod, Violation};
use crate::profile::{FeatureProfile, InferredType, WindowProfile};

/// Which distribution a feature is compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// KLL sketches.
    Numeric,
    /// Category frequencies.
    Categorical,
    /// The baseline has no distribution (e.g. a string with more than 120 values): checks only.
    Unmonitored,
}

/// The outcome of `baseline_drift_check` for one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftCheck {
    /// `linf_simple`, `linf_robust` or `chi_square_p_value`.
    pub metric: &'static str,
    /// The value compared.
    pub value: f64,
    /// The threshold from `constraints.json`.
    pub threshold: f64,
    /// Whether it is a violation.
    pub violated: bool,
}

/// Every number about one feature in one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    /// Feature name.
    pub name: String,
    /// How the distribution is compared.
    pub kind: FeatureKind,
    /// Type the baseline expects.
    pub expected_type: &'static str,
    /// Type the window's values suggest.
    pub observed_type: &'static str,
    /// Present values.
    pub present: u64,
    /// Missing values (including non-finite ones).
    pub missing: u64,
    /// NaN or infinite values.
    pub non_finite: u64,
    /// present / (present + missing).
    pub completeness: Option<f64>,
    /// Completeness of the baseline data.
    pub baseline_completeness: Option<f64>,
    /// Share of present values of the expected type.
    pub type_match: Option<f64>,
    /// Share of categorical values not seen in the baseline.
    pub unseen_share: Option<f64>,
    /// Baseline rows behind the distribution.
    pub baseline_count: f64,
    /// Deequ L-infinity, simple.
    pub linf_simple: Option<f64>,
    /// Deequ L-infinity, robust (simple minus its floor).
    pub linf_robust: Option<f64>,
    /// The L-infinity noise floor for these sample sizes.
    pub linf_noise_floor: Option<f64>,
    /// Population stability index.
    pub psi: Option<Scored>,
    /// Jensen-Shannon distance.
    pub js: Option<Scored>,
    /// Wasserstein-1 over the baseline standard deviation.
    pub wasserstein: Option<Scored>,
    /// Chi-square goodness of fit (categorical).
    pub chi_square: Option<ChiSquare>,
    /// Window mean of numeric values.
    pub mean: Option<f64>,
    /// Window population standard deviation.
    pub std_dev: Option<f64>,
    /// Window minimum.
    pub min: Option<f64>,
    /// Window maximum.
    pub max: Option<f64>,
    /// Window median (from the sketch).
    pub median: Option<f64>,
    /// Baseline median (from its sketch).
    pub baseline_median: Option<f64>,
    /// Model Monitor's drift check.
    pub drift_check: Option<DriftCheck>,
}

impl FeatureDrift {
    /// Returns the headline distance (L-infinity simple) and its floor, if computed.
    pub fn linf(&self) -> Option<Scored> {
        Some(Scored { value: self.linf_simple?, noise_floor: self.linf_noise_floor? })
    }
}

/// The comparison of one window with the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowDrift {
    /// One entry per baseline feature, in baseline order.
    pub features: Vec<FeatureDrift>,
    /// Model Monitor violations.
    pub violations: Vec<Violation>,
    /// When most rows are one column short: the baseline feature whose absence fits the data
    /// best (positional layouts name only the last columns as missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_column: Option<String>,
}

/// Returns a view of a window feature's categories for the categorical distances.
pub fn window_categories(p: &FeatureProfile) -> CategoryCounts<'_> {
    CategoryCounts {
        counts: p.categories.sorted().into_iter().map(|(v, c)| (v, c as f64)).collect(),
        other: p.categories.overflow() as f64,
    }
}

/// Returns a view of a baseline feature's categories for the categorical distances.
pub(crate) fn baseline_categories(f: &BaselineFeature) -> Option<CategoryCounts<'_>> {
    let cat = f.categorical.as_ref()?;
    Some(CategoryCounts { counts: cat.counts.iter().map(|(v, c)| (v.as_str(), *c)).collect(), other: 0.0 })
}

/// Compares a window with the baseline. `positional` says whether columns were mapped by
/// position (CSV, arrays) or by name (JSON objects), which decides how column checks count.
pub fn compare(baseline: &Baseline, window: &WindowProfile, positional: bool) -> WindowDrift {
    let mut features = Vec::with_capacity(baseline.features.len());
    let mut violations = Vec::new();
    for (bf, wp) in baseline.features.iter().zip(&window.features) {
        let fd = compare_feature(bf, wp);
        if bf.config.evaluate_constraints {
            feature_violations(bf, wp, &fd, &mut violations);
        }
        features.push(fd);
    }
    let missing_column = if positional { guess_missing_column(baseline, window) } else { None };
    if baseline.config.evaluate_constraints {
        column_violations(baseline, window, positional, missing_column.as_deref(), &mut violations);
    }
    WindowDrift { features, violations, missing_column }
}

/// Infers which baseline column is absent from rows one column short: for each candidate `k`,
/// positions before `k` map to themselves and positions from `k` on to the next feature; the
/// candidate whose mapping fits the baseline best (type match times one minus the distance,
/// L-infinity for numbers and total variation for categories, summed over positions) wins when
/// it is clearly ahead of the runner-up.
pub fn guess_missing_column(baseline: &Baseline, window: &WindowProfile) -> Option<String> {
    let short = window.short_rows.as_ref()?;
    let b = baseline.features.len();
    let total_short: u64 = short.first().map(|p| p.present() + p.missing).unwrap_or(0);
    if short.len() + 1 != b || total_short == 0 {
        return None;
    }
    let fit = |p: &FeatureProfile, bf: &BaselineFeature| -> f64 {
        if p.present() == 0 {
            return 0.0;
        }
        let types = if bf.expected_type == InferredType::Unknown { 1.0 } else { type_match(bf.expected_type, p) };
        let similar = if let (Some(nb), false) = (&bf.numeric, bf.is_categorical()) {
            if p.moments.n == 0 {
                0.0
            } else {
                1.0 - linf_numeric(&p.kll.cdf(), &nb.cdf)
            }
        } else if let Some(bc) = baseline_categories(bf) {
            // Total variation, not L-infinity: numbers read against a categorical column share
            // none of its values, and L-infinity would only count the largest category's share.
            1.0 - distance::total_variation(&window_categories(p), &bc)
        } else {
            0.5
        };
        types * similar
    };
    // same[j]: position j read as feature j; next[j]: position j read as feature j + 1.
    let same: Vec<f64> = (0..b - 1).map(|j| fit(&short[j], &baseline.features[j])).collect();
    let next: Vec<f64> = (0..b - 1).map(|j| fit(&short[j], &baseline.features[j + 1])).collect();
    let mut scores: Vec<(f64, usize)> =
        (0..b).map(|k| (same[..k].iter().sum::<f64>() + next[k..].iter().sum::<f64>(), k)).collect();
    scores.sort_by(|x, y| y.0.total_cmp(&x.0));
    let (best, k) = scores[0];
    let runner_up = scores.get(1).map(|s| s.0).unwrap_or(0.0);
    (best - runner_up > 0.5).then(|| baseline.features[k].name.clone())
}

fn compare_feature(bf: &BaselineFeature, wp: &FeatureProfile) -> FeatureDrift {
    let present = wp.present();
    let numeric_values = wp.moments.n;
    let base_rows = bf.num_present + bf.num_missing;
    let mut fd = FeatureDrift {
        name: bf.name.clone(),
        kind: FeatureKind::Unmonitored,
        expected_type: bf.expected_type.as_str(),
        observed_type: wp.types.inferred().as_str(),
        present,
        missing: wp.missing,
        non_finite: wp.non_finite,
        completeness: wp.completeness(),
        baseline_completeness: (base_rows > 0.0).then(|| bf.num_present / base_rows),
        type_match: (present > 0 && bf.expected_type != InferredType::Unknown)
            .then(|| type_match(bf.expected_type, wp)),
        unseen_share: None,
        baseline_count: 0.0,
        linf_simple: None,
        linf_robust: None,
        linf_noise_floor: None,
        psi: None,
        js: None,
        wasserstein: None,
        chi_square: None,
        mean: (numeric_values > 0).then(|| wp.moments.deequ_mean()),
        std_dev: (numeric_values > 0).then(|| wp.moments.std_dev_pop()),
        min: (numeric_values > 0).then_some(wp.moments.min),
        max: (numeric_values > 0).then_some(wp.moments.max),
        median: None,
        baseline_median: None,
        drift_check: None,
    };
    let cfg = &bf.config;
    if let (Some(nb), false) = (&bf.numeric, bf.is_categorical()) {
        fd.kind = FeatureKind::Numeric;
        fd.baseline_count = nb.cdf.total();
        fd.baseline_median = Some(nb.median);
        if numeric_values > 0 {
            let wc = wp.kll.cdf();
            let (n, m) = (wc.total(), nb.cdf.total());
            let simple = linf_numeric(&wc, &nb.cdf);
            let robust = linf_robust(simple, n, m);
            fd.linf_simple = Some(simple);
            fd.linf_robust = Some(robust);
            fd.linf_noise_floor = Some(linf_floor(n, m));
            fd.median = wc.quantile(0.5);
            if let Some((psi, js)) = psi_js(&wc.bin_weights(&nb.edges), &nb.bins) {
                fd.psi = Some(psi);
                fd.js = Some(js);
            }
            fd.wasserstein = wasserstein_scored(&wc, &nb.cdf, nb.std_dev, nb.process_scale);
            if cfg.perform_comparison {
                let (metric, value) = match cfg.comparison_method {
                    ComparisonMethod::Simple => ("linf_simple", simple),
                    ComparisonMethod::Robust => ("linf_robust", robust),
                };
                fd.drift_check = Some(DriftCheck {
                    metric,
                    value,
                    threshold: cfg.comparison_threshold,
                    violated: value > cfg.comparison_threshold,
                });
            }
        }
    } else if let Some(bc) = baseline_categories(bf) {
        fd.kind = FeatureKind::Categorical;
        let m = bc.total();
        fd.baseline_count = m;
        let wc = window_categories(wp);
        let n = wc.total();
        if n > 0.0 {
            fd.unseen_share = unseen_share(&wc, &bc);
            let simple = linf_categorical(&wc, &bc);
            let robust = linf_robust(simple, n, m);
            fd.linf_simple = Some(simple);
            fd.linf_robust = Some(robust);
            fd.linf_noise_floor = Some(linf_floor(n, m));
            let (a, b) = distance::aligned(&wc, &bc);
            if let Some((psi, js)) = psi_js(&a, &b) {
                fd.psi = Some(psi);
                fd.js = Some(js);
            }
            fd.chi_square = chi_square(&wc, &bc);
            if cfg.perform_comparison {
                fd.drift_check = match cfg.categorical_drift_method {
                    CategoricalMethod::LInfinity => {
                        let (metric, value) = match cfg.comparison_method {
                            ComparisonMethod::Simple => ("linf_simple", simple),
                            ComparisonMethod::Robust => ("linf_robust", robust),
                        };
                        let threshold = cfg.categorical_comparison_threshold;
                        Some(DriftCheck { metric, value, threshold, violated: value > threshold })
                    }
                    CategoricalMethod::ChiSquared => fd.chi_square.map(|c| DriftCheck {
                        metric: "chi_square_p_value",
                        value: c.p_value,
                        threshold: cfg.categorical_comparison_threshold,
                        violated: c.p_value < cfg.categorical_comparison_threshold,
                    }),
                };
            }
        }
    }
    fd
}

/// Share of categorical values (overflow included) not among the baseline's values.
pub(crate) fn unseen_share(window: &CategoryCounts<'_>, baseline: &CategoryCounts<'_>) -> Option<f64> {
    let n = window.total();
    if n <= 0.0 {
        return None;
    }
    let unseen: f64 =
        window.counts.iter().filter(|(k, _)| !baseline.counts.contains_key(*k)).map(|(_, v)| v).sum::<f64>()
            + window.other;
    Some(unseen / n)
}

/// Share of present values that conform to the expected type (callers check there are some).
pub(crate) fn type_match(expected: InferredType, wp: &FeatureProfile) -> f64 {
    use crate::payload::ValueType::*;
    let t = &wp.types;
    let matching: u64 = [Integral, Fractional, Boolean, String]
        .into_iter()
        .filter(|vt| expected.accepts(*vt))
        .map(|vt| t.get(vt))
        .sum();
    matching as f64 / t.total() as f64
}

fn pct(x: f64) -> String {
    format!("{:?}%", x * 100.0)
}

fn feature_violations(bf: &BaselineFeature, wp: &FeatureProfile, fd: &FeatureDrift, out: &mut Vec<Violation>) {
    let cfg = &bf.config;
    let mut push = |check: &str, description: String| {
        out.push(Violation { feature_name: bf.name.clone(), constraint_check_type: check.to_owned(), description });
    };
    if let Some(share) = fd.type_match {
        if share < cfg.datatype_check_threshold {
            let t = bf.expected_type.as_str();
            push(
                "data_type_check",
                format!(
                    "Data type match requirement is not met. Expected data type: {t}, Expected match: {}. Observed: Only {} of data is {t}.",
                    pct(cfg.datatype_check_threshold),
                    pct(share)
                ),
            );
        }
    }
    if let (Some(expected), Some(observed)) = (bf.completeness, fd.completeness) {
        if observed < expected {
            push(
                "completeness_check",
                format!(
                    "Data completeness requirement is not met. Expected completeness: {}. Observed: Only {} of data is complete.",
                    pct(expected),
                    pct(observed)
                ),
            );
        }
    }
    if let Some(dc) = fd.drift_check.as_ref().filter(|d| d.violated) {
        let description = if dc.metric == "chi_square_p_value" {
            format!("Baseline drift chi-square p-value: {:?} is below threshold: {:?}", dc.value, dc.threshold)
        } else {
            format!("Baseline drift distance: {:?} exceeds threshold: {:?}", dc.value, dc.threshold)
        };
        push("baseline_drift_check", description);
    }
    if let Some(domain) = &bf.domains {
        let present = wp.present();
        if present > 0 && !domain.is_empty() {
            let known: u64 = wp.categories.sorted().iter().filter(|(v, _)| domain.contains(*v)).map(|(_, c)| c).sum();
            let share = known as f64 / present as f64;
            if share < cfg.domain_content_threshold {
                push(
                    "categorical_values_check",
                    format!(
                        "Categorical values requirement is not met. Expected match: {}. Observed: Only {} of values are in the baseline domain.",
                        pct(cfg.domain_content_threshold),
                        pct(share)
                    ),
                );
            }
        }
    }
}

fn column_violations(
    baseline: &Baseline,
    window: &WindowProfile,
    positional: bool,
    guess: Option<&str>,
    out: &mut Vec<Violation>,
) {
    let expected = baseline.features.len();
    if positional {
        let total: u64 = window.column_counts.values().sum();
        if total == 0 {
            return;
        }
        let fewer: u64 = window.column_counts.iter().filter(|(c, _)| (**c as usize) < expected).map(|(_, n)| n).sum();
        let more: u64 = window.column_counts.iter().filter(|(c, _)| (**c as usize) > expected).map(|(_, n)| n).sum();
        let modal =
            window.column_counts.iter().max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c))).map(|(c, _)| *c as usize);
        if 2 * fewer > total {
            let observed = modal.unwrap_or(0).min(expected);
            let hint = guess.map(|g| format!(" (the data fits best without column {g})")).unwrap_or_default();
            for f in &baseline.features[observed..] {
                out.push(Violation {
                    feature_name: f.name.clone(),
                    constraint_check_type: "missing_column_check".into(),
                    description: format!(
                        "There are missing columns in current dataset. Number of columns in current dataset: {observed}, Number of columns in baseline constraints: {expected}{hint}"
                    ),
                });
            }
        }
        if 2 * more > total {
            let observed = modal.unwrap_or(expected).max(expected);
            for i in expected..observed {
                out.push(Violation {
                    feature_name: format!("_c{i}"),
                    constraint_check_type: "extra_column_check".into(),
                    description: format!(
                        "There are extra columns in current dataset. Number of columns in current dataset: {observed}, Number of columns in baseline constraints: {expected}"
                    ),
                });
            }
        }
    } else {
        let rows = window.rows;
        if rows == 0 {
            return;
        }
        for (bf, wp) in baseline.features.iter().zip(&window.features) {
            if 2 * wp.absent > rows {
                out.push(Violation {
                    feature_name: bf.name.clone(),
                    constraint_check_type: "missing_column_check".into(),
                    description: format!(
                        "Column {} is missing in {} of rows.",
                        bf.name,
                        pct(wp.absent as f64 / rows as f64)
                    ),
                });
            }
        }
        for (name, n) in &window.extra_columns {
            if 2 * n > rows {
                out.push(Violation {
                    feature_name: name.clone(),
                    constraint_check_type: "extra_column_check".into(),
                    description: format!(
                        "Column {name} is not in the baseline and appears in {} of rows.",
                        pct(*n as f64 / rows as f64)
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
