//! Abuse limits on join, reserve, charge and pay, per client address and per
//! user; on status polls and seat maps, per queue token; and whose
//! `X-Forwarded-For` names the client address.
//!
//! Reads `LINEUP_LIMIT_ADDRESS_RATE`, `LINEUP_LIMIT_ADDRESS_BURST`,
//! `LINEUP_LIMIT_USER_RATE`, `LINEUP_LIMIT_USER_BURST`, `LINEUP_LIMIT_POLL_RATE`,
//! `LINEUP_LIMIT_POLL_BURST`, `LINEUP_TRUSTED_PROXIES`.

use anyhow::ensure;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct AbuseArgs {
    /// Proxies whose X-Forwarded-For is believed (comma-separated addresses or
    /// CIDR ranges); from anyone else the header is ignored.
    #[arg(long, env = "LINEUP_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Join, reserve, charge and pay requests per second allowed from one client
    /// address, each action counted apart, shared by all servers (0 = no limit).
    #[arg(long, env = "LINEUP_LIMIT_ADDRESS_RATE", default_value_t = 50.0)]
    pub limit_address_rate: f64,

    /// Burst allowed above the per-address rate.
    #[arg(long, env = "LINEUP_LIMIT_ADDRESS_BURST", default_value_t = 100)]
    pub limit_address_burst: u32,

    /// Join, reserve, charge and pay requests per second allowed for one user,
    /// each action counted apart, shared by all servers (0 = no limit).
    #[arg(long, env = "LINEUP_LIMIT_USER_RATE", default_value_t = 2.0)]
    pub limit_user_rate: f64,

    /// Burst allowed above the per-user rate.
    #[arg(long, env = "LINEUP_LIMIT_USER_BURST", default_value_t = 10)]
    pub limit_user_burst: u32,

    /// Status polls and seat-map reads per second allowed for one queue token,
    /// each counted apart, by each server on its own (0 = no limit). Tickets
    /// never ask for polls more often than once a second.
    #[arg(long, env = "LINEUP_LIMIT_POLL_RATE", default_value_t = 1.0)]
    pub limit_poll_rate: f64,

    /// Burst allowed above the per-token poll rate.
    #[arg(long, env = "LINEUP_LIMIT_POLL_BURST", default_value_t = 5)]
    pub limit_poll_burst: u32,
}

/// A token bucket: `rate` per second sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub rate: f64,
    pub burst: u32,
}

impl RateLimit {
    /// `None` when switched off (rate 0).
    fn parse(rate: f64, burst: u32, name: &str) -> anyhow::Result<Option<Self>> {
        ensure!(
            rate.is_finite() && rate >= 0.0,
            "LINEUP_LIMIT_{name}_RATE must be 0 or more"
        );
        if rate == 0.0 {
            return Ok(None);
        }
        ensure!(burst >= 1, "LINEUP_LIMIT_{name}_BURST must be 1 or more");
        Ok(Some(Self { rate, burst }))
    }
}

/// Per-address and per-user limits on join, reserve, charge and pay; the
/// per-token limit on status polls and seat maps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AbuseLimits {
    pub per_address: Option<RateLimit>,
    pub per_user: Option<RateLimit>,
    pub per_token: Option<RateLimit>,
}

impl AbuseArgs {
    /// The limits; the trusted proxies need no conversion.
    pub fn limits(&self) -> anyhow::Result<AbuseLimits> {
        Ok(AbuseLimits {
            per_address: RateLimit::parse(
                self.limit_address_rate,
                self.limit_address_burst,
                "ADDRESS",
            )?,
            per_user: RateLimit::parse(self.limit_user_rate, self.limit_user_burst, "USER")?,
            per_token: RateLimit::parse(self.limit_poll_rate, self.limit_poll_burst, "POLL")?,
        })
    }
}

/// A proxy address: a CIDR range, or one address.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR range"))
}
