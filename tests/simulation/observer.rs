//! The checker that looks behind the API while the sale runs: every 200 ms
//! it takes a [`Snapshot`] of each concert's Redis state and checks the
//! invariants only Redis can show: admitted people within `max_active`,
//! shoppers within the seat-aware cap, each admission bounded, no
//! reservation stuck `paying`, and (every second, against PostgreSQL) no seat
//! sold in Redis without its ticket. Reads only; never repairs.

use crate::history::short;
use crate::invariant::Invariant;
use crate::snapshot::{Snapshot, sold_in_postgres};
use crate::world::World;
use lineup::store::RedisStore;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Who writes the observer's lines in the history.
const OBSERVER: &str = "observer";

/// The short form of an id as text.
fn tag_of(id: &str) -> String {
    id.parse().map(short).unwrap_or_else(|_| id.to_owned())
}

/// What the observer remembers between snapshots.
#[derive(Default)]
struct Memory {
    previous: HashMap<uuid::Uuid, Snapshot>,
    /// (concert, user, jti) -> when the admission was first seen (Redis ms).
    admitted_since: HashMap<(uuid::Uuid, String, String), i64>,
    /// Reservation -> its concert, and when it was first seen `paying` (run time).
    paying_since: HashMap<String, (uuid::Uuid, Duration)>,
    /// What was reported already, so a lasting breach is reported once.
    reported: HashSet<String>,
}

pub struct Observer {
    world: Arc<World>,
    store: RedisStore,
    db: PgPool,
    memory: Memory,
}

impl Observer {
    pub fn new(world: Arc<World>, store: RedisStore, db: PgPool) -> Self {
        Self {
            world,
            store,
            db,
            memory: Memory::default(),
        }
    }

