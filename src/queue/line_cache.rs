//! The line facts of each concert, kept by this server for a fraction of a
//! second (`LINEUP_LINE_FACTS_TTL`): the settings, the measured admission rate
//! and the line's length, which every join and poll of a concert needs for its
//! estimate and poll interval and which change slowly and alike for everyone.
//! A join or poll within the time reuses them and the script skips reading
//! them (see `lua/status.lua`); the person's own position is never cached.
//!
//! What it does to freshness: an estimate, a poll interval or a settings
//! change reaches a ticket at most this late (this server's own settings
//! changes drop its copy at once).

use super::polling;
use crate::domain::ConcertId;
use crate::store::scripts::{CachedLine, LineFacts};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LineCache {
    ttl: Duration,
    lines: Mutex<HashMap<ConcertId, (Instant, LineFacts)>>,
}

impl LineCache {
    /// A cache keeping facts for `ttl` (zero: none kept).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            lines: Mutex::new(HashMap::new()),
        }
    }

    /// The concert's facts, when read less than the time ago.
    pub fn get(&self, concert: ConcertId) -> Option<CachedLine> {
        if self.ttl.is_zero() {
            return None;
        }
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let (read_at, facts) = *lines.get(&concert)?;
        (read_at.elapsed() < self.ttl).then(|| CachedLine {
            facts,
            idle_in_force_ms: polling::ceiling_and_idle_ms(
                facts.waiting,
                facts.poll_budget_per_second,
                facts.idle_timeout_ms,
            )
            .1,
        })
    }

    /// Keeps facts just read from Redis.
    pub fn put(&self, concert: ConcertId, facts: LineFacts) {
        if self.ttl.is_zero() {
            return;
        }
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        // Concerts that ended leave entries behind: sweep them now and then
        // (a server serves a handful of concerts at once).
        if lines.len() >= 1024 {
            let ttl = self.ttl;
            lines.retain(|_, (read_at, _)| read_at.elapsed() < ttl);
        }
        lines.insert(concert, (Instant::now(), facts));
    }

    /// Drops the concert's facts: its settings changed.
    pub fn forget(&self, concert: ConcertId) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&concert);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: LineFacts = LineFacts {
        admit_per_second: 10,
        idle_timeout_ms: 120_000,
        poll_budget_per_second: 20_000,
        rate_admitted: 0.0,
        rate_seconds: 0.0,
        waiting: 1_000_000,
    };

    #[test]
    fn facts_are_kept_for_the_time_and_forgotten_on_a_change() {
        let concert = ConcertId::new();
        let cache = LineCache::new(Duration::from_secs(60));
        assert!(cache.get(concert).is_none());
        cache.put(concert, FACTS);
        let cached = cache.get(concert).unwrap();
        assert_eq!(cached.facts, FACTS);
        // A million at 20,000 polls a second: polls up to 100 s apart, idle after 300 s.
        assert_eq!(cached.idle_in_force_ms, 300_000);
        cache.forget(concert);
        assert!(cache.get(concert).is_none());
    }

    #[test]
    fn a_zero_time_keeps_nothing() {
        let concert = ConcertId::new();
        let cache = LineCache::new(Duration::ZERO);
        cache.put(concert, FACTS);
        assert!(cache.get(concert).is_none());
    }
}
