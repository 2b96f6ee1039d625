//! Deequ's KLL quantile sketch (`QuantileNonSample` + `NonSampleCompactor`), ported exactly.
//!
//! Model Monitor writes this sketch into `statistics.json` as `sketch.data`: level `i` holds items
//! of weight `2^i`. Using the same algorithm for live windows means a window's `statistics.json`
//! is a real Deequ sketch, and the sketch is deterministic (Deequ's random compaction offset is
//! commented out upstream; the offset alternates), so a replay is reproducible bit for bit.
//!
//! Level `h` holds at most `2 * (ceil(k * c^h / 2) + 1)` items. When the total exceeds the total
//! capacity, the lowest full level is sorted and every other item (from the current offset)
//! moves up one level; an odd last item stays. Rank error is about `1/k` of the count.

use serde::{Deserialize, Serialize};

/// Deequ's default sketch size (`KLLSketch.DEFAULT_SKETCH_SIZE`).
pub const DEFAULT_K: u32 = 2048;
/// Deequ's default shrinking factor (`KLLSketch.DEFAULT_SHRINKING_FACTOR`).
pub const DEFAULT_C: f64 = 0.64;
/// Items level 0 of a sketch reserves at its first value: a capture object's partial profile
/// holds a few dozen to a few hundred values of a feature, and growing a vector from four items
/// by doubling took six reallocations per feature and object (about 6% of a replay of 20 KB
/// objects, by `perf`). 2 KB per numeric feature; the level grows past it as before.
const FIRST_LEVEL_RESERVE: usize = 256;

/// A mergeable quantile sketch over finite `f64` values.
#[derive(Debug, Serialize, Deserialize)]
pub struct Kll {
    k: u32,
    c: f64,
    levels: Vec<Level>,
    #[serde(skip)]
    capacities: Vec<usize>,
    #[serde(skip)]
    actual: usize,
    #[serde(skip)]
    total_capacity: usize,
    /// The CDF of the current items, when [`Kll::cache_cdf`] built it; dropped by any change.
    #[serde(skip)]
    cdf: Option<WeightedCdf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Level {
    items: Vec<f64>,
    compactions: u32,
    offset: u8,
}

impl Clone for Kll {
    /// Clones the sketch without its cached CDF (a copy is rarely compared as often).
    fn clone(&self) -> Self {
        Kll {
            k: self.k,
            c: self.c,
            levels: self.levels.clone(),
            capacities: self.capacities.clone(),
            actual: self.actual,
            total_capacity: self.total_capacity,
            cdf: None,
        }
    }
}

impl PartialEq for Kll {
    /// Sketches are equal when their parameters and levels (items, compaction state) are; the
    /// cached capacities are derived from those.
    fn eq(&self, other: &Self) -> bool {
        self.k == other.k && self.c == other.c && self.levels == other.levels
    }
}

impl Default for Kll {
    fn default() -> Self {
        Kll::new(DEFAULT_K, DEFAULT_C)
    }
}

impl Kll {
    /// Creates an empty sketch with size `k` and shrinking factor `c`.
    pub fn new(k: u32, c: f64) -> Self {
        let mut s = Kll { k, c, levels: Vec::new(), capacities: Vec::new(), actual: 0, total_capacity: 0, cdf: None };
        s.expand();
        s
    }

    /// Restores derived fields after deserialization.
    pub fn rebuild(&mut self) {
        self.cdf.take();
        if self.levels.is_empty() {
            self.expand();
        }
        self.capacities = (0..self.levels.len()).map(|h| self.capacity(h)).collect();
        self.total_capacity = self.capacities.iter().sum();
        self.actual = self.levels.iter().map(|l| l.items.len()).sum();
    }

    fn capacity(&self, height: usize) -> usize {
        let c = f64::from(self.k) * self.c.powf(height as f64) / 2.0;
        2 * (c.ceil() as usize + 1)
    }

    fn expand(&mut self) {
        self.levels.push(Level { items: Vec::new(), compactions: 0, offset: 0 });
        let cap = self.capacity(self.levels.len() - 1);
        self.capacities.push(cap);
        self.total_capacity += cap;
    }

