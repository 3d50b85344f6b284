//! `lua/settings_synced.lua`: PostgreSQL has stored one version of a line's
//! settings; its pending marker is cleared unless a later change replaced it.

use super::{Call, Reply, call};
use crate::error::Result;
use crate::store::ConcertKeys;
use redis::aio::ConnectionLike;

/// Whether the marker was this version's (and is cleared).
fn parse(mut reply: Reply) -> Result<bool> {
    let cleared = reply.next_flag()?;
    reply.finish()?;
    Ok(cleared)
}

/// Clears the pending marker of `version`. Safe to send twice.
pub async fn settings_synced(
    conn: &mut impl ConnectionLike,
    concert: &ConcertKeys,
    version: u64,
) -> Result<bool> {
    let mut call: Call = call!(settings_synced);
    call.key(concert.cfg()).arg(version).idempotent();
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn a_flag() {
        assert!(parse(Reply::new("settings_synced", i(1))).unwrap());
        assert!(!parse(Reply::new("settings_synced", i(0))).unwrap());
        assert!(
            error_text(parse(Reply::new("settings_synced", i(2))))
                .contains("settings_synced script")
        );
    }
}
