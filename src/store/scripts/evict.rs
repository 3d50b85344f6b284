//! `lua/evict.lua`: an operator removes one person from a line or its admission.

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::{ReservationId, UserId};
use crate::error::Result;
use redis::aio::ConnectionLike;

/// Where an evicted person was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Waiting,
    Active,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvictReply {
    /// `None`: neither waiting nor admitted (nothing was removed).
    pub was: Option<Place>,
    /// Their open reservation, for the caller to release.
    pub reservation: Option<ReservationId>,
}

impl EvictReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let was = match reply.next_string()?.as_str() {
            "waiting" => Some(Place::Waiting),
            "active" => Some(Place::Active),
            "absent" => None,
            other => return Err(reply.unknown(other)),
        };
        let reservation = reply.next_parsed_or_empty()?;
        reply.finish()?;
        Ok(Self { was, reservation })
    }
}

/// Removes the user from the line and the admitted set. Sent once: a re-send
/// answers as the first run did.
pub async fn evict(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    user: UserId,
) -> Result<EvictReply> {
    let mut call: Call = call!(evict, sent_once in &keys.concert);
    keys.admission(&mut call);
    call.key(keys.concert.user_res())
        .key(keys.concert.draw())
        .key(keys.concert.deadlines())
        .arg(user.to_string());
    EvictReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    fn parse(value: redis::Value) -> Result<EvictReply> {
        EvictReply::parse(Reply::new("evict", value))
    }

    #[test]
    fn where_they_were_and_their_open_reservation() {
        let id = ReservationId::new();
        assert_eq!(
            parse(list([s("active"), s(&id.to_string())])).unwrap(),
            EvictReply {
                was: Some(Place::Active),
                reservation: Some(id)
            }
        );
        assert_eq!(
            parse(list([s("waiting"), s("")])).unwrap(),
            EvictReply {
                was: Some(Place::Waiting),
                reservation: None
            }
        );
        assert_eq!(parse(list([s("absent"), s("")])).unwrap().was, None);
    }

    #[test]
    fn a_reservation_that_is_no_id_is_a_parse_error() {
        assert!(error_text(parse(list([s("active"), s("res-1")]))).contains("\"res-1\""));
        assert!(error_text(parse(list([s("gone"), s("")]))).contains("\"gone\""));
    }
}