    /// Adds one value. Callers pass finite values only.
    #[inline]
    pub fn update(&mut self, value: f64) {
        debug_assert!(value.is_finite());
        self.cdf.take();
        let first = &mut self.levels[0].items;
        if first.capacity() == 0 {
            // One allocation for a small object's values instead of doubling from four.
            first.reserve(FIRST_LEVEL_RESERVE);
        }
        first.push(value);
        self.actual += 1;
        if self.actual > self.total_capacity {
            self.condense();
        }
    }

    fn condense(&mut self) {
        for h in 0..self.levels.len() {
            if self.levels[h].items.len() >= self.capacities[h] {
                if h + 1 >= self.levels.len() {
                    self.expand();
                }
                let (low, high) = self.levels.split_at_mut(h + 1);
                low[h].compact_into(&mut high[0].items, h == 0);
                self.actual = self.levels.iter().map(|l| l.items.len()).sum();
                return;
            }
        }
    }

    /// Merges `other` into `self` as Deequ does: level-wise concatenation, then compaction.
    pub fn merge(&mut self, other: &Kll) {
        self.cdf.take();
        while self.levels.len() < other.levels.len() {
            self.expand();
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            mine.items.extend_from_slice(&theirs.items);
        }
        self.actual = self.levels.iter().map(|l| l.items.len()).sum();
        while self.actual >= self.total_capacity {
            self.condense();
        }
    }

    /// Returns the sketch parameters `(c, k)`.
    pub fn parameters(&self) -> (f64, u32) {
        (self.c, self.k)
    }

    /// Returns the items of each level (level `i` has weight `2^i`), as `sketch.data` in
    /// `statistics.json`.
    pub fn levels(&self) -> impl Iterator<Item = &[f64]> {
        self.levels.iter().map(|l| l.items.as_slice())
    }

    /// Returns the total weight (the number of values seen, up to compaction rounding).
    pub fn weight(&self) -> u64 {
        self.levels.iter().enumerate().map(|(i, l)| (l.items.len() as u64) << i).sum()
    }

    /// Returns whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.actual == 0
    }

    /// Returns the weighted CDF of the sketch's items: the cached one after
    /// [`Kll::cache_cdf`], else built now.
    pub fn cdf(&self) -> std::borrow::Cow<'_, WeightedCdf> {
        match &self.cdf {
            Some(c) => std::borrow::Cow::Borrowed(c),
            None => std::borrow::Cow::Owned(WeightedCdf::from_levels(self.levels())),
        }
    }

    /// Builds the CDF once for the many comparisons of a closed window; any change drops it.
    pub fn cache_cdf(&mut self) {
        if self.cdf.is_none() {
            self.cdf = Some(WeightedCdf::from_levels(self.levels()));
        }
    }

    /// Drops the cached CDF and spare capacity, for a sketch that is kept but not compared
    /// again (the classifier's recent windows).
    pub fn trim(&mut self) {
        self.cdf = None;
        for l in &mut self.levels {
            l.items.shrink_to_fit();
        }
    }
}

thread_local! {
    /// The radix sort's second buffer, reused across compactions on this thread.
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The same for CDF points.
    static POINT_SCRATCH: std::cell::RefCell<Vec<(f64, f64)>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Level {
    /// Sorts the even-length prefix, sends every other item up, keeps an odd last item.
    ///
    /// Level 0 holds values in arrival order and is radix-sorted. Higher levels hold a few
    /// sorted runs (each compaction below, or a merged sketch's level, appends one), which
    /// the standard library's stable sort merges in about linear time. Both give
    /// `f64::total_cmp` order, whose ties are identical values.
    fn compact_into(&mut self, out: &mut Vec<f64>, arrival_order: bool) {
        let items = self.items.len();
        let len = items - items % 2;
        if self.compactions % 2 == 1 {
            self.offset = 1 - self.offset;
        }
        let tail = if items % 2 == 1 { Some(self.items[items - 1]) } else { None };
        let sorted = &mut self.items[..len];
        if arrival_order {
            SCRATCH.with_borrow_mut(|scratch| super::radix::sort_f64(sorted, scratch));
        } else {
            sorted.sort_by(f64::total_cmp);
        }
        out.extend(sorted.iter().skip(usize::from(self.offset)).step_by(2));
        self.items.clear();
        if let Some(t) = tail {
            self.items.push(t);
        }
        self.compactions += 1;
    }
}

/// A step CDF over weighted points: distinct sorted values with cumulative weights.
///
/// This is Deequ's `getRankMap`: `rank(x)` is the total weight of items `<= x`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightedCdf {
    values: Vec<f64>,
    cum: Vec<f64>,
}

