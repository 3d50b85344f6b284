//! `lua/hold.lua`: 1 to 4 seats of one date held for an admitted user, all or
//! none, never past the admission's deadline.

use super::{AdmissionKeys, Call, NotAdmitted, Reply, call};
use crate::domain::{ConcertId, Money, ReservationId, ScheduleId, SeatNo, UserId, seat_numbers};
use crate::error::Result;
use redis::aio::ConnectionLike;
use std::time::Duration;

pub struct HoldArgs<'a> {
    pub user: UserId,
    pub jti: &'a str,
    /// The id the new reservation gets.
    pub reservation: ReservationId,
    pub concert: ConcertId,
    pub schedule: ScheduleId,
    pub seats: &'a [SeatNo],
    pub amount: Money,
    /// How long the hold lasts when `cfg` has no `hold_ttl_ms`.
    pub default_hold: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldReply {
    /// Held until this time (Redis time, ms since the epoch).
    Held {
        until_ms: i64,
    },
    SaleClosed,
    /// Redis has lost this date's sold seats: load them and try again.
    SoldNotLoaded,
    NotAdmitted(NotAdmitted),
    /// The user holds this open reservation of the concert already.
    ReservationExists(ReservationId),
    /// These seats are sold or held.
    SeatsTaken(Vec<SeatNo>),
}

impl HoldReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let state = reply.next_string()?;
        let held = match state.as_str() {
            "held" => Self::Held {
                until_ms: reply.next_i64()?,
            },
            "sale_closed" => Self::SaleClosed,
            "sold_not_loaded" => Self::SoldNotLoaded,
            "reservation_exists" => Self::ReservationExists(reply.next_parsed()?),
            "seat_unavailable" => return Ok(Self::SeatsTaken(reply.rest(Reply::next_seat)?)),
            other => match NotAdmitted::from_state(other) {
                Some(refused) => Self::NotAdmitted(refused),
                None => return Err(reply.unknown(other)),
            },
        };
        reply.finish()?;
        Ok(held)
    }
}

/// Holds the seats under a new reservation, extending the user's admission to
/// at least the hold's end; the hold ends at the admission's deadline at the
/// latest. Safe to send twice: the reservation id is the attempt's.
pub async fn hold(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    args: HoldArgs<'_>,
) -> Result<HoldReply> {
    let concert = &keys.concert;
    let mut call: Call = call!(hold);
    keys.admission(&mut call);
    call.key(concert.user_res())
        .key(concert.sold(args.schedule))
        .key(concert.sold_loaded(args.schedule))
        .key(concert.held(args.schedule))
        .key(concert.reservation(args.reservation))
        .key(concert.cfg())
        .key(concert.holders())
        .key(concert.deadlines());
    keys.holds(&mut call, args.schedule, args.seats);
    call.arg(args.user.to_string())
        .arg(args.jti)
        .arg(args.reservation.to_string())
        .arg(args.schedule.to_string())
        .arg(args.default_hold.as_millis() as u64)
        .arg(args.amount.won())
        .arg(args.concert.to_string())
        .arg(seat_numbers(args.seats))
        .idempotent();
    HoldReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    fn parse(value: redis::Value) -> Result<HoldReply> {
        HoldReply::parse(Reply::new("hold", value))
    }

    #[test]
    fn every_answer_reads_as_its_variant() {
        assert_eq!(
            parse(list([s("held"), s("1700000300000")])).unwrap(),
            HoldReply::Held {
                until_ms: 1_700_000_300_000
            }
        );
        assert_eq!(
            parse(list([s("sale_closed")])).unwrap(),
            HoldReply::SaleClosed
        );
        assert_eq!(
            parse(list([s("sold_not_loaded")])).unwrap(),
            HoldReply::SoldNotLoaded
        );
        assert_eq!(
            parse(list([s("waiting")])).unwrap(),
            HoldReply::NotAdmitted(NotAdmitted::Waiting)
        );
        assert_eq!(
            parse(list([s("expired")])).unwrap(),
            HoldReply::NotAdmitted(NotAdmitted::Expired)
        );
        let id = ReservationId::new();
        assert_eq!(
            parse(list([s("reservation_exists"), s(&id.to_string())])).unwrap(),
            HoldReply::ReservationExists(id)
        );
        let seat = |n| SeatNo::parse(n).unwrap();
        assert_eq!(
            parse(list([s("seat_unavailable"), s("3"), i(4)])).unwrap(),
            HoldReply::SeatsTaken(vec![seat(3), seat(4)])
        );
    }

    #[test]
    fn a_malformed_answer_is_a_parse_error() {
        assert!(error_text(parse(list([s("held")]))).contains("ends after 1"));
        assert!(error_text(parse(list([s("seat_unavailable"), s("x")]))).contains("element 2"));
        assert!(error_text(parse(list([s("reservation_exists"), s("")]))).contains("\"\""));
        assert!(error_text(parse(list([s("paying")]))).contains("\"paying\""));
    }
}
