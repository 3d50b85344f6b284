//! The booking flow's rules one by one: the line, admission, holds, charges,
//! payments, the catalog and the operator's settings.

use crate::helpers::*;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test]
async fn joining_twice_returns_the_same_place_and_token(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let users = join_all((0..3).map(|_| app.sign_up())).await;
    let mut tickets = Vec::new();
    for user in &users {
        let response = app.join(user, concert.id).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        tickets.push(response.json::<Value>().await.unwrap());
    }
    let positions: Vec<i64> = tickets
        .iter()
        .map(|t| t["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    for (user, first) in users.iter().zip(&tickets) {
        assert_eq!(first["status"], "waiting");
        assert_eq!(first["user_id"], json!(user.id));
        assert_eq!(first["concert_id"], json!(concert.id));
        assert!(first["estimated_wait_seconds"].as_u64().unwrap() >= 1);
        assert!(first["poll_after_ms"].as_u64().unwrap() >= 1_000);
        assert_eq!(first["active_remaining_seconds"], 0);
        let again = app.join(user, concert.id).await;
        assert_eq!(again.status(), StatusCode::OK);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["token"], first["token"]);
        assert_eq!(again["position"], first["position"]);
    }
}

#[sqlx::test]
async fn leaving_moves_everyone_behind_up_and_ends_the_token(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let users = join_all((0..3).map(|_| app.sign_up())).await;
    let mut tokens = Vec::new();
    for user in &users {
        tokens.push(app.join_token(user, concert.id).await);
    }
    assert_eq!(
        app.delete("/api/v1/queue", Some(&tokens[0])).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.status(&tokens[0]).await["status"], "expired");
    assert_eq!(app.status(&tokens[1]).await["position"], 1);
    assert_eq!(app.status(&tokens[2]).await["position"], 2);
    assert_error(
        app.delete("/api/v1/queue", Some(&tokens[0])).await,
        StatusCode::FORBIDDEN,
        "token_expired",
    )
    .await;
    // Joining again after leaving is a new place at the back, with a new token.
    let response = app.join(&users[0], concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ticket: Value = response.json().await.unwrap();
    assert_eq!(ticket["position"], 3);
    assert_ne!(ticket["token"], json!(tokens[0]));
}

#[sqlx::test]
async fn admission_follows_arrival_order_at_the_set_rate(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true, "admit_per_second": 4}))
        .await;
    let users = join_all((0..12).map(|_| app.sign_up())).await;
    let mut tokens = Vec::new();
    for user in &users {
        tokens.push(app.join_token(user, concert.id).await);
    }
    let started = std::time::Instant::now();
    app.set_queue(concert.id, json!({"paused": false})).await;
    // Wait until the fourth person is in, then look at everyone.
    app.wait_for_status(&tokens[3], "active").await;
    let statuses = join_all(tokens.iter().map(|t| app.status(t))).await;
    // Measured after the last status was read, so it bounds every admission seen.
    let elapsed = started.elapsed().as_secs_f64();
    let active: Vec<bool> = statuses.iter().map(|t| t["status"] == "active").collect();
    let admitted = active.iter().filter(|a| **a).count();
    // In arrival order: nobody is admitted before someone who came earlier.
    assert!(active.windows(2).all(|w| w[0] || !w[1]), "{active:?}");
    // The bucket starts empty and refills at 4 a second: never more than 4 per
    // second elapsed (plus one for a tick landing on the boundary).
    assert!(
        admitted as f64 <= 4.0 * (elapsed + 0.25) + 1.0,
        "{admitted} admitted in {elapsed:.2} s"
    );
    // Those still waiting see positions that count from 1 behind the admitted.
    for (i, ticket) in statuses.iter().enumerate().skip(admitted) {
        let position = ticket["position"].as_u64().unwrap();
        assert!(
            position >= 1 && position <= (i - admitted + 1) as u64 + 4,
            "{ticket}"
        );
    }
}

