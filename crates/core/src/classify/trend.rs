//! Mann-Kendall trend test and Theil-Sen slope.

use statrs::function::erf::erfc;

/// A Mann-Kendall test result.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    /// Number of points.
    pub n: usize,
    /// The S statistic (concordant minus discordant pairs).
    pub s: i64,
    /// Kendall's tau (S over the number of pairs).
    pub tau: f64,
    /// One-sided p-value for the direction of `s`.
    pub p_value: f64,
    /// Theil-Sen slope per unit of `x`.
    pub slope: f64,
}

/// Runs Mann-Kendall on `(x, y)` points (x increasing), with the tie correction of the variance.
/// Returns `None` for fewer than 4 points.
pub fn mann_kendall(points: &[(f64, f64)]) -> Option<Trend> {
    let n = points.len();
    if n < 4 {
        return None;
    }
    let mut s: i64 = 0;
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dy = points[j].1 - points[i].1;
            s += if dy > 0.0 {
                1
            } else if dy < 0.0 {
                -1
            } else {
                0
            };
            let dx = points[j].0 - points[i].0;
            if dx > 0.0 {
                slopes.push(dy / dx);
            }
        }
    }
    // Tie groups in y.
    let mut ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    ys.sort_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < ys.len() {
        let mut j = i;
        while j + 1 < ys.len() && ys[j + 1] == ys[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        if t > 1.0 {
            tie_term += t * (t - 1.0) * (2.0 * t + 5.0);
        }
        i = j + 1;
    }
    let nf = n as f64;
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_term) / 18.0;
    let z = if var <= 0.0 {
        0.0
    } else if s > 0 {
        (s as f64 - 1.0) / var.sqrt()
    } else if s < 0 {
        (s as f64 + 1.0) / var.sqrt()
    } else {
        0.0
    };
    // One-sided p-value in the direction of S.
    let p_value = 0.5 * erfc(z.abs() / std::f64::consts::SQRT_2);
    slopes.sort_by(f64::total_cmp);
    let slope = median_sorted(&slopes).unwrap_or(0.0);
    Some(Trend { n, s, tau: s as f64 / (nf * (nf - 1.0) / 2.0), p_value, slope })
}

fn median_sorted(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 })
}

/// Returns the median of unsorted values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increasing_series_is_significant() {
        let pts: Vec<(f64, f64)> =
            (0..8).map(|i| (f64::from(i), f64::from(i) * 0.5 + if i % 2 == 0 { 0.1 } else { 0.0 })).collect();
        let t = mann_kendall(&pts).unwrap();
        assert_eq!(t.s, 28);
        assert!((t.tau - 1.0).abs() < 1e-12);
        // n = 8: var = 8*7*21/18 = 65.33, z = 27/8.08 = 3.34, p = 0.0004.
        assert!((t.p_value - 0.000_42).abs() < 0.000_05, "{}", t.p_value);
        assert!((t.slope - 0.5).abs() < 0.06);
    }

    #[test]
    fn flat_and_noisy_series_are_not() {
        let pts: Vec<(f64, f64)> =
            [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0].iter().enumerate().map(|(i, &y)| (i as f64, y)).collect();
        let t = mann_kendall(&pts).unwrap();
        assert!(t.p_value > 0.05, "{t:?}");
        let flat: Vec<(f64, f64)> = (0..6).map(|i| (f64::from(i), 1.0)).collect();
        let t = mann_kendall(&flat).unwrap();
        assert_eq!((t.s, t.p_value), (0, 0.5));
        assert!(mann_kendall(&flat[..3]).is_none());
    }

    #[test]
    fn decreasing_series() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), -f64::from(i))).collect();
        let t = mann_kendall(&pts).unwrap();
        assert!(t.s < 0 && t.p_value < 0.001 && t.slope < 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
