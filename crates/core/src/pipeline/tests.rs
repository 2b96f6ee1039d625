use super::*;
use crate::baseline::Baseline;
use serde_json::json;

fn baseline(n: usize) -> Arc<Baseline> {
    let feats: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"name":"f{i}","inferred_type":"Fractional","numerical_statistics":{{"common":{{"num_present":10,"num_missing":0}},"mean":1,"sum":10,"std_dev":1,"min":0,"max":2,"distribution":{{"kll":{{"buckets":[],"sketch":{{"parameters":{{"c":0.64,"k":2048.0}},"data":[[0.0,1.0,2.0]]}}}}}}}}}}"#))
        .collect();
    let stats = format!(r#"{{"features":[{}]}}"#, feats.join(","));
    Arc::new(Baseline::from_json(&stats, "s", "{}", "c", "t").unwrap())
}

fn line(time: &str, input: &str) -> String {
    json!({"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": input, "encoding": "CSV"}},
           "eventMetadata": {"eventId": "e", "inferenceTime": time}, "eventVersion": "0"})
    .to_string()
}

fn ingest(e: &mut StreamEngine, key: &str, hour: Option<&str>, text: &str) -> Vec<RecordIssue> {
    let mut issues = vec![];
    let hour = hour.map(|h| Timestamp::parse_rfc3339(h).unwrap());
    e.ingest(key, hour, text.as_bytes(), &mut |i| issues.push(i.clone())).unwrap();
    issues
}

#[test]
fn bad_lines_are_counted_with_file_and_line() {
    let mut e = StreamEngine::new(StreamId::new("ep", "v"), baseline(2), Duration::from_hours(1));
    let text = [
        line("2026-03-03T16:10:00Z", "1,2\n3,4"),
        "not json".into(),
        String::new(),
        line("{%s}", "1,2"),
        line("2026-03-03T16:20:00Z", "1,2,3"),
        line("2026-03-03T16:30:00Z", "NaN,2"),
        json!({"captureData": {"endpointInput": {"observedContentType": "text/csv", "data": "@@", "encoding": "BASE64"}},
               "eventMetadata": {"inferenceTime": "2026-03-03T16:40:00Z"}}).to_string(),
        json!({"captureData": {"endpointInput": {"observedContentType": "application/x-npy", "data": "AAAA", "encoding": "BASE64"}},
               "eventMetadata": {"inferenceTime": "2026-03-03T16:41:00Z"}}).to_string(),
    ]
    .join("\n");
    let issues = ingest(&mut e, "ep/v/2026/03/03/16/a.jsonl", Some("2026-03-03T16:00:00Z"), &text);
    let got: Vec<(u64, &str)> = issues.iter().map(|i| (i.line, i.reason.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (2, "malformed_line"),
            (4, "bad_time"),
            (5, "column_count"),
            (6, "non_finite_value"),
            (7, "undecodable_payload"),
            (8, "unsupported_payload"),
        ]
    );
    assert!(issues.iter().all(|i| i.file == "ep/v/2026/03/03/16/a.jsonl"));
    assert!(!issues[4].detail.contains("@@"), "no payload content in issues: {}", issues[4].detail);
    let closed = e.close_all();
    assert_eq!(closed.len(), 1);
    let w = &closed[0].profile;
    assert_eq!(w.records, 3, "the two good records and the one whose only row had 3 columns");
    assert_eq!(w.rows, 3);
    for (reason, n) in [
        (SkipReason::MalformedLine, 1),
        (SkipReason::BadTime, 1),
        (SkipReason::ColumnCount, 1),
        (SkipReason::NonFiniteValue, 1),
        (SkipReason::UndecodablePayload, 1),
        (SkipReason::UnsupportedPayload, 1),
    ] {
        assert_eq!(w.skipped.get(reason), n, "{reason:?}");
    }
    assert_eq!(closed[0].issues.len(), 6);
}

