//! Operators act while PostgreSQL is down: the runbook of docs/OPERATIONS.md
//! ("PostgreSQL is unreachable") with PostgreSQL cut. Settings and closing
//! take effect in Redis at once, answer `durable: false`, and reach
//! PostgreSQL when it is back.

use crate::support::*;
use lineup::catalog::Catalog;
use lineup::domain::ConcertId;
use lineup::queue::QueueSettings;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

/// An operator's call; asserts 200 and returns the answer.
async fn operate(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let response = app.request(method, path, Some(ADMIN_TOKEN), body).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// The settings PostgreSQL stores for a concert, and its closing.
async fn stored(db: &PgPool, concert: uuid::Uuid) -> (bool, i32, i32, bool) {
    sqlx::query_as(
        "SELECT paused, admit_per_second, hold_ttl_seconds, closed_at IS NOT NULL
         FROM concerts WHERE concert_id = $1",
    )
    .bind(concert)
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test]
async fn the_runbook_works_with_postgres_cut(db: PgPool) {
    let app = TestApp::builder(db.clone())
        .with_database_proxy()
        .with_config(|config| config.database.timeout = Duration::from_millis(500))
        .spawn()
        .await;
    let concert = app.create_concert(1, 50).await.id;
    let closing = app.create_concert(1, 50).await.id;
    let queue = format!("/admin/v1/concerts/{concert}/queue");
    // Signing up needs PostgreSQL: these people signed up before the outage.
    let mut people = Vec::new();
    for _ in 0..3 {
        people.push(app.sign_up().await);
    }
    let latecomer = app.sign_up().await;

    app.database_proxy().cut();

    // Pause: in force at once, not yet durable.
    let paused = operate(&app, Method::POST, &format!("{queue}/pause"), None).await;
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["durable"], false);
    let mut tokens = Vec::new();
    for person in &people {
        tokens.push(app.join_token(person, concert).await);
    }
    // Ticks run after the joins and admit nobody.
    app.admit_ticks(concert, 3).await;
    for token in &tokens {
        assert_eq!(app.status(token).await["status"], "waiting");
    }
    let line = operate(&app, Method::GET, &queue, None).await;
    assert_eq!(
        (line["waiting"].clone(), line["active"].clone()),
        (json!(3), json!(0))
    );
    assert_eq!(
        (line["paused"].clone(), line["durable"].clone()),
        (json!(true), json!(false))
    );

    // Lengthen the holds, change the rate, resume: all in force.
    let changed = operate(
        &app,
        Method::PUT,
        &queue,
        Some(json!({ "hold_ttl_seconds": 1800, "admit_per_second": 7 })),
    )
    .await;
    assert_eq!(changed["admit_per_second"], 7);
    assert_eq!(changed["durable"], false);
    let resumed = operate(&app, Method::POST, &format!("{queue}/resume"), None).await;
    assert_eq!(resumed["paused"], false);
    assert_eq!(resumed["admit_per_second"], 7);
    assert_eq!(resumed["hold_ttl_seconds"], 1800);
    assert_eq!(resumed["durable"], false);
    for token in &tokens {
        app.wait_for_status(token, "active").await;
    }

    // Close another sale: in force at once (no more joins), not yet durable.
    let closed = operate(
        &app,
        Method::POST,
        &format!("/admin/v1/concerts/{closing}/close"),
        None,
    )
    .await;
    assert_eq!(closed["durable"], false);
    assert_error(
        app.join(&latecomer, closing).await,
        StatusCode::CONFLICT,
        "sale_closed",
    )
    .await;
    // PostgreSQL has none of it yet.
    assert_eq!(
        stored(&db, concert).await,
        (
            false,
            app.config.queue_defaults.admit_per_second as i32,
            app.config.queue_defaults.hold_ttl_seconds as i32,
            false
        )
    );
    assert!(!stored(&db, closing).await.3);

    // PostgreSQL is back: the server's sync brings it up to date.
    app.database_proxy().restore();
    eventually(
        Duration::from_secs(20),
        "PostgreSQL stores the settings",
        || async {
            (stored(&db, concert).await == (false, 7, 1800, false) && stored(&db, closing).await.3)
                .then_some(())
        },
    )
    .await;
    // The sync clears Redis's pending marker only after PostgreSQL has
    // committed, so the line reads durable a moment after the rows do.
    eventually(
        Duration::from_secs(20),
        "the line reads durable",
        || async {
            let line = operate(&app, Method::GET, &queue, None).await;
            (line["durable"] == true).then_some(())
        },
    )
    .await;
    let closed_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT closed_at FROM concerts WHERE concert_id = $1")
            .bind(closing)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(json!(closed_at), closed["closed_at"]);
    // And a change with PostgreSQL up is durable at once.
    let paused = operate(&app, Method::POST, &format!("{queue}/pause"), None).await;
    assert_eq!(paused["durable"], true);
    assert!(stored(&db, concert).await.0);
}

