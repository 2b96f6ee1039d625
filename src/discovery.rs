//! SageMaker lookups: where an endpoint's Data Capture goes, and its data-quality baseline.
//!
//! Used when a `[[monitor]]` leaves `capture` or `baseline` out. Behind a small trait so that
//! the service can be tested without SageMaker; the real implementation needs the `aws` feature.

#[cfg(any(test, feature = "testing"))]
use std::collections::BTreeMap;
use std::future::Future;

/// Where an endpoint's data-quality monitoring schedule keeps its baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineUris {
    /// `statistics.json`.
    pub statistics: String,
    /// `constraints.json`.
    pub constraints: String,
    /// The data-quality monitoring schedule they were found through (the `MonitoringSchedule`
    /// dimension of its CloudWatch metrics); `None` when not found through one.
    pub schedule: Option<String>,
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The endpoint does not exist.
    #[error("endpoint {endpoint}: not found")]
    NoEndpoint {
        /// The endpoint.
        endpoint: String,
    },
    /// The endpoint does not capture data.
    #[error("endpoint {endpoint}: Data Capture is not enabled (set `capture` in the [[monitor]] or enable capture on the endpoint)")]
    NoCapture {
        /// The endpoint.
        endpoint: String,
    },
    /// No data-quality schedule with a baseline.
    #[error(
        "endpoint {endpoint}: no data-quality monitoring schedule with a baseline (set `baseline` in the [[monitor]])"
    )]
    NoBaseline {
        /// The endpoint.
        endpoint: String,
    },
    /// The API call failed.
    #[error("endpoint {endpoint}: {detail}")]
    Api {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        detail: String,
    },
}

/// SageMaker lookups.
pub trait Discovery: Send + Sync {
    /// Returns the Data Capture destination (`s3://...`) of an endpoint. Capture counts as on
    /// only when it is enabled and a destination is set; otherwise `NoCapture`.
    fn capture_destination(&self, endpoint: &str) -> impl Future<Output = Result<String, DiscoveryError>> + Send;

    /// Returns the baseline of the endpoint's data-quality monitoring schedule (embedded in the
    /// schedule or through its job definition); `NoBaseline` when there is none.
    fn baseline(&self, endpoint: &str) -> impl Future<Output = Result<BaselineUris, DiscoveryError>> + Send;
}

/// Fixed answers (tests; the `testing` feature).
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Default)]
pub struct StaticDiscovery {
    /// Capture destinations by endpoint.
    pub capture: BTreeMap<String, String>,
    /// Baselines by endpoint.
    pub baselines: BTreeMap<String, BaselineUris>,
}

#[cfg(any(test, feature = "testing"))]
impl Discovery for StaticDiscovery {
    async fn capture_destination(&self, endpoint: &str) -> Result<String, DiscoveryError> {
        self.capture.get(endpoint).cloned().ok_or_else(|| DiscoveryError::NoCapture { endpoint: endpoint.into() })
    }

    async fn baseline(&self, endpoint: &str) -> Result<BaselineUris, DiscoveryError> {
        self.baselines.get(endpoint).cloned().ok_or_else(|| DiscoveryError::NoBaseline { endpoint: endpoint.into() })
    }
}

#[cfg(feature = "aws")]
pub use self::sagemaker::SageMakerDiscovery;

#[cfg(feature = "aws")]
mod sagemaker {
    use aws_sdk_sagemaker::error::ProvideErrorMetadata;
    use aws_sdk_sagemaker::types::{MonitoringConstraintsResource, MonitoringStatisticsResource, MonitoringType};

    use super::{BaselineUris, Discovery, DiscoveryError};
    use crate::aws::error_text;

    /// Lookups through the SageMaker API.
    #[derive(Debug, Clone)]
    pub struct SageMakerDiscovery {
        client: aws_sdk_sagemaker::Client,
    }

    impl SageMakerDiscovery {
        /// Uses `client`.
        pub fn new(client: aws_sdk_sagemaker::Client) -> Self {
            SageMakerDiscovery { client }
        }
    }

    /// Both baseline files, when both are named.
    fn uris(
        stats: Option<&MonitoringStatisticsResource>,
        cons: Option<&MonitoringConstraintsResource>,
    ) -> Option<BaselineUris> {
        let statistics = stats?.s3_uri()?.to_owned();
        let constraints = cons?.s3_uri()?.to_owned();
        Some(BaselineUris { statistics, constraints, schedule: None })
    }

    fn api<E: std::error::Error>(endpoint: &str, e: &E) -> DiscoveryError {
        DiscoveryError::Api { endpoint: endpoint.into(), detail: error_text(e) }
    }

    impl Discovery for SageMakerDiscovery {
        async fn capture_destination(&self, endpoint: &str) -> Result<String, DiscoveryError> {
            let out = match self.client.describe_endpoint().endpoint_name(endpoint).send().await {
                Ok(o) => o,
                Err(e) => {
                    // SageMaker answers ValidationException "Could not find endpoint ...".
                    let svc = e.as_service_error();
                    let missing = svc.and_then(|s| s.code()) == Some("ValidationException")
                        && svc.and_then(|s| s.message()).is_some_and(|m| m.contains("Could not find"));
                    return Err(if missing {
                        DiscoveryError::NoEndpoint { endpoint: endpoint.into() }
                    } else {
                        api(endpoint, &e)
                    });
                }
            };
            let dc = out.data_capture_config();
            match (dc.and_then(|d| d.enable_capture()), dc.and_then(|d| d.destination_s3_uri())) {
                (Some(true), Some(uri)) if !uri.is_empty() => Ok(uri.to_owned()),
                _ => Err(DiscoveryError::NoCapture { endpoint: endpoint.into() }),
            }
        }

        async fn baseline(&self, endpoint: &str) -> Result<BaselineUris, DiscoveryError> {
            let mut names = Vec::new();
            let mut pages = self
                .client
                .list_monitoring_schedules()
                .endpoint_name(endpoint)
                .monitoring_type_equals(MonitoringType::DataQuality)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| api(endpoint, &e))?;
                names.extend(
                    page.monitoring_schedule_summaries()
                        .iter()
                        .filter_map(|s| s.monitoring_schedule_name().map(str::to_owned)),
                );
            }
            names.sort();
            for name in names {
                let out = self
                    .client
                    .describe_monitoring_schedule()
                    .monitoring_schedule_name(&name)
                    .send()
                    .await
                    .map_err(|e| api(endpoint, &e))?;
                let Some(cfg) = out.monitoring_schedule_config() else { continue };
                if let Some(found) = cfg
                    .monitoring_job_definition()
                    .and_then(|d| d.baseline_config())
                    .and_then(|b| uris(b.statistics_resource(), b.constraints_resource()))
                {
                    return Ok(BaselineUris { schedule: Some(name), ..found });
                }
                if let Some(job) = cfg.monitoring_job_definition_name() {
                    let d = self
                        .client
                        .describe_data_quality_job_definition()
                        .job_definition_name(job)
                        .send()
                        .await
                        .map_err(|e| api(endpoint, &e))?;
                    if let Some(found) = d
                        .data_quality_baseline_config()
                        .and_then(|b| uris(b.statistics_resource(), b.constraints_resource()))
                    {
                        return Ok(BaselineUris { schedule: Some(name), ..found });
                    }
                }
            }
            Err(DiscoveryError::NoBaseline { endpoint: endpoint.into() })
        }
    }
}
