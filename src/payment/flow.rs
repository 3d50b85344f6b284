//! The flow of a payment: `pay` (with its metrics), the `Idempotency-Key`
//! retry and its replay, and one attempt, `pay_once`, as a list of named steps.

use super::sql::{self, Settled};
use super::{Payment, PaymentService, Step};
use crate::domain::ReservationId;
use crate::error::{Error, ErrorCode, Result};
use crate::idempotency::{self, Endpoint, IdempotencyKey, Idempotent, KeyedRequest, Stored};
use crate::reservation::{PaymentOutcome, StoredReservation, until_it_lands};
use crate::store::postgres;
use crate::store::scripts::PaymentAttempt;
use crate::telemetry::metrics as m;
use crate::tokens::QueueClaims;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

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

impl PaymentService {
    /// Pays a held reservation from the balance. With an idempotency key, a
    /// retry gets the first answer (201 or 402) and pays nothing again, also
    /// when it arrives while the first attempt is still being decided (it
    /// waits for that answer up to half the request timeout, then answers
    /// `payment_in_progress`).
    pub async fn pay(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        amount: i64,
        key: Option<IdempotencyKey>,
    ) -> Result<Idempotent<Payment>> {
        let answer_by = Instant::now() + self.await_other_attempt;
        let outcome = self
            .pay_keyed(claims, reservation_id, amount, key, answer_by)
            .await;
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
        answer_by: Instant,
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
            // Another attempt is deciding: if it has this key, its answer is
            // this one's, should it come in time.
            Err(e) if matches!(e.code(), ErrorCode::PaymentInProgress) => {
                match self.await_stored(&keyed, answer_by).await? {
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

    /// A replayed answer whose reservation Redis has not ended as it says: a
    /// 201 whose attempt died before its Redis half (a server killed between
    /// PostgreSQL's commit and pay_finish), or a 402 whose commit's answer was
    /// lost (its attempt handed the reservation back). The retry ends it, so
    /// the seats and the token read as the answer says now, not when the hold
    /// lapses. pay_finish is idempotent: when the first attempt is alive and
    /// finishes too, nothing changes twice. A 402's reservation being paid by
    /// another attempt is left to it.
    async fn finish_replayed(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        stored: &Stored,
    ) {
        let outcome = match stored.status {
            201 => PaymentOutcome::Paid,
            402 => PaymentOutcome::Declined,
            _ => return,
        };
        if let Ok(reservation) = self.reservations.find_owned(claims, reservation_id).await
            && (outcome == PaymentOutcome::Paid || !reservation.paying)
        {
            self.reservations
                .finish_payment(claims, &reservation, outcome)
                .await;
        }
    }

    /// Polls for the stored answer of a key while a payment may still be
    /// deciding it: for as long as a payment may take, but no later than
    /// `answer_by`, so the request is answered within its timeout.
    async fn await_stored(
        &self,
        keyed: &KeyedRequest,
        answer_by: Instant,
    ) -> Result<Option<Stored>> {
        let deadline = answer_by.min(Instant::now() + self.reservations.payment_timeout());
        while Instant::now() < deadline {
            if let Some(stored) = idempotency::lookup(&self.pool, keyed).await? {
                return Ok(Some(stored));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(None)
    }

    /// One attempt.
    async fn pay_once(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        amount: i64,
        keyed: Option<&KeyedRequest>,
    ) -> Result<Idempotent<Payment>> {
        let reservation = self.payable(claims, reservation_id, amount).await?;
        // PostgreSQL first: when it is out of reach the answer is 503 before
        // anything in Redis has changed for this payment.
        let tx = postgres::begin(&self.pool)
            .await
            .step("open the payment's transaction")?;
        let attempt = self
            .reservations
            .begin_payment(claims, &reservation)
            .await
            .step("claim the reservation for the payment")?;
        let settled = match sql::settle(tx, claims.sub, &reservation, keyed).await {
            Ok(settled) => settled,
            Err(e) => {
                // Not committed (PostgreSQL unreachable, or a write failed):
                // nothing was decided, so the reservation goes back to `held`
                // and may be paid again.
                self.reservations
                    .abort_payment(claims.cid, reservation.id, attempt)
                    .await;
                return Err(e).step("settle the payment in PostgreSQL");
            }
        };
        self.conclude(claims, &reservation, attempt, amount, settled)
            .await
    }

    /// The reservation this request may pay: the token's user's, not being
    /// paid already, at the amount it costs.
    async fn payable(
        &self,
        claims: &QueueClaims,
        reservation_id: ReservationId,
        amount: i64,
    ) -> Result<StoredReservation> {
        let reservation = self
            .reservations
            .find_owned(claims, reservation_id)
            .await
            .step("read the reservation")?;
        if reservation.paying {
            // Paid already, if an attempt committed and Redis never heard (its
            // server died, or its commit's answer was lost): Redis catches up
            // and the reservation reads as ended, as it does once paid.
            if sql::payment_of(&self.pool, reservation.id)
                .await
                .step("look up the reservation's payment")?
                .is_some()
            {
                self.reservations
                    .finish_payment(claims, &reservation, PaymentOutcome::Paid)
                    .await;
                return Err(Error::RESERVATION_NOT_FOUND);
            }
            // Not paid, and claimed longer ago than a payment may take: its
            // attempt died before deciding (its server killed), so this one
            // takes the claim over (pay_begin checks the lapse by Redis's
            // clock). Should the old attempt commit after all, PostgreSQL's
            // one payment per reservation lets only one of them pay.
            if !reservation.claim_lapsed(chrono::Utc::now()) {
                return Err(Error::PAYMENT_IN_PROGRESS);
            }
        }
        if amount != reservation.amount.won() {
            return Err(Error::AmountMismatch {
                amount,
                expected: reservation.amount.won(),
            });
        }
        Ok(reservation)
    }

    /// Ends the reservation as PostgreSQL decided (or hands it back when
    /// PostgreSQL decided nothing for it), and answers.
    async fn conclude(
        &self,
        claims: &QueueClaims,
        reservation: &StoredReservation,
        attempt: PaymentAttempt,
        amount: i64,
        settled: Settled,
    ) -> Result<Idempotent<Payment>> {
        match settled {
            Settled::Paid(payment) => {
                self.reservations
                    .finish_payment(claims, reservation, PaymentOutcome::Paid)
                    .await;
                Ok(Idempotent::Fresh(payment))
            }
            Settled::InsufficientBalance { balance } => {
                self.reservations
                    .finish_payment(claims, reservation, PaymentOutcome::Declined)
                    .await;
                Err(Error::InsufficientBalance { balance, amount })
            }
            Settled::SeatTaken => {
                self.reservations
                    .finish_payment(claims, reservation, PaymentOutcome::SeatTaken)
                    .await;
                Err(Error::SeatUnavailable(
                    sql::sold_of(&self.pool, reservation).await,
                ))
            }
            Settled::Replayed(stored) => {
                self.reservations
                    .abort_payment(claims.cid, reservation.id, attempt)
                    .await;
                replay(stored)
            }
            Settled::AlreadyPaid => {
                self.reservations
                    .finish_payment(claims, reservation, PaymentOutcome::Paid)
                    .await;
                Err(Error::RESERVATION_NOT_FOUND)
            }
            Settled::Undecided(e) => self.settle_undecided(claims, reservation, attempt, e).await,
        }
    }

    /// A commit whose answer was lost: PostgreSQL has the payment or not. Asked
    /// now, the answer decides this attempt's: the payment (this attempt paid
    /// it), or the commit's error with the reservation handed back. When
    /// PostgreSQL cannot tell yet, the reservation stays claimed and is ended
    /// or handed back in the background once it can, and the answer is the
    /// commit's error.
    async fn settle_undecided(
        &self,
        claims: &QueueClaims,
        reservation: &StoredReservation,
        attempt: PaymentAttempt,
        commit_error: Error,
    ) -> Result<Idempotent<Payment>> {
        match sql::payment_of(&self.pool, reservation.id).await {
            Ok(Some(payment)) => {
                self.reservations
                    .finish_payment(claims, reservation, PaymentOutcome::Paid)
                    .await;
                Ok(Idempotent::Fresh(payment))
            }
            Ok(None) => {
                self.reservations
                    .abort_payment(claims.cid, reservation.id, attempt)
                    .await;
                Err(commit_error)
            }
            Err(e) => {
                tracing::warn!(error = ?e, reservation_id = %reservation.id, "cannot tell whether a payment committed; deciding in the background");
                let (this, claims, reservation) =
                    (self.clone(), claims.clone(), reservation.clone());
                tokio::spawn(until_it_lands(
                    "settle an undecided commit",
                    reservation.id,
                    move || {
                        let (this, claims, reservation) =
                            (this.clone(), claims.clone(), reservation.clone());
                        async move {
                            let paid = sql::payment_of(&this.pool, reservation.id).await?.is_some();
                            if paid {
                                this.reservations
                                    .finish_payment(&claims, &reservation, PaymentOutcome::Paid)
                                    .await;
                            } else {
                                this.reservations
                                    .abort_payment(claims.cid, reservation.id, attempt)
                                    .await;
                            }
                            Ok(())
                        }
                    },
                ));
                Err(commit_error)
            }
        }
    }
}
