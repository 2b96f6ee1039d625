//! The body of the `capture_file` fuzz target (`fuzz/fuzz_targets/capture_file.rs`), as a plain
//! function so that a stable proptest runs the same code: any bytes, cut into two capture
//! objects of one stream, go through the whole decoder (line reader with its bound, records,
//! bodies, column layout, windows) and must not panic, and every line must be accounted for
//! exactly once: profiled as a record, or skipped for a reason that drops it.

use std::sync::Arc;

use super::StreamEngine;
use crate::baseline::Baseline;
use crate::capture::layout::StreamId;
use crate::time::{Duration, Timestamp};

/// The record bound the target reads with: small, so that the fuzzer reaches the path that
/// reads past a line too long to hold.
pub const FUZZ_MAX_RECORD_BYTES: usize = 512;

/// A three-feature baseline (two numeric, one categorical), the shape the target's records
/// are profiled against.
pub fn fuzz_baseline() -> Arc<Baseline> {
    let numeric = |name: &str| {
        format!(
            r#"{{"name":"{name}","inferred_type":"Fractional","numerical_statistics":{{"common":{{"num_present":10,"num_missing":0}},"mean":1,"sum":10,"std_dev":1,"min":0,"max":2,"distribution":{{"kll":{{"buckets":[],"sketch":{{"parameters":{{"c":0.64,"k":2048.0}},"data":[[0.0,1.0,2.0]]}}}}}}}}}}"#
        )
    };
    let categorical = r#"{"name":"c","inferred_type":"String","string_statistics":{"common":{"num_present":10,"num_missing":0},"distinct_count":2,"distribution":{"categorical":{"buckets":[{"value":"a","count":5},{"value":"b","count":5}]}}}}"#;
    let stats = format!(r#"{{"features":[{},{},{categorical}]}}"#, numeric("x"), numeric("y"));
    match Baseline::from_json(&stats, "statistics.json", "{}", "constraints.json", "fuzz") {
        Ok(b) => Arc::new(b),
        Err(e) => panic!("the fuzz baseline is valid: {e}"),
    }
}

/// What one run accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accounted {
    /// Non-blank lines read.
    pub lines: u64,
    /// Records profiled.
    pub records: u64,
    /// Records skipped (malformed, undated, undecodable, too large, late).
    pub dropped: u64,
}

/// Reads `data` as two capture objects of one stream (cut where its first byte says) into a
/// fresh engine with hourly windows, closes every window, and checks that each line was
/// either profiled or dropped, once.
pub fn ingest_capture_file(data: &[u8]) -> Accounted {
    let (cut, body) = match data.split_first() {
        Some((c, rest)) => ((*c as usize * rest.len()) / 255, rest),
        None => (0, data),
    };
    let (first, second) = body.split_at(cut.min(body.len()));
    let mut engine = StreamEngine::new(StreamId::new("ep", "AllTraffic"), fuzz_baseline(), Duration::from_hours(1));
    engine.set_max_record_bytes(FUZZ_MAX_RECORD_BYTES);
    let hour = Timestamp::from_civil(2026, 3, 1, 0, 0, 0);
    let mut issues = 0u64;
    for (key, part) in [("a.jsonl", first), ("b.jsonl", second)] {
        engine.advance_to_folder(hour);
        if let Err(e) = engine.ingest(key, hour, part, &mut |_| issues += 1) {
            panic!("reading from memory cannot fail: {e}");
        }
    }
    let closed = engine.close_all();
    let totals = engine.totals();
    let dropped: u64 = totals.skipped.iter().filter(|(r, _)| r.drops_record()).map(|(_, n)| n).sum();
    assert_eq!(totals.lines, totals.records + dropped, "every line profiled or dropped, once: {totals:?}");
    let in_windows: u64 = closed.iter().map(|w| w.profile.records).sum();
    assert_eq!(in_windows, totals.records, "the windows hold the records counted");
    Accounted { lines: totals.lines, records: totals.records, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One line of a capture file: a good record (3 columns), one of the wrong width, one with
    /// a bad time, bad bytes, a line too long to hold, blank, or a UTF-8 byte order mark.
    #[derive(Debug, Clone)]
    enum Line {
        Good { minute: u32, x: f64, cat: bool },
        Short,
        BadTime,
        Bytes(Vec<u8>),
        TooLong(usize),
        Blank,
        Bom,
    }

    fn record(time: &str, body: &str) -> String {
        serde_json::json!({"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "CSV"}},
            "eventMetadata": {"eventId": "e", "inferenceTime": time}, "eventVersion": "0"})
        .to_string()
    }

    fn line() -> impl Strategy<Value = Line> {
        prop_oneof![
            4 => (0u32..180, -5.0f64..5.0, any::<bool>()).prop_map(|(minute, x, cat)| Line::Good { minute, x, cat }),
            1 => Just(Line::Short),
            1 => Just(Line::BadTime),
            1 => proptest::collection::vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 1..40).prop_map(Line::Bytes),
            1 => (FUZZ_MAX_RECORD_BYTES..3 * FUZZ_MAX_RECORD_BYTES).prop_map(Line::TooLong),
            1 => Just(Line::Blank),
            1 => Just(Line::Bom),
        ]
    }

    fn text(lines: &[Line], crlf: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            match l {
                Line::Good { minute, x, cat } => {
                    let t = format!("2026-03-01T{:02}:{:02}:00Z", minute / 60, minute % 60);
                    out.extend(record(&t, &format!("{x},1.5,{}", if *cat { "a" } else { "b" })).bytes());
                }
                Line::Short => out.extend(record("2026-03-01T00:10:00Z", "1,2").bytes()),
                Line::BadTime => out.extend(record("yesterday", "1,2,a").bytes()),
                Line::Bytes(b) => out.extend(b),
                Line::TooLong(n) => out.extend(record("2026-03-01T00:10:00Z", &"1,".repeat(*n / 2)).bytes()),
                Line::Blank => {}
                Line::Bom => out.extend("\u{feff}".bytes()),
            }
            out.extend(if crlf { &b"\r\n"[..] } else { &b"\n"[..] });
        }
        out
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_are_accounted_for(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            ingest_capture_file(&data);
        }

        /// A file of good records with bad ones between them: every good record in order is
        /// profiled, whichever object it falls in, and nothing else is.
        #[test]
        fn good_records_between_bad_lines_are_all_profiled(
            lines in proptest::collection::vec(line(), 0..40),
            crlf in any::<bool>(),
            cut in any::<u8>(),
        ) {
            let mut data = vec![cut];
            data.extend(text(&lines, crlf));
            let got = ingest_capture_file(&data);
            // A record of the wrong width is profiled too (its rows counted as column_count).
            // One cut in two by the object boundary is two malformed lines; only whole ones are
            // sure to be profiled.
            let good = lines.iter().filter(|l| matches!(l, Line::Good { .. } | Line::Short)).count() as u64;
            prop_assert!(got.records <= good && got.records + 1 >= good, "{got:?} for {good} good records");
        }
    }

    #[test]
    fn an_object_of_good_records_is_profiled_whole() {
        let lines: Vec<Line> =
            (0..50).map(|i| Line::Good { minute: i * 3, x: f64::from(i), cat: i % 2 == 0 }).collect();
        let mut data = vec![255];
        data.extend(text(&lines, false));
        assert_eq!(ingest_capture_file(&data), Accounted { lines: 50, records: 50, dropped: 0 });
    }
}