    /// Observes until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut ticks = 0u64;
        while !*stop.borrow() {
            ticks += 1;
            for concert in self.world.live_concerts() {
                let epoch = self.world.redis_epoch();
                // Redis may be down or slow (a fault): try on the next tick.
                let Ok(Ok(snapshot)) = tokio::time::timeout(
                    Duration::from_secs(1),
                    Snapshot::read(&self.store, &concert, epoch),
                )
                .await
                else {
                    continue;
                };
                self.check(&snapshot);
                if ticks.is_multiple_of(5) {
                    self.check_sold_subset(&snapshot).await;
                }
                self.memory.previous.insert(concert.id, snapshot);
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), stop.changed()).await;
        }
    }

    fn report_once(
        &mut self,
        key: String,
        invariant: Invariant,
        detail: String,
        tags: Vec<String>,
    ) {
        if self.memory.reported.insert(key) {
            self.world.violate(invariant, detail, tags);
        }
    }

    /// The tags of a user: its short id and its client's name.
    fn tags_of(&self, user: &str) -> Vec<String> {
        let mut tags: Vec<String> = user.parse().map(short).into_iter().collect();
        tags.extend(self.world.who_is(user));
        tags
    }

    fn check(&mut self, now: &Snapshot) {
        let timing = self.world.timing;
        let concert = now.concert.id;
        let admitted = now.admitted();

        let max_active = now.setting("max_active", f64::from(now.concert.max_active)) as usize;
        if admitted.len() > max_active {
            self.report_once(
                format!("max-active {concert} {}", now.now_ms / 10_000),
                Invariant::MaxActive,
                format!(
                    "concert {}: {} admitted, max_active {max_active}",
                    short(concert),
                    admitted.len()
                ),
                vec![short(concert)],
            );
        }

        // Each admission's length, from when it was first seen.
        let ttl_ms =
            |name: &str, default: Duration| now.setting(name, default.as_millis() as f64) as i64;
        let bound_ms = ttl_ms("active_ttl_ms", now.concert.active_ttl)
            + ttl_ms("hold_ttl_ms", now.concert.hold_ttl)
            + timing.payment_timeout.as_millis() as i64
            + 1000;
        for user in &admitted {
            let jti = now.jti.get(*user).cloned().unwrap_or_default();
            let until = now.active[*user];
            let key = (concert, user.to_string(), jti.clone());
            if !self.memory.admitted_since.contains_key(&key) {
                let who = self.world.who_is(user).unwrap_or_else(|| user.to_string());
                self.world.note(
                    OBSERVER,
                    format!(
                        "{who} admitted to concert {} (jti {jti}) until +{:.1} s",
                        short(concert),
                        (until - now.now_ms) as f64 / 1000.0
                    ),
                );
            }
            let since = *self.memory.admitted_since.entry(key).or_insert(now.now_ms);
            if until - since > bound_ms {
                let detail = format!(
                    "user {} in concert {} admitted (jti {jti}) since {:.1} s before this snapshot at the latest, now admitted until {:.1} s after it: {:.1} s > {:.1} s",
                    self.world.who_is(user).unwrap_or_else(|| user.to_string()),
                    short(concert),
                    (now.now_ms - since) as f64 / 1000.0,
                    (until - now.now_ms) as f64 / 1000.0,
                    (until - since) as f64 / 1000.0,
                    bound_ms as f64 / 1000.0
                );
                let tags = self.tags_of(user);
                self.report_once(
                    format!("bounded {user} {jti}"),
                    Invariant::BoundedAdmission,
                    detail,
                    tags,
                );
            }
        }

        self.check_shoppers(now, &admitted);
        self.check_paying(now);
    }

    /// Shoppers (admitted, holding nothing) are within the cap whenever
    /// someone was admitted since the last snapshot. The admit tick keeps
    /// them at or below the cap when it admits; between that tick and this
    /// snapshot the cap can shrink by seats held or sold meanwhile (a hold
    /// of k seats takes k x factor off the cap and one person off the
    /// shoppers), so that much slack is allowed: at a factor of 1 or more,
    /// nothing else can put shoppers above the cap without an admission.
    fn check_shoppers(&mut self, now: &Snapshot, admitted: &HashSet<&str>) {
        let Some(before) = self.memory.previous.get(&now.concert.id) else {
            return;
        };
        if before.epoch != now.epoch {
            return;
        }
        let newly: Vec<&str> = admitted
            .iter()
            .filter(|user| before.jti.get(**user) != now.jti.get(**user))
            .copied()
            .collect();
        let Some(free) = now.free() else {
            return;
        };
        if newly.is_empty() {
            return;
        }
        let factor = now.setting("admit_seat_factor", self.world.timing.admit_seat_factor);
        let holders = now.holders();
        let shoppers = admitted.iter().filter(|u| !holders.contains(**u)).count();
        let cap = if free > 0 {
            ((free as f64 * factor).floor() as usize).max(1)
        } else {
            0
        };
        let slack = (now.seats_taken_since(before) as f64 * factor).ceil() as usize;
        if shoppers <= cap + slack {
            return;
        }
        let stale_users: Vec<&String> = now
            .user_res
            .keys()
            .filter(|u| !(admitted.contains(u.as_str()) && holders.contains(u.as_str())))
            .collect();
        let stale: Vec<String> = stale_users
            .iter()
            .map(|u| self.world.who_is(u).unwrap_or_else(|| u.to_string()))
            .collect();
        let newly_named: Vec<String> = newly
            .iter()
            .map(|u| self.world.who_is(u).unwrap_or_else(|| u.to_string()))
            .collect();
        let detail = format!(
            "concert {}: {shoppers} shoppers > cap {cap} (free {free} x {factor}) + slack {slack}, after admitting {newly_named:?}; \
             admitted {}, holding {}; the admit script counts {} - {} user-res entries, {} of them stale: {stale:?}",
            short(now.concert.id),
            admitted.len(),
            holders.len(),
            admitted.len(),
            now.user_res.len(),
            stale.len()
        );
        // The history of who was let in, and of whose reservation entries
        // outlived their reservations.
        let tags: Vec<String> = newly
            .iter()
            .copied()
            .chain(stale_users.iter().map(|u| u.as_str()))
            .flat_map(|u| self.tags_of(u))
            .collect();
        self.report_once(
            format!("shoppers {} {}", now.concert.id, now.now_ms / 5000),
            Invariant::ShopperCap,
            detail,
            tags,
        );
    }

    /// A reservation `paying` with no payment of it in flight, while every
    /// server has reached Redis, for longer than the payment timeout (and,
    /// once an answer decided the payment, the background retries of its
    /// Redis half).
    fn check_paying(&mut self, now: &Snapshot) {
        let t = self.world.history.now();
        let paying: Vec<(String, String)> = now
            .paying()
            .into_iter()
            .map(|(id, user)| (id.to_owned(), user.to_owned()))
            .collect();
        let concert = now.concert.id;
        let ended: Vec<String> = self
            .memory
            .paying_since
            .iter()
            .filter(|(id, (of, _))| *of == concert && !paying.iter().any(|(p, _)| p == *id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            self.memory.paying_since.remove(&id);
            let state = now
                .reservations
                .get(&id)
                .and_then(|r| r.get("status"))
                .map_or("gone", String::as_str);
            self.world.note(
                OBSERVER,
                format!("res={} no longer paying: {state}", tag_of(&id)),
            );
        }
        for (id, user) in paying {
            if !self.memory.paying_since.contains_key(&id) {
                let who = self.world.who_is(&user).unwrap_or_else(|| user.clone());
                self.world
                    .note(OBSERVER, format!("res={} of {who} is paying", tag_of(&id)));
            }
            let (_, since) = *self
                .memory
                .paying_since
                .entry(id.clone())
                .or_insert((concert, t));
            if let Some(detail) = self.stuck(&id, since, t) {
                let mut tags = self.tags_of(&user);
                tags.push(tag_of(&id));
                self.report_once(
                    format!("paying {id}"),
                    Invariant::NoStuckPaying,
                    detail,
                    tags,
                );
            }
        }
    }

    /// Why reservation `id`, `paying` since `since`, is stuck at `t`, if it is.
    pub fn stuck(&self, id: &str, since: Duration, t: Duration) -> Option<String> {
        let healthy_since = self.world.redis_reachable_since()?;
        let track = id
            .parse()
            .map(|id| self.world.pay_track(id))
            .unwrap_or_default();
        if track.in_flight > 0 {
            return None;
        }
        let timing = self.world.timing;
        let grace = timing.payment_timeout
            + Duration::from_secs(1)
            + if track.decided {
                crate::timing::Timing::FINISH_BACKOFF
            } else {
                Duration::ZERO
            };
        let from = since
            .max(healthy_since)
            .max(track.last_done.unwrap_or_default());
        (t > from + grace).then(|| {
            format!(
                "reservation {} paying since {:.1} s, no payment of it in flight since {}, every server reaching Redis since {:.1} s; still paying at {:.1} s (grace {grace:?}, decided: {})",
                id.parse().map(short).unwrap_or_else(|_| id.to_owned()),
                since.as_secs_f64(),
                track
                    .last_done
                    .map_or("ever".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
                healthy_since.as_secs_f64(),
                t.as_secs_f64(),
                track.decided
            )
        })
    }

    /// Every seat Redis has as sold has its ticket in PostgreSQL (read after
    /// Redis, so a payment that settled in between is there too).
    async fn check_sold_subset(&mut self, now: &Snapshot) {
        for date in now.dates.iter().filter(|d| d.loaded) {
            let Ok(tickets) = sold_in_postgres(&self.db, date.schedule).await else {
                continue;
            };
            let extra: Vec<u32> = date
                .sold
                .iter()
                .filter(|seat| !tickets.contains(seat))
                .copied()
                .collect();
            if !extra.is_empty() {
                self.report_once(
                    format!("sold {} {extra:?}", date.schedule),
                    Invariant::SoldAgrees,
                    format!(
                        "date {}: Redis has seats {extra:?} sold, PostgreSQL has no ticket for them",
                        short(date.schedule)
                    ),
                    vec![short(date.schedule)],
                );
            }
        }
    }
}
