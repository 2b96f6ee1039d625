//! UTC instants, durations and tumbling windows.
//!
//! Data Capture writes `inferenceTime` as RFC 3339 in UTC (`2022-04-18T00:21:48Z`, sometimes with
//! fractional seconds). Everything in driftwatch is in data time and UTC, so a millisecond count
//! since the Unix epoch is all we need; the civil-date conversion is Howard Hinnant's algorithm.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MS_PER_SEC: i64 = 1_000;
const MS_PER_MIN: i64 = 60 * MS_PER_SEC;
const MS_PER_HOUR: i64 = 60 * MS_PER_MIN;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// An instant in UTC with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Builds an instant from milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Returns milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Builds an instant from a UTC civil date and time; `None` when a field is out of range.
    pub fn from_civil(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || min > 59 || sec > 60 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Timestamp(
            days * MS_PER_DAY
                + i64::from(hour) * MS_PER_HOUR
                + i64::from(min) * MS_PER_MIN
                + i64::from(sec) * MS_PER_SEC,
        ))
    }

    /// Returns (year, month, day, hour, minute, second, millisecond) in UTC.
    pub fn civil(self) -> Civil {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (ms_of_day / MS_PER_HOUR) as u32,
            minute: ((ms_of_day % MS_PER_HOUR) / MS_PER_MIN) as u32,
            second: ((ms_of_day % MS_PER_MIN) / MS_PER_SEC) as u32,
            millis: (ms_of_day % MS_PER_SEC) as u32,
        }
    }

    /// Parses RFC 3339 (`2022-04-18T00:21:48Z`, `...48.123Z`, `...48+02:00`, `t`/`z` and a space
    /// separator accepted). Returns `None` on anything else.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            let mut v: u32 = 0;
            for &c in b.get(range)? {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Some(v)
        };
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let year = i64::from(num(0..4)?);
        let month = num(5..7)?;
        let day = num(8..10)?;
        let hour = num(11..13)?;
        let minute = num(14..16)?;
        let second = num(17..19)?;
        let mut i = 19;
        let mut millis: i64 = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 3 {
                    millis = millis * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            let digits = i - start;
            if digits == 0 {
                return None;
            }
            for _ in digits..3 {
                millis *= 10;
            }
        }
        let offset_ms = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
                let oh = i64::from(num(i + 1..i + 3)?);
                let om = i64::from(num(i + 4..i + 6)?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = oh * MS_PER_HOUR + om * MS_PER_MIN;
                if *sign == b'+' {
                    off
                } else {
                    -off
                }
            }
            _ => return None,
        };
        let base = Timestamp::from_civil(year, month, day, hour, minute, second.min(59))?;
        Some(Timestamp(base.0 + millis - offset_ms))
    }

    /// Returns the start of the tumbling window of length `d` (aligned to the epoch) holding this instant.
    pub fn floor(self, d: Duration) -> Self {
        Timestamp(self.0.div_euclid(d.0) * d.0)
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0 + d.0)
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0 - d.0)
    }
}

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year, e.g. 2026.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
    /// Millisecond, 0-999.
    pub millis: u32,
}

impl fmt::Display for Timestamp {
    /// Formats as RFC 3339 in UTC; milliseconds only when not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil();
        write!(f, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second)?;
        if c.millis != 0 {
            write!(f, ".{:03}", c.millis)?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time: {s}")))
    }
}

/// A non-negative span of time with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

