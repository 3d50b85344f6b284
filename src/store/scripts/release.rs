//! `lua/release.lua`: a held reservation given up, its holds and its index entries.

use super::{AdmissionKeys, Call, Reply, ReservationRefusal, ReservationSeats, call};
use crate::domain::{UserId, seat_numbers};
use crate::error::Result;
use redis::aio::ConnectionLike;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseReply {
    Released,
    Refused(ReservationRefusal),
}

impl ReleaseReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let released = match reply.next_string()?.as_str() {
            "released" => Self::Released,
            other => match ReservationRefusal::from_state(other) {
                Some(refusal) => Self::Refused(refusal),
                None => return Err(reply.unknown(other)),
            },
        };
        reply.finish()?;
        Ok(released)
    }
}

/// Releases the reservation if `user` holds it and no payment of it is running.
/// Sent once: a re-send answers as the first run did.
pub async fn release(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    user: UserId,
    reservation: ReservationSeats<'_>,
) -> Result<ReleaseReply> {
    let concert = &keys.concert;
    let mut call: Call = call!(release, sent_once in concert);
    call.key(concert.user_res())
        .key(concert.reservation(reservation.id))
        .key(concert.held(reservation.schedule))
        .key(concert.holders());
    keys.holds(&mut call, reservation.schedule, reservation.seats);
    call.arg(user.to_string())
        .arg(reservation.id.to_string())
        .arg(seat_numbers(reservation.seats));
    ReleaseReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn released_or_refused() {
        let parse = |value| ReleaseReply::parse(Reply::new("release", value));
        assert_eq!(parse(s("released")).unwrap(), ReleaseReply::Released);
        assert_eq!(
            parse(s("not_found")).unwrap(),
            ReleaseReply::Refused(ReservationRefusal::NotFound)
        );
        assert_eq!(
            parse(s("forbidden")).unwrap(),
            ReleaseReply::Refused(ReservationRefusal::Forbidden)
        );
        assert_eq!(
            parse(s("payment_in_progress")).unwrap(),
            ReleaseReply::Refused(ReservationRefusal::PaymentInProgress)
        );
        assert!(error_text(parse(s("hold_lost"))).contains("release script"));
    }
}
