//! Recurring patterns: daily and weekly cycles learned from the stream itself
//! (`design.md`, "Cycles").
//!
//! Per feature the classifier keeps one small profile per hour of the day and one per hour of
//! the week (a *slot*): the decayed merge of the windows that fell in it. What a window is
//! expected to look like is the training baseline moved by the cycle,
//!
//! ```text
//! daily:  expected(hour h)         = baseline + (slot_h - all hours of the day)
//! weekly: expected(hour of week s) = baseline + (slot_s - all hours of the week)
//! ```
//!
//! cell by cell (the baseline's quantile cells for numbers, its categories for text), and
//! likewise for the mean, the median, completeness and the share of unseen values. The offset
//! is *relative*: a drift that moves day and night alike moves a slot and the merge of all slots
//! alike, so it never becomes part of the cycle and stays visible against the baseline. Only the
//! shape of the cycle is learned.
//!
//! A slot is used only with data from an earlier day (or week) than the window judged, so every
//! comparison is out of sample, and whether a feature has a cycle at all is decided from how
//! much better the cycle predicts its windows than the baseline alone (see [`Seasonal::select`]).

use serde::{Deserialize, Serialize};

use crate::baseline::BaselineFeature;
use crate::drift::distance::C_ALPHA;
use crate::drift::{window_categories, FeatureKind};
use crate::profile::FeatureProfile;
use crate::time::Window;

/// Cells of a numeric feature's grid: cut at the baseline's quantiles in steps of 1/40, so each
/// holds 2.5% of the baseline. The binned distance to the expected distribution is then at most
/// about one cell's mass (0.025) below an exact L-infinity distance, well under the 0.05 that is
/// ever material, and a slot costs 40 numbers per feature.
pub const NUMERIC_CELLS: usize = 40;

/// Weight an hour-of-day slot keeps for each day that passes: 5/6, so the slot is about "the
/// same hour of the last 6 days" (the weights of older days sum to 5, today's is 1).
pub const DAILY_KEEP: f64 = 5.0 / 6.0;

/// Weight an hour-of-week slot keeps for each week that passes: 2/3, about the last 3 weeks.
pub const WEEKLY_KEEP: f64 = 2.0 / 3.0;

/// Hour-of-week slots: the weekly model fits any way hours and days interact (a weekend whose
/// nights differ from weekday nights), at the cost of one occurrence per slot per week.
pub const WEEK_SLOTS: usize = 168;

/// Values a slot needs before it describes its hour or day (the classifier's own `min_rows`
/// default: below it even a window is not judged).
pub const MIN_SLOT_VALUES: f64 = 30.0;

/// Self-normalised evidence (`sum / sqrt(sum of squares)` of each window's gain in Pearson
/// statistic) above which a cycle is used for a feature. It behaves like a standard normal when
/// the cycle predicts no better than the baseline, so 3 is crossed by chance about once in
/// 700 independent looks (and a wrong pick costs only a little power: the cycle model is
/// unbiased either way).
pub const SELECT_ON: f64 = 3.0;

/// Evidence below which a cycle in use is dropped again (hysteresis against flapping between
/// models as the evidence of a weak cycle wanders).
pub const SELECT_OFF: f64 = 1.0;

/// Windows over which selection evidence is remembered, in periods: each window's gain decays
/// so that the last two days (daily) or two weeks (weekly) count.
pub const EVIDENCE_PERIODS: f64 = 2.0;

/// Each window's gain counts at most this many times `sqrt(2 df)` (its spread when the cycle
/// predicts no better than the baseline) either way: a cycle shows as many windows that gain, and
/// a few windows it misfits badly (a weekend before the weekly model exists) must not outweigh
/// them.
pub const GAIN_CLIP: f64 = 3.0;

/// Numeric cells pooled per cell of the selection statistic: 40 cells in 8 of 12.5% each. At
/// 45 rows a window (a sparse night) a cycle of a quarter of a standard deviation gains about
/// 2.5 per window in either statistic, while the noise of the gain is about 6 with 40 cells and
/// 2.5 with 8: the evidence then passes [`SELECT_ON`] in about 18 windows instead of never.
const SELECTION_POOL: usize = 5;

/// Smallest expected share of a cell in the Pearson statistic, so that a category the baseline
/// never saw (the "other" cell) does not divide by zero.
const MIN_CELL_SHARE: f64 = 0.01;

/// The normal-approximation standard error of a median is `1.2533 sd / sqrt(n)`, and for a
/// normal `sd = IQR / 1.349`: `0.93 IQR / sqrt(n)` (the classifier's median series uses the same).
const MEDIAN_SE_PER_IQR: f64 = 0.93;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Which recurring patterns the classifier learns (`[classifier] seasonality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seasonality {
    /// Learn a daily cycle, or a weekly one (each hour of the week its own), for each feature
    /// whose own history shows one.
    #[default]
    Auto,
    /// Every feature follows a daily cycle.
    Daily,
    /// Every feature follows a weekly cycle (a daily one until a week has been seen).
    Weekly,
    /// No cycle: every window is judged against the training baseline alone.
    None,
}

impl Seasonality {
    /// Returns the config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Seasonality::Auto => "auto",
            Seasonality::Daily => "daily",
            Seasonality::Weekly => "weekly",
            Seasonality::None => "none",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Seasonality> {
        match s {
            "auto" => Some(Seasonality::Auto),
            "daily" => Some(Seasonality::Daily),
            "weekly" => Some(Seasonality::Weekly),
            "none" => Some(Seasonality::None),
            _ => None,
        }
    }

    /// Hours from a stream's first window during which changes found from the shape of a series
    /// wait: until a cycle has been seen once, a night that differs from the baseline cannot be
    /// told from a drift that starts at night. A day for daily cycles, a week when the user says
    /// the stream has a weekly one; none without cycles.
    pub fn cold_start_hours(self) -> f64 {
        match self {
            Seasonality::None => 0.0,
            Seasonality::Auto | Seasonality::Daily => 24.0,
            Seasonality::Weekly => 168.0,
        }
    }
}

/// The cycle a feature's windows are judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// No cycle: the baseline alone.
    #[default]
    None,
    /// The same hour of earlier days.
    Daily,
    /// The same hour of the week in earlier weeks.
    Weekly,
}

impl Model {
    /// Returns whether no cycle is used.
    pub fn is_none(self) -> bool {
        self == Model::None
    }

    /// [`Model::is_none`] by reference (for serde's `skip_serializing_if`).
    pub fn is_none_ref(&self) -> bool {
        self.is_none()
    }

    /// Returns `none`, `daily` or `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::None => "none",
            Model::Daily => "daily",
            Model::Weekly => "weekly",
        }
    }

    /// Says in words what a window is compared with under this model.
    pub fn reference(self) -> &'static str {
        match self {
            Model::None => "the training baseline",
            Model::Daily => "the training baseline moved by the same hour of earlier days (about the last 6)",
            Model::Weekly => {
                "the training baseline moved by the same hour of the week in earlier weeks (about the last 3)"
            }
        }
    }
}

