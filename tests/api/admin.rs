//! The operator's admin API: live stats of every concert, pausing and resuming,
//! changing the hold TTL at run time, closing a sale, evicting one person.

use crate::support::*;
use lineup::config::NamedToken;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    app.request(method, path, Some(ADMIN_TOKEN), body).await
}

#[sqlx::test]
async fn concerts_are_listed_with_their_live_line_and_seats(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 10).await;
    let (_, buyer) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&buyer, concert.schedules[0], &[1, 2]).await;
    assert_eq!(
        app.pay(&buyer, uuid(&held["reservation_id"]), 100_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    let (_, holder) = app.admitted_user(concert.id, 0).await;
    app.hold_ok(&holder, concert.schedules[0], &[3]).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let waiter = app.sign_up().await;
    app.join_token(&waiter, concert.id).await;

    let listed: Value = admin(&app, Method::GET, "/admin/v1/concerts", None)
        .await
        .json()
        .await
        .unwrap();
    let entry = listed["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["concert_id"] == json!(concert.id))
        .expect("the concert is listed")
        .clone();
    assert_eq!(entry["settings"]["paused"], true);
    assert_eq!(
        (entry["waiting"].as_u64(), entry["active"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(entry["closed_at"], Value::Null);
    let first = &entry["schedules"][0];
    assert_eq!(first["schedule_id"], json!(concert.schedules[0]));
    assert_eq!(
        (
            first["total_seats"].as_u64(),
            first["sold_seats"].as_u64(),
            first["held_seats"].as_u64(),
            first["available_seats"].as_u64()
        ),
        (Some(10), Some(2), Some(1), Some(7))
    );
    assert_eq!(entry["schedules"][1]["available_seats"], 10);
}

#[sqlx::test]
async fn pausing_stops_admission_and_resuming_starts_it_again(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let paused: Value = admin(
        &app,
        Method::POST,
        &format!("/admin/v1/concerts/{}/queue/pause", concert.id),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(paused["paused"], true);
    let user = app.sign_up().await;
    let token = app.join_token(&user, concert.id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.status(&token).await["status"], "waiting");
    let resumed = admin(
        &app,
        Method::POST,
        &format!("/admin/v1/concerts/{}/queue/resume", concert.id),
        None,
    )
    .await;
    assert_eq!(resumed.json::<Value>().await.unwrap()["paused"], false);
    app.wait_for_status(&token, "active").await;
}

#[sqlx::test]
async fn the_hold_ttl_changes_at_run_time(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (_, token) = app.admitted_user(concert.id, 0).await;
    app.set_queue(concert.id, json!({"hold_ttl_seconds": 2}))
        .await;
    let held = app.hold_ok(&token, concert.schedules[0], &[5]).await;
    let until = chrono::DateTime::parse_from_rfc3339(held["held_until"].as_str().unwrap()).unwrap();
    let left = until
        .signed_duration_since(chrono::Utc::now())
        .num_milliseconds();
    assert!((0..=2_000).contains(&left), "held for {left} ms");
    let stored: i32 =
        sqlx::query_scalar("SELECT hold_ttl_seconds FROM concerts WHERE concert_id = $1")
            .bind(concert.id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, 2);
    let path = format!(
        "/api/v1/reservations/{}",
        held["reservation_id"].as_str().unwrap()
    );
    eventually(Duration::from_secs(10), "the 2 s hold ends", || async {
        (app.get(&path, Some(&token)).await.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
}

#[sqlx::test]
async fn closing_a_sale_dismisses_the_line_and_stops_joins_and_holds(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (_, holder) = app.admitted_user(concert.id, 100_000).await;
    let (_, browser) = app.admitted_user(concert.id, 0).await;
    let held = app.hold_ok(&holder, concert.schedules[0], &[1]).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let waiters = [app.sign_up().await, app.sign_up().await];
    let mut waiting = Vec::new();
    for user in &waiters {
        waiting.push(app.join_token(user, concert.id).await);
    }

    let path = format!("/admin/v1/concerts/{}/close", concert.id);
    let closed: Value = admin(&app, Method::POST, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["dismissed"], 2);
    let closed_at = closed["closed_at"].clone();
    for token in &waiting {
        assert_eq!(app.status(token).await["status"], "expired");
    }
    let newcomer = app.sign_up().await;
    assert_error(
        app.join(&newcomer, concert.id).await,
        StatusCode::CONFLICT,
        "sale_closed",
    )
    .await;
    assert_error(
        app.join(&waiters[0], concert.id).await,
        StatusCode::CONFLICT,
        "sale_closed",
    )
    .await;
    assert_error(
        app.hold(&browser, concert.schedules[0], &[2]).await,
        StatusCode::CONFLICT,
        "sale_closed",
    )
    .await;
    // What was already held may still be paid.
    assert_eq!(
        app.pay(&holder, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    // Closing again changes nothing.
    let again: Value = admin(&app, Method::POST, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["closed_at"], closed_at);
    // Another server (same Redis and database) refuses joins too.
    let other = app.spawn_another().await;
    assert_error(
        other.join(&newcomer, concert.id).await,
        StatusCode::CONFLICT,
        "sale_closed",
    )
    .await;
}

async fn evict(app: &TestApp, concert: uuid::Uuid, user: uuid::Uuid) -> reqwest::Response {
    admin(
        app,
        Method::DELETE,
        &format!("/admin/v1/concerts/{concert}/queue/users/{user}"),
        None,
    )
    .await
}

#[sqlx::test]
async fn evicting_a_person_ends_their_place_and_frees_their_seats(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (holder, holder_token) = app.admitted_user(concert.id, 0).await;
    let held = app
        .hold_ok(&holder_token, concert.schedules[0], &[4, 5])
        .await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let waiter = app.sign_up().await;
    let waiter_token = app.join_token(&waiter, concert.id).await;

    // One still waiting: out of the line.
    let evicted: Value = evict(&app, concert.id, waiter.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(evicted["was"], "waiting");
    assert_eq!(evicted["released_reservation_id"], Value::Null);
    assert_eq!(app.status(&waiter_token).await["status"], "expired");
    assert_error(
        evict(&app, concert.id, waiter.id).await,
        StatusCode::NOT_FOUND,
        "not_in_line",
    )
    .await;

    // One admitted and holding seats: admission over, seats back.
    let evicted: Value = evict(&app, concert.id, holder.id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(evicted["was"], "active");
    assert_eq!(evicted["released_reservation_id"], held["reservation_id"]);
    assert_eq!(app.status(&holder_token).await["status"], "expired");
    app.set_queue(concert.id, json!({"paused": false})).await;
    let (_, next) = app.admitted_user(concert.id, 0).await;
    let available = app
        .seats_in_state(&next, concert.schedules[0], "available")
        .await;
    assert!(
        available.contains(&4) && available.contains(&5),
        "{available:?}"
    );
}

#[sqlx::test]
async fn named_operators_use_their_own_tokens(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.admin.named = vec![NamedToken {
                name: "alice".into(),
                token: "alice-admin-token-0123456789".into(),
            }];
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 5).await;
    let path = format!("/admin/v1/concerts/{}/queue", concert.id);
    for token in [ADMIN_TOKEN, "alice-admin-token-0123456789"] {
        assert_eq!(app.get(&path, Some(token)).await.status(), StatusCode::OK);
    }
    assert_error(
        app.get(&path, Some("alice-admin-token-012345678")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_admin_token",
    )
    .await;
}