#[test]
fn late_records_are_counted_not_profiled() {
    let mut e = StreamEngine::new(StreamId::new("ep", "v"), baseline(2), Duration::from_hours(1));
    ingest(&mut e, "h16", Some("2026-03-03T16:00:00Z"), &line("2026-03-03T16:10:00Z", "1,2"));
    let closed = e.close_through(Timestamp::parse_rfc3339("2026-03-03T17:00:00Z").unwrap());
    assert_eq!(closed.len(), 1);
    // A file for 16:00 arrives after the window closed.
    let issues = ingest(
        &mut e,
        "late",
        Some("2026-03-03T16:00:00Z"),
        &[line("2026-03-03T16:50:00Z", "1,2"), line("2026-03-03T16:51:00Z", "1,2")].join("\n"),
    );
    // Named by the file and the line of its first late record, and handed to the driver's log.
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!((issues[0].file.as_str(), issues[0].line, issues[0].reason), ("late", 1, SkipReason::LateRecord));
    assert!(issues[0].to_string().starts_with("late:1: late_record: 2 records"), "{}", issues[0]);
    ingest(&mut e, "h17", Some("2026-03-03T17:00:00Z"), &line("2026-03-03T17:10:00Z", "5,6"));
    let closed = e.close_all();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].profile.rows, 1);
    assert_eq!(closed[0].profile.skipped.get(SkipReason::LateRecord), 2);
    assert!(closed[0].issues.iter().any(|i| i.reason == SkipReason::LateRecord && i.file == "late" && i.line == 1));
    assert_eq!(e.totals().records, 2);
}

/// A 120-hour stream with multi-row requests and bad lines: every line is accounted for exactly
/// once, every row lands in exactly one window, whatever the window length.
#[test]
fn a_120_hour_replay_accounts_for_every_row_once() {
    let base = Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
    let mut files: Vec<(Timestamp, String)> = vec![];
    let (mut good_lines, mut bad_lines, mut total_rows) = (0u64, 0u64, 0u64);
    let mut rng = 12345u64;
    let mut next = || {
        rng = crate::profile::hll::mix64(rng.wrapping_add(0x9e37_79b9));
        rng
    };
    let mut rows_by_hour = vec![0u64; 120];
    for h in 0..120 {
        let hour = base + Duration::from_hours(h);
        let mut text = String::new();
        let records = 5 + next() % 40;
        for _ in 0..records {
            let t = hour + Duration::from_millis((next() % 3_600_000) as i64);
            if next() % 25 == 0 {
                text.push_str("{\"broken\": \n");
                bad_lines += 1;
                continue;
            }
            let rows = 1 + next() % 4;
            let body: Vec<String> = (0..rows).map(|r| format!("{},{}", r, next() % 100)).collect();
            text.push_str(&line(&t.to_string(), &body.join("\n")));
            text.push('\n');
            good_lines += 1;
            total_rows += rows;
            rows_by_hour[h as usize] += rows;
        }
        files.push((hour, text));
    }
    for window in [Duration::from_mins(15), Duration::from_hours(1), Duration::from_hours(6), Duration::from_days(1)] {
        let mut e = StreamEngine::new(StreamId::new("ep", "v"), baseline(2), window);
        let mut closed = vec![];
        for (hour, text) in &files {
            closed.extend(e.close_through(*hour - Duration::from_hours(1)));
            ingest(&mut e, &hour.to_string(), Some(&hour.to_string()), text);
        }
        closed.extend(e.close_all());
        let rows: u64 = closed.iter().map(|c| c.profile.rows).sum();
        let records: u64 = closed.iter().map(|c| c.profile.records).sum();
        let malformed: u64 = closed.iter().map(|c| c.profile.skipped.get(SkipReason::MalformedLine)).sum();
        let late: u64 = closed.iter().map(|c| c.profile.skipped.get(SkipReason::LateRecord)).sum();
        assert_eq!((rows, records, malformed, late), (total_rows, good_lines, bad_lines, 0), "window {window}");
        assert_eq!(e.unattributed().total(), 0);
        // Windows do not overlap and are in order.
        for pair in closed.windows(2) {
            assert!(pair[0].window.end <= pair[1].window.start, "window {window}");
        }
        if window == Duration::from_hours(1) {
            assert_eq!(closed.len(), 120);
            let by_window: Vec<u64> = closed.iter().map(|c| c.profile.rows).collect();
            assert_eq!(by_window, rows_by_hour);
        }
        let count_rows: u64 =
            closed.iter().map(|c| c.profile.features[0].present() + c.profile.features[0].missing).sum();
        assert_eq!(count_rows, total_rows);
    }
}

