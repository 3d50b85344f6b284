//! The admission loop: every `admit_interval` each server runs the admit script
//! for every concert whose sale is open. The token bucket lives in Redis, so any
//! number of servers together admit at each concert's configured rate. Each
//! tick's outcome also sets the line's metrics.

use crate::catalog::{Catalog, Concert};
use crate::error::Result;
use crate::store::RedisStore;
use crate::telemetry::metrics as m;
use chrono::Utc;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one admit tick did for one concert, and the settings it ran with.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AdmitOutcome {
    pub admitted: u64,
    pub expired_dropped: u64,
    pub waiting: u64,
    pub active: u64,
    pub admit_per_second: f64,
    pub max_active: u64,
    pub paused: bool,
}

/// Runs one admit tick for one concert.
pub async fn admit_tick(redis: &RedisStore, concert: &Concert) -> Result<AdmitOutcome> {
    let keys = redis.keys.concert(concert.id);
    let defaults = concert.stored_settings;
    let (admitted, expired_dropped, waiting, active, admit_per_second, max_active, paused): (
        u64,
        u64,
        u64,
        u64,
        f64,
        u64,
        u8,
    ) = redis
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
        admit_per_second,
        max_active,
        paused: paused == 1,
    })
}

/// How far back this server's admission rate is measured.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Admissions of this server over the last [`RATE_WINDOW`], per concert.
#[derive(Default)]
struct RecentAdmissions {
    by_concert: HashMap<crate::domain::ConcertId, VecDeque<(Instant, u64)>>,
}

impl RecentAdmissions {
    /// Records a tick's admissions and returns the rate over the window.
    fn record(&mut self, concert: crate::domain::ConcertId, admitted: u64, now: Instant) -> f64 {
        let ticks = self.by_concert.entry(concert).or_default();
        ticks.push_back((now, admitted));
        while ticks
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW)
        {
            ticks.pop_front();
        }
        ticks.iter().map(|(_, n)| n).sum::<u64>() as f64 / RATE_WINDOW.as_secs_f64()
    }
}

fn record_metrics(concert: &Concert, outcome: &AdmitOutcome, rate: f64) {
    let labels = [("concert", concert.id.to_string())];
    metrics::gauge!(m::QUEUE_WAITING, &labels).set(outcome.waiting as f64);
    metrics::gauge!(m::QUEUE_ACTIVE, &labels).set(outcome.active as f64);
    metrics::counter!(m::QUEUE_ADMITTED, &labels).increment(outcome.admitted);
    metrics::counter!(m::QUEUE_EXPIRED, &labels).increment(outcome.expired_dropped);
    metrics::gauge!(m::QUEUE_ADMIT_RATE, &labels).set(rate);
    metrics::gauge!(m::QUEUE_ADMIT_RATE_SETTING, &labels).set(outcome.admit_per_second);
    metrics::gauge!(m::QUEUE_MAX_ACTIVE, &labels).set(outcome.max_active as f64);
    metrics::gauge!(m::QUEUE_PAUSED, &labels).set(if outcome.paused { 1.0 } else { 0.0 });
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
    let mut recent = RecentAdmissions::default();
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
                Ok(outcome) => {
                    let rate = recent.record(concert.id, outcome.admitted, Instant::now());
                    record_metrics(concert, &outcome, rate);
                    if outcome.admitted > 0 || outcome.expired_dropped > 0 {
                        tracing::debug!(concert_id = %concert.id, ?outcome, "admit tick");
                    }
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        match (error, failing) {
            (Some(e), false) => {
                tracing::error!(error = ?e, "admission stopped: the admit tick fails");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_counts_only_the_window() {
        let mut recent = RecentAdmissions::default();
        let concert = crate::domain::ConcertId::new();
        let start = Instant::now();
        assert_eq!(recent.record(concert, 50, start), 10.0);
        assert_eq!(
            recent.record(concert, 50, start + Duration::from_secs(1)),
            20.0
        );
        // Six seconds on, both earlier ticks have left the five-second window.
        assert_eq!(
            recent.record(concert, 5, start + Duration::from_secs(7)),
            1.0
        );
    }
}
