//! Micro-benchmarks of the replay's hot paths, on synthetic capture data shaped like the
//! end-to-end benchmark's (12 mixed features, requests of 1 to 4 rows):
//!
//! ```text
//! cargo bench --bench hot_paths
//! ```
//!
//! Throughput is per line, row or value as each benchmark says; the end-to-end figures come
//! from `scripts/bench` instead.

use std::sync::Arc;

use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};
use driftwatch::baseline::build::build_csv;
use driftwatch::baseline::Baseline;
use driftwatch::capture::decode_line;
use driftwatch::capture::layout::StreamId;
use driftwatch::classify::{ClassifierConfig, StreamClassifier};
use driftwatch::drift::compare;
use driftwatch::payload::{decode_csv, Table, Value};
use driftwatch::pipeline::StreamEngine;
use driftwatch::profile::{FeatureProfile, Kll, WindowProfile};
use driftwatch::time::{Duration, Timestamp};
use driftwatch_synth::{bench_features, StreamSpec};

fn main() {
    divan::main();
}

fn spec(hours: u32) -> StreamSpec {
    StreamSpec {
        endpoint: "bench".into(),
        variant: "AllTraffic".into(),
        start: Timestamp::from_civil(2026, 3, 1, 12, 0, 0).unwrap_or(Timestamp::from_millis(0)),
        hours,
        peak_rate: 6000.0,
        max_rows: 4,
        features: bench_features(12),
        changes: vec![],
        cycles: vec![],
        seed: 7,
        payload: driftwatch_synth::Payload::Csv,
    }
}

struct Data {
    baseline: Arc<Baseline>,
    /// One hour of capture files: (hour, name, text).
    hours: Vec<(Timestamp, Vec<(String, String)>)>,
}

fn data() -> &'static Data {
    static DATA: std::sync::OnceLock<Data> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let s = spec(3);
        let built = build_csv(s.baseline_csv(20_000).as_bytes(), true, "training.csv").expect("baseline");
        let stats = serde_json::to_string(&built.statistics).expect("json");
        let cons = serde_json::to_string(&built.constraints).expect("json");
        let baseline = Arc::new(Baseline::from_json(&stats, "s", &cons, "c", "t").expect("baseline"));
        let mut hours = Vec::new();
        s.generate(|h, files| hours.push((h, files)));
        Data { baseline, hours }
    })
}

fn lines() -> Vec<&'static str> {
    data().hours[0].1.iter().flat_map(|(_, t)| t.lines()).collect()
}

/// The request bodies of the first hour, as decoded text.
fn bodies() -> Vec<String> {
    lines().iter().filter_map(|l| decode_line(l).ok()?.input.map(|p| p.data.into_owned())).collect()
}

#[divan::bench]
fn line_decode(b: Bencher) {
    let lines = lines();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    b.counter(BytesCount::new(bytes)).bench(|| {
        for l in &lines {
            black_box(decode_line(black_box(l)).ok());
        }
    });
}

#[divan::bench]
fn csv_rows_and_numbers(b: Bencher) {
    let bodies = bodies();
    let mut cells = 0;
    for body in &bodies {
        let mut t = Table::default();
        decode_csv(body, &mut t).ok();
        cells += t.cells.len();
    }
    let mut spare = Table::default();
    b.counter(ItemsCount::new(cells)).bench_local(|| {
        for body in &bodies {
            let mut t = std::mem::take(&mut spare).recycle();
            decode_csv(black_box(body), &mut t).ok();
            black_box(t.cells.len());
            spare = t.recycle();
        }
    });
}

#[divan::bench(args = ["1234.56", "17", "0.3142", "5e-3", "CAR"])]
fn number_parse(b: Bencher, text: &str) {
    b.bench(|| Value::from_text(black_box(text)));
}

fn numbers(n: usize) -> Vec<f64> {
    let mut rng = driftwatch_synth::Rng::new(3);
    (0..n).map(|_| (100.0 + 15.0 * rng.normal() * 100.0).round() / 100.0).collect()
}

#[divan::bench]
fn profile_update(b: Bencher) {
    let values: Vec<Value<'static>> =
        numbers(100_000).into_iter().map(|v| Value::Number { value: v, integral: false, text: "".into() }).collect();
    b.counter(ItemsCount::new(values.len())).bench(|| {
        let mut p = FeatureProfile::default();
        for v in &values {
            p.observe(v, false);
        }
        black_box(p.present())
    });
}

