use super::*;
use crate::pipeline::predictions::Prediction;
use crate::quality::metrics::BinaryRow;
use crate::quality::ProblemType;
use proptest::prelude::*;

fn t(h: i64) -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap() + Duration::from_hours(h)
}

fn hour(h: i64) -> Window {
    Window { start: t(h), end: t(h + 1) }
}

fn rules() -> JoinRules {
    JoinRules::new(ProblemType::BinaryClassification, 0.5, Duration::from_hours(24))
}

fn constraints() -> QualityConstraints {
    let base = LabelledRows::Binary(
        (0..10).map(|i| BinaryRow { label: i % 2 == 0, predicted: i % 2 == 0, score: f64::from(i % 2 == 0) }).collect(),
    );
    QualityConstraints::suggest(&crate::quality::statistics(ProblemType::BinaryClassification, &base))
}

fn predictions(keys: &[&str]) -> Predictions {
    Predictions {
        rows: keys
            .iter()
            .map(|k| Prediction {
                key: (*k).into(),
                inference: None,
                probability: Some("0.9".into()),
                facets: vec![],
                group: None,
            })
            .collect(),
        ..Default::default()
    }
}

fn gt(key: &str, label: &str) -> GroundTruth {
    GroundTruth { key: key.into(), label: label.into() }
}

/// A judge that records what it saw: one "rows" metric, the labelled rows' count.
fn recorder(seen: &mut Vec<(Timestamp, Timestamp, usize)>) -> impl FnMut(&Judging<'_>) -> Judged + '_ {
    |j: &Judging<'_>| {
        seen.push((j.window.start, j.judged_at, j.rows.len()));
        Judged {
            judgements: vec![MetricJudgement {
                name: "rows".into(),
                baseline: 0.0,
                value: j.rows.len() as f64,
                standard_error: 0.0,
                interval: [0.0, 0.0],
                comparison_operator: "LessThanThreshold".into(),
                z: 0.0,
                degraded: false,
            }],
            ..Default::default()
        }
    }
}

#[test]
fn a_window_is_judged_at_its_delay_with_the_labels_in_by_then_and_late_ones_update_its_files() {
    let (r, c) = (rules(), constraints());
    let mut l = LabelLedger::new(true);
    let mut seen = Vec::new();
    l.push(hour(0), predictions(&["a", "b", "c", "d"]), &r);
    // Labels collected in hours 2 and 3 (in by 3:00 and 4:00); one at hour 30 (after the delay).
    l.add(gt("a", "1"), Some(t(2)));
    l.add(gt("b", "0"), Some(t(3)));
    l.add(gt("c", "1"), Some(t(30)));
    let out = l.due(Some(t(5)), &r, &c, &mut recorder(&mut seen));
    assert!(out.is_empty(), "2 of 4 labelled: waits for the delay");
    let out = l.due(Some(t(25)), &r, &c, &mut recorder(&mut seen));
    assert_eq!(seen, vec![(t(0), t(25), 2)], "judged at the end plus 24 h, with the two labels in");
    assert_eq!((out.len(), out[0].update, out[0].counts.labelled, out[0].counts.judged_at), (1, false, 2, Some(t(25))));
    // The label of hour 30 comes: the window's files again, with three labels, one late.
    let out = l.due(Some(t(31)), &r, &c, &mut recorder(&mut seen));
    assert_eq!(seen.len(), 1, "not judged again");
    let q = &out[0];
    assert!(q.update);
    let counts = (q.counts.labelled, q.counts.late_labels, q.counts.labelled_when_judged, q.counts.unlabelled);
    assert_eq!(counts, (3, 1, 2, 1));
    assert_eq!(q.judgements[0].value, 2.0, "the judgement is what it was");
    assert_eq!(q.statistics.as_ref().map(|s| s.item_count), Some(3));
    // At the expiry (3 delays, and the hour a label collected before it takes to be in) the
    // unlabelled prediction is given up.
    assert!(l.due(Some(t(73)), &r, &c, &mut recorder(&mut seen)).is_empty());
    assert_eq!(l.predictions_held(), 1, "once judged, only the unlabelled prediction keeps its key");
    assert!(l.due(Some(t(74)), &r, &c, &mut recorder(&mut seen)).is_empty());
    assert_eq!((l.predictions_held(), l.totals().expired_unlabelled), (0, 1));
}

