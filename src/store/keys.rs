//! Redis key names, all in one place.
//!
//! Every key of one concert carries the hash tag `{c:<concert_id>}`, so a Lua
//! script can touch the line, the admitted set, the holds and the reservations
//! of that concert atomically, also on Redis Cluster, while different concerts
//! spread over the cluster's shards.

use crate::domain::{ConcertId, ReservationId, ScheduleId, SeatNo, UserId};
use uuid::Uuid;

/// Key names under one configurable prefix (tests use a unique prefix each).
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn concert(&self, concert: ConcertId) -> ConcertKeys {
        ConcertKeys {
            base: format!("{}:{{c:{concert}}}", self.prefix),
        }
    }

    /// HASH tokens, ts_us: the abuse-limit bucket of one client (`scope` is
    /// `addr` or `user`) for one action. Its own hash tag: buckets spread over
    /// a cluster.
    pub fn rate_limit(&self, scope: &str, action: &str, client: &str) -> String {
        format!("{}:{{rl:{scope}:{action}:{client}}}", self.prefix)
    }

    /// ZSET reservation id -> hold expiry ms: the reservations this user holds in
    /// any concert. The one cross-concert fact, read before a charge.
    pub fn user_holding(&self, user: UserId) -> String {
        format!("{}:{{u:{user}}}:holding", self.prefix)
    }
}

/// The keys of one concert.
#[derive(Clone, Debug)]
pub struct ConcertKeys {
    base: String,
}

impl ConcertKeys {
    fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.base)
    }

    /// Every key of the concert that lives until deleted: the line's keys and
    /// each date's hold index and sold copy. (A reservation, a seat's hold and
    /// an attempt's reply expire on their own.) What retiring a concert deletes.
    /// The idle-bucket index comes first: the script deletes the buckets it
    /// names (keys no list here can hold) before the index itself.
    pub fn lasting(&self, schedules: &[ScheduleId]) -> Vec<String> {
        let mut keys = vec![
            self.idle(),
            self.wait(),
            self.active(),
            self.jti(),
            self.seq(),
            self.cfg(),
            self.bucket(),
            self.line_stats(),
            self.draw(),
            self.drawn(),
            self.user_res(),
            self.holders(),
            self.deadlines(),
        ];
        for &schedule in schedules {
            keys.extend([
                self.held(schedule),
                self.sold(schedule),
                self.sold_loaded(schedule),
            ]);
        }
        keys
    }

    /// ZSET user -> order number: the line.
    pub fn wait(&self) -> String {
        self.key("wait")
    }
    /// ZSET user -> admission expiry ms.
    pub fn active(&self) -> String {
        self.key("active")
    }
    /// STRING: the last order number handed out.
    pub fn seq(&self) -> String {
        self.key("seq")
    }
    /// HASH user -> jti of the admitted user's current queue token.
    pub fn jti(&self) -> String {
        self.key("jti")
    }
    /// HASH of the queue settings, shared by all servers.
    pub fn cfg(&self) -> String {
        self.key("cfg")
    }
    /// HASH tokens, ts_us: the admission token bucket.
    pub fn bucket(&self) -> String {
        self.key("bucket")
    }
    /// ZSET bucket -> end ms: the idle buckets, each waiting person in the one
    /// of their last poll; each bucket's people are in small integer sets named
    /// from this key by the scripts (`idle:<bucket>:<shard>`, see `lua/_lib.lua`).
    pub fn idle(&self) -> String {
        self.key("idle")
    }
    /// HASH of what the admit tick learns of the line for every server to read:
    /// `sold_out` (0 or 1) and `free_seats`.
    pub fn line_stats(&self) -> String {
        self.key("line-stats")
    }
    /// ZSET user -> drawn rank: the pre-queue in the order of its draw, taken
    /// from before the rest of the line (see `lua/admit.lua`).
    pub fn draw(&self) -> String {
        self.key("draw")
    }
    /// STRING marker: the pre-queue's draw has been made (once, by whichever
    /// server's admit tick first found the concert open).
    pub fn drawn(&self) -> String {
        self.key("drawn")
    }
    /// HASH user -> `"<reservation id>|<until ms>"`: one open reservation per user.
    pub fn user_res(&self) -> String {
        self.key("user-res")
    }
    /// ZSET user -> hold end ms: who holds seats, written with `user-res` and
    /// pruned by time, so seat-aware admission counts the shoppers exactly.
    pub fn holders(&self) -> String {
        self.key("holders")
    }
    /// ZSET user -> ms: the latest each admission may end, whatever its holder
    /// holds (active_ttl + hold_ttl after it began); an entry goes when its
    /// admission ends, or by time once past.
    pub fn deadlines(&self) -> String {
        self.key("deadlines")
    }
    /// STRING, `PX`: the first reply of one attempt of a script sent once, for
    /// its re-sends (see `once` in `lua/_lib.lua`).
    pub fn attempt(&self, attempt: Uuid) -> String {
        self.key(&format!("once:{attempt}"))
    }
    /// HASH: one reservation; expires with its holds.
    pub fn reservation(&self, id: ReservationId) -> String {
        self.key(&format!("res:{id}"))
    }
    /// STRING reservation id, `PX` hold TTL: the lock on one seat.
    pub fn hold(&self, schedule: ScheduleId, seat: SeatNo) -> String {
        self.key(&format!("hold:{schedule}:{seat}"))
    }
    /// ZSET seat -> hold expiry ms: an index of the holds, to count and list them.
    pub fn held(&self, schedule: ScheduleId) -> String {
        self.key(&format!("held:{schedule}"))
    }
    /// SET of sold seat numbers: a copy of PostgreSQL's tickets.
    pub fn sold(&self, schedule: ScheduleId) -> String {
        self.key(&format!("sold:{schedule}"))
    }
    /// STRING marker: the sold set has been loaded from PostgreSQL.
    pub fn sold_loaded(&self, schedule: ScheduleId) -> String {
        self.key(&format!("sold-loaded:{schedule}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis Cluster hashes only the part between the first `{` and the next `}`.
    fn hash_tag(key: &str) -> &str {
        let open = key.find('{').unwrap();
        let close = open + key[open..].find('}').unwrap();
        &key[open + 1..close]
    }

    #[test]
    fn every_key_of_a_concert_shares_its_hash_tag() {
        let concert = ConcertId::new();
        let schedule = ScheduleId::new();
        let seat = SeatNo::parse(7).unwrap();
        let keys = Keys::new("test").concert(concert);
        let tag = format!("c:{concert}");
        for key in [
            keys.wait(),
            keys.active(),
            keys.seq(),
            keys.jti(),
            keys.cfg(),
            keys.bucket(),
            keys.user_res(),
            keys.holders(),
            keys.deadlines(),
            keys.attempt(Uuid::new_v4()),
            keys.idle(),
            keys.line_stats(),
            keys.draw(),
            keys.drawn(),
            keys.reservation(ReservationId::new()),
            keys.hold(schedule, seat),
            keys.held(schedule),
            keys.sold(schedule),
            keys.sold_loaded(schedule),
        ] {
            assert!(key.starts_with("test:"), "{key}");
            assert_eq!(hash_tag(&key), tag, "{key}");
        }
    }
}
