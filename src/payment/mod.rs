//! Payment: a held reservation becomes tickets, paid from the prepaid balance.
//! This module orchestrates and owns the `payments` and `tickets` tables; the
//! reservation's Redis state is [`crate::reservation`]'s and the balance and
//! its ledger are [`crate::wallet`]'s. It holds no Redis connection and names
//! no key.
//!
//! 1. The reservation is claimed for this attempt
//!    ([`ReservationService::begin_payment`]): `paying`, its holds extended past
//!    the transaction; a concurrent second attempt gets `payment_in_progress`.
//! 2. One PostgreSQL transaction (`sql.rs`) debits the balance under its row lock
//!    ([`crate::wallet::debit`]), writes the payment, its tickets
//!    (`UNIQUE (schedule_id, seat_no)`) and the ledger entry ([`crate::wallet::record`]).
//! 3. The reservation ends as PostgreSQL decided
//!    ([`ReservationService::finish_payment`]): the seats sold, the holds ended,
//!    the queue token expired. Once PostgreSQL has committed the answer is 201,
//!    and this Redis update is retried until it lands.
//!
//! Whatever fails after step 1, the claim is ended or handed back: an error
//! before the commit decided nothing (handed back); a commit whose answer was
//! lost is looked up (ended as paid, or handed back), in the background if
//! PostgreSQL cannot tell yet; a reservation PostgreSQL has paid already is
//! ended as paid, never handed back.
//!
//! `flow.rs` holds the steps, the `Idempotency-Key` retry and its replay.

mod flow;
mod sql;

use crate::domain::{ConcertId, PaymentId, ReservationId, ScheduleId};
use crate::error::{Error, Result};
use crate::reservation::ReservationService;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;

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

#[derive(Clone)]
pub struct PaymentService {
    pool: PgPool,
    reservations: ReservationService,
    /// A keyed payment that finds another attempt deciding the reservation
    /// waits for its key's answer this long at most (half the request
    /// timeout), then answers `payment_in_progress`.
    await_other_attempt: Duration,
}

impl PaymentService {
    /// `request_timeout` is the server's: a payment answers well within it.
    pub fn new(pool: PgPool, reservations: ReservationService, request_timeout: Duration) -> Self {
        Self {
            pool,
            reservations,
            await_other_attempt: request_timeout / 2,
        }
    }
}

/// Names the step an outage or a bug happened in, for the log (zero2prod's
/// `.context(..)`); an answer meant for the client passes unchanged, so the
/// status code and the error code never depend on where it came from.
trait Step<T> {
    fn step(self, what: &'static str) -> Result<T>;
}

impl<T, E: Into<Error>> Step<T> for Result<T, E> {
    fn step(self, what: &'static str) -> Result<T> {
        self.map_err(|e| named_step(e.into(), what))
    }
}

/// [`Step`] for an error in hand.
fn named_step(e: Error, what: &'static str) -> Error {
    match e {
        Error::Unavailable(source) => Error::Unavailable(source.context(what)),
        Error::Internal(source) => Error::Internal(source.context(what)),
        answer => answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_names_outages_and_bugs_and_leaves_answers_alone() {
        let outage: Result<()> = Err(Error::Unavailable(anyhow::anyhow!("pool timed out")));
        match outage.step("open the transaction") {
            Err(Error::Unavailable(e)) => {
                assert_eq!(format!("{e:#}"), "open the transaction: pool timed out")
            }
            other => panic!("{other:?}"),
        }
        let bug: Result<()> = Err(Error::internal("no such column"));
        assert!(matches!(bug.step("x"), Err(Error::Internal(e)) if e.to_string() == "x"));
        let answer: Result<()> = Err(Error::PAYMENT_IN_PROGRESS);
        assert!(answer.step("x").unwrap_err().code() == crate::error::ErrorCode::PaymentInProgress);
    }
}