/// Where a window falls in the cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// Hour-of-day slot (`None` when windows are longer than a day or do not divide it).
    pub hour: Option<usize>,
    /// Slots per day.
    pub hours: usize,
    /// Days since the epoch.
    pub day: i64,
    /// Hour of the week from Monday 00:00 (`None` when windows are longer than an hour).
    pub week_hour: Option<usize>,
    /// Weeks since the epoch (weeks start on Monday).
    pub week: i64,
}

impl Phase {
    /// The phase of a window (UTC).
    pub fn of(w: &Window) -> Phase {
        let start = w.start.millis();
        let len = (w.end.millis() - start).max(1);
        // Windows up to an hour share their hour's slot; longer ones that divide the day each
        // have their own.
        let (hour, hours) = if len <= HOUR_MS {
            (Some((start.rem_euclid(DAY_MS) / HOUR_MS) as usize), 24)
        } else if len < DAY_MS && DAY_MS % len == 0 {
            let hours = (DAY_MS / len) as usize;
            (Some((start.rem_euclid(DAY_MS) / len) as usize), hours)
        } else {
            (None, 0)
        };
        let day = start.div_euclid(DAY_MS);
        // 1970-01-01 was a Thursday (weekday 3 counted from Monday).
        let weekday = (day + 3).rem_euclid(7) as usize;
        let week_hour = (len <= HOUR_MS).then(|| weekday * 24 + (start.rem_euclid(DAY_MS) / HOUR_MS) as usize);
        Phase { hour, hours, day, week_hour, week: (day + 3).div_euclid(7) }
    }
}

/// The cells one feature's distributions are compared on: the baseline's quantile cells for
/// numbers, the baseline's categories (and one "other" cell) for text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// Numeric: upper edges of all cells but the last (open above). Empty for categories.
    edges: Vec<f64>,
    /// Whether cells are categories (distance on shares) rather than ordered cells (distance on
    /// the cumulative shares).
    categorical: bool,
    /// The baseline's share of each cell.
    base: Vec<f64>,
    /// Baseline values behind the shares.
    m: f64,
    /// The baseline's interquartile range (for the median offset's variance).
    iqr: f64,
    /// The baseline's categories, in baseline order.
    values: Vec<String>,
}

impl Grid {
    /// The grid of one baseline feature (empty for unmonitored ones).
    pub fn of(bf: &BaselineFeature, kind: FeatureKind) -> Grid {
        match kind {
            FeatureKind::Numeric => {
                let Some(nb) = &bf.numeric else { return Grid::default() };
                let m = nb.cdf.total();
                if m <= 0.0 {
                    return Grid::default();
                }
                let mut edges: Vec<f64> =
                    (1..NUMERIC_CELLS).filter_map(|k| nb.cdf.quantile(k as f64 / NUMERIC_CELLS as f64)).collect();
                edges.dedup();
                let base = numeric_shares(&edges, |x| nb.cdf.rank(x) / m);
                let q = |p| nb.cdf.quantile(p).unwrap_or(f64::NAN);
                Grid { edges, categorical: false, base, m, iqr: q(0.75) - q(0.25), values: vec![] }
            }
            FeatureKind::Categorical => {
                let Some(cat) = &bf.categorical else { return Grid::default() };
                if cat.total <= 0.0 {
                    return Grid::default();
                }
                let mut base: Vec<f64> = cat.counts.iter().map(|(_, c)| c / cat.total).collect();
                base.push(0.0);
                Grid {
                    edges: vec![],
                    categorical: true,
                    base,
                    m: cat.total,
                    iqr: f64::NAN,
                    values: cat.counts.iter().map(|(v, _)| v.clone()).collect(),
                }
            }
            FeatureKind::Unmonitored => Grid::default(),
        }
    }

    /// Returns whether the grid has cells.
    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// Returns the baseline's share of each cell.
    pub fn base(&self) -> &[f64] {
        &self.base
    }

    /// Returns the baseline values behind the shares.
    pub fn base_values(&self) -> f64 {
        self.m
    }

    /// Returns a profile's share of each cell and the values behind them (`None` when empty).
    pub fn cells(&self, p: &FeatureProfile) -> Option<(Vec<f64>, f64)> {
        if self.is_empty() {
            return None;
        }
        if self.categorical {
            let wc = window_categories(p);
            let n = wc.total();
            if n <= 0.0 {
                return None;
            }
            let mut shares: Vec<f64> =
                self.values.iter().map(|v| wc.counts.get(v.as_str()).copied().unwrap_or(0.0) / n).collect();
            let known: f64 = shares.iter().sum();
            shares.push((1.0 - known).max(0.0));
            Some((shares, n))
        } else {
            if p.moments.n == 0 {
                return None;
            }
            let cdf = p.kll.cdf();
            let n = cdf.total();
            if n <= 0.0 {
                return None;
            }
            Some((numeric_shares(&self.edges, |x| cdf.rank(x) / n), n))
        }
    }

