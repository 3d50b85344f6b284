//! `lua/settings_set.lua`: an operator's settings take effect in the live
//! `cfg` hash, marked pending until PostgreSQL has them.

use super::{Call, Reply, call};
use crate::error::Result;
use crate::store::ConcertKeys;
use redis::aio::ConnectionLike;

/// The version of the settings now in force.
fn parse(mut reply: Reply) -> Result<u64> {
    let version = reply.next_u64()?;
    reply.finish()?;
    Ok(version)
}

/// Writes `fields` to the concert's `cfg` hash and marks them pending; returns
/// their version. Safe to send twice (its header says why).
pub async fn settings_set(
    conn: &mut impl ConnectionLike,
    concert: &ConcertKeys,
    fields: &[(&'static str, String)],
) -> Result<u64> {
    let mut call: Call = call!(settings_set);
    call.key(concert.cfg()).idempotent();
    for (name, value) in fields {
        call.arg(*name).arg(value);
    }
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn a_version() {
        assert_eq!(
            parse(Reply::new("settings_set", s("1764471234567890"))).unwrap(),
            1_764_471_234_567_890
        );
        assert!(
            error_text(parse(Reply::new("settings_set", s("x")))).contains("settings_set script")
        );
    }
}
