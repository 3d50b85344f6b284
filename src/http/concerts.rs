//! What is on sale: the concerts and their bookable dates, served from the
//! catalog in memory.

use super::error::ErrorBody;
use super::extract::ApiPath;
use super::responses::{RedisOrPostgresDown, TimedOut};
use super::state::AppState;
use crate::domain::{ConcertId, ScheduleId};
use crate::error::Error;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/concerts", get(list))
        .route("/api/v1/concerts/{concert_id}/schedules", get(schedules))
}

#[derive(Serialize, ToSchema)]
pub(super) struct ConcertView {
    concert_id: ConcertId,
    title: String,
    venue: String,
    /// When the sale opens (or opened: then it is on sale now).
    opens_at: DateTime<Utc>,
    /// The start of each date not yet begun, earliest first.
    dates: Vec<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Concerts {
    concerts: Vec<ConcertView>,
}

/// The concerts still on sale or announced: not closed, with a date not yet
/// begun. Finished, closed and retired sales are not listed.
#[utoipa::path(
    get,
    path = "/api/v1/concerts",
    tag = "concerts",
    responses(
        (status = 200, description = "The concerts still on sale, with their dates to come", body = Concerts),
        TimedOut,
    )
)]
pub(super) async fn list(State(state): State<AppState>) -> Json<Concerts> {
    let snapshot = state.catalog.snapshot();
    let now = Utc::now();
    let concerts = snapshot
        .concerts
        .iter()
        .filter(|c| snapshot.on_sale(c, now))
        .map(|c| ConcertView {
            concert_id: c.id,
            title: c.title.clone(),
            venue: c.venue.clone(),
            opens_at: c.opens_at,
            dates: snapshot
                .schedules_of(c)
                .filter(|s| !s.has_started(now))
                .map(|s| s.starts_at)
                .collect(),
        })
        .collect();
    Json(Concerts { concerts })
}

#[derive(Serialize, ToSchema)]
pub(super) struct ScheduleView {
    schedule_id: ScheduleId,
    concert_id: ConcertId,
    starts_at: DateTime<Utc>,
    /// The day of `starts_at` (UTC), `YYYY-MM-DD`.
    #[schema(format = Date)]
    date: String,
    total_seats: u64,
    available_seats: u64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Schedules {
    schedules: Vec<ScheduleView>,
}

/// Bookable dates: not started, at least one seat neither sold nor held.
#[utoipa::path(
    get,
    path = "/api/v1/concerts/{concert_id}/schedules",
    tag = "concerts",
    params(("concert_id" = ConcertId, Path, description = "The concert")),
    responses(
        (status = 200, description = "The concert's bookable dates, with the seats still available (total - sold - held)", body = Schedules),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn schedules(
    State(state): State<AppState>,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<Schedules>, Error> {
    let concert = state.catalog.existing_concert(concert_id).await?;
    let now = Utc::now();
    let snapshot = state.catalog.snapshot();
    let upcoming: Vec<Arc<crate::catalog::Schedule>> = snapshot
        .schedules_of(&concert)
        .filter(|s| !s.has_started(now))
        .cloned()
        .collect();
    let counts = state
        .reservations
        .seat_counts(concert_id, &upcoming)
        .await?;
    let schedules = upcoming
        .iter()
        .zip(counts)
        .filter(|(_, counts)| counts.available() > 0)
        .map(|(s, counts)| ScheduleView {
            schedule_id: s.id,
            concert_id,
            starts_at: s.starts_at,
            date: s.starts_at.format("%Y-%m-%d").to_string(),
            total_seats: s.total_seats() as u64,
            available_seats: counts.available(),
        })
        .collect();
    Ok(Json(Schedules { schedules }))
}
