//! Payment: hold -> ledger -> ticket -> sold -> token expired.
//!
//! 1. `pay_begin` marks the reservation `paying` in Redis and extends its holds
//!    past the transaction; a concurrent second attempt gets `payment_in_progress`.
//! 2. One PostgreSQL transaction debits the balance under its row lock, writes
//!    the payment, its tickets (`UNIQUE (schedule_id, seat_no)`) and the ledger.
//! 3. `pay_finish` marks the seats sold, ends the holds and expires the queue
//!    token. Once PostgreSQL has committed the answer is 201, and this Redis
//!    update is retried until it lands.

use crate::domain::{
    ConcertId, PaymentId, ReservationId, ScheduleId, SeatNo, UserId, seat_numbers,
};
use crate::error::{Error, ErrorCode, Result, ResultExt};
use crate::idempotency::{self, Endpoint, IdempotencyKey, Idempotent, KeyedRequest, Stored};
use crate::reservation::{ReservationService, StoredReservation};
use crate::store::RedisStore;
use crate::store::postgres;
use crate::telemetry::metrics as m;
use crate::tokens::QueueClaims;
use crate::wallet::user_not_found;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub concert_id: ConcertId,
    pub schedule_id: ScheduleId,
    pub seat_nos: Vec<u32>,
    pub amount: i64,
    /// The balance right after this payment.
    pub balance: i64,
    #[schema(value_type = String, example = "paid")]
    pub status: &'static str,
    pub paid_at: DateTime<Utc>,
}

/// How a payment ended in PostgreSQL.
enum Settled {
    Paid(Payment),
    InsufficientBalance {
        balance: i64,
    },
    /// A ticket's seat was sold already (Redis had lost that fact).
    SeatTaken,
    /// Another attempt with the same idempotency key was decided first.
    Replayed(Stored),
}

/// The `outcome` label of a payment attempt in the metrics.
fn outcome_label(outcome: &Result<Idempotent<Payment>>) -> &'static str {
    match outcome {
        Ok(Idempotent::Fresh(_)) => "paid",
        Ok(Idempotent::Replayed(_)) => "replayed",
        Err(Error::InsufficientBalance { .. }) => "insufficient_balance",
        Err(Error::SeatUnavailable(_)) => "seat_taken",
        Err(Error::AmountMismatch { .. }) => "amount_mismatch",
        Err(e) if matches!(e.code(), ErrorCode::PaymentInProgress) => "in_progress",
        Err(e) if e.code().status() == 404 => "not_found",
        Err(e) if e.code().status() == 403 => "forbidden",
        Err(Error::Unavailable(_) | Error::Timeout) => "unavailable",
        Err(_) => "error",
    }
}

/// A stored answer as this attempt's: a 402 is replayed as the same error.
fn replay(stored: Stored) -> Result<Idempotent<Payment>> {
    if stored.status == 402 {
        let field = |name: &str| stored.body[name].as_i64().unwrap_or_default();
        return Err(Error::InsufficientBalance {
            balance: field("balance"),
            amount: field("amount"),
        });
    }
    Ok(Idempotent::Replayed(stored))
}

/// How the Redis half ends a reservation; the names are pay_finish.lua's outcomes.
#[derive(Clone, Copy, Debug)]
enum Finish {
    Paid,
    Failed,
    Released,
}

impl Finish {
    fn as_arg(self) -> &'static str {
        match self {
            Finish::Paid => "paid",
            Finish::Failed => "failed",
            Finish::Released => "released",
        }
    }
}

#[derive(Clone)]
pub struct PaymentService {
    pool: PgPool,
    redis: RedisStore,
    reservations: ReservationService,
    payment_timeout: Duration,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    payment_id: Uuid,
    reservation_id: Uuid,
    concert_id: Uuid,
    schedule_id: Uuid,
    seat_nos: Vec<i32>,
    amount: i64,
    balance_after: i64,
    paid_at: DateTime<Utc>,
}

