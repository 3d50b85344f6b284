//! `lua/pay_abort.lua`: a reservation handed back to its holder when a payment
//! attempt could not be decided (`paying` becomes `held` again), by that
//! attempt only.

use super::{AdmissionKeys, Call, PaymentAttempt, Reply, call};
use crate::domain::ReservationId;
use crate::error::Result;
use redis::aio::ConnectionLike;

/// Whether the reservation was `paying` for this attempt (and is `held` again).
fn parse(mut reply: Reply) -> Result<bool> {
    let was_paying = reply.next_flag()?;
    reply.finish()?;
    Ok(was_paying)
}

/// Hands the reservation back if `attempt` claimed it. Safe to send twice,
/// and late: another attempt's claim is never touched.
pub async fn pay_abort(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    reservation: ReservationId,
    attempt: PaymentAttempt,
) -> Result<bool> {
    let mut call: Call = call!(pay_abort);
    call.key(keys.concert.reservation(reservation))
        .arg(attempt.to_string())
        .idempotent();
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
