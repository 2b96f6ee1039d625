//! Radix sort for the sketch's hot loop: KLL compactions and CDF construction sort thousands of
//! `f64` values at a time, and bucketing their total-order bit patterns by one digit, then
//! sorting the small buckets, is several times faster than a comparison sort there.
//!
//! The order is exactly `f64::total_cmp`'s (so `-0.0` sorts before `0.0`, as Java's
//! `Arrays.sort(double[])`, which Deequ uses, also orders them), and the sort is stable.

/// Below this length a comparison sort is faster than eight histograms.
const SMALL: usize = 192;

/// Maps an `f64` to a `u64` whose unsigned order is `f64::total_cmp`'s.
#[inline]
pub fn total_order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Sorts `v` in `f64::total_cmp` order, using `scratch` as the second buffer.
pub fn sort_f64(v: &mut [f64], scratch: &mut Vec<f64>) {
    if v.len() < SMALL {
        v.sort_unstable_by(f64::total_cmp);
        return;
    }
    sort_by_key(v, scratch, |x| total_order_key(*x));
}

/// Largest digit: 2,048 buckets, 8 KB of counters.
const DIGIT_BITS: u32 = 11;
/// Buckets this small are insertion-sorted.
const BUCKET: usize = 24;

/// Sorts `v` stably by `key` (unsigned order), using `scratch` as the second buffer.
///
/// Most-significant digit first: keys are bucketed by the digit starting at the highest bit in
/// which any two of them differ (so values of one magnitude spread over all buckets, and the
/// sign and exponent bits cost nothing when they agree), and each bucket is sorted the same
/// way, down to buckets of a handful of items, which are insertion-sorted.
pub fn sort_by_key<T: Copy + Default>(v: &mut [T], scratch: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    let n = v.len();
    if n < SMALL {
        v.sort_by_key(|x| key(x));
        return;
    }
    scratch.clear();
    scratch.resize(n, T::default());
    msd(v, scratch, &key);
}

/// One bucketing pass over `v` (at least [`SMALL`] items), then each bucket: small ones by
/// insertion or comparison sort, large ones (a sign or an exponent shared by many keys) by
/// another pass on the lower bits. At most `n / SMALL` passes recurse, so the 8 KB of counters
/// per pass stays cheap.
fn msd<T: Copy>(v: &mut [T], tmp: &mut [T], key: &impl Fn(&T) -> u64) {
    let n = v.len();
    let first = key(&v[0]);
    let differ = v.iter().fold(0u64, |acc, x| acc | (key(x) ^ first));
    if differ == 0 {
        return;
    }
    let top = 64 - differ.leading_zeros();
    // About one item per bucket: a digit of log2(n) bits, at least 4.
    let want = (usize::BITS - n.leading_zeros()).clamp(4, DIGIT_BITS);
    let width = top.min(want);
    let shift = top - width;
    let mask = (1u64 << width) - 1;
    let digit = |x: &T| ((key(x) >> shift) & mask) as usize;
    let buckets = 1usize << width;
    let mut counts = [0u32; (1 << DIGIT_BITS) + 1];
    for x in v.iter() {
        counts[digit(x) + 1] += 1;
    }
    for i in 1..=buckets {
        counts[i] += counts[i - 1];
    }
    let starts = counts;
    for x in v.iter() {
        let d = digit(x);
        tmp[counts[d] as usize] = *x;
        counts[d] += 1;
    }
    v.copy_from_slice(tmp);
    for w in starts[..=buckets].windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        match b - a {
            0 | 1 => {}
            m if m <= BUCKET => insertion_sort(&mut v[a..b], key),
            m if m < SMALL => v[a..b].sort_by_key(|x| key(x)),
            _ => msd(&mut v[a..b], &mut tmp[a..b], key),
        }
    }
}

/// Stable insertion sort by `key`, for the small buckets.
#[inline]
fn insertion_sort<T: Copy>(b: &mut [T], key: &impl Fn(&T) -> u64) {
    for i in 1..b.len() {
        let x = b[i];
        let k = key(&x);
        let mut j = i;
        while j > 0 && key(&b[j - 1]) > k {
            b[j] = b[j - 1];
            j -= 1;
        }
        b[j] = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn specials() -> Vec<f64> {
        vec![0.0, -0.0, 1.0, -1.0, f64::MIN_POSITIVE, -f64::MIN_POSITIVE, f64::MAX, f64::MIN, 5e-324, -5e-324, 1e300]
    }

    proptest! {
        #[test]
        fn sorts_as_total_cmp(mut v in proptest::collection::vec(
            prop_oneof![any::<f64>().prop_filter("finite", |x| x.is_finite()), (-50i32..50).prop_map(f64::from)],
            0..2000,
        )) {
            v.extend(specials());
            let mut want = v.clone();
            want.sort_by(f64::total_cmp);
            let mut scratch = Vec::new();
            sort_f64(&mut v, &mut scratch);
            prop_assert_eq!(v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        }

        #[test]
        fn stable_by_key(v in proptest::collection::vec((0u64..40, any::<u32>()), 0..1000)) {
            let mut got = v.clone();
            let mut scratch = Vec::new();
            sort_by_key(&mut got, &mut scratch, |p| p.0);
            let mut want = v;
            want.sort_by_key(|p| p.0);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn one_magnitude_and_few_values_sort() {
        let mut v: Vec<f64> = (0..5000).map(|i| 1000.0 + f64::from((i * 7919) % 5000) / 7.0).collect();
        let mut scratch = Vec::new();
        sort_f64(&mut v, &mut scratch);
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
        let mut few: Vec<f64> = (0..5000).map(|i| f64::from(i % 3)).collect();
        sort_f64(&mut few, &mut scratch);
        assert!(few.windows(2).all(|w| w[0] <= w[1]));
        let mut same = vec![2.5; 300];
        sort_f64(&mut same, &mut scratch);
        assert!(same.iter().all(|&x| x == 2.5));
    }
}
