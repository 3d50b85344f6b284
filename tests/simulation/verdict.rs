//! The checks after the run, once every fault has healed and the clients have
//! stopped: nothing left `paying`, Redis's sold seats equal to PostgreSQL's
//! tickets, the money invariants, every payment a client was told of in
//! PostgreSQL as told, every keyed success replayed the same. Then the
//! report: the seed, and for each broken invariant its examples with the
//! history lines that show them.

use crate::history::short;
use crate::invariant::{Invariant, Violation};
use crate::snapshot::{Snapshot, sold_in_postgres};
use crate::support::{RequestHelper, money_violations};
use crate::world::{Told, World};
use lineup::store::RedisStore;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// Snapshots of every concert; the ones Redis does not answer are missing.
async fn snapshots(world: &World, store: &RedisStore) -> Vec<Snapshot> {
    let mut all = Vec::new();
    for concert in world.live_concerts() {
        if let Ok(snapshot) = Snapshot::read(store, &concert, world.redis_epoch()).await {
            all.push(snapshot);
        }
    }
    all
}

/// Whether a violation of `invariant` already names `tag`.
fn already(world: &World, invariant: Invariant, tag: &str) -> bool {
    world
        .violations()
        .iter()
        .any(|v| v.invariant == invariant && v.tags.iter().any(|t| t == tag))
}

pub async fn run(world: &World, store: &RedisStore, db: &PgPool) {
    nothing_left_paying(world, store).await;
    sold_seats_agree(world, store, db).await;
    for broken in money_violations(db).await {
        world.violate(Invariant::Money, broken, Vec::new());
    }
    payments_are_recorded(world, db).await;
    successes_replay_the_same(world).await;
}