#[test]
fn enough_labels_judge_a_window_early_and_windows_are_judged_in_order() {
    let (r, c) = (rules(), constraints());
    let mut l = LabelLedger::new(true);
    let mut seen = Vec::new();
    l.push(hour(0), predictions(&["a", "b"]), &r);
    l.push(hour(1), predictions(&["c", "d"]), &r);
    // Window 1 is fully labelled at 3:00, window 0 only half until hour 10.
    for (k, h) in [("c", 2), ("d", 2), ("a", 2), ("b", 9)] {
        l.add(gt(k, "1"), Some(t(h)));
    }
    l.due(Some(t(4)), &r, &c, &mut recorder(&mut seen));
    assert!(seen.is_empty(), "window 1 waits for window 0");
    l.due(Some(t(10)), &r, &c, &mut recorder(&mut seen));
    assert_eq!(seen, vec![(t(0), t(10), 2), (t(1), t(10), 2)]);
}

#[test]
fn without_labels_windows_are_judged_at_their_end() {
    let (r, c) = (rules(), constraints());
    let mut l = LabelLedger::new(false);
    let mut seen = Vec::new();
    l.push(hour(0), predictions(&["a", "b"]), &r);
    let out = l.due(Some(t(1)), &r, &c, &mut recorder(&mut seen));
    assert_eq!(seen, vec![(t(0), t(1), 0)]);
    assert_eq!((out[0].counts.unlabelled, l.predictions_held()), (2, 0), "nothing waits for labels");
}

#[test]
fn duplicates_unmatched_and_too_late_labels_are_counted_once_each() {
    let (r, c) = (rules(), constraints());
    let mut l = LabelLedger::new(true);
    let mut seen = Vec::new();
    let text = concat!(
        r#"{"groundTruthData":{"data":"1"},"eventMetadata":{"eventId":"a"}}"#,
        "\n",
        r#"{"groundTruthData":{"data":"1"},"eventMetadata":{"eventId":"a"}}"#,
        "\n",
        r#"{"groundTruthData":{"data":"0"},"eventMetadata":{"eventId":"a"}}"#,
        "\n{oops\n",
        r#"{"groundTruthData":{"data":"0"},"eventMetadata":{"eventId":"nobody"}}"#,
        "\n",
        r#"{"groundTruthData":{"data":"maybe"},"eventMetadata":{"eventId":"b"}}"#,
        "\n"
    );
    l.add_file(&LabelFile::read("gt/2026/03/01/02/x.jsonl", Some(t(2)), text));
    l.push(hour(0), predictions(&["a", "b", "c"]), &r);
    l.push(hour(1), predictions(&["a"]), &r);
    // "c" comes after its window's expiry (0:00 + 1 h + 72 h).
    l.add(gt("c", "1"), Some(t(80)));
    let out = l.due(Some(t(26)), &r, &c, &mut recorder(&mut seen));
    let q = &out[0];
    assert_eq!((q.counts.labelled, q.counts.unusable.get("invalid_label")), (1, Some(&1)));
    assert_eq!(out[1].counts.labelled, 0, "a repeated prediction key does not take the label twice");
    l.due(Some(t(100)), &r, &c, &mut recorder(&mut seen));
    let tot = l.totals();
    assert_eq!((tot.files, tot.labels, tot.duplicates, tot.conflicting), (1, 4, 2, 1));
    assert_eq!(tot.skipped.get(&LabelSkip::NotJson), Some(&1));
    // "nobody" waited 72 h for a prediction; "c" was applied while its window (expired at
    // 73:00) was still held: too late.
    assert_eq!((tot.unmatched, tot.too_late), (1, 1));
    assert_eq!(l.totals().expired_unlabelled, 2, "c and the second a");
    assert_eq!((l.predictions_held(), l.labels_waiting()), (0, 0));
}

