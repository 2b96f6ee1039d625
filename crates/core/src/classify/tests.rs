use super::evidence::{Evidence, SuddenBasis};
use super::*;
use crate::baseline::build::build_csv;
use crate::capture::layout::StreamId;
use crate::drift::compare;
use crate::payload::Value;
use crate::pipeline::mapping::Layout;
use crate::testing::Rng;
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
                predictions: Default::default(),
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
    // Without cycles, a step is announced in its own window.
    let b = baseline();
    let ws = windows(&b, 40, 400, |h| if (20..26).contains(&h) { 1.0 } else { 0.0 });
    let none = ClassifierConfig { seasonality: Seasonality::None, ..ClassifierConfig::default() };
    let (d, c) = run_with(&b, &ws, none);
    let kinds: Vec<(Kind, String)> = d.iter().map(|d| (d.kind, d.detected_at.to_string())).collect();
    assert_eq!(
        kinds,
        vec![(Kind::Sudden, "2026-03-01T21:00:00Z".to_owned()), (Kind::Resolved, "2026-03-02T05:00:00Z".to_owned()),]
    );
    assert_eq!(d[0].onset.to_string(), "2026-03-01T20:00:00Z");
    assert_eq!(d[0].features[0].name, "x");
    assert!(matches!(&d[0].evidence, Evidence::Sudden(e) if e.decision == SuddenBasis::Step), "{:?}", d[0].evidence);
    assert_eq!(d[0].episode_id, d[1].episode_id);
    assert_ne!(d[0].event_id, d[1].event_id);
    let e = &c.episodes()[0];
    assert_eq!((e.first_kind, e.events), (Kind::Sudden, 2));
}

