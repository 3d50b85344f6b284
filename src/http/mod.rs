//! The HTTP API: one router per area, merged once; auth extractors; the mapping
//! of [`crate::error::Error`] to responses. The only module that imports axum,
//! and it never builds a Redis key or an SQL string.

mod admin;
mod concerts;
pub mod error;
mod extract;
mod health;
mod payments;
mod queue;
mod reservations;
mod users;

use crate::app::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Largest request body; the admin API takes larger ones (a stadium's seat map).
const BODY_LIMIT: usize = 64 * 1024;
pub(crate) const ADMIN_BODY_LIMIT: usize = 32 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(health::router())
        .merge(users::router())
        .merge(concerts::router())
        .merge(queue::router())
        .merge(reservations::router())
        .merge(payments::router())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(admin::router().layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT)))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
