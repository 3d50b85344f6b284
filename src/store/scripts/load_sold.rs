//! `lua/load_sold.lua`: a date's sold seats copied from PostgreSQL into Redis and
//! marked loaded, in one step.

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::{ScheduleId, SeatNo, seat_numbers};
use crate::error::Result;
use redis::aio::ConnectionLike;

/// How many seats the sold set holds afterwards.
fn parse(mut reply: Reply) -> Result<u64> {
    let count = reply.next_u64()?;
    reply.finish()?;
    Ok(count)
}

/// Adds `sold` to the date's sold set and marks it loaded; returns its size.
pub async fn load_sold(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    schedule: ScheduleId,
    sold: &[SeatNo],
) -> Result<u64> {
    let mut call: Call = call!(load_sold);
    call.key(keys.concert.sold(schedule))
        .key(keys.concert.sold_loaded(schedule))
        .arg(seat_numbers(sold))
        // The same seats added again, the same marker set again.
        .idempotent();
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn a_count() {
        assert_eq!(parse(Reply::new("load_sold", i(12))).unwrap(), 12);
        assert!(error_text(parse(Reply::new("load_sold", list([])))).contains("ends after 0"));
    }
}
