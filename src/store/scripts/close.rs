//! `lua/close.lua`: an operator ends a sale; the line is dismissed.

use super::{AdmissionKeys, Call, Reply, call};
use crate::error::Result;
use redis::aio::ConnectionLike;

/// How many were waiting.
fn parse(mut reply: Reply) -> Result<u64> {
    let dismissed = reply.next_u64()?;
    reply.finish()?;
    Ok(dismissed)
}

/// Stops joins, admissions and holds, and dismisses the line; returns how
/// many people were waiting.
pub async fn close(conn: &mut impl ConnectionLike, keys: &AdmissionKeys) -> Result<u64> {
    let mut call: Call = call!(close);
    call.key(keys.concert.cfg()).key(&keys.wait);
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn a_count() {
        assert_eq!(parse(Reply::new("close", i(3))).unwrap(), 3);
        assert!(error_text(parse(Reply::new("close", s("closed")))).contains("close script"));
    }
}
