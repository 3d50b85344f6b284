//! Fairness (issue 7): idle waiters do not block the line, admission knows the
//! seats, estimates come from the measured rate, polling stays in a budget, and
//! the pre-queue's draw can be checked by anyone.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// Joins `n` new people one after another; returns them with their queue tokens.
async fn line_up(app: &TestApp, concert: uuid::Uuid, n: usize) -> Vec<(TestUser, String)> {
    let mut people = Vec::new();
    for _ in 0..n {
        let user = app.sign_up().await;
        let token = app.join_token(&user, concert).await;
        people.push((user, token));
    }
    people
}

/// Polls every token once a second (never slower than its `poll_after_ms` asks)
/// for `how_long`, asserting each waiting ticket asks for polls at most a third
/// of the idle timeout apart.
async fn keep_polling(app: &TestApp, tokens: &[&str], how_long: Duration, idle_timeout_ms: u64) {
    let started = Instant::now();
    while started.elapsed() < how_long {
        for token in tokens {
            let ticket = app.status(token).await;
            if ticket["status"] == "waiting" {
                let poll = ticket["poll_after_ms"].as_u64().unwrap();
                assert!(
                    poll <= idle_timeout_ms / 3,
                    "poll_after_ms {poll} exceeds a third of the idle timeout"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[sqlx::test]
async fn an_idle_waiter_is_dropped_and_takes_no_admission_slot(db: PgPool) {
    let app = spawn_app_with(db, |c| c.queue_defaults.idle_timeout_seconds = 3).await;
    let concert = app.create_concert(1, 10).await;
    // Two admission slots in all, and three people in line: the first one leaves
    // their tab open but never polls.
    app.set_queue(concert.id, json!({"paused": true, "max_active": 2}))
        .await;
    let people = line_up(&app, concert.id, 3).await;
    let (idle, present) = (&people[0].1, [people[1].1.as_str(), people[2].1.as_str()]);

    keep_polling(&app, &present, Duration::from_millis(4_000), 3_000).await;
    let dropped = app.status(idle).await;
    assert_eq!(dropped["status"], "expired", "{dropped}");
    assert_eq!(dropped["position"], 0);
    for (i, token) in present.iter().enumerate() {
        let ticket = app.status(token).await;
        assert_eq!(ticket["status"], "waiting");
        assert_eq!(ticket["position"], i as u64 + 1, "{ticket}");
    }

    app.set_queue(concert.id, json!({"paused": false})).await;
    for token in present {
        app.wait_for_status(token, "active").await;
    }
    assert_eq!(app.status(idle).await["status"], "expired");
    // Joining again is a new place at the back, with a new token.
    let rejoined = app.join(&people[0].0, concert.id).await;
    assert_eq!(rejoined.status(), StatusCode::CREATED);
    let rejoined: Value = rejoined.json().await.unwrap();
    assert_ne!(rejoined["token"].as_str(), Some(idle.as_str()));
}

#[sqlx::test]
async fn a_waiter_who_polls_stays_in_line_however_long_the_wait(db: PgPool) {
    let app = spawn_app_with(db, |c| c.queue_defaults.idle_timeout_seconds = 3).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let people = line_up(&app, concert.id, 2).await;
    let tokens = [people[0].1.as_str(), people[1].1.as_str()];
    // Twice the idle timeout, polling as asked.
    keep_polling(&app, &tokens, Duration::from_millis(6_000), 3_000).await;
    for (i, token) in tokens.iter().enumerate() {
        let ticket = app.status(token).await;
        assert_eq!(ticket["status"], "waiting");
        assert_eq!(ticket["position"], i as u64 + 1);
    }
}

#[sqlx::test]
async fn the_fairness_settings_have_defaults_and_ranges(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let path = format!("/admin/v1/concerts/{}/queue", concert.id);
    let settings: Value = app
        .get(&path, Some(ADMIN_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["idle_timeout_seconds"], 120);
    // The test harness admits up to 100 x the free seats (config.rs's unit tests
    // check the default of 2).
    assert_eq!(settings["admit_seat_factor"], 100.0);
    assert_eq!(settings["poll_budget_per_second"], 20_000);

    for bad in [
        json!({"idle_timeout_seconds": 2}),
        json!({"idle_timeout_seconds": 86_401}),
        json!({"admit_seat_factor": 0}),
        json!({"admit_seat_factor": -1.5}),
        json!({"admit_seat_factor": 101}),
        json!({"poll_budget_per_second": 0}),
    ] {
        let response = app
            .request(Method::PUT, &path, Some(ADMIN_TOKEN), Some(bad.clone()))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_settings").await;
    }
    app.set_queue(
        concert.id,
        json!({"idle_timeout_seconds": 30, "admit_seat_factor": 1.5, "poll_budget_per_second": 500}),
    )
    .await;
    let settings: Value = app
        .get(&path, Some(ADMIN_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["idle_timeout_seconds"], 30);
    assert_eq!(settings["admit_seat_factor"], 1.5);
    assert_eq!(settings["poll_budget_per_second"], 500);
    // A waiting ticket then asks for polls at most 10 s apart.
    app.set_queue(concert.id, json!({"paused": true})).await;
    let user = app.sign_up().await;
    let token = app.join_token(&user, concert.id).await;
    assert!(app.status(&token).await["poll_after_ms"].as_u64().unwrap() <= 10_000);
}

/// Reads every token's ticket; returns (status, position) pairs.
async fn standings(app: &TestApp, tokens: &[String]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for token in tokens {
        let ticket = app.status(token).await;
        out.push((
            ticket["status"].as_str().unwrap().to_owned(),
            ticket["position"].as_u64().unwrap(),
        ));
    }
    out
}

#[sqlx::test]
async fn a_line_reads_sold_out_while_every_seat_is_held_and_waits_again_in_order_when_holds_end(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 2).await;
    app.set_queue(
        concert.id,
        json!({"hold_ttl_seconds": 2, "admit_seat_factor": 2.0}),
    )
    .await;
    let (_, holder) = app.admitted_user(concert.id, 0).await;
    app.hold_ok(&holder, concert.schedules[0], &[1, 2]).await;

    // Every seat is held: those who join now read sold_out at once (within an
    // admit tick), keep their places, and nobody is admitted.
    let people = line_up(&app, concert.id, 3).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    let sold_out = eventually(
        Duration::from_secs(5),
        "the line reads sold_out",
        || async {
            let now = standings(&app, &tokens).await;
            now.iter().all(|(s, _)| s == "sold_out").then_some(now)
        },
    )
    .await;
    assert_eq!(
        sold_out.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let ticket = app.status(&tokens[0]).await;
    assert_eq!(ticket["estimated_wait_seconds"], 0, "{ticket}");
    assert!(ticket["poll_after_ms"].as_u64().unwrap() >= 1_000);
    let late = app.sign_up().await;
    let joined: Value = app.join(&late, concert.id).await.json().await.unwrap();
    assert_eq!(joined["status"], "sold_out", "{joined}");
    assert_eq!(joined["position"], 4);

    // Pause, so the order can be read before anyone is admitted again; the
    // holds end and the seats come back.
    app.set_queue(concert.id, json!({"paused": true})).await;
    let back = eventually(Duration::from_secs(6), "the line waits again", || async {
        let now = standings(&app, &tokens).await;
        now.iter().all(|(s, _)| s == "waiting").then_some(now)
    })
    .await;
    assert_eq!(
        back.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        [1, 2, 3],
        "the old order"
    );
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&tokens[0], "active").await;
}

#[sqlx::test]
async fn a_sale_admits_no_more_shoppers_than_free_seats_times_the_factor(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 3).await;
    // Three free seats x 1.0: three shoppers at most, whatever the rate.
    app.set_queue(
        concert.id,
        json!({"admit_seat_factor": 1.0, "paused": true}),
    )
    .await;
    let people = line_up(&app, concert.id, 6).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    app.set_queue(concert.id, json!({"paused": false})).await;
    for token in &tokens[..3] {
        app.wait_for_status(token, "active").await;
    }
    // Many ticks later, still three.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = standings(&app, &tokens).await;
    assert_eq!(
        now,
        [
            ("active".into(), 0),
            ("active".into(), 0),
            ("active".into(), 0),
            ("waiting".into(), 1),
            ("waiting".into(), 2),
            ("waiting".into(), 3),
        ]
    );

    // One shopper holds a seat: two seats free, two shoppers allowed, and there
    // are two (the holder no longer shops): nobody more.
    app.hold_ok(&tokens[0], concert.schedules[0], &[1]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.status(&tokens[3]).await["status"], "waiting");
    // One shopper leaves: room for the next in line.
    assert_eq!(
        app.delete("/api/v1/queue", Some(&tokens[1])).await.status(),
        StatusCode::NO_CONTENT
    );
    app.wait_for_status(&tokens[3], "active").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.status(&tokens[4]).await["status"], "waiting");
}
