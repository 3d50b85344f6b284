//! Seat maps and holds: what an admitted queue token may see and take.

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery, QueueToken};
use super::responses::{
    PollLimited, QueueTokenRefused, RateLimited, RedisDown, RedisOrPostgresDown,
};
use super::state::AppState;
use crate::abuse::Action;
use crate::domain::{MAX_SEAT_NO, ReservationId, ScheduleId, SeatSelection};
use crate::error::{Error, ErrorCode};
use crate::reservation::{Reservation, SeatMap, SeatStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

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
pub(super) struct SeatFilter {
    status: Option<SeatStatusParam>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum SeatStatusParam {
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

/// One date's seat map, for an admitted holder of a queue token of its concert.
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{schedule_id}/seats",
    tag = "reservations",
    security(("queue_token" = [])),
    params(
        ("schedule_id" = ScheduleId, Path, description = "The date"),
        ("status" = Option<SeatStatus>, Query, description = "Only the seats of this status"),
    ),
    responses(
        (status = 200, description = "The seats, ordered by seat number", body = SeatMap),
        (status = 400, description = "`invalid_id` or `invalid_query`", body = ErrorBody),
        QueueTokenRefused,
        (status = 403, description = "`not_admitted`, `token_revoked` or `wrong_concert`", body = ErrorBody),
        (status = 404, description = "`schedule_not_found`", body = ErrorBody),
        PollLimited,
        RedisOrPostgresDown,
    )
)]
pub(super) async fn seats(
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HoldBody {
    pub(super) schedule_id: ScheduleId,
    /// 1 to 4 distinct seat numbers.
    #[schema(value_type = BTreeSet<SeatNumber>, min_items = 1, max_items = 4, example = json!([7, 8]))]
    seat_nos: Vec<i64>,
}

/// A seat number, as the document spells it: 1 to [`MAX_SEAT_NO`] (the
/// request takes any JSON integer; SeatSelection refuses the rest with a 400).
pub(super) struct SeatNumber;

impl utoipa::PartialSchema for SeatNumber {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .maximum(Some(MAX_SEAT_NO))
            .description(Some(format!("A seat number: 1 to {MAX_SEAT_NO}.")))
            .into()
    }
}

impl ToSchema for SeatNumber {}

impl HoldBody {
    pub(super) fn selection(&self) -> Result<SeatSelection, Error> {
        SeatSelection::parse(&self.seat_nos)
            .map_err(|message| Error::invalid(ErrorCode::InvalidSeats, message))
    }
}

/// Holds 1 to 4 seats of one date, all or none, for the concert's hold time,
/// cut short at the admission's deadline (`active_ttl_seconds +
/// hold_ttl_seconds` after admission): a hold extends the admission to its end
/// but never past that deadline, so releasing and holding again gains no time.
#[utoipa::path(
    post,
    path = "/api/v1/reservations",
    tag = "reservations",
    security(("queue_token" = [])),
    request_body = HoldBody,
    responses(
        (status = 201, description = "The seats are held until `held_until`: the hold time, or less near the admission's deadline", body = Reservation),
        (status = 400, description = "`invalid_seats`, `invalid_json`, `invalid_body` or `invalid_content_type`", body = ErrorBody),
        QueueTokenRefused,
        (status = 403, description = "`not_admitted`, `token_revoked` or `wrong_concert`", body = ErrorBody),
        (status = 404, description = "`schedule_not_found`, or `seat_not_found` with `seat_nos`", body = ErrorBody),
        (status = 409, description = "`seat_unavailable` with `seat_nos` (the taken ones), `reservation_exists` with `reservation_id`, `schedule_closed` or `sale_closed`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        RateLimited,
        RedisOrPostgresDown,
    )
)]
pub(super) async fn hold(
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

/// One's own open reservation.
#[utoipa::path(
    get,
    path = "/api/v1/reservations/{reservation_id}",
    tag = "reservations",
    security(("queue_token" = [])),
    params(("reservation_id" = ReservationId, Path, description = "The reservation")),
    responses(
        (status = 200, description = "The reservation", body = Reservation),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        QueueTokenRefused,
        (status = 403, description = "`forbidden` (another user's), `token_revoked` or `wrong_concert`", body = ErrorBody),
        (status = 404, description = "`reservation_not_found`: unknown, paid, released or expired", body = ErrorBody),
        RedisDown,
    )
)]
pub(super) async fn get_one(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    ApiPath(id): ApiPath<ReservationId>,
) -> Result<Json<Reservation>, Error> {
    Ok(Json(state.reservations.get(&claims, id).await?))
}

/// Releases one's own hold.
#[utoipa::path(
    delete,
    path = "/api/v1/reservations/{reservation_id}",
    tag = "reservations",
    security(("queue_token" = [])),
    params(("reservation_id" = ReservationId, Path, description = "The reservation")),
    responses(
        (status = 204, description = "Released: the seats are available again"),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        QueueTokenRefused,
        (status = 403, description = "`forbidden` (another user's), `token_revoked` or `wrong_concert`", body = ErrorBody),
        (status = 404, description = "`reservation_not_found`", body = ErrorBody),
        (status = 409, description = "`payment_in_progress`", body = ErrorBody),
        RedisDown,
    )
)]
pub(super) async fn release(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    ApiPath(id): ApiPath<ReservationId>,
) -> Result<StatusCode, Error> {
    state.reservations.release(&claims, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
