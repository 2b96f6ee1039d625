//! The configuration file (TOML), its `DRIFTWATCH_*` environment overrides, and validation.
//!
//! The same file serves `driftwatch serve` and `driftwatch replay --config` (replay uses
//! `[classifier]` and `[events]`), so thresholds tuned on a laptop are the ones deployed.
//! Unknown keys are rejected with their name; every value is checked once, here, and turned
//! into runtime types, so later code never re-validates.
//!
//! Environment overrides: `DRIFTWATCH_<SECTION>_<KEY>` sets `[section] key`, e.g.
//! `DRIFTWATCH_EVENTS_BUS=ml-drift`, `DRIFTWATCH_CLASSIFIER_MIN_ROWS=50`. Monitors are not
//! overridable (they are a list); `DRIFTWATCH_LOG` and `DRIFTWATCH_LOG_FORMAT` are not config.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::classify::seasonal::Seasonality;
use crate::classify::ClassifierConfig;
use crate::publish::events::EventSettings;
use crate::time::{Duration, Timestamp};

/// How far behind the latest record a window may still get records, by default: Data Capture
/// writes a file about every minute per instance and delivers it within "a couple of minutes"
/// (sagemaker-formats.md), so records two minutes past a window's end mean the instances have
/// moved on.
pub const DEFAULT_LATENESS: Duration = Duration::from_mins(2);

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where checkpoints live.
    pub state: Option<StateSection>,
    /// Where events go; omit to only log them.
    pub events: Option<EventsSection>,
    /// Where reports go.
    pub reports: Option<ReportsSection>,
    /// The `/healthz` and `/metrics` listener.
    pub server: Option<ServerSection>,
    /// Classifier sensitivity.
    pub classifier: Option<ClassifierSection>,
    /// CloudWatch metrics with Model Monitor's names.
    pub cloudwatch: Option<CloudWatchSection>,
    /// S3 object notifications on an SQS queue (`serve`): new capture is read within seconds of
    /// landing instead of at the next listing.
    pub notifications: Option<NotificationsSection>,
    /// Several `serve` processes sharing `[state]`: one owner per stream at a time.
    pub workers: Option<WorkersSection>,
    /// Endpoints to watch.
    #[serde(default, rename = "monitor")]
    pub monitors: Vec<MonitorSection>,
}

/// `[notifications]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSection {
    /// The SQS queue (name or URL) that receives the capture bucket's `s3:ObjectCreated:*`
    /// notifications, directly, through EventBridge or through SNS.
    pub queue: String,
    /// How often every stream is still listed, for notifications that never came and for the
    /// objects from before the queue existed (default `5m`; replaces the monitors'
    /// `poll_interval`).
    pub sweep: Option<String>,
}

/// `[workers]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersSection {
    /// How long a stream's ownership lasts without renewal (default `60s`): a worker that dies
    /// hands its streams over this long after its last renewal.
    pub lease: Option<String>,
}

/// `[state]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// `s3://bucket/prefix/` or a local folder.
    pub uri: String,
}

/// `[events]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSection {
    /// Event bus name or ARN; without it events are only logged.
    pub bus: Option<String>,
    /// Event `source` (default `driftwatch`; `aws.*` is reserved).
    pub source: Option<String>,
    /// Account id in the events' `resources` ARNs; `serve` falls back to the account in the
    /// bus ARN (without either, events carry no resources).
    pub account: Option<String>,
    /// Region in the events' `resources` ARNs; `serve` falls back to the SDK's region.
    pub region: Option<String>,
}

/// `[reports]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsSection {
    /// `s3://bucket/prefix/` or a local folder (the service writes no reports without it).
    pub uri: Option<String>,
    /// Whether each window's `statistics.json` carries the KLL sketch of every numeric feature
    /// (default true, as Model Monitor writes it). The sketch is most of the file: about 29 kB a
    /// feature on a busy window, so a 1,000-feature baseline writes about 29 MB a window with it
    /// and a tenth of that without; the buckets, which dashboards read, stay either way.
    pub sketches: Option<bool>,
}

/// `[cloudwatch]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchSection {
    /// Whether each closed window's data-quality metrics (Model Monitor's names, namespace
    /// `aws/sagemaker/Endpoints/data-metrics`) are printed to standard output as embedded metric
    /// format lines, which CloudWatch Logs turns into metrics under Lambda and the ECS `awslogs`
    /// driver (default true: alarms on Model Monitor's metrics keep working). Each feature is
    /// ten custom metrics in CloudWatch's price list.
    pub emf: Option<bool>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address of `/healthz` and `/metrics` (default `0.0.0.0:9090`).
    pub listen: Option<String>,
    /// `/healthz` fails when no poll has succeeded for this long (default `10m`).
    pub unhealthy_after: Option<String>,
}

