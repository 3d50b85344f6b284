//! The admission loop: every `admit_interval` each server runs the admit script
//! for every concert whose sale is open. The token bucket lives in Redis, so any
//! number of servers together admit at each concert's configured rate. Each
//! tick's outcome also sets the line's metrics.

use super::draw::draw_prequeue;
use crate::catalog::{Catalog, Concert, Schedule};
use crate::domain::{ConcertId, ScheduleId, seat_numbers};
use crate::error::Result;
use crate::store::RedisStore;
use crate::store::redis::reply_field as field;
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
    /// Waiting people dropped for not polling within the idle timeout.
    pub idle_dropped: u64,
    /// Seats of the dates on sale neither sold nor held (`None` while a date's
    /// sold seats were being reloaded from PostgreSQL).
    pub free_seats: Option<u64>,
    /// No seat is free: nobody is admitted, waiting tickets read `sold_out`.
    pub sold_out: bool,
}

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
    let dates: Vec<&Arc<Schedule>> = snapshot
        .schedules_of(concert)
        .filter(|s| !s.has_started(now))
        .collect();
    // Three rounds at most: after the pre-queue's draw, after reloading sold seats.
    let mut outcome = None;
    for _ in 0..3 {
        let Some((admitted, unloaded)) = run_admit_script(redis, concert, &dates).await? else {
            if !draw_prequeue(redis, catalog, concert).await? {
                // Redis time has not reached the opening yet.
                return Ok(AdmitOutcome::default());
            }
            continue;
        };
        outcome = Some(admitted);
        if unloaded.is_empty() {
            break;
        }
        for index in &unloaded {
            if let Some(date) = index.checked_sub(1).and_then(|i| dates.get(i)) {
                load_sold(redis, catalog, concert.id, date.id).await?;
            }
        }
    }
    Ok(outcome.unwrap_or_default())
}

/// One run of the admit script: `None` while the pre-queue's draw is to be made,
/// else the outcome and the (1-based) dates whose sold seats must be reloaded.
async fn run_admit_script(
    redis: &RedisStore,
    concert: &Concert,
    dates: &[&Arc<Schedule>],
) -> Result<Option<(AdmitOutcome, Vec<usize>)>> {
    let keys = redis.keys.concert(concert.id);
    let defaults = concert.stored_settings;
    let mut invocation = redis.scripts.admit.prepare_invoke();
    invocation
        .key(keys.wait())
        .key(keys.active())
        .key(keys.jti())
        .key(keys.cfg())
        .key(keys.bucket())
        .key(keys.user_res())
        .key(keys.seen())
        .key(keys.line_stats())
        .key(keys.draw())
        .key(keys.drawn());
    for date in dates {
        invocation
            .key(keys.sold(date.id))
            .key(keys.sold_loaded(date.id))
            .key(keys.held(date.id));
    }
    invocation
        .arg(defaults.admit_per_second)
        .arg(defaults.max_active)
        .arg(u64::from(defaults.active_ttl_seconds) * 1000)
        .arg(u8::from(defaults.paused))
        .arg(u64::from(defaults.idle_timeout_seconds) * 1000)
        .arg(defaults.admit_seat_factor)
        .arg(defaults.poll_budget_per_second);
    for date in dates {
        invocation.arg(date.total_seats());
    }
    let reply: Vec<redis::Value> = invocation.invoke_async(&mut redis.conn()).await?;
    if field::<String>(&reply, 0)? == "undrawn" {
        return Ok(None);
    }
    let free_seats: i64 = field(&reply, 8)?;
    let sold_out: u8 = field(&reply, 9)?;
    let unloaded: Vec<usize> = field(&reply, 10)?;
    let paused: u8 = field(&reply, 6)?;
    Ok(Some((
        AdmitOutcome {
            admitted: field(&reply, 0)?,
            expired_dropped: field(&reply, 1)?,
            waiting: field(&reply, 2)?,
            active: field(&reply, 3)?,
            admit_per_second: field(&reply, 4)?,
            max_active: field(&reply, 5)?,
            paused: paused == 1,
            idle_dropped: field(&reply, 7)?,
            free_seats: u64::try_from(free_seats).ok(),
            sold_out: sold_out == 1,
        },
        unloaded,
    )))
}

/// Copies a date's sold seats from PostgreSQL into Redis (Redis lost them).
async fn load_sold(
    redis: &RedisStore,
    catalog: &Catalog,
    concert: ConcertId,
    schedule: ScheduleId,
) -> Result<()> {
    let sold = catalog.sold_seats(schedule).await?;
    let keys = redis.keys.concert(concert);
    let mut invocation = redis.scripts.load_sold.prepare_invoke();
    invocation
        .key(keys.sold(schedule))
        .key(keys.sold_loaded(schedule))
        .arg(seat_numbers(&sold));
    let _: u64 = invocation.invoke_async(&mut redis.conn()).await?;
    Ok(())
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
