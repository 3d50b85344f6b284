//! The nemesis (Jepsen's name for it): strikes each planned fault at its
//! time and heals it when it has lasted its time, one at a time, writing both
//! to the history. Owns the run's own redis-server while the run lasts (to
//! restart it empty) and hands it back at the end.

use crate::plan::{FaultKind, FaultPlan};
use crate::support::OwnRedis;
use crate::world::World;
use std::sync::Arc;

fn describe(kind: FaultKind) -> String {
    match kind {
        FaultKind::DropNextReplies { server, n } => {
            format!("lose the next {n} Redis replies to s{server}")
        }
        FaultKind::DropReplies {
            server, per_mille, ..
        } => format!("lose Redis replies to s{server} at {per_mille}/1000"),
        FaultKind::DelayReplies { server, delay } => {
            format!("delay Redis replies to s{server} by {delay:?}")
        }
        FaultKind::RestartRedisEmpty => "restart Redis empty".into(),
        FaultKind::CutPostgres => "cut PostgreSQL".into(),
        FaultKind::KillServer { server } => format!("SIGKILL s{server}"),
    }
}

/// Plays the faults; returns the redis-server once every fault has healed.
pub async fn run(
    world: Arc<World>,
    faults: Vec<FaultPlan>,
    mut redis: Option<OwnRedis>,
) -> Option<OwnRedis> {
    for fault in faults {
        if !world.sleep_until(fault.at).await {
            break;
        }
        let what = describe(fault.kind);
        let cuts_redis = fault.kind != FaultKind::CutPostgres;
        world.fault_began(what.clone(), cuts_redis);
        strike(&world, fault.kind, redis.as_mut()).await;
        // A fault lasts its time even past the run's end: the run waits.
        tokio::time::sleep(fault.lasts).await;
        heal(&world, fault.kind).await;
        world.fault_healed(what, cuts_redis);
    }
    redis
}

async fn strike(world: &World, kind: FaultKind, redis: Option<&mut OwnRedis>) {
    let fleet = &world.fleet;
    let proxy = |server: usize| {
        fleet
            .redis_proxy(server)
            .expect("Redis faults need proxies")
    };
    match kind {
        FaultKind::DropNextReplies { server, n } => proxy(server).drop_next_replies(n),
        FaultKind::DropReplies {
            server,
            per_mille,
            draws,
        } => proxy(server).drop_replies(f64::from(per_mille) / 1000.0, draws),
        FaultKind::DelayReplies { server, delay } => proxy(server).delay_replies(delay),
        FaultKind::RestartRedisEmpty => {
            redis
                .expect("Redis faults need a redis-server of the run's own")
                .restart_empty()
                .await;
            world.redis_restarted();
        }
        FaultKind::CutPostgres => fleet.database_proxy().cut(),
        FaultKind::KillServer { server } => fleet.kill(server),
    }
}

async fn heal(world: &World, kind: FaultKind) {
    let fleet = &world.fleet;
    match kind {
        FaultKind::DropNextReplies { server, .. }
        | FaultKind::DropReplies { server, .. }
        | FaultKind::DelayReplies { server, .. } => {
            let proxy = fleet.redis_proxy(server).unwrap();
            proxy.restore();
            world.note(
                crate::history::NEMESIS,
                format!(
                    "s{server}'s proxy has lost {} Redis replies so far",
                    proxy.replies_lost()
                ),
            );
        }
        FaultKind::RestartRedisEmpty => {}
        FaultKind::CutPostgres => fleet.database_proxy().restore(),
        FaultKind::KillServer { server } => restart(world, server).await,
    }
}

/// Starts a killed server again, as an orchestrator would, until it comes
/// up: a boot may fail while PostgreSQL is slow to hand out a connection.
async fn restart(world: &World, server: usize) {
    for attempt in 1..=20 {
        match world.fleet.start_server(server).await {
            Ok(()) => return,
            Err(log) => world.note(
                crate::history::NEMESIS,
                format!(
                    "s{server} did not start (attempt {attempt}): {}",
                    log.join(" | ")
                ),
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("s{server} did not start in 20 attempts; see the history");
}
