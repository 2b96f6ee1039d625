//! Category counts with a cap on distinct values, mergeable exactly.
//!
//! Which values are kept must not depend on arrival order, or `merge(a, b)` could not equal
//! profiling `a ++ b` (a value kept on one side may have overflowed on the other). So, once more
//! than `cap` distinct values are seen, the counter keeps the `cap` values with the *smallest
//! hash* (a bottom-k sample of the distinct values) with exact counts, and every occurrence of
//! any other value is counted in `overflow`. A value in the bottom-k of the whole stream is in
//! the bottom-k of every part that contains it, so its count is exact on every side and sums
//! exactly; everything else sums into `overflow`. Below the cap (the common case: categorical
//! features have tens of values) every value is kept.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Deserializer, Serialize};

use super::hll::hash_bytes;

/// Default cap on distinct values per feature and window.
pub const DEFAULT_CAP: usize = 1000;

/// Counts of category values.
#[derive(Debug, Clone, Serialize)]
pub struct Categories {
    cap: usize,
    entries: Vec<Entry>,
    overflow: u64,
    #[serde(skip)]
    index: FxHashMap<Box<str>, usize>,
    /// Largest hash among kept entries once the counter is full (values above it overflow).
    #[serde(skip)]
    threshold: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    value: Box<str>,
    count: u64,
    #[serde(skip)]
    hash: u64,
}

impl Default for Categories {
    fn default() -> Self {
        Categories::with_cap(DEFAULT_CAP)
    }
}

impl PartialEq for Categories {
    /// Two counters are equal when they hold the same values with the same counts, whatever
    /// the internal order.
    fn eq(&self, other: &Self) -> bool {
        self.cap == other.cap && self.overflow == other.overflow && self.sorted() == other.sorted()
    }
}

impl Categories {
    /// Creates an empty counter keeping at most `cap` distinct values (at least one).
    pub fn with_cap(cap: usize) -> Self {
        Categories { cap: cap.max(1), entries: Vec::new(), overflow: 0, index: FxHashMap::default(), threshold: None }
    }

    /// Counts `n` occurrences of `value`.
    #[inline]
    pub fn add(&mut self, value: &str, n: u64) {
        self.add_hashed(value, hash_bytes(value.as_bytes()), n);
    }

    /// Counts `n` occurrences of `value` whose [`hash_bytes`] is `hash`.
    #[inline]
    pub fn add_hashed(&mut self, value: &str, hash: u64, n: u64) {
        if let Some(&i) = self.index.get(value) {
            self.entries[i].count += n;
            return;
        }
        if let Some(t) = self.threshold {
            if hash >= t {
                self.overflow += n;
                return;
            }
        }
        self.index.insert(value.into(), self.entries.len());
        self.entries.push(Entry { value: value.into(), count: n, hash });
        if self.entries.len() > self.cap {
            self.evict_largest_hash();
        }
    }

    fn evict_largest_hash(&mut self) {
        let Some((i, _)) = self.entries.iter().enumerate().max_by_key(|(_, e)| (e.hash, &e.value)) else {
            return;
        };
        let evicted = self.entries.swap_remove(i);
        self.index.remove(&evicted.value);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(moved.value.clone(), i);
        }
        self.overflow += evicted.count;
        self.threshold = self.entries.iter().map(|e| e.hash).max();
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: &Categories) {
        for e in &other.entries {
            self.add_hashed(&e.value, e.hash, e.count);
        }
        self.overflow += other.overflow;
    }

    /// Returns the kept values and counts, most frequent first (ties by value).
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.entries.iter().map(|e| (&*e.value, e.count)).collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// Returns the number of kept values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.overflow == 0
    }

    /// Returns the count of occurrences of values that were not kept.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    /// Returns the count of `value` (0 when unseen or not kept).
    pub fn get(&self, value: &str) -> u64 {
        self.index.get(value).map(|&i| self.entries[i].count).unwrap_or(0)
    }

    /// Returns the total count, overflow included.
    pub fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.count).sum::<u64>() + self.overflow
    }
}

impl<'de> Deserialize<'de> for Categories {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            cap: usize,
            entries: Vec<Entry>,
            overflow: u64,
        }
        let raw = Raw::deserialize(d)?;
        let mut c = Categories::with_cap(raw.cap);
        c.overflow = raw.overflow;
        for mut e in raw.entries {
            e.hash = hash_bytes(e.value.as_bytes());
            c.index.insert(e.value.clone(), c.entries.len());
            c.entries.push(e);
        }
        if c.entries.len() >= c.cap {
            c.threshold = c.entries.iter().map(|e| e.hash).max();
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_the_cap() {
        let mut c = Categories::with_cap(10);
        for v in ["a", "b", "a", "c", "c", "c"] {
            c.add(v, 1);
        }
        assert_eq!(c.sorted(), vec![("c", 3), ("a", 2), ("b", 1)]);
        assert_eq!(c.overflow(), 0);
    }

    #[test]
    fn cap_keeps_smallest_hashes_whatever_the_order() {
        let values: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
        let mut fwd = Categories::with_cap(5);
        let mut rev = Categories::with_cap(5);
        for v in &values {
            fwd.add(v, 2);
        }
        for v in values.iter().rev() {
            rev.add(v, 2);
        }
        assert_eq!(fwd, rev);
        assert_eq!(fwd.len(), 5);
        assert_eq!(fwd.total(), 100);
        assert_eq!(fwd.overflow(), 90);
    }

    #[test]
    fn serde_round_trip_keeps_behaviour() {
        let mut c = Categories::with_cap(3);
        for i in 0..20 {
            c.add(&format!("x{i}"), 1);
        }
        let json = serde_json::to_string(&c).unwrap();
        let mut back: Categories = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        for i in 20..40 {
            c.add(&format!("x{i}"), 1);
            back.add(&format!("x{i}"), 1);
        }
        assert_eq!(back, c);
    }
}
