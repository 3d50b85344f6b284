use super::model::{CatalogSnapshot, Concert, NewConcert, Schedule};
use crate::domain::{ConcertId, Money, ScheduleId, SeatNo};
use crate::error::{Error, Result};
use crate::queue::QueueSettings;
use crate::store::postgres;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The catalog: PostgreSQL behind an in-memory snapshot of the live concerts
/// (those with a date that began less than `retire_after` ago, not retired).
pub struct Catalog {
    pool: PgPool,
    retire_after: std::time::Duration,
    snapshot: RwLock<Arc<CatalogSnapshot>>,
    /// Serializes reloads, so a burst of misses reads the catalog once at a time.
    reloading: tokio::sync::Mutex<()>,
}

#[derive(sqlx::FromRow)]
struct ConcertRow {
    concert_id: Uuid,
    title: String,
    venue: String,
    opens_at: DateTime<Utc>,
    admit_per_second: i32,
    max_active: i32,
    max_waiting: i32,
    active_ttl_seconds: i32,
    hold_ttl_seconds: i32,
    paused: bool,
    closed_at: Option<DateTime<Utc>>,
    idle_timeout_seconds: i32,
    admit_seat_factor: f64,
    poll_budget_per_second: i32,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    schedule_id: Uuid,
    concert_id: Uuid,
    starts_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SeatRow {
    schedule_id: Uuid,
    seat_no: i32,
    price: i64,
}

impl Catalog {
    pub async fn load(pool: PgPool, retire_after: std::time::Duration) -> Result<Self> {
        let snapshot = Self::read(&pool, retire_after, None).await?;
        Ok(Self {
            pool,
            retire_after,
            snapshot: RwLock::new(Arc::new(snapshot)),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The pool, for the rows that hang off a concert and live with the
    /// module that owns them (the pre-queue's draw, in [`crate::fairness`]).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn snapshot(&self) -> Arc<CatalogSnapshot> {
        self.snapshot.read().expect("catalog lock poisoned").clone()
    }

    /// Reads the live concerts again and swaps them in: a retired concert
    /// leaves memory here.
    pub async fn reload(&self) -> Result<Arc<CatalogSnapshot>> {
        let _one_at_a_time = self.reloading.lock().await;
        let fresh = Arc::new(Self::read(&self.pool, self.retire_after, None).await?);
        *self.snapshot.write().expect("catalog lock poisoned") = fresh.clone();
        Ok(fresh)
    }

    /// A concert this snapshot lacks (made on another server since the last
    /// reload): that one concert is read, if it is live, and added to the
    /// snapshot. One indexed query for an unknown or retired id; never a
    /// reread of the whole catalog.
    async fn load_missing(&self, id: ConcertId) -> Result<Option<Arc<Concert>>> {
        let one = Self::read(&self.pool, self.retire_after, Some(id.as_uuid())).await?;
        let Some(concert) = one.concert(id).cloned() else {
            return Ok(None);
        };
        let _one_at_a_time = self.reloading.lock().await;
        let merged = Arc::new(self.snapshot().with(one));
        *self.snapshot.write().expect("catalog lock poisoned") = merged;
        Ok(Some(concert))
    }

    pub async fn concert(&self, id: ConcertId) -> Result<Option<Arc<Concert>>> {
        if let Some(concert) = self.snapshot().concert(id) {
            return Ok(Some(concert.clone()));
        }
        self.load_missing(id).await
    }

    /// The concert, or 404 `concert_not_found`: what every endpoint naming a
    /// concert answers for an unknown id.
    pub async fn existing_concert(&self, id: ConcertId) -> Result<Arc<Concert>> {
        self.concert(id).await?.ok_or(Error::CONCERT_NOT_FOUND)
    }

    pub async fn schedule(&self, id: ScheduleId) -> Result<Option<Arc<Schedule>>> {
        if let Some(schedule) = self.snapshot().schedule(id) {
            return Ok(Some(schedule.clone()));
        }
        let concert: Option<Uuid> =
            sqlx::query_scalar("SELECT concert_id FROM schedules WHERE schedule_id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        let Some(concert) = concert else {
            return Ok(None);
        };
        self.load_missing(ConcertId::from_uuid(concert)).await?;
        Ok(self.snapshot().schedule(id).cloned())
    }

    /// Creates a concert with its schedules and seats in one transaction.
    pub async fn create(
        &self,
        new: &NewConcert,
        settings: QueueSettings,
    ) -> Result<(ConcertId, Vec<(ScheduleId, DateTime<Utc>)>)> {
        let id = ConcertId::new();
        let schedules = self
            .insert_dates(id, new, settings)
            .await?
            .unwrap_or_default();
        Ok((id, schedules))
    }

    /// Inserts a concert under a chosen id; nothing happens if it exists (the demo
    /// seed relies on this to be idempotent). Returns whether it was inserted.
    pub async fn insert(
        &self,
        id: ConcertId,
        new: &NewConcert,
        settings: QueueSettings,
    ) -> Result<bool> {
        Ok(self.insert_dates(id, new, settings).await?.is_some())
    }

    /// [`Catalog::insert`], answering the dates made (`None` if the concert
    /// existed). From the insert itself, not the snapshot: a concert whose
    /// dates are all long past is retired on arrival and never in memory.
    async fn insert_dates(
        &self,
        id: ConcertId,
        new: &NewConcert,
        settings: QueueSettings,
    ) -> Result<Option<Vec<(ScheduleId, DateTime<Utc>)>>> {
        let mut tx = postgres::begin(&self.pool).await?;
        let inserted = sqlx::query(
            "INSERT INTO concerts (concert_id, title, venue, opens_at, admit_per_second,
                 max_active, max_waiting, active_ttl_seconds, paused, hold_ttl_seconds,
                 idle_timeout_seconds, admit_seat_factor, poll_budget_per_second, draw_seed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (concert_id) DO NOTHING",
        )
        .bind(id.as_uuid())
        .bind(&new.title)
        .bind(&new.venue)
        .bind(new.opens_at)
        .bind(settings.admit_per_second as i32)
        .bind(settings.max_active as i32)
        .bind(settings.max_waiting as i32)
        .bind(settings.active_ttl_seconds as i32)
        .bind(settings.paused)
        .bind(settings.hold_ttl_seconds as i32)
        .bind(settings.idle_timeout_seconds as i32)
        .bind(settings.admit_seat_factor)
        .bind(settings.poll_budget_per_second as i32)
        .bind(crate::fairness::new_seed().to_vec())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            return Ok(None);
        }
        let mut dates = Vec::with_capacity(new.schedules.len());
        for schedule in &new.schedules {
            let schedule_id = ScheduleId::new();
            dates.push((schedule_id, schedule.starts_at));
            sqlx::query(
                "INSERT INTO schedules (schedule_id, concert_id, starts_at) VALUES ($1, $2, $3)",
            )
            .bind(schedule_id.as_uuid())
            .bind(id.as_uuid())
            .bind(schedule.starts_at)
            .execute(&mut *tx)
            .await?;
            let seat_nos: Vec<i32> = schedule.seats.iter().map(|(s, _)| s.get() as i32).collect();
            let prices: Vec<i64> = schedule.seats.iter().map(|(_, p)| p.won()).collect();
            sqlx::query(
                "INSERT INTO seats (schedule_id, seat_no, price)
                 SELECT $1, seat_no, price FROM UNNEST($2::int[], $3::bigint[]) AS s(seat_no, price)",
            )
            .bind(schedule_id.as_uuid())
            .bind(&seat_nos)
            .bind(&prices)
            .execute(&mut *tx)
            .await?;
        }
        postgres::commit(tx).await?;
        self.reload().await?;
        // Earliest first, as the catalog lists them.
        dates.sort_by_key(|(id, starts_at)| (*starts_at, id.as_uuid()));
        Ok(Some(dates))
    }

    /// Stores a line's live settings (and its closing, once) as the durable
    /// copy, if `version` is newer than the stored one: a late or repeated
    /// write, from any server, never puts older settings back. Returns whether
    /// PostgreSQL now holds this version or a newer one (false only for an
    /// unknown concert). Rereads the catalog after a change.
    pub async fn save_settings(
        &self,
        id: ConcertId,
        settings: QueueSettings,
        closed_at: Option<DateTime<Utc>>,
        version: u64,
    ) -> Result<bool> {
        let version = i64::try_from(version)
            .map_err(|_| Error::internal(format!("settings version {version} is out of range")))?;
        let stored: Option<bool> = sqlx::query_scalar(
            "WITH changed AS (
                 UPDATE concerts SET admit_per_second = $2, max_active = $3, max_waiting = $4,
                     active_ttl_seconds = $5, paused = $6, hold_ttl_seconds = $7,
                     idle_timeout_seconds = $8, admit_seat_factor = $9,
                     poll_budget_per_second = $10, closed_at = COALESCE(closed_at, $11),
                     settings_version = $12
                 WHERE concert_id = $1 AND settings_version < $12
                 RETURNING true AS changed)
             SELECT EXISTS (SELECT 1 FROM changed)
             FROM concerts WHERE concert_id = $1",
        )
        .bind(id.as_uuid())
        .bind(settings.admit_per_second as i32)
        .bind(settings.max_active as i32)
        .bind(settings.max_waiting as i32)
        .bind(settings.active_ttl_seconds as i32)
        .bind(settings.paused)
        .bind(settings.hold_ttl_seconds as i32)
        .bind(settings.idle_timeout_seconds as i32)
        .bind(settings.admit_seat_factor)
        .bind(settings.poll_budget_per_second as i32)
        .bind(closed_at)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        if stored == Some(true) {
            self.reload().await?;
        }
        Ok(stored.is_some())
    }

