//! Abuse limits: per client address and per user, on joining, reserving,
//! charging and paying. Each is a token bucket in Redis (`lua/rate_limit.lua`),
//! so all servers together allow the configured rate, not N times it.

use crate::config::{AbuseLimits, RateLimit};
use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::store::RedisStore;
use crate::store::scripts::{self, RateLimitArgs};
use std::net::IpAddr;

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
}

impl AbuseLimiter {
    pub fn new(redis: RedisStore, limits: AbuseLimits) -> Self {
        Self { redis, limits }
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
        let args = RateLimitArgs {
            scope,
            action: action.name(),
            client,
            rate: limit.rate,
            burst: limit.burst,
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