#[test]
fn on_the_first_day_a_step_is_confirmed_by_the_next_window() {
    // With cycles to learn, the stream's first day cannot tell a step from a cycle's turn, so
    // the step is announced when the next window confirms it, with the same onset.
    let b = baseline();
    let ws = windows(&b, 40, 400, |h| if (20..26).contains(&h) { 1.0 } else { 0.0 });
    let (d, _) = run(&b, &ws);
    assert_eq!(d[0].kind, Kind::Sudden);
    assert_eq!(d[0].detected_at.to_string(), "2026-03-01T22:00:00Z");
    assert_eq!(d[0].onset.to_string(), "2026-03-01T20:00:00Z");
    // A one-window blip on the first day is not announced.
    let ws = windows(&b, 40, 400, |h| if h == 20 { 1.0 } else { 0.0 });
    let (d, _) = run(&b, &ws);
    assert!(d.is_empty(), "{d:?}");
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
    assert!(matches!(&d[0].evidence, Evidence::Gradual(_)), "{:?}", d[0].evidence);
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

/// How far into the night an hour of the day is (1 at 03:00, 0 at 15:00), as the generator's.
fn night(h: i64) -> f64 {
    let hour = (h % 24) as f64 + 0.5;
    0.5 + 0.5 * (2.0 * std::f64::consts::PI * (hour - 3.0) / 24.0).cos()
}

/// The shares of `c` at hour `h`: 20 points move from `a` to `c` at night.
fn cycle_shares(h: i64) -> [f64; 3] {
    let k = 0.2 * night(h);
    [0.5 - k, 0.3, 0.2 + k]
}

/// A baseline pooling every hour of a stream whose `x` is 0.45 sd higher at night and whose `c`
/// mix moves by 20 points (training data pools all hours).
fn cyclic_baseline() -> Baseline {
    let mut rng = Rng::new(2);
    let mut csv = String::from("x,c\n");
    for k in 0..24_000 {
        let h = k % 24;
        let c = ["a", "b", "c"][rng.weighted(&cycle_shares(h))];
        csv.push_str(&format!("{:.4},{c}\n", rng.normal() + 0.45 * night(h)));
    }
    let b = build_csv(csv.as_bytes(), true, "t").unwrap();
    Baseline::from_files(b.statistics, "s", b.constraints, "c", "t").unwrap()
}

/// Hourly windows of that cyclic stream; `shift(h)` moves x's mean on top of the cycle.
fn cyclic_windows(b: &Baseline, hours: i64, rows: usize, shift: impl Fn(i64) -> f64) -> Vec<ClosedWindow> {
    let mut rng = Rng::new(9);
    let start = Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap();
    (0..hours)
        .map(|h| {
            let mut p = WindowProfile::new(2);
            for _ in 0..rows {
                let x = format!("{:.4}", rng.normal() + 0.45 * night(h) + shift(h));
                let c = ["a", "b", "c"][rng.weighted(&cycle_shares(h))];
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
                predictions: Default::default(),
            }
        })
        .collect()
}

fn run_with(b: &Baseline, ws: &[ClosedWindow], cfg: ClassifierConfig) -> (Vec<Decision>, StreamClassifier) {
    let mut c = StreamClassifier::new(StreamId::new("ep", "v"), b, cfg);
    let mut out = vec![];
    for w in ws {
        let d = compare(b, &w.profile, true);
        out.extend(c.observe(b, w, &d).decisions);
    }
    (out, c)
}

#[test]
fn a_daily_cycle_is_learned_and_raises_nothing() {
    let b = cyclic_baseline();
    let ws = cyclic_windows(&b, 168, 600, |_| 0.0);
    let (d, c) = run(&b, &ws);
    assert!(d.is_empty(), "a week of a daily cycle is normal traffic: {d:?}");
    assert_eq!(c.seasonal().model(0), Model::Daily, "x's cycle is picked: {:?}", c.seasonal().evidence(0));
    assert_eq!(c.seasonal().model(1), Model::Daily, "c's cycle is picked: {:?}", c.seasonal().evidence(1));
    let (m, profile) = c.seasonal().profile(0);
    assert_eq!((m, profile.len()), (Model::Daily, 24));
    // The baseline pools all hours: the learned cycle puts the night peak and the afternoon
    // far from it, the hours between near it (a 0.45 sd swing: about 0.09 each way).
    let d = |h: usize| profile[h].unwrap();
    assert!(d(3) > 0.06 && d(15) > 0.06, "{profile:?}");
    assert!(d(9) < 0.04 && d(21) < 0.04, "{profile:?}");
    // Without cycles the same week pages.
    let none = ClassifierConfig { seasonality: Seasonality::None, ..ClassifierConfig::default() };
    let (d, _) = run_with(&b, &ws, none);
    assert!(!d.is_empty(), "the plain classifier calls the cycle drift");
}

#[test]
fn a_step_on_top_of_a_cycle_is_sudden_in_its_window() {
    let b = cyclic_baseline();
    // At 03:00 on day 4, in the night's peak: x moves by one standard deviation.
    let ws = cyclic_windows(&b, 120, 600, |h| if h >= 75 { 1.0 } else { 0.0 });
    let (d, _) = run(&b, &ws);
    assert_eq!(d.first().map(|d| d.kind), Some(Kind::Sudden), "{d:?}");
    let at = Timestamp::parse_rfc3339("2026-03-05T04:00:00Z").unwrap();
    assert!(d[0].detected_at <= at + Duration::from_hours(1), "{}", d[0].detected_at);
    assert_eq!(d[0].features[0].name, "x");
    let cycles = match &d[0].evidence {
        Evidence::Sudden(e) => &e.cycles,
        Evidence::Gradual(e) => &e.cycles,
        Evidence::Resolved(_) => panic!("a resolution first"),
    };
    assert!(cycles[0].model == "daily", "{:?}", d[0].evidence);
}

#[test]
fn a_creep_on_top_of_a_cycle_is_gradual_within_a_day() {
    let b = cyclic_baseline();
    let ws = cyclic_windows(&b, 168, 400, |h| if h >= 60 { ((h - 60) as f64 / 60.0).min(1.0) } else { 0.0 });
    let (d, _) = run(&b, &ws);
    let kinds: Vec<Kind> = d.iter().map(|d| d.kind).collect();
    assert_eq!(kinds.first(), Some(&Kind::Gradual), "{kinds:?}");
    assert!(!kinds.contains(&Kind::Sudden), "{kinds:?}");
    let onset = Timestamp::parse_rfc3339("2026-03-04T12:00:00Z").unwrap();
    assert!(d[0].detected_at <= onset + Duration::from_hours(24), "{}", d[0].detected_at);
}

#[test]
fn a_restart_while_the_cycle_is_learned_changes_nothing() {
    let b = cyclic_baseline();
    let ws = cyclic_windows(&b, 140, 400, |h| if h >= 70 { ((h - 70) as f64 / 40.0).min(1.0) } else { 0.0 });
    for cut in [20, 30, 50] {
        let mut a = StreamClassifier::new(StreamId::new("ep", "v"), &b, ClassifierConfig::default());
        let (mut out_a, mut out_b) = (vec![], vec![]);
        let mut restored: Option<StreamClassifier> = None;
        for (i, w) in ws.iter().enumerate() {
            let d = compare(&b, &w.profile, true);
            let o = a.observe(&b, w, &d);
            out_a.push((o.decisions.clone(), o.view.clone()));
            if i == cut {
                let json = serde_json::to_string(&a).unwrap();
                let mut r: StreamClassifier = serde_json::from_str(&json).unwrap();
                r.rebuild();
                restored = Some(r);
            } else if let Some(r) = restored.as_mut() {
                let o = r.observe(&b, w, &d);
                out_b.push((o.decisions, o.view));
            }
        }
        assert_eq!(&out_a[cut + 1..], &out_b[..], "restart after window {cut}");
        assert!(out_a.iter().any(|(d, _)| !d.is_empty()));
    }
}

#[test]
fn a_reference_period_teaches_the_cycle_and_judges_nothing() {
    let b = cyclic_baseline();
    // A break inside the reference period (codes `c` never had, for three hours) is not
    // announced, and not learned as the way those hours look. (A change of distribution in the
    // reference is learned: the user says the period is normal, and a cycle's abrupt turns,
    // such as a weekend starting, are steps too.)
    let mut ws = cyclic_windows(&b, 96, 400, |_| 0.0);
    for w in &mut ws[30..33] {
        *w = with_unseen_codes(&b, w);
    }
    let start = ws[0].window.start;
    let cfg = ClassifierConfig {
        reference_start: Some(start),
        reference_end: Some(start + Duration::from_hours(48)),
        ..ClassifierConfig::default()
    };
    let (d, c) = run_with(&b, &ws, cfg.clone());
    let end = start + Duration::from_hours(48);
    assert!(d.iter().all(|d| d.detected_at > end), "nothing is announced in the reference: {d:?}");
    assert!(d.is_empty(), "and the break was kept out of the slots: {d:?}");
    assert_eq!(c.seasonal().model(1), Model::Daily);
    // After the reference, changes are judged as always (and with no cold start left).
    let ws = cyclic_windows(&b, 96, 400, |h| if h >= 60 { 1.0 } else { 0.0 });
    let (d, _) = run_with(&b, &ws, cfg);
    assert_eq!(d.first().map(|d| (d.kind, d.detected_at)), Some((Kind::Sudden, start + Duration::from_hours(61))));
}

/// The window with `c` taking codes the baseline never saw.
fn with_unseen_codes(b: &Baseline, w: &ClosedWindow) -> ClosedWindow {
    let mut rng = Rng::new(w.window.start.millis() as u64);
    let h = (w.window.start.millis() / 3_600_000) % 24;
    let mut p = WindowProfile::new(2);
    for _ in 0..w.profile.rows {
        let x = format!("{:.4}", rng.normal() + 0.45 * night(h));
        let c = ["A", "B", "C"][rng.weighted(&cycle_shares(h))];
        p.features[0].observe(&Value::from_text(&x), b.features[0].is_categorical());
        p.features[1].observe(&Value::from_text(c), true);
    }
    p.rows = w.profile.rows;
    p.records = w.profile.records;
    p.column_counts.insert(2, w.profile.rows);
    ClosedWindow { profile: p, ..w.clone() }
}
