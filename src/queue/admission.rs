//! The admission loop: every `admit_interval` each server runs the admit script
//! for every concert whose sale is open, each concert in a task of its own (one
//! concert's failing or slow tick stops no other). The token bucket lives in
//! Redis, so any number of servers together admit at each concert's configured
//! rate. Each tick's outcome also sets the line's metrics. Over 400 lines for
//! the tests of the per-concert tasks, which drive the private `supervise`.

use crate::catalog::{Catalog, Concert};
use crate::domain::ConcertId;
use crate::error::Result;
use crate::fairness::draw_prequeue;
use crate::reservation;
use crate::store::RedisStore;
use crate::store::scripts::{self, AdmitArgs, AdmitDefaults, AdmitReply, DateSeats};
use crate::telemetry::metrics as m;
use chrono::Utc;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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

/// Admissions of this server for one concert over the last [`RATE_WINDOW`].
#[derive(Default)]
struct RecentAdmissions {
    ticks: VecDeque<(Instant, u64)>,
}

impl RecentAdmissions {
    /// Records a tick's admissions and returns the rate over the window.
    fn record(&mut self, admitted: u64, now: Instant) -> f64 {
        self.ticks.push_back((now, admitted));
        while self
            .ticks
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW)
        {
            self.ticks.pop_front();
        }
        self.ticks.iter().map(|(_, n)| n).sum::<u64>() as f64 / RATE_WINDOW.as_secs_f64()
    }
}

fn record_metrics(concert: ConcertId, outcome: &AdmitOutcome, rate: f64) {
    let labels = [("concert", concert.to_string())];
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

/// The longest one concert's tick may take before it is abandoned and counted
/// as failed. Generous: a tick may make the pre-queue's draw (a million
/// joiners written to PostgreSQL) or reload sold seats. Only that concert
/// waits for it: every concert ticks in a task of its own.
pub const TICK_LIMIT: Duration = Duration::from_secs(30);

/// Whether a concert's sale is open now: opened, and a date still ahead.
fn on_sale(snapshot: &crate::catalog::CatalogSnapshot, concert: &Concert) -> bool {
    let now = Utc::now();
    concert.opens_at <= now && snapshot.schedules_of(concert).any(|s| !s.has_started(now))
}

/// Ticks every concert on sale until `stop` is cancelled. Each concert ticks
/// in a task of its own at its own pace, bounded by [`TICK_LIMIT`]: one
/// concert whose tick fails or hangs (its shard failing over, its draw
/// waiting for PostgreSQL) is logged and counted for that concert alone,
/// and every other concert keeps admitting at its rate.
pub async fn run_admission_loop(
    redis: RedisStore,
    catalog: Arc<Catalog>,
    interval: Duration,
    stop: CancellationToken,
) {
    let listed = catalog.clone();
    let on_sale_now = move || {
        let snapshot = listed.snapshot();
        snapshot
            .concerts
            .iter()
            .filter(|c| on_sale(&snapshot, c))
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    let tick = move |id: ConcertId| {
        let (redis, catalog) = (redis.clone(), catalog.clone());
        async move {
            let snapshot = catalog.snapshot();
            match snapshot.concert(id) {
                Some(concert) if on_sale(&snapshot, concert) => {
                    let concert = concert.clone();
                    admit_tick(&redis, &catalog, &concert).await.map(Some)
                }
                _ => Ok(None),
            }
        }
    };
    supervise(on_sale_now, tick, interval, TICK_LIMIT, stop).await;
}

/// Keeps one ticking task per concert that `on_sale` lists (checked every
/// `interval`), ends the task of a concert that left the list, and ends them
/// all when `stop` is cancelled.
async fn supervise<L, T, F>(
    on_sale: L,
    tick: T,
    interval: Duration,
    limit: Duration,
    stop: CancellationToken,
) where
    L: Fn() -> Vec<ConcertId>,
    T: Fn(ConcertId) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Option<AdmitOutcome>>> + Send + 'static,
{
    let mut tasks: HashMap<ConcertId, (CancellationToken, tokio::task::JoinHandle<()>)> =
        HashMap::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while stop.run_until_cancelled(ticker.tick()).await.is_some() {
        let listed: HashSet<ConcertId> = on_sale().into_iter().collect();
        tasks.retain(|id, (own_stop, _)| {
            let keep = listed.contains(id);
            if !keep {
                own_stop.cancel();
            }
            keep
        });
        for id in listed {
            tasks.entry(id).or_insert_with(|| {
                let own_stop = stop.child_token();
                let task = tokio::spawn(tick_concert(
                    id,
                    tick.clone(),
                    interval,
                    limit,
                    own_stop.clone(),
                ));
                (own_stop, task)
            });
        }
    }
    for (_, (own_stop, task)) in tasks {
        own_stop.cancel();
        let _ = task.await;
    }
}

/// Why one tick did not complete.
enum TickFailure {
    Failed(crate::error::Error),
    TimedOut(Duration),
}

impl std::fmt::Debug for TickFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TickFailure::Failed(e) => write!(f, "{e:?}"),
            TickFailure::TimedOut(limit) => write!(f, "no answer within {limit:?}"),
        }
    }
}

