//! One log line and two metrics per request: method, route (the matched
//! pattern, not the path, so ids do not explode the label set), status and
//! latency, under a span carrying the request id that is also returned in
//! `x-request-id`.

use crate::telemetry::metrics as m;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// Routes polled all the time: logged at DEBUG unless `log_polls`.
const POLLED_ROUTES: &[&str] = &["/api/v1/queue/status", "/healthz", "/readyz"];

pub async fn observe(State(log_polls): State<bool>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let span = tracing::info_span!("request", %method, %route, %request_id);
    let response = next.run(request).instrument(span.clone()).await;

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!(m::HTTP_REQUESTS, "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(m::HTTP_DURATION, "method" => method.to_string(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let _entered = span.enter();
    if !log_polls && POLLED_ROUTES.contains(&route.as_str()) {
        tracing::debug!(status, latency_ms, "request");
    } else {
        tracing::info!(status, latency_ms, "request");
    }
    response
}