#[divan::bench]
fn kll_update(b: Bencher) {
    let values = numbers(100_000);
    b.counter(ItemsCount::new(values.len())).bench(|| {
        let mut k = Kll::default();
        for &v in &values {
            k.update(v);
        }
        black_box(k.weight())
    });
}

/// Merging one object's partial profile (about 2,000 rows) into a window's.
#[divan::bench]
fn window_merge(b: Bencher) {
    let d = data();
    let (hour, files) = &d.hours[0];
    let profile_of = |text: &str| {
        let mut e =
            StreamEngine::new(StreamId::new("bench", "AllTraffic"), d.baseline.clone(), Duration::from_hours(1));
        e.ingest("f", Some(*hour), text.as_bytes(), &mut |_| {}).ok();
        e.close_all().pop().map(|w| w.profile).unwrap_or_default()
    };
    let window = profile_of(&files[0].1);
    let part = profile_of(&files[1].1);
    b.counter(ItemsCount::new(part.rows as usize)).bench(|| {
        let mut w: WindowProfile = window.clone();
        w.merge(black_box(&part));
        black_box(w.rows)
    });
}

/// Closing an hourly window: comparing it with the baseline and classifying it.
#[divan::bench]
fn window_close_and_compare(b: Bencher) {
    let d = data();
    let stream = StreamId::new("bench", "AllTraffic");
    let mut engine = StreamEngine::new(stream.clone(), d.baseline.clone(), Duration::from_hours(1));
    let mut closed = Vec::new();
    for (hour, files) in &d.hours {
        closed.extend(engine.advance_to_folder(Some(*hour)));
        for (name, text) in files {
            engine.ingest(name, Some(*hour), text.as_bytes(), &mut |_| {}).ok();
        }
    }
    closed.extend(engine.close_all());
    b.counter(ItemsCount::new(closed.len())).bench(|| {
        let mut classifier = StreamClassifier::new(stream.clone(), &d.baseline, ClassifierConfig::default());
        for w in &closed {
            let drift = compare(&d.baseline, &w.profile, w.layout.is_positional());
            black_box(classifier.observe(&d.baseline, w, &drift));
        }
    });
}

/// A stream whose cycles have been learned for two weeks (every slot filled), its classifier
/// warmed on all but the last window, and that window: per feature count and mode.
struct Warmed {
    baseline: Arc<Baseline>,
    classifier: StreamClassifier,
    window: driftwatch::pipeline::ClosedWindow,
}

fn warmed(features: usize, seasonality: driftwatch::classify::seasonal::Seasonality) -> Warmed {
    let (baseline, mut windows) =
        driftwatch_synth::suite::cyclic_stream_windows(features, 14 * 24 + 1, 300.0).expect("stream");
    let window = windows.pop().expect("a window");
    let cfg = ClassifierConfig { seasonality, ..ClassifierConfig::default() };
    let mut classifier = StreamClassifier::new(StreamId::new("cycles", "AllTraffic"), &baseline, cfg);
    for w in &windows {
        let drift = compare(&baseline, &w.profile, w.layout.is_positional());
        classifier.observe(&baseline, w, &drift);
    }
    Warmed { baseline, classifier, window }
}

/// Comparing and classifying one hourly window after two weeks of a cyclic stream, with the
/// learned cycles (`auto`) and without (`none`): what the cycles cost per window.
#[divan::bench(args = ["12 auto", "12 none", "100 auto", "100 none"], sample_count = 20)]
fn window_classify_with_cycles(b: Bencher, which: &str) {
    use driftwatch::classify::seasonal::Seasonality;
    static CACHE: std::sync::Mutex<Vec<(String, &'static Warmed)>> = std::sync::Mutex::new(Vec::new());
    let w: &'static Warmed = {
        let mut cache = CACHE.lock().expect("cache");
        match cache.iter().find(|(k, _)| k == which) {
            Some((_, w)) => w,
            None => {
                let (n, mode) = which.split_once(' ').expect("features mode");
                let mode = if mode == "auto" { Seasonality::Auto } else { Seasonality::None };
                let w: &'static Warmed = Box::leak(Box::new(warmed(n.parse().expect("features"), mode)));
                cache.push((which.to_owned(), w));
                w
            }
        }
    };
    b.with_inputs(|| w.classifier.clone()).bench_local_values(|mut c| {
        let drift = compare(&w.baseline, &w.window.profile, w.window.layout.is_positional());
        black_box(c.observe(&w.baseline, &w.window, &drift).decisions.len())
    });
}
