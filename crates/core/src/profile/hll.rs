//! HyperLogLog distinct counting (precision 12: 4,096 one-byte registers, about 1.6% error).
//!
//! Registers are allocated on the first insert, so a feature that never sees a value costs
//! nothing. Merging takes the register-wise maximum, which is exactly the sketch of the union.

use serde::{Deserialize, Serialize};

const P: u32 = 12;
const M: usize = 1 << P;

/// A distinct-count sketch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hll {
    #[serde(with = "registers")]
    registers: Vec<u8>,
}

impl Hll {
    /// Adds an item by its 64-bit hash.
    #[inline]
    pub fn insert_hash(&mut self, h: u64) {
        if self.registers.is_empty() {
            self.registers = vec![0; M];
        }
        let idx = (h >> (64 - P)) as usize;
        let w = (h << P) | (1 << (P - 1));
        let rho = (w.leading_zeros() + 1) as u8;
        if self.registers[idx] < rho {
            self.registers[idx] = rho;
        }
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: &Hll) {
        if other.registers.is_empty() {
            return;
        }
        if self.registers.is_empty() {
            self.registers = other.registers.clone();
            return;
        }
        for (a, b) in self.registers.iter_mut().zip(&other.registers) {
            *a = (*a).max(*b);
        }
    }

    /// Returns the estimated number of distinct items.
    pub fn estimate(&self) -> f64 {
        if self.registers.is_empty() {
            return 0.0;
        }
        let m = M as f64;
        let mut sum = 0.0;
        let mut zeros = 0usize;
        for &r in &self.registers {
            sum += 1.0 / f64::from(1u32 << r.min(31));
            if r == 0 {
                zeros += 1;
            }
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        }
    }
}

/// FNV-1a of `bytes` (without the final mix; [`hash_bytes`] adds it).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hashes bytes: FNV-1a, then a splitmix64 finaliser for well-mixed high bits.
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    mix64(fnv1a(bytes))
}

/// Hashes a number by value (`-0.0` and `0.0` hash alike).
#[inline]
pub fn hash_f64(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    mix64(x.to_bits() ^ 0x9e37_79b9_7f4a_7c15)
}

/// splitmix64's finaliser.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

mod registers {
    //! Registers serialise as a compact hex string (8 KB instead of ~16 KB of JSON numbers).
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(r.len() * 2);
        for b in r {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = s.as_bytes();
        if bytes.len() % 2 != 0 || !(bytes.is_empty() || bytes.len() == 2 * super::M) {
            return Err(serde::de::Error::custom("hll registers: wrong length"));
        }
        let nib = |c: u8| -> Result<u8, D::Error> {
            (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| serde::de::Error::custom("hll registers: not hex"))
        };
        bytes.chunks(2).map(|p| Ok((nib(p[0])? << 4) | nib(p[1])?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_within_a_few_percent() {
        for n in [1u64, 10, 100, 1_000, 10_000, 200_000] {
            let mut h = Hll::default();
            for i in 0..n {
                h.insert_hash(hash_bytes(format!("item-{i}").as_bytes()));
                h.insert_hash(hash_bytes(format!("item-{i}").as_bytes()));
            }
            let est = h.estimate();
            let err = (est - n as f64).abs() / n as f64;
            assert!(err < 0.05, "n {n}: estimate {est}");
        }
    }

    #[test]
    fn merge_is_union_and_serde_round_trips() {
        let mut a = Hll::default();
        let mut b = Hll::default();
        let mut both = Hll::default();
        for i in 0..5000 {
            let h = hash_f64(f64::from(i));
            if i % 3 == 0 {
                a.insert_hash(h)
            } else {
                b.insert_hash(h)
            }
            both.insert_hash(h);
        }
        a.merge(&b);
        assert_eq!(a, both);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Hll>(&json).unwrap(), a);
        assert_eq!(hash_f64(0.0), hash_f64(-0.0));
    }
}
