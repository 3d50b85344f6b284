//! `lua/retire.lua`: every lasting Redis key of a finished concert deleted.

use super::{Call, Reply, call};
use crate::domain::ScheduleId;
use crate::error::Result;
use crate::store::ConcertKeys;
use redis::aio::ConnectionLike;

fn parse(mut reply: Reply) -> Result<u64> {
    let deleted = reply.next_u64()?;
    reply.finish()?;
    Ok(deleted)
}

/// Deletes the concert's lasting keys (those of its `schedules` included);
/// returns how many there were. Safe to send twice.
pub async fn retire(
    conn: &mut impl ConnectionLike,
    concert: &ConcertKeys,
    schedules: &[ScheduleId],
) -> Result<u64> {
    let mut call: Call = call!(retire);
    for key in concert.lasting(schedules) {
        call.key(key);
    }
    call.idempotent();
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn a_count() {
        assert_eq!(parse(Reply::new("retire", i(7))).unwrap(), 7);
        assert!(error_text(parse(Reply::new("retire", s("x")))).contains("retire script"));
    }
}
