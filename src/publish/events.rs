//! The event envelope a rule target receives (DESIGN.md, "Event envelope").
//!
//! `replay --events FILE` writes these one per line; the service sends the same `detail` through
//! PutEvents, and EventBridge wraps it in the same envelope.

use serde::Serialize;

use crate::baseline::Violation;
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

/// The account in envelopes when none is known (replay without a config): a placeholder that
/// no real account has, so a rule written against it never matches production events.
pub const PLACEHOLDER_ACCOUNT: &str = "000000000000";
/// The region when neither the config, the SDK nor `AWS_REGION` names one.
const FALLBACK_REGION: &str = "us-east-1";

impl Default for EventSettings {
    /// `driftwatch`, account [`PLACEHOLDER_ACCOUNT`], region from `AWS_REGION` (else `us-east-1`).
    fn default() -> Self {
        EventSettings::resolve(None, None, None, None, None)
    }
}

/// Returns the partition and account id in an event bus ARN
/// (`arn:aws:events:region:account:event-bus/name`).
pub fn account_of_bus(bus: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = bus.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "events", _, account, _]
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(((*partition).to_owned(), (*account).to_owned()))
        }
        _ => None,
    }
}

impl EventSettings {
    /// The one rule every driver (replay, serve, Lambda) builds its settings by:
    /// - `source`: the config's, else [`DEFAULT_SOURCE`];
    /// - account and partition: the config's account, else the bus ARN's, else
    ///   [`PLACEHOLDER_ACCOUNT`] (see [`EventSettings::account_known`]);
    /// - region: the config's, else `sdk_region` (the service's AWS configuration), else
    ///   `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub fn resolve(
        source: Option<&str>,
        account: Option<&str>,
        region: Option<&str>,
        bus: Option<&str>,
        sdk_region: Option<&str>,
    ) -> EventSettings {
        let from_bus = bus.and_then(account_of_bus);
        let partition = from_bus.as_ref().map_or("aws", |(p, _)| p.as_str()).to_owned();
        let account = account
            .map(str::to_owned)
            .or_else(|| from_bus.map(|(_, a)| a))
            .unwrap_or_else(|| PLACEHOLDER_ACCOUNT.to_owned());
        let region = region
            .map(str::to_owned)
            .or_else(|| sdk_region.map(str::to_owned))
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| FALLBACK_REGION.to_owned());
        EventSettings { source: source.unwrap_or(DEFAULT_SOURCE).to_owned(), account, region, partition }
    }

    /// Whether the account is a real one (not [`PLACEHOLDER_ACCOUNT`]): only then does the
    /// service build endpoint ARNs for `resources` itself.
    pub fn account_known(&self) -> bool {
        self.account != PLACEHOLDER_ACCOUNT
    }

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

/// The whole event as a rule target receives it: a data-drift event (`D` = [`EventDetail`]) or
/// a model-quality one ([`QualityEventDetail`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventEnvelope<D = EventDetail> {
    /// Always `"0"`.
    pub version: &'static str,
    /// Event id (deterministic in replay; EventBridge's own id when delivered).
    pub id: String,
    /// `Sudden Data Shift Detected`, `Gradual Data Drift Detected` or `Data Drift Resolved`;
    /// `Model Quality Degraded` or `Model Quality Recovered`.
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
    /// The detail.
    pub detail: D,
}

impl<D> EventEnvelope<D> {
    /// An envelope about `endpoint` (its ARN the one resource), sent by `settings`' source.
    fn about(
        id: &str,
        detail_type: &'static str,
        endpoint: &str,
        settings: &EventSettings,
        time: Timestamp,
        detail: D,
    ) -> Self {
        EventEnvelope {
            version: "0",
            id: id.to_owned(),
            detail_type,
            source: settings.source.clone(),
            account: settings.account.clone(),
            time: time.to_string(),
            region: settings.region.clone(),
            resources: vec![settings.endpoint_arn(endpoint)],
            detail,
        }
    }
}