/// `[classifier]`: see `crates/core/src/classify/design.md`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSection {
    /// L-infinity noise floor constant for single-window decisions (default 2.8).
    pub noise_floor_c: Option<f64>,
    /// Smallest material L-infinity distance (default 0.05).
    pub min_effect: Option<f64>,
    /// Windows with fewer rows are not judged (default 30).
    pub min_rows: Option<u64>,
    /// Windows merged as the recent past (default 3).
    pub step_lookback: Option<usize>,
    /// Share of the rise a step must explain to be sudden (default 0.7).
    pub step_share: Option<f64>,
    /// Most windows a change's shape is fitted over (default 48).
    pub trend_windows: Option<usize>,
    /// Evidence a late change must show over no change, in chi-square units (default 25).
    pub change_evidence: Option<f64>,
    /// Standardised level a trend must also reach (default 3.0).
    pub z_level: Option<f64>,
    /// Quiet windows before an episode resolves (default 3).
    pub cooldown: Option<usize>,
    /// Consecutive windows a late change must be seen in before it is decided (default 2).
    pub confirm: Option<usize>,
    /// Recurring patterns to learn from the stream: `auto` (default), `daily`, `weekly` or
    /// `none` (design.md, "Cycles").
    pub seasonality: Option<String>,
    /// Start of a reference period of normal traffic (RFC 3339, inclusive): its windows teach
    /// the cycles and are not judged. Needs `reference_end`.
    pub reference_start: Option<TimeValue>,
    /// End of the reference period (RFC 3339, exclusive); alone, every window before it is
    /// reference.
    pub reference_end: Option<TimeValue>,
}

/// A time in the config: an RFC 3339 string or a TOML date-time.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeValue {
    /// `"2026-03-01T00:00:00Z"`.
    Text(String),
    /// `2026-03-01T00:00:00Z` (unquoted).
    Toml(toml::value::Datetime),
}

impl TimeValue {
    fn parse(&self) -> Result<Timestamp, String> {
        let text = match self {
            TimeValue::Text(t) => t.clone(),
            TimeValue::Toml(d) => d.to_string(),
        };
        Timestamp::parse_rfc3339(&text)
            .ok_or_else(|| format!("{text:?} is not an RFC 3339 time with a zone, e.g. 2026-03-01T00:00:00Z"))
    }
}

/// One `[[monitor]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSection {
    /// SageMaker endpoint name.
    pub endpoint: String,
    /// Variant; all variants when omitted.
    pub variant: Option<String>,
    /// Data Capture destination; from DescribeEndpoint when omitted.
    pub capture: Option<String>,
    /// Baseline folder or prefix; from the endpoint's monitoring schedule when omitted.
    pub baseline: Option<String>,
    /// The `MonitoringSchedule` dimension of the CloudWatch metrics: the name of the Model
    /// Monitor schedule whose alarms should keep working. Default: the data-quality schedule the
    /// baseline was found through, else `driftwatch-<endpoint>`.
    pub monitoring_schedule: Option<String>,
    /// The `MonitoringSchedule` dimension of the model-quality CloudWatch metrics (the old
    /// model-quality schedule's name). Default: `monitoring_schedule`'s value.
    pub quality_monitoring_schedule: Option<String>,
    /// Window length (default `1h`).
    pub window: Option<String>,
    /// `earliest`, `now` (default) or an RFC 3339 time.
    pub start: Option<String>,
    /// How often to list new objects (default `60s`).
    pub poll_interval: Option<String>,
    /// How long Data Capture may take to deliver a record (default `5m`): windows ending this
    /// long ago (wall clock) close even when no later record came.
    pub settle: Option<String>,
    /// Allowed lateness in data time (default `2m`): a window closes as soon as records this
    /// far past its end have been read, without waiting for `settle`. Not used by monitors that
    /// join ground truth (they close on settled hours).
    pub lateness: Option<String>,
    /// Capture records (lines) longer than this many MiB are skipped and counted as
    /// `record_too_large` (default 16): a record is decoded whole, in about twelve times its size.
    pub max_record_mib: Option<u64>,
    /// Model-quality baseline folder or prefix (`statistics.json` and `constraints.json` as
    /// `driftwatch baseline --problem-type` or Model Monitor writes them; `calibration.json` for
    /// estimates): judge the endpoint's model quality too.
    pub quality_baseline: Option<String>,
    /// Ground-truth prefix in Model Monitor's layout (`yyyy/mm/dd/hh/*.jsonl` by collection
    /// hour, joined on `inferenceId`, else `eventId`); without it, binary quality is estimated
    /// from the calibrated probabilities.
    pub ground_truth: Option<String>,
    /// The predicted label or value in each response: a CSV column index (`"0"`: the first
    /// response column) or a JSON name or path.
    pub inference_attribute: Option<String>,
    /// The positive class's probability in each response (index or name, as above).
    pub probability_attribute: Option<String>,
    /// A probability at or above it predicts the positive class (default 0.5).
    pub probability_threshold_attribute: Option<f64>,
    /// How long after a window's end its labels are waited for before it is judged
    /// (default `24h`).
    pub ground_truth_delay: Option<String>,
    /// Judge a window before the delay once this share of its predictions is labelled
    /// (default 0.95; 1: always wait for the delay).
    pub ground_truth_share: Option<f64>,
    /// How long after a window's end late labels still update its files, and how long a label
    /// waits for its prediction (default: three times the delay).
    pub ground_truth_expiry: Option<String>,
    /// Clarify's analysis config (a file or `s3://` object: facets, label values, group
    /// variable, probability threshold): judge each window's bias too. Needs `bias_baseline`
    /// and `probability_attribute`.
    pub bias_config: Option<String>,
    /// Folder or `s3://` prefix of the bias baseline's `analysis.json` (`driftwatch baseline
    /// --bias-config`'s or Clarify's).
    pub bias_baseline: Option<String>,
}

