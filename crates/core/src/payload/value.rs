//! One decoded cell value and Deequ's data-type rules.
//!
//! Deequ (and so Model Monitor) types a textual value with three regular expressions
//! (`DataType.scala`, `StatefulDataType.scala`):
//! - Fractional: `^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$`
//! - Integral: `^(-|\+)? ?\d+$`
//! - Boolean: `^(true|false)$`
//!
//! Anything else is String, and null is Unknown. `"3.0"` is therefore Fractional, and `".5"`,
//! `"5."` and `"NaN"` are String. We hand-match these patterns (no regex engine on the hot path);
//! the unit tests below pin the corner cases.

use std::borrow::Cow;

/// The data type Deequ assigns to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    /// Whole number: matches the Integral pattern.
    Integral,
    /// Number with a fraction or exponent.
    Fractional,
    /// `true` or `false`.
    Boolean,
    /// Anything else that is present.
    String,
}

/// One cell of a decoded row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Empty CSV field, JSON `null`, or a key that is absent.
    Missing,
    /// A number (Integral or Fractional by Deequ's rules), with the text it was written as.
    Number {
        /// The parsed value; always finite.
        value: f64,
        /// Whether the text matched the Integral pattern.
        integral: bool,
        /// The text as written (used when the baseline treats the feature as categorical).
        text: Cow<'a, str>,
    },
    /// A boolean.
    Bool(bool),
    /// Any other text.
    Text(Cow<'a, str>),
    /// `NaN`, `inf`, or a number too large for f64: counted as a bad value and treated as missing.
    NonFinite,
}

impl<'a> Value<'a> {
    /// Classifies a textual field (CSV cell, JSON string) with Deequ's rules.
    ///
    /// Leading and trailing ASCII whitespace is ignored; an empty field is missing.
    pub fn from_text(raw: &'a str) -> Value<'a> {
        Self::classify(raw, Cow::Borrowed)
    }

    /// The same value, owning its text (to keep past the body it was read from).
    pub fn to_static(&self) -> Value<'static> {
        match self {
            Value::Missing => Value::Missing,
            Value::NonFinite => Value::NonFinite,
            Value::Bool(b) => Value::Bool(*b),
            Value::Number { value, integral, text } => {
                Value::Number { value: *value, integral: *integral, text: Cow::Owned(text.to_string()) }
            }
            Value::Text(t) => Value::Text(Cow::Owned(t.to_string())),
        }
    }

    /// Like [`Value::from_text`] for an owned string.
    pub fn from_owned_text(raw: String) -> Value<'static> {
        match Value::from_text(&raw) {
            Value::Missing => Value::Missing,
            Value::NonFinite => Value::NonFinite,
            Value::Bool(b) => Value::Bool(b),
            Value::Number { value, integral, .. } => {
                Value::Number { value, integral, text: Cow::Owned(raw.trim().to_owned()) }
            }
            Value::Text(_) => Value::Text(Cow::Owned(raw.trim().to_owned())),
        }
    }

    fn classify(raw: &'a str, wrap: impl FnOnce(&'a str) -> Cow<'a, str>) -> Value<'a> {
        let s = raw.trim_ascii();
        let Some(&head) = s.as_bytes().first() else {
            return Value::Missing;
        };
        match scan_number(s.as_bytes()) {
            Some((kind, fast)) => {
                let integral = kind == ValueType::Integral;
                match fast.or_else(|| parse_number(s)) {
                    Some(v) if v.is_finite() => Value::Number { value: v, integral, text: wrap(s) },
                    _ => Value::NonFinite,
                }
            }
            None => match head {
                b't' if s == "true" => Value::Bool(true),
                b'f' if s == "false" => Value::Bool(false),
                b'n' | b'N' | b'i' | b'I' | b'+' | b'-' if is_non_finite_word(s) => Value::NonFinite,
                _ => Value::Text(wrap(s)),
            },
        }
    }

    /// Returns Deequ's type of this value, or `None` when it is missing or not finite.
    pub fn value_type(&self) -> Option<ValueType> {
        match self {
            Value::Missing | Value::NonFinite => None,
            Value::Number { integral: true, .. } => Some(ValueType::Integral),
            Value::Number { .. } => Some(ValueType::Fractional),
            Value::Bool(_) => Some(ValueType::Boolean),
            Value::Text(_) => Some(ValueType::String),
        }
    }
}

