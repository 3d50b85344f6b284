//! The gate of reverse proxies: the admission cookie, the `return_to`
//! allow-list, and how long a server may trust a positive answer.
//!
//! Reads `LINEUP_ADMISSION_COOKIE`, `LINEUP_ADMISSION_COOKIE_DOMAIN`,
//! `LINEUP_ADMISSION_COOKIE_PATH`, `LINEUP_RETURN_TO_ORIGINS`, `LINEUP_GATE_CACHE`.

use crate::gate::{CookieSettings, ReturnToOrigins};
use anyhow::{Context, ensure};
use clap::Args;
use std::time::Duration;

/// The longest a server may answer the gate from memory: an ended admission
/// must be refused within a second.
pub const MAX_GATE_CACHE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// Name of the cookie that carries the admission token to the gate
    /// (set Secure, HttpOnly, SameSite=Lax).
    #[arg(
        long,
        env = "LINEUP_ADMISSION_COOKIE",
        default_value = "lineup_admission"
    )]
    pub admission_cookie: String,

    /// The cookie's Domain: the parent domain lineup and the protected site
    /// share (e.g. tickets.example for line.tickets.example and
    /// shop.tickets.example). Unset: lineup's own host only.
    #[arg(long, env = "LINEUP_ADMISSION_COOKIE_DOMAIN")]
    pub admission_cookie_domain: Option<String>,

    /// The cookie's Path.
    #[arg(long, env = "LINEUP_ADMISSION_COOKIE_PATH", default_value = "/")]
    pub admission_cookie_path: String,

    /// Origins a person may be sent back to once admitted
    /// (`https://shop.example,https://shop.example:8443`, comma-separated). A
    /// return_to on any other origin is refused. Empty: none.
    #[arg(long, env = "LINEUP_RETURN_TO_ORIGINS", value_delimiter = ',')]
    pub return_to_origins: Vec<String>,

    /// How long a server answers the gate from memory after Redis said yes
    /// (1s at most; 0s asks Redis every time).
    #[arg(long, env = "LINEUP_GATE_CACHE", default_value = "1s", value_parser = humantime::parse_duration)]
    pub gate_cache: Duration,
}

/// The checked gate settings.
#[derive(Debug, Clone)]
pub struct GateConfig {
    pub cookie: CookieSettings,
    pub return_to: ReturnToOrigins,
    pub cache_for: Duration,
}

impl GateArgs {
    pub fn into_config(self) -> anyhow::Result<GateConfig> {
        ensure!(
            self.gate_cache <= MAX_GATE_CACHE,
            "LINEUP_GATE_CACHE must be 1s or less: an ended admission must be refused within a second"
        );
        let cookie = CookieSettings::new(
            self.admission_cookie,
            self.admission_cookie_domain,
            self.admission_cookie_path,
        )
        .context("LINEUP_ADMISSION_COOKIE, LINEUP_ADMISSION_COOKIE_DOMAIN or LINEUP_ADMISSION_COOKIE_PATH")?;
        let origins: Vec<&str> = self
            .return_to_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .collect();
        let return_to = ReturnToOrigins::parse(&origins).context("LINEUP_RETURN_TO_ORIGINS")?;
        Ok(GateConfig {
            cookie,
            return_to,
            cache_for: self.gate_cache,
        })
    }
}
