//! `lua/close.lua`: an operator ends a sale; the line is dismissed, and the
//! closing is pending in `cfg` until PostgreSQL has it.

use super::{AdmissionKeys, Call, Reply, call};
use crate::error::Result;
use redis::aio::ConnectionLike;

/// What a close did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed {
    /// How many were waiting.
    pub dismissed: u64,
    /// When the sale closed (the first close's Redis time), in ms.
    pub closed_at_ms: i64,
}

fn parse(mut reply: Reply) -> Result<Closed> {
    let dismissed = reply.next_u64()?;
    let closed_at_ms = reply.next_i64()?;
    reply.finish()?;
    Ok(Closed {
        dismissed,
        closed_at_ms,
    })
}

/// Stops joins, admissions and holds, and dismisses the line. Sent once and
/// never again: a second run would answer that nobody was waiting.
pub async fn close(conn: &mut impl ConnectionLike, keys: &AdmissionKeys) -> Result<Closed> {
    let mut call: Call = call!(close);
    call.key(keys.concert.cfg()).key(&keys.wait);
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn a_count_and_a_time() {
        assert_eq!(
            parse(Reply::new("close", list([i(3), i(1_764_471_234_567)]))).unwrap(),
            Closed {
                dismissed: 3,
                closed_at_ms: 1_764_471_234_567
            }
        );
        assert!(error_text(parse(Reply::new("close", i(3)))).contains("close script"));
    }
}