fn is_non_finite_word(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    t.eq_ignore_ascii_case("nan") || t.eq_ignore_ascii_case("inf") || t.eq_ignore_ascii_case("infinity")
}

/// Exact powers of ten up to 1e22 (the largest exactly representable in an `f64`).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses a text that matched a numeric pattern; Deequ allows one space after the sign.
fn parse_number(s: &str) -> Option<f64> {
    match s.as_bytes() {
        [sign @ (b'-' | b'+'), b' ', ..] => {
            let v: f64 = s[2..].parse().ok()?;
            Some(if *sign == b'-' { -v } else { v })
        }
        _ => s.parse().ok(),
    }
}

/// Matches Deequ's numeric patterns and parses the common plain numbers in the same pass:
/// returns the type, and the value when the fast path applies (`None` then means "ask
/// `str::parse`").
///
/// The fast path: when the digits fit 2^53 and the decimal exponent is within ±22,
/// `digits / 10^k` (or `digits * 10^k`) is one correctly rounded operation on exact operands,
/// so the result is the same `f64` as `str::parse` gives (Clinger's fast path).
#[inline]
fn scan_number(b: &[u8]) -> Option<(ValueType, Option<f64>)> {
    let mut i = 0;
    let neg = sign(b, &mut i);
    // Deequ allows one space after the sign; such text goes to the slow path.
    let mut fast = true;
    if b.get(i) == Some(&b' ') {
        i += 1;
        fast = false;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let n = digit_run(b, &mut i, &mut mantissa);
    if n == 0 {
        return None;
    }
    digits += n;
    let mut exp10: i32 = 0;
    let mut kind = ValueType::Integral;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let n = digit_run(b, &mut i, &mut mantissa);
        if n == 0 {
            return None;
        }
        digits += n;
        exp10 -= n as i32;
        kind = ValueType::Fractional;
    }
    if i < b.len() {
        if !matches!(b[i], b'e' | b'E') {
            return None;
        }
        i += 1;
        let neg_exp = sign(b, &mut i);
        let exp_start = i;
        let mut e: i32 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                return None;
            }
            if i - exp_start < 4 {
                e = e * 10 + i32::from(c - b'0');
            } else {
                fast = false;
            }
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        exp10 += if neg_exp { -e } else { e };
        kind = ValueType::Fractional;
    }
    let fast = fast && digits <= 19 && mantissa <= (1u64 << 53) && (-22..=22).contains(&exp10);
    let value = fast.then(|| {
        let m = mantissa as f64;
        let v = if exp10 < 0 { m / POW10[exp10.unsigned_abs() as usize] } else { m * POW10[exp10 as usize] };
        if neg {
            -v
        } else {
            v
        }
    });
    Some((kind, value))
}

/// Steps over an optional sign at `i`; returns whether it is `-`.
#[inline]
fn sign(b: &[u8], i: &mut usize) -> bool {
    match b.get(*i) {
        Some(b'-') => {
            *i += 1;
            true
        }
        Some(b'+') => {
            *i += 1;
            false
        }
        _ => false,
    }
}

/// Steps over the digits at `i`, appending them to `mantissa` (wrapping: the caller counts
/// digits and leaves long ones to `str::parse`); returns how many there were.
#[inline]
fn digit_run(b: &[u8], i: &mut usize, mantissa: &mut u64) -> u32 {
    let start = *i;
    while let Some(&c) = b.get(*i) {
        if !c.is_ascii_digit() {
            break;
        }
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        *i += 1;
    }
    (*i - start) as u32
}

