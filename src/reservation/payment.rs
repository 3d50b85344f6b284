//! The reservation's side of a payment: claimed for one attempt before
//! PostgreSQL decides, then ended as it decided, or handed back when it could
//! not decide. `payment/` orchestrates; the reservation's Redis state (its
//! hash, its holds, the user's admission) changes only here and in
//! [`super::service`].

use super::StoredReservation;
use super::service::{ReservationService, refusal_error};
use crate::domain::{ConcertId, ReservationId};
use crate::error::{Error, Result};
use crate::store::scripts::{self, PayBeginReply, PayFinish, ReservationRefusal};
use crate::tokens::QueueClaims;
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
    pub async fn begin_payment(
        &self,
        claims: &QueueClaims,
        reservation: &StoredReservation,
    ) -> Result<()> {
        let keys = self.redis.admission_keys(claims.cid);
        let begun = scripts::pay_begin(
            &mut self.redis.conn(),
            &keys,
            claims.sub,
            &claims.jti,
            reservation.held_seats(),
            self.payment_timeout,
        )
        .await?;
        match begun {
            PayBeginReply::Paying => Ok(()),
            PayBeginReply::NotAdmitted(refused) => Err(refused.into()),
            PayBeginReply::Refused(ReservationRefusal::NotFound) | PayBeginReply::HoldLost => {
                Err(Error::RESERVATION_NOT_FOUND)
            }
            PayBeginReply::Refused(refusal) => Err(refusal_error(refusal)),
        }
    }

    /// Ends the reservation as PostgreSQL decided, then clears the user's
    /// holding marker. Never fails: a few quick tries in the request, then in
    /// the background with backoff until it lands, so a decided payment always
    /// reaches Redis (pay_finish is safe to run again).
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
        self.run_finish_until_it_lands(claims, reservation, finish)
            .await;
        self.unmark_holding(claims.sub, reservation.id).await;
    }

    async fn run_finish_until_it_lands(
        &self,
        claims: &QueueClaims,
        reservation: &StoredReservation,
        finish: PayFinish,
    ) {
        let mut delay = Duration::from_millis(50);
        for _ in 0..3 {
            match self.run_finish(claims, reservation, finish).await {
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
                match this.run_finish(&claims, &reservation, finish).await {
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
        finish: PayFinish,
    ) -> Result<()> {
        let keys = self.redis.admission_keys(claims.cid);
        scripts::pay_finish(
            &mut self.redis.conn(),
            &keys,
            claims.sub,
            &claims.jti,
            reservation.held_seats(),
            finish,
        )
        .await
    }

    /// Hands a reservation back to its holder when its payment could not be
    /// decided (PostgreSQL unreachable, or another attempt decided it): `paying`
    /// becomes `held` again. Best effort: if this fails the reservation stays
    /// `paying` until its extended hold ends, and the seats come free then.
    pub async fn abort_payment(&self, concert: ConcertId, reservation: ReservationId) {
        let keys = self.redis.admission_keys(concert);
        let result = scripts::pay_abort(&mut self.redis.conn(), &keys, reservation).await;
        if let Err(e) = result {
            tracing::warn!(error = ?e, reservation_id = %reservation, "could not hand the reservation back after a failed payment");
        }
    }

    /// How long a payment may take: its holds are extended this much.
    pub fn payment_timeout(&self) -> Duration {
        self.payment_timeout
    }
}
