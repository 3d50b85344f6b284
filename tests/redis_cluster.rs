//! lineup on a Redis Cluster of three primaries (a cluster of the test's own):
//! every key of a concert sits in one slot, so each concert's line, holds and
//! sales live on one primary and different concerts on different primaries;
//! the whole flow runs there without a cross-slot error; a primary that lost
//! its scripts gets them again. (`make test` also runs the full-flow tests
//! against `scripts/redis-cluster.sh` through `LINEUP_TEST_REDIS_CLUSTER`.)

mod support;

use sqlx::PgPool;
use std::collections::BTreeMap;
use support::*;
use uuid::Uuid;

/// The keys under `pattern` on one node alone.
async fn keys_on(cluster: &OwnCluster, port: u16, pattern: &str) -> Vec<String> {
    let mut conn = cluster.node(port).await.unwrap();
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[sqlx::test]
async fn different_concerts_land_on_different_primaries_and_each_sells_there(db: PgPool) {
    let cluster = OwnCluster::start().await;
    let builder = Server::builder(&db)
        .redis_cluster(&cluster.nodes())
        .args(&["--admit-interval", "10ms"]);
    let prefix = builder.prefix().to_owned();
    let server = builder.start().await;

    // Concerts until one sits on each primary (a concert's slot is the hash of
    // its id: new ids spread; forty that all miss one primary would be a bug).
    let mut by_primary: BTreeMap<u16, (Uuid, Uuid)> = BTreeMap::new();
    for _ in 0..40 {
        let TestConcert {
            id: concert,
            schedules,
        } = server.create_concert(1, 5).await;
        let owner = cluster
            .owner_of(&format!("{prefix}:{{c:{concert}}}:wait"))
            .await;
        by_primary.entry(owner).or_insert((concert, schedules[0]));
        if by_primary.len() == cluster.ports.len() {
            break;
        }
    }
    assert_eq!(
        by_primary.keys().copied().collect::<Vec<_>>(),
        {
            let mut ports = cluster.ports.clone();
            ports.sort();
            ports
        },
        "concerts on every primary"
    );

    for (owner, (concert, schedule)) in &by_primary {
        let paid = server.buy(*concert, *schedule, &[1]).await;
        assert_eq!(paid["seat_nos"], serde_json::json!([1]));
        // Everything of this concert is on its primary and nowhere else.
        let pattern = format!("{prefix}:{{c:{concert}}}:*");
        for port in &cluster.ports {
            let keys = keys_on(&cluster, *port, &pattern).await;
            if port == owner {
                // What the join, the admit loop and the payment left behind.
                for what in [
                    "seq".to_owned(),
                    "bucket".to_owned(),
                    format!("sold:{schedule}"),
                    format!("sold-loaded:{schedule}"),
                ] {
                    let key = format!("{prefix}:{{c:{concert}}}:{what}");
                    assert!(keys.contains(&key), "{key} on its primary {port}: {keys:?}");
                }
            } else {
                assert!(keys.is_empty(), "{pattern} on primary {port}: {keys:?}");
            }
        }
    }
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(tickets, cluster.ports.len() as i64);
    assert_money_invariants(&db).await;
}

#[sqlx::test]
async fn a_primary_that_lost_its_scripts_is_given_them_again(db: PgPool) {
    let cluster = OwnCluster::start().await;
    let builder = Server::builder(&db)
        .redis_cluster(&cluster.nodes())
        .args(&["--admit-interval", "10ms"]);
    let prefix = builder.prefix().to_owned();
    let server = builder.start().await;
    let TestConcert {
        id: concert,
        schedules,
    } = server.create_concert(1, 5).await;
    let owner = cluster
        .owner_of(&format!("{prefix}:{{c:{concert}}}:wait"))
        .await;
    // lineup loaded every script on every primary at start.
    let mut conn = cluster.node(owner).await.unwrap();
    let sha = {
        let scripts = lineup::store::Scripts::new();
        scripts.join.get_hash().to_owned()
    };
    let loaded: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(loaded, [true]);

    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    // EVALSHA answers NOSCRIPT on that primary; the script is loaded and run.
    server.buy(concert, schedules[0], &[1]).await;
    let loaded: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(loaded, [true]);
    assert_money_invariants(&db).await;
}