/// Several servers sync the same change, late or twice: only a newer version
/// replaces PostgreSQL's settings, so an older one never comes back.
#[sqlx::test]
async fn an_older_settings_version_never_replaces_a_newer_one(db: PgPool) {
    let app = spawn_app(db.clone()).await;
    let concert = ConcertId::from_uuid(app.create_concert(1, 5).await.id);
    let catalog = Catalog::load(db.clone(), app.config.retire_after)
        .await
        .unwrap();
    let with_rate = |rate| QueueSettings {
        admit_per_second: rate,
        ..app.config.queue_defaults
    };
    assert!(
        catalog
            .save_settings(concert, with_rate(20), None, 200)
            .await
            .unwrap()
    );
    // A late write of an older change, and the same change again.
    assert!(
        catalog
            .save_settings(concert, with_rate(10), None, 100)
            .await
            .unwrap()
    );
    assert!(
        catalog
            .save_settings(concert, with_rate(20), None, 200)
            .await
            .unwrap()
    );
    assert_eq!(stored(&db, concert.as_uuid()).await.1, 20);
    assert!(
        catalog
            .save_settings(concert, with_rate(30), None, 300)
            .await
            .unwrap()
    );
    assert_eq!(stored(&db, concert.as_uuid()).await.1, 30);
    // An unknown concert is not stored.
    assert!(
        !catalog
            .save_settings(ConcertId::new(), with_rate(30), None, 400)
            .await
            .unwrap()
    );
}

/// Two operators change different settings of one line at the same moment
/// through two servers, one of them slow to hear from Redis: both changes
/// stay in force, and PostgreSQL ends with both. (A server used to write back
/// every setting as it had read them, so the slower change put the other's
/// setting back: here an emergency pause silently undone.)
#[sqlx::test]
async fn changes_to_different_settings_at_once_both_stay(db: PgPool) {
    use futures::StreamExt;
    let slow = TestApp::builder(db.clone())
        .with_redis_proxy()
        .with_config(|c| c.redis.timeout = Duration::from_secs(10))
        .spawn()
        .await;
    let concert = slow.create_concert(1, 5).await;
    let mut config = slow.config.clone();
    config.redis.url = redis_url();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let fast = TestApp::builder(db.clone())
        .with_config(|c| *c = config)
        .spawn()
        .await;
    let cfg = slow
        .redis
        .keys
        .concert(ConcertId::from_uuid(concert.id))
        .cfg();
    let monitor = redis::Client::open(redis_url())
        .unwrap()
        .get_async_monitor()
        .await
        .unwrap();
    let mut commands = monitor.into_on_message::<String>();

    slow.redis_proxy().delay_replies(Duration::from_secs(2));
    let slow_change = slow.try_set_queue(concert.id, json!({ "admit_per_second": 7 }));
    let fast_pause = async {
        // The slow server has read the settings; their reply is on its way.
        while let Some(command) = commands.next().await {
            if command.contains("\"HGETALL\"") && command.contains(&cfg) {
                break;
            }
        }
        fast.try_set_queue(concert.id, json!({ "paused": true }))
            .await
    };
    let (changed, paused) = tokio::join!(slow_change, fast_pause);
    for answer in [changed, paused] {
        let answer = answer.unwrap();
        let status = answer.status();
        assert_eq!(status, StatusCode::OK, "{}", answer.text().await.unwrap());
    }
    slow.redis_proxy().restore();

    let live = fast.queue_settings(concert.id).await;
    assert_eq!(
        (live["admit_per_second"].as_u64(), live["paused"].as_bool()),
        (Some(7), Some(true)),
        "{live}"
    );
    eventually(Duration::from_secs(10), "PostgreSQL has both", || async {
        let (paused, rate, _, _) = stored(&db, concert.id).await;
        (paused && rate == 7).then_some(())
    })
    .await;
}

/// Two servers, PostgreSQL cut for both: an operator changes the rate on one,
/// then the rate again and the holds on the other, then pauses on the first.
/// When PostgreSQL is back, whichever server's sync gets there first,
/// PostgreSQL ends with the newest settings of all, and both say durable.
#[sqlx::test]
async fn two_servers_changing_settings_during_an_outage_leave_postgres_with_the_newest(db: PgPool) {
    let first = TestApp::builder(db.clone())
        .with_database_proxy()
        .with_config(|config| config.database.timeout = Duration::from_millis(500))
        .spawn()
        .await;
    let concert = first.create_concert(1, 5).await.id;
    let mut config = first.config.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let second = TestApp::builder(db.clone())
        .with_database_proxy()
        .with_config(|c| *c = config)
        .spawn()
        .await;
    let queue = format!("/admin/v1/concerts/{concert}/queue");
    first.database_proxy().cut();
    second.database_proxy().cut();

    for (app, body) in [
        (&first, json!({ "admit_per_second": 11 })),
        (
            &second,
            json!({ "admit_per_second": 22, "hold_ttl_seconds": 77 }),
        ),
        (&first, json!({ "paused": true })),
    ] {
        let answer = operate(app, Method::PUT, &queue, Some(body)).await;
        assert_eq!(answer["durable"], false, "{answer}");
    }
    second.database_proxy().restore();
    first.database_proxy().restore();
    eventually(
        Duration::from_secs(15),
        "PostgreSQL has the newest",
        || async {
            let stored = stored(&db, concert).await;
            (stored == (true, 22, 77, false)).then_some(())
        },
    )
    .await;
    for app in [&first, &second] {
        eventually(Duration::from_secs(15), "durable", || async {
            let line = operate(app, Method::GET, &queue, None).await;
            (line["durable"] == true).then_some(line)
        })
        .await;
    }
}
