//! Finished sales are retired: a concert whose every date began at least
//! `LINEUP_RETIRE_AFTER` ago has its lasting Redis keys deleted (one script:
//! they share the concert's hash tag) and is marked `retired_at` in
//! PostgreSQL, whose records all stay. Every server's catalog then loads it
//! no more ([`Catalog::reload`] reads only live concerts). Any server may
//! retire any concert; doing it twice is harmless.

use super::Catalog;
use crate::error::Result;
use crate::store::{RedisStore, scripts};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often each server looks for concerts to retire: every minute, or
/// sooner when `retire_after` is shorter (a test's or a soak's), at least
/// once a second.
pub fn sweep_interval(retire_after: Duration) -> Duration {
    retire_after.clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Retires what is due; returns how many concerts were retired.
pub async fn retire_finished(redis: &RedisStore, catalog: &Catalog) -> Result<usize> {
    let due = catalog.due_for_retirement().await?;
    for (concert, schedules) in &due {
        let keys = redis.keys.concert(*concert);
        let deleted = scripts::retire(&mut redis.conn(), &keys, schedules).await?;
        catalog.mark_retired(*concert).await?;
        tracing::info!(concert_id = %concert, redis_keys_deleted = deleted, "finished sale retired");
    }
    if !due.is_empty() {
        catalog.reload().await?;
    }
    Ok(due.len())
}

/// Retires finished sales every [`sweep_interval`] until `stop` is cancelled;
/// a failed sweep (Redis or PostgreSQL away) is tried again at the next.
pub async fn run_retirement(
    redis: RedisStore,
    catalog: Arc<Catalog>,
    retire_after: Duration,
    stop: CancellationToken,
) {
    let every = sweep_interval(retire_after);
    while stop
        .run_until_cancelled(tokio::time::sleep(every))
        .await
        .is_some()
    {
        match stop
            .run_until_cancelled(tokio::time::timeout(
                every.max(Duration::from_secs(30)),
                retire_finished(&redis, &catalog),
            ))
            .await
        {
            None => return,
            Some(Ok(Ok(_))) => {}
            Some(Ok(Err(e))) => {
                tracing::warn!(error = ?e, "retiring finished sales failed; trying again")
            }
            Some(Err(_)) => tracing::warn!("retiring finished sales timed out; trying again"),
        }
    }
}
