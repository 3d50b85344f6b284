//! Bounds on what one request or client may take from a server.
//!
//! Reads `LINEUP_BODY_LIMIT`, `LINEUP_REQUEST_TIMEOUT`,
//! `LINEUP_HEADER_READ_TIMEOUT`, `LINEUP_HTTP1_IDLE_TIMEOUT`,
//! `LINEUP_HTTP2_IDLE_TIMEOUT`, `LINEUP_MAX_CONNECTIONS`.
//!
//! The idle timeouts and the cap's default come from the cost model in
//! docs/OPERATIONS.md ("Connections"): an idle connection costs memory, a
//! dropped one a TLS handshake at the next poll.

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

    /// Longest a client may take to send a request's headers (and, on a new
    /// connection, its TLS handshake), counted from the first byte it sends.
    #[arg(long, env = "LINEUP_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// How long an HTTP/1.1 connection may stay open with no request before the
    /// server closes it (longer than common clients keep idle connections, so
    /// that the client closes first).
    #[arg(long, env = "LINEUP_HTTP1_IDLE_TIMEOUT", default_value = "125s", value_parser = humantime::parse_duration)]
    pub http1_idle_timeout: Duration,

    /// How long an HTTP/2 session may stay open with no request in flight before
    /// the server ends it with a GOAWAY (clients then open a new one).
    #[arg(long, env = "LINEUP_HTTP2_IDLE_TIMEOUT", default_value = "125s", value_parser = humantime::parse_duration)]
    pub http2_idle_timeout: Duration,

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
    /// An HTTP/1.1 connection with no request for this long is closed.
    pub http1_idle_timeout: Duration,
    /// An HTTP/2 session with no request in flight for this long gets a GOAWAY.
    pub http2_idle_timeout: Duration,
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
            http1_idle_timeout: super::nonzero(
                "LINEUP_HTTP1_IDLE_TIMEOUT",
                self.http1_idle_timeout,
            )?,
            http2_idle_timeout: super::nonzero(
                "LINEUP_HTTP2_IDLE_TIMEOUT",
                self.http2_idle_timeout,
            )?,
            max_connections: self.max_connections,
        })
    }
}
