use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::baseline::build::build_csv;
use crate::capture::layout::hour_path;
use crate::config::Config;
use crate::discovery::StaticDiscovery;
use crate::publish::bus::{BusError, MemoryBus, Script};
use crate::store::{MemoryStore, ObjectInfo};
use driftwatch_synth::{example_spec, StreamSpec};

/// Stores by location name, shared between service instances (a "restart" keeps them).
#[derive(Clone, Default)]
struct World {
    stores: Arc<Mutex<BTreeMap<String, FlakyStore>>>,
}

/// Something to do at a store's n-th read from now.
type GetHook = Arc<Mutex<Option<(usize, Box<dyn FnOnce() + Send>)>>>;

/// A memory store that can fail its n-th put or read from now (a crash, or a network that
/// gives up, in the middle of a poll), and run a hook at its n-th read (a signal in the middle
/// of a folder).
#[derive(Clone, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail_put_in: Arc<AtomicUsize>,
    fail_get_in: Arc<AtomicUsize>,
    on_get: GetHook,
    /// When set, listings show only the objects that have landed by the clock's time (see
    /// [`landed_at`]), as a Data Capture destination fills up over time.
    landing: Arc<Mutex<Option<ManualClock>>>,
    /// The keys written so far, in order.
    puts: Arc<Mutex<Vec<String>>>,
}

/// When the synthetic stream's object `key` lands: its file holds the ten minutes from the
/// minute in its name, is written at their end and delivered a minute later.
fn landed_at(key: &str) -> Option<Timestamp> {
    let parts: Vec<&str> = key.rsplitn(6, '/').collect();
    let (name, hour) = (parts.first()?, parts.get(1..5)?);
    let hour: Vec<&str> = hour.iter().rev().copied().collect();
    let hour = crate::capture::layout::parse_hour(&hour)?;
    let minute: i64 = name.get(..2)?.parse().ok()?;
    Some(hour + Duration::from_mins(minute + 10 + 1))
}

impl FlakyStore {
    /// Lists only what has landed by `clock`'s time from now on.
    fn land_by(&self, clock: &ManualClock) {
        *self.landing.lock().unwrap() = Some(clock.clone());
    }

    fn at_get(&self, n: usize, hook: impl FnOnce() + Send + 'static) {
        *self.on_get.lock().unwrap() = Some((n, Box::new(hook)));
    }
}

impl ObjectStore for FlakyStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.puts.lock().unwrap().push(key.to_owned());
        let n = self.fail_put_in.load(Ordering::SeqCst);
        if n > 0 {
            self.fail_put_in.store(n - 1, Ordering::SeqCst);
            if n == 1 {
                return Err(StoreError::Remote { uri: key.into(), detail: "injected crash".into() });
            }
        }
        self.inner.put(key, bytes).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let n = self.fail_get_in.load(Ordering::SeqCst);
        if n > 0 {
            self.fail_get_in.store(n - 1, Ordering::SeqCst);
            if n == 1 {
                return Err(StoreError::Remote { uri: key.into(), detail: "injected read failure".into() });
            }
        }
        let hook = {
            let mut g = self.on_get.lock().unwrap();
            match g.as_mut() {
                Some((n, _)) if *n > 1 => {
                    *n -= 1;
                    None
                }
                Some(_) => g.take().map(|(_, h)| h),
                None => None,
            }
        };
        if let Some(h) = hook {
            h();
        }
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut listed = self.inner.list(prefix, start_after).await?;
        if let Some(clock) = self.landing.lock().unwrap().as_ref() {
            let now = clock.now();
            listed.retain(|o| landed_at(&o.key).is_none_or(|t| t <= now));
        }
        Ok(listed)
    }
    async fn folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.folders(prefix).await
    }
    fn uri(&self, key: &str) -> String {
        self.inner.uri(key)
    }
}

impl World {
    fn store(&self, name: &str) -> FlakyStore {
        let mut g = self.stores.lock().unwrap();
        g.entry(name.to_owned()).or_default().clone()
    }

    fn factory(&self) -> Box<dyn StoreFactory<FlakyStore>> {
        let w = self.clone();
        Box::new(move |loc: &Location| -> Result<FlakyStore, StoreError> {
            let name = match loc {
                Location::Local(p) => p.display().to_string(),
                Location::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
            };
            Ok(w.store(name.trim_end_matches('/')))
        })
    }

    /// Puts a stream's capture files (as a Data Capture destination would) and its baseline.
    async fn load(&self, spec: &StreamSpec) -> Vec<(Timestamp, String)> {
        self.load_at(spec, "capture").await
    }

    /// [`World::load`] with the capture in store `capture` (`s3://bucket/prefix` for a
    /// destination that notifications name).
    async fn load_at(&self, spec: &StreamSpec, capture: &str) -> Vec<(Timestamp, String)> {
        let capture = self.store(capture);
        let mut keys = Vec::new();
        let mut files = Vec::new();
        spec.generate(|hour, fs| files.push((hour, fs)));
        for (hour, fs) in files {
            for (name, text) in fs {
                let key = format!("{}/{}/{}/{name}", spec.endpoint, spec.variant, hour_path(hour));
                capture.put(&key, text.into_bytes()).await.unwrap();
                keys.push((hour, key));
            }
        }
        let built = build_csv(spec.baseline_csv(5000).as_bytes(), true, "t").unwrap();
        let b = self.store("baseline");
        b.put(STATISTICS_FILE, serde_json::to_vec(&built.statistics).unwrap()).await.unwrap();
        b.put(CONSTRAINTS_FILE, serde_json::to_vec(&built.constraints).unwrap()).await.unwrap();
        keys
    }
}

impl World {
    /// Puts the ground truth of `spec`'s capture (the example's labels: calibrated, then the
    /// scores turn at the start of day 4) and its model-quality baseline. Returns the local
    /// folders of both, for replay, below `dir`.
    async fn load_labels(&self, spec: &StreamSpec, dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let capture = dir.join("capture");
        spec.write_capture(&capture).unwrap();
        let labels = driftwatch_synth::labels::example_labels(&capture).unwrap();
        let gt = self.store("gt");
        for (folder, text) in &labels.folders {
            gt.put(&format!("{folder}/labels.jsonl"), text.clone().into_bytes()).await.unwrap();
        }
        let gt_dir = dir.join("gt");
        driftwatch_synth::labels::write_labels(&labels, &gt_dir).unwrap();
        let csv = dir.join("scored.csv");
        std::fs::write(&csv, &labels.baseline_csv).unwrap();
        let attrs = crate::quality::Attributes {
            ground_truth: "y".into(),
            inference: None,
            probability: Some("p".into()),
            probability_threshold: 0.5,
        };
        let built = crate::training::build_quality(
            &csv,
            crate::training::InputFormat::Csv,
            true,
            crate::quality::ProblemType::BinaryClassification,
            attrs,
        )
        .unwrap();
        let files = built.file_texts().unwrap();
        crate::store::write_baseline(&self.store("qb"), &files).await.unwrap();
        let qb_dir = dir.join("qb");
        crate::baseline::build::write_files(&qb_dir, &files).unwrap();
        (gt_dir, qb_dir)
    }
}

/// [`config`] with the monitor judging model quality against the labels of [`World::load_labels`].
fn quality_config(spec: &StreamSpec, settle: &str) -> Config {
    config_with(spec, settle, "quality_baseline = \"qb\"\nground_truth = \"gt\"\nprobability_attribute = \"0\"\n")
}

/// The monitors' `monitoring_schedule` (and replay's `--monitoring-schedule`).
const SCHEDULE: &str = "loan-dq-schedule";

fn config(spec: &StreamSpec, settle: &str) -> Config {
    config_with(spec, settle, "")
}

/// A service over the world's stores, watching `spec`'s endpoint from the start; `monitor`
/// adds keys to its `[[monitor]]`.
fn config_with(spec: &StreamSpec, settle: &str, monitor: &str) -> Config {
    let text = format!(
        r#"[state]
uri = "state"
[reports]
uri = "reports"
[events]
bus = "b"
account = "123456789012"
[[monitor]]
endpoint = "{}"
capture = "capture"
baseline = "baseline"
start = "earliest"
settle = "{settle}"
monitoring_schedule = "{SCHEDULE}"
{monitor}"#,
        spec.endpoint
    );
    Config::from_toml(&text, "t.toml", std::iter::empty()).unwrap()
}

async fn service(world: &World, cfg: &Config, clock: &ManualClock, bus: &MemoryBus) -> Service<FlakyStore, MemoryBus> {
    let settings = EventSettings { account: "123456789012".into(), ..EventSettings::default() };
    let mut s = Service::start(
        cfg,
        &StaticDiscovery::default(),
        world.factory(),
        Some(bus.clone()),
        Arc::new(clock.clone()),
        settings,
    )
    .await
    .unwrap();
    s.set_retries(2, StdDuration::from_millis(1));
    s
}

