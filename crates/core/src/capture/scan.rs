//! The fast path of [`decode_line`](super::decode_line): a scanner for capture records that
//! finds the few fields driftwatch reads and skips everything else without building it.
//!
//! It returns `None` for anything it does not handle the common way (a `null` where a string
//! is expected, a field twice, a syntax error, nesting deeper than serde_json allows), and the
//! caller then decodes the line with serde_json, which gives the same record or the precise
//! error. So the contract is one-sided: whenever this returns `Some`, serde_json would have
//! decoded the line to an equal record. The property tests below and the `decode_line` fuzz
//! target check exactly that.
//!
//! Why: the request body is one long JSON string, and finding its end with `memchr` instead
//! of a byte-by-byte state machine is most of the gain.

use std::borrow::Cow;

use super::raw::{CapturedPayload, RawCaptureData, RawEventMetadata, RawRecord};

/// Deepest nesting handled here; serde_json's own limit (128) is higher, so nothing accepted
/// here is too deep for it.
const MAX_DEPTH: usize = 100;

/// Scans one capture line; `None` means "let serde_json decide".
pub(super) fn record(line: &str) -> Option<RawRecord<'_>> {
    let mut s = Scanner { text: line, b: line.as_bytes(), i: 0 };
    let mut out = RawRecord { capture_data: None, event_metadata: None };
    s.object(|s, key| match key {
        "captureData" => fill_once(&mut out.capture_data, || s.capture_data()),
        "eventMetadata" => fill_once(&mut out.event_metadata, || s.event_metadata()),
        _ => s.skip_value(1),
    })?;
    s.ws();
    (s.i == s.b.len()).then_some(out)
}

/// Fills an empty `slot` with what `read` gives; a member seen twice is not handled here.
fn fill_once<T>(slot: &mut Option<T>, read: impl FnOnce() -> Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(read()?);
    Some(())
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// An object whose members `member` reads (it is called after each key's colon).
    fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.items(b'}', |s| {
            let key = s.string()?;
            s.eat(b':')?;
            member(s, &key)
        })
    }

    /// The items of an object or array after its opening bracket: `item` reads one, `,` goes
    /// on, `close` ends it (an empty list is `close` at once).
    #[inline]
    fn items(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn capture_data(&mut self) -> Option<RawCaptureData<'a>> {
        let (mut input, mut output) = (None, None);
        self.object(|s, key| match key {
            "endpointInput" => fill_once(&mut input, || s.payload()),
            "endpointOutput" => fill_once(&mut output, || s.payload()),
            _ => s.skip_value(2),
        })?;
        Some(RawCaptureData { input, output })
    }

    fn payload(&mut self) -> Option<CapturedPayload<'a>> {
        let [content_type, encoding, data] = self.string_members(["observedContentType", "encoding", "data"], 3)?;
        Some(CapturedPayload { content_type, encoding: encoding?, data: data? })
    }

    fn event_metadata(&mut self) -> Option<RawEventMetadata<'a>> {
        let [event_id, inference_id, inference_time] =
            self.string_members(["eventId", "inferenceId", "inferenceTime"], 2)?;
        Some(RawEventMetadata { event_id, inference_id, inference_time })
    }

    /// An object of which the string members `names` are read (each at most once) and the
    /// rest skipped; `depth` is the object's nesting depth.
    fn string_members<const N: usize>(&mut self, names: [&str; N], depth: usize) -> Option<[Option<Cow<'a, str>>; N]> {
        let mut values: [Option<Cow<'a, str>>; N] = std::array::from_fn(|_| None);
        self.object(|s, key| match names.iter().position(|n| *n == key) {
            Some(k) => fill_once(&mut values[k], || s.string()),
            None => s.skip_value(depth),
        })?;
        Some(values)
    }

    /// A string, borrowed when it holds no escape.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let end = start + memchr::memchr2(b'"', b'\\', &self.b[start..])?;
        if has_control(&self.b[start..end]) {
            return None;
        }
        if self.b[end] == b'"' {
            self.i = end + 1;
            return Some(Cow::Borrowed(&self.text[start..end]));
        }
        let mut out = String::with_capacity(end - start + 16);
        out.push_str(&self.text[start..end]);
        self.i = end;
        loop {
            // At a backslash.
            self.i += 1;
            let c = *self.b.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => out.push(self.unicode_escape()?),
                _ => return None,
            }
            let seg = self.i;
            let next = seg + memchr::memchr2(b'"', b'\\', &self.b[seg..])?;
            if has_control(&self.b[seg..next]) {
                return None;
            }
            out.push_str(&self.text[seg..next]);
            self.i = next;
            if self.b[next] == b'"' {
                self.i = next + 1;
                return Some(Cow::Owned(out));
            }
        }
    }

    /// The `XXXX` of `\uXXXX` (and a following `\uXXXX` for a surrogate pair).
    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if !(0xD800..0xE000).contains(&hi) {
            return char::from_u32(hi);
        }
        if hi >= 0xDC00 || self.b.get(self.i..self.i + 2)? != b"\\u" {
            return None;
        }
        self.i += 2;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + char::from(d).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    /// Skips any value, checking its syntax as serde_json would.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|s, _| s.skip_value(depth + 1)),
            b'[' => {
                self.i += 1;
                self.items(b']', |s| s.skip_value(depth + 1))
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        (self.b.get(self.i..self.i + word.len())? == word).then(|| self.i += word.len())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        // One digit or more from `i`: where they end.
        let digits = |i: usize| -> Option<usize> {
            let end = i + b[i.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
            (end > i).then_some(end)
        };
        if b.get(i) == Some(&b'.') {
            i = digits(i + 1)?;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            i = digits(i)?;
        }
        // A number must end where a value ends (`01` or `1x` are errors).
        if b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.') {
            return None;
        }
        self.i = i;
        Some(())
    }
}

