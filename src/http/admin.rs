use super::extract::{Admin, ApiJson, ApiPath};
use crate::app::AppState;
use crate::catalog::NewConcert;
use crate::domain::{ConcertId, ScheduleId};
use crate::error::Error;
use crate::queue::{QueueSettings, QueueSettingsChange, QueueStats};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/concerts", post(create_concert))
        .route(
            "/admin/v1/concerts/{concert_id}/queue",
            get(queue_settings).put(change_queue_settings),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConcertBody {
    title: String,
    venue: String,
    opens_at: DateTime<Utc>,
    schedules: Vec<ScheduleBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleBody {
    starts_at: DateTime<Utc>,
    seats: Vec<SeatBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SeatBody {
    seat_no: i64,
    price: i64,
}

impl ConcertBody {
    pub(super) fn into_new_concert(self) -> Result<NewConcert, Error> {
        let schedules = self
            .schedules
            .into_iter()
            .map(|s| {
                (
                    s.starts_at,
                    s.seats
                        .into_iter()
                        .map(|seat| (seat.seat_no, seat.price))
                        .collect(),
                )
            })
            .collect();
        NewConcert::parse(&self.title, &self.venue, self.opens_at, schedules)
            .map_err(|message| Error::invalid("invalid_concert", message))
    }
}

#[derive(Serialize)]
struct CreatedSchedule {
    schedule_id: ScheduleId,
    starts_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct CreatedConcert {
    concert_id: ConcertId,
    schedules: Vec<CreatedSchedule>,
}

async fn create_concert(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(body): ApiJson<ConcertBody>,
) -> Result<(StatusCode, Json<CreatedConcert>), Error> {
    let new = body.into_new_concert()?;
    let (concert_id, schedules) = state.catalog.create(&new, state.queue_defaults).await?;
    // A new date has sold nothing: say so in Redis now, so its first hold needs no
    // PostgreSQL read.
    for (schedule_id, _) in &schedules {
        state
            .reservations
            .load_sold(concert_id, *schedule_id)
            .await?;
    }
    tracing::info!(%concert_id, title = %new.title, "concert created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedConcert {
            concert_id,
            schedules: schedules
                .into_iter()
                .map(|(schedule_id, starts_at)| CreatedSchedule {
                    schedule_id,
                    starts_at,
                })
                .collect(),
        }),
    ))
}

#[derive(Serialize)]
struct SettingsWithStats {
    #[serde(flatten)]
    settings: QueueSettings,
    #[serde(flatten)]
    stats: QueueStats,
}

async fn queue_settings(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<SettingsWithStats>, Error> {
    let concert = concert_or_404(&state, concert_id).await?;
    let (settings, stats) = tokio::try_join!(
        state.queue.settings(&concert),
        state.queue.stats(concert_id)
    )?;
    Ok(Json(SettingsWithStats { settings, stats }))
}

async fn change_queue_settings(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
    ApiJson(change): ApiJson<QueueSettingsChange>,
) -> Result<Json<QueueSettings>, Error> {
    let concert = concert_or_404(&state, concert_id).await?;
    let settings = state.queue.update_settings(&concert, &change).await?;
    tracing::info!(%concert_id, ?change, ?settings, "queue settings changed");
    Ok(Json(settings))
}

async fn concert_or_404(
    state: &AppState,
    id: ConcertId,
) -> Result<std::sync::Arc<crate::catalog::Concert>, Error> {
    state
        .catalog
        .concert(id)
        .await?
        .ok_or_else(|| Error::not_found("concert_not_found", "no concert has this id"))
}
