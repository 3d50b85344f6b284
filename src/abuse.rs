//! Abuse limits: per client address and per user, on joining, reserving,
//! charging and paying, each a token bucket in Redis (`lua/rate_limit.lua`),
//! so all servers together allow the configured rate, not N times it; and per
//! queue token, on status polls and seat maps, counted by each server in
//! memory (`polls.rs`: those reads are the hottest, and the limit must not
//! cost them a Redis round trip). Never reads or writes anything but buckets.

mod polls;

pub use polls::Poll;

use crate::config::{AbuseLimits, RateLimit};
use crate::domain::{ConcertId, UserId};
use crate::error::{Error, Result};
use crate::store::RedisStore;
use crate::store::scripts::{self, RateLimitArgs};
use polls::PollLimiter;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// The limited actions; each has its own buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Join,
    Reserve,
    Charge,
    Pay,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Join => "join",
            Action::Reserve => "reserve",
            Action::Charge => "charge",
            Action::Pay => "pay",
        }
    }
}

#[derive(Clone)]
pub struct AbuseLimiter {
    redis: RedisStore,
    limits: AbuseLimits,
    polls: Arc<PollLimiter>,
}

impl AbuseLimiter {
    pub fn new(redis: RedisStore, limits: AbuseLimits) -> Self {
        Self {
            redis,
            limits,
            polls: Arc::new(PollLimiter::new(limits.per_token)),
        }
    }

    /// Takes one `poll` from the bucket of the queue token's place (its concert
    /// and user: a renewed token shares it), on this server.
    pub fn check_poll(&self, poll: Poll, concert: ConcertId, user: UserId) -> Result<()> {
        self.polls
            .take(poll, concert, user, Instant::now())
            .map_err(|retry_after| Error::RateLimited { retry_after })
    }

    /// Takes one request of `action` from the client address's bucket.
    pub async fn check_address(&self, action: Action, address: IpAddr) -> Result<()> {
        self.take(
            self.limits.per_address,
            "addr",
            action,
            &address_key(address),
        )
        .await
    }

    /// Takes one request of `action` from the user's bucket.
    pub async fn check_user(&self, action: Action, user: UserId) -> Result<()> {
        self.take(self.limits.per_user, "user", action, &user.to_string())
            .await
    }

    async fn take(
        &self,
        limit: Option<RateLimit>,
        scope: &str,
        action: Action,
        client: &str,
    ) -> Result<()> {
        let Some(limit) = limit else {
            return Ok(());
        };
        // A new id per request: the script answers a re-send of this one call
        // from the bucket, without taking a second request.
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        let args = RateLimitArgs {
            scope,
            action: action.name(),
            client,
            rate: limit.rate,
            burst: limit.burst,
            attempt: &attempt,
        };
        match scripts::rate_limit(&mut self.redis.conn(), &self.redis.keys, args).await? {
            None => Ok(()),
            Some(retry_after) => Err(Error::RateLimited { retry_after }),
        }
    }
}

/// The bucket name of an address. An IPv6 client usually holds a whole /64, so
/// the /64 is what is counted.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
