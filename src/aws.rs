//! The one place that sets up AWS clients: a pinned behaviour version (an SDK upgrade cannot
//! silently change retries, timeouts or checksums), standard retries, timeouts, and path-style
//! S3 when the endpoint is overridden (`AWS_ENDPOINT_URL`, e.g. the moto server in tests).
//! Credentials and region come from the standard chain (environment, profile, ECS task role,
//! EKS pod identity or IRSA, instance metadata).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The pinned SDK behaviour version.
pub fn behavior_version() -> BehaviorVersion {
    BehaviorVersion::v2026_01_12()
}

/// Loads the shared SDK configuration from the environment.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// The configuration loader with the pinned behaviour version, retries and timeouts; tests add
/// an endpoint, a region and credentials before loading.
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(behavior_version()).retry_config(RetryConfig::standard().with_max_attempts(4)).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(30))
            .operation_timeout(Duration::from_secs(90))
            .build(),
    )
}

/// An S3 client; path-style addressing when the endpoint is overridden.
pub fn s3(conf: &SdkConfig) -> aws_sdk_s3::Client {
    let b = aws_sdk_s3::config::Builder::from(conf)
        .force_path_style(conf.endpoint_url().is_some())
        .interceptor(CallCounter { service: "s3" });
    aws_sdk_s3::Client::from_conf(b.build())
}

/// An EventBridge client.
pub fn eventbridge(conf: &SdkConfig) -> aws_sdk_eventbridge::Client {
    let b = aws_sdk_eventbridge::config::Builder::from(conf).interceptor(CallCounter { service: "events" });
    aws_sdk_eventbridge::Client::from_conf(b.build())
}

/// An SQS client (object notifications).
pub fn sqs(conf: &SdkConfig) -> aws_sdk_sqs::Client {
    let b = aws_sdk_sqs::config::Builder::from(conf).interceptor(CallCounter { service: "sqs" });
    aws_sdk_sqs::Client::from_conf(b.build())
}

/// A SageMaker client (discovery only).
pub fn sagemaker(conf: &SdkConfig) -> aws_sdk_sagemaker::Client {
    let b = aws_sdk_sagemaker::config::Builder::from(conf).interceptor(CallCounter { service: "sagemaker" });
    aws_sdk_sagemaker::Client::from_conf(b.build())
}

/// Counts every AWS call, every attempt (a retry is an attempt beyond the first) and every call
/// that failed after its retries (a 404 for a missing object is an answer, not counted), per
/// service, so that throttling and a flaky network show in
/// `/metrics` (`driftwatch_aws_calls_total`, `driftwatch_aws_attempts_total`,
/// `driftwatch_aws_failures_total`).
#[derive(Debug)]
struct CallCounter {
    service: &'static str,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl aws_sdk_s3::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "driftwatch-call-counter"
    }

    fn read_before_execution(
        &self,
        _context: &aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), BoxError> {
        metrics::counter!(crate::telemetry::AWS_CALLS, "service" => self.service).increment(1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), BoxError> {
        metrics::counter!(crate::telemetry::AWS_ATTEMPTS, "service" => self.service).increment(1);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &aws_sdk_s3::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), BoxError> {
        // A missing object (404: a checkpoint not written yet) is an answer, not a failure.
        let missing = context.response().is_some_and(|r| r.status().as_u16() == 404);
        if matches!(context.output_or_error(), Some(Err(_))) && !missing {
            metrics::counter!(crate::telemetry::AWS_FAILURES, "service" => self.service).increment(1);
        }
        Ok(())
    }
}

/// Formats an SDK error with its whole chain (service code and message included).
pub fn error_text<E: std::error::Error>(e: &E) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}