impl Duration {
    /// Builds a duration from milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Duration(ms)
    }
    /// Builds a duration from seconds.
    pub const fn from_secs(s: i64) -> Self {
        Duration(s * MS_PER_SEC)
    }
    /// Builds a duration from minutes.
    pub const fn from_mins(m: i64) -> Self {
        Duration(m * MS_PER_MIN)
    }
    /// Builds a duration from hours.
    pub const fn from_hours(h: i64) -> Self {
        Duration(h * MS_PER_HOUR)
    }
    /// Builds a duration from days.
    pub const fn from_days(d: i64) -> Self {
        Duration(d * MS_PER_DAY)
    }
    /// Returns the length in milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Returns the length in (fractional) hours.
    pub fn hours_f64(self) -> f64 {
        self.0 as f64 / MS_PER_HOUR as f64
    }

    /// Parses `90s`, `15m`, `1h`, `1h30m`, `2d`, `500ms`. Returns `None` for anything else,
    /// including an empty string and a bare number.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let b = s.as_bytes();
        let mut i = 0;
        let mut total: i64 = 0;
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            let n: i64 = s[start..i].parse().ok()?;
            let ustart = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = match &s[ustart..i] {
                "ms" => 1,
                "s" => MS_PER_SEC,
                "m" | "min" => MS_PER_MIN,
                "h" => MS_PER_HOUR,
                "d" => MS_PER_DAY,
                _ => return None,
            };
            total = total.checked_add(n.checked_mul(unit)?)?;
        }
        Some(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// Formats in the largest whole unit (`1h`, `15m`, `90s`, `1d`), falling back to `ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(MS_PER_DAY, "d"), (MS_PER_HOUR, "h"), (MS_PER_MIN, "m"), (MS_PER_SEC, "s")] {
            if ms != 0 && ms % unit == 0 {
                return write!(f, "{}{}", ms / unit, name);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid duration {s:?}: use a number and a unit, e.g. 90s, 15m, 1h, 1d"))
        })
    }
}

/// A half-open interval `[start, end)` of data time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First instant inside the window.
    pub start: Timestamp,
    /// First instant after the window.
    pub end: Timestamp,
}

impl Window {
    /// Returns the tumbling window of length `len` that holds `t`.
    pub fn containing(t: Timestamp, len: Duration) -> Self {
        let start = t.floor(len);
        Window { start, end: start + len }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_capture_times() {
        let cases = [
            ("2022-04-18T00:21:48Z", 1_650_241_308_000),
            ("2022-04-18T00:21:48.5Z", 1_650_241_308_500),
            ("2022-04-18T00:21:48.123456Z", 1_650_241_308_123),
            ("2022-04-18T02:21:48+02:00", 1_650_241_308_000),
            ("2022-04-17T23:21:48-01:00", 1_650_241_308_000),
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T12:00:00z", 1_709_208_000_000),
        ];
        for (s, ms) in cases {
            assert_eq!(Timestamp::parse_rfc3339(s), Some(Timestamp(ms)), "{s}");
        }
    }

    #[test]
    fn rejects_bad_times() {
        for s in [
            "{%s}",
            "",
            "2022-04-18",
            "2022-04-18T00:21:48",
            "2022-13-18T00:21:48Z",
            "2023-02-29T00:00:00Z",
            "2022-04-18T24:00:00Z",
            "2022-04-18T00:21:48.Z",
            "2022-04-18T00:21:48Zjunk",
            "2022-04-18X00:21:48Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(s), None, "{s}");
        }
    }

    #[test]
    fn durations() {
        let cases = [
            ("1h", Some(3_600_000)),
            ("15m", Some(900_000)),
            ("90s", Some(90_000)),
            ("1d", Some(86_400_000)),
            ("1h30m", Some(5_400_000)),
            ("0s", Some(0)),
            ("", None),
            ("10", None),
            ("1y", None),
            ("h", None),
        ];
        for (s, want) in cases {
            assert_eq!(Duration::parse(s).map(|d| d.0), want, "{s}");
        }
        assert_eq!(Duration::from_mins(90).to_string(), "90m");
        assert_eq!(Duration::from_hours(24).to_string(), "1d");
    }

    #[test]
    fn windows_align_to_epoch() {
        let t = Timestamp::parse_rfc3339("2026-03-03T16:59:59Z").unwrap();
        let w = Window::containing(t, Duration::from_hours(1));
        assert_eq!(w.start.to_string(), "2026-03-03T16:00:00Z");
        assert_eq!(w.end.to_string(), "2026-03-03T17:00:00Z");
        let w = Window::containing(t, Duration::from_days(1));
        assert_eq!(w.start.to_string(), "2026-03-03T00:00:00Z");
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(ms in -2_000_000_000_000i64..9_000_000_000_000i64) {
            let t = Timestamp(ms);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
        }

        #[test]
        fn civil_round_trip(days in -200_000i64..200_000i64) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
