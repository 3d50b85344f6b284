//! The payment's PostgreSQL: the one transaction that settles it, and the
//! `payments` and `tickets` tables, which nothing else writes. The balance
//! moves through [`wallet`], which owns `wallets` and `ledger`.

use super::{Payment, Step, named_step};
use crate::domain::{
    ConcertId, PaymentId, ReservationId, ScheduleId, SeatNo, UserId, seat_numbers,
};
use crate::error::{Error, Result};
use crate::idempotency::{self, KeyedRequest, Stored};
use crate::reservation::StoredReservation;
use crate::store::postgres;
use crate::wallet::{self, Debit, Movement};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// How a payment ended in PostgreSQL.
pub(super) enum Settled {
    Paid(Payment),
    /// Refused; under an idempotency key, the refusal is stored with it.
    InsufficientBalance {
        balance: i64,
    },
    /// A ticket's seat was sold already (Redis had lost that fact).
    SeatTaken,
    /// Another attempt with the same idempotency key was decided first.
    Replayed(Stored),
    /// The reservation was paid already, by an earlier attempt that Redis had
    /// not heard the end of (its commit's answer was lost, or it died).
    AlreadyPaid,
    /// The commit was sent and its answer never came: it may have landed.
    /// [`payment_of`] tells, once PostgreSQL answers.
    Undecided(Error),
}

/// One transaction, all or nothing: the key claimed, the balance debited, the
/// payment, its tickets and its ledger entry written, the key's answer stored
/// (a refusal's too). An error before the commit decided nothing.
#[tracing::instrument(level = "debug", name = "sql_payment", skip_all, fields(reservation_id = %reservation.id))]
pub(super) async fn settle(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    user: UserId,
    reservation: &StoredReservation,
    keyed: Option<&KeyedRequest>,
) -> Result<Settled> {
    if let Some(keyed) = keyed
        && let Some(stored) = idempotency::claim(&mut tx, keyed)
            .await
            .step("claim the Idempotency-Key")?
    {
        return Ok(Settled::Replayed(stored));
    }
    let amount = reservation.amount.won();
    let debited = match wallet::debit(&mut tx, user, amount)
        .await
        .step("debit the balance")?
    {
        Debit::Debited(change) => change,
        Debit::Insufficient { balance } => {
            let Some(keyed) = keyed else {
                return Ok(Settled::InsufficientBalance { balance });
            };
            let body = json!({ "balance": balance, "amount": amount });
            idempotency::complete(&mut tx, keyed, 402, &body, None)
                .await
                .step("store the refusal under its Idempotency-Key")?;
            return commit(tx, Settled::InsufficientBalance { balance }).await;
        }
    };
    let Some(payment) = insert_payment(&mut tx, user, reservation, debited.balance_after)
        .await
        .step("insert the payment")?
    else {
        return Ok(Settled::AlreadyPaid);
    };
    if !insert_tickets(&mut tx, &payment, reservation)
        .await
        .step("insert the tickets")?
    {
        return Ok(Settled::SeatTaken);
    }
    let entry = wallet::record(&mut tx, debited, Movement::Payment(payment.payment_id))
        .await
        .step("record the ledger entry")?;
    if let Some(keyed) = keyed {
        let body = serde_json::to_value(&payment).map_err(|e| Error::Internal(e.into()))?;
        idempotency::complete(&mut tx, keyed, 201, &body, Some(entry))
            .await
            .step("store the answer under its Idempotency-Key")?;
    }
    commit(tx, Settled::Paid(payment)).await
}

/// Commits what `settled` says. An error here decides nothing for the caller:
/// the commit may have landed and only its answer been lost.
async fn commit(
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    settled: Settled,
) -> Result<Settled> {
    // On a task of its own: a request cancelled mid-commit must not cut it.
    match postgres::commit(tx).await {
        Ok(()) => Ok(settled),
        Err(e) => Ok(Settled::Undecided(named_step(
            e.into(),
            "commit the payment",
        ))),
    }
}