    /// The L-infinity distance of a deviation in cell shares: the largest cumulative deviation
    /// for ordered cells (a binned Kolmogorov-Smirnov distance), the largest one for categories
    /// (Deequ's categorical distance).
    pub fn distance(&self, dev: impl Iterator<Item = f64>) -> f64 {
        let mut best: f64 = 0.0;
        if self.categorical {
            for d in dev {
                best = best.max(d.abs());
            }
        } else {
            let mut cum = 0.0;
            for d in dev {
                cum += d;
                best = best.max(cum.abs());
            }
        }
        best
    }

    /// Pearson's statistic of a deviation in cell shares, with `var` the variance factor
    /// (`1/n + 1/m + ...`) of every cell's share per unit of share. Numeric cells are pooled
    /// in runs of [`SELECTION_POOL`] first: cycles move mostly location and spread, which a few
    /// wide cells see with far less noise than forty narrow ones.
    pub fn pearson(&self, dev: impl Iterator<Item = f64>, var: f64) -> f64 {
        let pool = if self.categorical { 1 } else { SELECTION_POOL };
        let (mut x2, mut d_acc, mut b_acc, mut k) = (0.0, 0.0, 0.0, 0);
        for (d, b) in dev.zip(&self.base) {
            d_acc += d;
            b_acc += b;
            k += 1;
            if k == pool {
                x2 += d_acc * d_acc / (b_acc.max(MIN_CELL_SHARE) * var);
                (d_acc, b_acc, k) = (0.0, 0.0, 0);
            }
        }
        if k > 0 {
            x2 += d_acc * d_acc / (b_acc.max(MIN_CELL_SHARE) * var);
        }
        x2
    }

    /// Degrees of freedom of [`Grid::pearson`]: its cells (after pooling) less one.
    pub fn pearson_df(&self) -> f64 {
        let pool = if self.categorical { 1 } else { SELECTION_POOL };
        (self.base.len().div_ceil(pool) as f64 - 1.0).max(1.0)
    }

    /// The binned median of cell shares (linear within the cell that crosses one half).
    fn median(&self, shares: &[f64]) -> f64 {
        if self.categorical || self.edges.is_empty() {
            return f64::NAN;
        }
        let mut cum = 0.0;
        for (k, s) in shares.iter().enumerate() {
            if cum + s >= 0.5 && *s > 0.0 {
                let hi = self.edges.get(k).copied().unwrap_or(self.edges[self.edges.len() - 1]);
                let lo = if k == 0 { hi } else { self.edges[k - 1] };
                return lo + (hi - lo) * ((0.5 - cum) / s).clamp(0.0, 1.0);
            }
            cum += s;
        }
        self.edges[self.edges.len() - 1]
    }
}

/// Shares of the cells cut at `edges`, from a cumulative share function.
fn numeric_shares(edges: &[f64], cum: impl Fn(f64) -> f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(edges.len() + 1);
    let mut prev = 0.0;
    for &e in edges {
        let c = cum(e);
        out.push((c - prev).max(0.0));
        prev = c;
    }
    out.push((1.0 - prev).max(0.0));
    out
}

/// One slot: the decayed merge of the windows of one hour of the day (or of the week).
///
/// Weights and cells are kept in single precision (shares need no more, and slots are most of
/// a cyclic stream's checkpoint); the moments in double. Stored as `{"last", "periods", "data"}`
/// with `data` the little-endian bytes of the numbers in base64 (see [`SlotData`]), so that a
/// slot costs about 300 bytes of JSON instead of 700, and reads back to the bit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "SlotData", into = "SlotData")]
pub struct Slot {
    /// The period (day or week since the epoch) of the last window added.
    last: i64,
    /// Distinct periods it holds data from.
    periods: u32,
    /// Periods it holds data from, weighted as its data is (each older one by `keep` per
    /// period): dividing by it gives one average occurrence.
    occurrences: f32,
    /// Rows seen (present and missing), weighted.
    rows: f32,
    /// Present values, weighted.
    present: f32,
    /// Values behind the cells, weighted.
    n: f32,
    /// Numbers behind the moments, weighted.
    nm: f32,
    /// Weighted mean of numbers.
    mean: f64,
    /// Weighted sum of squared deviations of numbers.
    m2: f64,
    /// Weighted values per cell.
    cells: Vec<f32>,
    /// For a merge of slots: the values behind it (its `n` counts one average occurrence of each
    /// slot, for the mix; its sampling error comes from all of them).
    merged_values: f64,
    /// For a merge of slots: the numbers behind its moments.
    merged_numbers: f64,
}

/// The stored form of a [`Slot`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlotData {
    /// See [`Slot`].
    last: i64,
    /// See [`Slot`].
    periods: u32,
    /// Base64 of `occurrences, rows, present, n, nm` (f32), `mean, m2` (f64), then the cells
    /// (f32), little-endian.
    data: String,
}

impl From<Slot> for SlotData {
    fn from(s: Slot) -> SlotData {
        let mut bytes = Vec::with_capacity(36 + 4 * s.cells.len());
        for v in [s.occurrences, s.rows, s.present, s.n, s.nm] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(&s.mean.to_le_bytes());
        bytes.extend_from_slice(&s.m2.to_le_bytes());
        for c in &s.cells {
            bytes.extend_from_slice(&c.to_le_bytes());
        }
        SlotData { last: s.last, periods: s.periods, data: encode(&bytes) }
    }
}

impl From<SlotData> for Slot {
    /// A slot whose data does not decode (not a checkpoint this version wrote) starts empty:
    /// it is learned again, at the cost of a cold start for its hour.
    fn from(d: SlotData) -> Slot {
        let bytes = decode(&d.data);
        if bytes.len() < 36 || !(bytes.len() - 36).is_multiple_of(4) {
            return Slot::default();
        }
        let f32_at = |i: usize| f32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let f64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            f64::from_le_bytes(b)
        };
        Slot {
            last: d.last,
            periods: d.periods,
            occurrences: f32_at(0),
            rows: f32_at(4),
            present: f32_at(8),
            n: f32_at(12),
            nm: f32_at(16),
            mean: f64_at(20),
            m2: f64_at(28),
            cells: (36..bytes.len()).step_by(4).map(f32_at).collect(),
            merged_values: 0.0,
            merged_numbers: 0.0,
        }
    }
}

