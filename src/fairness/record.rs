//! The draw's durable half: each concert's seed (made at creation, published as
//! a commitment before the opening) and, once drawn, the list of the people it
//! ordered. PostgreSQL is the one place every server agrees on: the first
//! server to record a draw fixes its list for all.

use super::new_seed;
use crate::domain::ConcertId;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A recorded draw: who was in the pre-queue, and when it was drawn.
#[derive(Clone, Debug)]
pub struct Draw {
    pub joiners: Vec<Uuid>,
    pub drawn_at: DateTime<Utc>,
}

/// The concert's 32-byte seed. A concert made before seeds existed gets one
/// now, once (the first writer's stands).
pub(super) async fn seed(pool: &PgPool, concert: ConcertId) -> Result<Vec<u8>> {
    let stored: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT draw_seed FROM concerts WHERE concert_id = $1")
            .bind(concert.as_uuid())
            .fetch_optional(pool)
            .await?;
    if let Some(Some(seed)) = stored {
        return Ok(seed);
    }
    let seed: Option<Vec<u8>> = sqlx::query_scalar(
        "UPDATE concerts SET draw_seed = COALESCE(draw_seed, $2)
         WHERE concert_id = $1 RETURNING draw_seed",
    )
    .bind(concert.as_uuid())
    .bind(new_seed().to_vec())
    .fetch_optional(pool)
    .await?
    .flatten();
    seed.ok_or(Error::CONCERT_NOT_FOUND)
}

/// Records the pre-queue's joiners, sorted, unless a draw is already recorded;
/// returns the recorded draw either way.
pub(super) async fn record(pool: &PgPool, concert: ConcertId, joiners: &[Uuid]) -> Result<Draw> {
    let mut sorted = joiners.to_vec();
    sorted.sort();
    sorted.dedup();
    sqlx::query(
        "INSERT INTO concert_draws (concert_id, joiners) VALUES ($1, $2)
         ON CONFLICT (concert_id) DO NOTHING",
    )
    .bind(concert.as_uuid())
    .bind(&sorted)
    .execute(pool)
    .await?;
    recorded(pool, concert)
        .await?
        .ok_or_else(|| Error::internal("a recorded draw is missing"))
}

/// Whether the concert's draw has been recorded, without reading its list.
pub(super) async fn is_drawn(pool: &PgPool, concert: ConcertId) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM concert_draws WHERE concert_id = $1)")
            .bind(concert.as_uuid())
            .fetch_one(pool)
            .await?,
    )
}

/// The recorded draw of a concert, if it has been made.
pub(super) async fn recorded(pool: &PgPool, concert: ConcertId) -> Result<Option<Draw>> {
    let row: Option<(Vec<Uuid>, DateTime<Utc>)> =
        sqlx::query_as("SELECT joiners, drawn_at FROM concert_draws WHERE concert_id = $1")
            .bind(concert.as_uuid())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(joiners, drawn_at)| Draw { joiners, drawn_at }))
}
