//! Liveness and readiness. Readiness asks the store layer to ping Redis and
//! PostgreSQL; no query is written here.

use super::state::AppState;
use crate::store::postgres;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `ok`, or `unavailable` for a dependency that does not answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Health {
    Ok,
    Unavailable,
}

impl Health {
    fn of(ok: bool) -> Self {
        if ok { Self::Ok } else { Self::Unavailable }
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct Liveness {
    status: Health,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Readiness {
    /// `ok` when both Redis and PostgreSQL answer.
    status: Health,
    redis: Health,
    postgres: Health,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process answers", body = Liveness))
)]
pub(super) async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: Health::Ok })
}

/// Readiness: Redis and PostgreSQL both answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Redis and PostgreSQL answer", body = Readiness),
        (status = 503, description = "Redis or PostgreSQL does not answer", body = Readiness),
    )
)]
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (redis, postgres) = tokio::join!(state.redis.ping(), postgres::ping(&state.db));
    let (redis, postgres) = (redis.is_ok(), postgres.is_ok());
    let status = if redis && postgres {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: Health::of(redis && postgres),
            redis: Health::of(redis),
            postgres: Health::of(postgres),
        }),
    )
}
