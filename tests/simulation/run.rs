//! One run: sets up the Redis, the fleet and the observer, plays the plan
//! (the operator's concerts, the clients, the nemesis), waits for the faults
//! to heal and the clients to stop, checks, and reports.

use crate::plan::{ConcertPlan, Plan, Shape, Tempo, price};
use crate::support::{
    Fleet, FleetRedis, OwnRedis, RequestHelper, TestConcert, concert_body, redis_cluster_nodes,
};
use crate::timing::TIMING;
use crate::world::{LiveConcert, Op, World};
use crate::{client, nemesis, observer, verdict};
use lineup::store::RedisStore;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs seed `seed` for `duration` on `servers` servers; panics with the
/// report when an invariant broke.
pub async fn simulate(db: PgPool, seed: u64, duration: Duration, servers: usize) {
    assert_held(run(db, seed, duration, servers).await);
}

/// Prints a run's report; panics when an invariant broke.
pub fn assert_held(report: verdict::Report) {
    eprintln!("{}", report.text);
    assert!(
        report.violations.is_empty(),
        "simulation seed {}: {} invariant violations (the report above); replay it with `loadtest/simulate.sh --seed {}`",
        report.seed,
        report.violations.len(),
        report.seed
    );
}

/// Runs seed `seed` for `duration` on `servers` servers; the report.
pub async fn run(db: PgPool, seed: u64, duration: Duration, servers: usize) -> verdict::Report {
    let cluster = redis_cluster_nodes();
    let shape = Shape {
        duration,
        servers,
        redis_faults: cluster.is_empty(),
    };
    let plan = Plan::generate(seed, shape);
    let own_redis = if cluster.is_empty() {
        Some(OwnRedis::start().await)
    } else {
        None
    };
    let (fleet_redis, observer_url) = match &own_redis {
        Some(redis) => (
            FleetRedis::Single(format!("127.0.0.1:{}", redis.port)),
            redis.url(),
        ),
        None => (FleetRedis::Cluster(cluster.join(",")), String::new()),
    };
    let args = TIMING.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let fleet = Fleet::start(&db, fleet_redis, servers, &args).await;
    let store = RedisStore::connect_to(
        &observer_url,
        &cluster,
        fleet.prefix(),
        Duration::from_secs(1),
    )
    .await
    .expect("the observer reaches Redis");

    let world = Arc::new(World::new(seed, fleet, plan.concerts.len(), duration));
    // So the history's times can be matched with the servers' logs.
    world.note(
        "checker",
        format!("the run starts at {}", chrono::Utc::now()),
    );
    let operator = tokio::spawn(operate(world.clone(), plan.concerts.clone()));
    let nemesis = tokio::spawn(nemesis::run(world.clone(), plan.faults.clone(), own_redis));
    let (stop, stopped) = watch::channel(false);
    let observer = tokio::spawn(
        observer::Observer::new(world.clone(), store.clone(), db.clone()).run(stopped),
    );
    let clients: Vec<_> = plan
        .clients
        .iter()
        .cloned()
        .map(|client| tokio::spawn(client::run(client, world.clone())))
        .collect();

    for client in clients {
        client.await.expect("a client task");
    }
    operator.await.expect("the operator task");
    // Every fault heals before the run's end; the nemesis hands the Redis back.
    let own_redis = nemesis.await.expect("the nemesis task");
    world.note(
        "checker",
        "clients stopped, faults healed: final checks".into(),
    );
    verdict::run(&world, &store, &db).await;
    let _ = stop.send(true);
    observer.await.expect("the observer task");
    drop(own_redis);
    let summary = format!(
        "{:?}, {servers} servers on {}, {} clients, {} faults",
        duration,
        if cluster.is_empty() {
            "one Redis"
        } else {
            "a Redis Cluster"
        },
        plan.clients.len(),
        plan.faults.len()
    );
    verdict::report(&world, &summary)
}

/// The operator creates each planned concert at its time, trying again
/// while no server can.
async fn operate(world: Arc<World>, concerts: Vec<ConcertPlan>) {
    for (index, concert) in concerts.into_iter().enumerate() {
        if !world.sleep_until(concert.created_at).await {
            return;
        }
        let mut body = concert_body(concert.dates, concert.seats, price);
        if !concert.opens_after.is_zero() {
            let opens_at =
                chrono::Utc::now() + chrono::Duration::from_std(concert.opens_after).unwrap();
            body["opens_at"] = json!(opens_at);
        }
        for attempt in 0.. {
            let op = Op {
                method: Method::POST,
                name: "create-concert",
                detail: format!("#{index} opens in {:?}", concert.opens_after),
            };
            let sent = body.clone();
            let answer = world
                .call("operator", attempt, op, |s| async move {
                    s.try_create_concert(sent).await
                })
                .await;
            if answer.is(201) {
                let created = TestConcert::from_created(&answer.body);
                if let Some(tempo) = concert.tempo {
                    set_tempo(&world, created.id, tempo).await;
                }
                let secs = |s: u32| Duration::from_secs(u64::from(s));
                world.set_concert(LiveConcert {
                    index,
                    id: created.id,
                    schedules: created.schedules,
                    seats: concert.seats,
                    max_active: concert.tempo.map_or(TIMING.max_active, |t| t.max_active),
                    active_ttl: concert
                        .tempo
                        .map_or(TIMING.active_ttl, |t| secs(t.active_ttl_seconds)),
                    hold_ttl: concert
                        .tempo
                        .map_or(TIMING.hold_ttl, |t| secs(t.hold_ttl_seconds)),
                });
                break;
            }
            if !world.sleep(Duration::from_millis(300)).await {
                return;
            }
        }
    }
}

/// Gives a concert its own settings, trying again while no server can.
async fn set_tempo(world: &World, concert: uuid::Uuid, tempo: Tempo) {
    let settings = json!({
        "max_active": tempo.max_active,
        "active_ttl_seconds": tempo.active_ttl_seconds,
        "hold_ttl_seconds": tempo.hold_ttl_seconds,
    });
    for attempt in 0.. {
        let op = Op {
            method: Method::PUT,
            name: "set-queue",
            detail: settings.to_string(),
        };
        let sent = settings.clone();
        let answer = world
            .call("operator", attempt, op, |s| async move {
                s.try_set_queue(concert, sent).await
            })
            .await;
        if answer.is(200) || !world.sleep(Duration::from_millis(300)).await {
            return;
        }
    }
}