/// Whether `b` holds a control character, which JSON strings must escape.
#[inline]
fn has_control(b: &[u8]) -> bool {
    b.iter().fold(false, |any, &c| any | (c < 0x20))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The serde_json decoding of `line`, or `None` where it fails.
    fn serde(line: &str) -> Option<RawRecord<'_>> {
        serde_json::from_str(line).ok()
    }

    fn same(a: &RawRecord<'_>, b: &RawRecord<'_>) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    const PLAIN: &str = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2\n3,4","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.5\n0.7","encoding":"CSV"}},"eventMetadata":{"eventId":"e1","inferenceTime":"2022-04-18T00:21:48Z"},"eventVersion":"0"}"#;

    #[test]
    fn plain_records_take_the_fast_path() {
        let fast = record(PLAIN).unwrap();
        assert!(same(&fast, &serde(PLAIN).unwrap()));
        let data = &fast.capture_data.unwrap().input.unwrap().data;
        assert_eq!(data, "1,2\n3,4");
    }

    #[test]
    fn unusual_lines_fall_back() {
        let cases = [
            r#"{"captureData":null,"eventMetadata":{"inferenceTime":"t"}}"#,
            r#"{"eventMetadata":{"inferenceTime":"a","inferenceTime":"b"},"captureData":{}}"#,
            r#"{"eventMetadata":{"inferenceTime":"a"},"captureData":{}} x"#,
            r#"{"eventMetadata":{"inferenceTime":"a"},"captureData":{},}"#,
            r#"{"eventMetadata":{"inferenceTime":"a"},"x":01}"#,
            r#"{"eventMetadata":{"inferenceTime":"bad \u00"}}"#,
            "{\"eventMetadata\":{\"inferenceTime\":\"tab\there\"}}",
        ];
        for line in cases {
            assert!(record(line).is_none(), "{line}");
        }
        let deep = format!(r#"{{"x":{}1{}}}"#, "[".repeat(200), "]".repeat(200));
        assert!(record(&deep).is_none());
    }

    fn json_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ,.:;-]{0,12}".prop_map(|s| format!("\"{s}\"")),
            // Escapes, including a surrogate pair and broken ones.
            proptest::collection::vec(
                prop_oneof![
                    Just("a".to_owned()),
                    Just("\\n".to_owned()),
                    Just("\\\"".to_owned()),
                    Just("\\\\".to_owned()),
                    Just("\\/".to_owned()),
                    Just("\\u00e9".to_owned()),
                    Just("\\ud83d\\ude00".to_owned()),
                    Just("\\ud83d".to_owned()),
                    Just("\\x".to_owned()),
                    Just("é".to_owned()),
                    Just("\t".to_owned()),
                ],
                0..6
            )
            .prop_map(|parts| format!("\"{}\"", parts.concat())),
        ]
    }

    fn json_value(depth: u32) -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            json_string(),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("fals".to_owned()),
            prop_oneof![Just("0"), Just("-1.5e3"), Just("12"), Just("01"), Just("1."), Just("2E+7"), Just("-")]
                .prop_map(str::to_owned),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        prop_oneof![
            3 => leaf,
            1 => proptest::collection::vec(json_value(depth - 1), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
            1 => proptest::collection::vec((json_string(), json_value(depth - 1)), 0..3)
                .prop_map(|v| format!("{{{}}}", v.iter().map(|(k, x)| format!("{k}:{x}")).collect::<Vec<_>>().join(","))),
        ]
        .boxed()
    }

    /// An object with some of `keys` (each with a value from `value`) and unknown members, in
    /// any order, with random white space.
    fn object_of(keys: &'static [&'static str], value: BoxedStrategy<String>) -> BoxedStrategy<String> {
        let member = prop_oneof![
            4 => (proptest::sample::select(keys), value.clone()).prop_map(|(k, v)| format!("\"{k}\":{v}")),
            1 => (json_string(), json_value(2)).prop_map(|(k, v)| format!("{k}:{v}")),
        ];
        (proptest::collection::vec(member, 0..5), prop_oneof![Just(""), Just(" "), Just("\n ")])
            .prop_map(|(members, ws)| format!("{{{ws}{}{ws}}}", members.join(&format!(",{ws}"))))
            .boxed()
    }

    fn line() -> impl Strategy<Value = String> {
        let string_or_odd = prop_oneof![8 => json_string(), 1 => json_value(1)].boxed();
        let payload = object_of(&["observedContentType", "encoding", "data", "mode"], string_or_odd.clone());
        let capture =
            object_of(&["endpointInput", "endpointOutput"], prop_oneof![8 => payload, 1 => json_value(1)].boxed());
        let meta = object_of(&["eventId", "inferenceId", "inferenceTime"], string_or_odd);
        let top = object_of(
            &["captureData", "eventMetadata", "eventVersion"],
            prop_oneof![capture, meta, json_value(1)].boxed(),
        );
        (top, prop_oneof![8 => Just(""), 1 => Just(" "), 1 => Just(" x")]).prop_map(|(t, tail)| format!("{t}{tail}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whenever the scanner answers, serde_json gives the same record.
        #[test]
        fn the_fast_path_agrees_with_serde(line in line()) {
            if let Some(fast) = record(&line) {
                let slow = serde(&line);
                prop_assert!(slow.is_some(), "fast path accepted what serde rejects: {}", line);
                prop_assert!(same(&fast, &slow.unwrap()), "{}", line);
            }
        }

        /// Well-formed records of the usual shape always take the fast path.
        #[test]
        fn usual_records_are_fast(body in "[0-9,.\\n-]{0,40}", order in any::<bool>(), id in proptest::option::of("[a-z0-9]{1,8}")) {
            let input = serde_json::json!({"observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "CSV"});
            let mut meta = serde_json::json!({"eventId": "e", "inferenceTime": "2026-03-03T16:00:00Z"});
            if let Some(id) = id {
                meta["inferenceId"] = id.into();
            }
            let capture = serde_json::json!({"endpointInput": input});
            let line = if order {
                format!(r#"{{"captureData":{capture},"eventMetadata":{meta},"eventVersion":"0"}}"#)
            } else {
                format!(r#"{{"eventVersion":"0","eventMetadata":{meta},"captureData":{capture}}}"#)
            };
            let fast = record(&line);
            prop_assert!(fast.is_some(), "{}", line);
            prop_assert!(same(&fast.unwrap(), &serde(&line).unwrap()));
        }
    }
}
