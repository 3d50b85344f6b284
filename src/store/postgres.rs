//! The PostgreSQL pool and the embedded migrations.

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The schema, embedded in the binary and applied at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool whose checkout wait is bounded, so an outage answers 503 quickly.
/// Statements run unbounded: this is the pool of `lineup migrate`, whose index
/// builds may take long; the server's pool is [`connect_bounded`].
pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url).context("invalid database URL")?;
    pool(url, options, max_connections, timeout).await
}

/// The server's pool: the checkout wait is bounded by `acquire_timeout`, and
/// every statement by `statement_timeout` (see [`bounded`]), so neither a dead
/// PostgreSQL nor a lock held too long piles requests up.
pub async fn connect_bounded(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
    statement_timeout: Duration,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url).context("invalid database URL")?;
    pool(
        url,
        bounded(options, statement_timeout),
        max_connections,
        acquire_timeout,
    )
    .await
}

/// Session settings that bound what PostgreSQL itself waits for: a statement
/// (a lock wait included) is cancelled after `statement_timeout` (SQLSTATE
/// 57014, answered 503), and a session idle inside a transaction for twice
/// that (a server that died mid-transaction behind a silent network) is ended,
/// releasing its row locks.
pub fn bounded(options: PgConnectOptions, statement_timeout: Duration) -> PgConnectOptions {
    let millis = statement_timeout.as_millis().max(1);
    options.options([
        ("statement_timeout", millis.to_string()),
        (
            "idle_in_transaction_session_timeout",
            (millis * 2).to_string(),
        ),
    ])
}

async fn pool(
    url: &str,
    options: PgConnectOptions,
    max_connections: u32,
    timeout: Duration,
) -> anyhow::Result<PgPool> {
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

/// Whether PostgreSQL answers a trivial query (readiness).
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
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
