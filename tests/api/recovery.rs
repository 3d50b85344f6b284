//! Redis losing what it knows of sold seats, with and without a restart; a sale
//! Redis never heard of, caught by PostgreSQL's unique ticket; a payment
//! PostgreSQL could not decide; scripts Redis forgot.

use crate::support::*;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// `<prefix>:{c:<concert>}:<what>:<schedule>`, as src/store/keys.rs names them.
fn concert_key(app: &TestApp, concert: Uuid, what: &str, schedule: Uuid) -> String {
    format!(
        "{}:{{c:{concert}}}:{what}:{schedule}",
        app.config.redis.prefix
    )
}

/// Deletes the sold set of each schedule and, with `markers`, its sold-loaded
/// marker too; asserts the sets existed (so the test deletes what it means to).
async fn lose_sold_seats(app: &TestApp, concert: Uuid, schedules: &[Uuid], markers: bool) {
    let mut conn = app.redis_conn();
    for schedule in schedules {
        let sold = concert_key(app, concert, "sold", *schedule);
        let loaded = concert_key(app, concert, "sold-loaded", *schedule);
        let (had_set, had_marker): (bool, bool) = (
            conn.exists(&sold).await.unwrap(),
            conn.exists(&loaded).await.unwrap(),
        );
        assert!(had_set && had_marker, "{sold} and {loaded} exist before");
        let _: () = conn.del(&sold).await.unwrap();
        if markers {
            let _: () = conn.del(&loaded).await.unwrap();
        }
    }
}