/// A validated monitor's bias drift.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorBias {
    /// The analysis config's location.
    pub config: String,
    /// The bias baseline's location.
    pub baseline: String,
    /// Where the probability is in each response.
    pub probability: crate::pipeline::predictions::Attr,
    /// Overrides the config's probability threshold.
    pub threshold: Option<f64>,
}

/// A validated monitor's model quality.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorQuality {
    /// The model-quality baseline's location (none: ground truth joined for the bias monitor's
    /// label-dependent metrics only).
    pub baseline: Option<String>,
    /// The ground truth's location; none: estimate from calibrated probabilities.
    pub ground_truth: Option<String>,
    /// Where the prediction is in each response.
    pub spec: crate::pipeline::predictions::PredictionSpec,
    /// Threshold, delay, early share, expiry (the problem type comes from the baseline).
    pub rules: crate::quality::join::JoinRules,
}

/// Where a monitor starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// From the oldest capture object.
    Earliest,
    /// From the time the monitor starts.
    Now,
    /// From a given time.
    At(Timestamp),
}

/// A validated monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// Endpoint name.
    pub endpoint: String,
    /// Variant, or all.
    pub variant: Option<String>,
    /// Capture destination URI, or discover.
    pub capture: Option<String>,
    /// Baseline URI, or discover.
    pub baseline: Option<String>,
    /// The metrics' `MonitoringSchedule` dimension, when the config names it.
    pub monitoring_schedule: Option<String>,
    /// The model-quality metrics' `MonitoringSchedule`, when the config names it.
    pub quality_monitoring_schedule: Option<String>,
    /// Window length.
    pub window: Duration,
    /// Where to start.
    pub start: StartAt,
    /// Poll interval.
    pub poll_interval: Duration,
    /// Data Capture's delivery delay: windows ending this long ago (wall clock) close.
    pub settle: Duration,
    /// Allowed lateness in data time: windows ending this far behind the latest record read
    /// close.
    pub lateness: Duration,
    /// Longer capture records are skipped and counted.
    pub max_record_bytes: usize,
    /// Model quality, when the monitor judges it.
    pub quality: Option<MonitorQuality>,
    /// Bias drift, when the monitor judges it.
    pub bias: Option<MonitorBias>,
}

/// Validated events settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsConfig {
    /// Bus name or ARN.
    pub bus: Option<String>,
    /// Event source.
    pub source: String,
    /// Account in resource ARNs.
    pub account: Option<String>,
    /// Region in resource ARNs.
    pub region: Option<String>,
}

impl EventsConfig {
    /// The envelope settings of these events ([`EventSettings::resolve`], the one rule every
    /// driver uses); `sdk_region` is the service's AWS region when it has one.
    pub fn settings(&self, sdk_region: Option<&str>) -> EventSettings {
        EventSettings::resolve(
            Some(&self.source),
            self.account.as_deref(),
            self.region.as_deref(),
            self.bus.as_deref(),
            sdk_region,
        )
    }
}

/// Validated server settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Unhealthy after this long without a successful poll.
    pub unhealthy_after: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Checkpoint store URI.
    pub state: Option<String>,
    /// Events.
    pub events: EventsConfig,
    /// Reports URI.
    pub reports: Option<String>,
    /// Whether window reports carry KLL sketches.
    pub report_sketches: bool,
    /// Whether windows' CloudWatch metrics are printed as EMF lines.
    pub emf: bool,
    /// Server.
    pub server: ServerConfig,
    /// Classifier.
    pub classifier: ClassifierConfig,
    /// Object notifications, when `[notifications]` names a queue.
    pub notifications: Option<NotificationsConfig>,
    /// Stream ownership among workers, when `[workers]` is given.
    pub workers: Option<WorkersConfig>,
    /// Monitors.
    pub monitors: Vec<MonitorConfig>,
}

/// Validated `[notifications]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationsConfig {
    /// The queue's name or URL.
    pub queue: String,
    /// How often streams are listed anyway.
    pub sweep: Duration,
}

/// Validated `[workers]`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkersConfig {
    /// How long ownership of a stream lasts without renewal.
    pub lease: Duration,
}

/// How long a stream's ownership lasts by default: a few polls' worth, so a slow poll does not
/// lose it, and a dead worker's streams move within a minute.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// A configuration error, naming the file, the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The TOML does not parse, or has an unknown key or a wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (it names the key and the line).
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The file (or `environment`).
        path: String,
        /// The key, e.g. `[[monitor]] 2 window`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

const SECTIONS: [&str; 8] =
    ["state", "events", "reports", "server", "classifier", "cloudwatch", "notifications", "workers"];
const NOT_CONFIG: [&str; 4] =
    ["DRIFTWATCH_LOG", "DRIFTWATCH_LOG_FORMAT", "DRIFTWATCH_CONFIG", "DRIFTWATCH_CONFIG_TEXT"];

impl Config {
    /// Reads, overrides from the environment, and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: p.clone(), source })?;
        Config::from_toml(&text, &p, std::env::vars())
    }

    /// Parses TOML text with the given environment (`DRIFTWATCH_*` entries apply).
    pub fn from_toml(
        text: &str,
        path: &str,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        apply_env(&mut table, env)?;
        let file: ConfigFile = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        file.validate(path)
    }
}

