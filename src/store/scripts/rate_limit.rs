//! `lua/rate_limit.lua`: one request taken from a client's token bucket, shared
//! by every server.

use super::{Call, Reply, call};
use crate::error::Result;
use crate::store::Keys;
use redis::aio::ConnectionLike;
use std::time::Duration;

pub struct RateLimitArgs<'a> {
    /// `addr` or `user`.
    pub scope: &'a str,
    /// The limited action (join, reserve, ...): each has its own buckets.
    pub action: &'a str,
    /// The client's address or user id.
    pub client: &'a str,
    /// Requests a second, and how many may come at once.
    pub rate: f64,
    pub burst: u32,
    /// New for every request: the same call sent again (a re-send after a lost
    /// reply) gets the first answer back and takes nothing more.
    pub attempt: &'a str,
}

/// `None` when the request may go ahead, else how long until it may.
fn parse(mut reply: Reply) -> Result<Option<Duration>> {
    let wait_ms = reply.next_u64()?;
    reply.finish()?;
    Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
}

/// Takes one request from the client's bucket for the action: `None` when it
/// may go ahead, else how long until it may. Safe to send twice (see `attempt`).
pub async fn rate_limit(
    conn: &mut impl ConnectionLike,
    keys: &Keys,
    args: RateLimitArgs<'_>,
) -> Result<Option<Duration>> {
    let mut call: Call = call!(rate_limit);
    call.key(keys.rate_limit(args.scope, args.action, args.client))
        .arg(args.rate)
        .arg(args.burst)
        .arg(args.attempt)
        .idempotent();
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn zero_or_the_wait() {
        assert_eq!(parse(Reply::new("rate_limit", i(0))).unwrap(), None);
        assert_eq!(
            parse(Reply::new("rate_limit", i(250))).unwrap(),
            Some(Duration::from_millis(250))
        );
        assert!(error_text(parse(Reply::new("rate_limit", i(-1)))).contains("element 1"));
    }
}
