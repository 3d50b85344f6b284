//! The PostgreSQL pool, the embedded migrations, and transactions that a
//! caller's cancellation cannot cut at BEGIN or COMMIT ([`begin`], [`commit`]).

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
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
/// End it with [`commit`], not `Transaction::commit`.
///
/// The BEGIN runs to its answer whatever the caller does: sqlx counts a
/// transaction only once BEGIN's answer is read, so a caller that stopped
/// waiting in between (its client gone, the request's time limit) gave the
/// pool back a connection inside a transaction nobody would end, and the
/// pool's next user wrote into it unseen. Carried to its end, the transaction
/// is dropped here if the caller has gone, which rolls it back.
pub async fn begin(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let started = std::time::Instant::now();
    let pool = pool.clone();
    let tx = to_completion(async move { pool.begin().await }).await;
    metrics::histogram!(crate::telemetry::metrics::DB_ACQUIRE)
        .record(started.elapsed().as_secs_f64());
    tx
}

/// Commits, to the answer whatever the caller does: a caller that stopped
/// waiting while COMMIT was on the wire left sqlx's transaction marked open,
/// and dropping it queued a ROLLBACK behind the COMMIT, which PostgreSQL
/// answered `there is no transaction in progress` (the COMMIT had gone through).
pub async fn commit(tx: Transaction<'static, Postgres>) -> sqlx::Result<()> {
    to_completion(tx.commit()).await
}

/// Runs `work` on a task of its own and waits for it: if the caller stops
/// waiting, the work still runs to its end. A panic in it is the caller's.
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = sqlx::Result<T>> + Send + 'static,
) -> sqlx::Result<T> {
    match tokio::spawn(work).await {
        Ok(done) => done,
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        // The runtime is shutting down.
        Err(_) => Err(sqlx::Error::WorkerCrashed),
    }
}
