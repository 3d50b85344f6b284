//! `lua/pay_abort.lua`: a reservation handed back to its holder when a payment
//! could not be decided (`paying` becomes `held` again).

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::ReservationId;
use crate::error::Result;
use redis::aio::ConnectionLike;

/// Whether the reservation was `paying` (and is `held` again).
fn parse(mut reply: Reply) -> Result<bool> {
    let was_paying = reply.next_flag()?;
    reply.finish()?;
    Ok(was_paying)
}

pub async fn pay_abort(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    reservation: ReservationId,
) -> Result<bool> {
    let mut call: Call = call!(pay_abort);
    call.key(keys.concert.reservation(reservation));
    parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn a_flag() {
        assert!(parse(Reply::new("pay_abort", i(1))).unwrap());
        assert!(!parse(Reply::new("pay_abort", i(0))).unwrap());
        assert!(error_text(parse(Reply::new("pay_abort", i(2)))).contains("pay_abort script"));
    }
}
