//! Holds and reservations: taking seats, finding a reservation, releasing it,
//! and the user's `holding` marker that keeps charges out while seats are held.

use super::model::{Reservation, StoredReservation};
use crate::catalog::{Catalog, Schedule};
use crate::domain::{
    ConcertId, Money, ReservationId, ScheduleId, SeatNo, SeatSelection, UserId, seat_numbers,
};
use crate::error::{Error, ErrorCode, Result};
use crate::store::RedisStore;
use crate::store::scripts::{
    self, HoldArgs, HoldReply, ReleaseReply, ReservationRefusal, StatusArgs, StatusReply,
};
use crate::tokens::QueueClaims;
use chrono::Utc;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Margin of the `holding` marker over the hold, for clock skew.
const HOLDING_SKEW: Duration = Duration::from_secs(1);
/// A hold's length when the catalog does not know the concert yet.
const DEFAULT_HOLD_TTL: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct ReservationService {
    pub(super) redis: RedisStore,
    pub(super) catalog: Arc<Catalog>,
    /// A payment extends its holds this much; the `holding` key lives as long.
    pub(super) payment_timeout: Duration,
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
    pub(super) async fn schedule_for(
        &self,
        claims: &QueueClaims,
        id: ScheduleId,
    ) -> Result<Arc<Schedule>> {
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
        let marked_until = self.mark_holding(claims.sub, id, hold_ttl).await?;
        // Refused: nothing is held. But a hold script Redis never answered
        // (its reply and the re-send's lost, or Redis gone) may have landed:
        // its marker stays, and lapses with the hold.
        match self
            .run_hold(claims, &schedule, selection, id, amount, hold_ttl)
            .await
        {
            Ok(reservation) => {
                // The live hold time (Redis's) may be longer than this
                // server's catalog knows: the marker lasts as long as the hold.
                let until_ms = reservation.held_until.timestamp_millis();
                if until_ms > marked_until {
                    let hold_left = Duration::from_millis(
                        u64::try_from(until_ms - Utc::now().timestamp_millis()).unwrap_or(0),
                    );
                    self.mark_holding(claims.sub, id, hold_left).await?;
                }
                Ok(reservation)
            }
            Err(HoldFailure {
                error,
                may_have_landed,
            }) => {
                if !may_have_landed {
                    self.unmark_holding(claims.sub, id).await;
                }
                Err(error)
            }
        }
    }

    async fn run_hold(
        &self,
        claims: &QueueClaims,
        schedule: &Schedule,
        selection: &SeatSelection,
        id: ReservationId,
        amount: Money,
        hold_ttl: Duration,
    ) -> Result<Reservation, HoldFailure> {
        let keys = self.redis.admission_keys(claims.cid);
        // Two rounds at most: the second after reloading the sold seats.
        for _ in 0..2 {
            let args = HoldArgs {
                user: claims.sub,
                jti: &claims.jti,
                reservation: id,
                concert: claims.cid,
                schedule: schedule.id,
                seats: selection.seats(),
                amount,
                default_hold: hold_ttl,
            };
            let reply = scripts::hold(&mut self.redis.conn(), &keys, args)
                .await
                .map_err(|error| HoldFailure {
                    error,
                    may_have_landed: true,
                })?;
            match reply {
                HoldReply::Held { until_ms } => {
                    return Ok(Reservation {
                        reservation_id: id,
                        concert_id: claims.cid,
                        schedule_id: schedule.id,
                        seat_nos: seat_numbers(selection.seats()),
                        amount: amount.won(),
                        status: "held",
                        held_until: chrono::DateTime::from_timestamp_millis(until_ms).ok_or_else(
                            || HoldFailure {
                                error: Error::internal("hold expiry out of range"),
                                may_have_landed: true,
                            },
                        )?,
                    });
                }
                HoldReply::SoldNotLoaded => self.load_sold(claims.cid, schedule.id).await?,
                HoldReply::SaleClosed => return Err(Error::SALE_CLOSED.into()),
                HoldReply::NotAdmitted(refused) => return Err(Error::from(refused).into()),
                HoldReply::ReservationExists(existing) => {
                    return Err(Error::ReservationExists(existing).into());
                }
                HoldReply::SeatsTaken(taken) => return Err(Error::SeatUnavailable(taken).into()),
            }
        }
        Err(Error::internal("sold seats did not stay loaded").into())
    }

    /// Notes, under the user's own hash tag, that they hold seats: charging is
    /// refused until the hold ends (by this server's clock, plus a second for
    /// skew against Redis's). Set before the hold script runs and cleared if it
    /// fails, so a charge racing a hold errs on the side of refusing. Returns
    /// when the marker ends (Unix ms, before the skew).
    async fn mark_holding(
        &self,
        user: UserId,
        id: ReservationId,
        hold_ttl: Duration,
    ) -> Result<i64> {
        let key = self.redis.keys.user_holding(user);
        let hold_end_ms = Utc::now().timestamp_millis() + hold_ttl.as_millis() as i64;
        let until_ms = hold_end_ms + HOLDING_SKEW.as_millis() as i64;
        let key_lifetime = hold_ttl + self.payment_timeout + HOLDING_SKEW;
        let lifetime_ms = key_lifetime.as_millis() as i64;
        // The key is the user's, across concerts: its lifetime only grows
        // (NX gives a new key one, GT lengthens it), so a short hold in one
        // concert never cuts the marker of a longer hold in another.
        let () = redis::pipe()
            .zadd(&key, id.to_string(), until_ms)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(lifetime_ms)
            .arg("NX")
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(lifetime_ms)
            .arg("GT")
            .ignore()
            .query_async(&mut self.redis.conn())
            .await?;
        Ok(hold_end_ms)
    }

    /// Clears the marker of one reservation; a failure only delays charging until
    /// the marker's expiry, so it is logged, not returned.
    pub(super) async fn unmark_holding(&self, user: UserId, id: ReservationId) {
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
            .ok_or(Error::RESERVATION_NOT_FOUND)?;
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
            .ok_or(Error::RESERVATION_NOT_FOUND)?;
        let keys = self.redis.admission_keys(concert);
        match scripts::release(&mut self.redis.conn(), &keys, user, stored.held_seats()).await? {
            ReleaseReply::Released => {
                self.unmark_holding(user, id).await;
                Ok(())
            }
            ReleaseReply::Refused(refusal) => Err(refusal_error(refusal)),
        }
    }

    /// Releases the user's open reservation in the token's concert, if any:
    /// leaving the line gives the seats back at once. Only the token of the
    /// current admission does: only it can have a reservation, and a spent
    /// token (its holder paid or left, then joined again) must not give up the
    /// seats of the new admission before leaving is refused `token_expired`.
    pub async fn release_open(&self, claims: &QueueClaims) -> Result<()> {
        let keys = self.redis.admission_keys(claims.cid);
        let standing = scripts::status(
            &mut self.redis.conn(),
            &keys,
            StatusArgs::state_only(claims.sub, &claims.jti),
        )
        .await?;
        if !matches!(standing, StatusReply::Active { .. }) {
            return Ok(());
        }
        let entry: Option<String> = self
            .redis
            .conn()
            .hget(
                self.redis.keys.concert(claims.cid).user_res(),
                claims.sub.to_string(),
            )
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
}

/// Why a hold failed, and whether its seats may be held all the same (Redis
/// never answered the script, or it held them), in which case the holding
/// marker stays.
struct HoldFailure {
    error: Error,
    may_have_landed: bool,
}

impl From<Error> for HoldFailure {
    fn from(error: Error) -> Self {
        Self {
            error,
            may_have_landed: false,
        }
    }
}

/// The one mapping of the scripts' reservation refusals to the client's error.
pub(super) fn refusal_error(refusal: ReservationRefusal) -> Error {
    match refusal {
        ReservationRefusal::NotFound => Error::RESERVATION_NOT_FOUND,
        ReservationRefusal::Forbidden => Error::NOT_YOURS,
        ReservationRefusal::PaymentInProgress => Error::PAYMENT_IN_PROGRESS,
    }
}
