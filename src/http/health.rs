use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Liveness: the process answers.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: Redis and PostgreSQL both answer.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (redis, postgres) = tokio::join!(
        state.redis.ping(),
        sqlx::query("SELECT 1").execute(&state.db)
    );
    let (redis, postgres) = (redis.is_ok(), postgres.is_ok());
    let status = if redis && postgres {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(
            json!({ "status": word(redis && postgres), "redis": word(redis), "postgres": word(postgres) }),
        ),
    )
}
