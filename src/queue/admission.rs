//! The admission loop: every `admit_interval` each server runs the admit script
//! for every concert whose sale is open. The token bucket lives in Redis, so any
//! number of servers together admit at each concert's configured rate. Each
//! tick's outcome also sets the line's metrics.

use crate::catalog::{Catalog, Concert};
use crate::error::Result;
use crate::fairness::draw_prequeue;
use crate::reservation;
use crate::store::RedisStore;
use crate::store::scripts::{self, AdmitArgs, AdmitDefaults, AdmitReply, DateSeats};
use crate::telemetry::metrics as m;
use chrono::Utc;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::store::scripts::AdmitOutcome;

/// Runs one admit tick for one concert. The tick counts the free seats of the
/// concert's dates that have not started; a date whose sold seats Redis has lost
/// is reloaded from PostgreSQL and the tick runs again.
pub async fn admit_tick(
    redis: &RedisStore,
    catalog: &Catalog,
    concert: &Concert,
) -> Result<AdmitOutcome> {
    let now = Utc::now();
    let snapshot = catalog.snapshot();
    let dates: Vec<DateSeats> = snapshot
        .schedules_of(concert)
        .filter(|s| !s.has_started(now))
        .map(|s| DateSeats {
            schedule: s.id,
            total_seats: s.total_seats(),
        })
        .collect();
    let settings = concert.stored_settings;
    let args = || AdmitArgs {
        defaults: AdmitDefaults {
            admit_per_second: settings.admit_per_second,
            max_active: settings.max_active,
            active_ttl_ms: u64::from(settings.active_ttl_seconds) * 1000,
            paused: settings.paused,
            idle_timeout_ms: u64::from(settings.idle_timeout_seconds) * 1000,
            admit_seat_factor: settings.admit_seat_factor,
            poll_budget_per_second: settings.poll_budget_per_second,
            hold_ttl_ms: u64::from(settings.hold_ttl_seconds) * 1000,
        },
        dates: &dates,
    };
    let keys = redis.admission_keys(concert.id);
    // Three rounds at most: after the pre-queue's draw, after reloading sold seats.
    let mut outcome = None;
    for _ in 0..3 {
        match scripts::admit(&mut redis.conn(), &keys, args()).await? {
            AdmitReply::Undrawn => {
                if !draw_prequeue(redis, catalog, concert).await? {
                    // Redis time has not reached the opening yet.
                    return Ok(AdmitOutcome::default());
                }
            }
            AdmitReply::Ticked {
                outcome: ticked,
                unloaded,
            } => {
                outcome = Some(ticked);
                if unloaded.is_empty() {
                    break;
                }
                for schedule in unloaded {
                    reservation::load_sold(redis, catalog, concert.id, schedule).await?;
                }
            }
        }
    }
    Ok(outcome.unwrap_or_default())
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
    metrics::counter!(m::QUEUE_IDLE_DROPPED, &labels).increment(outcome.idle_dropped);
    metrics::gauge!(m::QUEUE_SOLD_OUT, &labels).set(if outcome.sold_out { 1.0 } else { 0.0 });
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
            match admit_tick(&redis, &catalog, concert).await {
                Ok(outcome) => {
                    let rate = recent.record(concert.id, outcome.admitted, Instant::now());
                    record_metrics(concert, &outcome, rate);
                    if outcome.admitted > 0
                        || outcome.expired_dropped > 0
                        || outcome.idle_dropped > 0
                    {
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
