use super::extract::{ApiJson, ApiPath, ApiQuery, QueueToken};
use crate::abuse::Action;
use crate::app::AppState;
use crate::domain::{ReservationId, ScheduleId, SeatSelection};
use crate::error::Error;
use crate::reservation::{Reservation, SeatMap, SeatStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules/{schedule_id}/seats", get(seats))
        .route("/api/v1/reservations", post(hold))
        .route(
            "/api/v1/reservations/{reservation_id}",
            get(get_one).delete(release),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeatFilter {
    status: Option<SeatStatusParam>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SeatStatusParam {
    Available,
    Held,
    Sold,
}

impl From<SeatStatusParam> for SeatStatus {
    fn from(p: SeatStatusParam) -> Self {
        match p {
            SeatStatusParam::Available => SeatStatus::Available,
            SeatStatusParam::Held => SeatStatus::Held,
            SeatStatusParam::Sold => SeatStatus::Sold,
        }
    }
}

async fn seats(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    ApiPath(schedule): ApiPath<ScheduleId>,
    ApiQuery(filter): ApiQuery<SeatFilter>,
) -> Result<Json<SeatMap>, Error> {
    let only = filter.status.map(SeatStatus::from);
    Ok(Json(
        state.reservations.seat_map(&claims, schedule, only).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HoldBody {
    pub(super) schedule_id: ScheduleId,
    seat_nos: Vec<i64>,
}

impl HoldBody {
    pub(super) fn selection(&self) -> Result<SeatSelection, Error> {
        SeatSelection::parse(&self.seat_nos)
            .map_err(|message| Error::invalid("invalid_seats", message))
    }
}

async fn hold(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    ApiJson(body): ApiJson<HoldBody>,
) -> Result<(StatusCode, Json<Reservation>), Error> {
    state.abuse.check_user(Action::Reserve, claims.sub).await?;
    let selection = body.selection()?;
    let reservation = state
        .reservations
        .hold(&claims, body.schedule_id, &selection)
        .await?;
    Ok((StatusCode::CREATED, Json(reservation)))
}

async fn get_one(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    ApiPath(id): ApiPath<ReservationId>,
) -> Result<Json<Reservation>, Error> {
    Ok(Json(state.reservations.get(&claims, id).await?))
}

async fn release(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    ApiPath(id): ApiPath<ReservationId>,
) -> Result<StatusCode, Error> {
    state.reservations.release(&claims, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
