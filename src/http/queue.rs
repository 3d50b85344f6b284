use super::extract::{AccessUser, AnyAgeQueueToken, ApiPath, QueueToken};
use crate::abuse::Action;
use crate::app::AppState;
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
async fn join(
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

async fn status(
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
async fn leave(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
) -> Result<StatusCode, Error> {
    state.reservations.release_open(&claims).await?;
    state.queue.leave(&claims).await?;
    Ok(StatusCode::NO_CONTENT)
}
