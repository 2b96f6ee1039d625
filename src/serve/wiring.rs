//! Wires the service to AWS: clients, stores, discovery, the event bus, Prometheus, the HTTP
//! endpoints and the signals. `main` calls [`serve`]; the Lambda handler [`aws_service`].

use std::sync::Arc;
use std::time::Duration as StdDuration;

use metrics_exporter_prometheus::PrometheusBuilder;

use aws_config::SdkConfig;

use super::{http, run, Clock, ServeError, Service, SystemClock};
use crate::config::Config;
use crate::discovery::SageMakerDiscovery;
use crate::notify::Queue as _;
use crate::publish::eventbridge::EventBridgeBus;
use crate::store::{AnyStore, Location, ObjectStore, StoreError};

/// The environment variable naming the configuration (a path or an `s3://` URI).
pub const CONFIG_AT: &str = "DRIFTWATCH_CONFIG";
/// The environment variable holding the TOML configuration itself (containers without a
/// config file, Lambda).
pub const CONFIG_TEXT: &str = "DRIFTWATCH_CONFIG_TEXT";

/// Loads the configuration from `at` (a path or an `s3://` URI) or, without it, from
/// [`CONFIG_TEXT`]; `DRIFTWATCH_<SECTION>_<KEY>` overrides apply either way.
pub async fn load_config(at: Option<&str>, sdk: &SdkConfig) -> Result<Config, ServeError> {
    let err = |e: crate::config::ConfigError| ServeError::Config(e.to_string());
    let Some(at) = at else {
        return match std::env::var(CONFIG_TEXT) {
            Ok(text) => Config::from_toml(&text, CONFIG_TEXT, std::env::vars()).map_err(err),
            Err(_) => Err(ServeError::Config(format!(
                "no configuration: pass --config (a path or an s3:// URI), or set {CONFIG_AT} or {CONFIG_TEXT} (the TOML)"
            ))),
        };
    };
    if !at.starts_with("s3://") {
        return Config::load(std::path::Path::new(at)).map_err(err);
    }
    let (dir, file) = at.rsplit_once('/').unwrap_or((at, ""));
    let store = AnyStore::open(&Location::parse(dir), Some(&crate::aws::s3(sdk)))?;
    let bytes = store.get(file).await?.ok_or_else(|| ServeError::Config(format!("{at}: not found")))?;
    let text = String::from_utf8(bytes).map_err(|_| ServeError::Config(format!("{at}: not UTF-8 text")))?;
    Config::from_toml(&text, at, std::env::vars()).map_err(err)
}

/// The service wired to AWS (S3 stores, SageMaker discovery, the EventBridge bus), loaded and
/// ready for its first poll; shared by `serve` and the Lambda handler.
pub async fn aws_service(
    config: &Config,
    sdk: &SdkConfig,
    clock: Arc<dyn Clock>,
) -> Result<Service<AnyStore, EventBridgeBus>, ServeError> {
    let s3 = crate::aws::s3(sdk);
    let discovery = SageMakerDiscovery::new(crate::aws::sagemaker(sdk));
    let bus = config.events.bus.as_ref().map(|b| EventBridgeBus::new(crate::aws::eventbridge(sdk), b.clone()));
    let settings = config.events.settings(sdk.region().map(|r| r.as_ref()));
    if !settings.account_known() {
        tracing::warn!("no account known (set [events] account or give the bus as an ARN): events carry no resources");
    }
    let factory = Box::new(move |loc: &Location| -> Result<AnyStore, StoreError> { AnyStore::open(loc, Some(&s3)) });
    let mut service = Service::start(config, &discovery, factory, bus, clock, settings).await?;
    if let Some(w) = &config.workers {
        service.set_workers(super::lease::Leases::new(super::lease::Leases::worker_id(), w.lease));
    }
    if let Some(n) = &config.notifications {
        let queue = crate::notify::sqs::SqsQueue::open(crate::aws::sqs(sdk), &n.queue)
            .await
            .map_err(|e| ServeError::Notifications(e.to_string()))?;
        tracing::info!(queue = %queue.name(), sweep = %n.sweep, "reading object notifications");
        service.set_notifications(Arc::new(queue), n.sweep);
    }
    Ok(service)
}

/// Start attempts when S3, SageMaker or the network fail in a way that may pass (throttled, cut
/// off): about four minutes with the pauses below, long enough to ride out an outage a
/// container orchestrator would otherwise turn into a crash loop.
const START_ATTEMPTS: u32 = 10;
/// The pause after the first failed start; doubled after each next one, up to
/// [`START_PAUSE_MAX`].
const START_PAUSE: StdDuration = StdDuration::from_secs(1);
/// The longest pause between two starts.
const START_PAUSE_MAX: StdDuration = StdDuration::from_secs(60);

/// [`aws_service`], again after a pause when it failed for a reason that may pass
/// ([`ServeError::is_transient`]); a configuration problem fails at once.
async fn start_with_retries(
    config: &Config,
    sdk: &SdkConfig,
    clock: Arc<dyn Clock>,
) -> Result<Service<AnyStore, EventBridgeBus>, ServeError> {
    let (mut pause, mut attempt) = (START_PAUSE, 1);
    loop {
        match aws_service(config, sdk, clock.clone()).await {
            Err(e) if e.is_transient() && attempt < START_ATTEMPTS => {
                tracing::warn!(attempt, error = %e, pause_s = pause.as_secs(), "cannot start yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(START_PAUSE_MAX);
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Runs `driftwatch serve` until SIGTERM or SIGINT, then flushes within `shutdown_timeout`;
/// the configuration comes from `config_at` or the environment ([`load_config`]).
pub async fn serve(config_at: Option<&str>, shutdown_timeout: StdDuration) -> Result<(), ServeError> {
    let sdk = crate::aws::sdk_config().await;
    let config = load_config(config_at, &sdk).await?;
    let clock = Arc::new(SystemClock);
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| ServeError::Config(format!("metrics recorder: {e}")))?;
    crate::telemetry::describe();
    let service = start_with_retries(&config, &sdk, clock.clone()).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = http::router(service.health(), clock, config.server.unhealthy_after, prometheus);
    let mut http_rx = stop_rx.clone();
    let addr = config.server.listen;
    let server = tokio::spawn(async move {
        http::serve(addr, app, async move {
            let _ = http_rx.changed().await;
        })
        .await
    });
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut run_rx = stop_rx;
    let result = run(
        service,
        async move {
            let _ = run_rx.changed().await;
        },
        shutdown_timeout,
    )
    .await;
    match tokio::time::timeout(StdDuration::from_secs(2), server).await {
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "http server failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "http server task failed"),
        _ => {}
    }
    tracing::info!("stopped");
    result
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; SIGINT only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