/// A writer whose bytes the test reads back (the service's standard output).
#[derive(Clone, Default)]
struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The events replay wrote to `dir/events.jsonl`, as the tests compare them: detail-type and
/// detail without its report URIs (they differ between a folder and the service's store).
fn replayed_events(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut e: serde_json::Value = serde_json::from_str(l).unwrap();
            e["detail"].as_object_mut().unwrap().remove("reports");
            serde_json::json!({"detail-type": e["detail-type"], "detail": e["detail"]})
        })
        .collect()
}

/// Replays `dir/capture` against `spec`'s baseline (written to `dir/baseline`) into `dir/out`
/// and `dir/events.jsonl`, waiting on the runtime from its own thread as `main` does.
fn replay_folder(dir: &std::path::Path, spec: &StreamSpec, quality: Option<crate::replay::QualityOptions>) {
    replay_folder_with(dir, spec, quality, None);
}

/// Puts the bias config and the bias baseline of `spec` in the world's `bias` store.
async fn put_bias(world: &World, spec: &StreamSpec) {
    let b = world.store("bias");
    b.put("analysis_config.json", BIAS_CONFIG.as_bytes().to_vec()).await.unwrap();
    b.put("analysis.json", bias_baseline(spec).into_bytes()).await.unwrap();
}

/// Writes the same bias config and baseline below `dir` for replay; returns its bias options.
fn local_bias(dir: &std::path::Path, spec: &StreamSpec) -> crate::replay::BiasOptions {
    std::fs::write(dir.join("analysis_config.json"), BIAS_CONFIG).unwrap();
    std::fs::create_dir_all(dir.join("bias")).unwrap();
    std::fs::write(dir.join("bias/analysis.json"), bias_baseline(spec)).unwrap();
    crate::replay::BiasOptions {
        config: dir.join("analysis_config.json"),
        baseline: dir.join("bias").display().to_string(),
        probability: crate::pipeline::predictions::Attr::Index(0),
        threshold: None,
    }
}

/// Checks that every bias file the service wrote is byte-equal to replay's below `dir/out`;
/// returns how many there were.
fn bias_files_equal_replay(files: &BTreeMap<String, Vec<u8>>, dir: &std::path::Path) -> usize {
    let mut compared = 0;
    for (key, bytes) in files.iter().filter(|(k, _)| k.contains("/bias/")) {
        let replayed = std::fs::read(dir.join("out").join(key)).unwrap_or_else(|_| panic!("replay has no {key}"));
        assert!(bytes == &replayed, "{key} differs");
        compared += 1;
    }
    compared
}

/// [`replay_folder`] with a bias monitor too.
fn replay_folder_with(
    dir: &std::path::Path,
    spec: &StreamSpec,
    quality: Option<crate::replay::QualityOptions>,
    bias: Option<crate::replay::BiasOptions>,
) {
    let built = build_csv(spec.baseline_csv(5000).as_bytes(), true, "t").unwrap();
    crate::baseline::build::write_dir(&built, &dir.join("baseline")).unwrap();
    let opts = crate::replay::ReplayOptions {
        capture: dir.join("capture").display().to_string(),
        baseline: Some(dir.join("baseline").display().to_string()),
        window: hours(1),
        events: Some(dir.join("events.jsonl")),
        output: Some(dir.join("out").display().to_string()),
        emf: Some(dir.join("emf.jsonl")),
        monitoring_schedule: Some(SCHEDULE.into()),
        quality_monitoring_schedule: None,
        report: None,
        classifier: Default::default(),
        event_settings: EventSettings::default(),
        progress: false,
        threads: 2,
        max_record_bytes: crate::pipeline::DEFAULT_MAX_RECORD_BYTES,
        fetch_ahead: crate::source::DEFAULT_FETCH_AHEAD,
        report_sketches: true,
        quality,
        bias,
    };
    let runtime = tokio::runtime::Handle::current();
    let stores = crate::store::AnyStore::open_local;
    let io = crate::replay::ReplayIo { stores: &stores, runtime: &runtime };
    std::thread::scope(|s| s.spawn(|| crate::replay::run(&opts, &io).map(|_| ())).join()).unwrap().unwrap();
}

fn hours(n: i64) -> Duration {
    Duration::from_hours(n)
}

fn small_example() -> StreamSpec {
    let mut spec = example_spec();
    spec.hours = 96;
    spec
}

/// The reference run: `spec` loaded into a fresh world and polled once at `clock`; its capture
/// keys and [`outputs`].
async fn one_poll(spec: &StreamSpec, cfg: &Config, clock: &ManualClock) -> (Vec<(Timestamp, String)>, Outputs) {
    let world = World::default();
    let keys = world.load(spec).await;
    let bus = MemoryBus::default();
    service(&world, cfg, clock, &bus).await.poll(true).await;
    (keys, outputs(&world, &bus))
}

/// Report objects by key, and delivered events.
type Outputs = (BTreeMap<String, Vec<u8>>, Vec<serde_json::Value>);

