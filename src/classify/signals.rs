//! What the classifier measures per feature and window (see `design.md`).

use serde::{Deserialize, Serialize};

use crate::baseline::BaselineFeature;
use crate::drift::distance::{linf_categorical, linf_floor, linf_numeric, C_ALPHA};
use crate::drift::{baseline_categories, type_match, unseen_share, window_categories, FeatureDrift, FeatureKind};
use crate::profile::{FeatureProfile, InferredType};
use crate::time::Timestamp;

/// One feature's measurements in one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureWindow {
    /// Window start.
    pub start: Option<Timestamp>,
    /// Hours since the stream's first window (the time axis of shapes and trends).
    pub x: f64,
    /// Values behind the distribution distance.
    pub n: f64,
    /// Whether the window had enough rows to be judged.
    pub judged: bool,
    /// L-infinity distance to the baseline.
    pub d_ref: Option<f64>,
    /// Its floor at c = 1.8.
    pub floor_ref: Option<f64>,
    /// Its floor at the decision constant.
    pub floor_dec: Option<f64>,
    /// Step to the recent past (one window).
    pub step: Option<Step>,
    /// Window mean (numeric).
    pub mean: Option<f64>,
    /// Window median (numeric, from the sketch).
    pub median: Option<f64>,
    /// Share of each baseline category (categorical), baseline order.
    pub shares: Vec<f64>,
    /// Completeness.
    pub completeness: Option<f64>,
    /// Share of present values of the expected type.
    pub type_match: Option<f64>,
    /// Share of categorical values unseen in the baseline.
    pub unseen: Option<f64>,
    /// `k` when the window's quartiles are the baseline's times `10^k` (`k != 0`).
    pub unit_power: Option<i32>,
}

/// The distance of a span of windows to the recent past before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// L-infinity distance between the span and the recent past.
    pub d_step: f64,
    /// Its floor at c = 1.8.
    pub floor: f64,
    /// Its floor at the decision constant.
    pub floor_dec: f64,
    /// Distance of the span to the baseline.
    pub d_ref: f64,
    /// Its floor at the decision constant.
    pub d_ref_floor_dec: f64,
    /// Distance of the recent past to the baseline.
    pub d_ref_before: f64,
}

impl Step {
    /// Returns whether this is a material step that explains most of the rise (design.md).
    pub fn qualifies(&self, min_effect: f64, share: f64) -> bool {
        let rise = (self.d_ref - self.d_ref_before).max(0.0);
        self.d_step > self.floor_dec.max(min_effect)
            && self.d_ref > self.d_ref_floor_dec.max(min_effect)
            && self.d_step >= share * rise
    }
}

/// Baseline quantities the series are measured against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference {
    /// Baseline values behind the distribution.
    pub m: f64,
    /// Baseline mean.
    pub mean: f64,
    /// Baseline standard deviation.
    pub sd: f64,
    /// Baseline median.
    pub median: f64,
    /// Baseline interquartile range.
    pub iqr: f64,
    /// Share of the baseline's weight sitting exactly at its median (large for discrete data,
    /// whose window medians snap between neighbouring values).
    pub mass_at_median: f64,
}

/// Returns the baseline quantities of a numeric feature.
pub fn reference(bf: &BaselineFeature) -> Reference {
    match &bf.numeric {
        Some(nb) => {
            let q = |p| nb.cdf.quantile(p).unwrap_or(f64::NAN);
            let total = nb.cdf.total();
            let mass =
                if total > 0.0 { (nb.cdf.rank(nb.median) - nb.cdf.rank_exclusive(nb.median)) / total } else { 1.0 };
            Reference {
                m: total,
                mean: nb.mean,
                sd: nb.std_dev,
                median: nb.median,
                iqr: q(0.75) - q(0.25),
                mass_at_median: mass,
            }
        }
        None => Reference { m: bf.categorical.as_ref().map(|c| c.total).unwrap_or(0.0), ..Default::default() },
    }
}