impl From<PaymentRow> for Payment {
    fn from(row: PaymentRow) -> Self {
        Payment {
            payment_id: PaymentId::from_uuid(row.payment_id),
            reservation_id: ReservationId::from_uuid(row.reservation_id),
            concert_id: ConcertId::from_uuid(row.concert_id),
            schedule_id: ScheduleId::from_uuid(row.schedule_id),
            seat_nos: row.seat_nos.into_iter().map(|n| n as u32).collect(),
            amount: row.amount,
            balance: row.balance_after,
            status: "paid",
            paid_at: row.paid_at,
        }
    }
}

impl PaymentService {
    pub fn new(
        pool: PgPool,
        redis: RedisStore,
        reservations: ReservationService,
        payment_timeout: Duration,
    ) -> Self {
        Self {
            pool,
            redis,
            reservations,
            payment_timeout,
        }
    }

    /// Pays a held reservation from the balance. With an idempotency key, a
    /// retry gets the first answer (201 or 402) and pays nothing again, also
    /// when it arrives while the first attempt is still being decided.
    pub async fn pay(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        amount: i64,
        key: Option<IdempotencyKey>,
    ) -> Result<Idempotent<Payment>> {
        let outcome = self.pay_keyed(claims, reservation_id, amount, key).await;
        metrics::counter!(m::PAYMENTS, "outcome" => outcome_label(&outcome)).increment(1);
        if let Ok(Idempotent::Fresh(payment)) = &outcome {
            metrics::counter!(m::PAID_WON).increment(payment.amount.max(0) as u64);
        }
        outcome
    }