fn apply_env(table: &mut toml::Table, env: impl Iterator<Item = (String, String)>) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = env.filter(|(k, _)| k.starts_with("DRIFTWATCH_")).collect();
    vars.sort();
    for (name, value) in vars {
        if NOT_CONFIG.contains(&name.as_str()) {
            continue;
        }
        let rest = name["DRIFTWATCH_".len()..].to_ascii_lowercase();
        let Some((section, key)) = rest.split_once('_').filter(|(s, k)| SECTIONS.contains(s) && !k.is_empty()) else {
            return Err(ConfigError::Invalid {
                path: "environment".into(),
                key: name,
                message: format!(
                    "not a config override; use DRIFTWATCH_<SECTION>_<KEY> with a section among {}",
                    SECTIONS.join(", ")
                ),
            });
        };
        // [classifier] keys are numbers; every other overridable key is a string (an account
        // id such as 123456789012 must stay one).
        let parsed = match (section, value.parse::<i64>(), value.parse::<f64>()) {
            ("classifier", Ok(i), _) => toml::Value::Integer(i),
            ("classifier", _, Ok(f)) => toml::Value::Float(f),
            ("reports", _, _) | ("cloudwatch", _, _) if key == "sketches" || key == "emf" => match value.as_str() {
                "true" => toml::Value::Boolean(true),
                "false" => toml::Value::Boolean(false),
                _ => toml::Value::String(value),
            },
            _ => toml::Value::String(value),
        };
        let entry = table.entry(section.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => {
                t.insert(key.to_owned(), parsed);
            }
            _ => {
                return Err(ConfigError::Invalid {
                    path: "environment".into(),
                    key: name,
                    message: format!("[{section}] is not a table"),
                })
            }
        }
    }
    Ok(())
}

fn duration(path: &str, key: &str, v: Option<&str>, default: Duration) -> Result<Duration, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => Duration::parse(s).ok_or_else(|| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message: format!("{s:?} is not a duration; write a number and a unit, e.g. 90s, 15m, 1h, 1d"),
        }),
    }
}

