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

/// Asks a `/healthz` URL (`http://host:port/path`) for its status code, within `timeout`: the
/// `driftwatch healthcheck` command, for container health checks in an image with no shell or
/// curl.
pub fn probe(url: &str, timeout: std::time::Duration) -> Result<u16, String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// URLs are probed"))?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{url}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| format!("{url}: {e}"))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| format!("{url}: {e}"))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("{url}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| format!("{url}: {e}"))?;
    let text = String::from_utf8_lossy(&head[..n]);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("{url}: not an HTTP answer"))
}
