//! Bounds on what one request or client may take from a server.
//!
//! Reads `LINEUP_BODY_LIMIT`, `LINEUP_REQUEST_TIMEOUT`,
//! `LINEUP_HEADER_READ_TIMEOUT`, `LINEUP_MAX_CONNECTIONS`.

use anyhow::ensure;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Largest request body, in bytes (the admin API takes up to 32 MiB).
    #[arg(long, env = "LINEUP_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// Longest a request may take before it is answered 503 `timeout`.
    #[arg(long, env = "LINEUP_REQUEST_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Longest a client may take to send a request's headers.
    #[arg(long, env = "LINEUP_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// Most connections served at once (0 = no cap); beyond it new ones are closed.
    #[arg(long, env = "LINEUP_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,
}

/// Bounds on what one request or client may take from a server.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    /// 0 = no cap.
    pub max_connections: usize,
}

impl HttpArgs {
    pub fn into_config(self) -> anyhow::Result<HttpLimits> {
        ensure!(
            self.body_limit >= 1024,
            "LINEUP_BODY_LIMIT must be 1024 bytes or more"
        );
        Ok(HttpLimits {
            body_limit: self.body_limit,
            request_timeout: super::nonzero("LINEUP_REQUEST_TIMEOUT", self.request_timeout)?,
            header_read_timeout: super::nonzero(
                "LINEUP_HEADER_READ_TIMEOUT",
                self.header_read_timeout,
            )?,
            max_connections: self.max_connections,
        })
    }
}