#[sqlx::test]
async fn max_active_caps_the_admitted_and_max_waiting_caps_the_line(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(
        concert.id,
        json!({"paused": true, "max_active": 2, "max_waiting": 4}),
    )
    .await;
    let users = join_all((0..5).map(|_| app.sign_up())).await;
    let mut tokens = Vec::new();
    for user in &users[..4] {
        tokens.push(app.join_token(user, concert.id).await);
    }
    let full = app.join(&users[4], concert.id).await;
    assert!(full.headers().contains_key("retry-after"));
    assert_error(full, StatusCode::SERVICE_UNAVAILABLE, "queue_full").await;

    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&tokens[1], "active").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses = join_all(tokens.iter().map(|t| app.status(t))).await;
    let active = statuses.iter().filter(|t| t["status"] == "active").count();
    assert_eq!(active, 2);
    let stats: Value = app
        .get(
            &format!("/admin/v1/concerts/{}/queue", concert.id),
            Some(ADMIN_TOKEN),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (stats["waiting"].as_u64(), stats["active"].as_u64()),
        (Some(2), Some(2))
    );
    // One admitted person leaves: the next comes in.
    assert_eq!(
        app.delete("/api/v1/queue", Some(&tokens[0])).await.status(),
        StatusCode::NO_CONTENT
    );
    app.wait_for_status(&tokens[2], "active").await;
    assert_eq!(app.status(&tokens[3]).await["status"], "waiting");
}

