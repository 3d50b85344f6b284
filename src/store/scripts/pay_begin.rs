//! `lua/pay_begin.lua`: the Redis half of a payment's start, claiming the
//! reservation for one attempt and extending its holds past the transaction.

use super::{
    AdmissionKeys, Call, NotAdmitted, PaymentAttempt, Reply, ReservationRefusal, ReservationSeats,
    call,
};
use crate::domain::{UserId, seat_numbers};
use crate::error::Result;
use redis::aio::ConnectionLike;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayBeginReply {
    /// Claimed: the reservation reads `paying`.
    Paying,
    NotAdmitted(NotAdmitted),
    Refused(ReservationRefusal),
    /// A hold ended under the reservation.
    HoldLost,
}

impl PayBeginReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let state = reply.next_string()?;
        let begun = match state.as_str() {
            "paying" => Self::Paying,
            "hold_lost" => Self::HoldLost,
            other => {
                if let Some(refused) = NotAdmitted::from_state(other) {
                    Self::NotAdmitted(refused)
                } else if let Some(refusal) = ReservationRefusal::from_state(other) {
                    Self::Refused(refusal)
                } else {
                    return Err(reply.unknown(other));
                }
            }
        };
        reply.finish()?;
        Ok(begun)
    }
}

/// Marks the reservation `paying` for `attempt` and extends its holds, the
/// reservation and the admission by `extension` (never shortening them). Safe
/// to send twice: a re-send of the same attempt answers `Paying` again.
pub async fn pay_begin(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    user: UserId,
    jti: &str,
    reservation: ReservationSeats<'_>,
    extension: Duration,
    attempt: PaymentAttempt,
) -> Result<PayBeginReply> {
    let concert = &keys.concert;
    let mut call: Call = call!(pay_begin);
    keys.admission(&mut call);
    call.key(concert.reservation(reservation.id))
        .key(concert.held(reservation.schedule))
        .key(concert.user_res())
        .key(concert.holders());
    keys.holds(&mut call, reservation.schedule, reservation.seats);
    call.arg(user.to_string())
        .arg(jti)
        .arg(reservation.id.to_string())
        .arg(extension.as_millis() as u64)
        .arg(attempt.to_string())
        .arg(seat_numbers(reservation.seats))
        .idempotent();
    PayBeginReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn every_answer_reads_as_its_variant() {
        let parse = |value| PayBeginReply::parse(Reply::new("pay_begin", value));
        assert_eq!(parse(s("paying")).unwrap(), PayBeginReply::Paying);
        assert_eq!(parse(s("hold_lost")).unwrap(), PayBeginReply::HoldLost);
        assert_eq!(
            parse(s("waiting")).unwrap(),
            PayBeginReply::NotAdmitted(NotAdmitted::Waiting)
        );
        assert_eq!(
            parse(s("expired")).unwrap(),
            PayBeginReply::NotAdmitted(NotAdmitted::Expired)
        );
        assert_eq!(
            parse(s("payment_in_progress")).unwrap(),
            PayBeginReply::Refused(ReservationRefusal::PaymentInProgress)
        );
        assert!(error_text(parse(s("released"))).contains("\"released\""));
        assert!(error_text(parse(list([s("paying"), i(1)]))).contains("left"));
    }
}