/// What one window adds to a slot.
#[derive(Debug, Clone, Copy)]
pub struct Contribution<'a> {
    /// Rows (present and missing).
    pub rows: f64,
    /// Present values.
    pub present: f64,
    /// Cell shares and the values behind them.
    pub cells: Option<(&'a [f64], f64)>,
    /// Numbers, their mean and sum of squared deviations.
    pub moments: (f64, f64, f64),
}

impl Slot {
    /// Adds a window of period `period`, first letting older periods' weights decay by `keep`
    /// per period.
    fn add(&mut self, period: i64, keep: f64, c: &Contribution<'_>) {
        let scale = |v: &mut f32, f: f64| *v = (f64::from(*v) * f) as f32;
        let plus = |v: &mut f32, x: f64| *v = (f64::from(*v) + x) as f32;
        if self.periods == 0 {
            self.periods = 1;
            self.occurrences = 1.0;
            self.last = period;
        } else if period > self.last {
            let f = keep.powi((period - self.last).min(1000) as i32);
            self.occurrences = (f64::from(self.occurrences) * f + 1.0) as f32;
            for v in [&mut self.rows, &mut self.present, &mut self.n, &mut self.nm] {
                scale(v, f);
            }
            self.m2 *= f;
            for v in &mut self.cells {
                scale(v, f);
            }
            self.periods = self.periods.saturating_add(1);
            self.last = period;
        }
        plus(&mut self.rows, c.rows);
        plus(&mut self.present, c.present);
        if let Some((shares, n)) = c.cells {
            if self.cells.len() != shares.len() {
                self.cells = vec![0.0; shares.len()];
            }
            for (v, s) in self.cells.iter_mut().zip(shares) {
                plus(v, s * n);
            }
            plus(&mut self.n, n);
        }
        self.merge_moments(c.moments);
    }

    fn merge_moments(&mut self, (n, mean, m2): (f64, f64, f64)) {
        if n <= 0.0 {
            return;
        }
        let nm = f64::from(self.nm);
        if nm <= 0.0 {
            (self.nm, self.mean, self.m2) = (n as f32, mean, m2);
            return;
        }
        let total = nm + n;
        let delta = mean - self.mean;
        self.mean += delta * n / total;
        self.m2 += m2 + delta * delta * nm * n / total;
        self.nm = total as f32;
    }

    /// Adds one average occurrence of another slot: the merge of all slots, with every hour
    /// weighed by its traffic, whether or not it has been seen again in the current period (a
    /// plain sum would weigh the hours already seen today, or this week, once more than the
    /// others, and move the merge toward them).
    fn absorb(&mut self, o: &Slot) {
        if o.occurrences <= 0.0 {
            return;
        }
        let per = 1.0 / f64::from(o.occurrences);
        let plus = |v: &mut f32, x: f64| *v = (f64::from(*v) + x) as f32;
        self.merged_values += f64::from(o.n);
        self.merged_numbers += f64::from(o.nm);
        plus(&mut self.rows, f64::from(o.rows) * per);
        plus(&mut self.present, f64::from(o.present) * per);
        if !o.cells.is_empty() {
            if self.cells.len() != o.cells.len() {
                self.cells = vec![0.0; o.cells.len()];
            }
            for (v, w) in self.cells.iter_mut().zip(&o.cells) {
                plus(v, f64::from(*w) * per);
            }
            plus(&mut self.n, f64::from(o.n) * per);
        }
        self.merge_moments((f64::from(o.nm) * per, o.mean, o.m2 * per));
        self.occurrences = 1.0;
    }

    /// Returns whether the slot can describe a window of `period`: enough values, from at least
    /// one earlier period.
    fn usable(&self, period: i64) -> bool {
        f64::from(self.n) >= MIN_SLOT_VALUES && (self.last < period || self.periods >= 2)
    }

    fn shares(&self) -> Vec<f64> {
        let total: f64 = self.cells.iter().map(|v| f64::from(*v)).sum();
        if total <= 0.0 {
            return vec![0.0; self.cells.len()];
        }
        self.cells.iter().map(|v| f64::from(*v) / total).collect()
    }
}

/// How a cycle component moves a window's expected distribution away from the baseline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offsets {
    /// Offset of each cell's share.
    pub cells: Vec<f64>,
    /// Variance of each cell's offset per unit of share (`1/n` of the slots involved).
    pub inv_n: f64,
    /// Offset of the mean, and its variance.
    pub mean: f64,
    /// Variance of the mean's offset.
    pub mean_var: f64,
    /// Offset of the median (NaN for categories).
    pub median: f64,
    /// Variance of the median's offset.
    pub median_var: f64,
    /// Offset of completeness.
    pub completeness: f64,
    /// Offset of the share of values the baseline never saw (categories).
    pub unseen: f64,
}

impl Offsets {
    fn between(grid: &Grid, slot: &Slot, all: &Slot) -> Offsets {
        let (s, a) = (slot.shares(), all.shares());
        let cells: Vec<f64> = s.iter().zip(&a).map(|(x, y)| x - y).collect();
        let inv = |n: f64| if n > 0.0 { 1.0 / n } else { f64::INFINITY };
        let all_values = if all.merged_values > 0.0 { all.merged_values } else { f64::from(all.n) };
        let all_numbers = if all.merged_numbers > 0.0 { all.merged_numbers } else { f64::from(all.nm) };
        let inv_n = inv(f64::from(slot.n)) + inv(all_values);
        let var = |sl: &Slot| if sl.nm > 0.0 { sl.m2 / f64::from(sl.nm) } else { 0.0 };
        // Variance of a mean of `n` numbers (none for categories, which have no numbers).
        let mean_var = |v: f64, n: f64| if n > 0.0 { v / n } else { 0.0 };
        let comp = |sl: &Slot| if sl.rows > 0.0 { f64::from(sl.present) / f64::from(sl.rows) } else { 1.0 };
        let unseen =
            if grid.categorical { s.last().copied().unwrap_or(0.0) - a.last().copied().unwrap_or(0.0) } else { 0.0 };
        Offsets {
            inv_n,
            mean: if slot.nm > 0.0 && all.nm > 0.0 { slot.mean - all.mean } else { 0.0 },
            mean_var: mean_var(var(slot), f64::from(slot.nm)) + mean_var(var(all), all_numbers),
            median: grid.median(&s) - grid.median(&a),
            median_var: if grid.iqr.is_finite() { (MEDIAN_SE_PER_IQR * grid.iqr).powi(2) * inv_n } else { 0.0 },
            completeness: comp(slot) - comp(all),
            unseen,
            cells,
        }
    }
}

