//! The admission loop: every `admit_interval` each server runs the admit script
//! for every concert whose sale is open. The token bucket lives in Redis, so any
//! number of servers together admit at each concert's configured rate.

use crate::catalog::{Catalog, Concert};
use crate::error::Result;
use crate::store::RedisStore;
use chrono::Utc;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What one admit tick did for one concert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdmitOutcome {
    pub admitted: u64,
    pub expired_dropped: u64,
    pub waiting: u64,
    pub active: u64,
}

/// Runs one admit tick for one concert.
pub async fn admit_tick(redis: &RedisStore, concert: &Concert) -> Result<AdmitOutcome> {
    let keys = redis.keys.concert(concert.id);
    let defaults = concert.stored_settings;
    let (admitted, expired_dropped, waiting, active): (u64, u64, u64, u64) = redis
        .scripts
        .admit
        .key(keys.wait())
        .key(keys.active())
        .key(keys.jti())
        .key(keys.cfg())
        .key(keys.bucket())
        .key(keys.user_res())
        .arg(defaults.admit_per_second)
        .arg(defaults.max_active)
        .arg(u64::from(defaults.active_ttl_seconds) * 1000)
        .arg(u8::from(defaults.paused))
        .invoke_async(&mut redis.conn())
        .await?;
    Ok(AdmitOutcome {
        admitted,
        expired_dropped,
        waiting,
        active,
    })
}

/// Ticks until `shutdown` completes. Errors (Redis down) are logged once when
/// they start and once when they end, not on every tick.
pub async fn run_admission_loop(
    redis: RedisStore,
    catalog: Arc<Catalog>,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        let now = Utc::now();
        let snapshot = catalog.snapshot();
        let mut error = None;
        for concert in &snapshot.concerts {
            let on_sale = concert.opens_at <= now
                && snapshot.schedules_of(concert).any(|s| !s.has_started(now));
            if !on_sale {
                continue;
            }
            match admit_tick(&redis, concert).await {
                Ok(outcome) if outcome.admitted > 0 || outcome.expired_dropped > 0 => {
                    tracing::debug!(concert_id = %concert.id, ?outcome, "admit tick");
                }
                Ok(_) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        match (error, failing) {
            (Some(e), false) => {
                tracing::error!(error = %format!("{e:#}"), "admission stopped: the admit tick fails");
                failing = true;
            }
            (None, true) => {
                tracing::info!("admission resumed");
                failing = false;
            }
            _ => {}
        }
    }
}