impl ConfigFile {
    /// Validates into runtime types.
    pub fn validate(self, path: &str) -> Result<Config, ConfigError> {
        let invalid =
            |key: &str, message: String| ConfigError::Invalid { path: path.to_owned(), key: key.to_owned(), message };
        let events = self.events.unwrap_or_default();
        let source = events.source.unwrap_or_else(|| crate::publish::events::DEFAULT_SOURCE.to_owned());
        if source.is_empty() || source.len() > 256 || source.starts_with("aws.") {
            return Err(invalid(
                "[events] source",
                format!("{source:?}: use 1-256 characters not starting with \"aws.\" (reserved by AWS)"),
            ));
        }
        if let Some(a) = &events.account {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("[events] account", format!("{a:?}: an AWS account id is 12 digits")));
            }
        }
        let server = self.server.unwrap_or(ServerSection { listen: None, unhealthy_after: None });
        let listen_text = server.listen.as_deref().unwrap_or("0.0.0.0:9090");
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid("[server] listen", format!("{listen_text:?}: use host:port with an IP address, e.g. 0.0.0.0:9090"))
        })?;
        let unhealthy_after =
            duration(path, "[server] unhealthy_after", server.unhealthy_after.as_deref(), Duration::from_mins(10))?;
        for (key, uri) in [
            ("[state] uri", self.state.as_ref().map(|s| &s.uri)),
            ("[reports] uri", self.reports.as_ref().and_then(|r| r.uri.as_ref())),
        ] {
            if let Some(u) = uri {
                check_uri(u).map_err(|m| invalid(key, m))?;
            }
        }
        let notifications = match self.notifications {
            Some(n) => {
                if n.queue.trim().is_empty() {
                    return Err(invalid("[notifications] queue", "an SQS queue name or URL is required".into()));
                }
                let sweep = duration(path, "[notifications] sweep", n.sweep.as_deref(), Duration::from_mins(5))?;
                if sweep < Duration::from_secs(1) {
                    return Err(invalid("[notifications] sweep", format!("{sweep}: use at least 1s")));
                }
                Some(NotificationsConfig { queue: n.queue, sweep })
            }
            None => None,
        };
        let workers = match &self.workers {
            Some(w) => {
                let lease = duration(path, "[workers] lease", w.lease.as_deref(), DEFAULT_LEASE)?;
                if lease < Duration::from_secs(5) {
                    return Err(invalid("[workers] lease", format!("{lease}: use at least 5s")));
                }
                Some(WorkersConfig { lease })
            }
            None => None,
        };
        let c = self.classifier.unwrap_or_default();
        let d = ClassifierConfig::default();
        let classifier = ClassifierConfig {
            noise_floor_c: c.noise_floor_c.unwrap_or(d.noise_floor_c),
            min_effect: c.min_effect.unwrap_or(d.min_effect),
            min_rows: c.min_rows.unwrap_or(d.min_rows),
            step_lookback: c.step_lookback.unwrap_or(d.step_lookback),
            step_share: c.step_share.unwrap_or(d.step_share),
            trend_windows: c.trend_windows.unwrap_or(d.trend_windows),
            change_evidence: c.change_evidence.unwrap_or(d.change_evidence),
            z_level: c.z_level.unwrap_or(d.z_level),
            cooldown: c.cooldown.unwrap_or(d.cooldown),
            confirm: c.confirm.unwrap_or(d.confirm),
            seasonality: match c.seasonality.as_deref() {
                None => d.seasonality,
                Some(v) => Seasonality::parse(v).ok_or_else(|| {
                    invalid(
                        "[classifier] seasonality",
                        format!("{v:?}: use \"auto\", \"daily\", \"weekly\" or \"none\""),
                    )
                })?,
            },
            reference_start: c
                .reference_start
                .as_ref()
                .map(|t| t.parse().map_err(|m| invalid("[classifier] reference_start", m)))
                .transpose()?,
            reference_end: c
                .reference_end
                .as_ref()
                .map(|t| t.parse().map_err(|m| invalid("[classifier] reference_end", m)))
                .transpose()?,
        };
        match (classifier.reference_start, classifier.reference_end) {
            (Some(_), None) => {
                return Err(invalid(
                    "[classifier] reference_start",
                    "a reference period needs reference_end too (its end, exclusive)".into(),
                ))
            }
            (Some(s), Some(e)) if s >= e => {
                return Err(invalid("[classifier] reference_end", format!("{e} is not after reference_start {s}")))
            }
            _ => {}
        }
        let ranges: [(&str, f64, f64, f64); 6] = [
            ("noise_floor_c", classifier.noise_floor_c, 0.5, 10.0),
            ("min_effect", classifier.min_effect, 0.0, 1.0),
            ("step_share", classifier.step_share, 0.0, 1.0),
            ("change_evidence", classifier.change_evidence, 1.0, 1000.0),
            ("z_level", classifier.z_level, 0.0, 50.0),
            ("trend_windows", classifier.trend_windows as f64, 8.0, 500.0),
        ];
        for (k, v, lo, hi) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(invalid(&format!("[classifier] {k}"), format!("{v} is out of range; use {lo} to {hi}")));
            }
        }
        for (k, v) in [
            ("step_lookback", classifier.step_lookback),
            ("cooldown", classifier.cooldown),
            ("confirm", classifier.confirm),
        ] {
            if v == 0 || v > 100 {
                return Err(invalid(&format!("[classifier] {k}"), format!("{v} is out of range; use 1 to 100")));
            }
        }
        let mut monitors = Vec::with_capacity(self.monitors.len());
        for (i, m) in self.monitors.into_iter().enumerate() {
            let label = format!("[[monitor]] {} ({})", i + 1, m.endpoint);
            let key = |k: &str| format!("{label} {k}");
            if !valid_endpoint_name(&m.endpoint) {
                return Err(invalid(
                    &key("endpoint"),
                    format!(
                        "{:?} is not a SageMaker endpoint name (letters, digits and hyphens, at most 63)",
                        m.endpoint
                    ),
                ));
            }
            let window = duration(path, &key("window"), m.window.as_deref(), Duration::from_hours(1))?;
            if !crate::pipeline::window_in_range(window) {
                return Err(invalid(&key("window"), format!("{window} is out of range; use 1m to 1d")));
            }
            let poll_interval =
                duration(path, &key("poll_interval"), m.poll_interval.as_deref(), Duration::from_secs(60))?;
            if poll_interval < Duration::from_secs(1) {
                return Err(invalid(&key("poll_interval"), format!("{poll_interval}: use at least 1s")));
            }
            let settle = duration(path, &key("settle"), m.settle.as_deref(), Duration::from_mins(5))?;
            let lateness = duration(path, &key("lateness"), m.lateness.as_deref(), DEFAULT_LATENESS)?;
            let start = match m.start.as_deref() {
                None | Some("now") => StartAt::Now,
                Some("earliest") => StartAt::Earliest,
                Some(s) => StartAt::At(Timestamp::parse_rfc3339(s).ok_or_else(|| {
                    invalid(
                        &key("start"),
                        format!("{s:?}: use \"earliest\", \"now\" or an RFC 3339 time such as 2026-03-01T00:00:00Z"),
                    )
                })?),
            };
            for (k, u) in [("capture", &m.capture), ("baseline", &m.baseline)] {
                if let Some(u) = u {
                    check_uri(u).map_err(|msg| invalid(&key(k), msg))?;
                }
            }
            let max_record_mib = m.max_record_mib.unwrap_or((crate::pipeline::DEFAULT_MAX_RECORD_BYTES >> 20) as u64);
            if !(1..=4096).contains(&max_record_mib) {
                return Err(invalid(
                    &key("max_record_mib"),
                    format!("{max_record_mib} is out of range; use 1 to 4096"),
                ));
            }
            let bias = monitor_bias(path, &m, &key)?;
            let quality = monitor_quality(path, &m, &key, bias.is_some())?;
            for (k, v) in [
                ("monitoring_schedule", &m.monitoring_schedule),
                ("quality_monitoring_schedule", &m.quality_monitoring_schedule),
            ] {
                // CloudWatch dimension values are 1 to 1,024 characters; SageMaker schedule
                // names 1 to 63.
                if v.as_ref().is_some_and(|s| s.is_empty() || s.len() > 1024) {
                    return Err(invalid(&key(k), "must be 1 to 1024 characters".into()));
                }
            }
            let mc = MonitorConfig {
                endpoint: m.endpoint,
                variant: m.variant,
                capture: m.capture,
                baseline: m.baseline,
                monitoring_schedule: m.monitoring_schedule,
                quality_monitoring_schedule: m.quality_monitoring_schedule,
                window,
                start,
                poll_interval,
                settle,
                lateness,
                max_record_bytes: (max_record_mib as usize) << 20,
                quality,
                bias,
            };
            if monitors.iter().any(|o: &MonitorConfig| o.endpoint == mc.endpoint && o.variant == mc.variant) {
                return Err(invalid(&key("endpoint"), "the same endpoint and variant are listed twice".into()));
            }
            monitors.push(mc);
        }
        Ok(Config {
            state: self.state.map(|s| s.uri),
            events: EventsConfig { bus: events.bus, source, account: events.account, region: events.region },
            report_sketches: self.reports.as_ref().and_then(|r| r.sketches).unwrap_or(true),
            emf: self.cloudwatch.and_then(|c| c.emf).unwrap_or(true),
            reports: self.reports.and_then(|r| r.uri),
            server: ServerConfig { listen, unhealthy_after },
            classifier,
            notifications,
            workers,
            monitors,
        })
    }
}