/// One concert's ticks until `stop` is cancelled. Failures are logged once
/// when they start and once when they end (not on every tick), and each is
/// counted in `lineup_queue_admit_tick_failures_total{concert}`.
async fn tick_concert<T, F>(
    concert: ConcertId,
    tick: T,
    interval: Duration,
    limit: Duration,
    stop: CancellationToken,
) where
    T: Fn(ConcertId) -> F,
    F: Future<Output = Result<Option<AdmitOutcome>>>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut recent = RecentAdmissions::default();
    while stop.run_until_cancelled(ticker.tick()).await.is_some() {
        let ticked = match stop
            .run_until_cancelled(tokio::time::timeout(limit, tick(concert)))
            .await
        {
            None => return,
            Some(Ok(Ok(ticked))) => Ok(ticked),
            Some(Ok(Err(e))) => Err(TickFailure::Failed(e)),
            Some(Err(_)) => Err(TickFailure::TimedOut(limit)),
        };
        match ticked {
            Ok(outcome) => {
                if failing {
                    tracing::info!(concert_id = %concert, "admission resumed");
                    failing = false;
                }
                let Some(outcome) = outcome else { continue };
                let rate = recent.record(outcome.admitted, Instant::now());
                record_metrics(concert, &outcome, rate);
                if outcome.admitted > 0 || outcome.expired_dropped > 0 || outcome.idle_dropped > 0 {
                    tracing::debug!(concert_id = %concert, ?outcome, "admit tick");
                }
            }
            Err(failure) => {
                metrics::counter!(m::QUEUE_ADMIT_TICK_FAILURES, "concert" => concert.to_string())
                    .increment(1);
                if !failing {
                    tracing::error!(concert_id = %concert, error = ?failure, "admission stopped: the admit tick fails");
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_counts_only_the_window() {
        let mut recent = RecentAdmissions::default();
        let start = Instant::now();
        assert_eq!(recent.record(50, start), 10.0);
        assert_eq!(recent.record(50, start + Duration::from_secs(1)), 20.0);
        // Six seconds on, both earlier ticks have left the five-second window.
        assert_eq!(recent.record(5, start + Duration::from_secs(7)), 1.0);
    }

    /// How many times each concert ticked, with a tick that fails for
    /// `failing` and never ends for `hung`.
    type Ticks = Arc<std::sync::Mutex<HashMap<ConcertId, u32>>>;

    fn counting_tick(
        ticks: &Ticks,
        failing: Option<ConcertId>,
        hung: Option<ConcertId>,
    ) -> impl Fn(
        ConcertId,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Option<AdmitOutcome>>> + Send>>
    + Clone
    + Send
    + Sync
    + 'static {
        let ticks = ticks.clone();
        move |id| {
            let ticks = ticks.clone();
            Box::pin(async move {
                *ticks.lock().unwrap().entry(id).or_default() += 1;
                if Some(id) == failing {
                    return Err(crate::error::Error::internal("WRONGTYPE"));
                }
                if Some(id) == hung {
                    std::future::pending::<()>().await;
                }
                Ok(Some(AdmitOutcome::default()))
            })
        }
    }

    fn count(ticks: &Ticks, id: ConcertId) -> u32 {
        ticks.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    /// Waits (at most a minute) until `done` holds.
    async fn until(what: &str, done: impl Fn() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < give_up, "never: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Three concerts on one loop: one whose tick always fails, one whose tick
    /// never ends, one healthy. The healthy one keeps ticking, the failing one
    /// keeps being tried, the hung one is abandoned at the time limit and
    /// tried again. (In one loop over all concerts, the healthy concert
    /// could tick only as often as the hung one.)
    #[tokio::test]
    async fn a_failing_or_hung_concert_stops_no_other() {
        let (failing, hung, healthy) = (ConcertId::new(), ConcertId::new(), ConcertId::new());
        let ticks = Ticks::default();
        let limit = Duration::from_millis(200);
        let stop = CancellationToken::new();
        let started = Instant::now();
        let admission = tokio::spawn(supervise(
            move || vec![failing, hung, healthy],
            counting_tick(&ticks, Some(failing), Some(hung)),
            Duration::from_millis(5),
            limit,
            stop.clone(),
        ));
        until(
            "the healthy and the failing concerts tick 100 times",
            || count(&ticks, healthy) >= 100 && count(&ticks, failing) >= 100,
        )
        .await;
        let hung_ticks = count(&ticks, hung);
        let elapsed = started.elapsed();
        stop.cancel();
        admission.await.unwrap();
        // Each hung tick lasted the whole limit before the next began.
        let most = (elapsed.as_millis() / limit.as_millis()) as u32 + 1;
        assert!(
            (1..=most).contains(&hung_ticks),
            "{hung_ticks} in {elapsed:?}"
        );
        assert!(count(&ticks, healthy) > hung_ticks + 1);
    }

    /// Cancelling the stop token ends the loop and every concert's task, a
    /// hung tick included; nothing ticks after.
    #[tokio::test]
    async fn stopping_ends_every_task() {
        let (hung, healthy) = (ConcertId::new(), ConcertId::new());
        let ticks = Ticks::default();
        let stop = CancellationToken::new();
        let admission = tokio::spawn(supervise(
            move || vec![hung, healthy],
            counting_tick(&ticks, None, Some(hung)),
            Duration::from_millis(5),
            Duration::from_secs(3600),
            stop.clone(),
        ));
        until("both tick", || {
            count(&ticks, healthy) >= 3 && count(&ticks, hung) >= 1
        })
        .await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(60), admission)
            .await
            .expect("the loop ends although a tick hangs")
            .unwrap();
        let after = count(&ticks, healthy);
        tokio::task::yield_now().await;
        assert_eq!(count(&ticks, healthy), after);
    }
}
