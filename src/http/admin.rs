use super::extract::{Admin, ApiJson, ApiPath};
use crate::app::AppState;
use crate::catalog::NewConcert;
use crate::domain::{ConcertId, ReservationId, ScheduleId, UserId};
use crate::error::Error;
use crate::queue::{QueueSettings, QueueSettingsChange, QueueStats, TicketStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What operators do is logged under this target, with their name.
const AUDIT: &str = "lineup::audit";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/concerts",
            post(create_concert).get(list_concerts),
        )
        .route(
            "/admin/v1/concerts/{concert_id}/queue",
            get(queue_settings).put(change_queue_settings),
        )
        .route("/admin/v1/concerts/{concert_id}/queue/pause", post(pause))
        .route("/admin/v1/concerts/{concert_id}/queue/resume", post(resume))
        .route("/admin/v1/concerts/{concert_id}/close", post(close_sale))
        .route(
            "/admin/v1/concerts/{concert_id}/queue/users/{user_id}",
            delete(evict),
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
    admin: Admin,
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
    tracing::info!(target: AUDIT, operator = %admin.name, action = "create_concert", %concert_id, title = %new.title, "concert created");
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
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
    ApiJson(change): ApiJson<QueueSettingsChange>,
) -> Result<Json<QueueSettings>, Error> {
    change_settings(&state, &admin, concert_id, change, "change_settings").await
}

async fn pause(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<QueueSettings>, Error> {
    let change = QueueSettingsChange {
        paused: Some(true),
        ..Default::default()
    };
    change_settings(&state, &admin, concert_id, change, "pause").await
}

async fn resume(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<QueueSettings>, Error> {
    let change = QueueSettingsChange {
        paused: Some(false),
        ..Default::default()
    };
    change_settings(&state, &admin, concert_id, change, "resume").await
}

async fn change_settings(
    state: &AppState,
    admin: &Admin,
    concert_id: ConcertId,
    change: QueueSettingsChange,
    action: &'static str,
) -> Result<Json<QueueSettings>, Error> {
    let concert = concert_or_404(state, concert_id).await?;
    let settings = state.queue.update_settings(&concert, &change).await?;
    tracing::info!(target: AUDIT, operator = %admin.name, action, %concert_id, ?change, ?settings, "queue settings changed");
    Ok(Json(settings))
}

#[derive(Serialize)]
struct Closed {
    concert_id: ConcertId,
    closed_at: DateTime<Utc>,
    /// People still waiting when the sale closed; their tickets read `expired`.
    dismissed: u64,
}

/// Ends the sale: no more joins, admissions or holds; the line is dismissed.
async fn close_sale(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<Closed>, Error> {
    concert_or_404(&state, concert_id).await?;
    let (closed_at, dismissed) = state.queue.close(concert_id).await?;
    tracing::info!(target: AUDIT, operator = %admin.name, action = "close", %concert_id, dismissed, "sale closed");
    Ok(Json(Closed {
        concert_id,
        closed_at,
        dismissed,
    }))
}

#[derive(Serialize)]
struct Evicted {
    user_id: UserId,
    /// Where they stood: `waiting` or `active`.
    was: TicketStatus,
    /// Their open reservation, released; null when they held none.
    released_reservation_id: Option<ReservationId>,
}

/// Removes one person from the line or their admission, releasing their held
/// seats (a payment already under way is left to finish).
async fn evict(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath((concert_id, user_id)): ApiPath<(ConcertId, UserId)>,
) -> Result<Json<Evicted>, Error> {
    concert_or_404(&state, concert_id).await?;
    let (was, reservation) = state
        .queue
        .evict(concert_id, user_id)
        .await?
        .ok_or_else(|| {
            Error::not_found("not_in_line", "this user is neither waiting nor admitted")
        })?;
    let mut released = None;
    if let Some(id) = reservation {
        match state.reservations.release_of(concert_id, user_id, id).await {
            Ok(()) => released = Some(id),
            Err(e) if e.is_code("payment_in_progress") || e.is_code("reservation_not_found") => {}
            Err(e) => return Err(e),
        }
    }
    tracing::info!(target: AUDIT, operator = %admin.name, action = "evict", %concert_id, %user_id, ?was, released = ?released, "user evicted");
    Ok(Json(Evicted {
        user_id,
        was,
        released_reservation_id: released,
    }))
}

#[derive(Serialize)]
struct ScheduleStats {
    schedule_id: ScheduleId,
    starts_at: DateTime<Utc>,
    total_seats: u64,
    sold_seats: u64,
    held_seats: u64,
    available_seats: u64,
}

#[derive(Serialize)]
struct ConcertStats {
    concert_id: ConcertId,
    title: String,
    venue: String,
    opens_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    settings: QueueSettings,
    #[serde(flatten)]
    stats: QueueStats,
    schedules: Vec<ScheduleStats>,
}

#[derive(Serialize)]
struct ConcertsStats {
    concerts: Vec<ConcertStats>,
}

/// Every concert with its live line and seats.
async fn list_concerts(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<ConcertsStats>, Error> {
    let snapshot = state.catalog.snapshot();
    let mut concerts = Vec::with_capacity(snapshot.concerts.len());
    for concert in &snapshot.concerts {
        let schedules: Vec<_> = snapshot.schedules_of(concert).cloned().collect();
        let (settings, stats, counts) = tokio::try_join!(
            state.queue.settings(concert),
            state.queue.stats(concert.id),
            state.reservations.seat_counts(concert.id, &schedules),
        )?;
        concerts.push(ConcertStats {
            concert_id: concert.id,
            title: concert.title.clone(),
            venue: concert.venue.clone(),
            opens_at: concert.opens_at,
            closed_at: concert.closed_at,
            settings,
            stats,
            schedules: schedules
                .iter()
                .zip(counts)
                .map(|(s, c)| ScheduleStats {
                    schedule_id: s.id,
                    starts_at: s.starts_at,
                    total_seats: c.total,
                    sold_seats: c.sold,
                    held_seats: c.held,
                    available_seats: c.available(),
                })
                .collect(),
        });
    }
    Ok(Json(ConcertsStats { concerts }))
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
