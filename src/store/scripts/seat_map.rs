//! `lua/seat_map.lua`: the sold and held seats of one date, for an admitted user.

use super::{AdmissionKeys, Call, NotAdmitted, Reply, call};
use crate::domain::{ScheduleId, SeatNo, UserId};
use crate::error::Result;
use redis::aio::ConnectionLike;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeatMapReply {
    /// The date's sold seats and the seats held now.
    Seats {
        sold: Vec<SeatNo>,
        held: Vec<SeatNo>,
    },
    NotAdmitted(NotAdmitted),
    /// Redis has lost this date's sold seats: load them and ask again.
    SoldNotLoaded,
}

impl SeatMapReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let state = reply.next_string()?;
        let map = match state.as_str() {
            "ok" => Self::Seats {
                sold: reply.next_list()?.rest(Reply::next_seat)?,
                held: reply.next_list()?.rest(Reply::next_seat)?,
            },
            "sold_not_loaded" => Self::SoldNotLoaded,
            other => match NotAdmitted::from_state(other) {
                Some(refused) => Self::NotAdmitted(refused),
                None => return Err(reply.unknown(other)),
            },
        };
        reply.finish()?;
        Ok(map)
    }
}

pub async fn seat_map(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    user: UserId,
    jti: &str,
    schedule: ScheduleId,
) -> Result<SeatMapReply> {
    let concert = &keys.concert;
    let mut call: Call = call!(seat_map);
    keys.admission(&mut call);
    call.key(concert.sold(schedule))
        .key(concert.sold_loaded(schedule))
        .key(concert.held(schedule))
        .arg(user.to_string())
        .arg(jti)
        // It only reads.
        .idempotent();
    SeatMapReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    fn parse(value: redis::Value) -> Result<SeatMapReply> {
        SeatMapReply::parse(Reply::new("seat_map", value))
    }

    #[test]
    fn seats_or_a_refusal() {
        let seat = |n| SeatNo::parse(n).unwrap();
        assert_eq!(
            parse(list([s("ok"), list([s("1"), s("2")]), list([s("9")])])).unwrap(),
            SeatMapReply::Seats {
                sold: vec![seat(1), seat(2)],
                held: vec![seat(9)]
            }
        );
        assert_eq!(
            parse(list([s("ok"), list([]), list([])])).unwrap(),
            SeatMapReply::Seats {
                sold: vec![],
                held: vec![]
            }
        );
        assert_eq!(
            parse(list([s("sold_not_loaded")])).unwrap(),
            SeatMapReply::SoldNotLoaded
        );
        assert_eq!(
            parse(list([s("expired")])).unwrap(),
            SeatMapReply::NotAdmitted(NotAdmitted::Expired)
        );
    }

    #[test]
    fn a_malformed_map_is_a_parse_error() {
        assert!(error_text(parse(list([s("ok"), list([s("1")])]))).contains("ends after 2"));
        assert!(error_text(parse(list([s("ok"), s("1"), list([])]))).contains("not a list"));
        assert!(error_text(parse(list([s("free")]))).contains("\"free\""));
    }
}