/// A window of one feature judged under a cycle model: what the classifier's series read
/// instead of the baseline's numbers. Stored compactly, to the bit (see [`AdjustedData`]): the
/// classifier keeps one per model for each of its recent windows of every feature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "AdjustedData", into = "AdjustedData")]
pub struct Adjusted {
    /// The model.
    pub model: Model,
    /// Binned L-infinity distance of the window to its expected distribution.
    pub d: f64,
    /// Its floor at c = 1.8 (window, baseline and slot sizes together).
    pub floor: f64,
    /// Its floor at the decision constant.
    pub floor_dec: f64,
    /// How far the cycle alone puts the expected distribution from the baseline (binned
    /// L-infinity): what the learned cycle explains of this window's distance.
    pub cycle_d: f64,
    /// Pearson statistic of the window against the expected cells (model selection, while the
    /// window closes; not kept).
    pub x2: f64,
    /// Offset of the mean and its variance.
    pub mean_off: f64,
    /// Variance of the mean offset.
    pub mean_var: f64,
    /// Offset of the median (numeric, continuous) and its variance.
    pub median_off: Option<f64>,
    /// Variance of the median offset.
    pub median_var: f64,
    /// Offset of each baseline category's share (baseline order) and its variance factor.
    pub share_off: Vec<f64>,
    /// Variance factor (`1/n`) of the share offsets.
    pub inv_n: f64,
    /// Offset of completeness.
    pub completeness_off: f64,
    /// Offset of the unseen share.
    pub unseen_off: f64,
    /// Cell offsets, kept while the window is part of a later window's recent past (for its
    /// step), dropped after.
    pub cells: Vec<f32>,
}

/// The stored form of an [`Adjusted`]: the model, and base64 of little-endian numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdjustedData {
    /// The model.
    model: Model,
    /// `d, floor, floor_dec, cycle_d, mean_off, mean_var, median_off (NaN: none), median_var,
    /// inv_n, completeness_off, unseen_off` (f64).
    values: String,
    /// The share offsets (f64).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    shares: String,
    /// The cell offsets (f32), while kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cells: String,
}

fn encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).unwrap_or_default()
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            f64::from_le_bytes(b)
        })
        .collect()
}

impl From<Adjusted> for AdjustedData {
    fn from(a: Adjusted) -> AdjustedData {
        let values = [
            a.d,
            a.floor,
            a.floor_dec,
            a.cycle_d,
            a.mean_off,
            a.mean_var,
            a.median_off.unwrap_or(f64::NAN),
            a.median_var,
            a.inv_n,
            a.completeness_off,
            a.unseen_off,
        ];
        AdjustedData {
            model: a.model,
            values: encode(&values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()),
            shares: encode(&a.share_off.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()),
            cells: encode(&a.cells.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()),
        }
    }
}

impl From<AdjustedData> for Adjusted {
    /// A judgement that does not decode (not written by this version) reads as zeros: the
    /// window then only adds noise to the series it is part of for the next two days.
    fn from(d: AdjustedData) -> Adjusted {
        let mut v = f64s(&decode(&d.values));
        v.resize(11, 0.0);
        Adjusted {
            model: d.model,
            d: v[0],
            floor: v[1],
            floor_dec: v[2],
            cycle_d: v[3],
            x2: 0.0,
            mean_off: v[4],
            mean_var: v[5],
            median_off: v[6].is_finite().then_some(v[6]),
            median_var: v[7],
            share_off: f64s(&decode(&d.shares)),
            inv_n: v[8],
            completeness_off: v[9],
            unseen_off: v[10],
            cells: decode(&d.cells).chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        }
    }
}

impl Adjusted {
    fn new(model: Model, grid: &Grid, off: Offsets, cells: &[f64], n: f64, c_decision: f64) -> Adjusted {
        let var = 1.0 / n + 1.0 / grid.m + off.inv_n;
        let dev = cells.iter().zip(&grid.base).zip(&off.cells).map(|((w, b), o)| w - b - o);
        let d = grid.distance(dev.clone());
        let x2 = grid.pearson(dev, var);
        let scale = var.sqrt();
        // Nothing here may be non-finite: judgements are checkpointed as JSON numbers.
        let finite = |x: f64| if x.is_finite() { x } else { 0.0 };
        let off = Offsets {
            inv_n: finite(off.inv_n),
            mean: finite(off.mean),
            mean_var: finite(off.mean_var),
            median_var: finite(off.median_var),
            completeness: finite(off.completeness),
            unseen: finite(off.unseen),
            ..off
        };
        Adjusted {
            model,
            d,
            floor: C_ALPHA * scale,
            floor_dec: c_decision * scale,
            cycle_d: grid.distance(off.cells.iter().copied()),
            x2,
            mean_off: off.mean,
            mean_var: off.mean_var,
            median_off: off.median.is_finite().then_some(off.median),
            median_var: off.median_var,
            share_off: if grid.categorical { off.cells[..off.cells.len().saturating_sub(1)].to_vec() } else { vec![] },
            inv_n: off.inv_n,
            completeness_off: off.completeness,
            unseen_off: off.unseen,
            cells: off.cells.iter().map(|v| *v as f32).collect(),
        }
    }
}

