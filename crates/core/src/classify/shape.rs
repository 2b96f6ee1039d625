//! Is a series' change a step or a ramp? Weighted least squares with known sampling variances.
//!
//! Three models of deviations `e_t` (weights `w_t = 1 / var_t`):
//! - constant: `e_t = c` (no change, possibly a constant offset such as training/serving skew);
//! - step at `tau`: `e_t = c1` before, `c2` from `tau` on;
//! - hinge at `tau`: `e_t = c` before, `c + s (x_t - x_tau)` from `tau` on (a ramp starting at `tau`).
//!
//! Each weighted SSE is a chi-square-like statistic, so differences between models are in
//! standard units: a change is present when the best model beats the constant by a wide margin,
//! and it is a step when the step model beats the hinge by a margin too.

/// The fits of one series (or of a group of series sharing one change point).
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Weighted SSE of the constant model.
    pub sse_const: f64,
    /// Weighted SSE of the best step.
    pub sse_step: f64,
    /// Index of the first point after the best step.
    pub tau_step: usize,
    /// Weighted SSE of the best hinge.
    pub sse_hinge: f64,
    /// Index of the best hinge's corner.
    pub tau_hinge: usize,
    /// Slope of the best hinge (per unit of x); the first member's for a group.
    pub slope: f64,
    /// Slopes of the best hinge, one per member of the group.
    pub slopes: Vec<f64>,
}

impl Fit {
    /// Returns how much better the best change model fits than no change.
    pub fn change_evidence(&self) -> f64 {
        self.sse_const - self.sse_step.min(self.sse_hinge)
    }

    /// Returns how much better the step fits than the ramp (negative: the ramp fits better).
    pub fn step_over_ramp(&self) -> f64 {
        self.sse_hinge - self.sse_step
    }
}

/// Fits the three models to `(x, e, w)` points (x increasing, w > 0). `None` below 6 points.
#[cfg(test)]
pub fn fit(points: &[(f64, f64, f64)]) -> Option<Fit> {
    fit_group(std::slice::from_ref(&points.to_vec()))
}

