//! The admin API: creating concerts, reading and changing a line's settings,
//! pausing, closing a sale, evicting one person; every action audit-logged
//! with the operator's name. Over 400 lines as one file on purpose: eight
//! routes, each with its OpenAPI annotation (about half the lines) and the
//! request and response types private to it, are read together.

use super::error::ErrorBody;
use super::extract::{Admin, ApiJson, ApiPath};
use super::responses::{AdminTokenRefused, RedisOrPostgresDown};
use super::state::AppState;
use crate::catalog::NewConcert;
use crate::domain::{ConcertId, ReservationId, ScheduleId, UserId};
use crate::error::{Error, ErrorCode};
use crate::queue::{QueueSettings, QueueSettingsChange, QueueStats, TicketStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// A new concert: its dates and, per date, every seat with its price.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConcertBody {
    /// One line: no control character (NUL, tab, line break, ...).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: String,
    /// One line: no control character (NUL, tab, line break, ...).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    venue: String,
    /// When the line opens.
    opens_at: DateTime<Utc>,
    #[schema(min_items = 1, max_items = 100)]
    schedules: Vec<ScheduleBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleBody {
    starts_at: DateTime<Utc>,
    #[schema(min_items = 1, max_items = 100_000)]
    seats: Vec<SeatBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SeatBody {
    /// 1 or more, unique within the date.
    #[schema(minimum = 1, maximum = 2_147_483_647)]
    seat_no: i64,
    /// In won.
    #[schema(minimum = 0, maximum = 100_000_000)]
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
            .map_err(|message| Error::invalid(ErrorCode::InvalidConcert, message))
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct CreatedSchedule {
    schedule_id: ScheduleId,
    starts_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct CreatedConcert {
    concert_id: ConcertId,
    schedules: Vec<CreatedSchedule>,
}

/// Creates a concert with its dates and seats; its line starts with the
/// server's default queue settings.
#[utoipa::path(
    post,
    path = "/admin/v1/concerts",
    tag = "admin",
    security(("admin_token" = [])),
    request_body = ConcertBody,
    responses(
        (status = 201, description = "Created; the ids of the concert and its dates", body = CreatedConcert),
        (status = 400, description = "`invalid_concert` (empty title, a control character in the title or venue, no dates, a seat number below 1 or twice, a negative price, ...), `invalid_json`, `invalid_body` or `invalid_content_type`", body = ErrorBody),
        AdminTokenRefused,
        (status = 413, description = "`body_too_large` (over 32 MiB)", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn create_concert(
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

#[derive(Serialize, ToSchema)]
pub(super) struct SettingsWithStats {
    #[serde(flatten)]
    settings: QueueSettings,
    #[serde(flatten)]
    stats: QueueStats,
    /// Whether PostgreSQL holds these settings. False after a change made
    /// while PostgreSQL was unreachable: the settings are in force on every
    /// server (Redis) and each server's sync writes them to PostgreSQL once it
    /// answers.
    durable: bool,
}

/// The settings now in force, and whether PostgreSQL has them yet.
#[derive(Serialize, ToSchema)]
pub(super) struct SettingsChanged {
    #[serde(flatten)]
    settings: QueueSettings,
    /// True once PostgreSQL holds the change. False when PostgreSQL did not
    /// answer in time: the change is in force on every server all the same
    /// (it lives in Redis), and is written to PostgreSQL by each server's
    /// background sync as soon as PostgreSQL answers (`GET .../queue` reads
    /// `durable: true` then).
    durable: bool,
}

/// A concert's live queue settings and line.
#[utoipa::path(
    get,
    path = "/admin/v1/concerts/{concert_id}/queue",
    tag = "admin",
    security(("admin_token" = [])),
    params(("concert_id" = ConcertId, Path, description = "The concert")),
    responses(
        (status = 200, description = "The settings, with how many wait and how many are admitted", body = SettingsWithStats),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        AdminTokenRefused,
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn queue_settings(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<SettingsWithStats>, Error> {
    let concert = state.catalog.existing_concert(concert_id).await?;
    let (live, stats) = tokio::try_join!(
        state.queue.live_settings(&concert),
        state.queue.stats(concert_id)
    )?;
    Ok(Json(SettingsWithStats {
        settings: live.settings,
        stats,
        durable: live.durable(),
    }))
}

/// Changes any subset of a concert's queue settings, at once on every server.
#[utoipa::path(
    put,
    path = "/admin/v1/concerts/{concert_id}/queue",
    tag = "admin",
    security(("admin_token" = [])),
    params(("concert_id" = ConcertId, Path, description = "The concert")),
    request_body = QueueSettingsChange,
    responses(
        (status = 200, description = "The settings now in force (on every server at once, whatever PostgreSQL's state), and whether PostgreSQL has them yet", body = SettingsChanged),
        (status = 400, description = "`invalid_settings` (a value out of range), `invalid_id`, `invalid_json`, `invalid_body` or `invalid_content_type`", body = ErrorBody),
        AdminTokenRefused,
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn change_queue_settings(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
    ApiJson(change): ApiJson<QueueSettingsChange>,
) -> Result<Json<SettingsChanged>, Error> {
    change_settings(&state, &admin, concert_id, change, "change_settings").await
}

/// Stops admitting from the line (people keep their places).
#[utoipa::path(
    post,
    path = "/admin/v1/concerts/{concert_id}/queue/pause",
    tag = "admin",
    security(("admin_token" = [])),
    params(("concert_id" = ConcertId, Path, description = "The concert")),
    responses(
        (status = 200, description = "The settings now in force (on every server at once, whatever PostgreSQL's state), and whether PostgreSQL has them yet", body = SettingsChanged),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        AdminTokenRefused,
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn pause(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<SettingsChanged>, Error> {
    let change = QueueSettingsChange {
        paused: Some(true),
        ..Default::default()
    };
    change_settings(&state, &admin, concert_id, change, "pause").await
}

/// Admits from the line again.
#[utoipa::path(
    post,
    path = "/admin/v1/concerts/{concert_id}/queue/resume",
    tag = "admin",
    security(("admin_token" = [])),
    params(("concert_id" = ConcertId, Path, description = "The concert")),
    responses(
        (status = 200, description = "The settings now in force (on every server at once, whatever PostgreSQL's state), and whether PostgreSQL has them yet", body = SettingsChanged),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        AdminTokenRefused,
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn resume(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<SettingsChanged>, Error> {
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
) -> Result<Json<SettingsChanged>, Error> {
    let concert = state.catalog.existing_concert(concert_id).await?;
    let (settings, durable) = state.queue.update_settings(&concert, &change).await?;
    tracing::info!(target: AUDIT, operator = %admin.name, action, %concert_id, ?change, ?settings, durable, "queue settings changed");
    Ok(Json(SettingsChanged { settings, durable }))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Closed {
    concert_id: ConcertId,
    closed_at: DateTime<Utc>,
    /// People still waiting when the sale closed; their tickets read `expired`.
    dismissed: u64,
    /// True once PostgreSQL records the closing; false when it did not answer
    /// in time (the sale is closed on every server all the same, and each
    /// server's sync records it once PostgreSQL answers).
    durable: bool,
}

/// Ends the sale: no more joins, admissions or holds; the line is dismissed.
#[utoipa::path(
    post,
    path = "/admin/v1/concerts/{concert_id}/close",
    tag = "admin",
    security(("admin_token" = [])),
    params(("concert_id" = ConcertId, Path, description = "The concert")),
    responses(
        (status = 200, description = "Closed: what is held may still be paid", body = Closed),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        AdminTokenRefused,
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn close_sale(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<Closed>, Error> {
    let concert = state.catalog.existing_concert(concert_id).await?;
    let (closed_at, dismissed, durable) = state.queue.close(&concert).await?;
    tracing::info!(target: AUDIT, operator = %admin.name, action = "close", %concert_id, dismissed, durable, "sale closed");
    Ok(Json(Closed {
        concert_id,
        closed_at,
        dismissed,
        durable,
    }))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Evicted {
    user_id: UserId,
    /// Where they stood: `waiting` or `active`.
    was: TicketStatus,
    /// Their open reservation, released; null when they held none.
    #[schema(required = true)]
    released_reservation_id: Option<ReservationId>,
}

/// Removes one person from the line or their admission, releasing their held
/// seats (a payment already under way is left to finish).
#[utoipa::path(
    delete,
    path = "/admin/v1/concerts/{concert_id}/queue/users/{user_id}",
    tag = "admin",
    security(("admin_token" = [])),
    params(
        ("concert_id" = ConcertId, Path, description = "The concert"),
        ("user_id" = UserId, Path, description = "The person to remove"),
    ),
    responses(
        (status = 200, description = "Removed; their held seats released", body = Evicted),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        AdminTokenRefused,
        (status = 404, description = "`concert_not_found`, or `not_in_line`: neither waiting nor admitted", body = ErrorBody),
        RedisOrPostgresDown,
    )
)]
pub(super) async fn evict(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath((concert_id, user_id)): ApiPath<(ConcertId, UserId)>,
) -> Result<Json<Evicted>, Error> {
    state.catalog.existing_concert(concert_id).await?;
    let (was, reservation) = state
        .queue
        .evict(concert_id, user_id)
        .await?
        .ok_or(Error::NOT_IN_LINE)?;
    let mut released = None;
    if let Some(id) = reservation {
        match state.reservations.release_of(concert_id, user_id, id).await {
            Ok(()) => released = Some(id),
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::PaymentInProgress | ErrorCode::ReservationNotFound
                ) => {}
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

#[derive(Serialize, ToSchema)]
pub(super) struct ScheduleStats {
    schedule_id: ScheduleId,
    starts_at: DateTime<Utc>,
    total_seats: u64,
    sold_seats: u64,
    held_seats: u64,
    available_seats: u64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ConcertStats {
    concert_id: ConcertId,
    title: String,
    venue: String,
    opens_at: DateTime<Utc>,
    /// When an operator closed the sale; null while it is open.
    #[schema(required = true)]
    closed_at: Option<DateTime<Utc>>,
    settings: QueueSettings,
    #[serde(flatten)]
    stats: QueueStats,
    schedules: Vec<ScheduleStats>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ConcertsStats {
    concerts: Vec<ConcertStats>,
}

/// Every concert with its live line and seats.
#[utoipa::path(
    get,
    path = "/admin/v1/concerts",
    tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Every concert with its settings, line and seats per date", body = ConcertsStats),
        AdminTokenRefused,
        RedisOrPostgresDown,
    )
)]
pub(super) async fn list_concerts(
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
