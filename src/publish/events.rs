//! The event envelope a rule target receives (DESIGN.md, "Event envelope").
//!
//! `replay --events FILE` writes these one per line; the service sends the same `detail` through
//! PutEvents, and EventBridge wraps it in the same envelope.

use serde::Serialize;

use crate::baseline::Violation;
use crate::classify::trend::Trend;
use crate::classify::{Decision, Kind};
use crate::pipeline::ClosedWindow;
use crate::publish::report::ReportUris;
use crate::time::Timestamp;

/// Default `source` of events (`aws.*` is reserved by AWS).
pub const DEFAULT_SOURCE: &str = "driftwatch";

/// The account, region and source used in envelopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSettings {
    /// `source`.
    pub source: String,
    /// Account id in `account` and in resource ARNs.
    pub account: String,
    /// Region in `region` and in resource ARNs.
    pub region: String,
    /// ARN partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
}

impl Default for EventSettings {
    /// `driftwatch`, account `000000000000`, region from `AWS_REGION` (else `us-east-1`).
    fn default() -> Self {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned());
        EventSettings {
            source: DEFAULT_SOURCE.to_owned(),
            account: "000000000000".to_owned(),
            region,
            partition: "aws".to_owned(),
        }
    }
}

impl EventSettings {
    /// Returns the ARN of a SageMaker endpoint (SageMaker lowercases endpoint names in ARNs).
    pub fn endpoint_arn(&self, endpoint: &str) -> String {
        format!(
            "arn:{}:sagemaker:{}:{}:endpoint/{}",
            self.partition,
            self.region,
            self.account,
            endpoint.to_ascii_lowercase()
        )
    }
}

/// The whole event as a rule target receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventEnvelope {
    /// Always `"0"`.
    pub version: &'static str,
    /// Event id (deterministic in replay; EventBridge's own id when delivered).
    pub id: String,
    /// `Sudden Data Shift Detected`, `Gradual Data Drift Detected` or `Data Drift Resolved`.
    #[serde(rename = "detail-type")]
    pub detail_type: &'static str,
    /// Configurable source.
    pub source: String,
    /// Account id.
    pub account: String,
    /// Wall-clock time in the service; `detectedAt` in replay.
    pub time: String,
    /// Region.
    pub region: String,
    /// The endpoint ARN.
    pub resources: Vec<String>,
    /// The drift detail.
    pub detail: EventDetail,
}

/// `detail` of an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    /// `"1"`.
    pub schema_version: &'static str,
    /// Endpoint name.
    pub endpoint: String,
    /// Variant name.
    pub variant: String,
    /// `sudden`, `gradual` or `resolved`.
    pub kind: &'static str,
    /// `investigate`, `retrain` or `none`.
    pub action: &'static str,
    /// Stable id of the episode.
    pub episode_id: String,
    /// End of the window in which the decision was made (data time).
    pub detected_at: String,
    /// Estimated start of the change.
    pub onset: String,
    /// The decision window.
    pub window: EventWindow,
    /// Features involved, most affected first.
    pub features: Vec<EventFeature>,
    /// Model Monitor violations of those features in the decision window.
    pub violations: Vec<Violation>,
    /// What decided the kind.
    pub evidence: serde_json::Value,
    /// Where the decision window's reports are.
    pub reports: EventReports,
}

/// `detail.window`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventWindow {
    /// Window start.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Capture records in the window.
    pub records: u64,
}

/// One entry of `detail.features`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFeature {
    /// Feature name.
    pub name: String,
    /// The metric named by `value` (`linf_robust`, Model Monitor's number).
    pub metric: &'static str,
    /// Its value in the decision window.
    pub value: Option<f64>,
    /// The baseline's `comparison_threshold` for it.
    pub threshold: Option<f64>,
    /// The sampling noise floor of the L-infinity distance for these sample sizes.
    pub noise_floor: Option<f64>,
    /// L-infinity distance to the recent past.
    pub step_value: Option<f64>,
    /// The trend, for gradual drift.
    pub trend: Option<Trend>,
}

/// `detail.reports`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventReports {
    /// `statistics.json` of the decision window.
    pub statistics: Option<String>,
    /// `constraint_violations.json` of the decision window.
    pub violations: Option<String>,
}

impl Kind {
    /// Returns the event's `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            Kind::Sudden => "Sudden Data Shift Detected",
            Kind::Gradual => "Gradual Data Drift Detected",
            Kind::Resolved => "Data Drift Resolved",
        }
    }
}

impl EventEnvelope {
    /// Builds the envelope of a decision. `time` is the envelope's `time`.
    pub fn build(
        d: &Decision,
        closed: &ClosedWindow,
        reports: Option<&ReportUris>,
        settings: &EventSettings,
        time: Timestamp,
    ) -> EventEnvelope {
        EventEnvelope {
            version: "0",
            id: d.event_id.clone(),
            detail_type: d.kind.detail_type(),
            source: settings.source.clone(),
            account: settings.account.clone(),
            time: time.to_string(),
            region: settings.region.clone(),
            resources: vec![settings.endpoint_arn(&closed.stream.endpoint)],
            detail: EventDetail {
                schema_version: "1",
                endpoint: closed.stream.endpoint.clone(),
                variant: closed.stream.variant.clone(),
                kind: d.kind.as_str(),
                action: d.kind.action(),
                episode_id: d.episode_id.clone(),
                detected_at: d.detected_at.to_string(),
                onset: d.onset.to_string(),
                window: EventWindow {
                    start: closed.window.start.to_string(),
                    end: closed.window.end.to_string(),
                    records: closed.profile.records,
                },
                features: d
                    .features
                    .iter()
                    .map(|f| EventFeature {
                        name: f.name.clone(),
                        metric: "linf_robust",
                        value: f.value,
                        threshold: f.threshold,
                        noise_floor: f.noise_floor,
                        step_value: f.step_value,
                        trend: f.trend,
                    })
                    .collect(),
                violations: d.violations.clone(),
                evidence: d.evidence.clone(),
                reports: EventReports {
                    statistics: reports.map(|r| r.statistics.clone()),
                    violations: reports.map(|r| r.violations.clone()),
                },
            },
        }
    }
}