/// Fits the three models to several series observed at the same `x`s (e.g. the shares of a
/// feature's categories), with one change point common to all and each member's own levels and
/// slope: the statistics add up over members. `None` below 6 points or for ragged members.
pub fn fit_group(members: &[Vec<(f64, f64, f64)>]) -> Option<Fit> {
    let n = members.first()?.len();
    if n < 6 || members.iter().any(|m| m.len() != n) {
        return None;
    }
    let mut sse_const = 0.0;
    let mut step_sse = vec![0.0; n];
    let mut step_ok = vec![true; n];
    for m in members {
        let sw: f64 = m.iter().map(|p| p.2).sum();
        let swy: f64 = m.iter().map(|p| p.2 * p.1).sum();
        let wyy: f64 = m.iter().map(|p| p.2 * p.1 * p.1).sum();
        sse_const += (wyy - swy * swy / sw).max(0.0);
        let (mut w1, mut wy1, mut wyy1) = (0.0, 0.0, 0.0);
        for tau in 1..n {
            let p = m[tau - 1];
            w1 += p.2;
            wy1 += p.2 * p.1;
            wyy1 += p.2 * p.1 * p.1;
            if tau < 2 || n - tau < 2 {
                step_ok[tau] = false;
                continue;
            }
            let (w2, wy2, wyy2) = (sw - w1, swy - wy1, wyy - wyy1);
            step_sse[tau] += ((wyy1 - wy1 * wy1 / w1) + (wyy2 - wy2 * wy2 / w2)).max(0.0);
        }
    }
    let mut best_step = (f64::INFINITY, 0usize);
    for tau in 2..n.saturating_sub(1) {
        if step_ok[tau] && step_sse[tau] < best_step.0 {
            best_step = (step_sse[tau], tau);
        }
    }
    // Hinges: regress e on [1, h] with h = max(0, x - x_tau); a corner at tau = 0 is a line.
    let mut best_hinge = (f64::INFINITY, 0usize, Vec::new());
    let xs: Vec<f64> = members[0].iter().map(|p| p.0).collect();
    'tau: for (tau, &xt) in xs.iter().enumerate().take(n - 2) {
        let mut sse = 0.0;
        let mut slopes = Vec::with_capacity(members.len());
        for m in members {
            let (mut sw, mut swy, mut s_h, mut s_hh, mut s_hy) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in m {
                let h = (p.0 - xt).max(0.0);
                sw += p.2;
                swy += p.2 * p.1;
                s_h += p.2 * h;
                s_hh += p.2 * h * h;
                s_hy += p.2 * h * p.1;
            }
            let det = sw * s_hh - s_h * s_h;
            if det <= 1e-12 * sw * s_hh.max(1e-300) {
                continue 'tau;
            }
            let slope = (sw * s_hy - s_h * swy) / det;
            let c0 = (swy - slope * s_h) / sw;
            sse += m
                .iter()
                .map(|p| {
                    let r = p.1 - c0 - slope * (p.0 - xt).max(0.0);
                    p.2 * r * r
                })
                .sum::<f64>();
            slopes.push(slope);
        }
        if sse < best_hinge.0 {
            best_hinge = (sse, tau, slopes);
        }
    }
    if !best_step.0.is_finite() || !best_hinge.0.is_finite() {
        return None;
    }
    Some(Fit {
        sse_const,
        sse_step: best_step.0,
        tau_step: best_step.1,
        sse_hinge: best_hinge.0,
        tau_hinge: best_hinge.1,
        slope: best_hinge.2.first().copied().unwrap_or(0.0),
        slopes: best_hinge.2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    fn series(f: impl Fn(f64) -> f64, n: usize, noise: f64, seed: u64) -> Vec<(f64, f64, f64)> {
        let mut rng = Rng::new(seed);
        (0..n).map(|i| (i as f64, f(i as f64) + noise * rng.normal(), 1.0 / (noise * noise))).collect()
    }

    #[test]
    fn tells_steps_from_ramps() {
        // A unit step in noise 0.2 over 30 points: the best ramp's extra SSE is 41.5 without
        // noise, give or take about 13 with it, so a seed or two in 20 may fall short of 6.
        let (mut steps, mut ramps) = (0, 0);
        for seed in 0..20 {
            let step = fit(&series(|x| if x >= 15.0 { 1.0 } else { 0.0 }, 30, 0.2, seed)).unwrap();
            assert!(step.change_evidence() > 16.0, "{step:?}");
            assert_eq!(step.tau_step, 15);
            steps += usize::from(step.step_over_ramp() > 6.0);
            let ramp = fit(&series(|x| if x >= 10.0 { (x - 10.0) * 0.1 } else { 0.0 }, 30, 0.2, seed)).unwrap();
            assert!(ramp.change_evidence() > 16.0, "{ramp:?}");
            assert!((ramp.slope - 0.1).abs() < 0.04, "{ramp:?}");
            assert!((7..=13).contains(&ramp.tau_hinge), "{ramp:?}");
            ramps += usize::from(ramp.step_over_ramp() < 0.0);
        }
        assert!(steps >= 18, "steps called steps: {steps}/20");
        assert!(ramps >= 18, "ramps called ramps: {ramps}/20");
    }

    #[test]
    fn groups_share_one_change_point() {
        // Mass moves from one category to another: each alone is weak, together strong.
        let a = series(|x| if x >= 10.0 { -(x - 10.0) * 0.01 } else { 0.0 }, 30, 0.05, 1);
        let b = series(|x| if x >= 10.0 { (x - 10.0) * 0.01 } else { 0.0 }, 30, 0.05, 2);
        let single = fit(&a).unwrap();
        let both = fit_group(&[a, b]).unwrap();
        assert!(both.change_evidence() > 1.5 * single.change_evidence(), "{both:?} vs {single:?}");
        assert!(both.step_over_ramp() < 0.0);
        assert_eq!(both.slopes.len(), 2);
        assert!(both.slopes[0] < 0.0 && both.slopes[1] > 0.0);
    }

    #[test]
    fn noise_alone_shows_little_change() {
        let mut worst: f64 = 0.0;
        for seed in 0..200 {
            let f = fit(&series(|_| 0.0, 40, 1.0, seed)).unwrap();
            worst = worst.max(f.change_evidence());
        }
        assert!(worst < 20.0, "{worst}");
        assert!(fit(&series(|_| 0.0, 5, 1.0, 1)).is_none());
    }
}
