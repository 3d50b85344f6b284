//! `lua/pay_finish.lua`: the Redis half of a decided payment; safe to run again
//! until it lands.

use super::{AdmissionKeys, Call, Reply, ReservationSeats, call};
use crate::domain::{UserId, seat_numbers};
use crate::error::Result;
use redis::aio::ConnectionLike;

/// How a decided payment ends the reservation (the script's `outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayFinish {
    /// The seats become sold, the holds and the reservation end, the token expires.
    Paid,
    /// The same without selling the seats (insufficient balance).
    Failed,
    /// The reservation ends, the token stays admitted (a seat was sold already).
    Released,
}

impl PayFinish {
    fn as_arg(self) -> &'static str {
        match self {
            PayFinish::Paid => "paid",
            PayFinish::Failed => "failed",
            PayFinish::Released => "released",
        }
    }
}

fn parse(mut reply: Reply) -> Result<()> {
    match reply.next_i64()? {
        1 => reply.finish(),
        other => Err(reply.unknown(&other.to_string())),
    }
}

/// Ends the reservation as `outcome` says; the token only while `jti` is still
/// the user's current one, so a late retry never ends a later admission.
pub async fn pay_finish(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    user: UserId,
    jti: &str,
    reservation: ReservationSeats<'_>,
    outcome: PayFinish,
) -> Result<()> {
    let concert = &keys.concert;
    let mut call: Call = call!(pay_finish);
    call.key(&keys.active)
        .key(&keys.jti)
        .key(concert.user_res())
        .key(concert.reservation(reservation.id))
        .key(concert.sold(reservation.schedule))
        .key(concert.held(reservation.schedule))
        .key(concert.holders())
        .key(concert.deadlines());
    keys.holds(&mut call, reservation.schedule, reservation.seats);
    call.arg(user.to_string())
        .arg(jti)
        .arg(reservation.id.to_string())
        .arg(outcome.as_arg())
        .arg(seat_numbers(reservation.seats))
        .idempotent();
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn the_one_answer_is_1() {
        parse(Reply::new("pay_finish", i(1))).unwrap();
        assert!(error_text(parse(Reply::new("pay_finish", i(0)))).contains("\"0\""));
        assert!(error_text(parse(Reply::new("pay_finish", s("ok")))).contains("element 1"));
    }
}