/// Returns `Some(Integral | Fractional)` when `b` matches Deequ's numeric patterns.
pub fn number_type(b: &[u8]) -> Option<ValueType> {
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == int_start {
        return None;
    }
    if i == b.len() {
        return Some(ValueType::Integral);
    }
    if b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac_start {
            return None;
        }
        if i == b.len() {
            return Some(ValueType::Fractional);
        }
    }
    if matches!(b[i], b'e' | b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start || i != b.len() {
            return None;
        }
        return Some(ValueType::Fractional);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deequ_type_rules() {
        use ValueType::*;
        let cases: &[(&str, Option<ValueType>)] = &[
            ("3", Some(Integral)),
            ("-3", Some(Integral)),
            ("+3", Some(Integral)),
            ("- 3", Some(Integral)),
            ("3.0", Some(Fractional)),
            ("-0.25", Some(Fractional)),
            ("1e5", Some(Fractional)),
            ("1.5E-3", Some(Fractional)),
            ("2e+10", Some(Fractional)),
            (".5", None),
            ("5.", None),
            ("1e", None),
            ("1.2.3", None),
            ("0x10", None),
            ("abc", None),
            ("--3", None),
            ("3 ", None),
        ];
        for (s, want) in cases {
            assert_eq!(number_type(s.as_bytes()), *want, "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_gives_what_parse_gives(
            int in 0u64..10_000_000_000_000_000,
            frac in proptest::option::of(0u64..1_000_000_000),
            zeros in 0usize..4,
            exp in proptest::option::of(-30i32..30),
            neg in proptest::bool::ANY,
        ) {
            let mut s = format!("{}{int}", if neg { "-" } else { "" });
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&"0".repeat(zeros));
                s.push_str(&f.to_string());
            }
            if let Some(e) = exp {
                s.push_str(&format!("e{e}"));
            }
            let want: f64 = s.parse().unwrap();
            let (_, fast) = scan_number(s.as_bytes()).unwrap();
            if let Some(got) = fast {
                proptest::prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", s);
            }
            // Plain numbers of up to 15 digits always take the fast path.
            let digits = s.bytes().filter(u8::is_ascii_digit).count();
            if exp.is_none() && digits <= 15 && zeros + frac.map_or(0, |f| f.to_string().len()) <= 22 {
                proptest::prop_assert!(fast.is_some(), "{}", s);
            }
        }

        #[test]
        fn any_float_text_round_trips(x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            for s in [format!("{x}"), format!("{x:e}"), format!("{x:.3}"), format!("{x:.12}")] {
                let want: f64 = s.parse().unwrap();
                let (_, fast) = scan_number(s.as_bytes()).unwrap();
                let got = fast.or_else(|| parse_number(&s)).unwrap();
                proptest::prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", s);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_scan_agrees_with_the_pattern_and_parse(s in "[-+]? ?[0-9]{0,21}(\\.[0-9]{0,8})?([eE][-+]?[0-9]{0,6})?|[-+0-9. eE]{0,12}") {
            let b = s.as_bytes();
            let scanned = scan_number(b);
            proptest::prop_assert_eq!(scanned.map(|x| x.0), number_type(b), "{:?}", s);
            if let Some((_, Some(v))) = scanned {
                let want = parse_number(&s).unwrap();
                proptest::prop_assert_eq!(v.to_bits(), want.to_bits(), "{:?}", s);
            }
        }
    }

    #[test]
    fn fast_path_corners() {
        let cases = [
            ("0", true),
            ("-0", true),
            ("-0.00", true),
            ("0.1", true),
            ("-17.25", true),
            ("+4", true),
            ("1e22", true),
            ("1.5e-21", true),
            ("9007199254740992", true),
            ("9007199254740993", false),
            ("123456789012345678901", false),
            ("1e23", false),
            ("1e0004", true),
            ("1e00004", false),
        ];
        for (s, takes_fast_path) in cases {
            let want: f64 = s.parse().unwrap();
            let (_, fast) = scan_number(s.as_bytes()).unwrap();
            assert_eq!(fast.is_some(), takes_fast_path, "{s}");
            let got = fast.or_else(|| parse_number(s)).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
    }

    #[test]
    fn classify_fields() {
        assert_eq!(Value::from_text(""), Value::Missing);
        assert_eq!(Value::from_text("  "), Value::Missing);
        assert_eq!(Value::from_text("true"), Value::Bool(true));
        assert_eq!(Value::from_text("True"), Value::Text("True".into()));
        assert_eq!(Value::from_text("NaN"), Value::NonFinite);
        assert_eq!(Value::from_text("-Infinity"), Value::NonFinite);
        assert_eq!(Value::from_text("1e999"), Value::NonFinite);
        assert_eq!(Value::from_text(" 3.0 "), Value::Number { value: 3.0, integral: false, text: "3.0".into() });
        assert_eq!(Value::from_text("- 4"), Value::Number { value: -4.0, integral: true, text: "- 4".into() });
        assert_eq!(Value::from_text("CA").value_type(), Some(ValueType::String));
    }
}
