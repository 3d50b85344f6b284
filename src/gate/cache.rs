//! The gate's memory of recent yeses: an admission Redis found live is
//! trusted for at most `LINEUP_GATE_CACHE` (1 s at most) on this server, so a
//! page's burst of subrequests costs one round trip, and an ended admission is
//! still refused within a second. The second counts from when the gate asked
//! Redis, so a reply slow to arrive is not trusted longer. Noes are never
//! remembered.

use crate::domain::{ConcertId, UserId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many entries, the expired ones are swept; past it still, all are.
const MAX_ENTRIES: usize = 100_000;

pub struct PositiveCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Clone, Copy)]
struct Entry {
    until: Instant,
    user: UserId,
    concert: ConcertId,
}

impl PositiveCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The admitted user, if this exact token was found live for `concert`
    /// less than the TTL ago.
    pub fn get(&self, token: &str, concert: ConcertId) -> Option<UserId> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(token)?;
        (entry.concert == concert && entry.until > Instant::now()).then_some(entry.user)
    }

    /// Remembers a live admission that Redis found with `remaining` left when
    /// it was asked at `asked`: for the TTL from `asked`, never past the
    /// admission's own end. Counted from the question, not the answer, so a
    /// reply that was slow to arrive is not trusted longer than the TTL after
    /// Redis gave it.
    pub fn put(
        &self,
        token: &str,
        user: UserId,
        concert: ConcertId,
        remaining: Duration,
        asked: Instant,
    ) {
        let until = asked + self.ttl.min(remaining);
        let now = Instant::now();
        if until <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            token.to_owned(),
            Entry {
                until,
                user,
                concert,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yes_is_kept_for_its_concert_only_and_never_with_a_zero_ttl() {
        let cache = PositiveCache::new(Duration::from_secs(1));
        let (user, concert) = (UserId::new(), ConcertId::new());
        assert_eq!(cache.get("t", concert), None);
        cache.put("t", user, concert, Duration::from_secs(60), Instant::now());
        assert_eq!(cache.get("t", concert), Some(user));
        assert_eq!(cache.get("t", ConcertId::new()), None);

        let off = PositiveCache::new(Duration::ZERO);
        off.put("t", user, concert, Duration::from_secs(60), Instant::now());
        assert_eq!(off.get("t", concert), None);
        // An admission with no time left is not remembered.
        cache.put("u", user, concert, Duration::ZERO, Instant::now());
        assert_eq!(cache.get("u", concert), None);
        // A yes asked for more than the TTL ago (its reply slow) is not remembered.
        let long_ago = Instant::now() - Duration::from_secs(2);
        cache.put("v", user, concert, Duration::from_secs(60), long_ago);
        assert_eq!(cache.get("v", concert), None);
    }
}
