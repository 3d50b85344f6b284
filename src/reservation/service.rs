use super::model::{Reservation, SeatMap, SeatStatus, SeatView, StoredReservation};
use crate::catalog::{Catalog, Schedule};
use crate::domain::{
    ConcertId, Money, ReservationId, ScheduleId, SeatNo, SeatSelection, UserId, seat_numbers,
};
use crate::error::{Error, ErrorCode, Result};
use crate::store::RedisStore;
use crate::store::redis::reply_field;
use crate::tokens::QueueClaims;
use chrono::Utc;
use redis::AsyncCommands;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Margin of the `holding` marker over the hold, for clock skew.
const HOLDING_SKEW: Duration = Duration::from_secs(1);
/// A hold's length when the catalog does not know the concert yet.
const DEFAULT_HOLD_TTL: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct ReservationService {
    redis: RedisStore,
    catalog: Arc<Catalog>,
    /// A payment extends its holds this much; the `holding` key lives as long.
    payment_timeout: Duration,
}

impl ReservationService {
    pub fn new(redis: RedisStore, catalog: Arc<Catalog>, payment_timeout: Duration) -> Self {
        Self {
            redis,
            catalog,
            payment_timeout,
        }
    }

    /// The schedule of a request, checked against the token's concert.
    async fn schedule_for(&self, claims: &QueueClaims, id: ScheduleId) -> Result<Arc<Schedule>> {
        let schedule = self
            .catalog
            .schedule(id)
            .await?
            .ok_or(Error::SCHEDULE_NOT_FOUND)?;
        if schedule.concert_id != claims.cid {
            return Err(Error::WRONG_CONCERT);
        }
        Ok(schedule)
    }

    /// Holds 1 to 4 seats of one schedule for an admitted user, all or none.
    pub async fn hold(
        &self,
        claims: &QueueClaims,
        schedule_id: ScheduleId,
        selection: &SeatSelection,
    ) -> Result<Reservation> {
        let schedule = self.schedule_for(claims, schedule_id).await?;
        if schedule.has_started(Utc::now()) {
            return Err(Error::SCHEDULE_CLOSED);
        }
        let missing: Vec<SeatNo> = selection
            .seats()
            .iter()
            .filter(|seat| !schedule.prices.contains_key(seat))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(Error::SeatNotFound(missing));
        }
        let amount = selection
            .seats()
            .iter()
            .try_fold(Money::ZERO, |sum, seat| {
                sum.checked_add(schedule.prices[seat])
            })
            .ok_or_else(|| Error::internal("seat prices overflow"))?;

