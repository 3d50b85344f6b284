//! `lua/status.lua`: where a queue token stands, in one round trip.

use super::{AdmissionKeys, CachedLine, Call, LineDefaults, LineFacts, Reply, call};
use crate::domain::UserId;
use crate::error::Result;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionLike;

pub struct StatusArgs<'a> {
    pub user: UserId,
    /// The queue token's jti.
    pub jti: &'a str,
    pub defaults: LineDefaults,
    /// The concert's opening: before it, a waiting place is in the pre-queue.
    /// `None` for a concert this server does not know yet (no pre-queue).
    pub opens_at: Option<DateTime<Utc>>,
    /// The line's facts, when this server read them a moment ago: the script
    /// then skips them (`None`: it reads them and the reply carries them).
    pub cached: Option<CachedLine>,
}

impl<'a> StatusArgs<'a> {
    /// For a caller that only wants to know whether the token is admitted:
    /// the line facts and the position it gets back are meaningless.
    pub fn state_only(user: UserId, jti: &'a str) -> Self {
        Self {
            user,
            jti,
            defaults: LineDefaults {
                admit_per_second: 1,
                idle_timeout_ms: 0,
                poll_budget_per_second: 1,
            },
            opens_at: None,
            cached: None,
        }
    }
}

/// Where a place in line stands; join answers the same.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StatusReply {
    /// In line; position is 1-based, 0 in a pre-queue not drawn yet.
    Waiting { position: u64, line: LineFacts },
    /// In line, but no seat is free (as the admit tick last found): the place
    /// is kept should seats come back.
    SoldOut { position: u64, line: LineFacts },
    /// Admitted, for this much longer.
    Active { remaining_ms: u64 },
    /// Left, paid, evicted, dropped as idle or superseded.
    Expired,
}

impl StatusReply {
    /// `state, position, active_remaining_ms`, then the line facts (unless
    /// `cached`: then they are these).
    pub(super) fn read(reply: &mut Reply, cached: Option<&CachedLine>) -> Result<Self> {
        let state = reply.next_string()?;
        let position = reply.next_u64()?;
        let remaining_ms = reply.next_u64()?;
        let line = CachedLine::facts(cached, reply)?;
        Ok(match state.as_str() {
            "waiting" => Self::Waiting { position, line },
            "sold_out" => Self::SoldOut { position, line },
            "active" => Self::Active { remaining_ms },
            "expired" => Self::Expired,
            other => return Err(reply.unknown(other)),
        })
    }

    fn parse(mut reply: Reply, cached: Option<&CachedLine>) -> Result<Self> {
        let standing = Self::read(&mut reply, cached)?;
        reply.finish()?;
        Ok(standing)
    }
}

/// Where the token stands; a waiting poll also counts as the user's last-seen time.
pub async fn status(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    args: StatusArgs<'_>,
) -> Result<StatusReply> {
    let mut call: Call = call!(status);
    keys.admission(&mut call);
    let concert = &keys.concert;
    call.key(concert.cfg())
        .key(concert.idle())
        .key(concert.line_stats())
        .key(concert.draw())
        .key(concert.drawn())
        .arg(args.user.to_string())
        .arg(args.jti);
    args.defaults.push(&mut call);
    call.arg(args.opens_at.map_or(0, |at| at.timestamp_micros()));
    CachedLine::push(args.cached.as_ref(), &mut call);
    // A re-sent poll is a later poll.
    call.idempotent();
    StatusReply::parse(call.run(conn).await?, args.cached.as_ref())
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    fn facts() -> [redis::Value; 6] {
        [
            s("100"),
            s("120000"),
            s("20000"),
            s("12.5"),
            s("2.5"),
            i(40),
        ]
    }

    fn parse(head: [redis::Value; 3]) -> Result<StatusReply> {
        StatusReply::parse(
            Reply::new("status", list(head.into_iter().chain(facts()))),
            None,
        )
    }

    const LINE: LineFacts = LineFacts {
        admit_per_second: 100,
        idle_timeout_ms: 120_000,
        poll_budget_per_second: 20_000,
        rate_admitted: 12.5,
        rate_seconds: 2.5,
        waiting: 40,
    };

    #[test]
    fn each_state_reads_as_its_variant() {
        assert_eq!(
            parse([s("waiting"), i(7), i(0)]).unwrap(),
            StatusReply::Waiting {
                position: 7,
                line: LINE
            }
        );
        assert_eq!(
            parse([s("sold_out"), i(3), i(0)]).unwrap(),
            StatusReply::SoldOut {
                position: 3,
                line: LINE
            }
        );
        assert_eq!(
            parse([s("active"), i(0), i(4_500)]).unwrap(),
            StatusReply::Active {
                remaining_ms: 4_500
            }
        );
        assert_eq!(
            parse([s("expired"), i(0), i(0)]).unwrap(),
            StatusReply::Expired
        );
    }

    #[test]
    fn an_unknown_state_or_a_short_reply_is_a_parse_error() {
        let text = error_text(parse([s("admitted"), i(0), i(0)]));
        assert!(
            text.contains("status script") && text.contains("\"admitted\""),
            "{text}"
        );
        let short =
            StatusReply::parse(Reply::new("status", list([s("waiting"), i(1), i(0)])), None);
        assert!(error_text(short).contains("ends after 3"));
    }

    #[test]
    fn a_poll_with_cached_facts_reads_them_from_the_cache_not_the_reply() {
        let cached = CachedLine {
            facts: LINE,
            idle_in_force_ms: 120_000,
        };
        let reply = Reply::new("status", list([s("waiting"), i(9), i(0)]));
        assert_eq!(
            StatusReply::parse(reply, Some(&cached)).unwrap(),
            StatusReply::Waiting {
                position: 9,
                line: LINE
            }
        );
        // Facts where none were asked for are a malformed reply.
        let long = Reply::new(
            "status",
            list([s("waiting"), i(9), i(0)].into_iter().chain(facts())),
        );
        assert!(StatusReply::parse(long, Some(&cached)).is_err());
    }
}
