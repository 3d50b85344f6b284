//! Logging (pretty for people, JSON for collectors; `RUST_LOG` filters) and metrics.

pub mod metrics;

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        // JSON keeps the target: collectors filter the audit log (`lineup::audit`) by it.
        LogFormat::Json => builder
            .with_target(true)
            .json()
            .flatten_event(true)
            .try_init(),
    };
}
