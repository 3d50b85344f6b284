//! The waiting line: joining, polling one's place, leaving.

use super::error::ErrorBody;
use super::extract::{AccessUser, AnyAgeQueueToken, ApiPath, QueueToken};
use super::responses::{
    AccessTokenRefused, PollLimited, QueueFullOrRedisDown, QueueTokenRefused, RateLimited,
    RedisDown,
};
use super::state::AppState;
use crate::abuse::Action;
use crate::domain::ConcertId;
use crate::error::Error;
use crate::queue::QueueTicket;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/concerts/{concert_id}/queue", post(join))
        .route("/api/v1/queue/status", get(status))
        .route("/api/v1/queue", delete(leave))
}

/// 201 for a new place in line, 200 for the place the user already has.
#[utoipa::path(
    post,
    path = "/api/v1/concerts/{concert_id}/queue",
    tag = "queue",
    security(("access_token" = [])),
    params(("concert_id" = ConcertId, Path, description = "The concert to stand in line for")),
    responses(
        (status = 201, description = "A new place in line: the queue token and the position", body = QueueTicket),
        (status = 200, description = "The place the user already has (waiting or admitted), with a fresh token for it: the same `jti`, a new `iat` and `exp` (a way to renew a token)", body = QueueTicket),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        AccessTokenRefused,
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        (status = 409, description = "`sale_closed`: the sale was closed or every date has started", body = ErrorBody),
        RateLimited,
        QueueFullOrRedisDown,
    )
)]
pub(super) async fn join(
    State(state): State<AppState>,
    AccessUser(user): AccessUser,
    ApiPath(concert): ApiPath<ConcertId>,
) -> Result<(StatusCode, Json<QueueTicket>), Error> {
    state.abuse.check_user(Action::Join, user).await?;
    let (ticket, created) = state.queue.join(user, concert).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ticket)))
}

/// Where the queue token stands: its position while waiting, its remaining
/// time once admitted, `expired` once it is no longer valid. An admission ends
/// at most `active_ttl_seconds + hold_ttl_seconds` after it began, whatever is
/// held (only a payment begun before then runs on, by the payment timeout).
#[utoipa::path(
    get,
    path = "/api/v1/queue/status",
    tag = "queue",
    security(("queue_token" = [])),
    responses(
        (status = 200, description = "The ticket; poll again after `poll_after_ms`", body = QueueTicket),
        (status = 401, description = "`missing_token` or `invalid_token`: no queue token, a forged one or an access token", body = ErrorBody),
        PollLimited,
        RedisDown,
    )
)]
pub(super) async fn status(
    State(state): State<AppState>,
    token: AnyAgeQueueToken,
) -> Result<Json<QueueTicket>, Error> {
    Ok(Json(
        state
            .queue
            .status(&token.token, &token.claims, token.past_exp)
            .await?,
    ))
}

/// Leaves the line or gives up the admission; an open reservation is released.
#[utoipa::path(
    delete,
    path = "/api/v1/queue",
    tag = "queue",
    security(("queue_token" = [])),
    responses(
        (status = 204, description = "Out of the line; the token is no longer valid"),
        QueueTokenRefused,
        (status = 403, description = "`token_revoked`", body = ErrorBody),
        (status = 409, description = "`payment_in_progress`: a payment of the open reservation is under way", body = ErrorBody),
        RedisDown,
    )
)]
pub(super) async fn leave(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
) -> Result<StatusCode, Error> {
    state.reservations.release_open(&claims).await?;
    state.queue.leave(&claims).await?;
    Ok(StatusCode::NO_CONTENT)
}