/// The model-quality keys of one monitor, validated (none without `quality_baseline`).
/// The bias keys of one monitor, validated (none without `bias_config`).
fn monitor_bias(
    path: &str,
    m: &MonitorSection,
    key: &dyn Fn(&str) -> String,
) -> Result<Option<MonitorBias>, ConfigError> {
    let invalid = |k: &str, message: String| ConfigError::Invalid { path: path.to_owned(), key: key(k), message };
    match (&m.bias_config, &m.bias_baseline) {
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err(invalid("bias_config", "needs bias_baseline (the analysis.json to judge against)".into()))
        }
        (None, Some(_)) => Err(invalid("bias_baseline", "needs bias_config (Clarify's analysis config)".into())),
        (Some(config), Some(baseline)) => {
            check_uri(config).map_err(|msg| invalid("bias_config", msg))?;
            check_uri(baseline).map_err(|msg| invalid("bias_baseline", msg))?;
            let Some(probability) = &m.probability_attribute else {
                return Err(invalid(
                    "bias_config",
                    "needs probability_attribute (where the predicted probability is in each response)".into(),
                ));
            };
            Ok(Some(MonitorBias {
                config: config.clone(),
                baseline: baseline.clone(),
                probability: crate::pipeline::predictions::Attr::parse(probability),
                threshold: m.probability_threshold_attribute,
            }))
        }
    }
}

fn monitor_quality(
    path: &str,
    m: &MonitorSection,
    key: &dyn Fn(&str) -> String,
    bias: bool,
) -> Result<Option<MonitorQuality>, ConfigError> {
    use crate::pipeline::predictions::{Attr, PredictionSpec};
    use crate::quality::join::{JoinRules, DEFAULT_GROUND_TRUTH_DELAY};
    let invalid = |k: &str, message: String| ConfigError::Invalid { path: path.to_owned(), key: key(k), message };
    // Ground truth beside a bias monitor and no quality baseline: labels joined for bias's
    // label-dependent metrics only.
    let labels_only = m.quality_baseline.is_none() && bias && m.ground_truth.is_some();
    if m.quality_baseline.is_none() && !labels_only {
        let set = [
            ("ground_truth", m.ground_truth.is_some()),
            ("inference_attribute", m.inference_attribute.is_some()),
            ("probability_attribute", m.probability_attribute.is_some() && !bias),
            ("probability_threshold_attribute", m.probability_threshold_attribute.is_some() && !bias),
            ("ground_truth_delay", m.ground_truth_delay.is_some()),
            ("ground_truth_share", m.ground_truth_share.is_some()),
            ("ground_truth_expiry", m.ground_truth_expiry.is_some()),
        ];
        if let Some((k, _)) = set.iter().find(|(_, on)| *on) {
            return Err(invalid(k, "needs quality_baseline (the model-quality baseline to judge against)".into()));
        }
        return Ok(None);
    }
    if labels_only && m.inference_attribute.is_some() {
        return Err(invalid(
            "inference_attribute",
            "needs quality_baseline (the model-quality baseline to judge against)".into(),
        ));
    }
    if let Some(baseline) = &m.quality_baseline {
        check_uri(baseline).map_err(|msg| invalid("quality_baseline", msg))?;
    }
    if let Some(g) = &m.ground_truth {
        check_uri(g).map_err(|msg| invalid("ground_truth", msg))?;
    } else if let Some((k, _)) = [
        ("ground_truth_delay", m.ground_truth_delay.is_some()),
        ("ground_truth_share", m.ground_truth_share.is_some()),
        ("ground_truth_expiry", m.ground_truth_expiry.is_some()),
    ]
    .iter()
    .find(|(_, on)| *on)
    {
        return Err(invalid(k, "needs ground_truth (the labels it is about)".into()));
    }
    if !labels_only && m.inference_attribute.is_none() && m.probability_attribute.is_none() {
        return Err(invalid(
            "quality_baseline",
            "needs inference_attribute or probability_attribute (where the prediction is in each response)".into(),
        ));
    }
    let threshold = m.probability_threshold_attribute.unwrap_or(crate::quality::DEFAULT_PROBABILITY_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(invalid("probability_threshold_attribute", format!("{threshold}: use a value from 0 to 1")));
    }
    let delay =
        duration(path, &key("ground_truth_delay"), m.ground_truth_delay.as_deref(), DEFAULT_GROUND_TRUTH_DELAY)?;
    let mut rules = JoinRules::new(crate::quality::ProblemType::BinaryClassification, threshold, delay);
    if let Some(share) = m.ground_truth_share {
        rules.enough_share = share;
    }
    if let Some(e) = &m.ground_truth_expiry {
        rules.expiry = duration(path, &key("ground_truth_expiry"), Some(e), rules.expiry)?;
    }
    // Each key named by its own message.
    let blame = if !(rules.enough_share > 0.0 && rules.enough_share <= 1.0) {
        "ground_truth_share"
    } else if rules.expiry < rules.delay {
        "ground_truth_expiry"
    } else {
        "ground_truth_delay"
    };
    rules.check().map_err(|msg| invalid(blame, msg))?;
    // The bias monitor's own spec names the probability when labels are joined for it only.
    let spec = if labels_only {
        PredictionSpec::default()
    } else {
        PredictionSpec {
            inference: m.inference_attribute.as_deref().map(Attr::parse),
            probability: m.probability_attribute.as_deref().map(Attr::parse),
            ..Default::default()
        }
    };
    Ok(Some(MonitorQuality { baseline: m.quality_baseline.clone(), ground_truth: m.ground_truth.clone(), spec, rules }))
}

