//! Integration tests against a local AWS emulator (moto server, started by `./scripts/test`,
//! which sets `MOTO_ENDPOINT`). Without that variable every test here skips with a
//! message, so a plain `cargo test` stays green. Every test uses its own bucket, bus, queue and
//! endpoint names, so they run in parallel on one server.
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::Region;
use aws_sdk_s3::config::Credentials;
use aws_sdk_sagemaker::types as sm;
use driftwatch::capture::layout::StreamId;
use driftwatch::checkpoint::CheckpointStore;
use driftwatch::config::Config;
use driftwatch::discovery::{BaselineUris, Discovery, DiscoveryError, SageMakerDiscovery, StaticDiscovery};
use driftwatch::publish::bus::{publish, BusEntry, BusError, EntryOutcome, EventBus, OutboxEntry};
use driftwatch::publish::eventbridge::EventBridgeBus;
use driftwatch::publish::events::EventSettings;
use driftwatch::serve::{Clock as _, ManualClock, Service};
use driftwatch::store::s3::S3Store;
use driftwatch::store::{AnyStore, Location, ObjectInfo, ObjectStore, StoreError};
use driftwatch::time::Timestamp;
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const ENV: &str = "MOTO_ENDPOINT";

/// The emulator endpoint, or `None` after saying why the test is skipped.
fn emulator() -> Option<String> {
    match std::env::var(ENV) {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            driftwatch::testing::skip(&format!("{ENV} is not set (./scripts/test starts a moto server and sets it)"));
            None
        }
    }
}

macro_rules! emulator_or_skip {
    () => {
        match emulator() {
            Some(e) => e,
            None => return,
        }
    };
}

/// A name no other test (or earlier run against the same server) uses: lowercase, short.
fn unique(base: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("{base}-{:x}{n}", (nanos ^ (std::process::id() as u64) << 20) & 0xff_ffff)
}

struct Aws {
    s3: aws_sdk_s3::Client,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    sagemaker: aws_sdk_sagemaker::Client,
}

/// Clients set up exactly as the service sets them up, pointed at the emulator.
async fn aws(endpoint: &str) -> Aws {
    let conf = driftwatch::aws::loader()
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await;
    Aws {
        s3: driftwatch::aws::s3(&conf),
        events: driftwatch::aws::eventbridge(&conf),
        sqs: aws_sdk_sqs::Client::new(&conf),
        sagemaker: driftwatch::aws::sagemaker(&conf),
    }
}

impl Aws {
    async fn bucket(&self, base: &str) -> String {
        let name = unique(base);
        self.s3.create_bucket().bucket(&name).send().await.unwrap();
        name
    }

    /// A bus, a queue, and a rule sending the bus's driftwatch events to the queue.
    async fn bus_to_queue(&self, base: &str) -> (String, String) {
        let bus = unique(base);
        let queue = self.create_bus_to_queue(&bus).await;
        (bus, queue)
    }

    /// Creates `bus`, a queue, and a rule sending the bus's driftwatch events to the queue;
    /// returns the queue's URL.
    async fn create_bus_to_queue(&self, bus: &str) -> String {
        self.create_bus_with_rule(bus, json!({"source": ["driftwatch"]})).await
    }

    /// A bus whose one rule, with `pattern`, delivers to a new queue; returns the queue's URL.
    /// A new queue named after `base`: its URL and ARN.
    async fn queue(&self, base: &str) -> (String, String) {
        let queue_url = self.sqs.create_queue().queue_name(unique(base)).send().await.unwrap().queue_url.unwrap();
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        (queue_url, arn)
    }

    async fn create_bus_with_rule(&self, bus: &str, pattern: Value) -> String {
        self.events.create_event_bus().name(bus).send().await.unwrap();
        let (queue_url, arn) = self.queue("queue").await;
        let rule = unique("drift");
        self.events.put_rule().name(&rule).event_bus_name(bus).event_pattern(pattern.to_string()).send().await.unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(arn).build().unwrap();
        self.events.put_targets().rule(&rule).event_bus_name(bus).targets(target).send().await.unwrap();
        queue_url
    }

    /// [`Aws::upload_example`], and the example's model-quality baseline under
    /// `s3://bucket/quality/` and its ground truth (of the same `days`) under
    /// `s3://bucket/ground-truth/{endpoint}/`.
    async fn upload_labelled_example(&self, bucket: &str, endpoint: &str, days: Option<u32>) -> Vec<PathBuf> {
        let files = self.upload_example_days(bucket, endpoint, days).await;
        let qb = common::root().join("baselines/loan-scoring-quality");
        for f in ["statistics.json", "constraints.json", "calibration.json"] {
            self.put_file(bucket, &format!("quality/{f}"), &qb.join(f)).await;
        }
        let gt = ground_truth_dir();
        for rel in example_files(&gt, days) {
            self.put_file(bucket, &format!("ground-truth/{endpoint}/{}", rel.display()), &gt.join(rel)).await;
        }
        files
    }

    /// Uploads the bundled example capture under `s3://bucket/datacapture/{endpoint}/` and its
    /// baseline under `s3://bucket/baselines/loan/`; returns the capture files relative to the
    /// variant folder.
    async fn upload_example(&self, bucket: &str, endpoint: &str) -> Vec<PathBuf> {
        self.upload_example_days(bucket, endpoint, None).await
    }

    /// [`Aws::upload_example`] of the example's first `days` (all of it for `None`).
    async fn upload_example_days(&self, bucket: &str, endpoint: &str, days: Option<u32>) -> Vec<PathBuf> {
        let example = example_dir();
        let files = example_files(&example, days);
        let started = Instant::now();
        for chunk in files.chunks(32) {
            let puts = chunk.iter().map(|rel| {
                let key = format!("datacapture/{endpoint}/AllTraffic/{}", rel.display());
                let example = &example;
                async move { self.put_file(bucket, &key, &example.join(rel)).await }
            });
            futures_util::future::join_all(puts).await;
        }
        eprintln!("uploaded {} capture objects in {:.1} s", files.len(), started.elapsed().as_secs_f64());
        for f in ["statistics.json", "constraints.json"] {
            self.put_file(bucket, &format!("baselines/loan/{f}"), &baseline_dir().join(f)).await;
        }
        files
    }

    /// Uploads the example's capture objects (as [`Aws::upload_example`], baseline included) that
    /// have landed by `through`: each holds the ten minutes from the minute in its name, is
    /// written at their end and delivered a minute later. `done` keeps what was uploaded.
    async fn upload_landed(&self, bucket: &str, endpoint: &str, through: Timestamp, done: &mut BTreeSet<PathBuf>) {
        let example = example_dir();
        for f in ["statistics.json", "constraints.json"] {
            self.put_file(bucket, &format!("baselines/loan/{f}"), &baseline_dir().join(f)).await;
        }
        for rel in example_files(&example, None) {
            let p: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            let hour = at(&format!("{}-{}-{}T{}:00:00Z", p[0], p[1], p[2], p[3]));
            let minute: i64 = p[4][..2].parse().unwrap();
            let landed = hour + driftwatch::time::Duration::from_mins(minute + 11);
            if landed <= through && done.insert(rel.clone()) {
                self.put_file(
                    bucket,
                    &format!("datacapture/{endpoint}/AllTraffic/{}", rel.display()),
                    &example.join(&rel),
                )
                .await;
            }
        }
    }

