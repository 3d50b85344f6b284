//! The per-token limit on status polls and seat maps, counted by each server
//! alone, in memory. These are the hottest reads (a line of a million polls
//! thousands of times a second), so the limit adds no Redis round trip: a
//! refusal costs a lock and a hash lookup. A client spread over N servers by a
//! balancer gets up to N times the rate, still far below what it could send.
//!
//! Memory: a bucket is dropped once it would be full again (`burst / rate`
//! after its last poll), so what is kept is the tokens that polled within the
//! last few seconds, bounded by the line's poll budget, not by its length.

use crate::config::RateLimit;
use crate::domain::{ConcertId, UserId};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The polled reads, each with its own buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Poll {
    /// `GET /api/v1/queue/status`.
    Status,
    /// `GET /api/v1/schedules/{schedule_id}/seats`.
    SeatMap,
}

/// Whose bucket: one per place in a line (a queue token and its renewals).
type Key = (ConcertId, UserId, Poll);

/// A token bucket: `tokens` as of `at`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: f64::from(limit.burst),
            at: now,
        }
    }

    /// The tokens at `now`, refilled at `rate` up to `burst`.
    fn refilled(self, limit: RateLimit, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * limit.rate).min(f64::from(limit.burst))
    }

    /// Takes one poll: `Ok` when it may go ahead, else how long until it may.
    fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let tokens = self.refilled(limit, now);
        self.at = now;
        if tokens >= 1.0 {
            self.tokens = tokens - 1.0;
            Ok(())
        } else {
            self.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / limit.rate))
        }
    }
}

/// One part of the buckets behind its own lock, swept now and then.
struct Shard {
    buckets: HashMap<Key, Bucket>,
    swept_at: Instant,
}

/// Enough locks that two cores rarely meet on one.
const SHARDS: usize = 64;

/// Per-token poll buckets of this server.
pub struct PollLimiter {
    limit: Option<RateLimit>,
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
}

impl PollLimiter {
    /// `None`: no limit.
    pub fn new(limit: Option<RateLimit>) -> Self {
        let now = Instant::now();
        Self {
            limit,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        swept_at: now,
                    })
                })
                .collect(),
        }
    }

    /// Takes one poll of the place's bucket: `Ok` when it may go ahead, else
    /// how long until it may.
    pub fn take(
        &self,
        poll: Poll,
        concert: ConcertId,
        user: UserId,
        now: Instant,
    ) -> Result<(), Duration> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let key = (concert, user, poll);
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut shard = shard.lock().expect("poll limiter lock poisoned");
        // A bucket full again is as good as none: drop those, once per refill time.
        let refill = Duration::from_secs_f64(f64::from(limit.burst) / limit.rate);
        if now.saturating_duration_since(shard.swept_at) >= refill {
            shard
                .buckets
                .retain(|_, bucket| bucket.refilled(limit, now) < f64::from(limit.burst));
            shard.swept_at = now;
        }
        shard
            .buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(limit, now))
            .take(limit, now)
    }

    /// Buckets kept now (for tests of the sweep).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().expect("poll limiter lock poisoned").buckets.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        rate: 1.0,
        burst: 3,
    };

    fn place() -> (ConcertId, UserId) {
        (ConcertId::new(), UserId::new())
    }

    #[test]
    fn a_burst_then_one_a_second_with_the_wait_told() {
        let limiter = PollLimiter::new(Some(LIMIT));
        let (concert, user) = place();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take(Poll::Status, concert, user, t0), Ok(()));
        }
        assert_eq!(
            limiter.take(Poll::Status, concert, user, t0),
            Err(Duration::from_secs(1))
        );
        let later = t0 + Duration::from_millis(400);
        let wait = limiter
            .take(Poll::Status, concert, user, later)
            .unwrap_err();
        assert!((wait.as_secs_f64() - 0.6).abs() < 1e-6, "{wait:?}");
        // A refused poll takes nothing: a second after the last grant, one more.
        assert_eq!(
            limiter.take(Poll::Status, concert, user, t0 + Duration::from_secs(1)),
            Ok(())
        );
    }

    #[test]
    fn each_place_and_each_kind_of_poll_counts_apart() {
        let limiter = PollLimiter::new(Some(LIMIT));
        let (concert, user) = place();
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.take(Poll::Status, concert, user, t0).unwrap();
        }
        assert!(limiter.take(Poll::Status, concert, user, t0).is_err());
        assert_eq!(limiter.take(Poll::SeatMap, concert, user, t0), Ok(()));
        assert_eq!(
            limiter.take(Poll::Status, concert, UserId::new(), t0),
            Ok(())
        );
        assert_eq!(
            limiter.take(Poll::Status, ConcertId::new(), user, t0),
            Ok(())
        );
    }

    #[test]
    fn buckets_full_again_are_dropped() {
        let limiter = PollLimiter::new(Some(LIMIT));
        let t0 = Instant::now();
        for _ in 0..1_000 {
            let (concert, user) = place();
            limiter.take(Poll::Status, concert, user, t0).unwrap();
        }
        assert_eq!(limiter.kept(), 1_000);
        // Three seconds refill a bucket of three: each shard sweeps on its next poll.
        let later = t0 + Duration::from_secs(3);
        for _ in 0..2_000 {
            let (concert, user) = place();
            limiter.take(Poll::Status, concert, user, later).unwrap();
        }
        assert_eq!(limiter.kept(), 2_000, "the first thousand are full again");
    }

    #[test]
    fn no_limit_takes_nothing() {
        let limiter = PollLimiter::new(None);
        let (concert, user) = place();
        for _ in 0..100 {
            assert_eq!(
                limiter.take(Poll::Status, concert, user, Instant::now()),
                Ok(())
            );
        }
        assert_eq!(limiter.kept(), 0);
    }
}