impl WeightedCdf {
    /// Builds the CDF of sketch levels, level `i` weighing `2^i`.
    pub fn from_levels<'a>(levels: impl Iterator<Item = &'a [f64]>) -> Self {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (i, items) in levels.enumerate() {
            let w = (1u64 << i.min(62)) as f64;
            points.extend(items.iter().filter(|v| v.is_finite()).map(|&v| (v, w)));
        }
        Self::from_points(points)
    }

    /// Builds the CDF of `(value, weight)` points; non-finite values and non-positive weights
    /// are ignored.
    pub fn from_points(mut points: Vec<(f64, f64)>) -> Self {
        points.retain(|(v, w)| v.is_finite() && *w > 0.0);
        POINT_SCRATCH.with_borrow_mut(|scratch| {
            super::radix::sort_by_key(&mut points, scratch, |p| super::radix::total_order_key(p.0));
        });
        let mut values = Vec::with_capacity(points.len());
        let mut cum: Vec<f64> = Vec::with_capacity(points.len());
        let mut running = 0.0;
        for (v, w) in points {
            running += w;
            // -0.0 and 0.0 are one value here.
            if values.last() == Some(&v) {
                if let Some(c) = cum.last_mut() {
                    *c = running;
                }
            } else {
                values.push(v);
                cum.push(running);
            }
        }
        WeightedCdf { values, cum }
    }

    /// Returns the total weight.
    pub fn total(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    /// Returns whether the CDF has no points.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Returns the distinct values, sorted.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Returns the cumulative weights, aligned with [`WeightedCdf::values`].
    pub fn cumulative(&self) -> &[f64] {
        &self.cum
    }

    /// Returns the weight of items `<= x` (Deequ `getRank`).
    pub fn rank(&self, x: f64) -> f64 {
        let idx = self.values.partition_point(|&v| v <= x);
        if idx == 0 {
            0.0
        } else {
            self.cum[idx - 1]
        }
    }

    /// Returns the weight of items `< x` (Deequ `getRankExclusive`).
    pub fn rank_exclusive(&self, x: f64) -> f64 {
        let idx = self.values.partition_point(|&v| v < x);
        if idx == 0 {
            0.0
        } else {
            self.cum[idx - 1]
        }
    }

    /// Returns the smallest value whose CDF reaches `q` (0..=1); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total <= 0.0 {
            return None;
        }
        let target = q.clamp(0.0, 1.0) * total;
        let idx = self.cum.partition_point(|&c| c < target);
        self.values.get(idx.min(self.values.len() - 1)).copied()
    }

    /// Returns bin edges at the deciles (duplicates removed): bins are `(-inf, e0]`,
    /// `(e0, e1]`, ..., `(e_last, inf)`.
    pub fn decile_edges(&self) -> Vec<f64> {
        let mut edges: Vec<f64> = (1..10).filter_map(|i| self.quantile(f64::from(i) / 10.0)).collect();
        edges.dedup();
        edges
    }

    /// Returns the weight in each bin of `edges` (see [`WeightedCdf::decile_edges`]).
    pub fn bin_weights(&self, edges: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(edges.len() + 1);
        let mut prev = 0.0;
        for &e in edges {
            let r = self.rank(e);
            out.push(r - prev);
            prev = r;
        }
        out.push(self.total() - prev);
        out
    }

    /// Returns `integral sqrt(F (1 - F)) dx`, the scale of the empirical process (what
    /// Wasserstein noise is proportional to).
    pub fn process_scale(&self) -> f64 {
        let n = self.total();
        if n <= 0.0 {
            return 0.0;
        }
        let mut total = 0.0;
        for k in 1..self.values.len() {
            let f = self.cum[k - 1] / n;
            total += (f * (1.0 - f)).max(0.0).sqrt() * (self.values[k] - self.values[k - 1]);
        }
        total
    }

    /// Returns the CDF (0..=1) at `x`.
    pub fn fraction_le(&self, x: f64) -> f64 {
        let t = self.total();
        if t <= 0.0 {
            0.0
        } else {
            self.rank(x) / t
        }
    }
}

