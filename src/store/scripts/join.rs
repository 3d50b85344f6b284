//! `lua/join.lua`: a place in a concert's line, new or the one already held.

use super::{AdmissionKeys, CachedLine, Call, LineDefaults, Reply, StatusReply, call};
use crate::domain::UserId;
use crate::error::Result;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionLike;

pub struct JoinArgs {
    pub user: UserId,
    /// The cap on the line when `cfg` has none (0: no cap).
    pub max_waiting: u32,
    pub defaults: LineDefaults,
    /// The concert's opening: joining before it puts the user in the pre-queue.
    pub opens_at: DateTime<Utc>,
    /// The line's facts, when this server read them a moment ago (see
    /// [`super::StatusArgs::cached`]).
    pub cached: Option<CachedLine>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JoinReply {
    /// A place: `new`, or the one the user already had (same jti).
    /// Where it stands reads as a status poll's answer.
    Placed {
        new: bool,
        jti: String,
        standing: StatusReply,
    },
    /// The line is at its `max_waiting` cap.
    QueueFull,
    /// An operator closed the sale.
    SaleClosed,
}

impl JoinReply {
    fn parse(mut reply: Reply, cached: Option<&CachedLine>) -> Result<Self> {
        let new = match reply.next_string()?.as_str() {
            "queue_full" => return reply.finish().map(|()| Self::QueueFull),
            "sale_closed" => return reply.finish().map(|()| Self::SaleClosed),
            "new" => true,
            "kept" => false,
            other => return Err(reply.unknown(other)),
        };
        let jti = reply.next_string()?;
        let standing = StatusReply::read(&mut reply, cached)?;
        reply.finish()?;
        Ok(Self::Placed { new, jti, standing })
    }
}

/// Puts the user in line, or returns the place they have (idempotent); joining
/// counts as a poll. Sent once: a re-send answers as the first run did, so a
/// new place stays new.
pub async fn join(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    args: JoinArgs,
) -> Result<JoinReply> {
    let mut call: Call = call!(join, sent_once in &keys.concert);
    keys.admission(&mut call);
    let concert = &keys.concert;
    call.key(concert.seq())
        .key(concert.cfg())
        .key(concert.idle())
        .key(concert.line_stats())
        .key(concert.draw())
        .key(concert.drawn())
        .arg(args.user.to_string())
        .arg(args.max_waiting);
    args.defaults.push(&mut call);
    call.arg(args.opens_at.timestamp_micros());
    CachedLine::push(args.cached.as_ref(), &mut call);
    JoinReply::parse(call.run(conn).await?, args.cached.as_ref())
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    fn placed(placed: &str, state: &str) -> redis::Value {
        let head = [s(placed), s("1700000000000001"), s(state), i(2), i(0)];
        let facts = [s("10"), s("3000"), s("500"), s("0"), s("0"), i(2)];
        list(head.into_iter().chain(facts))
    }

    fn parse(value: redis::Value) -> Result<JoinReply> {
        JoinReply::parse(Reply::new("join", value), None)
    }

    #[test]
    fn a_new_or_kept_place_carries_its_jti_and_standing() {
        let JoinReply::Placed { new, jti, standing } = parse(placed("new", "waiting")).unwrap()
        else {
            panic!("not placed")
        };
        assert!(new);
        assert_eq!(jti, "1700000000000001");
        assert!(matches!(standing, StatusReply::Waiting { position: 2, .. }));
        let JoinReply::Placed { new, standing, .. } = parse(placed("kept", "sold_out")).unwrap()
        else {
            panic!("not placed")
        };
        assert!(!new);
        assert!(matches!(standing, StatusReply::SoldOut { position: 2, .. }));
    }

    #[test]
    fn refusals_are_one_word() {
        assert_eq!(
            parse(list([s("queue_full")])).unwrap(),
            JoinReply::QueueFull
        );
        assert_eq!(
            parse(list([s("sale_closed")])).unwrap(),
            JoinReply::SaleClosed
        );
    }

    #[test]
    fn the_old_shape_or_an_unknown_word_is_a_parse_error() {
        // The reply before sold-out became a state: {'joined', jti, position, ...}.
        assert!(error_text(parse(placed("joined", "waiting"))).contains("\"joined\""));
        assert!(error_text(parse(list([s("queue_full"), i(1)]))).contains("left"));
        assert!(error_text(parse(placed("new", "full"))).contains("\"full\""));
    }
}