/// Every report object's bytes, and every delivered event's detail without its report URIs.
fn outputs(world: &World, bus: &MemoryBus) -> (BTreeMap<String, Vec<u8>>, Vec<serde_json::Value>) {
    let reports = world.store("reports").inner;
    let rt = tokio::runtime::Handle::current();
    let files = reports
        .keys()
        .into_iter()
        .map(|k| {
            let v = tokio::task::block_in_place(|| rt.block_on(reports.get(&k))).unwrap().unwrap();
            (k, v)
        })
        .collect();
    let events = bus
        .accepted()
        .iter()
        .map(|e| {
            let mut d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            d.as_object_mut().unwrap().remove("reports");
            serde_json::json!({"detail-type": e.detail_type, "detail": d})
        })
        .collect();
    (files, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_service_decides_what_replay_decides() {
    let world = World::default();
    let spec = small_example();
    world.load(&spec).await;
    let clock = ManualClock::new(spec.start + hours(200));
    let bus = MemoryBus::default();
    let cfg = config(&spec, "5m");
    let mut s = service(&world, &cfg, &clock, &bus).await;
    let emf = SharedBuf::default();
    s.set_emf_output(Some(Box::new(emf.clone())));
    let (reports, failed) = s.poll(true).await;
    assert_eq!(failed, 0);
    let r = &reports[&StreamId::new("loan-scoring-prod", "AllTraffic")];
    assert_eq!((r.folders, r.windows), (96, 96), "every folder read, every window closed");

    // The same data through replay.
    let tmp = tempfile::tempdir().unwrap();
    spec.write_capture(&tmp.path().join("capture")).unwrap();
    replay_folder(tmp.path(), &spec, None);

    // Same windows: every replay window's drift.json equals the service's (but the baseline's
    // name, which is the path it was read from).
    let (files, events) = outputs(&world, &bus);
    let strip = |bytes: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        v.as_object_mut().unwrap().remove("baseline");
        v
    };
    let mut compared = 0;
    for (key, bytes) in &files {
        if key.ends_with("drift.json") {
            let replayed = std::fs::read(tmp.path().join("out").join(key)).ok();
            if let Some(rb) = replayed {
                assert_eq!(strip(bytes), strip(&rb), "{key}");
                compared += 1;
            }
        }
        if key.ends_with("statistics.json") {
            let rb = std::fs::read(tmp.path().join("out").join(key)).unwrap();
            assert_eq!(bytes, &rb, "{key}");
        }
    }
    assert_eq!(compared, 96);
    // Same CloudWatch metrics: the service's log lines are replay's --emf file, line for line.
    let printed = emf.text();
    let replayed_emf = std::fs::read_to_string(tmp.path().join("emf.jsonl")).unwrap();
    assert_eq!(printed.lines().count(), 96, "ten metrics a feature, under 100 a line: one line a window");
    assert_eq!(printed, replayed_emf);
    for line in printed.lines() {
        let values = crate::publish::emf::check_line(line).unwrap();
        // Ten metrics for each baseline feature (the example's baseline has the score too).
        assert_eq!(values.len(), 10 * (spec.features.len() + 1), "{line}");
        assert!(values["feature_completeness_income"] > 0.9);
        assert!(line.contains(&format!("\"MonitoringSchedule\":\"{SCHEDULE}\"")));
    }
    // Same events, in the same order.
    let replayed: Vec<serde_json::Value> = replayed_events(tmp.path());
    assert_eq!(events.len(), 3);
    assert_eq!(events, replayed);
    assert!(files
        .keys()
        .any(|k| k.starts_with("drift_metrics/endpoint=loan-scoring-prod/variant=AllTraffic/date=2026-03-02/1600")));
}

/// Batch transform capture (hourly jobs: `input/` and `output/` manifests below the destination
/// `loan-batch`, the objects they name in another bucket) is a stream the service finds by
/// itself (`loan-batch/BatchTransform`) and reads as replay reads it: the same windows, the same
/// events.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_service_reads_batch_transform_capture_as_replay_does() {
    let world = World::default();
    let spec = small_example();
    world.load(&spec).await; // the baseline (and real-time capture of another endpoint)
    let objects = spec.batch_transform("s3://jobs/");
    for (key, text) in &objects.data {
        let (dir, name) =
            format!("s3://jobs/{key}").rsplit_once('/').map(|(d, n)| (d.to_owned(), n.to_owned())).unwrap();
        world.store(&dir).put(&name, text.clone().into_bytes()).await.unwrap();
    }
    let capture = world.store("capture");
    for (key, text) in &objects.manifests {
        capture.put(&format!("loan-batch/{key}"), text.clone().into_bytes()).await.unwrap();
    }
    let mut cfg = config(&spec, "5m");
    cfg.monitors[0].endpoint = "loan-batch".into();
    let clock = ManualClock::new(spec.start + hours(200));
    let bus = MemoryBus::default();
    let mut s = service(&world, &cfg, &clock, &bus).await;
    let (reports, failed) = s.poll(true).await;
    assert_eq!(failed, 0);
    let r = &reports[&StreamId::new("loan-batch", "BatchTransform")];
    assert_eq!((r.folders, r.windows), (96, 96), "one folder and one window a job hour");

    // Replay of the same destination, the objects in a local folder.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("jobs");
    let local = spec.batch_transform(&format!("{}/", data.display()));
    for (key, text) in &local.data {
        std::fs::create_dir_all(data.join(key).parent().unwrap()).unwrap();
        std::fs::write(data.join(key), text).unwrap();
    }
    for (key, text) in &local.manifests {
        let path = tmp.path().join("capture/loan-batch").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    replay_folder(tmp.path(), &spec, None);
    let (files, events) = outputs(&world, &bus);
    let mut compared = 0;
    for (key, bytes) in files.iter().filter(|(k, _)| k.starts_with("loan-batch/BatchTransform/")) {
        if key.ends_with("statistics.json") || key.ends_with("constraint_violations.json") {
            let rb = std::fs::read(tmp.path().join("out").join(key)).unwrap();
            assert_eq!(bytes, &rb, "{key}");
            compared += 1;
        }
    }
    assert_eq!(compared, 2 * 96);
    assert_eq!(events, replayed_events(tmp.path()));
    assert!(!events.is_empty(), "the example's episodes");
}

/// Objects are read as they land, and a window closes on data time: once records `lateness`
/// (2 minutes) past its end have been read, long before `settle` (here 30 minutes) would close
/// it; a quiet stream's window closes `settle` after its end; an object landing after its
/// window closed is read and its records count as late.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn objects_are_read_as_they_land_and_windows_close_on_data_time() {
    let world = World::default();
    let mut spec = small_example();
    spec.hours = 6;
    spec.changes.clear();
    let keys = world.load(&spec).await;
    let clock = ManualClock::new(spec.start + Duration::from_mins(35));
    world.store("capture").land_by(&clock);
    let bus = MemoryBus::default();
    let cfg = config(&spec, "30m");
    let mut s = service(&world, &cfg, &clock, &bus).await;
    let id = StreamId::new("loan-scoring-prod", "AllTraffic");
    let landed = |t: Timestamp| keys.iter().filter(|(_, k)| landed_at(k).unwrap() <= t).count() as u64;
    // 00:35: the files written at 00:10, 00:20 and 00:30 have landed; the hour's window is open.
    let (r, _) = s.poll(true).await;
    assert_eq!((r[&id].objects, r[&id].windows), (landed(clock.now()), 0));
    assert_eq!(r[&id].objects, 3);
    // 01:05: folder 00 is complete, but no record is two minutes past 01:00 yet.
    clock.set(spec.start + Duration::from_mins(65));
    let (r, _) = s.poll(true).await;
    assert_eq!((r[&id].objects, r[&id].windows), (3, 0));
    // 01:12: folder 01's first file (01:00 to 01:10) closes window 00, 18 minutes before settle would.
    clock.set(spec.start + Duration::from_mins(72));
    let (r, _) = s.poll(true).await;
    assert_eq!((r[&id].objects, r[&id].windows, r[&id].folders), (1, 1, 1));
    // A file lands in folder 00 after its window closed: read on the next poll, its records late.
    let (_, late_key) = keys.iter().find(|(h, _)| *h == spec.start).unwrap();
    let capture = world.store("capture");
    let body = capture.get(late_key).await.unwrap().unwrap();
    let late = late_key.replace(".jsonl", "-late.jsonl");
    capture.put(&late, body.clone()).await.unwrap();
    clock.set(spec.start + Duration::from_mins(75));
    let (r, _) = s.poll(true).await;
    assert_eq!((r[&id].objects, r[&id].windows), (1, 0), "the late object alone");
    // The traffic stops after 06:00: the last window closes `settle` after its end.
    clock.set(spec.start + Duration::from_mins(6 * 60 + 29));
    let (r, _) = s.poll(true).await;
    assert_eq!(r[&id].windows, 4, "windows 01 to 04 close on data time; 05 waits for settle");
    clock.set(spec.start + Duration::from_mins(6 * 60 + 30));
    let (r, _) = s.poll(true).await;
    assert_eq!(r[&id].windows, 1);
    let records = body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    let drift: serde_json::Value = serde_json::from_slice(
        &world.store("reports").get("loan-scoring-prod/AllTraffic/2026/03/01/01/drift.json").await.unwrap().unwrap(),
    )
    .unwrap();
    assert_eq!(drift["skipped"]["late_record"], records, "{}", drift["skipped"]);
    assert!(drift["issues"].as_array().unwrap().iter().any(|i| i.as_str().unwrap().contains("late_record")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn crashes_at_any_point_give_the_same_reports_and_events() {
    crashes_give_the_same_outputs(false, Failure::Crash).await;
}

/// The same with model quality: labels read, windows waiting for theirs, late labels, all
/// across crashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn crashes_with_labels_waiting_give_the_same_reports_and_events() {
    crashes_give_the_same_outputs(true, Failure::Crash).await;
}

/// Polls that fail part way (a read of capture or labels, a report or checkpoint write gives
/// up) while the service goes on running: the next poll takes the stream up again from its
/// checkpoint, and nothing read before the failure is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn failed_polls_without_a_restart_give_the_same_reports_and_events() {
    crashes_give_the_same_outputs(true, Failure::PollFails).await;
}

/// What happens after an injected failure.
#[derive(Clone, Copy, PartialEq)]
enum Failure {
    /// The process dies: a new service starts from the state store.
    Crash,
    /// The poll reports the failure and the same service polls again.
    PollFails,
}

async fn crashes_give_the_same_outputs(quality: bool, failure: Failure) {
    let spec = small_example();
    let tmp = tempfile::tempdir().unwrap();
    let load = |world: World| {
        let (spec, dir) = (spec.clone(), tmp.path().to_owned());
        async move {
            world.load(&spec).await;
            if quality {
                world.load_labels(&spec, &dir).await;
            }
        }
    };
    let cfg = if quality { quality_config(&spec, "5m") } else { config(&spec, "5m") };
    // Past the data by the labels' delay and the slow labels' 30 hours.
    let polls = if quality { 130 } else { 100 };
    // The uninterrupted run, polled hourly as time passes.
    let reference = World::default();
    load(reference.clone()).await;
    let clock = ManualClock::new(spec.start);
    reference.store("capture").land_by(&clock);
    let bus = MemoryBus::default();
    let mut s = service(&reference, &cfg, &clock, &bus).await;
    for h in 1..=polls {
        clock.set(spec.start + hours(h) + Duration::from_mins(6));
        s.poll(true).await;
    }
    let want = outputs(&reference, &bus);
    assert_eq!(want.1.len(), if quality { 4 } else { 3 });

    // The same, with crashes: a put fails in the middle of a poll (reports or checkpoint), the
    // service is dropped and started again from the state store.
    let world = World::default();
    load(world.clone()).await;
    let clock = ManualClock::new(spec.start);
    world.store("capture").land_by(&clock);
    let bus = MemoryBus::default();
    let mut s = service(&world, &cfg, &clock, &bus).await;
    let mut rng = driftwatch_synth::Rng::new(5);
    let mut crashes = 0;
    for h in 1..=polls {
        clock.set(spec.start + hours(h) + Duration::from_mins(6));
        if rng.uniform() < 0.3 {
            let reads = if quality { ["capture", "gt"] } else { ["capture", "capture"] };
            let (target, read) = match (failure, rng.uniform()) {
                (Failure::PollFails, u) if u < 0.25 => (reads[0], true),
                (Failure::PollFails, u) if u < 0.5 => (reads[1], true),
                (_, u) if u < 0.75 => ("reports", false),
                _ => ("state", false),
            };
            let n = 1 + (rng.next_u64() % 6) as usize;
            let store = world.store(target);
            if read {
                store.fail_get_in.store(n, Ordering::SeqCst)
            } else {
                store.fail_put_in.store(n, Ordering::SeqCst)
            }
        }
        let (_, failed) = s.poll(true).await;
        if failed > 0 {
            crashes += 1;
            for name in ["reports", "state", "capture", "gt"] {
                world.store(name).fail_put_in.store(0, Ordering::SeqCst);
                world.store(name).fail_get_in.store(0, Ordering::SeqCst);
            }
            if failure == Failure::Crash {
                drop(s);
                s = service(&world, &cfg, &clock, &bus).await;
            }
            s.poll(true).await;
        }
    }
    assert!(crashes >= 10, "only {crashes} crashes");
    let got = outputs(&world, &bus);
    let (got_keys, want_keys): (Vec<&String>, Vec<&String>) = (got.0.keys().collect(), want.0.keys().collect());
    assert!(got_keys == want_keys, "report keys differ: {} vs {}", got_keys.len(), want_keys.len());
    for (k, v) in &want.0 {
        assert!(&got.0[k] == v, "{k} differs");
    }
    // A crash between a successful PutEvents and the checkpoint that records it sends those
    // events again on restart (EventBridge has no idempotency key). A repeat is byte-identical
    // and carries the same (episodeId, detail-type), the dedupe key; nothing is lost.
    let mut unique: Vec<serde_json::Value> = Vec::new();
    for e in &got.1 {
        let key = |v: &serde_json::Value| (v["detail"]["episodeId"].clone(), v["detail-type"].clone());
        match unique.iter().find(|u| key(u) == key(e)) {
            Some(u) => assert!(u == e, "a repeat with the same key differs"),
            None => unique.push(e.clone()),
        }
    }
    assert!(unique == want.1, "events differ after deduplication: {} vs {}", unique.len(), want.1.len());
}

/// The service with labels arriving after their windows (two hours for most, 30 for one in
/// ten, never for one in seven), polled hourly as time passes: every window's model-quality
/// files and every event equal replay's on the same objects; the worse model version of day 4
/// is found once its windows' labels are in.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_service_judges_model_quality_as_replay_does() {
    let spec = small_example();
    let tmp = tempfile::tempdir().unwrap();
    let world = World::default();
    world.load(&spec).await;
    let (gt_dir, qb_dir) = world.load_labels(&spec, tmp.path()).await;
    let clock = ManualClock::new(spec.start);
    let bus = MemoryBus::default();
    // A bias monitor too: its label-dependent metrics come with each judgement.
    put_bias(&world, &spec).await;
    let cfg = config_with(
        &spec,
        "5m",
        "quality_baseline = \"qb\"\nground_truth = \"gt\"\nprobability_attribute = \"0\"\nbias_config = \"bias/analysis_config.json\"\nbias_baseline = \"bias\"\n",
    );
    let mut s = service(&world, &cfg, &clock, &bus).await;
    let emf = SharedBuf::default();
    s.set_emf_output(Some(Box::new(emf.clone())));
    let id = StreamId::new(&spec.endpoint, &spec.variant);
    let mut first_quality_event = None;
    let mut label_files = 0;
    let (mut most_held, mut largest_checkpoint, mut ledger_bytes) = (0, 0, 0);
    let checkpoints = CheckpointStore::new(world.store("state"));
    for h in 1..=130 {
        clock.set(spec.start + hours(h) + Duration::from_mins(6));
        let (reports, failed) = s.poll(true).await;
        assert_eq!(failed, 0);
        label_files += reports[&id].label_files;
        // What waiting for labels costs: predictions held and the checkpoint's size.
        let bytes = world.store("state").get(&crate::checkpoint::key(&id)).await.unwrap().unwrap().len();
        largest_checkpoint = largest_checkpoint.max(bytes);
        let cp = checkpoints.load(&id).await.unwrap().unwrap();
        let ledger = &cp.quality.as_ref().unwrap().state.ledger;
        most_held = most_held.max(ledger.predictions_held());
        ledger_bytes = ledger_bytes.max(serde_json::to_vec(ledger).unwrap().len());
        if first_quality_event.is_none() && bus.accepted().iter().any(|e| e.detail_type == "Model Quality Degraded") {
            first_quality_event = Some(h);
        }
    }
    // The turn is at hour 72; its second window ends at 74:00 and is judged 24 h later, at
    // 98:00: the event goes out with the first poll after that hour settles (98:06).
    assert_eq!(first_quality_event, Some(98), "Model Quality Degraded sent at hour {first_quality_event:?}");
    assert_eq!(label_files as usize, world.store("gt").inner.keys().len(), "every ground-truth object read once");
    eprintln!("at most {most_held} predictions held for their labels, at most {ledger_bytes} bytes of ledger; the largest checkpoint {largest_checkpoint} bytes");
    // About a day of predictions (a day of the example is about 480), not the whole stream.
    assert!(most_held < 700, "{most_held} predictions held");

    // The same objects through replay.
    let quality = crate::replay::QualityOptions {
        baseline: Some(qb_dir.display().to_string()),
        ground_truth: Some(gt_dir.display().to_string()),
        spec: crate::pipeline::predictions::PredictionSpec {
            inference: None,
            probability: Some(crate::pipeline::predictions::Attr::Index(0)),
            ..Default::default()
        },
        probability_threshold: 0.5,
        delay: hours(24),
        enough_share: crate::quality::join::DEFAULT_ENOUGH_SHARE,
        expiry: None,
    };
    let bias = local_bias(tmp.path(), &spec);
    replay_folder_with(tmp.path(), &spec, Some(quality), Some(bias));

    let (files, events) = outputs(&world, &bus);
    let mut compared = 0;
    for (key, bytes) in files.iter().filter(|(k, _)| k.contains("/model_quality/")) {
        let replayed =
            std::fs::read(tmp.path().join("out").join(key)).unwrap_or_else(|_| panic!("replay has no {key}"));
        assert!(bytes == &replayed, "{key} differs");
        compared += 1;
    }
    assert_eq!(compared, 3 * 96, "statistics, violations and labels of every window");
    // The bias files, those of each judgement with the label-dependent metrics among them.
    let mut bias_files = 0;
    for (key, bytes) in files.iter().filter(|(k, _)| k.contains("/bias/")) {
        let replayed =
            std::fs::read(tmp.path().join("out").join(key)).unwrap_or_else(|_| panic!("replay has no {key}"));
        assert!(bytes == &replayed, "{key} differs");
        bias_files += 1;
    }
    assert_eq!(
        bias_files,
        4 * 96,
        "analysis and violations of every window, over its predictions and its labelled ones"
    );
    let quality_tables = files.keys().filter(|k| k.starts_with("model_quality_metrics/")).count();
    assert_eq!(quality_tables, 96);
    // The same CloudWatch metrics: each window's data-quality line and, once judged, its
    // model-quality line (Model Monitor's names in aws/sagemaker/Endpoints/model-metrics), as
    // sets (the service prints a window's quality when its labels are in).
    let printed: std::collections::BTreeSet<String> = emf.text().lines().map(str::to_owned).collect();
    let replayed_emf: std::collections::BTreeSet<String> =
        std::fs::read_to_string(tmp.path().join("emf.jsonl")).unwrap().lines().map(str::to_owned).collect();
    let only_printed: Vec<&String> = printed.difference(&replayed_emf).collect();
    let only_replayed: Vec<&String> = replayed_emf.difference(&printed).collect();
    let short = |v: &[&String]| {
        v.iter()
            .map(|l| {
                let j: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{} acc {} n/a", j["_aws"]["Timestamp"], j["accuracy"])
            })
            .collect::<Vec<_>>()
    };
    assert!(
        only_printed.is_empty() && only_replayed.is_empty(),
        "{} lines only printed ({:?}), {} only replayed ({:?})",
        only_printed.len(),
        short(&only_printed),
        only_replayed.len(),
        short(&only_replayed)
    );
    let quality_lines: Vec<&String> =
        printed.iter().filter(|l| l.contains(crate::publish::emf::MODEL_NAMESPACE)).collect();
    assert_eq!(quality_lines.len(), 96, "one model-quality line a judged window");
    let mut with_auc = 0;
    for line in &quality_lines {
        let values = crate::publish::emf::check_line(line).unwrap();
        for m in ["accuracy", "f1", "precision", "recall", "false_positive_rate"] {
            assert!(values.contains_key(m), "{m} missing: {line}");
        }
        // AUC is undefined (left out, not zero) for a window whose labels are all one class.
        with_auc += usize::from(values.contains_key("auc"));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Endpoint", "MonitoringSchedule"]])
        );
    }
    assert!(with_auc > 80, "{with_auc} of 96 windows with an AUC");
    // The same events (data drift with their quality verdicts, model quality), as sets: the
    // service sends a window's quality events when its labels are in, replay with the next
    // window.
    let mut replayed: Vec<serde_json::Value> = replayed_events(tmp.path());
    let order = |e: &serde_json::Value| (e["detail"]["detectedAt"].to_string(), e["detail-type"].to_string());
    let mut got = events.clone();
    got.sort_by_key(order);
    replayed.sort_by_key(order);
    assert_eq!(got.len(), 4);
    assert_eq!(got, replayed);
    let q = got.iter().find(|e| e["detail-type"] == "Model Quality Degraded").unwrap();
    assert_eq!(
        (q["detail"]["onset"].as_str(), q["detail"]["judgedAt"].as_str()),
        (Some("2026-03-04T00:00:00Z"), Some("2026-03-05T02:00:00Z"))
    );
    // Every label is in a window's account or counted: nothing waits at the end but the
    // windows of the last day's unlabelled predictions (until their expiry).
    let cp = CheckpointStore::new(world.store("state")).load(&id).await.unwrap().unwrap();
    let quality = cp.quality.unwrap();
    assert_eq!(quality.state.ledger.labels_waiting(), 0);
    assert_eq!(quality.state.ledger.totals().duplicates, 0);
}

