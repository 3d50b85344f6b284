//! One concert's Redis state at one instant, read in one script run: the
//! admitted and their jtis, the reservation index, the settings, each date's
//! sold seats, held seats and hold keys, and every live reservation; with
//! the views the checks need (who is admitted, who holds, what is free).
//! Reads only. Key names come from lineup's own `Keys`.
//!
//! The script reads the reservation hashes without declaring their keys:
//! they share the concert's hash tag, so they are in the same slot of a
//! cluster, which is all Redis asks of a script in practice.

use crate::world::LiveConcert;
use lineup::domain::{ReservationId, SeatNo};
use lineup::store::RedisStore;
use redis::Value;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};

const SNAPSHOT: &str = r"
-- KEYS: 1 active, 2 jti, 3 user-res, 4 cfg, then per date: sold, sold-loaded,
--       held, and one hold key per seat
-- ARGV: 1 the reservation keys' prefix, 2 the number of dates, 3.. seats per date
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {tostring(now_ms), redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'),
  redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4])}
local k, dates, ids = 5, {}, {}
for d = 1, tonumber(ARGV[2]) do
  local seats = tonumber(ARGV[2 + d])
  local holds = {}
  for s = 1, seats do
    local id = redis.call('GET', KEYS[k + 2 + s])
    if id then
      holds[#holds + 1] = tostring(s)
      holds[#holds + 1] = id
      ids[id] = true
    end
  end
  dates[#dates + 1] = {redis.call('SMEMBERS', KEYS[k]), tostring(redis.call('EXISTS', KEYS[k + 1])),
    redis.call('ZRANGE', KEYS[k + 2], 0, -1, 'WITHSCORES'), holds}
  k = k + 3 + seats
end
out[6] = dates
local reservations = {}
for id, _ in pairs(ids) do
  reservations[#reservations + 1] = id
  reservations[#reservations + 1] = redis.call('HGETALL', ARGV[1] .. id)
end
out[7] = reservations
return out
";

/// One date's seats as Redis has them.
#[derive(Clone, Debug)]
pub struct DateState {
    pub schedule: uuid::Uuid,
    pub loaded: bool,
    pub sold: HashSet<u32>,
    /// Seat -> hold end (ms), from the `held` index.
    pub held: HashMap<u32, i64>,
}

/// One concert's Redis state at one instant (Redis's clock).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub concert: LiveConcert,
    pub epoch: u64,
    pub now_ms: i64,
    /// User -> admission end (ms).
    pub active: HashMap<String, i64>,
    pub jti: HashMap<String, String>,
    pub user_res: HashMap<String, String>,
    pub cfg: HashMap<String, String>,
    pub dates: Vec<DateState>,
    /// Reservation id -> its hash, for every reservation with a live hold.
    pub reservations: HashMap<String, HashMap<String, String>>,
}

fn item<T: redis::FromRedisValue>(items: &[Value], index: usize) -> anyhow::Result<T> {
    let value = items
        .get(index)
        .ok_or_else(|| anyhow::anyhow!("no item {index}"))?;
    Ok(redis::from_redis_value_ref(value)?)
}

fn pairs(items: Vec<(String, String)>) -> HashMap<String, i64> {
    items
        .into_iter()
        .map(|(k, v)| (k, v.parse::<f64>().unwrap_or_default() as i64))
        .collect()
}

impl Snapshot {
    /// Reads one concert's state in one script run.
    pub async fn read(
        store: &RedisStore,
        concert: &LiveConcert,
        epoch: u64,
    ) -> anyhow::Result<Self> {
        let keys = store
            .keys
            .concert(lineup::domain::ConcertId::from_uuid(concert.id));
        let nil = ReservationId::from_uuid(uuid::Uuid::nil());
        let res_prefix = keys
            .reservation(nil)
            .trim_end_matches(&nil.to_string())
            .to_owned();
        let script = redis::Script::new(SNAPSHOT);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(keys.active())
            .key(keys.jti())
            .key(keys.user_res())
            .key(keys.cfg());
        invocation.arg(res_prefix).arg(concert.schedules.len());
        for schedule in &concert.schedules {
            let schedule_id = lineup::domain::ScheduleId::from_uuid(*schedule);
            invocation
                .key(keys.sold(schedule_id))
                .key(keys.sold_loaded(schedule_id))
                .key(keys.held(schedule_id));
            for seat in 1..=concert.seats {
                invocation.key(keys.hold(schedule_id, SeatNo::parse(i64::from(seat)).unwrap()));
            }
            invocation.arg(concert.seats);
        }
        let reply: Vec<Value> = invocation.invoke_async(&mut store.conn()).await?;
        let now_ms: String = item(&reply, 0)?;
        let dates: Vec<Vec<Value>> = item(&reply, 5)?;
        let reservations: Vec<(String, HashMap<String, String>)> = item(&reply, 6)?;
        Ok(Snapshot {
            concert: concert.clone(),
            epoch,
            now_ms: now_ms.parse()?,
            active: pairs(item(&reply, 1)?),
            jti: item(&reply, 2)?,
            user_res: item(&reply, 3)?,
            cfg: item(&reply, 4)?,
            dates: dates
                .iter()
                .zip(&concert.schedules)
                .map(|(date, schedule)| {
                    let sold: Vec<String> = item(date, 0)?;
                    let loaded: String = item(date, 1)?;
                    Ok(DateState {
                        schedule: *schedule,
                        loaded: loaded == "1",
                        sold: sold.iter().filter_map(|s| s.parse().ok()).collect(),
                        held: pairs(item(date, 2)?)
                            .into_iter()
                            .filter_map(|(seat, until)| Some((seat.parse().ok()?, until)))
                            .collect(),
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            reservations: reservations.into_iter().collect(),
        })
    }

    /// Users admitted now.
    pub fn admitted(&self) -> HashSet<&str> {
        self.active
            .iter()
            .filter(|(_, until)| **until > self.now_ms)
            .map(|(user, _)| user.as_str())
            .collect()
    }

    /// Users with a live reservation (held or being paid).
    pub fn holders(&self) -> HashSet<&str> {
        self.reservations
            .values()
            .filter_map(|r| r.get("user_id").map(String::as_str))
            .collect()
    }

    /// Reservations marked `paying`, with their owners.
    pub fn paying(&self) -> Vec<(&str, &str)> {
        self.reservations
            .iter()
            .filter(|(_, r)| r.get("status").map(String::as_str) == Some("paying"))
            .map(|(id, r)| (id.as_str(), r.get("user_id").map_or("", String::as_str)))
            .collect()
    }

    /// Seats neither sold nor held over the concert's dates; `None` while a
    /// date's sold seats are not loaded.
    pub fn free(&self) -> Option<u64> {
        let mut free = 0;
        for date in &self.dates {
            if !date.loaded {
                return None;
            }
            let held = date
                .held
                .values()
                .filter(|until| **until > self.now_ms)
                .count();
            free += u64::from(self.concert.seats).saturating_sub((date.sold.len() + held) as u64);
        }
        Some(free)
    }

    pub fn setting(&self, name: &str, default: f64) -> f64 {
        self.cfg
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// Seats sold since `before` plus seats held by reservations `before` did
    /// not have: what may have shrunk the cap since then.
    pub fn seats_taken_since(&self, before: &Snapshot) -> usize {
        let sold = |s: &Snapshot| s.dates.iter().map(|d| d.sold.len()).sum::<usize>();
        let new_holds: usize = self
            .reservations
            .iter()
            .filter(|(id, _)| !before.reservations.contains_key(*id))
            .map(|(_, r)| r.get("seat_nos").map_or(0, |s| s.split(',').count()))
            .sum();
        sold(self).saturating_sub(sold(before)) + new_holds
    }
}

/// The seats of a date PostgreSQL has tickets for.
pub async fn sold_in_postgres(db: &PgPool, schedule: uuid::Uuid) -> sqlx::Result<HashSet<u32>> {
    let seats: Vec<i32> = sqlx::query_scalar("SELECT seat_no FROM tickets WHERE schedule_id = $1")
        .bind(schedule)
        .fetch_all(db)
        .await?;
    Ok(seats.into_iter().map(|s| s as u32).collect())
}