fn valid_endpoint_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn check_uri(u: &str) -> Result<(), String> {
    if let Some(rest) = u.strip_prefix("s3://") {
        let bucket = rest.split('/').next().unwrap_or("");
        if bucket.len() < 3 || bucket.len() > 63 {
            return Err(format!("{u:?}: the bucket name must have 3 to 63 characters"));
        }
        return Ok(());
    }
    if u.contains("://") {
        return Err(format!("{u:?}: use s3://bucket/prefix/ or a local folder"));
    }
    if u.is_empty() {
        return Err("empty; use s3://bucket/prefix/ or a local folder".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> String {
        let p = crate::testing::workspace_root().join("examples/config").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn example_configs_load() {
        let c = Config::from_toml(&example("serve.toml"), "serve.toml", std::iter::empty()).unwrap();
        assert_eq!(c.state.as_deref(), Some("s3://ml-capture/driftwatch/state/"));
        assert_eq!(c.events.bus.as_deref(), Some("ml-drift"));
        assert_eq!(c.monitors.len(), 2);
        assert_eq!(c.monitors[0].window, Duration::from_hours(1));
        assert_eq!(c.monitors[0].start, StartAt::Earliest);
        assert_eq!(c.monitors[0].settle, Duration::from_mins(5));
        let q = c.monitors[0].quality.as_ref().unwrap();
        assert_eq!(q.ground_truth.as_deref(), Some("s3://ml-capture/ground-truth/loan-scoring-prod/"));
        assert_eq!(
            (q.rules.delay, q.rules.expiry, q.rules.enough_share),
            (Duration::from_hours(24), Duration::from_hours(72), 0.95)
        );
        assert_eq!(q.spec.probability, Some(crate::pipeline::predictions::Attr::Index(0)));
        assert!(c.monitors[1].quality.is_none());
        assert_eq!(c.monitors[1].start, StartAt::Now);
        assert_eq!(c.monitors[1].variant, None);
        assert_eq!(c.server.listen.port(), 9090);
        let r = Config::from_toml(&example("replay.toml"), "replay.toml", std::iter::empty()).unwrap();
        assert_eq!(r.classifier.min_rows, 50);
        assert!(r.monitors.is_empty());
    }

    #[test]
    fn bias_keys_are_checked_together() {
        let monitor = |keys: &str| {
            let text = format!("[state]\nuri = \"s\"\n[[monitor]]\nendpoint = \"ep\"\n{keys}");
            Config::from_toml(&text, "t.toml", std::iter::empty())
        };
        let ok = monitor("bias_config = \"c.json\"\nbias_baseline = \"b/\"\nprobability_attribute = \"0\"\n").unwrap();
        let b = ok.monitors[0].bias.as_ref().unwrap();
        assert_eq!((b.config.as_str(), b.baseline.as_str()), ("c.json", "b/"));
        assert!(ok.monitors[0].quality.is_none(), "probability_attribute serves the bias monitor alone");
        // Ground truth beside the bias monitor alone: labels joined for its label-dependent
        // metrics (no quality baseline; the bias monitor's spec names the probability).
        let bias = "bias_config = \"c.json\"\nbias_baseline = \"b/\"\nprobability_attribute = \"0\"\n";
        let labels =
            monitor(&format!("{bias}ground_truth = \"s3://gt-bucket/gt/\"\nground_truth_delay = \"2h\"\n")).unwrap();
        let q = labels.monitors[0].quality.as_ref().unwrap();
        assert_eq!((q.baseline.as_deref(), q.ground_truth.as_deref()), (None, Some("s3://gt-bucket/gt/")));
        assert_eq!((q.rules.delay, q.spec.probability.clone()), (Duration::from_hours(2), None));
        let err = monitor(&format!("{bias}ground_truth = \"g/\"\ninference_attribute = \"1\"\n")).unwrap_err();
        assert!(err.to_string().contains("inference_attribute: needs quality_baseline"), "{err}");
        let cases = [
            ("bias_config = \"c.json\"\nprobability_attribute = \"0\"\n", "bias_config: needs bias_baseline"),
            ("bias_baseline = \"b/\"\n", "bias_baseline: needs bias_config"),
            ("bias_config = \"c.json\"\nbias_baseline = \"b/\"\n", "bias_config: needs probability_attribute"),
            ("probability_attribute = \"0\"\n", "probability_attribute: needs quality_baseline"),
        ];
        for (keys, want) in cases {
            let err = monitor(keys).unwrap_err().to_string();
            assert!(err.contains(want), "{keys}: {err}");
        }
    }

    #[test]
    fn wrong_configs_name_the_key() {
        let cases = [
            ("wrong-key.toml", "unknown field `polling_interval`"),
            ("bad-window.toml", "[[monitor]] 1 (loan-scoring-prod) window: 0s is out of range"),
            ("aws-source.toml", "[events] source"),
        ];
        for (file, want) in cases {
            let err = Config::from_toml(&example(file), file, std::iter::empty()).unwrap_err().to_string();
            assert!(err.contains(want), "{file}: {err}");
            assert!(err.starts_with(file), "{file}: {err}");
        }
    }

    #[test]
    fn env_overrides() {
        let env = vec![
            ("DRIFTWATCH_EVENTS_BUS".to_owned(), "other-bus".to_owned()),
            ("DRIFTWATCH_CLASSIFIER_MIN_ROWS".to_owned(), "99".to_owned()),
            ("DRIFTWATCH_CLASSIFIER_Z_LEVEL".to_owned(), "2.5".to_owned()),
            ("DRIFTWATCH_EVENTS_ACCOUNT".to_owned(), "123456789012".to_owned()),
            ("DRIFTWATCH_SERVER_UNHEALTHY_AFTER".to_owned(), "10m".to_owned()),
            ("DRIFTWATCH_LOG".to_owned(), "debug".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let c = Config::from_toml(&example("serve.toml"), "serve.toml", env.into_iter()).unwrap();
        assert_eq!(c.events.bus.as_deref(), Some("other-bus"));
        assert_eq!(c.classifier.min_rows, 99);
        assert_eq!(c.classifier.z_level, 2.5);
        assert_eq!(c.events.account.as_deref(), Some("123456789012"), "digits stay a string");
        assert_eq!(c.server.unhealthy_after, crate::time::Duration::from_mins(10));
        let bad = vec![("DRIFTWATCH_NOPE_X".to_owned(), "1".to_owned())];
        let err = Config::from_toml("", "x", bad.into_iter()).unwrap_err().to_string();
        assert!(err.contains("DRIFTWATCH_NOPE_X"), "{err}");
        let bad = vec![("DRIFTWATCH_CLASSIFIER_MIN_ROWZ".to_owned(), "1".to_owned())];
        let err = Config::from_toml("", "x", bad.into_iter()).unwrap_err().to_string();
        assert!(err.contains("min_rowz"), "{err}");
    }

    #[test]
    fn value_checks() {
        let cases = [
            ("[classifier]\nnoise_floor_c = 0.1", "[classifier] noise_floor_c"),
            ("[server]\nlisten = \"localhost\"", "[server] listen"),
            ("[state]\nuri = \"gs://x/y\"", "[state] uri"),
            ("[[monitor]]\nendpoint = \"bad_name\"", "endpoint"),
            ("[[monitor]]\nendpoint = \"a\"\nstart = \"yesterday\"", "start"),
            ("[[monitor]]\nendpoint = \"a\"\n[[monitor]]\nendpoint = \"a\"", "listed twice"),
            ("[events]\naccount = \"12\"", "[events] account"),
            ("[[monitor]]\nendpoint = \"a\"\nground_truth = \"s3://bkt/gt/\"", "ground_truth: needs quality_baseline"),
            (
                "[[monitor]]\nendpoint = \"a\"\nquality_baseline = \"qb\"",
                "quality_baseline: needs inference_attribute or probability_attribute",
            ),
            (
                "[[monitor]]\nendpoint = \"a\"\nquality_baseline = \"qb\"\nprobability_attribute = \"0\"\nground_truth_delay = \"1h\"",
                "ground_truth_delay: needs ground_truth",
            ),
            (
                "[[monitor]]\nendpoint = \"a\"\nquality_baseline = \"qb\"\nprobability_attribute = \"0\"\nground_truth = \"gt\"\nground_truth_share = 1.5",
                "ground_truth_share: the labelled share",
            ),
            (
                "[[monitor]]\nendpoint = \"a\"\nquality_baseline = \"qb\"\nprobability_attribute = \"0\"\nground_truth = \"gt\"\nground_truth_expiry = \"1h\"",
                "ground_truth_expiry: the ground-truth expiry 1h is shorter than the delay",
            ),
        ];
        for (text, want) in cases {
            let err = Config::from_toml(text, "t.toml", std::iter::empty()).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
