//! What the classifier measures per feature and window (see `design.md`).

use serde::{Deserialize, Serialize};

use super::seasonal::{Adjusted, Grid, Model};
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
    /// The window judged under each cycle model the slots could describe when it closed
    /// (`design.md`, "Cycles"); empty without cycles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<Adjusted>,
    /// The model the classifier judged the window under.
    #[serde(default, skip_serializing_if = "Model::is_none_ref")]
    pub model: Model,
}

impl FeatureWindow {
    /// The window's judgement under `model` (`None` when the slots could not describe it).
    pub fn under(&self, model: Model) -> Option<View<'_>> {
        if model.is_none() {
            return Some(View { w: self, adj: None });
        }
        self.cycle.iter().find(|a| a.model == model).map(|a| View { w: self, adj: Some(a) })
    }

    /// The window's judgement under the model it was judged under.
    pub fn judged_view(&self) -> View<'_> {
        self.under(self.model).unwrap_or(View { w: self, adj: None })
    }
}

/// One window of one feature as a model sees it: distances and deviations against the baseline,
/// or against the baseline moved by the learned cycle.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The window.
    pub w: &'a FeatureWindow,
    /// Its judgement under a cycle model (`None`: the baseline alone).
    pub adj: Option<&'a Adjusted>,
}

impl View<'_> {
    /// Distance to the expected distribution.
    pub fn d(&self) -> Option<f64> {
        match self.adj {
            Some(a) => Some(a.d),
            None => self.w.d_ref,
        }
    }

    /// Its floor at c = 1.8.
    pub fn floor(&self) -> Option<f64> {
        match self.adj {
            Some(a) => Some(a.floor),
            None => self.w.floor_ref,
        }
    }

    /// Its floor at the decision constant.
    pub fn floor_dec(&self) -> Option<f64> {
        match self.adj {
            Some(a) => Some(a.floor_dec),
            None => self.w.floor_dec,
        }
    }

    /// Offset of the expected mean from the baseline's, and the offset's variance.
    pub fn mean_offset(&self) -> (f64, f64) {
        self.adj.map_or((0.0, 0.0), |a| (a.mean_off, a.mean_var))
    }

    /// Offset of the expected median, and its variance (`None`: no median under this model).
    pub fn median_offset(&self) -> Option<(f64, f64)> {
        match self.adj {
            Some(a) => a.median_off.map(|m| (m, a.median_var)),
            None => Some((0.0, 0.0)),
        }
    }

    /// Offset of category `j`'s expected share, and the offsets' variance factor (`1/n`).
    pub fn share_offset(&self, j: usize) -> (f64, f64) {
        self.adj.map_or((0.0, 0.0), |a| (a.share_off.get(j).copied().unwrap_or(0.0), a.inv_n))
    }

    /// Offset of the expected completeness.
    pub fn completeness_offset(&self) -> f64 {
        self.adj.map_or(0.0, |a| a.completeness_off)
    }

    /// Offset of the expected share of unseen values.
    pub fn unseen_offset(&self) -> f64 {
        self.adj.map_or(0.0, |a| a.unseen_off)
    }
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

/// What the cycle expects of one window, for steps: the offsets of its cells from the
/// baseline's, their variance factor, and the values behind the window.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Offset of each cell's share.
    pub cells: Vec<f64>,
    /// Variance factor (`1/n` of the slots) of the offsets.
    pub inv_n: f64,
    /// Values behind the window.
    pub n: f64,
}

impl Expected {
    /// What a window's judgement under a model said of it.
    pub fn of(a: &Adjusted, n: f64) -> Expected {
        Expected { cells: a.cells.iter().map(|c| f64::from(*c)).collect(), inv_n: a.inv_n, n }
    }
}

/// One side of a step under a cycle model: cell shares, the values behind them, and what the
/// cycle expected of each of its windows.
pub struct CycleSide<'a> {
    /// Cell shares of the merged windows.
    pub cells: &'a [f64],
    /// Values behind them.
    pub n: f64,
    /// What the cycle expected of each window.
    pub windows: Vec<Expected>,
}

impl CycleSide<'_> {
    /// The value-weighted cell offsets of the side's windows and their variance factor.
    fn offsets(&self, cells: usize) -> Option<(Vec<f64>, f64)> {
        let total: f64 = self.windows.iter().map(|w| w.n).sum();
        if total <= 0.0 || self.windows.iter().any(|w| w.cells.len() != cells) {
            return None;
        }
        let mut off = vec![0.0; cells];
        let mut inv = 0.0;
        for w in &self.windows {
            let share = w.n / total;
            for (o, c) in off.iter_mut().zip(&w.cells) {
                *o += share * c;
            }
            // Windows of different hours use different slots: their errors add up as
            // independent ones.
            inv += share * share * w.inv_n;
        }
        Some((off, inv))
    }
}

/// Measures the step from `past` to `current` under a cycle model: the change of the deviation
/// from the expected distribution, `(current - expected now) - (past - expected then)`, so that
/// what the cycle moves between the past's hours and this one is not a step. Without a cycle
/// this is the step between the two distributions (on the grid's cells).
pub fn cycle_step(grid: &Grid, current: &CycleSide<'_>, past: &CycleSide<'_>, c_decision: f64) -> Option<Step> {
    let k = grid.base().len();
    if current.cells.len() != k || past.cells.len() != k || current.n <= 0.0 || past.n <= 0.0 {
        return None;
    }
    let (off_c, inv_c) = current.offsets(k)?;
    let (off_p, inv_p) = past.offsets(k)?;
    let m = grid.base_values();
    let dev_step = (0..k).map(|j| current.cells[j] - past.cells[j] - (off_c[j] - off_p[j]));
    let step_var = 1.0 / current.n + 1.0 / past.n + inv_c + inv_p;
    let ref_var = 1.0 / current.n + 1.0 / m + inv_c;
    Some(Step {
        d_step: grid.distance(dev_step),
        floor: C_ALPHA * step_var.sqrt(),
        floor_dec: c_decision * step_var.sqrt(),
        d_ref: grid.distance((0..k).map(|j| current.cells[j] - grid.base()[j] - off_c[j])),
        d_ref_floor_dec: c_decision * ref_var.sqrt(),
        d_ref_before: grid.distance((0..k).map(|j| past.cells[j] - grid.base()[j] - off_p[j])),
    })
}
