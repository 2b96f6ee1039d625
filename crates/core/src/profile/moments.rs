//! Count, mean, variance, sum, min and max, mergeable.
//!
//! Updates follow Spark's `CentralMomentAgg` (which Deequ's standard deviation uses), so a
//! baseline built here matches Model Monitor's `std_dev` to the last bit on the same row order;
//! merges use Chan et al.'s parallel formula in Spark's arrangement.

use serde::{Deserialize, Serialize};

/// Running moments of finite values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values.
    pub n: u64,
    /// Running mean (Welford).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Plain sum, in arrival order.
    pub sum: f64,
    /// Smallest value (`+inf` when empty; `null` in JSON).
    #[serde(with = "extreme::min")]
    pub min: f64,
    /// Largest value (`-inf` when empty; `null` in JSON).
    #[serde(with = "extreme::max")]
    pub max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments { n: 0, mean: 0.0, m2: 0.0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl Moments {
    /// Adds one value.
    #[inline]
    pub fn update(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        let delta_n = delta / self.n as f64;
        self.mean += delta_n;
        self.m2 += delta * (delta - delta_n);
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n1 = self.n as f64;
        let n2 = other.n as f64;
        let n = n1 + n2;
        let delta = other.mean - self.mean;
        let delta_n = delta / n;
        self.mean += delta_n * n2;
        self.m2 += other.m2 + delta * delta_n * n1 * n2;
        self.n += other.n;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Returns Deequ's mean (`sum / count`); NaN when empty.
    pub fn deequ_mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum / self.n as f64
        }
    }

    /// Returns the population standard deviation; NaN when empty.
    pub fn std_dev_pop(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            (self.m2 / self.n as f64).sqrt()
        }
    }
}

/// JSON has no infinities: the extremes of an empty set serialise as `null`.
mod extreme {
    macro_rules! extreme {
        ($name:ident, $empty:expr) => {
            pub mod $name {
                use serde::{Deserialize, Deserializer, Serializer};

                pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
                    if v.is_finite() {
                        s.serialize_f64(*v)
                    } else {
                        s.serialize_none()
                    }
                }

                pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
                    Ok(Option::<f64>::deserialize(d)?.unwrap_or($empty))
                }
            }
        };
    }
    extreme!(min, f64::INFINITY);
    extreme!(max, f64::NEG_INFINITY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_std_dev() {
        let mut m = Moments::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            m.update(x);
        }
        assert_eq!(m.deequ_mean(), 5.0);
        assert!((m.std_dev_pop() - 2.0).abs() < 1e-12);
        assert_eq!((m.min, m.max, m.sum), (2.0, 9.0, 40.0));
    }

    #[test]
    fn merge_matches_sequential() {
        let xs: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 * 0.5 - 7.0).collect();
        let mut all = Moments::default();
        xs.iter().for_each(|&x| all.update(x));
        let (a, b) = xs.split_at(313);
        let mut ma = Moments::default();
        a.iter().for_each(|&x| ma.update(x));
        let mut mb = Moments::default();
        b.iter().for_each(|&x| mb.update(x));
        ma.merge(&mb);
        assert_eq!(ma.n, all.n);
        assert!((ma.mean - all.mean).abs() < 1e-9);
        assert!((ma.m2 - all.m2).abs() / all.m2 < 1e-9);
        let mut empty = Moments::default();
        empty.merge(&all);
        assert_eq!(empty, all);
        let json = serde_json::to_string(&Moments::default()).unwrap();
        assert_eq!(serde_json::from_str::<Moments>(&json).unwrap(), Moments::default());
    }
}