/// Clarify's analysis config of the loan example: home_ownership's values, grouped by purpose.
const BIAS_CONFIG: &str = r#"{"headers": ["label", "loan_amount", "income", "term_months", "debt_to_income",
  "credit_lines", "home_ownership", "purpose"], "label": "label", "label_values_or_threshold": [1],
  "facet": [{"name_or_index": "home_ownership"}], "group_variable": "purpose", "probability_threshold": 0.5}"#;

/// The bias baseline of `spec`'s training rows, labelled from their scores.
fn bias_baseline(spec: &StreamSpec) -> String {
    let csv = spec.baseline_csv(5000);
    let mut lines = csv.lines();
    let mut table = format!("{},label\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        let score: f64 = line.split(',').next().unwrap().parse().unwrap();
        let u = (crate::profile::hll::mix64(i as u64) >> 11) as f64 / (1u64 << 53) as f64;
        table.push_str(&format!("{line},{}\n", u8::from(u < score)));
    }
    let config = crate::bias::BiasConfig::from_json(BIAS_CONFIG, "c.json").unwrap();
    let mut rows = crate::bias::analysis::BiasCollector::new(config, "label", "score");
    crate::baseline::build::read_csv(table.as_bytes(), "t.csv", true, &mut rows).unwrap();
    serde_json::to_string(&rows.finish("t.csv").unwrap().to_json()).unwrap()
}