/// `detail` of a model-quality event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityEventDetail {
    /// `"1"`.
    pub schema_version: &'static str,
    /// Always `model_quality`.
    pub monitor: &'static str,
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
    /// End of the deciding window (data time).
    pub detected_at: String,
    /// When the deciding window's labels were in and it was judged (data time: its end plus
    /// the ground-truth delay, or sooner once enough labels came; its end for estimates).
    pub judged_at: String,
    /// Start of the first window of the change.
    pub onset: String,
    /// Whether the metrics are estimated without labels (calibrated confidence) rather than
    /// measured on labels.
    pub estimated: bool,
    /// The deciding window, with its labelled rows.
    pub window: QualityEventWindow,
    /// The headline metrics: baseline, value, sampling error, 95% interval, operator, z.
    pub metrics: Vec<crate::quality::decide::MetricJudgement>,
    /// What decided the kind: `step`, `ramp`, `short_history` (too few windows to see a ramp)
    /// or `quiet` (a resolution).
    pub basis: &'static str,
    /// Where the deciding window's model-quality reports are.
    pub reports: EventReports,
}

/// `detail.window` of a model-quality event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityEventWindow {
    /// Window start.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Records with a prediction to join.
    pub predictions: u64,
    /// Of those, labelled.
    pub labelled: u64,
}

/// Returns the `detail-type` of a model-quality decision's event.
pub fn quality_detail_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Sudden | Kind::Gradual => "Model Quality Degraded",
        Kind::Resolved => "Model Quality Recovered",
    }
}

impl EventEnvelope<QualityEventDetail> {
    /// Builds the envelope of a model-quality decision about `stream`'s `window`.
    pub fn build_quality(
        d: &crate::quality::decide::QualityDecision,
        stream: &crate::capture::layout::StreamId,
        window: &QualityEventWindow,
        reports: EventReports,
        settings: &EventSettings,
        time: Timestamp,
    ) -> Self {
        EventEnvelope::about(
            &d.event_id,
            quality_detail_type(d.kind),
            &stream.endpoint,
            settings,
            time,
            QualityEventDetail {
                schema_version: "1",
                monitor: "model_quality",
                endpoint: stream.endpoint.clone(),
                variant: stream.variant.clone(),
                kind: d.kind.as_str(),
                action: d.kind.action(),
                episode_id: d.episode_id.clone(),
                detected_at: d.detected_at.to_string(),
                judged_at: d.judged_at.to_string(),
                onset: d.onset.to_string(),
                estimated: d.estimated,
                window: window.clone(),
                metrics: d.metrics.clone(),
                basis: d.basis,
                reports,
            },
        )
    }
}

/// `detail` of a bias event (`Bias Drift Detected`, `Bias Drift Resolved`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BiasEventDetail {
    /// `"1"`.
    pub schema_version: &'static str,
    /// Always `bias`.
    pub monitor: &'static str,
    /// Endpoint name.
    pub endpoint: String,
    /// Variant name.
    pub variant: String,
    /// `sudden`, `gradual` or `resolved`.
    pub kind: &'static str,
    /// `investigate` (sudden), `review` (gradual: a person reviews whether the population or
    /// the model moved) or `none` (resolved).
    pub action: &'static str,
    /// Stable id of the episode.
    pub episode_id: String,
    /// End of the deciding window (data time).
    pub detected_at: String,
    /// Start of the first window of the change.
    pub onset: String,
    /// The facet (sensitive attribute).
    pub facet: String,
    /// Its value (or values, joined by `,`) whose bias moved.
    pub facet_value: String,
    /// What the metrics were judged on: `predictions` (each window as it closes: DPPL and DI)
    /// or `labels` (each window's predictions labelled when the label join judged it: AD,
    /// DAR, DRR and RD).
    pub judged_on: &'static str,
    /// The metrics of the deciding window: baseline, value, sampling error, 95% interval, z.
    pub metrics: Vec<crate::bias::decide::BiasJudgement>,
    /// What decided the kind: `step`, `ramp`, `short_history`, `facet_break` or `quiet`.
    pub basis: String,
    /// The deciding window's bias files (`analysis.json` and `constraint_violations.json`, or
    /// their `_with_labels` pair when judged on labels).
    pub reports: BiasEventReports,
}

/// `detail.reports` of a bias event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BiasEventReports {
    /// The window's bias analysis.
    pub analysis: Option<String>,
    /// The window's bias violations.
    pub violations: Option<String>,
}

/// Returns the `detail-type` of a bias decision's event.
pub fn bias_detail_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Sudden | Kind::Gradual => "Bias Drift Detected",
        Kind::Resolved => "Bias Drift Resolved",
    }
}

