//! `lua/prequeue.lua`: who is in the pre-queue, once it is time for its draw.

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::UserId;
use crate::error::Result;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionLike;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrequeueReply {
    /// The draw has been made already.
    Drawn,
    /// Redis time is before the opening.
    NotOpen,
    /// Everyone who joined before the opening (final: nobody can join it now).
    Members(Vec<UserId>),
}

impl PrequeueReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let state = reply.next_string()?;
        let answer = match state.as_str() {
            "drawn" => Self::Drawn,
            "not_open" => Self::NotOpen,
            "members" => Self::Members(reply.next_list()?.rest(Reply::next_parsed)?),
            other => return Err(reply.unknown(other)),
        };
        reply.finish()?;
        Ok(answer)
    }
}

pub async fn prequeue(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    opens_at: DateTime<Utc>,
) -> Result<PrequeueReply> {
    let mut call: Call = call!(prequeue);
    call.key(&keys.wait)
        .key(keys.concert.drawn())
        .arg(opens_at.timestamp_micros())
        // It only reads.
        .idempotent();
    PrequeueReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn drawn_not_open_or_the_members() {
        let parse = |value| PrequeueReply::parse(Reply::new("prequeue", value));
        assert_eq!(parse(list([s("drawn")])).unwrap(), PrequeueReply::Drawn);
        assert_eq!(
            parse(list([s("not_open")])).unwrap(),
            PrequeueReply::NotOpen
        );
        let user = UserId::new();
        assert_eq!(
            parse(list([s("members"), list([s(&user.to_string())])])).unwrap(),
            PrequeueReply::Members(vec![user])
        );
        assert!(error_text(parse(list([s("members"), list([s("x")])]))).contains("\"x\""));
        assert!(error_text(parse(list([s("members")]))).contains("ends after 1"));
    }
}
