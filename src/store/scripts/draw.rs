//! `lua/draw.lua`: the pre-queue's drawn order applied, exactly once.

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::UserId;
use crate::error::Result;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionLike;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawReply {
    /// Applied now: this many people got their drawn rank (the others had left).
    Placed(u64),
    /// Another server applied it first; nothing changed.
    AlreadyApplied,
}

impl DrawReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let answer = match reply.next_i64()? {
            -1 => Self::AlreadyApplied,
            placed => {
                Self::Placed(u64::try_from(placed).map_err(|_| reply.unknown(&placed.to_string()))?)
            }
        };
        reply.finish()?;
        Ok(answer)
    }
}

/// Gives each member of `order` still waiting from before the opening their
/// rank (1-based) in the draw, unless a draw was applied already.
pub async fn draw(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    opens_at: DateTime<Utc>,
    order: &[UserId],
) -> Result<DrawReply> {
    let mut call: Call = call!(draw);
    call.key(&keys.wait)
        .key(keys.concert.draw())
        .key(keys.concert.drawn())
        .arg(opens_at.timestamp_micros());
    for user in order {
        call.arg(user.to_string());
    }
    // A second run finds the marker and changes nothing.
    call.idempotent();
    DrawReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn placed_or_already_applied() {
        let parse = |value| DrawReply::parse(Reply::new("draw", value));
        assert_eq!(parse(i(4)).unwrap(), DrawReply::Placed(4));
        assert_eq!(parse(i(-1)).unwrap(), DrawReply::AlreadyApplied);
        assert!(error_text(parse(i(-2))).contains("-2"));
        assert!(error_text(parse(s("done"))).contains("element 1"));
    }
}
