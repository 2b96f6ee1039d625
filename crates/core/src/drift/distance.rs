//! Distances between two distributions, each with its noise floor for the sample sizes at hand.
//!
//! A noise floor is the value the distance stays under, with probability about 0.997, when both
//! samples come from the same distribution (alpha = 0.003, Deequ's choice for `linf_robust`):
//! - L-infinity (KS): `1.8 * sqrt((n + m) / (n m))` (Deequ's correction; asymptotic Kolmogorov).
//! - PSI over bins, with +0.5 (Jeffreys) smoothing of counts: `(1/n + 1/m) * chi2_{k-1}(0.997)`,
//!   since PSI is a symmetric chi-square statistic scaled by `1/n + 1/m`.
//! - Jensen-Shannon distance (sqrt of the divergence, natural log), same smoothing:
//!   `sqrt((1/n + 1/m) * chi2_{k-1}(0.997) / 8)`.
//! - Wasserstein-1 over the baseline standard deviation: `2.4 * sqrt(1/n + 1/m) * J / sd`, where
//!   `J = integral of sqrt(F (1 - F)) dx` of the baseline (the scale of the empirical process).
//! - Chi-square: its critical value at 0.997 for the degrees of freedom.
//!
//! The PSI/JS constants were checked by simulation (10 equal bins, reference 20,000 rows, 3,000
//! trials per size: the share of stationary windows above the floor was 0.0-0.33% for 20 to 1,000
//! rows). The Wasserstein constant 2.4 is the 99.7% quantile of `sqrt(nm/(n+m)) W1 / J` measured
//! over normal, exponential, uniform, lognormal and 5-level discrete data (1.7-2.3, 600 trials
//! each, 100 and 1,000 rows; lognormal at 100 rows reached 3.1).

use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::profile::WeightedCdf;

/// Deequ's `c(alpha)` for `linf_robust` (alpha about 0.003).
pub const C_ALPHA: f64 = 1.8;
/// Tail probability of every noise floor.
pub const ALPHA: f64 = 0.003;
/// 99.7% quantile of the normalised Wasserstein statistic (see the module docs).
pub const C_WASSERSTEIN: f64 = 2.4;
/// Additive smoothing of bin counts for PSI and JS.
const SMOOTHING: f64 = 0.5;

/// A distance and its noise floor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scored {
    /// The distance.
    pub value: f64,
    /// What sampling noise alone reaches with probability 0.003.
    pub noise_floor: f64,
}

impl Scored {
    /// Returns the distance above its floor (0 when under it).
    pub fn excess(&self) -> f64 {
        (self.value - self.noise_floor).max(0.0)
    }
}

/// Returns the L-infinity noise floor `1.8 sqrt((n + m) / (n m))` (infinite when a side is empty).
pub fn linf_floor(n: f64, m: f64) -> f64 {
    if n <= 0.0 || m <= 0.0 {
        f64::INFINITY
    } else {
        C_ALPHA * ((n + m) / (n * m)).sqrt()
    }
}

/// Deequ's `numericalDistance` (simple): the largest CDF difference over the union of items.
pub fn linf_numeric(a: &WeightedCdf, b: &WeightedCdf) -> f64 {
    let (n, m) = (a.total(), b.total());
    if n <= 0.0 || m <= 0.0 {
        return 0.0;
    }
    // A small window against a large baseline: searching beats walking.
    if a.values().len() * 16 < b.values().len() {
        return linf_by_search(a, b);
    }
    if b.values().len() * 16 < a.values().len() {
        return linf_by_search(b, a);
    }
    let (av, ac) = (a.values(), a.cumulative());
    let (bv, bc) = (b.values(), b.cumulative());
    let (mut i, mut j) = (0, 0);
    let (mut fa, mut fb) = (0.0, 0.0);
    let mut best: f64 = 0.0;
    // A merge walk over both sorted value lists; equal values (0.0 and -0.0 included) step
    // both CDFs at once.
    while i < av.len() && j < bv.len() {
        let (x, y) = (av[i], bv[j]);
        if x <= y {
            fa = ac[i] / n;
            i += 1;
        }
        if y <= x {
            fb = bc[j] / m;
            j += 1;
        }
        best = best.max((fa - fb).abs());
    }
    for &c in &ac[i..] {
        best = best.max((c / n - fb).abs());
    }
    for &c in &bc[j..] {
        best = best.max((fa - c / m).abs());
    }
    best
}

