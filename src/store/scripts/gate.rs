//! `lua/gate.lua`: whether an admission is still live, in one read-only round trip.

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::UserId;
use crate::error::Result;
use redis::aio::ConnectionLike;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateReply {
    /// Admitted, with this much of the admission left.
    Admitted { remaining: Duration },
    /// Waiting, ended, superseded, or the sale closed.
    NotAdmitted,
}

impl GateReply {
    fn parse(mut reply: Reply) -> Result<Self> {
        let remaining_ms = reply.next_u64()?;
        reply.finish()?;
        Ok(match remaining_ms {
            0 => Self::NotAdmitted,
            ms => Self::Admitted {
                remaining: Duration::from_millis(ms),
            },
        })
    }
}

/// Whether `user` is admitted now with `jti` as their current place.
pub async fn gate(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    user: UserId,
    jti: &str,
) -> Result<GateReply> {
    let mut call: Call = call!(gate);
    keys.admission(&mut call);
    call.key(keys.concert.cfg())
        .arg(user.to_string())
        .arg(jti)
        // Reads only.
        .idempotent();
    GateReply::parse(call.run(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    #[test]
    fn remaining_time_or_not_admitted() {
        let parse = |value| GateReply::parse(Reply::new("gate", value));
        assert_eq!(
            parse(i(1_500)).unwrap(),
            GateReply::Admitted {
                remaining: Duration::from_millis(1_500)
            }
        );
        assert_eq!(parse(i(0)).unwrap(), GateReply::NotAdmitted);
        assert!(error_text(parse(s("active"))).contains("gate script"));
    }
}
