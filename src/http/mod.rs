//! The HTTP API: one router per area, merged once; the state its handlers
//! share ([`AppState`]); auth extractors; the mapping of
//! [`crate::error::Error`] to responses and the OpenAPI document. The only
//! module that imports axum, and it never builds a Redis key or an SQL string.
//! Self-contained: nothing in `http/` imports `app`, which builds the state
//! and serves this router.

mod admin;
mod concerts;
pub mod connections;
pub mod error;
mod extract;
mod fairness;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod gate;
pub mod guard;
mod health;
mod observe;
pub mod openapi;
mod payments;
mod queue;
pub mod redirect;
mod reservations;
mod responses;
pub mod serve;
pub mod state;
mod users;
mod web;

use crate::config::HttpLimits;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::from_fn_with_state;
pub use state::{AppState, Services};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// The admin API takes larger bodies than the public one: a stadium's seat map.
pub(crate) const ADMIN_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// Two years, subdomains included: what HSTS preload lists ask for.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The metrics listener's router: Prometheus text at `/metrics`.
pub fn metrics_router(handle: metrics_exporter_prometheus::PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}

/// The whole API. `tls` adds `Strict-Transport-Security` to every response;
/// `log_polls` logs status polls at INFO like every other request.
pub fn router(state: AppState, limits: HttpLimits, tls: bool, log_polls: bool) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let api = Router::new()
        .merge(health::router())
        .merge(users::router())
        .merge(concerts::router())
        .merge(fairness::router())
        .merge(queue::router())
        .merge(reservations::router())
        .merge(payments::router())
        .merge(gate::router())
        .route_layer(from_fn_with_state(state.clone(), guard::limit_by_address))
        .route_layer(from_fn_with_state(state.clone(), guard::limit_polls))
        .layer(DefaultBodyLimit::max(limits.body_limit));
    let router = api
        .merge(admin::router().layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT)))
        .merge(gate::unlimited_router())
        .merge(web::router())
        .merge(openapi::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(from_fn_with_state(
            limits.request_timeout,
            guard::time_limit,
        ))
        .layer(from_fn_with_state(log_polls, observe::observe));
    let router = if tls {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ))
    } else {
        router
    };
    router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::from_fn(guard::sanitize_request_id))
}