/// A bias monitor in the service (restarted halfway, its episodes carried by the checkpoint)
/// writes replay's bias files and sends replay's bias events: home_ownership's codes are
/// renamed at hour 48, so every value of the baseline stops appearing (sudden, investigate).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_service_judges_bias_as_replay_does() {
    let world = World::default();
    let mut spec = small_example();
    spec.max_rows = 1;
    spec.changes = vec![driftwatch_synth::Change::CategoryRename { feature: 5, at: 48.0 }];
    world.load(&spec).await;
    put_bias(&world, &spec).await;
    let cfg = config_with(
        &spec,
        "5m",
        "bias_config = \"bias/analysis_config.json\"\nbias_baseline = \"bias\"\nprobability_attribute = \"0\"\n",
    );
    let clock = ManualClock::new(spec.start + hours(50));
    let bus = MemoryBus::default();
    service(&world, &cfg, &clock, &bus).await.poll(true).await;
    // A restart: the episodes go on from the checkpoint.
    clock.set(spec.start + hours(200));
    let (reports, failed) = service(&world, &cfg, &clock, &bus).await.poll(true).await;
    assert_eq!(failed, 0);
    assert!(reports.values().all(|r| r.windows > 0));

    let tmp = tempfile::tempdir().unwrap();
    spec.write_capture(&tmp.path().join("capture")).unwrap();
    let bias = local_bias(tmp.path(), &spec);
    replay_folder_with(tmp.path(), &spec, None, Some(bias));
    let (files, events) = outputs(&world, &bus);
    let compared = bias_files_equal_replay(&files, tmp.path());
    assert_eq!(compared, 2 * 96, "analysis and violations of every window");
    let bias_events: Vec<&serde_json::Value> = events.iter().filter(|e| e["detail"]["monitor"] == "bias").collect();
    let kinds: Vec<(String, String)> = bias_events
        .iter()
        .map(|e| {
            (e["detail"]["facetValue"].as_str().unwrap().to_owned(), e["detail"]["kind"].as_str().unwrap().to_owned())
        })
        .collect();
    assert!(kinds.contains(&("RENT".to_owned(), "sudden".to_owned())), "{kinds:?}");
    assert_eq!(events, replayed_events(tmp.path()), "the same events, bias ones included");
}