/// [`linf_numeric`] in `O(|a| log |b|)`, for `a` much smaller than `b`, with the same result
/// to the bit: between two of `a`'s values `F_a` is constant and `F_b` only grows, so the
/// largest difference there is at one end, where the walk evaluates exactly these two
/// `(F_a, F_b)` pairs.
fn linf_by_search(a: &WeightedCdf, b: &WeightedCdf) -> f64 {
    let (n, m) = (a.total(), b.total());
    let (av, ac) = (a.values(), a.cumulative());
    let (bv, bc) = (b.values(), b.cumulative());
    let fb_at = |j: usize| if j == 0 { 0.0 } else { bc[j - 1] / m };
    let mut best: f64 = 0.0;
    let mut fa = 0.0;
    let mut lo = 0;
    for (i, &x) in av.iter().enumerate() {
        // b's values below x, after the previous a value: F_b just below x, against F_a before x.
        let below = lo + bv[lo..].partition_point(|&v| v < x);
        if below > lo {
            best = best.max((fa - fb_at(below)).abs());
        }
        // At x (b's values equal to x included).
        let upto = below + bv[below..].partition_point(|&v| v <= x);
        fa = ac[i] / n;
        best = best.max((fa - fb_at(upto)).abs());
        lo = upto;
    }
    if lo < bv.len() {
        best = best.max((fa - fb_at(bv.len())).abs());
    }
    best
}

/// Returns `max(0, simple - floor)` (Deequ's `linf_robust`).
pub fn linf_robust(simple: f64, n: f64, m: f64) -> f64 {
    (simple - linf_floor(n, m)).max(0.0)
}

/// Returns `integral |F_a - F_b| dx`.
pub fn wasserstein1(a: &WeightedCdf, b: &WeightedCdf) -> f64 {
    let (n, m) = (a.total(), b.total());
    if n <= 0.0 || m <= 0.0 {
        return 0.0;
    }
    let (av, ac) = (a.values(), a.cumulative());
    let (bv, bc) = (b.values(), b.cumulative());
    let (mut i, mut j) = (0, 0);
    let (mut fa, mut fb): (f64, f64) = (0.0, 0.0);
    let mut prev: Option<f64> = None;
    let mut total = 0.0;
    while i < av.len() || j < bv.len() {
        let x = match (av.get(i), bv.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        if let Some(p) = prev {
            total += (fa - fb).abs() * (x - p);
        }
        if av.get(i) == Some(&x) {
            fa = ac[i] / n;
            i += 1;
        }
        if bv.get(j) == Some(&x) {
            fb = bc[j] / m;
            j += 1;
        }
        prev = Some(x);
    }
    total
}

/// Returns the Wasserstein distance divided by `scale`, with its floor; `None` when the scale
/// is not positive.
pub fn wasserstein_scored(a: &WeightedCdf, b: &WeightedCdf, scale: f64, b_process_scale: f64) -> Option<Scored> {
    if !scale.is_finite() || scale <= 0.0 {
        return None;
    }
    let (n, m) = (a.total(), b.total());
    if n <= 0.0 || m <= 0.0 {
        return None;
    }
    Some(Scored {
        value: wasserstein1(a, b) / scale,
        noise_floor: C_WASSERSTEIN * (1.0 / n + 1.0 / m).sqrt() * b_process_scale / scale,
    })
}

/// Returns the 0.997 quantile of chi-square with `df` degrees of freedom.
pub fn chi2_critical(df: usize) -> f64 {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=256).map(|df| if df == 0 { 0.0 } else { chi2_quantile(df as f64, 1.0 - ALPHA) }).collect()
    });
    match table.get(df) {
        Some(v) => *v,
        None => chi2_quantile(df as f64, 1.0 - ALPHA),
    }
}