    /// Concerts due for retirement: not retired yet, every date began at least
    /// `retire_after` ago. With their dates, whose Redis keys are to go.
    pub async fn due_for_retirement(&self) -> Result<Vec<(ConcertId, Vec<ScheduleId>)>> {
        let rows: Vec<(Uuid, Vec<Uuid>)> = sqlx::query_as(
            "SELECT c.concert_id, array_agg(s.schedule_id)
             FROM concerts c JOIN schedules s ON s.concert_id = c.concert_id
             WHERE c.retired_at IS NULL
             GROUP BY c.concert_id
             HAVING max(s.starts_at) <= now() - make_interval(secs => $1)",
        )
        .bind(self.retire_after.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(concert, schedules)| {
                (
                    ConcertId::from_uuid(concert),
                    schedules.into_iter().map(ScheduleId::from_uuid).collect(),
                )
            })
            .collect())
    }

    /// Records a concert as retired (its Redis keys deleted); its rows stay.
    pub async fn mark_retired(&self, id: ConcertId) -> Result<()> {
        sqlx::query(
            "UPDATE concerts SET retired_at = COALESCE(retired_at, now()) WHERE concert_id = $1",
        )
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The seats PostgreSQL has sold on one schedule: the truth Redis's sold sets copy.
    pub async fn sold_seats(&self, schedule: ScheduleId) -> Result<Vec<SeatNo>> {
        let rows: Vec<(i32,)> =
            sqlx::query_as("SELECT seat_no FROM tickets WHERE schedule_id = $1")
                .bind(schedule.as_uuid())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(n,)| SeatNo::parse(i64::from(n)).ok())
            .collect())
    }

    /// The live concerts (or the one `only` names, if live) with their dates
    /// and seats: not retired, and a date that began less than `retire_after`
    /// ago or is still ahead.
    async fn read(
        pool: &PgPool,
        retire_after: std::time::Duration,
        only: Option<Uuid>,
    ) -> Result<CatalogSnapshot> {
        let concerts: Vec<ConcertRow> = sqlx::query_as(
            "SELECT concert_id, title, venue, opens_at, admit_per_second, max_active,
                    max_waiting, active_ttl_seconds, hold_ttl_seconds, paused, closed_at,
                    idle_timeout_seconds, admit_seat_factor, poll_budget_per_second
             FROM concerts c
             WHERE retired_at IS NULL AND ($2::uuid IS NULL OR concert_id = $2)
               AND EXISTS (SELECT 1 FROM schedules s WHERE s.concert_id = c.concert_id
                           AND s.starts_at > now() - make_interval(secs => $1))
             ORDER BY opens_at, concert_id",
        )
        .bind(retire_after.as_secs_f64())
        .bind(only)
        .fetch_all(pool)
        .await?;
        let ids: Vec<Uuid> = concerts.iter().map(|c| c.concert_id).collect();
        let schedules: Vec<ScheduleRow> = sqlx::query_as(
            "SELECT schedule_id, concert_id, starts_at FROM schedules
             WHERE concert_id = ANY($1) ORDER BY starts_at, schedule_id",
        )
        .bind(&ids)
        .fetch_all(pool)
        .await?;
        let schedule_ids: Vec<Uuid> = schedules.iter().map(|s| s.schedule_id).collect();
        let seats: Vec<SeatRow> = sqlx::query_as(
            "SELECT schedule_id, seat_no, price FROM seats WHERE schedule_id = ANY($1)",
        )
        .bind(&schedule_ids)
        .fetch_all(pool)
        .await?;

        let mut prices: HashMap<Uuid, BTreeMap<SeatNo, Money>> = HashMap::new();
        for seat in seats {
            if let (Ok(no), Ok(price)) = (
                SeatNo::parse(i64::from(seat.seat_no)),
                Money::parse(seat.price),
            ) {
                prices
                    .entry(seat.schedule_id)
                    .or_default()
                    .insert(no, price);
            }
        }
        let mut snapshot = CatalogSnapshot::default();
        let mut schedules_of: HashMap<Uuid, Vec<ScheduleId>> = HashMap::new();
        for row in schedules {
            let id = ScheduleId::from_uuid(row.schedule_id);
            schedules_of.entry(row.concert_id).or_default().push(id);
            snapshot.schedules.insert(
                id,
                Arc::new(Schedule {
                    id,
                    concert_id: ConcertId::from_uuid(row.concert_id),
                    starts_at: row.starts_at,
                    prices: prices.remove(&row.schedule_id).unwrap_or_default(),
                }),
            );
        }
        for row in concerts {
            // Rows were checked on the way in; a row edited by hand into nonsense
            // falls back to the smallest valid settings rather than failing boot.
            let stored_settings = QueueSettings {
                admit_per_second: row.admit_per_second.max(1) as u32,
                max_active: row.max_active.max(1) as u32,
                max_waiting: row.max_waiting.max(0) as u32,
                active_ttl_seconds: row.active_ttl_seconds.max(1) as u32,
                hold_ttl_seconds: row.hold_ttl_seconds.max(1) as u32,
                paused: row.paused,
                idle_timeout_seconds: row.idle_timeout_seconds.max(0) as u32,
                admit_seat_factor: row.admit_seat_factor,
                poll_budget_per_second: row.poll_budget_per_second.max(0) as u32,
            }
            .checked()
            .unwrap_or(QueueSettings {
                admit_per_second: 1,
                max_active: 1,
                max_waiting: 0,
                active_ttl_seconds: 1,
                hold_ttl_seconds: 1,
                paused: true,
                idle_timeout_seconds: crate::queue::DEFAULT_IDLE_TIMEOUT_SECONDS,
                admit_seat_factor: crate::queue::DEFAULT_ADMIT_SEAT_FACTOR,
                poll_budget_per_second: crate::queue::DEFAULT_POLL_BUDGET_PER_SECOND,
            });
            let concert = Arc::new(Concert {
                id: ConcertId::from_uuid(row.concert_id),
                title: row.title,
                venue: row.venue,
                opens_at: row.opens_at,
                stored_settings,
                closed_at: row.closed_at,
                schedules: schedules_of.remove(&row.concert_id).unwrap_or_default(),
            });
            snapshot.concerts_by_id.insert(concert.id, concert.clone());
            snapshot.concerts.push(concert);
        }
        Ok(snapshot)
    }
}