/// Ground truth beside a bias monitor alone (no quality baseline): the service joins the labels
/// for the label-dependent metrics, with a restart between, and writes what replay writes: each
/// window's bias files over its predictions and over its labelled ones, the same events, the
/// same bias metric lines; no model-quality file, metric or event.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_service_joins_labels_for_bias_alone_as_replay_does() {
    let spec = small_example();
    let tmp = tempfile::tempdir().unwrap();
    let world = World::default();
    world.load(&spec).await;
    let (gt_dir, _) = world.load_labels(&spec, tmp.path()).await;
    put_bias(&world, &spec).await;
    let cfg = config_with(
        &spec,
        "5m",
        "ground_truth = \"gt\"\nground_truth_delay = \"6h\"\nprobability_attribute = \"0\"\nbias_config = \"bias/analysis_config.json\"\nbias_baseline = \"bias\"\n",
    );
    let clock = ManualClock::new(spec.start);
    let bus = MemoryBus::default();
    let emf = SharedBuf::default();
    for (from, to) in [(1, 60), (61, 130)] {
        // A restart halfway: the ledger and both bias classifiers go on from the checkpoint.
        let mut s = service(&world, &cfg, &clock, &bus).await;
        s.set_emf_output(Some(Box::new(emf.clone())));
        for h in from..=to {
            clock.set(spec.start + hours(h) + Duration::from_mins(6));
            let (_, failed) = s.poll(true).await;
            assert_eq!(failed, 0);
        }
    }
    let quality = crate::replay::QualityOptions {
        baseline: None,
        ground_truth: Some(gt_dir.display().to_string()),
        spec: crate::pipeline::predictions::PredictionSpec::default(),
        probability_threshold: 0.5,
        delay: hours(6),
        enough_share: crate::quality::join::DEFAULT_ENOUGH_SHARE,
        expiry: None,
    };
    let bias = local_bias(tmp.path(), &spec);
    replay_folder_with(tmp.path(), &spec, Some(quality), Some(bias));
    let (files, events) = outputs(&world, &bus);
    assert!(!files.keys().any(|k| k.contains("model_quality")), "no model-quality files without its monitor");
    let compared = bias_files_equal_replay(&files, tmp.path());
    let labelled = files.keys().filter(|k| k.ends_with("analysis_with_labels.json")).count();
    eprintln!("{compared} bias files equal replay's, {labelled} windows judged on labels");
    assert_eq!(labelled, 96, "every window of the service's time judged on its labels");
    assert_eq!(compared, 4 * 96);
    assert_eq!(events, replayed_events(tmp.path()), "the same events");
    let lines: std::collections::BTreeSet<String> = emf.text().lines().map(str::to_owned).collect();
    let replayed: std::collections::BTreeSet<String> =
        std::fs::read_to_string(tmp.path().join("emf.jsonl")).unwrap().lines().map(str::to_owned).collect();
    assert!(lines.iter().any(|l| l.contains("bias_metric_AD")), "label-dependent metrics printed");
    assert!(!lines.iter().any(|l| l.contains("model-metrics")), "no model-quality metrics");
    assert!(lines.is_subset(&replayed), "every printed line is one replay writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_missing_bus_keeps_events_until_it_exists() {
    let world = World::default();
    let spec = small_example();
    world.load(&spec).await;
    let clock = ManualClock::new(spec.start + hours(200));
    let bus = MemoryBus::default();
    for _ in 0..2 {
        bus.script(Script::Fail(BusError::NotFound("b".into())));
    }
    let cfg = config(&spec, "5m");
    let mut s = service(&world, &cfg, &clock, &bus).await;
    s.poll(true).await;
    assert_eq!(s.outbox_len(), 3);
    assert!(bus.accepted().is_empty());
    // A restart keeps the outbox (it is in the checkpoint).
    drop(s);
    let mut s = service(&world, &cfg, &clock, &bus).await;
    s.poll(true).await;
    assert_eq!(s.outbox_len(), 3, "still missing");
    s.poll(true).await;
    assert_eq!(s.outbox_len(), 0, "the bus exists now");
    assert_eq!(bus.accepted().len(), 3);
    let types: Vec<String> = bus.accepted().iter().map(|e| e.detail_type.clone()).collect();
    assert_eq!(types, vec!["Sudden Data Shift Detected", "Data Drift Resolved", "Gradual Data Drift Detected"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn health_and_startup_errors() {
    let world = World::default();
    let spec = small_example();
    world.load(&spec).await;
    let t0 = spec.start + hours(200);
    let clock = ManualClock::new(t0);
    let bus = MemoryBus::default();
    let cfg = config(&spec, "5m");
    let mut s = service(&world, &cfg, &clock, &bus).await;
    let health = s.health();
    assert!(!health.check(t0, Duration::from_mins(10)).0, "not healthy before a poll");
    s.poll(true).await;
    assert!(health.check(t0, Duration::from_mins(10)).0);
    assert!(!health.check(t0 + Duration::from_mins(11), Duration::from_mins(10)).0);

    // A monitor whose endpoint has no capture and no configured capture: a clear error.
    let text = "[state]\nuri = \"state\"\n[[monitor]]\nendpoint = \"no-capture\"\nbaseline = \"baseline\"\n";
    let cfg = Config::from_toml(text, "t.toml", std::iter::empty()).unwrap();
    let err = Service::<FlakyStore, MemoryBus>::start(
        &cfg,
        &StaticDiscovery::default(),
        world.factory(),
        None,
        Arc::new(clock.clone()),
        EventSettings::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("endpoint no-capture: Data Capture is not enabled"), "{err}");
    let text = "[[monitor]]\nendpoint = \"x\"\n";
    let cfg = Config::from_toml(text, "t.toml", std::iter::empty()).unwrap();
    let err = Service::<FlakyStore, MemoryBus>::start(
        &cfg,
        &StaticDiscovery::default(),
        world.factory(),
        None,
        Arc::new(clock),
        EventSettings::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("[state] uri is required"), "{err}");
}

#[test]
fn oversized_events_are_trimmed_to_fit() {
    use crate::classify::evidence::{Evidence, FeatureSeries, SuddenBasis, SuddenEvidence, Trimmed};
    use crate::publish::events::{EventDetail, EventReports, EventWindow};
    let series = FeatureSeries {
        window_starts: vec![Some("x".repeat(300_000))],
        rows: vec![],
        distance: vec![],
        noise_floor: vec![],
        step: vec![],
        step_noise_floor: vec![],
    };
    let big = Evidence::Sudden(SuddenEvidence {
        decision: SuddenBasis::Step,
        signals: vec![],
        step: None,
        late_step: None,
        features_stepping: 1,
        features_monitored: 1,
        many_features_stepping: false,
        likely_pipeline_bug: false,
        trimmed: Trimmed { series: Some(BTreeMap::from([("f".to_owned(), series)])), ..Trimmed::default() },
        cycles: vec![],
    });
    let env = EventEnvelope {
        version: "0",
        id: "i".into(),
        detail_type: "Sudden Data Shift Detected",
        source: "driftwatch".into(),
        account: "1".into(),
        time: "t".into(),
        region: "r".into(),
        resources: vec![],
        detail: EventDetail {
            schema_version: "1",
            endpoint: "e".into(),
            variant: "v".into(),
            kind: "sudden",
            action: "investigate",
            episode_id: "ep".into(),
            detected_at: "t".into(),
            onset: "t".into(),
            window: EventWindow { start: "s".into(), end: "e".into(), records: 1 },
            features: vec![],
            violations: vec![],
            evidence: big,
            reports: EventReports { statistics: None, violations: None },
            quality: crate::publish::events::DriftQuality::UNMONITORED,
        },
    };
    let e = env.bus_entry();
    assert!(e.size() < crate::publish::bus::MAX_BATCH_BYTES);
    assert!(e.detail.contains("\"decision\":\"step\""));
    assert!(e.detail.contains("\"seriesOmitted\":true"), "a trimmed event says so");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_lambda_pass_stops_for_its_deadline_and_the_next_goes_on() {
    lambda_passes(false).await;
}

/// The same with labels: the second pass reads the ground truth and judges every window.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_lambda_pass_with_labels_stops_for_its_deadline_and_the_next_goes_on() {
    lambda_passes(true).await;
}

async fn lambda_passes(quality: bool) {
    let spec = small_example();
    let cfg = if quality { quality_config(&spec, "5m") } else { config(&spec, "5m") };
    let clock = ManualClock::new(spec.start + hours(200));
    let tmp = tempfile::tempdir().unwrap();
    // The reference: one poll without a deadline.
    let want = {
        let world = World::default();
        world.load(&spec).await;
        if quality {
            world.load_labels(&spec, tmp.path()).await;
        }
        let bus = MemoryBus::default();
        service(&world, &cfg, &clock, &bus).await.poll(true).await;
        outputs(&world, &bus)
    };

    let world = World::default();
    world.load(&spec).await;
    if quality {
        world.load_labels(&spec, tmp.path()).await;
    }
    let bus = MemoryBus::default();
    let mut s = service(&world, &cfg, &clock, &bus).await;
    // Less time than the reserve: no folder is started, nothing is skipped.
    let soon = clock.now() + Duration::from_millis(DEADLINE_RESERVE.as_millis() as i64 / 2);
    let summary = crate::lambda::invoke(&mut s, soon, &serde_json::Value::Null).await.unwrap();
    assert!(summary.stopped_early);
    assert_eq!(summary.streams.iter().map(|r| r.folders).sum::<u64>(), 0);
    // The next invocation (from the checkpoints, as a fresh instance would) does the rest.
    let summary =
        crate::lambda::invoke(&mut s, clock.now() + Duration::from_hours(1), &serde_json::Value::Null).await.unwrap();
    assert!(!summary.stopped_early);
    let events = if quality { 4 } else { 3 };
    assert_eq!((summary.streams[0].folders, summary.streams[0].events_sent, summary.outbox), (96, events, 0));
    let got = outputs(&world, &bus);
    assert!(got.0 == want.0, "reports differ");
    assert_eq!(got.1, want.1);
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["streams"][0]["stream"], "loan-scoring-prod/AllTraffic");
    assert_eq!(json["stoppedEarly"], false);
}

/// SIGTERM in the middle of a folder: `run` stops at the next object instead of finishing the
/// poll, checkpoints the objects it read (part of a folder), and the restarted service reads
/// the rest from there: the reports and events equal an uninterrupted run's, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_inside_a_folder_ends_the_poll_between_objects_and_loses_nothing() {
    let spec = small_example();
    let cfg = config(&spec, "5m");
    let clock = ManualClock::new(spec.start + hours(200));
    let (keys, want) = one_poll(&spec, &cfg, &clock).await;

    let world = World::default();
    world.load(&spec).await;
    let bus = MemoryBus::default();
    let s = service(&world, &cfg, &clock, &bus).await;
    // The stop arrives while the 40th capture object is read, well inside the first day.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    world.store("capture").at_get(40, move || {
        let _ = stop_tx.send(());
    });
    let started = std::time::Instant::now();
    run(
        s,
        async {
            let _ = stop_rx.await;
        },
        StdDuration::from_secs(5),
    )
    .await
    .unwrap();
    assert!(started.elapsed() < StdDuration::from_secs(20), "run did not stop at the next object");
    let cp = CheckpointStore::new(world.store("state"));
    let saved = cp.load(&StreamId::new(&spec.endpoint, &spec.variant)).await.unwrap().unwrap();
    let next = saved.cursor.next_hour.unwrap();
    assert!(next < spec.start + hours(24), "stopped early: checkpoint at {next}");
    assert!(keys.len() > 40);
    let partial = outputs(&world, &bus);
    assert!(partial.1.len() < want.1.len(), "not every event was sent before the stop");

    let mut s = service(&world, &cfg, &clock, &bus).await;
    let (reports, failed) = s.poll(true).await;
    assert_eq!(failed, 0);
    assert!(reports.values().all(|r| !r.stopped_early));
    // Nothing read before the stop is read again (the checkpoint holds the objects read,
    // the stopped folder's among them; a Lambda pass cut by its deadline relies on it).
    let again: u64 = reports.values().map(|r| r.objects).sum();
    // (the stop comes at the 40th GET; requests and decoding run a few objects ahead)
    assert!(again as usize <= keys.len() - 30, "read {again} of {} objects again", keys.len());
    let got = outputs(&world, &bus);
    assert!(got.0 == want.0, "reports differ");
    assert!(got.1 == want.1, "events differ: {} vs {}", got.1.len(), want.1.len());
}

/// A poll that reads nothing and closes nothing writes no checkpoint (with hundreds of quiet
/// streams, rewriting each one's checkpoint every poll was most of the poll); one that reads
/// an object writes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_poll_writes_no_checkpoint() {
    let spec = small_example();
    let cfg = config(&spec, "5m");
    // Past 5:05 (windows end on the hour, settle is 5 minutes), well before 6:05.
    let t0 = spec.start + hours(5) + Duration::from_mins(12);
    let clock = ManualClock::new(t0);
    let world = World::default();
    let keys = world.load(&spec).await;
    world.store("capture").land_by(&clock);
    let bus = MemoryBus::default();
    let mut s = service(&world, &cfg, &clock, &bus).await;
    let state = world.store("state");
    let (reports, _) = s.poll(true).await;
    assert!(reports.values().all(|r| r.objects > 0));
    let after_first = state.puts.lock().unwrap().clone();
    assert!(!after_first.is_empty());
    // Nothing lands in the next minute (objects land every ten).
    let next = (1..=10).map(|m| t0 + Duration::from_mins(m)).find(|t| {
        let landed = |at: Timestamp| keys.iter().filter(|(_, k)| landed_at(k).is_some_and(|l| l <= at)).count();
        landed(*t) > landed(t0)
    });
    let quiet = next.expect("something lands within ten minutes") - Duration::from_secs(1);
    clock.set(quiet);
    let (reports, _) = s.poll(true).await;
    assert!(reports.values().all(|r| r.objects == 0 && r.windows == 0), "{reports:?}");
    assert_eq!(state.puts.lock().unwrap().clone(), after_first, "a quiet poll wrote");
    clock.set(quiet + Duration::from_mins(1));
    let (reports, _) = s.poll(true).await;
    assert!(reports.values().all(|r| r.objects > 0));
    assert!(state.puts.lock().unwrap().len() > after_first.len(), "an object read, no checkpoint written");
}

