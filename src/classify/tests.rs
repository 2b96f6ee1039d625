use super::*;
use crate::baseline::build::build_csv;
use crate::capture::layout::StreamId;
use crate::drift::compare;
use crate::payload::Value;
use crate::pipeline::mapping::Layout;
use crate::synth::Rng;
use crate::time::Window;

/// A baseline of two features: `x` ~ N(0, 1) and `c` in {a, b, c}.
fn baseline() -> Baseline {
    let mut rng = Rng::new(1);
    let mut csv = String::from("x,c\n");
    for _ in 0..20_000 {
        let c = ["a", "b", "c"][rng.weighted(&[0.5, 0.3, 0.2])];
        csv.push_str(&format!("{:.4},{c}\n", rng.normal()));
    }
    let b = build_csv(csv.as_bytes(), true, "t").unwrap();
    Baseline::from_files(b.statistics, "s", b.constraints, "c", "t").unwrap()
}

/// Hourly windows of `rows` rows; `shift(h)` moves x's mean at hour h.
fn windows(b: &Baseline, hours: i64, rows: usize, shift: impl Fn(i64) -> f64) -> Vec<ClosedWindow> {
    let mut rng = Rng::new(7);
    let start = Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
    (0..hours)
        .map(|h| {
            let mut p = WindowProfile::new(2);
            for _ in 0..rows {
                let x = format!("{:.4}", rng.normal() + shift(h));
                let c = ["a", "b", "c"][rng.weighted(&[0.5, 0.3, 0.2])];
                p.features[0].observe(&Value::from_text(&x), b.features[0].is_categorical());
                p.features[1].observe(&Value::from_text(c), true);
            }
            p.rows = rows as u64;
            p.records = rows as u64;
            p.column_counts.insert(2, rows as u64);
            let s = start + Duration::from_hours(h);
            ClosedWindow {
                stream: StreamId::new("ep", "v"),
                window: Window { start: s, end: s + Duration::from_hours(1) },
                profile: p,
                layout: Layout::Positional { output_cols: 0 },
                issues: vec![],
            }
        })
        .collect()
}

fn run(b: &Baseline, ws: &[ClosedWindow]) -> (Vec<Decision>, StreamClassifier) {
    let mut c = StreamClassifier::new(StreamId::new("ep", "v"), b, ClassifierConfig::default());
    let mut out = vec![];
    for w in ws {
        let d = compare(b, &w.profile, true);
        out.extend(c.observe(b, w, &d).decisions);
    }
    (out, c)
}

#[test]
fn stationary_windows_raise_nothing() {
    let b = baseline();
    let (d, c) = run(&b, &windows(&b, 72, 400, |_| 0.0));
    assert!(d.is_empty(), "{d:?}");
    assert!(c.episodes().is_empty());
}

#[test]
fn a_step_is_sudden_at_once_and_resolves_after_cooldown() {
    let b = baseline();
    let ws = windows(&b, 40, 400, |h| if (20..26).contains(&h) { 1.0 } else { 0.0 });
    let (d, c) = run(&b, &ws);
    let kinds: Vec<(Kind, String)> = d.iter().map(|d| (d.kind, d.detected_at.to_string())).collect();
    assert_eq!(
        kinds,
        vec![(Kind::Sudden, "2026-03-01T21:00:00Z".to_owned()), (Kind::Resolved, "2026-03-02T05:00:00Z".to_owned()),]
    );
    assert_eq!(d[0].onset.to_string(), "2026-03-01T20:00:00Z");
    assert_eq!(d[0].features[0].name, "x");
    assert_eq!(d[0].evidence["decision"], "step");
    assert_eq!(d[0].episode_id, d[1].episode_id);
    assert_ne!(d[0].event_id, d[1].event_id);
    let e = &c.episodes()[0];
    assert_eq!((e.first_kind, e.events), (Kind::Sudden, 2));
}

#[test]
fn a_ramp_is_gradual_with_an_onset_near_its_start() {
    let b = baseline();
    let ws = windows(&b, 72, 400, |h| if h >= 24 { (h - 24) as f64 / 48.0 } else { 0.0 });
    let (d, _) = run(&b, &ws);
    assert_eq!(d.len(), 1, "{:#?}", d.iter().map(|d| (d.kind, d.detected_at)).collect::<Vec<_>>());
    assert_eq!(d[0].kind, Kind::Gradual);
    let onset_h = (d[0].onset.millis() - ws[0].window.start.millis()) / 3_600_000;
    assert!((18..=30).contains(&onset_h), "onset hour {onset_h}");
    let delay_h = (d[0].detected_at.millis() - ws[24].window.start.millis()) / 3_600_000;
    assert!(delay_h <= 12, "decided {delay_h} h after the ramp began");
    assert!(d[0].features[0].trend.is_some());
    assert_eq!(d[0].evidence["decision"], "trend");
}

#[test]
fn a_gradual_episode_that_steps_changes_kind_once() {
    let b = baseline();
    let ws = windows(&b, 72, 400, |h| match h {
        h if h < 24 => 0.0,
        h if h < 48 => (h - 24) as f64 / 48.0,
        _ => 2.5,
    });
    let (d, c) = run(&b, &ws);
    let kinds: Vec<Kind> = d.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, vec![Kind::Gradual, Kind::Sudden]);
    assert_eq!(d[0].episode_id, d[1].episode_id);
    let e = &c.episodes()[0];
    assert_eq!((e.first_kind, e.kind), (Kind::Gradual, Kind::Sudden));
}

#[test]
fn small_windows_are_not_judged() {
    let b = baseline();
    let ws = windows(&b, 30, 10, |h| if h >= 10 { 3.0 } else { 0.0 });
    let (d, _) = run(&b, &ws);
    assert!(d.is_empty(), "10-row windows are below min_rows: {d:?}");
}

#[test]
fn classifier_state_round_trips_through_json() {
    let b = baseline();
    let ws = windows(&b, 40, 400, |h| if h >= 30 { 1.0 } else { 0.0 });
    let mut a = StreamClassifier::new(StreamId::new("ep", "v"), &b, ClassifierConfig::default());
    let mut out_a = vec![];
    let mut out_b = vec![];
    let mut restored: Option<StreamClassifier> = None;
    for (i, w) in ws.iter().enumerate() {
        let d = compare(&b, &w.profile, true);
        out_a.extend(a.observe(&b, w, &d).decisions);
        if i == 25 {
            let json = serde_json::to_string(&a).unwrap();
            let mut r: StreamClassifier = serde_json::from_str(&json).unwrap();
            r.rebuild();
            restored = Some(r);
        } else if let Some(r) = restored.as_mut() {
            out_b.extend(r.observe(&b, w, &d).decisions);
        }
    }
    assert_eq!(out_a, out_b, "a checkpointed classifier decides exactly as the original");
    assert!(!out_a.is_empty());
}

#[test]
fn ids_are_uuids() {
    let id = uuid_from(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "8", "version 8");
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "variant: {id}");
}
