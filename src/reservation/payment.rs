//! The reservation's side of a payment: claimed for one attempt before
//! PostgreSQL decides, then ended as it decided, or handed back when it could
//! not decide. `payment/` orchestrates; the reservation's Redis state (its
//! hash, its holds, the user's admission) changes only here and in
//! [`super::service`].
//!
//! Whatever happens after a claim, the claim is ended or handed back: both
//! steps are retried until they land ([`until_it_lands`]), which they may,
//! since both are safe to run twice and late (a hand-back touches only its own
//! attempt's claim).

use super::StoredReservation;
use super::service::{ReservationService, refusal_error};
use crate::domain::{ConcertId, ReservationId};
use crate::error::{Error, Result};
use crate::store::scripts::{self, PayBeginReply, PayFinish, PaymentAttempt, ReservationRefusal};
use crate::tokens::QueueClaims;
use std::future::Future;
use std::time::Duration;

/// How PostgreSQL decided a payment, as far as its reservation is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Paid: the seats become sold, the holds and the reservation end, and the
    /// queue token expires.
    Paid,
    /// Refused (insufficient balance): the same without selling the seats.
    Declined,
    /// A seat was sold already (Redis had lost that fact): Redis's copy of the
    /// sold seats is reloaded and the reservation ends; the token stays
    /// admitted, so its holder can choose again.
    SeatTaken,
}

impl ReservationService {
    /// Claims the reservation for one payment attempt: it reads `paying` (a
    /// concurrent second attempt gets `payment_in_progress`), and its holds,
    /// itself and the admission are extended past the payment's timeout.
    /// Returns the attempt, which alone may hand the claim back. When Redis
    /// never answered (the claim may have landed all the same), the claim is
    /// handed back before the error is returned.
    pub async fn begin_payment(
        &self,
        claims: &QueueClaims,
        reservation: &StoredReservation,
    ) -> Result<PaymentAttempt> {
        let keys = self.redis.admission_keys(claims.cid);
        let attempt = PaymentAttempt::fresh();
        let begun = scripts::pay_begin(
            &mut self.redis.conn(),
            &keys,
            claims.sub,
            &claims.jti,
            reservation.held_seats(),
            self.payment_timeout,
            attempt,
        )
        .await;
        match begun {
            Ok(PayBeginReply::Paying) => Ok(attempt),
            Ok(PayBeginReply::NotAdmitted(refused)) => Err(refused.into()),
            Ok(PayBeginReply::Refused(ReservationRefusal::NotFound) | PayBeginReply::HoldLost) => {
                Err(Error::RESERVATION_NOT_FOUND)
            }
            Ok(PayBeginReply::Refused(refusal)) => Err(refusal_error(refusal)),
            Err(e) => {
                self.abort_payment(claims.cid, reservation.id, attempt)
                    .await;
                Err(e)
            }
        }
    }

    /// Ends the reservation as PostgreSQL decided, then clears the user's
    /// holding marker. Never fails: run until it lands (pay_finish is safe to
    /// run again), so a decided payment always reaches Redis.
    pub async fn finish_payment(
        &self,
        claims: &QueueClaims,
        reservation: &StoredReservation,
        outcome: PaymentOutcome,
    ) {
        let finish = match outcome {
            PaymentOutcome::Paid => PayFinish::Paid,
            PaymentOutcome::Declined => PayFinish::Failed,
            PaymentOutcome::SeatTaken => {
                if let Err(e) = self.load_sold(claims.cid, reservation.schedule).await {
                    tracing::warn!(error = ?e, "could not reload sold seats after a ticket conflict");
                }
                PayFinish::Released
            }
        };
        let (user, id) = (claims.sub, reservation.id);
        let this = self.clone();
        let (claims, reservation) = (claims.clone(), reservation.clone());
        until_it_lands("pay_finish", id, move || {
            let (this, claims, reservation) = (this.clone(), claims.clone(), reservation.clone());
            async move {
                let keys = this.redis.admission_keys(claims.cid);
                scripts::pay_finish(
                    &mut this.redis.conn(),
                    &keys,
                    claims.sub,
                    &claims.jti,
                    reservation.held_seats(),
                    finish,
                )
                .await
            }
        })
        .await;
        self.unmark_holding(user, id).await;
    }

    /// Hands a reservation back to its holder when the payment `attempt`
    /// could not be decided (PostgreSQL unreachable, or the claim's reply
    /// lost): `paying` becomes `held` again, if this attempt claimed it. Run
    /// until it lands: late, it still touches only this attempt's claim.
    pub async fn abort_payment(
        &self,
        concert: ConcertId,
        reservation: ReservationId,
        attempt: PaymentAttempt,
    ) {
        let this = self.clone();
        until_it_lands("pay_abort", reservation, move || {
            let this = this.clone();
            async move {
                let keys = this.redis.admission_keys(concert);
                scripts::pay_abort(&mut this.redis.conn(), &keys, reservation, attempt)
                    .await
                    .map(|_| ())
            }
        })
        .await;
    }

    /// How long a payment may take: its holds are extended this much.
    pub fn payment_timeout(&self) -> Duration {
        self.payment_timeout
    }
}

/// Runs `step` until it succeeds: a few quick tries while the request waits,
/// then in the background, backing off, for as long as it takes. For the steps
/// of a payment that must land whatever happens, each safe to run again and
/// late; `payment/` also settles an undecided commit this way.
pub(crate) async fn until_it_lands<F, Fut>(what: &'static str, reservation: ReservationId, step: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let mut delay = Duration::from_millis(50);
    for _ in 0..3 {
        match step().await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = ?e, %reservation, step = what, "a payment step failed; retrying")
            }
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        loop {
            tokio::time::sleep(delay).await;
            match step().await {
                Ok(()) => {
                    tracing::info!(%reservation, step = what, "a payment step landed after retries");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = ?e, %reservation, step = what, "a payment step still fails")
                }
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    });
}