#[test]
fn an_issue_sample_keeps_the_first_of_each_reason_and_counts_the_rest() {
    let issue = |reason, line| RecordIssue { file: "k".into(), line, reason, detail: String::new() };
    let mut s = IssueSample::new(2);
    for line in 1..=5 {
        s.record(&issue(SkipReason::MalformedLine, line));
    }
    s.record(&issue(SkipReason::BadTime, 6));
    assert_eq!(s.first.iter().map(|i| i.line).collect::<Vec<_>>(), vec![1, 2, 6]);
    assert_eq!(s.more, BTreeMap::from([(SkipReason::MalformedLine, 3)]));
    assert_eq!(s.counts(), BTreeMap::from([(SkipReason::MalformedLine, 5), (SkipReason::BadTime, 1)]));
}

/// A record longer than the bound is read past without being held, counted and named; the
/// records around it are read as usual.
#[test]
fn a_record_above_the_bound_is_skipped_and_counted() {
    let mut e = StreamEngine::new(StreamId::new("ep", "v"), baseline(2), Duration::from_hours(1));
    e.set_max_record_bytes(400);
    let big = line("2026-03-03T16:20:00Z", &"1,2\\n".repeat(100));
    let text = [line("2026-03-03T16:10:00Z", "1,2"), big.clone(), line("2026-03-03T16:30:00Z", "3,4")].join("\n");
    let issues = ingest(&mut e, "f", Some("2026-03-03T16:00:00Z"), &text);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!((issues[0].line, issues[0].reason), (2, SkipReason::RecordTooLarge));
    assert!(
        issues[0].detail.contains(&format!("a record of {} bytes, above the bound of 400 bytes", big.len() + 1)),
        "{}",
        issues[0]
    );
    let closed = e.close_all();
    assert_eq!((closed[0].profile.records, closed[0].profile.rows), (2, 2));
    assert_eq!(closed[0].profile.skipped.get(SkipReason::RecordTooLarge), 1);
    assert_eq!(e.totals().lines, 3);
}

proptest::proptest! {
    /// The bounded line reader gives the lines `BufRead::read_until` gives when they fit, and
    /// accounts for every byte whatever the bound.
    #[test]
    fn bounded_lines_are_the_lines(text in "[a-c\\n]{0,300}", max in 1usize..40, cap in 1usize..16) {
        let mut reader = std::io::BufReader::with_capacity(cap, text.as_bytes());
        let mut want = text.as_bytes().split_inclusive(|b| *b == b'\n');
        let mut total = 0;
        loop {
            let mut buf = Vec::new();
            let (n, cut) = read_line_bounded(&mut reader, &mut buf, max).unwrap();
            if n == 0 {
                break;
            }
            total += n;
            let expected = want.next().unwrap();
            proptest::prop_assert_eq!(n, expected.len());
            proptest::prop_assert_eq!(cut, expected.len() > max);
            if !cut {
                proptest::prop_assert_eq!(&buf[..], expected);
            } else {
                proptest::prop_assert!(buf.is_empty());
            }
        }
        proptest::prop_assert_eq!(total, text.len());
        proptest::prop_assert!(want.next().is_none());
    }
}