/// A monitor's streams are polled concurrently; each one's outputs are what it gives alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_polled_together_give_what_each_gives_alone() {
    let spec = small_example();
    let clock = ManualClock::new(spec.start + hours(200));
    let want = one_poll(&spec, &config(&spec, "5m"), &clock).await.1;

    let world = World::default();
    let variants = ["AllTraffic", "Shadow-1", "Shadow-2", "Shadow-3", "Shadow-4", "Shadow-5"];
    for v in variants {
        let mut s = spec.clone();
        s.variant = v.into();
        world.load(&s).await;
    }
    let bus = MemoryBus::default();
    let mut s = service(&world, &config(&spec, "5m"), &clock, &bus).await;
    let (reports, failed) = s.poll(true).await;
    assert_eq!((reports.len(), failed), (variants.len(), 0));
    let got = outputs(&world, &bus);
    for v in variants {
        let rename = |k: &str| {
            k.replacen(&format!("/{v}/"), &format!("/{}/", spec.variant), 1)
                .replace(&format!("variant={v}/"), &format!("variant={}/", spec.variant))
        };
        let mine: BTreeMap<String, &Vec<u8>> = got
            .0
            .iter()
            .filter(|(k, _)| k.contains(&format!("/{v}/")) || k.contains(&format!("variant={v}/")))
            .map(|(k, b)| (rename(k), b))
            .collect();
        assert_eq!(mine.len(), want.0.len(), "{v}");
        for (k, b) in &mine {
            if k.ends_with(".parquet") || k.ends_with("drift.json") {
                continue; // name the variant inside
            }
            assert!(want.0.get(k) == Some(*b), "{v}: {k} differs");
        }
        let events = got.1.iter().filter(|e| e["detail"]["variant"] == v).count();
        assert_eq!(events, want.1.len(), "{v}");
    }
}

/// The service retries a start that failed on a store or an API that did not answer, and
/// refuses at once to start with a configuration that is wrong.
#[test]
fn only_errors_that_may_pass_are_retried_at_start() {
    let remote = || StoreError::Remote { uri: "s3://b/k".into(), detail: "SlowDown".into() };
    assert!(ServeError::Store(remote()).is_transient());
    assert!(ServeError::Source(SourceError::Store(remote())).is_transient());
    assert!(!ServeError::Config("[[monitor]] x: window out of range".into()).is_transient());
    assert!(!ServeError::Report("cannot render".into()).is_transient());
}

/// An S3 notification of `key` below the destination `s3://cap/capture/`, as S3 sends it
/// (the key form-encoded).
fn s3_notification(key: &str) -> String {
    let full = format!("capture/{key}");
    let encoded: String = full
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "cap"}, "object": {"key": encoded, "size": 1, "eTag": "\"e\""}}}]})
    .to_string()
}

/// Notifications wake the stream they name (the sweep is an hour here), duplicates and
/// reordered ones change nothing, a missed one is made up by the next listing, a message is
/// deleted only once its object is in the checkpoint, and one delivered again after a crash
/// counts nothing twice; the reports equal those of a service that only listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn notifications_wake_streams_and_are_deleted_once_recorded() {
    use crate::notify::{MemoryQueue, Queue as _};
    let mut spec = small_example();
    spec.hours = 8;
    let world = World::default();
    let keys = world.load_at(&spec, "s3://cap/capture").await;
    let clock = ManualClock::new(spec.start);
    world.store("s3://cap/capture").land_by(&clock);
    let text = |c: &Config| c.clone();
    let mut cfg = config_with(&spec, "5m", "");
    cfg.monitors[0].capture = Some("s3://cap/capture/".into());
    let cfg = text(&cfg);
    let bus = MemoryBus::default();
    let queue = MemoryQueue::default();
    let start = |world: &World, bus: &MemoryBus, queue: &MemoryQueue| {
        let (world, cfg, clock, bus, queue) = (world.clone(), cfg.clone(), clock.clone(), bus.clone(), queue.clone());
        async move {
            let mut s = service(&world, &cfg, &clock, &bus).await;
            s.set_notifications(Arc::new(queue), hours(1));
            s
        }
    };
    let mut s = start(&world, &bus, &queue).await;
    let id = StreamId::new(&spec.endpoint, &spec.variant);
    let (r, _) = s.poll(true).await;
    assert_eq!(r[&id].objects, 0, "nothing has landed");
    let take = |q: &MemoryQueue| {
        let q = q.clone();
        async move { q.receive(10, StdDuration::ZERO).await.unwrap() }
    };
    let key_landing = |minute: i64| {
        keys.iter().find(|(_, k)| landed_at(k) == Some(spec.start + Duration::from_mins(minute))).unwrap().1.clone()
    };
    // 00:12: the 00:11 object is notified twice, with S3's test message.
    clock.set(spec.start + Duration::from_mins(12));
    queue.send(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"cap"}"#);
    queue.send(s3_notification(&key_landing(11)));
    queue.send(s3_notification(&key_landing(11)));
    let ignored = s.route(take(&queue).await);
    assert_eq!(ignored.len(), 1, "the test message");
    queue.delete(&ignored).await.unwrap();
    let (r, _) = s.poll(false).await;
    assert_eq!(r[&id].objects, 1, "read at once, though the sweep is an hour away");
    let done = s.recorded();
    assert_eq!(done.len(), 2);
    queue.delete(&done).await.unwrap();
    assert!(queue.is_empty());
    // 00:22: the 00:21 object's notification is lost; the 00:31 one, at 00:32, finds both.
    clock.set(spec.start + Duration::from_mins(22));
    let (r, _) = s.poll(false).await;
    assert!(r.is_empty(), "not due: no notification, no sweep");
    clock.set(spec.start + Duration::from_mins(32));
    queue.send(s3_notification(&key_landing(31)));
    s.route(take(&queue).await);
    let (r, _) = s.poll(false).await;
    assert_eq!(r[&id].objects, 2);
    queue.delete(&s.recorded()).await.unwrap();
    // 00:42: the service dies after reading the notified object, before deleting the message.
    clock.set(spec.start + Duration::from_mins(42));
    queue.send(s3_notification(&key_landing(41)));
    s.route(take(&queue).await);
    let (r, _) = s.poll(false).await;
    assert_eq!(r[&id].objects, 1);
    drop(s);
    let mut s = start(&world, &bus, &queue).await;
    queue.expire_in_flight();
    s.route(take(&queue).await);
    let (r, _) = s.poll(false).await;
    assert_eq!(r[&id].objects, 0, "already in the checkpoint");
    let done = s.recorded();
    assert_eq!(done.len(), 1, "so the message is deleted");
    queue.delete(&done).await.unwrap();
    // The rest of the day, notified in reverse order, one poll per ten minutes.
    let mut minute = 42;
    while minute < 8 * 60 + 20 {
        minute += 10;
        clock.set(spec.start + Duration::from_mins(minute));
        let mut landed: Vec<&String> = keys
            .iter()
            .map(|(_, k)| k)
            .filter(|k| {
                landed_at(k).is_some_and(|t| t > spec.start + Duration::from_mins(minute - 10) && t <= clock.now())
            })
            .collect();
        landed.reverse();
        for k in landed {
            queue.send(s3_notification(k));
        }
        s.route(take(&queue).await);
        s.poll(false).await;
        let done = s.recorded();
        queue.delete(&done).await.unwrap();
    }
    assert!(queue.is_empty(), "{} messages left", queue.len());
    assert_eq!(s.held_notifications(), 0);
    // No traffic after 08:00: the last window closes at the sweep (settle after its end).
    s.poll(true).await;
    // The same objects, listed by a service without notifications: the same reports.
    let reference = World::default();
    reference.load_at(&spec, "s3://cap/capture").await;
    let ref_bus = MemoryBus::default();
    let mut r = service(&reference, &cfg, &clock, &ref_bus).await;
    r.poll(true).await;
    let (want, got) = (outputs(&reference, &ref_bus), outputs(&world, &bus));
    assert_eq!(want.0.len(), got.0.len());
    assert!(want.0 == got.0, "reports differ");
    assert_eq!(want.1, got.1);
}

