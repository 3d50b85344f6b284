//! `lua/leave.lua`: a user leaves the line, or gives up their admission.

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::UserId;
use crate::error::Result;
use redis::aio::ConnectionLike;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaveReply {
    Left,
    /// The token was no longer the user's current one: nothing changed.
    Expired,
}

impl LeaveReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let left = match reply.next_string()?.as_str() {
            "left" => Self::Left,
            "expired" => Self::Expired,
            other => return Err(reply.unknown(other)),
        };
        reply.finish()?;
        Ok(left)
    }
}

/// Takes the token's holder out of the line or the admitted set. Sent once: a
/// re-send answers as the first run did.
pub async fn leave(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    user: UserId,
    jti: &str,
) -> Result<LeaveReply> {
    let mut call: Call = call!(leave, sent_once in &keys.concert);
    keys.admission(&mut call);
    call.key(keys.concert.draw())
        .key(keys.concert.deadlines())
        .arg(user.to_string())
        .arg(jti);
    LeaveReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn left_or_expired() {
        let parse = |value| LeaveReply::parse(Reply::new("leave", value));
        assert_eq!(parse(s("left")).unwrap(), LeaveReply::Left);
        assert_eq!(parse(s("expired")).unwrap(), LeaveReply::Expired);
        assert!(error_text(parse(i(1))).contains("leave script"));
    }
}