fn chi2_quantile(df: f64, p: f64) -> f64 {
    match ChiSquared::new(df) {
        Ok(d) => d.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// Returns the upper-tail p-value of a chi-square statistic.
pub fn chi2_p_value(statistic: f64, df: usize) -> f64 {
    match ChiSquared::new(df as f64) {
        Ok(d) => d.sf(statistic),
        Err(_) => f64::NAN,
    }
}

/// PSI and Jensen-Shannon distance between binned counts `a` (current) and `b` (reference),
/// with their floors. `None` when fewer than two bins or an empty side.
pub fn psi_js(a: &[f64], b: &[f64]) -> Option<(Scored, Scored)> {
    debug_assert_eq!(a.len(), b.len());
    let k = a.len();
    let (n, m): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if k < 2 || n <= 0.0 || m <= 0.0 {
        return None;
    }
    let kf = k as f64;
    let mut psi = 0.0;
    let mut js = 0.0;
    for (&ca, &cb) in a.iter().zip(b) {
        let p = (ca + SMOOTHING) / (n + SMOOTHING * kf);
        let q = (cb + SMOOTHING) / (m + SMOOTHING * kf);
        psi += (p - q) * (p / q).ln();
        let mid = (p + q) / 2.0;
        js += 0.5 * p * (p / mid).ln() + 0.5 * q * (q / mid).ln();
    }
    let scale = (1.0 / n + 1.0 / m) * chi2_critical(k - 1);
    Some((
        Scored { value: psi, noise_floor: scale },
        Scored { value: js.max(0.0).sqrt(), noise_floor: (scale / 8.0).sqrt() },
    ))
}

/// Counts by category, borrowed from a window profile or a baseline.
#[derive(Debug, Clone, Default)]
pub struct CategoryCounts<'a> {
    /// Count of each value.
    pub counts: FxHashMap<&'a str, f64>,
    /// Occurrences of values that were not kept (counted as one "other" category).
    pub other: f64,
}

impl<'a> CategoryCounts<'a> {
    /// Returns the total count.
    pub fn total(&self) -> f64 {
        self.counts.values().sum::<f64>() + self.other
    }
}

/// Deequ's categorical L-infinity (simple): the largest difference of relative frequencies over
/// the union of values (the "other" bucket of `a` counted as a value of its own).
pub fn linf_categorical(a: &CategoryCounts<'_>, b: &CategoryCounts<'_>) -> f64 {
    let (n, m) = (a.total(), b.total());
    if n <= 0.0 || m <= 0.0 {
        return 0.0;
    }
    let mut best: f64 = 0.0;
    for (k, &ca) in &a.counts {
        let cb = b.counts.get(k).copied().unwrap_or(0.0);
        best = best.max((ca / n - cb / m).abs());
    }
    for (k, &cb) in &b.counts {
        if !a.counts.contains_key(k) {
            best = best.max(cb / m);
        }
    }
    best.max((a.other / n - b.other / m).abs())
}

/// Total variation distance between two categorical distributions: half the sum of absolute
/// differences of relative frequencies over the union of values (the "other" buckets as a
/// value of their own). 1 for disjoint supports, 0 for equal ones.
pub fn total_variation(a: &CategoryCounts<'_>, b: &CategoryCounts<'_>) -> f64 {
    let (n, m) = (a.total(), b.total());
    if n <= 0.0 || m <= 0.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for (k, &ca) in &a.counts {
        sum += (ca / n - b.counts.get(k).copied().unwrap_or(0.0) / m).abs();
    }
    for (k, &cb) in &b.counts {
        if !a.counts.contains_key(k) {
            sum += cb / m;
        }
    }
    sum += (a.other / n - b.other / m).abs();
    0.5 * sum
}

/// Aligned count vectors over the union of categories (sorted by value, "other" last).
pub fn aligned(a: &CategoryCounts<'_>, b: &CategoryCounts<'_>) -> (Vec<f64>, Vec<f64>) {
    let mut keys: Vec<&str> = a.counts.keys().chain(b.counts.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut va: Vec<f64> = keys.iter().map(|k| a.counts.get(k).copied().unwrap_or(0.0)).collect();
    let mut vb: Vec<f64> = keys.iter().map(|k| b.counts.get(k).copied().unwrap_or(0.0)).collect();
    if a.other > 0.0 || b.other > 0.0 {
        va.push(a.other);
        vb.push(b.other);
    }
    (va, vb)
}

/// Chi-square goodness of fit as Deequ's `categoricalChiSquareTest`: sample values absent from
/// the expected side are dropped, expected counts are scaled to the sample size, small
/// categories are merged (smallest into second smallest) until Cochran's (2 categories: all
/// expected >= 10) or Yates' rule (more: at most 20% below 5) holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChiSquare {
    /// The statistic.
    pub statistic: f64,
    /// Degrees of freedom after regrouping.
    pub df: usize,
    /// Upper-tail p-value.
    pub p_value: f64,
    /// Critical value at 0.997 (the statistic's noise floor).
    pub noise_floor: f64,
}

/// Runs [`ChiSquare`]; `None` when fewer than two categories remain or a side is empty.
pub fn chi_square(sample: &CategoryCounts<'_>, expected: &CategoryCounts<'_>) -> Option<ChiSquare> {
    let sample_sum: f64 = sample.counts.iter().filter(|(k, _)| expected.counts.contains_key(*k)).map(|(_, v)| v).sum();
    let expected_sum: f64 = expected.counts.values().sum();
    if sample_sum <= 0.0 || expected_sum <= 0.0 {
        return None;
    }
    let mut cats: Vec<(f64, f64)> = {
        let mut keys: Vec<&&str> = expected.counts.keys().collect();
        keys.sort_unstable();
        keys.into_iter()
            .map(|k| (sample.counts.get(*k).copied().unwrap_or(0.0), expected.counts[*k] / expected_sum * sample_sum))
            .collect()
    };
    loop {
        if cats.len() < 2 {
            return None;
        }
        let (threshold, max_below) = if cats.len() > 2 { (5.0, (0.2 * cats.len() as f64) as usize) } else { (10.0, 0) };
        let below = cats.iter().filter(|c| c.1 < threshold).count();
        if below <= max_below {
            break;
        }
        let (imin, _) = cats.iter().enumerate().min_by(|x, y| x.1 .1.total_cmp(&y.1 .1))?;
        let smallest = cats.remove(imin);
        let (i2, _) = cats.iter().enumerate().min_by(|x, y| x.1 .1.total_cmp(&y.1 .1))?;
        cats[i2].0 += smallest.0;
        cats[i2].1 += smallest.1;
    }
    let statistic: f64 = cats.iter().filter(|c| c.1 > 0.0).map(|(o, e)| (o - e) * (o - e) / e).sum();
    let df = cats.len() - 1;
    Some(ChiSquare { statistic, df, p_value: chi2_p_value(statistic, df), noise_floor: chi2_critical(df) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Kll;

    fn cdf(values: &[f64]) -> WeightedCdf {
        WeightedCdf::from_points(values.iter().map(|&v| (v, 1.0)).collect())
    }

    /// Reference vectors from `sagemaker-formats.md` §3 (a Python port of Deequ on the SDK
    /// golden sketches).
    #[test]
    fn deequ_reference_vectors() {
        let Some(fx) = crate::testing::sagemaker_fixtures() else {
            return;
        };
        let path =
            fx.join("aws__sagemaker-python-sdk/tests/data/pipeline/quality_check_step/data_quality/statistics.json");
        let stats: crate::baseline::StatisticsFile =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let sketch = |i: usize| {
            let data = &stats.features[i]
                .numerical_statistics
                .as_ref()
                .unwrap()
                .distribution
                .as_ref()
                .unwrap()
                .kll
                .as_ref()
                .unwrap()
                .sketch
                .as_ref()
                .unwrap()
                .data;
            WeightedCdf::from_levels(data.iter().map(Vec::as_slice))
        };
        for (a, b, simple, robust) in
            [(0, 1, 0.76, 0.505441558772843), (2, 5, 0.40, 0.145441558772843), (3, 4, 0.10, 0.0)]
        {
            let s = linf_numeric(&sketch(a), &sketch(b));
            assert!((s - simple).abs() < 1e-12, "_c{a} vs _c{b}: {s}");
            let r = linf_robust(s, 100.0, 100.0);
            assert!((r - robust).abs() < 1e-12, "_c{a} vs _c{b} robust: {r}");
        }
    }

    /// The definition the merge walk must reproduce bit for bit: the largest difference over
    /// the union of values, stepping each CDF at its own values.
    fn linf_reference(a: &WeightedCdf, b: &WeightedCdf) -> f64 {
        let (n, m) = (a.total(), b.total());
        if n <= 0.0 || m <= 0.0 {
            return 0.0;
        }
        let (av, ac, bv, bc) = (a.values(), a.cumulative(), b.values(), b.cumulative());
        let (mut i, mut j, mut fa, mut fb, mut best) = (0, 0, 0.0, 0.0, 0.0f64);
        while i < av.len() || j < bv.len() {
            let x = match (av.get(i), bv.get(j)) {
                (Some(&x), Some(&y)) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&y)) => y,
                (None, None) => break,
            };
            if av.get(i) == Some(&x) {
                fa = ac[i] / n;
                i += 1;
            }
            if bv.get(j) == Some(&x) {
                fb = bc[j] / m;
                j += 1;
            }
            best = best.max((fa - fb).abs());
        }
        best
    }

    proptest::proptest! {
        #[test]
        fn linf_walk_matches_its_definition(
            a in proptest::collection::vec((-20i32..20, 1u32..4), 0..60),
            b in proptest::collection::vec((-20i32..20, 1u32..4), 0..60),
        ) {
            // Halves, with -0.0 among the zeros, and weights like a sketch's levels.
            let points = |v: &[(i32, u32)]| -> Vec<(f64, f64)> {
                v.iter().enumerate().map(|(k, &(x, w))| {
                    let x = if x == 0 && k % 2 == 1 { -0.0 } else { f64::from(x) / 2.0 };
                    (x, f64::from(1u32 << w))
                }).collect()
            };
            let (ca, cb) = (WeightedCdf::from_points(points(&a)), WeightedCdf::from_points(points(&b)));
            proptest::prop_assert_eq!(linf_numeric(&ca, &cb).to_bits(), linf_reference(&ca, &cb).to_bits());
            proptest::prop_assert_eq!(linf_numeric(&cb, &ca).to_bits(), linf_reference(&cb, &ca).to_bits());
            if ca.total() > 0.0 && cb.total() > 0.0 {
                proptest::prop_assert_eq!(linf_by_search(&ca, &cb).to_bits(), linf_reference(&ca, &cb).to_bits());
                proptest::prop_assert_eq!(linf_by_search(&cb, &ca).to_bits(), linf_reference(&cb, &ca).to_bits());
            }
        }
    }

    #[test]
    fn linf_basics() {
        let a = cdf(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(linf_numeric(&a, &a), 0.0);
        let b = cdf(&[3.0, 4.0, 5.0, 6.0]);
        assert!((linf_numeric(&a, &b) - 0.5).abs() < 1e-12);
        let c = cdf(&[10.0, 11.0]);
        assert_eq!(linf_numeric(&a, &c), 1.0);
        assert!((linf_floor(100.0, 100.0) - 0.254558441227157).abs() < 1e-12);
    }

    #[test]
    fn wasserstein_of_a_shift_is_the_shift() {
        let a = cdf(&(0..100).map(f64::from).collect::<Vec<_>>());
        let b = cdf(&(0..100).map(|i| f64::from(i) + 2.5).collect::<Vec<_>>());
        assert!((wasserstein1(&a, &b) - 2.5).abs() < 1e-9);
        assert_eq!(wasserstein1(&a, &a), 0.0);
    }

    #[test]
    fn bins_and_psi() {
        let base = cdf(&(0..1000).map(f64::from).collect::<Vec<_>>());
        let edges = base.decile_edges();
        assert_eq!(edges.len(), 9);
        let w = base.bin_weights(&edges);
        assert_eq!(w.iter().sum::<f64>(), 1000.0);
        assert!(w.iter().all(|&x| (x - 100.0).abs() <= 1.0), "{w:?}");
        let (psi, js) = psi_js(&w, &w).unwrap();
        assert!(psi.value.abs() < 1e-12 && js.value.abs() < 1e-6);
        assert!((psi.noise_floor - 2.0 / 1000.0 * chi2_critical(9)).abs() < 1e-12);
        let shifted = cdf(&(0..1000).map(|i| f64::from(i) + 300.0).collect::<Vec<_>>());
        let (psi, js) = psi_js(&shifted.bin_weights(&edges), &w).unwrap();
        assert!(psi.value > psi.noise_floor && js.value > js.noise_floor);
        // Discrete baselines give fewer bins.
        assert_eq!(cdf(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]).decile_edges(), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn chi2_table() {
        // chi2_1(0.997) = z(0.9985)^2 = 2.9677^2 = 8.807; others by the CDF round trip.
        assert!((chi2_critical(1) - 8.807).abs() < 0.01, "{}", chi2_critical(1));
        for df in [2, 9, 40, 300] {
            let p = 1.0 - chi2_p_value(chi2_critical(df), df);
            assert!((p - 0.997).abs() < 1e-6, "df {df}: {p}");
        }
        assert!((chi2_p_value(3.841, 1) - 0.05).abs() < 1e-3);
    }

    fn counts<'a>(pairs: &[(&'a str, f64)]) -> CategoryCounts<'a> {
        CategoryCounts { counts: pairs.iter().copied().collect(), other: 0.0 }
    }

    #[test]
    fn categorical_distances() {
        let a = counts(&[("CA", 50.0), ("NY", 50.0)]);
        let b = counts(&[("CA", 25.0), ("NY", 75.0)]);
        assert!((linf_categorical(&a, &b) - 0.25).abs() < 1e-12);
        let c = counts(&[("ca", 100.0)]);
        assert!((linf_categorical(&c, &a) - 1.0).abs() < 1e-12);
        let chi = chi_square(&counts(&[("CA", 60.0), ("NY", 40.0)]), &a).unwrap();
        assert!((chi.statistic - 4.0).abs() < 1e-12);
        assert_eq!(chi.df, 1);
        // Regrouping: one tiny expected category is merged away.
        let exp = counts(&[("a", 1000.0), ("b", 1000.0), ("c", 1000.0), ("d", 1.0)]);
        let s = counts(&[("a", 10.0), ("b", 10.0), ("c", 10.0), ("d", 1.0)]);
        assert_eq!(chi_square(&s, &exp).unwrap().df, 2);
        assert!(chi_square(&counts(&[("x", 5.0)]), &counts(&[("x", 5.0)])).is_none());
    }

    #[test]
    fn kll_sketch_distances_match_exact_ones_for_large_windows() {
        // A window of 20,000 values through the Deequ sketch vs the exact sample.
        let values: Vec<f64> = (0..20_000).map(|i| f64::from((i * 7919) % 20_000)).collect();
        let mut k = Kll::default();
        values.iter().for_each(|&v| k.update(v));
        let shifted = cdf(&values.iter().map(|v| v + 2000.0).collect::<Vec<_>>());
        let exact = linf_numeric(&cdf(&values), &shifted);
        let approx = linf_numeric(&k.cdf(), &shifted);
        assert!((exact - approx).abs() < 0.01, "{exact} vs {approx}");
    }
}
