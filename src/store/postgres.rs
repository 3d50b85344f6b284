//! The PostgreSQL pool and the embedded migrations.

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The schema, embedded in the binary and applied at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool whose checkout wait is bounded, so an outage answers 503 quickly.
pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url).context("invalid database URL")?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}",
                super::redis::redact_url(url)
            )
        })
}

/// Applies the migrations that have not run yet.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("cannot apply the database migrations")
}

/// Begins a transaction, recording how long the pool made it wait for a
/// connection (with BEGIN) in [`DB_ACQUIRE`](crate::telemetry::metrics::DB_ACQUIRE).
pub async fn begin(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let started = std::time::Instant::now();
    let tx = pool.begin().await;
    metrics::histogram!(crate::telemetry::metrics::DB_ACQUIRE)
        .record(started.elapsed().as_secs_f64());
    tx
}