    /// Every message in the queue (deleted as read), bodies parsed.
    async fn drain(&self, queue_url: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let msgs = got.messages.unwrap_or_default();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn put_file(&self, bucket: &str, key: &str, path: &Path) {
        let body = std::fs::read(path).unwrap();
        self.s3.put_object().bucket(bucket).key(key).body(body.into()).send().await.unwrap();
    }

    /// A model, an endpoint config (with Data Capture to `capture` when given) and an endpoint.
    async fn endpoint(&self, name: &str, capture: Option<&str>) {
        let model = unique("model");
        self.sagemaker
            .create_model()
            .model_name(&model)
            .execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/sm"))
            .primary_container(
                sm::ContainerDefinition::builder().image("123.dkr.ecr.us-east-1.amazonaws.com/m:1").build(),
            )
            .send()
            .await
            .unwrap();
        let variant = sm::ProductionVariant::builder()
            .variant_name("AllTraffic")
            .model_name(&model)
            .initial_instance_count(1)
            .instance_type(sm::ProductionVariantInstanceType::MlM5Large)
            .build();
        let mut cfg = self
            .sagemaker
            .create_endpoint_config()
            .endpoint_config_name(format!("{name}-cfg"))
            .production_variants(variant);
        if let Some(uri) = capture {
            cfg = cfg.data_capture_config(
                sm::DataCaptureConfig::builder()
                    .enable_capture(true)
                    .initial_sampling_percentage(100)
                    .destination_s3_uri(uri)
                    .capture_options(sm::CaptureOption::builder().capture_mode(sm::CaptureMode::Input).build())
                    .capture_options(sm::CaptureOption::builder().capture_mode(sm::CaptureMode::Output).build())
                    .build(),
            );
        }
        cfg.send().await.unwrap();
        self.sagemaker
            .create_endpoint()
            .endpoint_name(name)
            .endpoint_config_name(format!("{name}-cfg"))
            .send()
            .await
            .unwrap();
    }

    /// A data-quality schedule for `endpoint`: the baseline embedded in the schedule, or (with
    /// `via_job_definition`) in a job definition the schedule names.
    /// Creates a data-quality monitoring schedule of `endpoint` with `baseline`; returns its name.
    async fn schedule(&self, endpoint: &str, baseline: &BaselineUris, via_job_definition: bool) -> String {
        let role = format!("arn:aws:iam::{ACCOUNT}:role/monitor");
        let stats = sm::MonitoringStatisticsResource::builder().s3_uri(&baseline.statistics).build();
        let cons = sm::MonitoringConstraintsResource::builder().s3_uri(&baseline.constraints).build();
        let input = sm::EndpointInput::builder().endpoint_name(endpoint).local_path("/opt/ml/processing/input").build();
        let output = sm::MonitoringOutputConfig::builder()
            .monitoring_outputs(
                sm::MonitoringOutput::builder()
                    .s3_output(
                        sm::MonitoringS3Output::builder()
                            .s3_uri("s3://out/x")
                            .local_path("/opt/ml/processing/output")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let cluster = sm::MonitoringClusterConfig::builder()
            .instance_count(1)
            .instance_type(sm::ProcessingInstanceType::MlM5Xlarge)
            .volume_size_in_gb(20)
            .build();
        let resources = sm::MonitoringResources::builder().cluster_config(cluster).build();
        let image = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer";
        let mut config = sm::MonitoringScheduleConfig::builder().monitoring_type(sm::MonitoringType::DataQuality);
        if via_job_definition {
            let job = unique("dq-job");
            self.sagemaker
                .create_data_quality_job_definition()
                .job_definition_name(&job)
                .data_quality_baseline_config(
                    sm::DataQualityBaselineConfig::builder()
                        .statistics_resource(stats)
                        .constraints_resource(cons)
                        .build(),
                )
                .data_quality_app_specification(sm::DataQualityAppSpecification::builder().image_uri(image).build())
                .data_quality_job_input(sm::DataQualityJobInput::builder().endpoint_input(input).build())
                .data_quality_job_output_config(output)
                .job_resources(resources)
                .role_arn(role)
                .send()
                .await
                .unwrap();
            config = config.monitoring_job_definition_name(job);
        } else {
            let definition = sm::MonitoringJobDefinition::builder()
                .baseline_config(
                    sm::MonitoringBaselineConfig::builder()
                        .statistics_resource(stats)
                        .constraints_resource(cons)
                        .build(),
                )
                .monitoring_inputs(sm::MonitoringInput::builder().endpoint_input(input).build())
                .monitoring_output_config(output)
                .monitoring_resources(resources)
                .monitoring_app_specification(sm::MonitoringAppSpecification::builder().image_uri(image).build())
                .role_arn(role)
                .build();
            config = config.monitoring_job_definition(definition);
        }
        let name = unique("dq");
        self.sagemaker
            .create_monitoring_schedule()
            .monitoring_schedule_name(&name)
            .monitoring_schedule_config(config.build())
            .send()
            .await
            .unwrap();
        name
    }
}

#[tokio::test]
async fn s3_store_lists_in_key_order_across_pages_and_reads_back() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("store").await;
    let store = S3Store::new(aws.s3.clone(), &bucket, "capture/");
    // 1 105 objects: ListObjectsV2 pages hold 1 000, so listing must follow continuation tokens.
    let keys: Vec<String> =
        (0..1105).map(|i| format!("ep/AllTraffic/2026/03/01/{:02}/{i:05}.jsonl", i / 100)).collect();
    for chunk in keys.chunks(64) {
        futures_util::future::join_all(chunk.iter().map(|k| store.put(k, k.as_bytes().to_vec())))
            .await
            .into_iter()
            .for_each(|r| r.unwrap());
    }
    store.put("other/x.jsonl", b"x".to_vec()).await.unwrap();
    aws.s3.put_object().bucket(&bucket).key("outside.jsonl").body(b"y".to_vec().into()).send().await.unwrap();

    let all = store.list("ep/", None).await.unwrap();
    assert_eq!(
        all.iter().map(|o| o.key.clone()).collect::<Vec<_>>(),
        keys,
        "every key, in order, relative to the store"
    );
    assert_eq!(all[7], ObjectInfo::new(keys[7].clone(), keys[7].len() as u64));
    // After a folder: exactly the keys that sort after it.
    let after = store.list("ep/", Some("ep/AllTraffic/2026/03/01/10")).await.unwrap();
    assert_eq!(after.len(), 105);
    assert_eq!(after[0].key, "ep/AllTraffic/2026/03/01/10/01000.jsonl");
    assert!(store.list("ep/", Some("ep/zzz")).await.unwrap().is_empty());

    // Folders with one delimited listing (how the service finds variants).
    assert_eq!(store.folders("").await.unwrap(), vec!["ep", "other"]);
    assert_eq!(store.folders("ep/AllTraffic/2026/03/01/").await.unwrap().len(), 12);

    assert_eq!(store.get(&keys[3]).await.unwrap().unwrap(), keys[3].as_bytes());
    assert_eq!(store.get("ep/missing.jsonl").await.unwrap(), None, "a missing key is None, not an error");
    assert_eq!(store.uri("a/b"), format!("s3://{bucket}/capture/a/b"));

    // A missing bucket is an error that names it.
    let gone = S3Store::new(aws.s3.clone(), unique("no-such-bucket"), "");
    let err = gone.list("", None).await.unwrap_err().to_string();
    assert!(err.contains("no-such-bucket") && err.contains("NoSuchBucket"), "{err}");
}

#[tokio::test]
async fn discovery_finds_capture_and_baselines_through_sagemaker() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let d = SageMakerDiscovery::new(aws.sagemaker.clone());
    let (with_capture, without_capture, via_job, no_schedule) =
        (unique("ep-a"), unique("ep-b"), unique("ep-c"), unique("ep-d"));
    aws.endpoint(&with_capture, Some("s3://bucket/datacapture")).await;
    aws.endpoint(&without_capture, None).await;
    aws.endpoint(&via_job, Some("s3://bucket/dc2")).await;
    aws.endpoint(&no_schedule, Some("s3://bucket/dc3")).await;
    let embedded = BaselineUris {
        statistics: "s3://b/a/statistics.json".into(),
        constraints: "s3://b/a/constraints.json".into(),
        schedule: None,
    };
    let referenced = BaselineUris {
        statistics: "s3://b/c/statistics.json".into(),
        constraints: "s3://b/c/constraints.json".into(),
        schedule: None,
    };
    let embedded_schedule = aws.schedule(&with_capture, &embedded, false).await;
    let referenced_schedule = aws.schedule(&via_job, &referenced, true).await;
    // The schedule's name comes back with the baseline: the MonitoringSchedule dimension of
    // the CloudWatch metrics that replace its own.
    let embedded = BaselineUris { schedule: Some(embedded_schedule), ..embedded };
    let referenced = BaselineUris { schedule: Some(referenced_schedule), ..referenced };

    assert_eq!(d.capture_destination(&with_capture).await.unwrap(), "s3://bucket/datacapture");
    assert_eq!(
        d.capture_destination(&without_capture).await,
        Err(DiscoveryError::NoCapture { endpoint: without_capture.clone() })
    );
    let missing = unique("ep-missing");
    assert_eq!(d.capture_destination(&missing).await, Err(DiscoveryError::NoEndpoint { endpoint: missing.clone() }));

    assert_eq!(d.baseline(&with_capture).await.unwrap(), embedded);
    assert_eq!(d.baseline(&via_job).await.unwrap(), referenced, "through DescribeDataQualityJobDefinition");
    assert_eq!(d.baseline(&no_schedule).await, Err(DiscoveryError::NoBaseline { endpoint: no_schedule.clone() }));
}

fn entry(detail: &str) -> BusEntry {
    BusEntry {
        source: "driftwatch".into(),
        detail_type: "Sudden Data Shift Detected".into(),
        detail: detail.into(),
        resources: vec![format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep")],
    }
}

#[tokio::test]
async fn events_reach_a_rule_target_and_failures_are_per_entry() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let (bus, queue) = aws.bus_to_queue("events").await;
    // The bus given as an ARN, as [events] bus may be.
    let eb = EventBridgeBus::new(aws.events.clone(), format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"));

    // One good entry next to a malformed one: the good one is delivered, the bad one refused.
    let outcomes = eb.put_events(&[entry(r#"{"episodeId":"e1"}"#), entry("{not json")]).await.unwrap();
    assert!(matches!(&outcomes[0], EntryOutcome::Sent { event_id } if !event_id.is_empty()), "{outcomes:?}");
    assert!(matches!(&outcomes[1], EntryOutcome::Failed { code, .. } if code == "MalformedDetail"), "{outcomes:?}");
    let got = aws.drain(&queue).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["source"], "driftwatch");
    assert_eq!(got[0]["detail-type"], "Sudden Data Shift Detected");
    assert_eq!(got[0]["detail"], json!({"episodeId": "e1"}));
    assert_eq!(got[0]["resources"], json!([format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep")]));

    // Through the outbox: 23 events go in three batches; the refused one stays, counted.
    let mut outbox: Vec<OutboxEntry> = (0..23)
        .map(|i| OutboxEntry {
            id: format!("id{i}"),
            entry: entry(&json!({"episodeId": format!("e{i}")}).to_string()),
            attempts: 0,
            last_error: None,
        })
        .collect();
    outbox[5].entry.detail = "[".into();
    let out = publish(&eb, outbox, 2, Duration::from_millis(10)).await;
    assert_eq!(out.sent.len(), 22);
    assert_eq!(out.remaining.len(), 1);
    assert_eq!((out.remaining[0].id.as_str(), out.remaining[0].attempts), ("id5", 1));
    assert!(out.remaining[0].last_error.as_deref().unwrap_or("").contains("MalformedDetail"));
    let got = aws.drain(&queue).await;
    assert_eq!(got.len(), 22);
    let mut ids: Vec<String> = got.iter().map(|e| e["detail"]["episodeId"].as_str().unwrap().to_owned()).collect();
    ids.sort_by_key(|s| s[1..].parse::<u32>().unwrap());
    assert_eq!(ids, (0..23).filter(|i| *i != 5).map(|i| format!("e{i}")).collect::<Vec<_>>());

    // A bus that does not exist is a call-level NotFound (the service keeps its outbox).
    let none = EventBridgeBus::new(aws.events.clone(), unique("no-such-bus"));
    assert!(matches!(none.put_events(&[entry("{}")]).await, Err(BusError::NotFound(_))));
}

fn example_dir() -> PathBuf {
    common::root().join("examples/capture/loan-scoring-prod/AllTraffic")
}

fn baseline_dir() -> PathBuf {
    common::root().join("baselines/loan-scoring")
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// Writes `dir/serve.toml` for the real binary: state and reports below `s3://bucket/driftwatch/`,
/// events to `bus`, `/healthz` on `port` (`server` adds keys to `[server]`), and a monitor of `ep`
/// judging model quality against the labels of [`Aws::upload_labelled_example`], polled every
/// second from the earliest data (`monitor` adds keys to it). Returns the file's path.
fn agent_config(dir: &Path, bucket: &str, bus: &str, ep: &str, port: u16, server: &str, monitor: &str) -> PathBuf {
    let config = dir.join("serve.toml");
    let text = format!(
        r#"[state]
uri = "s3://{bucket}/driftwatch/state/"
[reports]
uri = "s3://{bucket}/driftwatch/reports/"
[events]
bus = "arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
[server]
listen = "127.0.0.1:{port}"
{server}[[monitor]]
endpoint = "{ep}"
start = "earliest"
poll_interval = "1s"
quality_baseline = "s3://{bucket}/quality/"
ground_truth = "s3://{bucket}/ground-truth/{ep}/"
probability_attribute = "0"
{monitor}"#
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// The service's config for the example uploaded to `bucket` for endpoint `ep`, events to `bus`;
/// `monitor` adds keys to its `[[monitor]]`.
fn s3_config(bucket: &str, bus: &str, ep: &str, monitor: &str) -> Config {
    let text = format!(
        r#"[state]
uri = "s3://{bucket}/state/"
[reports]
uri = "s3://{bucket}/reports/"
[events]
bus = "{bus}"
account = "{ACCOUNT}"
[[monitor]]
endpoint = "{ep}"
capture = "s3://{bucket}/datacapture/"
baseline = "s3://{bucket}/baselines/loan/"
start = "earliest"
settle = "10m"
{monitor}"#
    );
    Config::from_toml(&text, "test.toml", std::iter::empty()).unwrap()
}

/// The service on S3 with a clock the test moves and capture landing as it passes: it closes
/// windows on data time, counts an object that lands in a folder already closed as late, keeps events in its outbox while the
/// bus does not exist and delivers them once it does; and it measures how long one settled
/// folder takes from the poll to the event in the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_on_s3_counts_late_objects_and_holds_events_until_the_bus_exists() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("late").await;
    let ep = unique("loan");
    // The capture lands as the clock moves: windows close on data time.
    let mut landed = BTreeSet::new();
    aws.upload_landed(&bucket, &ep, at("2026-03-02T12:10:00Z"), &mut landed).await;
    let bus = unique("later");
    let cfg = s3_config(&bucket, &bus, &ep, "");
    let s3 = aws.s3.clone();
    let factory = Box::new(move |loc: &Location| -> Result<AnyStore, StoreError> { AnyStore::open(loc, Some(&s3)) });
    let clock = ManualClock::new(at("2026-03-02T12:10:00Z"));
    let settings = EventSettings { account: ACCOUNT.into(), region: REGION.into(), ..EventSettings::default() };
    let eb = EventBridgeBus::new(aws.events.clone(), &bus);
    let mut service =
        Service::start(&cfg, &StaticDiscovery::default(), factory, Some(eb), Arc::new(clock.clone()), settings)
            .await
            .unwrap();
    let id = StreamId::new(&ep, "AllTraffic");

    // 12:10 on day 2: folders through 11:00 are settled; nothing has happened yet.
    let (r, failed) = service.poll(true).await;
    assert_eq!((failed, r[&id].folders, r[&id].events_queued), (0, 36, 0));
    // 17:10: the unit change at 16:00 is decided; the bus does not exist, the event waits.
    clock.set(at("2026-03-02T17:10:00Z"));
    aws.upload_landed(&bucket, &ep, clock.now(), &mut landed).await;
    let (r, failed) = service.poll(true).await;
    assert_eq!((failed, r[&id].folders, r[&id].events_queued, r[&id].events_sent), (0, 5, 1, 0));
    assert_eq!(service.outbox_len(), 1);

    // The bus appears, and an object lands in folder 16, which was read already.
    let queue = aws.create_bus_to_queue(&bus).await;
    let folder = format!("datacapture/{ep}/AllTraffic/2026/03/02/16/");
    let listed = aws.s3.list_objects_v2().bucket(&bucket).prefix(&folder).send().await.unwrap();
    let first = listed.contents()[0].key().unwrap().to_owned();
    let body = aws
        .s3
        .get_object()
        .bucket(&bucket)
        .key(&first)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let records = body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    aws.s3
        .put_object()
        .bucket(&bucket)
        .key(first.replace(".jsonl", "-late.jsonl"))
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();

    // 00:05: the late object, folders 17 to 22, and the waiting event delivered.
    clock.set(at("2026-03-03T00:05:00Z"));
    aws.upload_landed(&bucket, &ep, clock.now(), &mut landed).await;
    let (r, failed) = service.poll(true).await;
    assert_eq!((failed, r[&id].folders, r[&id].events_sent), (0, 6, 1));
    assert_eq!(service.outbox_len(), 0);
    let got = aws.drain(&queue).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["detail-type"], "Sudden Data Shift Detected");
    assert_eq!(got[0]["detail"]["onset"], "2026-03-02T16:00:00Z");
    let reports = S3Store::new(aws.s3.clone(), &bucket, "reports/");
    let drift: Value = serde_json::from_slice(
        &reports.get(&format!("{ep}/AllTraffic/2026/03/02/17/drift.json")).await.unwrap().unwrap(),
    )
    .unwrap();
    assert_eq!(drift["skipped"]["late_record"], records, "{}", drift["skipped"]);

    // 00:10: window 23 is `settle` behind; closing it resolves the episode. Latency from the
    // poll that finds the folder to the event in the queue:
    clock.set(at("2026-03-03T00:10:00Z"));
    aws.upload_landed(&bucket, &ep, clock.now(), &mut landed).await;
    let t0 = Instant::now();
    let (r, _) = service.poll(true).await;
    let polled = t0.elapsed();
    let first = aws.sqs.receive_message().queue_url(&queue).wait_time_seconds(5).send().await.unwrap();
    let delivered = t0.elapsed();
    let body: Value = serde_json::from_str(first.messages()[0].body().unwrap()).unwrap();
    assert_eq!((r[&id].folders, r[&id].events_sent), (1, 1));
    assert_eq!(body["detail-type"], "Data Drift Resolved");
    eprintln!(
        "window 23 closed by settle: poll {:.0} ms; the event in the queue {:.0} ms after the poll began",
        polled.as_secs_f64() * 1e3,
        delivered.as_secs_f64() * 1e3
    );
}

/// Model quality in the service on S3, with a clock the test moves and labels uploaded as they
/// would be collected (folders by collection hour, each uploaded once its hour has passed):
/// windows wait in the checkpoint for their labels, across a restart, and once the labels of
/// the worse model version's windows are in and their delay has passed, `Model Quality
/// Degraded` reaches a queue through a rule with the pattern of `deploy/rules.yaml`'s
/// `QualityInvestigateRule`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_on_s3_judges_model_quality_as_labels_arrive_across_a_restart() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("labels").await;
    let ep = unique("loan");
    aws.upload_example(&bucket, &ep).await;
    let qb = common::root().join("baselines/loan-scoring-quality");
    for f in ["statistics.json", "constraints.json", "calibration.json"] {
        aws.put_file(&bucket, &format!("quality/{f}"), &qb.join(f)).await;
    }
    let bus = unique("quality");
    let queue = aws
        .create_bus_with_rule(
            &bus,
            json!({
                "source": ["driftwatch"],
                "detail-type": ["Model Quality Degraded"],
                "detail": {"monitor": ["model_quality"], "kind": ["sudden"], "action": ["investigate"]}
            }),
        )
        .await;
    let quality = format!(
        "quality_baseline = \"s3://{bucket}/quality/\"\nground_truth = \"s3://{bucket}/ground-truth/\"\nprobability_attribute = \"0\"\n"
    );
    let cfg = s3_config(&bucket, &bus, &ep, &quality);
    let gt = common::root().join("examples/ground-truth");
    let label_files = files_below(&gt);
    let mut uploaded = 0;
    // Uploads the ground-truth folders whose hour ended before `now` (as a labelling job would).
    let upload_until = |now: Timestamp, uploaded: usize| {
        let (aws, bucket, gt, label_files) = (&aws, &bucket, &gt, &label_files);
        async move {
            let mut n = uploaded;
            while let Some(rel) = label_files.get(n) {
                let parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                let hour = driftwatch::capture::layout::parse_hour(&refs[..4]).unwrap();
                if hour + driftwatch::time::Duration::from_hours(1) > now {
                    break;
                }
                aws.put_file(bucket, &format!("ground-truth/{}", rel.display()), &gt.join(rel)).await;
                n += 1;
            }
            n
        }
    };
    let discovery = StaticDiscovery::default();
    let start_service = |clock: &ManualClock| {
        let s3 = aws.s3.clone();
        let factory =
            Box::new(move |loc: &Location| -> Result<AnyStore, StoreError> { AnyStore::open(loc, Some(&s3)) });
        let settings = EventSettings { account: ACCOUNT.into(), region: REGION.into(), ..EventSettings::default() };
        let eb = EventBridgeBus::new(aws.events.clone(), &bus);
        Service::start(&cfg, &discovery, factory, Some(eb), Arc::new(clock.clone()), settings)
    };
    let id = StreamId::new(&ep, "AllTraffic");
    let checkpoints = CheckpointStore::new(S3Store::new(aws.s3.clone(), &bucket, "state/"));

    // Day 4, 06:10: the inverted model has served for six hours; two hours of its labels are in.
    let clock = ManualClock::new(at("2026-03-04T06:10:00Z"));
    uploaded = upload_until(clock.now(), uploaded).await;
    let mut service = start_service(&clock).await.unwrap();
    let (r, failed) = service.poll(true).await;
    assert_eq!((failed, r[&id].label_files as usize), (0, uploaded));
    let cp = checkpoints.load(&id).await.unwrap().unwrap();
    let held = cp.quality.as_ref().unwrap().state.ledger.predictions_held();
    assert!(held > 0, "windows wait for their labels in the checkpoint");
    assert!(aws.drain(&queue).await.is_empty());

    // A restart; day 5, 01:10: a day of labels more, the turned windows not judged yet (their
    // delay ends at 01:00 and 02:00 for the first two).
    drop(service);
    clock.set(at("2026-03-05T01:10:00Z"));
    uploaded = upload_until(clock.now(), uploaded).await;
    let mut service = start_service(&clock).await.unwrap();
    let (r, failed) = service.poll(true).await;
    assert_eq!(failed, 0);
    assert!(r[&id].label_files > 0);
    assert!(aws.drain(&queue).await.is_empty(), "one degraded window is not an episode");

    // 02:10: the second turned window is judged; the episode opens and goes out through the rule.
    clock.set(at("2026-03-05T02:10:00Z"));
    upload_until(clock.now(), uploaded).await;
    let t0 = Instant::now();
    let (r, failed) = service.poll(true).await;
    let polled = t0.elapsed();
    assert_eq!((failed, r[&id].events_sent), (0, 1));
    let got = aws.drain(&queue).await;
    let delivered = t0.elapsed();
    assert_eq!(got.len(), 1, "{got:?}");
    let e = &got[0];
    assert_eq!(e["detail-type"], "Model Quality Degraded");
    assert_eq!(e["source"], "driftwatch");
    assert_eq!(e["detail"]["monitor"], "model_quality");
    assert_eq!((e["detail"]["kind"].as_str(), e["detail"]["action"].as_str()), (Some("sudden"), Some("investigate")));
    assert_eq!(e["detail"]["onset"], "2026-03-04T00:00:00Z");
    assert_eq!(e["detail"]["judgedAt"], "2026-03-05T02:00:00Z");
    assert_eq!(e["detail"]["estimated"], false);
    let stats = e["detail"]["reports"]["statistics"].as_str().unwrap();
    assert_eq!(stats, format!("s3://{bucket}/reports/{ep}/AllTraffic/2026/03/04/01/model_quality/statistics.json"));
    let reports = S3Store::new(aws.s3.clone(), &bucket, "reports/");
    let labels: Value = serde_json::from_slice(
        &reports.get(&format!("{ep}/AllTraffic/2026/03/04/01/model_quality/labels.json")).await.unwrap().unwrap(),
    )
    .unwrap();
    assert_eq!(labels["judgedAt"], "2026-03-05T02:00:00Z");
    assert!(labels["labelledWhenJudged"].as_u64().unwrap() > 0, "{labels}");
    eprintln!(
        "the deciding window's labels in: poll {:.0} ms; Model Quality Degraded in the queue {:.0} ms after the poll began",
        polled.as_secs_f64() * 1e3,
        delivered.as_secs_f64() * 1e3
    );
}

/// A free loopback port (bound, then released for the child).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}

struct Agent {
    child: Child,
    log: PathBuf,
}

/// Starts `serve`: its log (standard error) is appended to `log`, its standard output (the
/// CloudWatch metric lines) to `log` with the extension `stdout`.
fn start_agent(endpoint: &str, config: &Path, log: &Path, cwd: &Path) -> Agent {
    let append = |p: &Path| std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["serve", "--config"])
        .arg(config)
        .current_dir(cwd)
        .envs(emulator_env(endpoint))
        .env("DRIFTWATCH_LOG", "info")
        .stdout(append(&log.with_extension("stdout")))
        .stderr(append(log))
        .spawn()
        .unwrap();
    Agent { child, log: log.to_owned() }
}

/// A test that fails leaves no worker running.
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Waits until `stream`'s checkpoint has its capture past `done_hour` and its outbox empty
    /// (every window closed, every event sent), failing after `limit` from `started` or when
    /// the agent exits. Returns the time from `started`.
    async fn wait_done(
        &mut self,
        checkpoints: &CheckpointStore<S3Store>,
        stream: &StreamId,
        done_hour: Timestamp,
        started: Instant,
        limit: Duration,
    ) -> Duration {
        loop {
            assert!(started.elapsed() < limit, "serve did not finish; log tail:\n{}", self.log_tail());
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("serve exited with {status}; log tail:\n{}", self.log_tail());
            }
            let cp = checkpoints.load(stream).await.unwrap();
            if cp.is_some_and(|c| c.cursor.next_hour.is_some_and(|h| h > done_hour) && c.outbox.is_empty()) {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Replays the example, copied under endpoint `ep` below `dir`, into `dir/replay`; returns that
/// folder and the events, [`comparable`].
fn replay(dir: &Path, ep: &str, files: &[PathBuf], extra: &[String]) -> (PathBuf, Vec<Value>) {
    let (example, local) = (example_dir(), dir.join("capture").join(ep).join("AllTraffic"));
    for rel in files {
        std::fs::create_dir_all(local.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(example.join(rel), local.join(rel)).unwrap();
    }
    let (out, events) = (dir.join("replay"), dir.join("events.jsonl"));
    let run = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["replay", "--capture"])
        .arg(dir.join("capture"))
        .arg("--baseline")
        .arg(baseline_dir())
        .arg("--output")
        .arg(&out)
        .arg("--events")
        .arg(&events)
        .args(extra)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let events = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| comparable(&serde_json::from_str(l).unwrap()))
        .collect();
    (out, events)
}

/// Drops `detail.reports` (report URIs differ between S3 and a local folder).
fn comparable(e: &Value) -> Value {
    let mut d = e["detail"].clone();
    d.as_object_mut().unwrap().remove("reports");
    json!({"detail-type": e["detail-type"], "detail": d})
}

/// The real binary against S3, SageMaker and EventBridge, killed with SIGKILL again and again
/// while it works through five days of capture and their labels (model quality against the
/// example's ground truth): its reports, model-quality files included, equal `replay`'s, and its
/// events, deduplicated on (episodeId, detail-type), equal replay's; a repeat is identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_repeatedly_reports_what_replay_reports() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("serve").await;
    let (bus, queue) = aws.bus_to_queue("serve").await;
    let ep = unique("loan");

    // The example capture under a unique endpoint name, in S3 and (for replay) in a folder;
    // its ground truth and model-quality baseline in S3.
    let files = aws.upload_labelled_example(&bucket, &ep, None).await;
    let tmp = tempfile::tempdir().unwrap();
    // Capture and baseline are found through SageMaker, as they would be in an account.
    aws.endpoint(&ep, Some(&format!("s3://{bucket}/datacapture"))).await;
    let uris = BaselineUris {
        statistics: format!("s3://{bucket}/baselines/loan/statistics.json"),
        constraints: format!("s3://{bucket}/baselines/loan/constraints.json"),
        schedule: None,
    };
    let schedule = aws.schedule(&ep, &uris, false).await;

    // A bias monitor too: its config and baseline in S3.
    common::write_bias_baseline(tmp.path(), &driftwatch_synth::example_spec());
    aws.put_file(&bucket, "bias/analysis_config.json", &tmp.path().join("analysis_config.json")).await;
    aws.put_file(&bucket, "bias/analysis.json", &tmp.path().join("bias-baseline/analysis.json")).await;
    let bias_keys =
        format!("bias_config = \"s3://{bucket}/bias/analysis_config.json\"\nbias_baseline = \"s3://{bucket}/bias/\"\n");

    let port = free_port();
    // Capture and baseline from SageMaker: the monitor names neither.
    let config = agent_config(tmp.path(), &bucket, &bus, &ep, port, "", &bias_keys);

    // Kill it at uneven moments while it works, then let it finish.
    let log = tmp.path().join("serve.log");
    let checkpoints = CheckpointStore::new(S3Store::new(aws.s3.clone(), &bucket, "driftwatch/state/"));
    let stream = StreamId::new(&ep, "AllTraffic");
    let done_hour = Timestamp::from_civil(2026, 3, 6, 0, 0, 0).unwrap();
    let started = Instant::now();
    // An empty working folder that must stay empty: with state and reports in S3 the service
    // writes no local file, so a read-only root file system is fine.
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let mut agent = start_agent(&endpoint, &config, &log, &cwd);
    let mut kills = 0;
    let mut resumed_at = Vec::new();
    let mut last_cursor = None;
    for pause_ms in [250u64, 450, 200, 350, 300, 400] {
        // Each start is killed at an uneven moment after it has checkpointed progress of its own
        // (a fixed pause from the start landed before the first checkpoint on a loaded machine).
        let waiting = Instant::now();
        loop {
            let at = checkpoints.load(&stream).await.unwrap().and_then(|c| c.cursor.next_hour);
            if at.is_some() && at != last_cursor {
                break;
            }
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "no progress after a start; log tail:\n{}",
                agent.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        std::thread::sleep(Duration::from_millis(pause_ms));
        agent.child.kill().unwrap();
        agent.child.wait().unwrap();
        kills += 1;
        let cps = CheckpointStore::new(S3Store::new(aws.s3.clone(), &bucket, "driftwatch/state/"));
        // Where the checkpoint says the capture and the labels are.
        let cp = cps.load(&stream).await.unwrap();
        let capture = cp.as_ref().and_then(|c| c.cursor.next_hour);
        last_cursor = capture;
        let labels = cp.as_ref().and_then(|c| c.quality.as_ref()).and_then(|q| q.labels.next_hour);
        resumed_at.push(match (capture, labels) {
            (None, None) => "start".to_owned(),
            (c, l) => format!(
                "capture {}, labels {}",
                c.map_or("start".into(), |t| t.to_string()),
                l.map_or("start".into(), |t| t.to_string())
            ),
        });
        agent = start_agent(&endpoint, &config, &log, &cwd);
    }
    let finished = agent.wait_done(&checkpoints, &stream, done_hour, started, Duration::from_secs(240)).await;
    eprintln!(
        "{kills} kills (resumed at {resumed_at:?}); all 120 hours done {:.1} s after the first start",
        finished.as_secs_f64()
    );
    assert!(resumed_at.iter().filter(|r| *r != "start").count() >= 3, "kills should land mid-work: {resumed_at:?}");

    // /healthz and /metrics answer and show no data.
    // (The last start may still be loading when the checkpoint says done.)
    let mut healthz = None;
    for _ in 0..100 {
        healthz = http_get(port, "/healthz").filter(|(status, _)| *status == 200);
        if healthz.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) =
        healthz.unwrap_or_else(|| panic!("no healthy /healthz on {port}; log tail:\n{}", agent.log_tail()));
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("income") && !body.contains("loan_amount"), "{body}");
    // The container's health check command (the image has no shell or curl).
    let check = |url: String| {
        Command::new(env!("CARGO_BIN_EXE_driftwatch")).args(["healthcheck", "--url", &url]).output().unwrap()
    };
    assert!(check(format!("http://127.0.0.1:{port}/healthz")).status.success());
    let refused = check(format!("http://127.0.0.1:{}/healthz", free_port()));
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stderr));
    let (status, metrics) = http_get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("driftwatch_"), "{metrics}");

    // A clean stop on SIGTERM.
    let ok = Command::new("kill").args(["-TERM", &agent.child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let status = agent.child.wait().unwrap();
    assert!(status.success(), "exit {status}; log tail:\n{}", agent.log_tail());
    assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 0, "serve wrote to its working folder");

    // The same data through replay.
    let emf = tmp.path().join("replay-emf.jsonl");
    let mut args = labelled_args();
    args.extend(["--emf".into(), emf.display().to_string(), "--monitoring-schedule".into(), schedule.clone()]);
    let local = |f: &str| tmp.path().join(f).display().to_string();
    args.extend([
        "--bias-config".into(),
        local("analysis_config.json"),
        "--bias-baseline".into(),
        local("bias-baseline"),
    ]);
    let (out, want) = replay(tmp.path(), &ep, &files, &args);
    assert_eq!(want.len(), 4, "the example's three data-drift events and Model Quality Degraded");
    assert_equals_replay(&aws, &bucket, &ep, &queue, &out, &want, 120).await;

    // The service's standard output (its CloudWatch log) holds replay's --emf lines, with the
    // MonitoringSchedule of the schedule the baseline was found through: each window at least
    // once (a window judged again after a kill prints its lines again), nothing else.
    let printed = std::fs::read_to_string(log.with_extension("stdout")).unwrap();
    let replayed = std::fs::read_to_string(&emf).unwrap();
    let printed_set: BTreeSet<&str> = printed.lines().collect();
    let replayed_set: BTreeSet<&str> = replayed.lines().collect();
    let in_namespace =
        |ns: &str| replayed_set.iter().filter(|l| l.contains(&format!("\"Namespace\":\"{ns}\""))).count();
    assert_eq!(
        (in_namespace("aws/sagemaker/Endpoints/data-metrics"), in_namespace("aws/sagemaker/Endpoints/model-metrics")),
        (120, 120),
        "a data-quality and a model-quality line a window"
    );
    // A bias line a window and facet value as the window closes, and one over its labelled
    // predictions when it is judged, but for a value without a defined metric in a quiet
    // night window (no row of it among the single-row requests).
    let bias_lines = in_namespace("aws/sagemaker/Endpoints/bias-metrics");
    // Lines over every prediction carry DPPL, DI or CDDPL; lines over labelled ones never do.
    let label_free = |l: &&&str| ["DPPL", "DI", "CDDPL"].iter().any(|m| l.contains(&format!("\"bias_metric_{m}\"")));
    let labelled = replayed_set.iter().filter(|l| l.contains("bias-metrics") && !label_free(l)).count();
    eprintln!("{bias_lines} bias lines, {labelled} of them over labelled predictions");
    assert!((300..=3 * 120).contains(&(bias_lines - labelled)), "{bias_lines} bias lines, {labelled} labelled");
    assert!((300..=3 * 120).contains(&labelled), "{bias_lines} bias lines, {labelled} labelled");
    assert!(replayed.contains(&format!("\"MonitoringSchedule\":\"{schedule}\"")));
    assert!(
        printed_set == replayed_set,
        "the service printed {} distinct lines, replay wrote {}",
        printed_set.len(),
        replayed_set.len()
    );
    eprintln!("{} EMF lines printed over {kills} kills for 120 windows", printed.lines().count());
}

/// The replay flags that judge the example's model quality against its bundled labels.
fn labelled_args() -> Vec<String> {
    labelled_args_from(&ground_truth_dir())
}

/// The replay flags that judge the example's model quality against the labels in `gt`.
fn labelled_args_from(gt: &Path) -> Vec<String> {
    let qb = common::root().join("baselines/loan-scoring-quality");
    ["--quality-baseline", qb.to_str().unwrap(), "--ground-truth", gt.to_str().unwrap(), "--probability-attribute", "0"]
        .map(str::to_owned)
        .to_vec()
}

/// The bundled example's ground truth.
fn ground_truth_dir() -> PathBuf {
    common::root().join("examples/ground-truth")
}

/// The files below `dir` (laid out `yyyy/mm/dd/HH/...`), of the example's first `days` only when
/// given (the example starts 2026-03-01).
fn example_files(dir: &Path, days: Option<u32>) -> Vec<PathBuf> {
    let mut files = files_below(dir);
    if let Some(days) = days {
        let kept: Vec<String> = (1..=days).map(|d| format!("2026/03/{d:02}/")).collect();
        files.retain(|f| kept.iter().any(|k| f.to_string_lossy().starts_with(k.as_str())));
    }
    files
}

/// The fault proxy of `tests/fault_proxy.py` in front of the emulator.
struct FaultProxy {
    child: Child,
    port: u16,
}

impl FaultProxy {
    /// Starts the proxy with `rate` of requests getting each kind of fault.
    fn start(upstream: &str, rate: f64) -> FaultProxy {
        let mut child = Command::new("python3")
            .arg(common::root().join("tests/fault_proxy.py"))
            .args(["--upstream", upstream, "--seed", "7", "--rate", &rate.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs tests/fault_proxy.py");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let port = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()).expect("the proxy's port");
        FaultProxy { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes the faults (`rate=1&kinds=throttle`) and returns the counts so far.
    fn set(&self, query: &str) -> Value {
        let (_, body) = http_get(self.port, &format!("/__faults?{query}")).expect("the proxy answers");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of a Prometheus counter summed over its label sets.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// The real binary against S3 and EventBridge through a proxy that throttles, drops, delays or
/// cuts short 10% of the requests each (40% in all): its reports, model-quality files and events
/// equal replay's, nothing lost or counted twice; retries are bounded and show in `/metrics`;
/// `/healthz` turns unhealthy while every request fails and healthy again after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_through_a_faulty_network_reports_what_replay_reports() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("faults").await;
    let (bus, queue) = aws.bus_to_queue("faults").await;
    let ep = unique("loan");
    // The example's first three days (its sudden shift and the shift's end): all five through
    // a faulty network take longer than a test should.
    let files = aws.upload_labelled_example(&bucket, &ep, Some(FAULT_DAYS)).await;
    let tmp = tempfile::tempdir().unwrap();
    let gt = tmp.path().join("ground-truth");
    for rel in example_files(&ground_truth_dir(), Some(FAULT_DAYS)) {
        std::fs::create_dir_all(gt.join(&rel).parent().unwrap()).unwrap();
        std::fs::copy(ground_truth_dir().join(&rel), gt.join(&rel)).unwrap();
    }
    let proxy = FaultProxy::start(&endpoint, 0.1);
    let port = free_port();
    let monitor = format!("capture = \"s3://{bucket}/datacapture/\"\nbaseline = \"s3://{bucket}/baselines/loan/\"\n");
    let config = agent_config(tmp.path(), &bucket, &bus, &ep, port, "unhealthy_after = \"8s\"\n", &monitor);
    let log = tmp.path().join("serve.log");
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let mut agent = start_agent(&proxy.url(), &config, &log, &cwd);
    let checkpoints = CheckpointStore::new(S3Store::new(aws.s3.clone(), &bucket, "driftwatch/state/"));
    let stream = StreamId::new(&ep, "AllTraffic");
    let done_hour = Timestamp::from_civil(2026, 3, 1 + FAULT_DAYS, 0, 0, 0).unwrap();
    let started = Instant::now();
    let finished = agent.wait_done(&checkpoints, &stream, done_hour, started, Duration::from_secs(600)).await;
    let faults = proxy.set("");
    let (_, metrics) = http_get(port, "/metrics").expect("/metrics answers");
    let (calls, attempts, failures, poll_failures) = (
        counter(&metrics, "driftwatch_aws_calls_total"),
        counter(&metrics, "driftwatch_aws_attempts_total"),
        counter(&metrics, "driftwatch_aws_failures_total"),
        counter(&metrics, "driftwatch_poll_failures_total"),
    );
    eprintln!(
        "faults injected {}; done {:.1} s after the start; {calls} AWS calls, {attempts} attempts ({:.2} a call), {failures} calls failed after their retries, {poll_failures} polls failed",
        faults["counts"],
        finished.as_secs_f64(),
        attempts / calls.max(1.0)
    );
    assert!(faults["counts"]["throttle"].as_u64().unwrap() > 10 && faults["counts"]["cut"].as_u64().unwrap() > 10);
    assert!(attempts > calls, "retries show in /metrics: {attempts} attempts for {calls} calls");
    assert!(attempts <= calls * 4.0, "at most four attempts a call: {attempts} for {calls}");

    // Every request fails: unhealthy once no poll has succeeded for 8 s; healthy again after.
    let health = |port: u16| http_get(port, "/healthz").map(|(status, _)| status);
    assert_eq!(health(port), Some(200));
    proxy.set("rate=1&kinds=throttle");
    let t0 = Instant::now();
    while health(port) == Some(200) {
        assert!(t0.elapsed() < Duration::from_secs(90), "still healthy with every request failing");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let unhealthy_after = t0.elapsed();
    proxy.set("rate=0");
    let t1 = Instant::now();
    while health(port) != Some(200) {
        assert!(t1.elapsed() < Duration::from_secs(90), "not healthy again; log tail:\n{}", agent.log_tail());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "/healthz: 503 {:.1} s after every request began failing, 200 again {:.1} s after they stopped",
        unhealthy_after.as_secs_f64(),
        t1.elapsed().as_secs_f64()
    );
    let ok = Command::new("kill").args(["-TERM", &agent.child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let status = agent.child.wait().unwrap();
    assert!(status.success(), "exit {status}; log tail:\n{}", agent.log_tail());

    let (out, want) = replay(tmp.path(), &ep, &files, &labelled_args_from(&gt));
    assert_eq!(want.len(), 2, "the first three days' data-drift events: {want:?}");
    assert_equals_replay(&aws, &bucket, &ep, &queue, &out, &want, 24 * FAULT_DAYS as usize).await;
}

/// The days of the example the fault test sends through the proxy.
const FAULT_DAYS: u32 = 3;

/// Checks what the service wrote for endpoint `ep` in `bucket` against replay's `out` folder and
/// events `want` (the example with its labels, `windows` hours of it): every report file byte
/// for byte (drift.json but the baseline's name, which is where it was read from), a metrics
/// object per window, and the events delivered through the rule to `queue`, deduplicated on
/// (episodeId, detail-type) with a repeat identical. Returns how many events were delivered.
async fn assert_equals_replay(
    aws: &Aws,
    bucket: &str,
    ep: &str,
    queue: &str,
    out: &Path,
    want: &[Value],
    windows: usize,
) -> usize {
    let reports = S3Store::new(aws.s3.clone(), bucket, "driftwatch/reports/");
    let listed = reports.list("", None).await.unwrap();
    let mut compared = 0;
    for o in &listed {
        let local = out.join(&o.key);
        if o.key.ends_with(".json") {
            let theirs = std::fs::read(&local).unwrap_or_else(|_| panic!("replay has no {}", o.key));
            let ours = reports.get(&o.key).await.unwrap().unwrap();
            if !o.key.ends_with("drift.json") {
                assert!(ours == theirs, "{} differs", o.key);
            } else {
                let strip = |b: &[u8]| {
                    let mut v: Value = serde_json::from_slice(b).unwrap();
                    v.as_object_mut().unwrap().remove("baseline");
                    v
                };
                assert_eq!(strip(&ours), strip(&theirs), "{}", o.key);
            }
            compared += 1;
        }
    }
    let theirs: Vec<String> = files_below(&out.join(ep))
        .into_iter()
        .map(|f| format!("{ep}/{}", f.display()))
        .filter(|k| k.ends_with(".json"))
        .collect();
    let missing: Vec<&String> = theirs.iter().filter(|k| !listed.iter().any(|o| &o.key == *k)).collect();
    assert!(missing.is_empty(), "the service did not write {missing:?}");
    assert_eq!(compared, theirs.len(), "the service wrote files replay did not");
    let drift = theirs.iter().filter(|k| k.ends_with("/drift.json")).count();
    assert_eq!(drift, windows, "a drift.json per window");
    let parquet = listed
        .iter()
        .filter(|o| o.key.starts_with(&format!("drift_metrics/endpoint={ep}/variant=AllTraffic/date=2026-03-0")))
        .count();
    assert_eq!(parquet, windows, "one metrics file per window");
    let quality_tables = listed
        .iter()
        .filter(|o| o.key.starts_with(&format!("model_quality_metrics/endpoint={ep}/variant=AllTraffic/")))
        .count();
    assert_eq!(quality_tables, windows, "one model-quality file per window");

    // Events: delivered through the rule to the queue in the EventBridge envelope.
    let got = aws.drain(queue).await;
    let mut unique_events: Vec<Value> = Vec::new();
    for e in &got {
        assert_eq!(e["source"], "driftwatch");
        assert_eq!(
            e["resources"],
            json!([format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{}", ep.to_lowercase())])
        );
        let c = comparable(e);
        let key = |v: &Value| (v["detail"]["episodeId"].clone(), v["detail-type"].clone());
        match unique_events.iter().find(|u| key(u) == key(&c)) {
            Some(u) => assert_eq!(u, &c, "a repeat differs"),
            None => unique_events.push(c),
        }
    }
    let order = |e: &Value| (e["detail"]["detectedAt"].to_string(), e["detail-type"].to_string());
    unique_events.sort_by_key(order);
    let mut want_sorted = want.to_vec();
    want_sorted.sort_by_key(order);
    assert_eq!(unique_events, want_sorted, "{} delivered ({} unique)", got.len(), unique_events.len());
    eprintln!("{} events delivered, {} unique, equal to replay's", got.len(), unique_events.len());
    got.len()
}

/// A fake Lambda Runtime API on loopback: hands out queued invocations on
/// `GET /2018-06-01/runtime/invocation/next` (holding the request while the queue is empty, as
/// Lambda does), and records responses, errors and init errors.
#[derive(Clone, Default)]
struct FakeRuntime {
    state: Arc<std::sync::Mutex<RuntimeState>>,
}

#[derive(Default)]
struct RuntimeState {
    /// (request id, milliseconds until the deadline, payload)
    queue: std::collections::VecDeque<(String, u64, String)>,
    /// (request id or "init", "response" | "error", body)
    results: Vec<(String, String, String)>,
}

impl FakeRuntime {
    /// Starts serving; returns the `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    fn start(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let me = self.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let me = me.clone();
                std::thread::spawn(move || me.serve_connection(conn));
            }
        });
        addr
    }

    fn invoke(&self, id: &str, deadline_ms: u64, payload: Value) {
        self.state.lock().unwrap().queue.push_back((id.into(), deadline_ms, payload.to_string()));
    }

    fn results(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().results.clone()
    }

    fn serve_connection(&self, conn: std::net::TcpStream) {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
        let mut conn = conn;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
            let mut length = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                if h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            let (status, headers, reply) = if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
                let (id, deadline_ms, payload) = loop {
                    if let Some(next) = self.state.lock().unwrap().queue.pop_front() {
                        break next;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                let now =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
                let headers = format!(
                    "Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:{REGION}:{ACCOUNT}:function:driftwatch\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Type: application/json\r\n",
                    now + deadline_ms
                );
                (200, headers, payload)
            } else if method == "POST" {
                let segments: Vec<&str> = path.split('/').collect();
                let record = match segments.as_slice() {
                    ["", "2018-06-01", "runtime", "invocation", id, kind] => Some((id.to_string(), kind.to_string())),
                    ["", "2018-06-01", "runtime", "init", "error"] => Some(("init".into(), "error".into())),
                    _ => None,
                };
                match record {
                    Some((id, kind)) => {
                        self.state.lock().unwrap().results.push((id, kind, body));
                        (202, String::new(), r#"{"status":"OK"}"#.to_owned())
                    }
                    None => (404, String::new(), "{}".to_owned()),
                }
            } else {
                (404, String::new(), "{}".to_owned())
            };
            let head = format!("HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\n\r\n", reply.len());
            if conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(reply.as_bytes())).is_err() {
                return;
            }
        }
    }
}

/// The function under test: the binary cargo built, or the packaged `bootstrap` named by
/// `LAMBDA_TEST_BOOTSTRAP` (a command line, e.g. `qemu-aarch64-static -L
/// /usr/aarch64-linux-gnu /tmp/pkg/bootstrap` for the arm64 zip; ./scripts/test sets it after
/// `cargo lambda build`).
fn lambda_command() -> Command {
    match std::env::var("LAMBDA_TEST_BOOTSTRAP") {
        Ok(line) if !line.trim().is_empty() => {
            eprintln!("lambda: running the packaged function: {line}");
            let mut words = line.split_whitespace();
            let mut cmd = Command::new(words.next().unwrap());
            cmd.args(words);
            cmd
        }
        _ => Command::new(env!("CARGO_BIN_EXE_driftwatch")),
    }
}

fn start_lambda(endpoint: &str, api: &str, config_uri: &str, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    lambda_command()
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "driftwatch")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("DRIFTWATCH_CONFIG", config_uri)
        .envs(emulator_env(endpoint))
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap()
}

/// The real binary started as a Lambda function against a fake Runtime API, with its AWS calls
/// going to moto: a first invocation with little time stops early and checkpoints; the second
/// finishes; together they give replay's events. A missing config is an init error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_binary_resumes_across_invocations_and_reports_init_errors() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("lambda").await;
    let (bus, queue) = aws.bus_to_queue("lambda").await;
    let ep = unique("loan");
    let files = aws.upload_example(&bucket, &ep).await;
    let config = format!(
        r#"[state]
uri = "s3://{bucket}/state/"
[reports]
uri = "s3://{bucket}/reports/"
[events]
bus = "{bus}"
account = "{ACCOUNT}"
[[monitor]]
endpoint = "{ep}"
capture = "s3://{bucket}/datacapture/"
baseline = "s3://{bucket}/baselines/loan/"
start = "earliest"
"#
    );
    aws.s3
        .put_object()
        .bucket(&bucket)
        .key("config/driftwatch.toml")
        .body(config.into_bytes().into())
        .send()
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("lambda.log");
    let tail = || {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        t.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    };

    let runtime = FakeRuntime::default();
    let api = runtime.start();
    let scheduled = json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": REGION, "resources": [], "detail": {}});
    runtime.invoke("req-1", 3_500, scheduled.clone());
    runtime.invoke("req-2", 300_000, scheduled);
    let mut child = start_lambda(&endpoint, &api, &format!("s3://{bucket}/config/driftwatch.toml"), &log);
    let started = Instant::now();
    while runtime.results().len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(180), "no answers; log tail:\n{}", tail());
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the function exited with {status}; log tail:\n{}", tail());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let results = runtime.results();
    let answer = |i: usize| -> Value {
        let (id, kind, body) = &results[i];
        assert_eq!((id.as_str(), kind.as_str()), (["req-1", "req-2"][i], "response"), "{body}\nlog tail:\n{}", tail());
        serde_json::from_str(body).unwrap()
    };
    let (first, second) = (answer(0), answer(1));
    let folders = |a: &Value| a["streams"][0]["folders"].as_u64().unwrap();
    assert_eq!(first["stoppedEarly"], true, "{first}");
    assert!((1..120).contains(&folders(&first)), "{first}");
    assert_eq!(second["stoppedEarly"], false, "{second}");
    assert_eq!(folders(&first) + folders(&second), 120, "every folder read once: {first} {second}");
    eprintln!(
        "lambda: first invocation (3.5 s) read {} folders, the second the other {}",
        folders(&first),
        folders(&second)
    );

    let (_, want) = replay(tmp.path(), &ep, &files, &[]);
    let got: Vec<Value> = aws.drain(&queue).await.iter().map(comparable).collect();
    assert_eq!(got, want, "the function's events are replay's");

    // A configuration that is not there: an init error through the Runtime API, then exit.
    let runtime = FakeRuntime::default();
    let api = runtime.start();
    let mut child = start_lambda(&endpoint, &api, &format!("s3://{bucket}/config/missing.toml"), &log);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "still running; log tail:\n{}", tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let results = runtime.results();
    assert_eq!(results.len(), 1, "{results:?}");
    let (id, kind, body) = &results[0];
    assert_eq!((id.as_str(), kind.as_str()), ("init", "error"));
    let body: Value = serde_json::from_str(body).unwrap();
    assert!(body["errorMessage"].as_str().unwrap().contains("missing.toml: not found"), "{body}");
}

/// Every file below `root`, relative to it, in order.
fn files_below(root: &Path) -> Vec<PathBuf> {
    common::tree(root).into_keys().map(PathBuf::from).collect()
}

/// The environment that points the binary's AWS calls at the emulator.
fn emulator_env(endpoint: &str) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// The binary with its environment pointed at the emulator.
fn driftwatch_on(endpoint: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch")).args(args).envs(emulator_env(endpoint)).output().unwrap()
}

/// `replay` reads capture and baseline from S3 and writes its reports and table there, exactly
/// what it writes to a folder from a copy of the same objects; `baseline --output s3://` writes
/// what `--output DIR` writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_and_baseline_read_and_write_s3_as_they_do_folders() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("replay").await;
    let ep = unique("loan");
    let files = aws.upload_example(&bucket, &ep).await;
    let tmp = tempfile::tempdir().unwrap();
    let (local_out, local_events) = replay(tmp.path(), &ep, &files, &[]);

    // replay --capture s3://..., --baseline s3://..., more flags; returns its events.
    let replay_s3 = |name: &str, extra: &[&str]| {
        let events = tmp.path().join(name);
        let capture = format!("s3://{bucket}/datacapture/{ep}");
        let baseline = format!("s3://{bucket}/baselines/loan/");
        let mut args =
            vec!["replay", "--capture", &capture, "--baseline", &baseline, "--events", events.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = driftwatch_on(&endpoint, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let events: Vec<Value> = std::fs::read_to_string(&events)
            .unwrap()
            .lines()
            .map(|l| comparable(&serde_json::from_str(l).unwrap()))
            .collect();
        (events, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let output = format!("s3://{bucket}/replayed");
    let (events, stdout) = replay_s3("s3-events.jsonl", &["--output", &output]);
    assert!(stdout.contains(&format!("metrics: s3://{bucket}/replayed/drift_metrics.parquet")), "{stdout}");
    assert!(!events.is_empty());
    assert_eq!(events, local_events, "the same events from S3 as from a folder");
    // Objects requested ahead in key order, whatever the threads and the requests in flight.
    for (threads, ahead) in [("1", "1"), ("2", "3"), ("1", "64")] {
        let (got, _) =
            replay_s3(&format!("s3-events-{threads}-{ahead}.jsonl"), &["--threads", threads, "--fetch-ahead", ahead]);
        assert_eq!(got, local_events, "--threads {threads} --fetch-ahead {ahead}");
    }

    // The same objects as the folder's files, with the same contents (but the baseline's name,
    // which is where it was read from).
    let store = S3Store::new(aws.s3.clone(), bucket.clone(), "replayed/");
    let listed: Vec<String> = store.list("", None).await.unwrap().into_iter().map(|o| o.key).collect();
    let local: Vec<String> = files_below(&local_out).iter().map(|p| p.to_str().unwrap().replace('\\', "/")).collect();
    assert_eq!(listed, local);
    let strip = |bytes: &[u8]| {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        v.as_object_mut().unwrap().remove("baseline");
        v
    };
    let mut compared = 0;
    for key in listed.iter().filter(|k| k.ends_with("drift.json")) {
        let remote = store.get(key).await.unwrap().unwrap();
        assert_eq!(strip(&remote), strip(&std::fs::read(local_out.join(key)).unwrap()), "{key}");
        compared += 1;
    }
    assert!(compared > 0);
    let table = store.get("drift_metrics.parquet").await.unwrap().unwrap();
    assert_eq!(table, std::fs::read(local_out.join("drift_metrics.parquet")).unwrap(), "the same table");

    // One object named by its key; a prefix with no capture is an input error naming it.
    let one = format!("s3://{bucket}/datacapture/{ep}/AllTraffic/{}", files[0].display());
    let out = driftwatch_on(&endpoint, &["replay", "--capture", &one, "--baseline", baseline_dir().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let empty = format!("s3://{bucket}/nothing-here/");
    let out =
        driftwatch_on(&endpoint, &["replay", "--capture", &empty, "--baseline", baseline_dir().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("--capture {empty}: no .jsonl capture files")), "{err}");

    // baseline --output s3://
    let training = tmp.path().join("train.csv");
    std::fs::write(&training, "score,age,job\n0.1,31,a\n0.7,45,b\n0.4,27,a\n").unwrap();
    let local_dir = tmp.path().join("built");
    for output in [format!("s3://{bucket}/built/"), local_dir.to_str().unwrap().to_owned()] {
        let out = driftwatch_on(&endpoint, &["baseline", "--input", training.to_str().unwrap(), "--output", &output]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let built = S3Store::new(aws.s3.clone(), bucket.clone(), "built/");
    for f in ["statistics.json", "constraints.json"] {
        assert_eq!(built.get(f).await.unwrap().unwrap(), std::fs::read(local_dir.join(f)).unwrap(), "{f}");
    }
}

/// Batch transform capture in S3: the manifests below the destination name the jobs' objects
/// in another prefix (`s3://.../jobs/`); `replay --capture s3://.../loan-batch/` reads them as
/// a folder copy of the same destination reads, giving the same windows and events.
#[tokio::test]
async fn replay_reads_batch_transform_capture_from_s3() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("batch").await;
    let mut spec = driftwatch_synth::example_spec();
    spec.hours = 48;
    let remote = spec.batch_transform(&format!("s3://{bucket}/jobs/"));
    let puts = remote
        .data
        .iter()
        .map(|(k, t)| (format!("jobs/{k}"), t))
        .chain(remote.manifests.iter().map(|(k, t)| (format!("batch/loan-batch/{k}"), t)));
    for (key, text) in puts {
        aws.s3.put_object().bucket(&bucket).key(&key).body(text.clone().into_bytes().into()).send().await.unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let local = spec.batch_transform(&format!("{}/", tmp.path().join("jobs").display()));
    for (key, text) in &local.data {
        let path = tmp.path().join("jobs").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    for (key, text) in &local.manifests {
        let path = tmp.path().join("batch/loan-batch").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(tmp.path().join("training.csv"), spec.baseline_csv(5000)).unwrap();
    let baseline = tmp.path().join("baseline");
    let out = driftwatch_on(
        &endpoint,
        &[
            "baseline",
            "--input",
            tmp.path().join("training.csv").to_str().unwrap(),
            "--output",
            baseline.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = |capture: &str, name: &str| {
        let (out, events) = (tmp.path().join(name), tmp.path().join(format!("{name}.jsonl")));
        let o = driftwatch_on(
            &endpoint,
            &[
                "replay",
                "--capture",
                capture,
                "--baseline",
                baseline.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--events",
                events.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (common::tree(&out), std::fs::read_to_string(events).unwrap())
    };
    let (s3_files, s3_events) = run(&format!("s3://{bucket}/batch/loan-batch/"), "from-s3");
    let (local_files, local_events) = run(tmp.path().join("batch/loan-batch").to_str().unwrap(), "from-folder");
    let windows = s3_files.keys().filter(|k| k.ends_with("statistics.json")).count();
    assert_eq!(windows, 48, "one window a job hour");
    for (key, bytes) in s3_files.iter().filter(|(k, _)| k.ends_with("statistics.json")) {
        assert!(key.starts_with("loan-batch/BatchTransform/"), "{key}");
        assert!(local_files.get(key) == Some(bytes), "{key} differs between S3 and the folder");
    }
    let strip =
        |text: &str| -> Vec<Value> { text.lines().map(|l| comparable(&serde_json::from_str(l).unwrap())).collect() };
    assert_eq!(strip(&s3_events), strip(&local_events));
}

/// Model quality from S3: the example's quality baseline and ground truth (Model Monitor's
/// layout, one file per collection hour) read from `s3://` give the same model-quality files
/// and the same account as from folders.
#[tokio::test]
async fn replay_judges_model_quality_from_labels_in_s3() {
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("quality").await;
    let tmp = tempfile::tempdir().unwrap();
    let qb = common::root().join("baselines/loan-scoring-quality");
    for f in ["statistics.json", "constraints.json", "calibration.json"] {
        aws.put_file(&bucket, &format!("quality-baseline/{f}"), &qb.join(f)).await;
    }
    let gt = common::root().join("examples/ground-truth");
    let labels = files_below(&gt);
    for rel in &labels {
        aws.put_file(&bucket, &format!("ground-truth/{}", rel.display()), &gt.join(rel)).await;
    }
    let capture = example_dir().parent().unwrap().parent().unwrap().to_owned();
    let run = |quality: &str, labels: &str, output: &Path| {
        let out = driftwatch_on(
            &endpoint,
            &[
                "replay",
                "--capture",
                capture.to_str().unwrap(),
                "--baseline",
                baseline_dir().to_str().unwrap(),
                "--quality-baseline",
                quality,
                "--ground-truth",
                labels,
                "--probability-attribute",
                "0",
                "--output",
                output.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let local = run(qb.to_str().unwrap(), gt.to_str().unwrap(), &tmp.path().join("local"));
    let remote = run(
        &format!("s3://{bucket}/quality-baseline/"),
        &format!("s3://{bucket}/ground-truth/"),
        &tmp.path().join("remote"),
    );
    let account = |s: &str| {
        s.lines()
            .filter(|l| l.contains("model quality") || l.starts_with("ground truth"))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(account(&local).contains(&format!("label records in {} files", labels.len())), "{local}");
    assert_eq!(account(&remote), account(&local));
    let mut compared = 0;
    for rel in files_below(&tmp.path().join("local")) {
        if rel.components().any(|c| c.as_os_str() == "model_quality") {
            let a = std::fs::read(tmp.path().join("local").join(&rel)).unwrap();
            let b = std::fs::read(tmp.path().join("remote").join(&rel)).unwrap();
            assert!(a == b, "{} differs", rel.display());
            compared += 1;
        }
    }
    assert_eq!(compared, 120 * 3, "statistics, violations and the account of every window");
}

/// The example's capture lands object by object in a bucket whose `s3:ObjectCreated:*`
/// notifications go to an SQS queue read by three `serve` workers sharing one state prefix
/// (`[notifications]`, `[workers]`). Windows close on data time only (`settle` is a year): the
/// event of each deciding window is timed from the PUT of the object that closes it (the first
/// object of the next hour) to its arrival through the rule. The worker that owns the stream is
/// killed with SIGKILL half way; another takes the stream over when the lease expires. A
/// duplicated notification changes nothing; the last object lands while the bucket sends no
/// notifications and is found by the listing sweep. The reports and events equal replay's (but
/// for the last window, which no later record closes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notified_workers_close_windows_within_seconds_and_survive_a_kill() {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
        QueueConfiguration, S3KeyFilter,
    };
    let endpoint = emulator_or_skip!();
    let aws = aws(&endpoint).await;
    let bucket = aws.bucket("notified").await;
    let (bus, sink) = aws.bus_to_queue("notified").await;
    let ep = unique("loan");
    let tmp = tempfile::tempdir().unwrap();

    // The queue S3 notifies, for the capture prefix only.
    let (queue, arn) = aws.queue("capture").await;
    let filter = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value("datacapture/").build())
                .build(),
        )
        .build();
    let notify = QueueConfiguration::builder()
        .queue_arn(arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(filter)
        .build()
        .unwrap();
    aws.s3
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(notify).build())
        .send()
        .await
        .unwrap();
    for f in ["statistics.json", "constraints.json"] {
        aws.put_file(&bucket, &format!("baselines/loan/{f}"), &baseline_dir().join(f)).await;
    }

    // Replay first: which windows decide events.
    let files = example_files(&example_dir(), None);
    let (out, want) = replay(tmp.path(), &ep, &files, &[]);
    assert_eq!(want.len(), 3, "the example's three data-drift events");
    let deciding: BTreeSet<String> =
        want.iter().map(|e| e["detail"]["detectedAt"].as_str().unwrap().to_owned()).collect();

    let config = |port: u16| {
        let path = tmp.path().join(format!("serve-{port}.toml"));
        let text = format!(
            r#"[state]
uri = "s3://{bucket}/driftwatch/state/"
[reports]
uri = "s3://{bucket}/driftwatch/reports/"
[events]
bus = "arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
[server]
listen = "127.0.0.1:{port}"
[notifications]
queue = "{queue}"
sweep = "3s"
[workers]
lease = "10s"
[[monitor]]
endpoint = "{ep}"
capture = "s3://{bucket}/datacapture/"
baseline = "s3://{bucket}/baselines/loan/"
start = "earliest"
settle = "9000h"
"#
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let mut workers: Vec<Agent> = (0..3)
        .map(|i| start_agent(&endpoint, &config(free_port()), &tmp.path().join(format!("worker{i}.log")), &cwd))
        .collect();

    // Events as they arrive at the rule's queue, with the instant each arrived.
    let arrivals: Arc<std::sync::Mutex<Vec<(Instant, Value)>>> = Arc::default();
    let watcher = {
        let (arrivals, sqs, sink) = (arrivals.clone(), aws.sqs.clone(), sink.clone());
        tokio::spawn(async move {
            loop {
                let got =
                    sqs.receive_message().queue_url(&sink).max_number_of_messages(10).wait_time_seconds(1).send().await;
                let Ok(got) = got else { continue };
                let now = Instant::now();
                for m in got.messages.unwrap_or_default() {
                    let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                    arrivals.lock().unwrap().push((now, body));
                    let _ =
                        sqs.delete_message().queue_url(&sink).receipt_handle(m.receipt_handle().unwrap()).send().await;
                }
            }
        })
    };
    let lease_owner = || {
        let s3 = aws.s3.clone();
        let key = format!("driftwatch/state/leases/{ep}/AllTraffic.json");
        let bucket = bucket.clone();
        async move {
            let got = s3.get_object().bucket(&bucket).key(&key).send().await.ok()?;
            let body: Value = serde_json::from_slice(&got.body.collect().await.ok()?.into_bytes()).ok()?;
            Some(body["owner"].as_str()?.to_owned())
        }
    };
    let queue_idle = || {
        let (sqs, queue) = (aws.sqs.clone(), queue.clone());
        async move {
            use aws_sdk_sqs::types::QueueAttributeName as A;
            let got = sqs
                .get_queue_attributes()
                .queue_url(&queue)
                .attribute_names(A::ApproximateNumberOfMessages)
                .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .unwrap();
            let attrs = got.attributes.unwrap_or_default();
            let n = |a: A| attrs.get(&a).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible) == 0
        }
    };

    // The capture lands in key order; before each object that closes a deciding window the
    // workers are let catch up (the queue drained), so the time measured is the reaction.
    let example = example_dir();
    let mut closing_put: Vec<(String, Instant)> = Vec::new();
    let mut killed = None;
    let started = Instant::now();
    let mut last_hour = String::new();
    let (last, files) = files.split_last().unwrap();
    for rel in files {
        let hour_dir = rel.parent().unwrap().display().to_string();
        let first_of_hour = hour_dir != last_hour;
        last_hour = hour_dir.clone();
        let hour_start = {
            let p: Vec<&str> = hour_dir.split('/').collect();
            format!("{}-{}-{}T{}:00:00Z", p[0], p[1], p[2], p[3])
        };
        let closes = first_of_hour && deciding.contains(&hour_start);
        if closes {
            let wait = Instant::now();
            while !queue_idle().await {
                assert!(wait.elapsed() < Duration::from_secs(60), "the workers did not drain the queue");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        aws.put_file(&bucket, &format!("datacapture/{ep}/AllTraffic/{}", rel.display()), &example.join(rel)).await;
        if closes {
            closing_put.push((hour_start.clone(), Instant::now()));
        }
        // Half way, the owner of the stream dies.
        if killed.is_none() && hour_start.as_str() >= "2026-03-03T12:00:00Z" {
            let owner = lease_owner().await.expect("a worker holds the stream");
            let i = workers.iter().position(|w| owner.contains(&format!("-{}-", w.child.id()))).unwrap();
            workers[i].child.kill().unwrap();
            workers[i].child.wait().unwrap();
            let at = Instant::now();
            let mut took = None;
            while took.is_none() {
                assert!(at.elapsed() < Duration::from_secs(60), "no worker took the stream over");
                tokio::time::sleep(Duration::from_millis(100)).await;
                took = lease_owner().await.filter(|o| *o != owner).map(|_| at.elapsed());
            }
            killed = Some((i, took.unwrap()));
        }
    }
    eprintln!("uploaded {} objects in {:.1} s", files.len(), started.elapsed().as_secs_f64());
    // A notification S3 sends twice (SQS delivers at least once).
    let first_key = format!("datacapture/{ep}/AllTraffic/{}", files[0].display());
    let duplicate = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": first_key.replace('/', "%2F"), "size": 1, "eTag": "\"e\""}}}]});
    aws.sqs.send_message().queue_url(&queue).message_body(duplicate.to_string()).send().await.unwrap();
    // The last object lands unannounced: the bucket's notifications are off for it.
    aws.s3
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(NotificationConfiguration::builder().build())
        .send()
        .await
        .unwrap();
    aws.put_file(&bucket, &format!("datacapture/{ep}/AllTraffic/{}", last.display()), &example.join(last)).await;
    let swept = Instant::now();
    let checkpoints = CheckpointStore::new(S3Store::new(aws.s3.clone(), &bucket, "driftwatch/state/"));
    let stream = StreamId::new(&ep, "AllTraffic");
    let last_key = format!("{ep}/AllTraffic/{}", last.display());
    loop {
        let cp = checkpoints.load(&stream).await.unwrap().unwrap();
        if cp.cursor.recent.values().any(|keys| keys.contains(&last_key)) {
            break;
        }
        assert!(swept.elapsed() < Duration::from_secs(30), "the sweep did not find the unannounced object");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("the unannounced object was read {:.1} s after it landed (sweep 3 s)", swept.elapsed().as_secs_f64());
    let wait = Instant::now();
    while !queue_idle().await {
        assert!(wait.elapsed() < Duration::from_secs(30), "notifications left in the queue");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every deciding window's event, timed.
    let wait = Instant::now();
    loop {
        let got = arrivals.lock().unwrap().len();
        if got >= want.len() {
            break;
        }
        assert!(
            wait.elapsed() < Duration::from_secs(60),
            "{got} events of {}; logs:\n{}",
            want.len(),
            workers.iter().map(Agent::log_tail).collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies: Vec<f64> = closing_put
        .iter()
        .map(|(hour, put)| {
            let arrivals = arrivals.lock().unwrap();
            let (at, _) = arrivals
                .iter()
                .find(|(_, e)| e["detail"]["detectedAt"].as_str() == Some(hour))
                .unwrap_or_else(|| panic!("no event decided at {hour}"));
            at.duration_since(*put).as_secs_f64()
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let (i, takeover) = killed.unwrap();
    eprintln!(
        "closing object PUT to event in the rule's queue, {} deciding windows: median {:.2} s, max {:.2} s; worker {i} killed, the stream taken over after {:.1} s (lease 10 s)",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        takeover.as_secs_f64()
    );
    assert!(latencies[latencies.len() - 1] < 10.0, "{latencies:?}");

    // Reports equal replay's for every window a later record closed (all but the last).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reports = S3Store::new(aws.s3.clone(), &bucket, "driftwatch/reports/");
    let theirs: Vec<String> = files_below(&out.join(&ep))
        .into_iter()
        .map(|f| format!("{ep}/{}", f.display()))
        .filter(|k| k.ends_with(".json") && !k.contains("/2026/03/05/23/"))
        .collect();
    assert_eq!(theirs.len(), 119 * 3, "three report files a window");
    for k in &theirs {
        let ours = reports.get(k).await.unwrap().unwrap_or_else(|| panic!("the workers did not write {k}"));
        let mine = std::fs::read(out.join(k)).unwrap();
        if k.ends_with("drift.json") {
            let strip = |b: &[u8]| {
                let mut v: Value = serde_json::from_slice(b).unwrap();
                v.as_object_mut().unwrap().remove("baseline");
                v
            };
            assert_eq!(strip(&ours), strip(&mine), "{k}");
        } else {
            assert!(ours == mine, "{k} differs");
        }
    }
    watcher.abort();
    let mut unique_events: Vec<Value> = Vec::new();
    for (_, e) in arrivals.lock().unwrap().iter() {
        let c = comparable(e);
        let key = |v: &Value| (v["detail"]["episodeId"].clone(), v["detail-type"].clone());
        if !unique_events.iter().any(|u| key(u) == key(&c)) {
            unique_events.push(c);
        }
    }
    let order = |e: &Value| e["detail"]["detectedAt"].to_string();
    unique_events.sort_by_key(order);
    let mut want_sorted = want.clone();
    want_sorted.sort_by_key(order);
    assert_eq!(unique_events, want_sorted);
    for w in &mut workers {
        let _ = w.child.kill();
        let _ = w.child.wait();
    }
}