/// The wanted model where the window's judgements include it, else the closest one they do
/// (weekly falls back to daily, daily to none).
fn fallback(wanted: Model, adjusted: &[Adjusted]) -> Model {
    let available = |m: Model| m.is_none() || adjusted.iter().any(|a| a.model == m);
    let ladder: &[Model] = match wanted {
        Model::Weekly => &[Model::Weekly, Model::Daily, Model::None],
        Model::Daily => &[Model::Daily, Model::None],
        Model::None => &[Model::None],
    };
    ladder.iter().copied().find(|m| available(*m)).unwrap_or(Model::None)
}

/// Self-normalised, decayed evidence for a cycle model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Decayed sum of per-window gains.
    pub sum: f64,
    /// Decayed sum of their squares.
    pub sq: f64,
}

impl Evidence {
    fn add(&mut self, gain: f64, keep: f64) {
        self.sum = self.sum * keep + gain;
        self.sq = self.sq * keep + gain * gain;
    }

    /// `sum / sqrt(sum of squares)`: about standard normal without a cycle, growing like the
    /// square root of the windows seen with one.
    pub fn t(&self) -> f64 {
        if self.sq > 0.0 {
            self.sum / self.sq.sqrt()
        } else {
            0.0
        }
    }
}

/// One feature's cycle state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureCycle {
    /// Hour-of-day slots.
    hours: Vec<Slot>,
    /// Hour-of-week slots.
    week: Vec<Slot>,
    /// Evidence that the daily model predicts better than the baseline alone.
    daily: Evidence,
    /// Evidence that the weekly model predicts better than the daily one (or the baseline, when
    /// no daily cycle is in use).
    weekly: Evidence,
    /// The model in use.
    model: Model,
}

/// The cycles of one stream: per feature, slots, evidence and the model in use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seasonal {
    /// What may be learned.
    mode: Seasonality,
    /// Per feature, baseline order.
    features: Vec<FeatureCycle>,
    /// The cells of each feature (derived from the baseline; rebuilt after a restore).
    #[serde(skip)]
    grids: Vec<Grid>,
}

impl Seasonal {
    /// The cycles of a stream of `features` features.
    pub fn new(mode: Seasonality, features: usize) -> Seasonal {
        Seasonal { mode, features: vec![FeatureCycle::default(); features], grids: vec![] }
    }

    /// Returns what may be learned.
    pub fn mode(&self) -> Seasonality {
        self.mode
    }

    /// Builds the grids from the baseline when they are missing (first use, after a restore),
    /// and takes the configured mode (a restored state may have been learned under another).
    pub fn prepare(&mut self, mode: Seasonality, baseline: &[BaselineFeature], kinds: &[FeatureKind]) {
        self.mode = mode;
        if self.grids.len() != baseline.len() {
            self.grids = baseline.iter().zip(kinds).map(|(bf, k)| Grid::of(bf, *k)).collect();
        }
        if self.features.len() != baseline.len() {
            self.features.resize(baseline.len(), FeatureCycle::default());
        }
    }

    /// Returns feature `i`'s grid.
    pub fn grid(&self, i: usize) -> &Grid {
        static EMPTY: Grid = Grid { edges: vec![], categorical: false, base: vec![], m: 0.0, iqr: 0.0, values: vec![] };
        self.grids.get(i).unwrap_or(&EMPTY)
    }

    /// Returns the model in use for feature `i`.
    pub fn model(&self, i: usize) -> Model {
        self.features.get(i).map(|f| f.model).unwrap_or_default()
    }

    /// Returns the models a decision on a feature judged under `model` must also hold under,
    /// given the window's judgements (auto mode only): the richer cycle models the slots can
    /// describe the window with. A change that a cycle explains is not drift, whether or not the
    /// evidence has picked that cycle yet (a sparse stream gathers it slowly).
    pub fn alternatives(&self, model: Model, adjusted: &[Adjusted]) -> Vec<Model> {
        if self.mode != Seasonality::Auto {
            return vec![];
        }
        let richer: &[Model] = match model {
            Model::None => &[Model::Daily, Model::Weekly],
            Model::Daily => &[Model::Weekly],
            Model::Weekly => &[],
        };
        richer.iter().copied().filter(|m| adjusted.iter().any(|a| a.model == *m)).collect()
    }

