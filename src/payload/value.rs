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
        let s = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if s.is_empty() {
            return Value::Missing;
        }
        match number_type(s.as_bytes()) {
            Some(kind) => {
                let integral = kind == ValueType::Integral;
                match parse_number(s) {
                    Some(v) if v.is_finite() => Value::Number { value: v, integral, text: wrap(s) },
                    _ => Value::NonFinite,
                }
            }
            None => match s {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ if is_non_finite_word(s) => Value::NonFinite,
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