        // The concert's hold TTL as this server knows it; the script uses the
        // live setting in Redis when an operator has changed it.
        let hold_ttl = self
            .catalog
            .snapshot()
            .concert(claims.cid)
            .map_or(DEFAULT_HOLD_TTL, |c| {
                Duration::from_secs(u64::from(c.stored_settings.hold_ttl_seconds))
            });
        let id = ReservationId::new();
        self.mark_holding(claims.sub, id, hold_ttl).await?;
        let outcome = self
            .run_hold(claims, &schedule, selection, id, amount, hold_ttl)
            .await;
        if outcome.is_err() {
            self.unmark_holding(claims.sub, id).await;
        }
        outcome
    }

    async fn run_hold(
        &self,
        claims: &QueueClaims,
        schedule: &Schedule,
        selection: &SeatSelection,
        id: ReservationId,
        amount: Money,
        hold_ttl: Duration,
    ) -> Result<Reservation> {
        let keys = self.redis.keys.concert(claims.cid);
        // Two rounds at most: the second after reloading the sold seats.
        for _ in 0..2 {
            let mut invocation = self.redis.scripts.hold.prepare_invoke();
            invocation
                .key(keys.wait())
                .key(keys.active())
                .key(keys.jti())
                .key(keys.user_res())
                .key(keys.sold(schedule.id))
                .key(keys.sold_loaded(schedule.id))
                .key(keys.held(schedule.id))
                .key(keys.reservation(id))
                .key(keys.cfg())
                .key(keys.holds(schedule.id, selection.seats()));
            invocation
                .arg(claims.sub.to_string())
                .arg(&claims.jti)
                .arg(id.to_string())
                .arg(schedule.id.to_string())
                .arg(hold_ttl.as_millis() as u64)
                .arg(amount.won())
                .arg(claims.cid.to_string())
                .arg(seat_numbers(selection.seats()));
            let reply: Vec<String> = invocation.invoke_async(&mut self.redis.conn()).await?;
            match reply.first().map(String::as_str) {
                Some("held") => {
                    let until_ms: i64 = reply
                        .get(1)
                        .and_then(|ms| ms.parse().ok())
                        .ok_or_else(|| Error::internal("hold script returned no expiry"))?;
                    return Ok(Reservation {
                        reservation_id: id,
                        concert_id: claims.cid,
                        schedule_id: schedule.id,
                        seat_nos: seat_numbers(selection.seats()),
                        amount: amount.won(),
                        status: "held",
                        held_until: chrono::DateTime::from_timestamp_millis(until_ms)
                            .ok_or_else(|| Error::internal("hold expiry out of range"))?,
                    });
                }
                Some("sold_not_loaded") => self.load_sold(claims.cid, schedule.id).await?,
                Some("sale_closed") => return Err(Error::SALE_CLOSED),
                Some("waiting") => return Err(Error::NOT_ADMITTED),
                Some("expired") => return Err(Error::TOKEN_REVOKED),
                Some("reservation_exists") => {
                    let existing = reply
                        .get(1)
                        .and_then(|id| id.parse().ok())
                        .ok_or_else(|| Error::internal("hold script returned no reservation id"))?;
                    return Err(Error::ReservationExists(existing));
                }
                Some("seat_unavailable") => {
                    let taken = reply[1..]
                        .iter()
                        .filter_map(|n| n.parse::<i64>().ok().and_then(|n| SeatNo::parse(n).ok()))
                        .collect();
                    return Err(Error::SeatUnavailable(taken));
                }
                other => return Err(Error::internal(format!("hold script returned {other:?}"))),
            }
        }
        Err(Error::internal("sold seats did not stay loaded"))
    }

    /// Notes, under the user's own hash tag, that they hold seats: charging is
    /// refused until the hold ends (by this server's clock, plus a second for
    /// skew against Redis's). Set before the hold script runs and cleared if it
    /// fails, so a charge racing a hold errs on the side of refusing.
    async fn mark_holding(
        &self,
        user: UserId,
        id: ReservationId,
        hold_ttl: Duration,
    ) -> Result<()> {
        let key = self.redis.keys.user_holding(user);
        let until_ms = Utc::now().timestamp_millis() + (hold_ttl + HOLDING_SKEW).as_millis() as i64;
        let key_lifetime = hold_ttl + self.payment_timeout + HOLDING_SKEW;
        let () = redis::pipe()
            .zadd(&key, id.to_string(), until_ms)
            .ignore()
            .pexpire(&key, key_lifetime.as_millis() as i64)
            .ignore()
            .query_async(&mut self.redis.conn())
            .await?;
        Ok(())
    }

    /// Clears the marker of one reservation; a failure only delays charging until
    /// the marker's expiry, so it is logged, not returned.
    pub async fn unmark_holding(&self, user: UserId, id: ReservationId) {
        let key = self.redis.keys.user_holding(user);
        let result: redis::RedisResult<()> = self.redis.conn().zrem(&key, id.to_string()).await;
        if let Err(e) = result {
            tracing::warn!(error = %e, %user, reservation_id = %id, "could not clear the holding marker");
        }
    }

    /// Whether the user holds seats in any concert now.
    pub async fn is_holding(&self, user: UserId) -> Result<bool> {
        let now_ms = Utc::now().timestamp_millis();
        let count: u64 = self
            .redis
            .conn()
            .zcount(
                self.redis.keys.user_holding(user),
                format!("({now_ms}"),
                "+inf",
            )
            .await?;
        Ok(count > 0)
    }

    /// Reads a reservation of the token's concert.
    pub async fn find(
        &self,
        concert: ConcertId,
        id: ReservationId,
    ) -> Result<Option<StoredReservation>> {
        let fields: HashMap<String, String> = self
            .redis
            .conn()
            .hgetall(self.redis.keys.concert(concert).reservation(id))
            .await?;
        StoredReservation::from_hash(id, fields)
    }

    /// A reservation, for its holder only.
    pub async fn get(&self, claims: &QueueClaims, id: ReservationId) -> Result<Reservation> {
        let stored = self.find_owned(claims, id).await?;
        Ok(stored.view())
    }

    /// A reservation of the token's concert that belongs to the token's user.
    pub async fn find_owned(
        &self,
        claims: &QueueClaims,
        id: ReservationId,
    ) -> Result<StoredReservation> {
        let stored = self
            .find(claims.cid, id)
            .await?
            .ok_or_else(reservation_not_found)?;
        if stored.user != claims.sub {
            return Err(Error::NOT_YOURS);
        }
        Ok(stored)
    }

    /// Releases a held reservation of the token's user.
    pub async fn release(&self, claims: &QueueClaims, id: ReservationId) -> Result<()> {
        self.release_of(claims.cid, claims.sub, id).await
    }

    /// Releases a held reservation of `user` in `concert` (the owner check is
    /// the release script's): for its holder, or an operator evicting them.
    pub async fn release_of(
        &self,
        concert: ConcertId,
        user: UserId,
        id: ReservationId,
    ) -> Result<()> {
        let stored = self
            .find(concert, id)
            .await?
            .ok_or_else(reservation_not_found)?;
        let keys = self.redis.keys.concert(concert);
        let mut invocation = self.redis.scripts.release.prepare_invoke();
        invocation
            .key(keys.user_res())
            .key(keys.reservation(id))
            .key(keys.held(stored.schedule))
            .key(keys.holds(stored.schedule, &stored.seats))
            .arg(user.to_string())
            .arg(id.to_string())
            .arg(seat_numbers(&stored.seats));
        let outcome: String = invocation.invoke_async(&mut self.redis.conn()).await?;
        match outcome.as_str() {
            "released" => {
                self.unmark_holding(user, id).await;
                Ok(())
            }
            "not_found" => Err(reservation_not_found()),
            "forbidden" => Err(Error::NOT_YOURS),
            "payment_in_progress" => Err(Error::PAYMENT_IN_PROGRESS),
            other => Err(Error::internal(format!(
                "release script returned {other:?}"
            ))),
        }
    }

    /// Releases the user's open reservation in the token's concert, if any:
    /// leaving the line gives the seats back at once. Only the token of the
    /// current admission does: only it can have a reservation, and a spent
    /// token (its holder paid or left, then joined again) must not give up the
    /// seats of the new admission before leaving is refused `token_revoked`.
    pub async fn release_open(&self, claims: &QueueClaims) -> Result<()> {
        let keys = self.redis.keys.concert(claims.cid);
        let standing: Vec<redis::Value> = self
            .redis
            .scripts
            .status
            .key(keys.wait())
            .key(keys.active())
            .key(keys.jti())
            .key(keys.cfg())
            .key(keys.seen())
            .key(keys.line_stats())
            .key(keys.draw())
            .key(keys.drawn())
            .arg(claims.sub.to_string())
            .arg(&claims.jti)
            // Defaults and the opening the status script wants; only its state
            // is read here.
            .arg(1)
            .arg(0)
            .arg(1)
            .arg(0)
            .invoke_async(&mut self.redis.conn())
            .await?;
        if reply_field::<String>(&standing, 0)? != "active" {
            return Ok(());
        }
        let entry: Option<String> = self
            .redis
            .conn()
            .hget(keys.user_res(), claims.sub.to_string())
            .await?;
        let Some(id) = entry
            .as_deref()
            .and_then(|e| e.split('|').next())
            .and_then(|id| id.parse::<ReservationId>().ok())
        else {
            return Ok(());
        };
        match self.release(claims, id).await {
            Err(e) if matches!(e.code(), ErrorCode::ReservationNotFound) => Ok(()),
            other => other,
        }
    }

    /// Copies a schedule's sold seats from PostgreSQL into Redis and marks them loaded.
    pub async fn load_sold(&self, concert: ConcertId, schedule: ScheduleId) -> Result<()> {
        let sold = self.catalog.sold_seats(schedule).await?;
        let keys = self.redis.keys.concert(concert);
        let mut invocation = self.redis.scripts.load_sold.prepare_invoke();
        invocation
            .key(keys.sold(schedule))
            .key(keys.sold_loaded(schedule))
            .arg(seat_numbers(&sold));
        let count: u64 = invocation.invoke_async(&mut self.redis.conn()).await?;
        tracing::debug!(%schedule, sold = count, "sold seats loaded from PostgreSQL");
        Ok(())
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
        let keys = self.redis.keys.concert(claims.cid);
        for _ in 0..2 {
            let reply: Vec<redis::Value> = self
                .redis
                .scripts
                .seat_map
                .key(keys.wait())
                .key(keys.active())
                .key(keys.jti())
                .key(keys.sold(schedule_id))
                .key(keys.sold_loaded(schedule_id))
                .key(keys.held(schedule_id))
                .arg(claims.sub.to_string())
                .arg(&claims.jti)
                .invoke_async(&mut self.redis.conn())
                .await?;
            let state: String = reply_field(&reply, 0)?;
            match state.as_str() {
                "ok" => {
                    let sold: HashSet<u32> =
                        reply_field::<Vec<u32>>(&reply, 1)?.into_iter().collect();
                    let held: HashSet<u32> =
                        reply_field::<Vec<u32>>(&reply, 2)?.into_iter().collect();
                    let seats = schedule
                        .prices
                        .iter()
                        .map(|(seat, price)| {
                            let status = if sold.contains(&seat.get()) {
                                SeatStatus::Sold
                            } else if held.contains(&seat.get()) {
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
                "sold_not_loaded" => self.load_sold(claims.cid, schedule_id).await?,
                "waiting" => return Err(Error::NOT_ADMITTED),
                "expired" => return Err(Error::TOKEN_REVOKED),
                other => {
                    return Err(Error::internal(format!(
                        "seat_map script returned {other:?}"
                    )));
                }
            }
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

fn reservation_not_found() -> Error {
    Error::RESERVATION_NOT_FOUND
}
