//! The catalog, the wallet and the operator's settings, seen through the API.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

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
               "active_ttl_seconds": 600, "hold_ttl_seconds": 300, "paused": false,
               "idle_timeout_seconds": 120, "admit_seat_factor": 100.0, "poll_budget_per_second": 20000,
               "waiting": 0, "active": 0, "durable": true})
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
        json!({"admit_per_second": 7, "max_active": 100000, "max_waiting": 0, "active_ttl_seconds": 600, "hold_ttl_seconds": 300, "paused": true,
               "idle_timeout_seconds": 120, "admit_seat_factor": 100.0, "poll_budget_per_second": 20000,
               "durable": true})
    );
    let stored: (i32, bool) =
        sqlx::query_as("SELECT admit_per_second, paused FROM concerts WHERE concert_id = $1")
            .bind(concert.id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, (7, true));
    // Another server (same Redis) sees the change at once.
    let other = app.spawn_another().await;
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

#[sqlx::test]
async fn a_concert_made_on_one_server_is_served_at_once_by_another(db: PgPool) {
    let app = spawn_app(db).await;
    let other = app.spawn_another().await;
    // Warm the other server's catalog, so only a fresh read can find the concert.
    assert_eq!(
        other.get("/api/v1/concerts", None).await.status(),
        StatusCode::OK
    );
    let concert = app.create_concert(1, 5).await;
    let user = other.sign_up().await;
    assert_eq!(
        other.join(&user, concert.id).await.status(),
        StatusCode::CREATED
    );
    let listed: Value = other
        .get(&format!("/api/v1/concerts/{}/schedules", concert.id), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["schedules"][0]["schedule_id"],
        json!(concert.schedules[0])
    );
    // An id that exists nowhere is still a 404.
    let unknown = uuid::Uuid::now_v7();
    assert_error(
        other.join(&user, unknown).await,
        StatusCode::NOT_FOUND,
        "concert_not_found",
    )
    .await;
}

#[sqlx::test]
async fn the_demo_concert_is_seeded_once_and_on_sale_at_once(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.demo = true)
        .spawn()
        .await;
    // A second start on the same database seeds nothing new.
    let app = app.restart().await;
    let demo = lineup::demo::DEMO_CONCERT_ID;

    let listed: Value = app
        .get("/api/v1/concerts", None)
        .await
        .json()
        .await
        .unwrap();
    let concerts: Vec<&Value> = listed["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["concert_id"] == json!(demo))
        .collect();
    assert_eq!(concerts.len(), 1, "{listed}");
    let opens_at =
        chrono::DateTime::parse_from_rfc3339(concerts[0]["opens_at"].as_str().unwrap()).unwrap();
    assert!(opens_at < chrono::Utc::now(), "the line is open at once");

    let schedules: Value = app
        .get(&format!("/api/v1/concerts/{demo}/schedules"), None)
        .await
        .json()
        .await
        .unwrap();
    let schedules = schedules["schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 3, "{schedules:?}");
    for schedule in schedules {
        assert_eq!(schedule["total_seats"], 50);
        assert_eq!(schedule["available_seats"], 50);
        let starts_at = schedule["starts_at"].as_str().unwrap();
        assert!(starts_at.ends_with("T19:00:00Z"), "{starts_at}");
    }

    let (_, ticket) = app.admitted_user(demo, 0).await;
    let seats: Value = app
        .get(
            &format!(
                "/api/v1/schedules/{}/seats",
                schedules[0]["schedule_id"].as_str().unwrap()
            ),
            Some(&ticket),
        )
        .await
        .json()
        .await
        .unwrap();
    let seats = seats["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 50);
    assert!(seats.iter().all(|s| {
        let price = s["price"].as_i64().unwrap();
        (30_000..=150_000).contains(&price)
    }));
}