#[sqlx::test]
async fn a_reservation_can_be_read_released_and_is_one_per_concert(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app
        .create_concert_priced(2, 10, |n| 10_000 * i64::from(n))
        .await;
    let (_, token) = app.admitted_user(concert.id, 0).await;
    let response = app.hold(&token, concert.schedules[0], &[4, 2]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let held: Value = response.json().await.unwrap();
    assert_eq!(held["seat_nos"], json!([2, 4]));
    assert_eq!(held["amount"], 60_000);
    assert_eq!(held["concert_id"], json!(concert.id));
    assert_eq!(held["schedule_id"], json!(concert.schedules[0]));
    let until = chrono::DateTime::parse_from_rfc3339(held["held_until"].as_str().unwrap()).unwrap();
    let left = until
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((280..=300).contains(&left), "held for {left} s");

    let path = format!(
        "/api/v1/reservations/{}",
        held["reservation_id"].as_str().unwrap()
    );
    let read: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
    assert_eq!(read, held);
    // One open reservation per user per concert, whichever date.
    let body = assert_error(
        app.hold(&token, concert.schedules[1], &[1]).await,
        StatusCode::CONFLICT,
        "reservation_exists",
    )
    .await;
    assert_eq!(body["reservation_id"], held["reservation_id"]);

    assert_eq!(
        app.delete(&path, Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&path, Some(&token)).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert_eq!(
        app.hold(&token, concert.schedules[0], &[2]).await.status(),
        StatusCode::CREATED
    );
}

#[sqlx::test]
async fn the_seat_map_shows_each_seat_with_its_price_and_state(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app
        .create_concert_priced(1, 6, |n| 1_000 * i64::from(n))
        .await;
    let schedule = concert.schedules[0];
    let (_, buyer) = app.admitted_user(concert.id, 100_000).await;
    let held: Value = app.hold(&buyer, schedule, &[1]).await.json().await.unwrap();
    assert_eq!(
        app.pay(&buyer, uuid(&held["reservation_id"]), 1_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    let (_, holder) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.hold(&holder, schedule, &[2, 3]).await.status(),
        StatusCode::CREATED
    );

    let map: Value = app
        .get(
            &format!("/api/v1/schedules/{schedule}/seats"),
            Some(&holder),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(map["schedule_id"], json!(schedule));
    let seats: Vec<(i64, i64, String)> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["seat_no"].as_i64().unwrap(),
                s["price"].as_i64().unwrap(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, i64, String)> = [
        (1, "sold"),
        (2, "held"),
        (3, "held"),
        (4, "available"),
        (5, "available"),
        (6, "available"),
    ]
    .into_iter()
    .map(|(n, s)| (n, 1_000 * n, s.to_owned()))
    .collect();
    assert_eq!(seats, expected);

    let available: Value = app
        .get(
            &format!("/api/v1/schedules/{schedule}/seats?status=available"),
            Some(&holder),
        )
        .await
        .json()
        .await
        .unwrap();
    let numbers: Vec<i64> = available["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seat_no"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 5, 6]);
}

#[sqlx::test]
async fn a_date_that_has_started_is_neither_listed_nor_sold(db: PgPool) {
    let app = spawn_app(db).await;
    let now = chrono::Utc::now();
    let seats = |n: u32| {
        (1..=n)
            .map(|s| json!({"seat_no": s, "price": 1_000}))
            .collect::<Vec<_>>()
    };
    let created: Value = app
        .post(
            "/admin/v1/concerts",
            Some(ADMIN_TOKEN),
            json!({
                "title": "Tonight", "venue": "Hall", "opens_at": now - chrono::Duration::days(1),
                "schedules": [
                    {"starts_at": now - chrono::Duration::hours(1), "seats": seats(3)},
                    {"starts_at": now + chrono::Duration::days(1), "seats": seats(2)},
                ]
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let concert = uuid(&created["concert_id"]);
    let started = uuid(&created["schedules"][0]["schedule_id"]);
    let upcoming = uuid(&created["schedules"][1]["schedule_id"]);

    let listed: Value = app
        .get(&format!("/api/v1/concerts/{concert}/schedules"), None)
        .await
        .json()
        .await
        .unwrap();
    let schedules = listed["schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["schedule_id"], json!(upcoming));
    assert_eq!(schedules[0]["total_seats"], 2);
    assert_eq!(schedules[0]["available_seats"], 2);
    assert_eq!(
        schedules[0]["date"],
        json!(
            (now + chrono::Duration::days(1))
                .format("%Y-%m-%d")
                .to_string()
        )
    );

    let (_, token) = app.admitted_user(concert, 0).await;
    assert_error(
        app.hold(&token, started, &[1]).await,
        StatusCode::CONFLICT,
        "schedule_closed",
    )
    .await;
    // Holding the last two seats takes the date off the list.
    assert_eq!(
        app.hold(&token, upcoming, &[1, 2]).await.status(),
        StatusCode::CREATED
    );
    let listed: Value = app
        .get(&format!("/api/v1/concerts/{concert}/schedules"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["schedules"], json!([]));
}

#[sqlx::test]
async fn concerts_are_listed_with_their_fields(db: PgPool) {
    let app = spawn_app(db).await;
    let a = app.create_concert(1, 1).await;
    let b = app.create_concert(1, 1).await;
    let listed: Value = app
        .get("/api/v1/concerts", None)
        .await
        .json()
        .await
        .unwrap();
    let concerts = listed["concerts"].as_array().unwrap();
    let ids: Vec<Value> = concerts.iter().map(|c| c["concert_id"].clone()).collect();
    assert!(ids.contains(&json!(a.id)) && ids.contains(&json!(b.id)));
    for concert in concerts {
        assert_eq!(concert["title"], "Test night");
        assert_eq!(concert["venue"], "Test hall");
        assert!(
            chrono::DateTime::parse_from_rfc3339(concert["opens_at"].as_str().unwrap()).is_ok()
        );
    }
}

#[sqlx::test]
async fn charging_is_refused_while_holding_seats_and_allowed_after(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 5_000).await;
    let charged: Value = app.charge(&user, 2_500).await.json().await.unwrap();
    assert_eq!(
        charged,
        json!({"user_id": user.id, "balance": 7_500, "charged": 2_500})
    );

    let held: Value = app
        .hold(&token, concert.schedules[0], &[1])
        .await
        .json()
        .await
        .unwrap();
    assert_error(
        app.charge(&user, 50_000).await,
        StatusCode::CONFLICT,
        "reservation_in_progress",
    )
    .await;
    let path = format!(
        "/api/v1/reservations/{}",
        held["reservation_id"].as_str().unwrap()
    );
    assert_eq!(
        app.delete(&path, Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.charge(&user, 50_000).await.status(), StatusCode::OK);
    assert_eq!(app.balance(&user).await, 57_500);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn too_little_balance_debits_nothing_frees_the_seats_and_ends_the_token(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 30_000).await;
    let held: Value = app
        .hold(&token, concert.schedules[0], &[5, 6])
        .await
        .json()
        .await
        .unwrap();
    let body = assert_error(
        app.pay(&token, uuid(&held["reservation_id"]), 100_000)
            .await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_balance",
    )
    .await;
    assert_eq!(
        (body["balance"].as_i64(), body["amount"].as_i64()),
        (Some(30_000), Some(100_000))
    );
    assert_eq!(app.balance(&user).await, 30_000);
    assert_eq!(app.status(&token).await["status"], "expired");
    // The seats are free for the next person.
    let (_, next) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.hold(&next, concert.schedules[0], &[5, 6])
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn payments_are_listed_newest_first_and_seats_read_sold(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 10).await;
    let user = app.sign_up().await;
    assert_eq!(app.charge(&user, 500_000).await.status(), StatusCode::OK);
    let mut paid = Vec::new();
    for schedule in &concert.schedules {
        let token = app.join_token(&user, concert.id).await;
        app.wait_for_status(&token, "active").await;
        let held: Value = app
            .hold(&token, *schedule, &[7])
            .await
            .json()
            .await
            .unwrap();
        let payment: Value = app
            .pay(&token, uuid(&held["reservation_id"]), 50_000)
            .await
            .json()
            .await
            .unwrap();
        paid.push(payment);
    }
    assert_eq!(paid[1]["balance"], 400_000);
    let history: Value = app
        .get(
            &format!("/api/v1/users/{}/payments", user.id),
            Some(&user.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["payments"], json!([paid[1], paid[0]]));
    let listed: Value = app
        .get(&format!("/api/v1/concerts/{}/schedules", concert.id), None)
        .await
        .json()
        .await
        .unwrap();
    for schedule in listed["schedules"].as_array().unwrap() {
        assert_eq!(schedule["available_seats"], 9);
    }
}

#[sqlx::test]
async fn operators_change_queue_settings_and_they_persist(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let path = format!("/admin/v1/concerts/{}/queue", concert.id);
    let before: Value = app
        .get(&path, Some(ADMIN_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        before,
        json!({"admit_per_second": 100000, "max_active": 100000, "max_waiting": 0,
               "active_ttl_seconds": 600, "paused": false, "waiting": 0, "active": 0})
    );
    let response = app
        .request(
            Method::PUT,
            &path,
            Some(ADMIN_TOKEN),
            Some(json!({"admit_per_second": 7, "paused": true})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"admit_per_second": 7, "max_active": 100000, "max_waiting": 0, "active_ttl_seconds": 600, "paused": true})
    );
    let stored: (i32, bool) =
        sqlx::query_as("SELECT admit_per_second, paused FROM concerts WHERE concert_id = $1")
            .bind(concert.id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, (7, true));
    // Another server (same Redis) sees the change at once.
    let other = start(app.db.clone(), app.config.clone()).await;
    let seen: Value = other
        .get(&path, Some(ADMIN_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["admit_per_second"], 7);
}

#[sqlx::test]
async fn a_new_concert_is_checked_and_answered_with_its_schedules(db: PgPool) {
    let app = spawn_app(db).await;
    let starts = chrono::Utc::now() + chrono::Duration::days(10);
    let seats = json!([{"seat_no": 1, "price": 10000}, {"seat_no": 2, "price": 0}]);
    let good = json!({"title": "Night", "venue": "Hall", "opens_at": chrono::Utc::now(),
                      "schedules": [{"starts_at": starts, "seats": seats}]});
    let response = app
        .post("/admin/v1/concerts", Some(ADMIN_TOKEN), good.clone())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert!(
        created["concert_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
    assert_eq!(created["schedules"].as_array().unwrap().len(), 1);

    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (name, body) in [
        ("empty title", with("title", json!(""))),
        ("no schedules", with("schedules", json!([]))),
        (
            "no seats",
            with("schedules", json!([{"starts_at": starts, "seats": []}])),
        ),
        (
            "seat 0",
            with(
                "schedules",
                json!([{"starts_at": starts, "seats": [{"seat_no": 0, "price": 1}]}]),
            ),
        ),
        (
            "negative price",
            with(
                "schedules",
                json!([{"starts_at": starts, "seats": [{"seat_no": 1, "price": -1}]}]),
            ),
        ),
        (
            "seat twice",
            with(
                "schedules",
                json!([{"starts_at": starts, "seats": [{"seat_no": 1, "price": 1}, {"seat_no": 1, "price": 2}]}]),
            ),
        ),
    ] {
        let response = app
            .post("/admin/v1/concerts", Some(ADMIN_TOKEN), body)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_concert").await;
        let _ = name;
    }
    for (name, body) in [
        ("unknown field", with("genre", json!("rock"))),
        ("bad date", with("opens_at", json!("tomorrow"))),
    ] {
        let response = app
            .post("/admin/v1/concerts", Some(ADMIN_TOKEN), body)
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM concerts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 1);
}