/// The payment's row; `None` when the reservation has one already (its
/// unique `reservation_id`: another attempt paid it and committed first).
async fn insert_payment(
    tx: &mut PgConnection,
    user: UserId,
    reservation: &StoredReservation,
    balance_after: i64,
) -> Result<Option<Payment>> {
    let payment_id = PaymentId::new();
    let amount = reservation.amount.won();
    let paid_at: sqlx::Result<DateTime<Utc>> = sqlx::query_scalar(
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
    .await;
    let paid_at = match paid_at {
        Ok(paid_at) => paid_at,
        Err(e) if unique_violation(&e) == Some("payments_reservation_id_key") => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(Payment {
        payment_id,
        reservation_id: reservation.id,
        concert_id: reservation.concert,
        schedule_id: reservation.schedule,
        seat_nos: seat_numbers(&reservation.seats),
        amount,
        balance: balance_after,
        status: "paid",
        paid_at,
    }))
}

/// One ticket per seat; `false` when a seat is sold already
/// (`tickets_one_per_seat`, the last line against a double sale).
async fn insert_tickets(
    tx: &mut PgConnection,
    payment: &Payment,
    reservation: &StoredReservation,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO tickets (payment_id, schedule_id, seat_no) SELECT $1, $2, UNNEST($3::int[])",
    )
    .bind(payment.payment_id.as_uuid())
    .bind(reservation.schedule.as_uuid())
    .bind(seat_ints(&reservation.seats))
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if unique_violation(&e) == Some("tickets_one_per_seat") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The reservation's seats that PostgreSQL has sold: a `seat_unavailable`
/// names the taken seats only. All of them when PostgreSQL cannot tell.
pub(super) async fn sold_of(pool: &PgPool, reservation: &StoredReservation) -> Vec<SeatNo> {
    let sold: sqlx::Result<Vec<i32>> = sqlx::query_scalar(
        "SELECT seat_no FROM tickets WHERE schedule_id = $1 AND seat_no = ANY($2) ORDER BY seat_no",
    )
    .bind(reservation.schedule.as_uuid())
    .bind(seat_ints(&reservation.seats))
    .fetch_all(pool)
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

fn seat_ints(seats: &[SeatNo]) -> Vec<i32> {
    seats.iter().map(|s| s.get() as i32).collect()
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

/// Payments as [`Payment`] reads them, then `$tail` (a `WHERE`, the grouping
/// by payment, an order): one static query per use.
macro_rules! select_payments {
    ($tail:literal) => {
        concat!(
            "SELECT p.payment_id, p.reservation_id, p.concert_id, p.schedule_id,
                    array_agg(t.seat_no ORDER BY t.seat_no) AS seat_nos,
                    p.amount, p.balance_after, p.paid_at
             FROM payments p JOIN tickets t ON t.payment_id = p.payment_id ",
            $tail
        )
    };
}

/// The payment of a reservation, if PostgreSQL has one: how an undecided
/// commit, or a claim Redis never heard the end of, is told apart.
pub(super) async fn payment_of(
    pool: &PgPool,
    reservation: ReservationId,
) -> Result<Option<Payment>> {
    let row: Option<PaymentRow> = sqlx::query_as(select_payments!(
        "WHERE p.reservation_id = $1 GROUP BY p.payment_id"
    ))
    .bind(reservation.as_uuid())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Payment::from))
}

impl super::PaymentService {
    /// The user's payments, newest first.
    pub async fn history(&self, user: UserId) -> Result<Vec<Payment>> {
        let rows: Vec<PaymentRow> = sqlx::query_as(select_payments!(
            "WHERE p.user_id = $1 GROUP BY p.payment_id
             ORDER BY p.paid_at DESC, p.payment_id DESC"
        ))
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
                return Err(Error::USER_NOT_FOUND);
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