#[test]
fn a_label_for_a_window_still_held_but_past_its_expiry_is_too_late() {
    let r = JoinRules { expiry: Duration::from_hours(24), ..rules() };
    let c = constraints();
    let mut l = LabelLedger::new(true);
    let mut seen = Vec::new();
    l.push(Window { start: t(0), end: t(24) }, predictions(&["a", "b"]), &r);
    l.due(Some(t(30)), &r, &c, &mut recorder(&mut seen));
    // The day-long window expires at 48:00; the data time jumps past it and a label collected
    // after its expiry is applied before the window is let go.
    l.add(gt("a", "1"), Some(t(60)));
    l.due(Some(t(61)), &r, &c, &mut recorder(&mut seen));
    assert_eq!((l.totals().too_late, l.totals().labels, l.predictions_held()), (1, 1, 0));
    assert_eq!(seen, vec![(t(0), t(48), 0)]);
}

#[test]
fn the_ledger_resumes_from_its_checkpoint() {
    let (r, c) = (rules(), constraints());
    let mut a = LabelLedger::new(true);
    let mut seen = Vec::new();
    a.push(hour(0), predictions(&["a", "b"]), &r);
    a.add(gt("a", "1"), Some(t(2)));
    a.add(gt("z", "1"), Some(t(40)));
    a.due(Some(t(3)), &r, &c, &mut recorder(&mut seen));
    let mut b: LabelLedger = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    b.rebuild();
    for l in [&mut a, &mut b] {
        l.add(gt("b", "0"), Some(t(30)));
    }
    let mut seen_b = Vec::new();
    let out_a = a.due(Some(t(50)), &r, &c, &mut recorder(&mut seen));
    let out_b = b.due(Some(t(50)), &r, &c, &mut recorder(&mut seen_b));
    assert_eq!(seen[seen.len() - out_a.iter().filter(|q| !q.update).count()..], seen_b[..]);
    assert_eq!(format!("{out_a:?}"), format!("{out_b:?}"));
    assert_eq!(a.totals(), b.totals());
}

/// A random stream: windows of predictions, labels with collection hours (some repeated, some
/// for nobody, some unusable).
#[derive(Debug, Clone)]
struct Scenario {
    windows: Vec<Vec<u16>>,
    labels: Vec<(u16, u8, i64)>,
    share: f64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(proptest::collection::vec(0u16..300, 0..12), 1..20),
        proptest::collection::vec((0u16..320, 0u8..3, 0i64..90), 0..120),
        prop_oneof![Just(1.0), Just(0.5), Just(0.95)],
    )
        .prop_map(|(windows, labels, share)| Scenario { windows, labels, share })
}

/// What a run gives: every rendered quality (as text), what the judge saw, the totals, and per
/// window its last render and counts (labelled, unusable).
#[derive(Debug, PartialEq)]
struct Run {
    renders: Vec<String>,
    seen: Vec<(Timestamp, Timestamp, usize)>,
    totals: LabelTotals,
    last: BTreeMap<Timestamp, (String, u64, u64)>,
}

/// How a driver moves the ledger.
#[derive(Debug, Clone, Copy)]
struct Driver {
    /// Labels are given this many hours before they are due (0: just in time; large: all up
    /// front, as replay does).
    ahead: i64,
    /// Read back from a checkpoint after this window.
    checkpoint_at: Option<usize>,
    /// Also moved to the half hour between windows (the service moves it at every poll).
    between: bool,
}

const PLAIN: Driver = Driver { ahead: 0, checkpoint_at: None, between: false };