async fn ticket_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn sold_seats_stay_sold_when_redis_loses_them_and_the_server_restarts(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 6).await;
    let (first, second) = (concert.schedules[0], concert.schedules[1]);
    app.buy(concert.id, first, &[1, 2]).await;
    app.buy(concert.id, second, &[6]).await;

    lose_sold_seats(&app, concert.id, &concert.schedules, true).await;
    let app = app.restart().await;

    assert_eq!(
        app.available_by_schedule(concert.id).await,
        [(first, 4), (second, 5)]
    );
    let (_, token) = app.admitted_user(concert.id, 1_000_000).await;
    let body = assert_error(
        app.hold(&token, first, &[2, 3]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([2]));
    assert_eq!(app.seats_in_state(&token, first, "sold").await, [1, 2]);
    assert_eq!(app.seats_in_state(&token, second, "sold").await, [6]);
    // Nothing else is refused: the free seats sell.
    let held = app.hold_ok(&token, second, &[5]).await;
    assert_eq!(
        app.pay(&token, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(ticket_count(&app).await, 4);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_restart_reloads_a_sold_set_lost_under_its_marker(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 6).await;
    let schedule = concert.schedules[0];
    app.buy(concert.id, schedule, &[3, 4]).await;
    // Only the set is gone; the marker still says it is loaded.
    lose_sold_seats(&app, concert.id, &[schedule], false).await;
    let app = app.restart().await;

    let (_, token) = app.admitted_user(concert.id, 0).await;
    assert_eq!(app.seats_in_state(&token, schedule, "sold").await, [3, 4]);
    let body = assert_error(
        app.hold(&token, schedule, &[4]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([4]));
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn sold_seats_are_reloaded_without_a_restart(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 8).await;
    let schedule = concert.schedules[0];
    app.buy(concert.id, schedule, &[5, 6, 7]).await;
    let (_, token) = app.admitted_user(concert.id, 1_000_000).await;

    // Each way in finds the marker missing and reloads from PostgreSQL: the
    // seat map...
    lose_sold_seats(&app, concert.id, &[schedule], true).await;
    assert_eq!(
        app.seats_in_state(&token, schedule, "sold").await,
        [5, 6, 7]
    );
    // ...a hold...
    lose_sold_seats(&app, concert.id, &[schedule], true).await;
    let body = assert_error(
        app.hold(&token, schedule, &[4, 5, 6]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([5, 6]));
    // ...and the list of dates.
    lose_sold_seats(&app, concert.id, &[schedule], true).await;
    assert_eq!(app.available_by_schedule(concert.id).await, [(schedule, 5)]);
    assert_eq!(
        app.seats_in_state(&token, schedule, "sold").await,
        [5, 6, 7]
    );

    // Seats sold after the reload are kept with the reloaded ones.
    let held = app.hold_ok(&token, schedule, &[8]).await;
    assert_eq!(
        app.pay(&token, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    let (_, viewer) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.seats_in_state(&viewer, schedule, "sold").await,
        [5, 6, 7, 8]
    );
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_seat_sold_while_redis_had_lost_it_is_refused_at_payment_without_a_debit(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    app.buy(concert.id, schedule, &[8]).await;
    // Redis loses the sold set but keeps the marker: it believes seat 8 is free.
    lose_sold_seats(&app, concert.id, &[schedule], false).await;

    let (user, token) = app.admitted_user(concert.id, 200_000).await;
    let held = app.hold_ok(&token, schedule, &[8, 9]).await;
    let body = assert_error(
        app.pay(&token, uuid(&held["reservation_id"]), 100_000)
            .await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    // The taken seat is named; the other was never sold.
    assert_eq!(body["seat_nos"], json!([8]));
    assert_eq!(app.balance(&user).await, 200_000);
    let (payments, debits): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payments WHERE user_id = $1),
                (SELECT count(*) FROM ledger WHERE user_id = $1 AND kind = 'payment')",
    )
    .bind(user.id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((payments, debits), (0, 0));
    assert_eq!(ticket_count(&app).await, 1);

    // Redis has learned the sale; the reservation is over, the holder is still
    // admitted and may choose again.
    assert_eq!(app.status(&token).await["status"], "active");
    let map = app.seat_states(&token, schedule, None).await;
    let states: Vec<&str> = map.iter().map(|(_, _, s)| s.as_str()).collect();
    assert_eq!(states[7..], ["sold", "available", "available"]);
    assert_error(
        app.get(
            &format!("/api/v1/reservations/{}", uuid(&held["reservation_id"])),
            Some(&token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert_error(
        app.hold(&token, schedule, &[8]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    let again = app.hold_ok(&token, schedule, &[9]).await;
    assert_eq!(
        app.pay(&token, uuid(&again["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(app.balance(&user).await, 150_000);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_payment_postgres_could_not_decide_leaves_the_one_reservation_held(db: PgPool) {
    let app = TestApp::builder(db)
        .with_database_proxy()
        .with_config(|config| {
            config.database.timeout = Duration::from_millis(500);
            // A payment extends the holds by a second; the hold itself lasts longer.
            config.payment_timeout = Duration::from_secs(1);
            config.queue_defaults.hold_ttl_seconds = 20;
        })
        .spawn()
        .await;
    let proxy = app.database_proxy();
    let concert = app.create_concert(2, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[3]).await;
    let reservation = uuid(&held["reservation_id"]);

    proxy.cut();
    let response = app.pay(&token, reservation, 50_000).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    proxy.restore();

    // Well past the payment's extension, within the hold: the reservation is
    // still held, still the user's one open reservation in this concert.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let read: Value = app
        .get(&format!("/api/v1/reservations/{reservation}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, held);
    let body = assert_error(
        app.hold(&token, concert.schedules[1], &[1]).await,
        StatusCode::CONFLICT,
        "reservation_exists",
    )
    .await;
    assert_eq!(body["reservation_id"], json!(reservation));
    let (_, other) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.seats_in_state(&other, concert.schedules[0], "held")
            .await,
        [3]
    );

    let response = app.pay(&token, reservation, 50_000).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.balance(&user).await, 50_000);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn scripts_flushed_from_redis_are_loaded_again(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let user = app.sign_up().await;
    // Redis forgets every script (as after a restart); EVALSHA answers NOSCRIPT
    // and the script is sent again. Other tests' servers recover the same way.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut app.redis_conn())
        .await
        .unwrap();
    let token = app.join_token(&user, concert.id).await;
    app.wait_for_status(&token, "active").await;
}