/// Three workers on one state store share six streams (each polled by one worker at a time);
/// one is killed (its leases expire and the others take its streams) and a new one joins
/// later (the others give streams up to it): the reports and events equal one worker's.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn workers_share_streams_and_take_over_from_a_dead_one() {
    use super::lease::Leases;
    let spec = small_example();
    let variants = ["AllTraffic", "Shadow-1", "Shadow-2", "Shadow-3", "Shadow-4", "Shadow-5"];
    let load = |world: World| {
        let spec = spec.clone();
        async move {
            for v in variants {
                let mut s = spec.clone();
                s.variant = v.into();
                world.load(&s).await;
            }
        }
    };
    let cfg = config(&spec, "5m");
    let polls = 100;
    let reference = World::default();
    load(reference.clone()).await;
    let clock = ManualClock::new(spec.start);
    reference.store("capture").land_by(&clock);
    let bus = MemoryBus::default();
    let mut s = service(&reference, &cfg, &clock, &bus).await;
    for h in 1..=polls {
        clock.set(spec.start + hours(h) + Duration::from_mins(6));
        s.poll(true).await;
    }
    let want = outputs(&reference, &bus);
    assert!(!want.1.is_empty());

    let world = World::default();
    load(world.clone()).await;
    let clock = ManualClock::new(spec.start);
    world.store("capture").land_by(&clock);
    let bus = MemoryBus::default();
    let worker = |name: &str| {
        let (world, cfg, clock, bus, name) = (world.clone(), cfg.clone(), clock.clone(), bus.clone(), name.to_owned());
        async move {
            let mut s = service(&world, &cfg, &clock, &bus).await;
            // Leases outlast the hour between these polls (the run loop renews every third
            // of the term; here the polls are all there is).
            s.set_workers(Leases::new(name, Duration::from_mins(90)));
            s
        }
    };
    let mut workers = vec![("a", worker("a").await), ("b", worker("b").await), ("c", worker("c").await)];
    let mut held: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for h in 1..=polls {
        clock.set(spec.start + hours(h) + Duration::from_mins(6));
        if h == 30 {
            // b dies: no flush, its leases simply stop being renewed.
            workers.retain(|(n, _)| *n != "b");
        }
        if h == 60 {
            workers.push(("d", worker("d").await));
        }
        for (name, w) in &mut workers {
            // (A stream may be polled by two workers in one round: by one that then gives it
            // up after its checkpoint, then by the one that takes it.)
            let (_, failed) = w.poll(true).await;
            assert_eq!(failed, 0, "{name} at hour {h}");
            held.entry(name).or_default().push(w.leases.as_ref().unwrap().held().len());
        }
    }
    // Everyone ended up with a share; the dead worker's streams moved; the newcomer got some.
    assert_eq!(held["b"][5], 2, "{held:?}");
    assert_eq!((held["a"][40], held["c"][40]), (3, 3), "b's streams moved: {held:?}");
    assert_eq!((held["a"][99], held["c"][99], held["d"][39]), (2, 2, 2), "d got its share: {held:?}");
    let got = outputs(&world, &bus);
    assert_eq!(got.0.len(), want.0.len());
    for (k, v) in &want.0 {
        assert!(got.0.get(k) == Some(v), "{k} differs");
    }
    // Streams are polled in another order across workers: the same events, none twice.
    let sorted = |v: &[serde_json::Value]| {
        let mut s: Vec<String> = v.iter().map(|e| e.to_string()).collect();
        s.sort();
        s
    };
    assert_eq!(got.1.len(), want.1.len());
    assert!(sorted(&got.1) == sorted(&want.1), "events differ");
}

/// The Lambda handler fed by an SQS event source: the notifications are routed as `serve` routes
/// them; those whose objects are in a checkpoint by the end of the pass (and S3's test message)
/// succeed, the rest are batch item failures for the event source mapping to deliver again: a
/// message that is not a notification, and one for a stream another invocation owns.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_lambda_handler_takes_sqs_batches_and_fails_only_what_it_did_not_record() {
    use super::lease::Leases;
    let mut spec = small_example();
    spec.hours = 4;
    let world = World::default();
    let keys = world.load_at(&spec, "s3://cap/capture").await;
    let mut other = spec.clone();
    other.variant = "Shadow-1".into();
    let other_keys = world.load_at(&other, "s3://cap/capture").await;
    let clock = ManualClock::new(spec.start + Duration::from_mins(40));
    world.store("s3://cap/capture").land_by(&clock);
    let mut cfg = config_with(&spec, "5m", "");
    cfg.monitors[0].capture = Some("s3://cap/capture/".into());
    let bus = MemoryBus::default();
    // Another instance holds Shadow-1.
    let held = Leases::new("other".into(), Duration::from_mins(10));
    let shadow = StreamId::new(&spec.endpoint, "Shadow-1");
    assert_eq!(held.claim(&world.store("state"), &shadow, clock.now(), true).await.unwrap(), lease::Claim::Owned);
    let mut s = service(&world, &cfg, &clock, &bus).await;
    s.set_workers(Leases::new("lambda".into(), Duration::from_mins(10)));
    let landed = |ks: &[(Timestamp, String)]| {
        ks.iter()
            .filter(|(_, k)| landed_at(k).is_some_and(|t| t <= clock.now()))
            .map(|(_, k)| k.clone())
            .collect::<Vec<_>>()
    };
    let record = |id: &str, body: String| {
        serde_json::json!({"messageId": id, "receiptHandle": format!("rh-{id}"), "body": body, "eventSource": "aws:sqs",
            "attributes": {"SentTimestamp": "1772323200000"}})
    };
    let mine = landed(&keys);
    let payload = serde_json::json!({"Records": [
        record("1", s3_notification(&mine[0])),
        record("2", s3_notification(&mine[2])),
        record("3", r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#.into()),
        record("4", "not json".into()),
        record("5", s3_notification(&landed(&other_keys)[0])),
    ]});
    let summary = crate::lambda::invoke(&mut s, clock.now() + Duration::from_mins(10), &payload).await.unwrap();
    let failed: Vec<&str> = summary.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["4", "5"]);
    let ours = summary.streams.iter().find(|r| r.stream.ends_with("/AllTraffic")).unwrap();
    assert_eq!(ours.objects, mine.len() as u64);
    assert!(summary.streams.iter().all(|r| !r.stream.ends_with("/Shadow-1")), "another instance's stream");
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["batchItemFailures"], serde_json::json!([{"itemIdentifier": "4"}, {"itemIdentifier": "5"}]));
    // The pass gave its streams up: another instance may take AllTraffic at once.
    let next = Leases::new("next".into(), Duration::from_mins(10));
    let id = StreamId::new(&spec.endpoint, &spec.variant);
    assert_eq!(next.claim(&world.store("state"), &id, clock.now(), true).await.unwrap(), lease::Claim::Owned);
}

/// 1, 2 and 4 workers on six streams, the first worker killed at hour 30 and a new one started
/// at once (it waits for the dead one's leases to expire): the same reports and events as one
/// worker that never stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn one_two_or_four_workers_with_a_kill_give_one_workers_answer() {
    use super::lease::Leases;
    let mut spec = small_example();
    spec.hours = 72;
    let variants = ["AllTraffic", "Shadow-1", "Shadow-2", "Shadow-3", "Shadow-4", "Shadow-5"];
    let cfg = config(&spec, "5m");
    let polls = 76;
    let run = |workers: usize| {
        let (spec, cfg) = (spec.clone(), cfg.clone());
        async move {
            let world = World::default();
            for v in variants {
                let mut s = spec.clone();
                s.variant = v.into();
                world.load(&s).await;
            }
            let clock = ManualClock::new(spec.start);
            world.store("capture").land_by(&clock);
            let bus = MemoryBus::default();
            let start = |name: String| {
                let (world, cfg, clock, bus) = (world.clone(), cfg.clone(), clock.clone(), bus.clone());
                async move {
                    let mut s = service(&world, &cfg, &clock, &bus).await;
                    if workers > 0 {
                        s.set_workers(Leases::new(name, Duration::from_mins(90)));
                    }
                    s
                }
            };
            let mut running = Vec::new();
            for i in 0..workers.max(1) {
                running.push(start(format!("w{i}")).await);
            }
            for h in 1..=polls {
                clock.set(spec.start + hours(h) + Duration::from_mins(6));
                if workers > 0 && h == 30 {
                    running.remove(0);
                    running.push(start("replacement".into()).await);
                }
                for w in &mut running {
                    let (_, failed) = w.poll(true).await;
                    assert_eq!(failed, 0);
                }
            }
            let (reports, mut events) = outputs(&world, &bus);
            let mut sorted: Vec<String> = events.drain(..).map(|e| e.to_string()).collect();
            sorted.sort();
            (reports, sorted)
        }
    };
    // 0: one service without [workers], never stopped.
    let want = run(0).await;
    assert!(!want.1.is_empty());
    for n in [1, 2, 4] {
        let got = run(n).await;
        assert_eq!(got.0.len(), want.0.len(), "{n} workers");
        for (k, v) in &want.0 {
            assert!(got.0.get(k) == Some(v), "{n} workers: {k} differs");
        }
        assert!(got.1 == want.1, "{n} workers: events differ ({} vs {})", got.1.len(), want.1.len());
    }
}