fn run(s: &Scenario, d: Driver) -> Run {
    let r = JoinRules { enough_share: s.share, ..rules() };
    let c = constraints();
    let mut l = LabelLedger::new(true);
    let mut renders = Vec::new();
    let mut last = BTreeMap::new();
    let mut keep = |qs: Vec<WindowQuality>, renders: &mut Vec<String>| {
        for q in qs {
            let unusable: u64 = q.counts.unusable.values().sum();
            let text = format!("{q:?}").replace("update: true", "update: false");
            last.insert(q.window.start, (text, q.counts.labelled, unusable));
            renders.push(format!("{q:?}"));
        }
    };
    let mut given = vec![false; s.labels.len()];
    let mut seen = Vec::new();
    let label_of = |y: u8| ["0", "1", "x"][y as usize];
    for (i, keys) in s.windows.iter().enumerate() {
        let now = t(i as i64 + 1);
        for (j, (key, y, h)) in s.labels.iter().enumerate() {
            if !given[j] && t(*h) + COLLECTION_FOLDER <= now + Duration::from_hours(d.ahead) {
                given[j] = true;
                l.add(gt(&format!("k{key}"), label_of(*y)), Some(t(*h)));
            }
        }
        let keys: Vec<String> = keys.iter().map(|k| format!("k{k}")).collect();
        let preds = predictions(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        l.push(hour(i as i64), preds, &r);
        keep(l.due(Some(now), &r, &c, &mut recorder(&mut seen)), &mut renders);
        if d.between {
            keep(l.due(Some(now + Duration::from_mins(30)), &r, &c, &mut recorder(&mut seen)), &mut renders);
        }
        if d.checkpoint_at == Some(i) {
            l = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
            l.rebuild();
        }
    }
    for (j, (key, y, h)) in s.labels.iter().enumerate() {
        if !given[j] {
            l.add(gt(&format!("k{key}"), label_of(*y)), Some(t(*h)));
        }
    }
    keep(l.due(None, &r, &c, &mut recorder(&mut seen)), &mut renders);
    l.finish();
    Run { renders, seen, totals: l.totals().clone(), last }
}

proptest! {
    /// However far ahead of the data time labels are read (the service reads the ground truth
    /// before the capture; replay reads it all first), and across a checkpoint, the judgements,
    /// files and counts are the same.
    #[test]
    fn results_do_not_depend_on_when_labels_are_read(s in scenario(), ahead in 0i64..100, cp in 0usize..20) {
        let reference = run(&s, PLAIN);
        prop_assert_eq!(&run(&s, Driver { ahead, ..PLAIN }), &reference);
        prop_assert_eq!(&run(&s, Driver { ahead, checkpoint_at: Some(cp), between: false }), &reference);
    }

    /// Moved more often (the service at every poll, replay at each window's end), the ledger
    /// judges the same windows at the same times with the same labels and ends with the same
    /// files; only when it lets go (and so whether a label for a window let go counts as a
    /// duplicate or unmatched) may differ.
    #[test]
    fn judgements_and_files_do_not_depend_on_how_often_time_moves(s in scenario(), ahead in 0i64..100) {
        let reference = run(&s, PLAIN);
        let often = run(&s, Driver { ahead, checkpoint_at: None, between: true });
        prop_assert_eq!(&often.seen, &reference.seen);
        prop_assert_eq!(&often.last, &reference.last);
    }

    /// Every label is counted once: a duplicate, or taken and then used (on time or late),
    /// unusable, too late or unmatched.
    #[test]
    fn every_label_is_counted_once(s in scenario()) {
        let run = run(&s, Driver { ahead: 1000, ..PLAIN });
        let totals = &run.totals;
        prop_assert_eq!(totals.labels + totals.duplicates, s.labels.len() as u64);
        prop_assert!(totals.conflicting <= totals.duplicates);
        let in_windows: u64 = run.last.values().map(|(_, labelled, unusable)| labelled + unusable).sum();
        prop_assert_eq!(in_windows + totals.unmatched + totals.too_late, totals.labels);
    }
}