impl EventEnvelope<BiasEventDetail> {
    /// Builds the envelope of a bias decision about `stream`.
    pub fn build_bias(
        d: &crate::bias::decide::BiasDecision,
        stream: &crate::capture::layout::StreamId,
        reports: BiasEventReports,
        settings: &EventSettings,
        time: Timestamp,
    ) -> Self {
        EventEnvelope::about(
            &d.event_id,
            bias_detail_type(d.kind),
            &stream.endpoint,
            settings,
            time,
            BiasEventDetail {
                schema_version: "1",
                monitor: "bias",
                endpoint: stream.endpoint.clone(),
                variant: stream.variant.clone(),
                kind: d.kind.as_str(),
                action: match d.kind {
                    Kind::Sudden => "investigate",
                    Kind::Gradual => "review",
                    Kind::Resolved => "none",
                },
                episode_id: d.episode_id.clone(),
                detected_at: d.detected_at.to_string(),
                onset: d.onset.to_string(),
                facet: d.facet.clone(),
                facet_value: d.facet_value.clone(),
                judged_on: d.stage.as_str(),
                metrics: d.metrics.clone(),
                basis: d.basis.clone(),
                reports,
            },
        )
    }
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
    pub features: Vec<crate::classify::FeatureEvidence>,
    /// Model Monitor violations of those features in the decision window.
    pub violations: Vec<Violation>,
    /// What decided the kind.
    #[serde(serialize_with = "super::sorted_keys")]
    pub evidence: crate::classify::evidence::Evidence,
    /// Where the decision window's reports are.
    pub reports: EventReports,
    /// What the labels say over the episode's span, so that a rule can retrain only when the
    /// model's quality declines with the drift.
    pub quality: DriftQuality,
}

/// `detail.quality` of a data-drift event: the model's quality over the episode's span.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftQuality {
    /// `declining` (a model-quality episode is open, or the span's judged windows are worse than
    /// the baseline beyond noise taken together), `stable`, `not_yet_known` (no window of the
    /// span judged yet: its labels have not come) or `unmonitored` (no quality monitor).
    pub verdict: &'static str,
    /// Windows of the span judged.
    pub windows_judged: u64,
    /// Whether they were judged on estimates instead of labels.
    pub estimated: bool,
}

impl DriftQuality {
    /// A stream without a quality monitor.
    pub const UNMONITORED: DriftQuality = DriftQuality { verdict: "unmonitored", windows_judged: 0, estimated: false };
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
/// `detail.reports`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventReports {
    /// `statistics.json` of the decision window.
    pub statistics: Option<String>,
    /// `constraint_violations.json` of the decision window.
    pub violations: Option<String>,
}

/// Returns the `detail-type` of a decision's event (rules match on it).
pub fn detail_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Sudden => "Sudden Data Shift Detected",
        Kind::Gradual => "Gradual Data Drift Detected",
        Kind::Resolved => "Data Drift Resolved",
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
            detail_type: detail_type(d.kind),
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
                features: d.features.clone(),
                violations: d.violations.clone(),
                evidence: d.evidence.clone(),
                reports: EventReports {
                    statistics: reports.map(|r| r.statistics.clone()),
                    violations: reports.map(|r| r.violations.clone()),
                },
                quality: DriftQuality::UNMONITORED,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_one_rule() {
        assert_eq!(
            account_of_bus("arn:aws-cn:events:cn-north-1:123456789012:event-bus/ml-drift"),
            Some(("aws-cn".to_owned(), "123456789012".to_owned()))
        );
        assert_eq!(account_of_bus("ml-drift"), None);
        assert_eq!(account_of_bus("arn:aws:events:eu-west-1:12345678901x:event-bus/b"), None);
        let bus = Some("arn:aws:events:eu-west-1:123456789012:event-bus/ml-drift");
        // The bus ARN gives the account; the config's account wins over it.
        let s = EventSettings::resolve(None, None, Some("eu-west-1"), bus, None);
        assert_eq!((s.account.as_str(), s.account_known(), s.source.as_str()), ("123456789012", true, DEFAULT_SOURCE));
        let s =
            EventSettings::resolve(Some("ml.drift"), Some("210987654321"), Some("eu-west-1"), bus, Some("us-west-2"));
        assert_eq!(
            (s.account.as_str(), s.region.as_str(), s.source.as_str()),
            ("210987654321", "eu-west-1", "ml.drift")
        );
        // No account anywhere: the placeholder, which is not a known account.
        let s = EventSettings::resolve(None, None, None, Some("ml-drift"), Some("us-west-2"));
        assert_eq!(
            (s.account.as_str(), s.account_known(), s.region.as_str()),
            (PLACEHOLDER_ACCOUNT, false, "us-west-2")
        );
    }
}