/// Ten equal-width buckets from `min` to `max` counted as Deequ's `KLLSketch.computeMetricFrom`
/// does: `[lo, hi)` by exclusive ranks, the last bucket closed.
pub fn equal_width_buckets(cdf: &WeightedCdf, min: f64, max: f64, n: usize) -> Vec<(f64, f64, f64)> {
    (0..n)
        .map(|i| {
            let lo = min + (max - min) * i as f64 / n as f64;
            let hi = min + (max - min) * (i + 1) as f64 / n as f64;
            let count = if i == n - 1 {
                cdf.rank(hi) - cdf.rank_exclusive(lo)
            } else {
                cdf.rank_exclusive(hi) - cdf.rank_exclusive(lo)
            };
            (lo, hi, count)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_follow_deequ() {
        let k = Kll::default();
        assert_eq!(k.capacity(0), 2050);
        assert_eq!(k.capacity(1), 1314);
        assert_eq!(k.capacity(2), 842);
    }

    #[test]
    fn small_inputs_stay_exact_in_one_level() {
        let mut k = Kll::default();
        for i in 0..2050 {
            k.update(f64::from(i % 7));
        }
        assert_eq!(k.levels().count(), 1);
        assert_eq!(k.weight(), 2050);
        k.update(1.0);
        assert_eq!(k.levels().count(), 2);
        // 2051 items: 2050 compacted to 1025 of weight 2, one odd item stays.
        assert_eq!(k.levels().map(|l| l.len()).collect::<Vec<_>>(), vec![1, 1025]);
        assert_eq!(k.weight(), 2051);
    }

    #[test]
    fn offsets_alternate_like_deequ() {
        // compactions 0,1,2,3 use offsets 0,1,1,0.
        let mut l = Level { items: vec![], compactions: 0, offset: 0 };
        let mut seen = vec![];
        for _ in 0..4 {
            l.items = vec![4.0, 3.0, 2.0, 1.0];
            let mut out = vec![];
            l.compact_into(&mut out, true);
            seen.push(out);
        }
        assert_eq!(seen, vec![vec![1.0, 3.0], vec![2.0, 4.0], vec![2.0, 4.0], vec![1.0, 3.0]]);
    }

    #[test]
    fn quantiles_of_a_large_stream_are_close() {
        let mut k = Kll::default();
        let n = 200_000u32;
        for i in 0..n {
            // A permutation of 0..n, so the sketch sees unsorted input.
            k.update(f64::from((i.wrapping_mul(7919)) % n));
        }
        let cdf = k.cdf();
        assert_eq!(cdf.total(), f64::from(n));
        for q in [0.01, 0.1, 0.5, 0.9, 0.99] {
            let got = cdf.quantile(q).unwrap();
            let err = (got / f64::from(n) - q).abs();
            assert!(err < 0.005, "q {q}: {got} (err {err})");
        }
    }

    #[test]
    fn ranks_and_buckets() {
        let cdf = WeightedCdf::from_points(vec![(1.0, 1.0), (2.0, 2.0), (2.0, 1.0), (3.0, 4.0)]);
        assert_eq!(cdf.values(), &[1.0, 2.0, 3.0]);
        assert_eq!(cdf.rank(2.0), 4.0);
        assert_eq!(cdf.rank_exclusive(2.0), 1.0);
        assert_eq!(cdf.rank(0.5), 0.0);
        let b = equal_width_buckets(&cdf, 1.0, 3.0, 2);
        assert_eq!(b, vec![(1.0, 2.0, 1.0), (2.0, 3.0, 7.0)]);
    }
}
