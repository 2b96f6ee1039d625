//! `/healthz` and `/metrics`. Neither exposes data: health says whether each monitor polled
//! recently; metrics are counts, bytes and lags labelled by stream.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use super::{Clock, Health};
use crate::time::Duration;

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    clock: Arc<dyn Clock>,
    unhealthy_after: Duration,
    metrics: PrometheusHandle,
}

/// Builds the router.
pub fn router(
    health: Arc<Health>,
    clock: Arc<dyn Clock>,
    unhealthy_after: Duration,
    metrics: PrometheusHandle,
) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(prometheus)).with_state(AppState {
        health,
        clock,
        unhealthy_after,
        metrics,
    })
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let (ok, ages) = s.health.check(s.clock.now(), s.unhealthy_after);
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "unhealthy" },
        "unhealthyAfterSeconds": s.unhealthy_after.millis() / 1000,
        "monitors": ages.iter().map(|(m, a)| serde_json::json!({"endpoint": m, "secondsSinceLastPoll": a})).collect::<Vec<_>>(),
    });
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [("content-type", "application/json")], body.to_string())
}

async fn prometheus(State(s): State<AppState>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], s.metrics.render())
}

/// Serves the router on `addr` until `stop` resolves.
pub async fn serve(
    addr: SocketAddr,
    app: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /healthz and /metrics");
    axum::serve(listener, app).with_graceful_shutdown(stop).await
}