    /// Judges feature `i` of a window (its cell shares and values) under every model the slots
    /// can describe now, before the window is learned (out of sample).
    pub fn adjust(&self, i: usize, phase: &Phase, cells: &[f64], n: f64, c_dec: f64) -> Vec<Adjusted> {
        if self.mode == Seasonality::None {
            return vec![];
        }
        let (Some(grid), Some(f)) = (self.grids.get(i), self.features.get(i)) else { return vec![] };
        if grid.is_empty() || cells.len() != grid.base.len() || n <= 0.0 {
            return vec![];
        }
        let judged = |model: Model, slots: &[Slot], slot: Option<usize>, period: i64| {
            let s = slots.get(slot?).filter(|s| s.usable(period))?;
            let mut all = Slot::default();
            for x in slots {
                all.absorb(x);
            }
            Some(Adjusted::new(model, grid, Offsets::between(grid, s, &all), cells, n, c_dec))
        };
        [
            judged(Model::Daily, &f.hours, phase.hour, phase.day),
            judged(Model::Weekly, &f.week, phase.week_hour, phase.week),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// What `model` expects now of feature `i` in a window of `phase` that has already been
    /// learned (in sample): for the recent past of a step when that window closed before its
    /// slot could describe it. The step then compares the current window with its own hour's
    /// slot, a seasonal-naive comparison. `None` when the slot holds too little.
    pub fn expected_now(&self, i: usize, model: Model, phase: &Phase) -> Option<(Vec<f64>, f64)> {
        let (grid, f) = (self.grids.get(i)?, self.features.get(i)?);
        let (slots, slot) = match model {
            Model::None => return None,
            Model::Daily => (&f.hours, phase.hour?),
            Model::Weekly => (&f.week, phase.week_hour?),
        };
        let s = slots.get(slot).filter(|s| f64::from(s.n) >= MIN_SLOT_VALUES)?;
        let mut all = Slot::default();
        for x in slots {
            all.absorb(x);
        }
        let off = Offsets::between(grid, s, &all);
        Some((off.cells, off.inv_n))
    }

    /// Updates the choice of model for feature `i` from one judged window and returns the model
    /// to judge it under: `x2_none` is the window's Pearson statistic against the baseline,
    /// `adjusted` its judgement under each model (from [`Seasonal::adjust`]), `df` the degrees
    /// of freedom of those statistics; `windows_per_day` sets how fast evidence is forgotten.
    pub fn select(&mut self, i: usize, x2_none: f64, adjusted: &[Adjusted], df: f64, windows_per_day: f64) -> Model {
        let mode = self.mode;
        let Some(f) = self.features.get_mut(i) else { return Model::None };
        let x2 = |m: Model| {
            if m.is_none() {
                Some(x2_none)
            } else {
                adjusted.iter().find(|a| a.model == m).map(|a| a.x2)
            }
        };
        let clip = GAIN_CLIP * (2.0 * df.max(1.0)).sqrt();
        let gain = |a: f64, b: f64| (a - b).clamp(-clip, clip);
        let day_keep = 1.0 - 1.0 / (EVIDENCE_PERIODS * windows_per_day.max(1.0));
        let week_keep = 1.0 - 1.0 / (EVIDENCE_PERIODS * 7.0 * windows_per_day.max(1.0));
        if let (Some(a), Some(b)) = (x2(Model::None), x2(Model::Daily)) {
            f.daily.add(gain(a, b), day_keep);
        }
        // The weekly model is measured against the best simpler one.
        let simpler = if f.model == Model::None && f.daily.t() <= SELECT_ON { Model::None } else { Model::Daily };
        if let (Some(a), Some(b)) = (x2(simpler), x2(Model::Weekly)) {
            f.weekly.add(gain(a, b), week_keep);
        }
        let keeps = |on: bool, e: &Evidence| if on { e.t() > SELECT_OFF } else { e.t() > SELECT_ON };
        let wanted = match mode {
            Seasonality::None => Model::None,
            Seasonality::Daily => Model::Daily,
            Seasonality::Weekly => Model::Weekly,
            Seasonality::Auto => {
                if keeps(f.model == Model::Weekly, &f.weekly) {
                    Model::Weekly
                } else if keeps(f.model != Model::None, &f.daily) {
                    Model::Daily
                } else {
                    Model::None
                }
            }
        };
        f.model = wanted;
        fallback(wanted, adjusted)
    }

    /// The model a window of feature `i` is judged under without updating the choice (windows
    /// too small to judge): the one in use where the slots describe it, else the closest.
    pub fn usable(&self, i: usize, adjusted: &[Adjusted]) -> Model {
        fallback(self.model(i), adjusted)
    }

    /// Learns feature `i` of a window into its hour-of-day and hour-of-week slots.
    pub fn learn(&mut self, i: usize, phase: &Phase, c: &Contribution<'_>) {
        if self.mode == Seasonality::None {
            return;
        }
        let Some(f) = self.features.get_mut(i) else { return };
        if let Some(h) = phase.hour {
            if f.hours.len() != phase.hours {
                f.hours = vec![Slot::default(); phase.hours];
            }
            f.hours[h].add(phase.day, DAILY_KEEP, c);
        }
        if let Some(s) = phase.week_hour {
            if f.week.len() != WEEK_SLOTS {
                f.week = vec![Slot::default(); WEEK_SLOTS];
            }
            f.week[s].add(phase.week, WEEKLY_KEEP, c);
        }
    }

    /// The learned cycle of feature `i` under the model in use: per slot (hour of the day, or of
    /// the week), the binned distance the cycle puts between that slot's expected distribution
    /// and the baseline (what the report draws). Empty without a cycle in use.
    pub fn profile(&self, i: usize) -> (Model, Vec<Option<f64>>) {
        let (Some(grid), Some(f)) = (self.grids.get(i), self.features.get(i)) else { return (Model::None, vec![]) };
        let slots = match f.model {
            Model::None => return (Model::None, vec![]),
            Model::Daily => &f.hours,
            Model::Weekly => &f.week,
        };
        if grid.is_empty() {
            return (Model::None, vec![]);
        }
        let mut all = Slot::default();
        for s in slots {
            all.absorb(s);
        }
        let distances = slots
            .iter()
            .map(|s| {
                (f64::from(s.n) >= MIN_SLOT_VALUES)
                    .then(|| grid.distance(Offsets::between(grid, s, &all).cells.into_iter()))
            })
            .collect();
        (f.model, distances)
    }

    /// Bytes this state holds on the heap and inline (slots, their cells, evidence): what the
    /// learned cycles cost in memory, without the grids (derived from the baseline).
    pub fn heap_bytes(&self) -> usize {
        let slot = |s: &Slot| std::mem::size_of::<Slot>() + s.cells.capacity() * std::mem::size_of::<f32>();
        std::mem::size_of::<Seasonal>()
            + self
                .features
                .iter()
                .map(|f| std::mem::size_of::<FeatureCycle>() + f.hours.iter().chain(&f.week).map(slot).sum::<usize>())
                .sum::<usize>()
    }

    /// Slots per feature (hour-of-day and hour-of-week), for the record.
    pub fn slots(&self, i: usize) -> usize {
        self.features.get(i).map_or(0, |f| f.hours.len() + f.week.len())
    }

    /// Returns the selection evidence of feature `i` (daily, weekly).
    pub fn evidence(&self, i: usize) -> (f64, f64) {
        self.features.get(i).map(|f| (f.daily.t(), f.weekly.t())).unwrap_or((0.0, 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A categorical grid of three categories (35%, 30%, 35%) from a large baseline.
    fn three_categories() -> Grid {
        Grid { edges: vec![], categorical: true, base: vec![0.35, 0.3, 0.35], m: 1e4, iqr: f64::NAN, values: vec![] }
    }

    #[test]
    fn phases_follow_the_utc_clock_and_the_week() {
        use crate::time::{Duration, Timestamp};
        // 2026-03-02 was a Monday.
        let monday = Timestamp::from_civil(2026, 3, 2, 3, 0, 0).unwrap();
        let w = Window::containing(monday, Duration::from_hours(1));
        let p = Phase::of(&w);
        assert_eq!((p.hour, p.hours, p.week_hour), (Some(3), 24, Some(3)));
        let sunday = Window::containing(monday - Duration::from_hours(4), Duration::from_hours(1));
        assert_eq!(Phase::of(&sunday).week_hour, Some(6 * 24 + 23));
        assert_eq!(Phase::of(&sunday).week + 1, p.week);
        // Quarter hours share their hour's slot; 6-hour windows have four slots a day.
        let q = Window::containing(monday + Duration::from_millis(45 * 60_000), Duration::from_millis(15 * 60_000));
        assert_eq!(Phase::of(&q).hour, Some(3));
        let six = Window::containing(monday + Duration::from_hours(10), Duration::from_hours(6));
        // 03:00 + 10 h is in 12:00-18:00, the third six-hour slot.
        assert_eq!((Phase::of(&six).hour, Phase::of(&six).hours), (Some(2), 4));
        let day = Window::containing(monday, Duration::from_hours(24));
        assert_eq!((Phase::of(&day).hour, Phase::of(&day).week_hour), (None, None));
    }

    fn contribution(shares: &[f64]) -> Contribution<'_> {
        Contribution { rows: 100.0, present: 100.0, cells: Some((shares, 100.0)), moments: (0.0, 0.0, 0.0) }
    }

    fn slot_of(shares: &[f64]) -> Slot {
        let mut s = Slot::default();
        s.add(1, 0.5, &contribution(shares));
        s
    }

    fn merge(slots: &[&Slot]) -> Slot {
        let mut all = Slot::default();
        for s in slots {
            all.absorb(s);
        }
        all
    }

    #[test]
    fn slots_decay_per_period_and_keep_the_cycle_relative() {
        let day = [0.5, 0.3, 0.2];
        let night = [0.2, 0.3, 0.5];
        let mut s = Slot::default();
        s.add(1, 0.5, &contribution(&day));
        assert!(!s.usable(1) && s.usable(2));
        s.add(2, 0.5, &contribution(&night));
        // Day 1 weighs half of day 2: (0.5 * 50 + 20) / 150 for the first cell.
        let sh = s.shares();
        assert!((sh[0] - 45.0 / 150.0).abs() < 1e-6, "{sh:?}");
        assert!(s.usable(2), "two periods: usable within the second");
        assert!((s.occurrences - 1.5).abs() < 1e-6);
        // Stored as one blob that reads back to the bit.
        let back: Slot = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        // A drift that moves every slot alike leaves the offsets alone.
        let grid = three_categories();
        let (n, d) = (slot_of(&night), slot_of(&day));
        let off = Offsets::between(&grid, &n, &merge(&[&n, &d]));
        assert!((off.cells[0] - (0.2 - 0.35)).abs() < 1e-6, "{off:?}");
        let moved = |v: &[f64]| -> Vec<f64> { v.iter().zip([0.1, 0.0, -0.1]).map(|(a, b)| a + b).collect() };
        let (n2, d2) = (slot_of(&moved(&night)), slot_of(&moved(&day)));
        let off2 = Offsets::between(&grid, &n2, &merge(&[&n2, &d2]));
        for (a, b) in off.cells.iter().zip(&off2.cells) {
            assert!((a - b).abs() < 1e-6, "{off:?} vs {off2:?}");
        }
    }

    #[test]
    fn the_merge_of_slots_weighs_each_hour_once_whatever_was_seen_again() {
        // The night slot has been seen again today, the day slot not yet: a plain sum would
        // count the night twice; per occurrence, the merge stays half night, half day.
        let (day, night) = ([0.5, 0.3, 0.2], [0.2, 0.3, 0.5]);
        let mut n = slot_of(&night);
        n.add(2, 1.0, &contribution(&night));
        let d = slot_of(&day);
        let all = merge(&[&n, &d]);
        let sh = all.shares();
        assert!((sh[0] - 0.35).abs() < 1e-6, "{sh:?}");
        // Its sampling error still counts all the values behind it.
        let grid = three_categories();
        let off = Offsets::between(&grid, &d, &all);
        assert!((off.inv_n - (1.0 / 100.0 + 1.0 / 300.0)).abs() < 1e-9, "{}", off.inv_n);
    }

    #[test]
    fn evidence_is_about_standard_normal_without_a_cycle() {
        let mut rng = crate::testing::Rng::new(5);
        let mut worst: f64 = 0.0;
        for _ in 0..50 {
            let mut e = Evidence::default();
            for _ in 0..200 {
                e.add(rng.normal() * 7.0, 1.0 - 1.0 / 48.0);
                worst = worst.max(e.t());
            }
        }
        // 50 streams of 200 windows (about 8 independent looks each): a few reach 2.5.
        assert!(worst < SELECT_ON + 0.5, "{worst}");
        let mut e = Evidence::default();
        for k in 0..12 {
            e.add(20.0 + (k % 3) as f64 * 10.0, 1.0 - 1.0 / 48.0);
        }
        assert!(e.t() > SELECT_ON, "{}", e.t());
    }

    #[test]
    fn binned_distances_and_medians() {
        let grid = Grid {
            edges: vec![1.0, 2.0, 3.0],
            categorical: false,
            base: vec![0.25; 4],
            m: 1e4,
            iqr: 2.0,
            values: vec![],
        };
        assert!((grid.distance([0.1, 0.1, -0.2, 0.0].into_iter()) - 0.2).abs() < 1e-12);
        assert!((grid.median(&[0.25; 4]) - 2.0).abs() < 1e-12);
        assert!((grid.median(&[0.5, 0.5, 0.0, 0.0]) - 1.0).abs() < 1e-12);
        let cat = Grid { categorical: true, ..grid.clone() };
        assert!((cat.distance([0.1, 0.1, -0.2, 0.0].into_iter()) - 0.2).abs() < 1e-12);
        assert!(cat.median(&[0.25; 4]).is_nan());
    }
}