/// No reservation is `paying` once the payment timeout (and the background
/// retries of a decided payment's Redis half) have passed since the faults
/// healed.
async fn nothing_left_paying(world: &World, store: &RedisStore) {
    let timing = world.timing;
    let deadline = Instant::now()
        + timing.payment_timeout
        + Duration::from_secs(1)
        + crate::timing::Timing::FINISH_BACKOFF;
    loop {
        let stuck: Vec<(String, String)> = snapshots(world, store)
            .await
            .iter()
            .flat_map(|s| {
                s.paying()
                    .into_iter()
                    .map(|(id, user)| (id.to_owned(), user.to_owned()))
            })
            .collect();
        if stuck.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            for (id, user) in stuck {
                let tag = id.parse().map(short).unwrap_or_else(|_| id.clone());
                if already(world, Invariant::NoStuckPaying, &tag) {
                    continue;
                }
                let who = world.who_is(&user).unwrap_or(user);
                world.violate(
                    Invariant::NoStuckPaying,
                    format!(
                        "reservation {tag} of {who} is still paying after the faults healed and {:?} passed",
                        deadline.elapsed() + timing.payment_timeout
                    ),
                    vec![tag, who],
                );
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every loaded date's sold set in Redis is its tickets in PostgreSQL, once
/// the background retries of payments' Redis halves have had their time.
async fn sold_seats_agree(world: &World, store: &RedisStore, db: &PgPool) {
    let deadline = Instant::now() + crate::timing::Timing::FINISH_BACKOFF + Duration::from_secs(2);
    loop {
        let mut differing = Vec::new();
        for snapshot in snapshots(world, store).await {
            for date in snapshot.dates.iter().filter(|d| d.loaded) {
                let tickets = sold_in_postgres(db, date.schedule).await.unwrap();
                if tickets != date.sold {
                    differing.push((date.schedule, date.sold.clone(), tickets));
                }
            }
        }
        if differing.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            for (schedule, redis, postgres) in differing {
                let only_redis: Vec<_> = redis.difference(&postgres).collect();
                let only_postgres: Vec<_> = postgres.difference(&redis).collect();
                world.violate(
                    Invariant::SoldAgrees,
                    format!(
                        "date {} after the faults healed: sold in Redis only {only_redis:?}, in PostgreSQL only {only_postgres:?}",
                        short(schedule)
                    ),
                    vec![short(schedule)],
                );
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every payment a client was told of is in PostgreSQL with its reservation,
/// its amount, its date and its seats.
async fn payments_are_recorded(world: &World, db: &PgPool) {
    let told: Vec<Told> = world.payments.lock().unwrap().clone();
    for told in told {
        let body = &told.body;
        let Some(id) = body["payment_id"]
            .as_str()
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
        else {
            world.violate(
                Invariant::PaidIsRecorded,
                format!("{} was told 201 without a payment id: {body}", told.who),
                vec![told.who.clone()],
            );
            continue;
        };
        let row: Option<(uuid::Uuid, uuid::Uuid, i64, Vec<i32>)> = sqlx::query_as(
            "SELECT p.reservation_id, p.schedule_id, p.amount,
                    array_agg(t.seat_no ORDER BY t.seat_no)
             FROM payments p JOIN tickets t USING (payment_id)
             WHERE p.payment_id = $1 GROUP BY p.payment_id",
        )
        .bind(id)
        .fetch_optional(db)
        .await
        .unwrap();
        let recorded = row.map(|(reservation, schedule, amount, seats)| {
            json!({
                "reservation_id": reservation,
                "schedule_id": schedule,
                "amount": amount,
                "seat_nos": seats,
            })
        });
        let said = json!({
            "reservation_id": body["reservation_id"],
            "schedule_id": body["schedule_id"],
            "amount": body["amount"],
            "seat_nos": body["seat_nos"],
        });
        if recorded.as_ref() != Some(&said) {
            world.violate(
                Invariant::PaidIsRecorded,
                format!(
                    "{} was told payment {} ({said}); PostgreSQL has {}",
                    told.who,
                    short(id),
                    recorded.map_or("nothing".to_owned(), |r| r.to_string())
                ),
                vec![told.who.clone(), short(id)],
            );
        }
    }
}

/// Each keyed success, sent again with its key, is answered the same.
async fn successes_replay_the_same(world: &World) {
    let payments: Vec<Told> = world.payments.lock().unwrap().clone();
    let charges: Vec<Told> = world.charges.lock().unwrap().clone();
    let mut replayed = HashSet::new();
    for (told, is_payment) in payments
        .iter()
        .map(|t| (t, true))
        .chain(charges.iter().map(|t| (t, false)))
    {
        let Some(key) = told.key.clone() else {
            continue;
        };
        if !replayed.insert(key.clone()) {
            continue;
        }
        let Some((_, server)) = world.fleet.pick(0) else {
            return;
        };
        let request = &told.request;
        let sent = if is_payment {
            let reservation = crate::support::uuid(&request["reservation_id"]);
            server
                .try_pay(
                    &told.token,
                    reservation,
                    request["amount"].clone(),
                    Some(&key),
                )
                .await
        } else {
            let user = crate::support::uuid(&request["user_id"]);
            server
                .try_charge(user, &told.token, request["amount"].clone(), Some(&key))
                .await
        };
        let expected = if is_payment { 201 } else { 200 };
        let (status, body) = match sent {
            Ok(response) => (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            ),
            Err(e) => (0, Value::String(e.to_string())),
        };
        if status != expected || body != told.body {
            world.violate(
                Invariant::ReplaysSame,
                format!(
                    "key {key} of {}: told {expected} {}, replayed {status} {body}",
                    told.who, told.body
                ),
                vec![told.who.clone()],
            );
        }
    }
}

/// What a run found: its text (always printed) and its violations.
pub struct Report {
    pub seed: u64,
    pub text: String,
    pub violations: Vec<Violation>,
}

/// The report of a run: what ran, then each broken invariant with up to
/// three examples and the history lines that show each.
pub fn report(world: &World, summary: &str) -> Report {
    let violations = world.violations();
    if let Ok(path) = std::env::var("SIM_HISTORY_FILE") {
        let write = |path: String, lines: Vec<String>| {
            let mut text = lines.join("\n");
            text.push('\n');
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        };
        write(path.clone(), world.history.lines());
        for index in 0..world.fleet.len() {
            write(format!("{path}.s{index}.log"), world.fleet.log_lines(index));
        }
    }
    let mut text = format!(
        "simulation seed {} ({summary}): {} history lines, {} payments and {} keyed charges told; ",
        world.seed,
        world.history.len(),
        world.payments.lock().unwrap().len(),
        world.charges.lock().unwrap().len(),
    );
    if violations.is_empty() {
        text.push_str("every invariant held\n");
        return Report {
            seed: world.seed,
            text,
            violations,
        };
    }
    let mut by_invariant: BTreeMap<Invariant, Vec<&Violation>> = BTreeMap::new();
    for violation in &violations {
        by_invariant
            .entry(violation.invariant)
            .or_default()
            .push(violation);
    }
    text.push_str(&format!(
        "{} violations of {} invariants; replay with `loadtest/simulate.sh --seed {}`\n",
        violations.len(),
        by_invariant.len(),
        world.seed
    ));
    for (invariant, found) in &by_invariant {
        text.push_str(&format!(
            "\n== BROKEN {invariant:?}: {} ({} times)\n",
            invariant.describe(),
            found.len()
        ));
        for violation in found.iter().take(3) {
            text.push_str(&format!(
                "-- at {:.3} s: {}\n",
                violation.at.as_secs_f64(),
                violation.detail
            ));
            for line in world.history.relevant(&violation.tags, violation.at, 30) {
                text.push_str(&format!("   {line}\n"));
            }
        }
    }
    Report {
        seed: world.seed,
        text,
        violations,
    }
}