/// Measures one feature of one window against the baseline (and, for the step, the recent past).
pub fn measure(
    bf: &BaselineFeature,
    drift: &FeatureDrift,
    window: &FeatureProfile,
    past: Option<&FeatureProfile>,
    c_decision: f64,
) -> FeatureWindow {
    let mut fw = FeatureWindow {
        completeness: drift.completeness,
        type_match: drift.type_match,
        unseen: drift.unseen_share,
        d_ref: drift.linf_simple,
        floor_ref: drift.linf_noise_floor,
        floor_dec: drift.linf_noise_floor.map(|f| f * c_decision / C_ALPHA),
        ..Default::default()
    };
    match drift.kind {
        FeatureKind::Numeric => {
            let Some(nb) = &bf.numeric else { return fw };
            fw.n = window.moments.n as f64;
            if fw.n > 0.0 {
                let cdf = window.kll.cdf();
                fw.mean = Some(window.moments.deequ_mean());
                fw.median = cdf.quantile(0.5);
                fw.unit_power =
                    unit_power(window.moments.n, &cdf, nb.cdf.quantile(0.25), nb.median, nb.cdf.quantile(0.75));
            }
        }
        FeatureKind::Categorical => {
            let Some(cat) = &bf.categorical else {
                return fw;
            };
            let wc = window_categories(window);
            fw.n = wc.total();
            if fw.n > 0.0 {
                fw.shares =
                    cat.counts.iter().map(|(v, _)| wc.counts.get(v.as_str()).copied().unwrap_or(0.0) / fw.n).collect();
            }
        }
        FeatureKind::Unmonitored => fw.n = window.present() as f64,
    }
    if let Some(p) = past {
        fw.step = step(bf, drift.kind, window, p, drift.linf_simple, c_decision);
    }
    fw
}

/// Measures the step from `past` to `current` (either may merge several windows).
/// `current_d_ref` is `current`'s numeric distance to the baseline when the caller has it
/// already (the window's own `linf_simple`), so that it is not walked twice.
pub fn step(
    bf: &BaselineFeature,
    kind: FeatureKind,
    current: &FeatureProfile,
    past: &FeatureProfile,
    current_d_ref: Option<f64>,
    c_decision: f64,
) -> Option<Step> {
    let dec = |n: f64, m: f64| linf_floor(n, m) * c_decision / C_ALPHA;
    match kind {
        FeatureKind::Numeric => {
            let nb = bf.numeric.as_ref()?;
            if current.moments.n == 0 || past.moments.n == 0 {
                return None;
            }
            let (cc, pc) = (current.kll.cdf(), past.kll.cdf());
            let (n, np, m) = (cc.total(), pc.total(), nb.cdf.total());
            Some(Step {
                d_step: linf_numeric(&cc, &pc),
                floor: linf_floor(n, np),
                floor_dec: dec(n, np),
                d_ref: current_d_ref.unwrap_or_else(|| linf_numeric(&cc, &nb.cdf)),
                d_ref_floor_dec: dec(n, m),
                d_ref_before: linf_numeric(&pc, &nb.cdf),
            })
        }
        FeatureKind::Categorical => {
            let bc = baseline_categories(bf)?;
            let (cc, pc) = (window_categories(current), window_categories(past));
            let (n, np) = (cc.total(), pc.total());
            if n <= 0.0 || np <= 0.0 {
                return None;
            }
            Some(Step {
                d_step: linf_categorical(&cc, &pc),
                floor: linf_floor(n, np),
                floor_dec: dec(n, np),
                d_ref: linf_categorical(&cc, &bc),
                d_ref_floor_dec: dec(n, bc.total()),
                d_ref_before: linf_categorical(&pc, &bc),
            })
        }
        FeatureKind::Unmonitored => None,
    }
}

/// What the recent past looked like for one feature (for the evidence of breaks).
#[derive(Debug, Clone, Default)]
pub struct PastView {
    /// Completeness.
    pub completeness: Option<f64>,
    /// Share of the expected type.
    pub type_match: Option<f64>,
    /// Unseen share.
    pub unseen: Option<f64>,
}

/// Returns what the recent past looked like for one feature.
pub fn past_view(bf: &BaselineFeature, p: &FeatureProfile) -> PastView {
    let type_match =
        (p.present() > 0 && bf.expected_type != InferredType::Unknown).then(|| type_match(bf.expected_type, p));
    let unseen = baseline_categories(bf).and_then(|bc| unseen_share(&window_categories(p), &bc));
    PastView { completeness: p.completeness(), type_match, unseen }
}

/// Returns `k != 0` when the window's quartiles are all the baseline's times about `10^k`.
fn unit_power(n: u64, cdf: &crate::profile::WeightedCdf, b25: Option<f64>, b50: f64, b75: Option<f64>) -> Option<i32> {
    if n < 20 {
        return None;
    }
    let pairs = [(cdf.quantile(0.25)?, b25?), (cdf.quantile(0.5)?, b50), (cdf.quantile(0.75)?, b75?)];
    let mut k: Option<i32> = None;
    for (wq, bq) in pairs {
        if wq == 0.0 || bq == 0.0 || (wq > 0.0) != (bq > 0.0) {
            return None;
        }
        let l = (wq / bq).abs().log10();
        let r = l.round();
        if (l - r).abs() > 0.15 || r == 0.0 {
            return None;
        }
        let ri = r as i32;
        match k {
            None => k = Some(ri),
            Some(prev) if prev != ri => return None,
            Some(_) => {}
        }
    }
    k
}