    async fn pay_keyed(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        amount: i64,
        key: Option<IdempotencyKey>,
    ) -> Result<Idempotent<Payment>> {
        let keyed = key.map(|key| {
            let request = json!({ "reservation_id": reservation_id, "amount": amount });
            KeyedRequest::new(claims.sub, Endpoint::Payment, key, &request)
        });
        let Some(keyed) = keyed else {
            return self.pay_once(claims, reservation_id, amount, None).await;
        };
        if let Some(stored) = idempotency::lookup(&self.pool, &keyed).await? {
            self.finish_replayed(claims, reservation_id, &stored).await;
            return replay(stored);
        }
        match self
            .pay_once(claims, reservation_id, amount, Some(&keyed))
            .await
        {
            // Another attempt with this key is deciding: wait for its answer.
            Err(e) if matches!(e.code(), ErrorCode::PaymentInProgress) => {
                match self.await_stored(&keyed).await? {
                    Some(stored) => {
                        self.finish_replayed(claims, reservation_id, &stored).await;
                        replay(stored)
                    }
                    None => Err(e),
                }
            }
            // Another attempt with this key may have finished and ended the
            // reservation and the token since this one looked.
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::ReservationNotFound | ErrorCode::TokenRevoked
                ) =>
            {
                match idempotency::lookup(&self.pool, &keyed).await? {
                    Some(stored) => replay(stored),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    /// A committed payment whose reservation Redis still has as `paying`: the
    /// attempt that committed it died before its Redis half (a server killed
    /// between PostgreSQL's commit and pay_finish). The retry finishes it, so
    /// the seats read sold and the token ends now, not when the hold lapses.
    /// pay_finish is idempotent: when the first attempt is alive and finishes
    /// too, nothing changes twice.
    async fn finish_replayed(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        stored: &Stored,
    ) {
        if stored.status != 201 {
            return;
        }
        match self.reservations.find_owned(claims, reservation_id).await {
            Ok(reservation) if reservation.paying => {
                self.finish(claims, &reservation, Finish::Paid).await;
                self.reservations
                    .unmark_holding(claims.sub, reservation_id)
                    .await;
            }
            _ => {}
        }
    }

    /// Polls for the stored answer of a key while a payment may still be
    /// deciding it, for as long as a payment may take.
    async fn await_stored(&self, keyed: &KeyedRequest) -> Result<Option<Stored>> {
        let deadline = tokio::time::Instant::now() + self.payment_timeout;
        while tokio::time::Instant::now() < deadline {
            if let Some(stored) = idempotency::lookup(&self.pool, keyed).await? {
                return Ok(Some(stored));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(None)
    }

    async fn pay_once(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        amount: i64,
        keyed: Option<&KeyedRequest>,
    ) -> Result<Idempotent<Payment>> {
        let reservation = self.reservations.find_owned(claims, reservation_id).await?;
        if reservation.paying {
            return Err(Error::PAYMENT_IN_PROGRESS);
        }
        if amount != reservation.amount.won() {
            return Err(Error::AmountMismatch {
                amount,
                expected: reservation.amount.won(),
            });
        }
        // PostgreSQL first: when it is out of reach the answer is 503 before
        // anything in Redis has changed for this payment.
        let tx = postgres::begin(&self.pool).await?;
        self.begin(claims, &reservation).await?;

        let settled = match self.settle(tx, claims.sub, &reservation, keyed).await {
            Ok(settled) => settled,
            Err(e) => {
                // Undecided (PostgreSQL unreachable): nothing was written, so the
                // reservation goes back to `held` and may be paid again.
                self.abort(claims.cid, reservation_id).await;
                return Err(e);
            }
        };
        let outcome = match settled {
            Settled::Paid(payment) => {
                self.finish(claims, &reservation, Finish::Paid).await;
                Ok(Idempotent::Fresh(payment))
            }
            Settled::InsufficientBalance { balance } => {
                if let Some(keyed) = keyed {
                    let body = json!({ "balance": balance, "amount": amount });
                    idempotency::store_outcome(&self.pool, keyed, 402, &body).await?;
                }
                self.finish(claims, &reservation, Finish::Failed).await;
                Err(Error::InsufficientBalance { balance, amount })
            }
            Settled::SeatTaken => {
                if let Err(e) = self
                    .reservations
                    .load_sold(claims.cid, reservation.schedule)
                    .await
                {
                    tracing::warn!(error = ?e, "could not reload sold seats after a ticket conflict");
                }
                self.finish(claims, &reservation, Finish::Released).await;
                Err(Error::SeatUnavailable(self.sold_of(&reservation).await))
            }
            Settled::Replayed(stored) => {
                self.abort(claims.cid, reservation_id).await;
                return replay(stored);
            }
        };
        self.reservations
            .unmark_holding(claims.sub, reservation_id)
            .await;
        outcome
    }

    async fn begin(&self, claims: &QueueClaims, reservation: &StoredReservation) -> Result<()> {
        let keys = self.redis.keys.concert(claims.cid);
        let mut invocation = self.redis.scripts.pay_begin.prepare_invoke();
        invocation
            .key(keys.wait())
            .key(keys.active())
            .key(keys.jti())
            .key(keys.reservation(reservation.id))
            .key(keys.held(reservation.schedule))
            .key(keys.user_res())
            .key(keys.holds(reservation.schedule, &reservation.seats))
            .arg(claims.sub.to_string())
            .arg(&claims.jti)
            .arg(reservation.id.to_string())
            .arg(self.payment_timeout.as_millis() as u64)
            .arg(seat_numbers(&reservation.seats));
        let outcome: String = invocation.invoke_async(&mut self.redis.conn()).await?;
        match outcome.as_str() {
            "paying" => Ok(()),
            "waiting" => Err(Error::NOT_ADMITTED),
            "expired" => Err(Error::TOKEN_REVOKED),
            "not_found" | "hold_lost" => Err(Error::RESERVATION_NOT_FOUND),
            "forbidden" => Err(Error::NOT_YOURS),
            "payment_in_progress" => Err(Error::PAYMENT_IN_PROGRESS),
            other => Err(Error::internal(format!("pay_begin returned {other:?}"))),
        }
    }

    /// The PostgreSQL half: one transaction, all or nothing.
    #[tracing::instrument(level = "debug", name = "sql_payment", skip_all, fields(reservation_id = %reservation.id))]
    async fn settle(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        user: UserId,
        reservation: &StoredReservation,
        keyed: Option<&KeyedRequest>,
    ) -> Result<Settled> {
        let amount = reservation.amount.won();
        if let Some(keyed) = keyed
            && let Some(stored) = idempotency::claim(&mut tx, keyed).await?
        {
            return Ok(Settled::Replayed(stored));
        }
        let balance: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM wallets WHERE user_id = $1 FOR UPDATE")
                .bind(user.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
        let balance = balance.unwrap_or(0);
        if balance < amount {
            return Ok(Settled::InsufficientBalance { balance });
        }
        let balance_after: i64 = sqlx::query_scalar(
            "UPDATE wallets SET balance = balance - $2, updated_at = now() WHERE user_id = $1 RETURNING balance",
        )
        .bind(user.as_uuid())
        .bind(amount)
        .fetch_one(&mut *tx)
        .await?;
        let payment_id = PaymentId::new();
        let paid_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO payments (payment_id, reservation_id, user_id, concert_id, schedule_id, amount, balance_after)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING paid_at",
        )
        .bind(payment_id.as_uuid())
        .bind(reservation.id.as_uuid())
        .bind(user.as_uuid())
        .bind(reservation.concert.as_uuid())
        .bind(reservation.schedule.as_uuid())
        .bind(amount)
        .bind(balance_after)
        .fetch_one(&mut *tx)
        .await
        .on_constraint("payments_reservation_id_key", |_| Error::PAYMENT_IN_PROGRESS)?;
        let seat_nos: Vec<i32> = reservation.seats.iter().map(|s| s.get() as i32).collect();
        let tickets = sqlx::query(
            "INSERT INTO tickets (payment_id, schedule_id, seat_no) SELECT $1, $2, UNNEST($3::int[])",
        )
        .bind(payment_id.as_uuid())
        .bind(reservation.schedule.as_uuid())
        .bind(&seat_nos)
        .execute(&mut *tx)
        .await;
        if let Err(e) = tickets {
            if unique_violation(&e) == Some("tickets_one_per_seat") {
                return Ok(Settled::SeatTaken);
            }
            return Err(e.into());
        }
        let entry: i64 = sqlx::query_scalar(
            "INSERT INTO ledger (user_id, kind, amount, balance_after, payment_id)
             VALUES ($1, 'payment', $2, $3, $4) RETURNING entry_id",
        )
        .bind(user.as_uuid())
        .bind(-amount)
        .bind(balance_after)
        .bind(payment_id.as_uuid())
        .fetch_one(&mut *tx)
        .await?;
        let payment = Payment {
            payment_id,
            reservation_id: reservation.id,
            concert_id: reservation.concert,
            schedule_id: reservation.schedule,
            seat_nos: seat_numbers(&reservation.seats),
            amount,
            balance: balance_after,
            status: "paid",
            paid_at,
        };
        if let Some(keyed) = keyed {
            let body = serde_json::to_value(&payment).map_err(|e| Error::Internal(e.into()))?;
            idempotency::complete(&mut tx, keyed, 201, &body, Some(entry)).await?;
        }
        tx.commit().await?;
        Ok(Settled::Paid(payment))
    }

    /// Runs pay_finish until it lands: a few quick tries in the request, then in
    /// the background with backoff, so a decided payment always reaches Redis.
    async fn finish(&self, claims: &QueueClaims, reservation: &StoredReservation, how: Finish) {
        let mut delay = Duration::from_millis(50);
        for _ in 0..3 {
            match self.run_finish(claims, reservation, how).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = ?e, reservation_id = %reservation.id, "pay_finish failed; retrying")
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        let this = self.clone();
        let (claims, reservation) = (claims.clone(), reservation.clone());
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                tokio::time::sleep(delay).await;
                match this.run_finish(&claims, &reservation, how).await {
                    Ok(()) => {
                        tracing::info!(reservation_id = %reservation.id, "pay_finish landed after retries");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = ?e, reservation_id = %reservation.id, "pay_finish still failing")
                    }
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        });
    }

    async fn run_finish(
        &self,
        claims: &QueueClaims,
        reservation: &StoredReservation,
        how: Finish,
    ) -> Result<()> {
        let keys = self.redis.keys.concert(claims.cid);
        let mut invocation = self.redis.scripts.pay_finish.prepare_invoke();
        invocation
            .key(keys.active())
            .key(keys.jti())
            .key(keys.user_res())
            .key(keys.reservation(reservation.id))
            .key(keys.sold(reservation.schedule))
            .key(keys.held(reservation.schedule))
            .key(keys.holds(reservation.schedule, &reservation.seats))
            .arg(claims.sub.to_string())
            .arg(&claims.jti)
            .arg(reservation.id.to_string())
            .arg(how.as_arg())
            .arg(seat_numbers(&reservation.seats));
        let _: i64 = invocation.invoke_async(&mut self.redis.conn()).await?;
        Ok(())
    }

    /// The reservation's seats that PostgreSQL has sold: a `seat_unavailable`
    /// names the taken seats only. All of them when PostgreSQL cannot tell.
    async fn sold_of(&self, reservation: &StoredReservation) -> Vec<SeatNo> {
        let seat_nos: Vec<i32> = reservation.seats.iter().map(|s| s.get() as i32).collect();
        let sold: sqlx::Result<Vec<i32>> = sqlx::query_scalar(
            "SELECT seat_no FROM tickets WHERE schedule_id = $1 AND seat_no = ANY($2) ORDER BY seat_no",
        )
        .bind(reservation.schedule.as_uuid())
        .bind(&seat_nos)
        .fetch_all(&self.pool)
        .await;
        match sold {
            Ok(sold) if !sold.is_empty() => sold
                .into_iter()
                .filter_map(|n| SeatNo::parse(i64::from(n)).ok())
                .collect(),
            Ok(_) => reservation.seats.clone(),
            Err(e) => {
                tracing::warn!(error = ?e, "could not read which seats were sold after a ticket conflict");
                reservation.seats.clone()
            }
        }
    }

    /// Best effort: if this fails the reservation stays `paying` until its
    /// extended hold ends, and the seats come free then.
    async fn abort(&self, concert: ConcertId, reservation: ReservationId) {
        let key = self.redis.keys.concert(concert).reservation(reservation);
        let result: redis::RedisResult<i64> = self
            .redis
            .scripts
            .pay_abort
            .key(key)
            .invoke_async(&mut self.redis.conn())
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, reservation_id = %reservation, "could not hand the reservation back after a failed payment");
        }
    }

    /// The user's payments, newest first.
    pub async fn history(&self, user: UserId) -> Result<Vec<Payment>> {
        let rows: Vec<PaymentRow> = sqlx::query_as(
            "SELECT p.payment_id, p.reservation_id, p.concert_id, p.schedule_id,
                    array_agg(t.seat_no ORDER BY t.seat_no) AS seat_nos,
                    p.amount, p.balance_after, p.paid_at
             FROM payments p JOIN tickets t ON t.payment_id = p.payment_id
             WHERE p.user_id = $1
             GROUP BY p.payment_id
             ORDER BY p.paid_at DESC, p.payment_id DESC",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1)")
                    .bind(user.as_uuid())
                    .fetch_one(&self.pool)
                    .await?;
            if !exists {
                return Err(user_not_found());
            }
        }
        Ok(rows.into_iter().map(Payment::from).collect())
    }
}

/// The constraint a unique violation broke, if this is one.
fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            Some(db.constraint().unwrap_or(""))
        }
        _ => None,
    }
}
