//! Seats by state: the seat map an admitted user chooses from, the counts
//! operators and the metrics read, and the copy of PostgreSQL's sold seats that
//! Redis keeps for both (and for holds and the admit tick).

use super::ReservationService;
use super::model::{SeatMap, SeatStatus, SeatView};
use crate::catalog::{Catalog, Schedule};
use crate::domain::{ConcertId, ScheduleId, SeatNo};
use crate::error::{Error, Result};
use crate::store::RedisStore;
use crate::store::scripts::{self, SeatMapReply};
use crate::tokens::QueueClaims;
use chrono::Utc;
use std::collections::HashSet;
use std::sync::Arc;

impl ReservationService {
    /// Copies a schedule's sold seats from PostgreSQL into Redis and marks them loaded.
    pub async fn load_sold(&self, concert: ConcertId, schedule: ScheduleId) -> Result<()> {
        load_sold(&self.redis, &self.catalog, concert, schedule).await
    }

    /// Loads the sold seats of every schedule that has not started: done at boot,
    /// so Redis agrees with PostgreSQL before the first hold.
    pub async fn load_all_sold(&self) -> Result<()> {
        let now = Utc::now();
        let snapshot = self.catalog.snapshot();
        for schedule in snapshot.schedules.values().filter(|s| !s.has_started(now)) {
            self.load_sold(schedule.concert_id, schedule.id).await?;
        }
        Ok(())
    }

    /// The seat map of a schedule, for an admitted user of its concert.
    pub async fn seat_map(
        &self,
        claims: &QueueClaims,
        schedule_id: ScheduleId,
        only: Option<SeatStatus>,
    ) -> Result<SeatMap> {
        let schedule = self.schedule_for(claims, schedule_id).await?;
        let keys = self.redis.admission_keys(claims.cid);
        for _ in 0..2 {
            let reply = scripts::seat_map(
                &mut self.redis.conn(),
                &keys,
                claims.sub,
                &claims.jti,
                schedule_id,
            )
            .await?;
            let (sold, held) = match reply {
                SeatMapReply::Seats { sold, held } => (sold, held),
                SeatMapReply::SoldNotLoaded => {
                    self.load_sold(claims.cid, schedule_id).await?;
                    continue;
                }
                SeatMapReply::NotAdmitted(refused) => return Err(refused.into()),
            };
            let sold: HashSet<SeatNo> = sold.into_iter().collect();
            let held: HashSet<SeatNo> = held.into_iter().collect();
            let seats = schedule
                .prices
                .iter()
                .map(|(seat, price)| {
                    let status = if sold.contains(seat) {
                        SeatStatus::Sold
                    } else if held.contains(seat) {
                        SeatStatus::Held
                    } else {
                        SeatStatus::Available
                    };
                    SeatView {
                        seat_no: seat.get(),
                        price: price.won(),
                        status,
                    }
                })
                .filter(|seat| only.is_none_or(|status| seat.status == status))
                .collect();
            return Ok(SeatMap { schedule_id, seats });
        }
        Err(Error::internal("sold seats did not stay loaded"))
    }

    /// Sold and held seats per schedule, in one round trip (two when a
    /// schedule's sold seats must be loaded first).
    pub async fn seat_counts(
        &self,
        concert: ConcertId,
        schedules: &[Arc<Schedule>],
    ) -> Result<Vec<SeatCounts>> {
        // An empty pipeline is an error in Redis, not an empty answer.
        if schedules.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.redis.keys.concert(concert);
        for _ in 0..2 {
            let now_ms = Utc::now().timestamp_millis();
            let mut pipe = redis::pipe();
            for schedule in schedules {
                pipe.exists(keys.sold_loaded(schedule.id))
                    .scard(keys.sold(schedule.id))
                    .zcount(keys.held(schedule.id), format!("({now_ms}"), "+inf");
            }
            let counts: Vec<u64> = pipe.query_async(&mut self.redis.conn()).await?;
            let unloaded: Vec<&Arc<Schedule>> = schedules
                .iter()
                .zip(counts.chunks(3))
                .filter(|(_, c)| c[0] == 0)
                .map(|(s, _)| s)
                .collect();
            if unloaded.is_empty() {
                return Ok(schedules
                    .iter()
                    .zip(counts.chunks(3))
                    .map(|(s, c)| SeatCounts {
                        total: s.total_seats() as u64,
                        sold: c[1],
                        held: c[2],
                    })
                    .collect());
            }
            for schedule in unloaded {
                self.load_sold(concert, schedule.id).await?;
            }
        }
        Err(Error::internal("sold seats did not stay loaded"))
    }
}

/// The seats of one date by state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatCounts {
    pub total: u64,
    pub sold: u64,
    pub held: u64,
}

impl SeatCounts {
    /// Seats neither sold nor held.
    pub fn available(&self) -> u64 {
        self.total.saturating_sub(self.sold + self.held)
    }
}

/// Copies a date's sold seats from PostgreSQL into Redis and marks them
/// loaded: at boot, for a new date, and whenever a script finds Redis lost them
/// (a hold, a seat map, or the admit tick counting free seats).
pub async fn load_sold(
    redis: &RedisStore,
    catalog: &Catalog,
    concert: ConcertId,
    schedule: ScheduleId,
) -> Result<()> {
    let sold = catalog.sold_seats(schedule).await?;
    let keys = redis.admission_keys(concert);
    let count = scripts::load_sold(&mut redis.conn(), &keys, schedule, &sold).await?;
    tracing::debug!(%schedule, sold = count, "sold seats loaded from PostgreSQL");
    Ok(())
}
