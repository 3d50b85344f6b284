//! Logs and metrics.
//!
//! Reads `LINEUP_LOG_FORMAT`, `LINEUP_LOG_POLLS`, `LINEUP_METRICS_LISTEN`,
//! `LINEUP_NO_METRICS`.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;

#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log format.
    #[arg(long, env = "LINEUP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log every status poll and health check at INFO too (by default at DEBUG:
    /// a line per poll would drown the log during a sale).
    #[arg(long, env = "LINEUP_LOG_POLLS")]
    pub log_polls: bool,

    /// Where Prometheus scrapes `/metrics`: plain HTTP, meant for a private network.
    #[arg(long, env = "LINEUP_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    pub metrics_listen: SocketAddr,

    /// Serve no metrics listener at all.
    #[arg(long, env = "LINEUP_NO_METRICS")]
    pub no_metrics: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl TelemetryArgs {
    /// Where `/metrics` is served; `None` with `--no-metrics`.
    pub fn metrics_listen(&self) -> Option<SocketAddr> {
        (!self.no_metrics).then_some(self.metrics_listen)
    }
}
