//! Seat holds and reservations: all or none, one per user per concert, the seat
//! map, reading and releasing, holds that expire, and admissions they extend.

use crate::support::*;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

/// Asserts a Reservation body: its fields, and that it is held for `ttl` from about now.
fn assert_reservation(
    body: &Value,
    concert: &TestConcert,
    schedule: uuid::Uuid,
    seats: &[i64],
    amount: i64,
    ttl: Duration,
) {
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "amount",
            "concert_id",
            "held_until",
            "reservation_id",
            "schedule_id",
            "seat_nos",
            "status"
        ],
        "{body}"
    );
    uuid(&body["reservation_id"]);
    assert_eq!(body["concert_id"], json!(concert.id));
    assert_eq!(body["schedule_id"], json!(schedule));
    assert_eq!(body["seat_nos"], json!(seats));
    assert_eq!(body["amount"], amount);
    assert_eq!(body["status"], "held");
    let left = (time_of(&body["held_until"]) - Utc::now())
        .to_std()
        .unwrap_or_default();
    assert!(
        left <= ttl && left + Duration::from_secs(3) >= ttl,
        "held for {left:?} of {ttl:?}"
    );
}

#[sqlx::test]
async fn one_to_four_seats_are_held_for_the_hold_ttl(db: PgPool) {
    let ttl = Duration::from_secs(120);
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.hold_ttl_seconds = ttl.as_secs() as u32)
        .spawn()
        .await;
    let concert = app
        .create_concert_priced(2, 20, |n| 10_000 + 1_000 * i64::from(n))
        .await;
    let price = |n: i64| 10_000 + 1_000 * n;
    let cases: [&[i64]; 5] = [&[1], &[3, 2], &[7, 5, 6], &[20, 11, 15, 12], &[4]];
    let mut held_so_far = [
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    ];
    for (i, seats) in cases.into_iter().enumerate() {
        let schedule = concert.schedules[i % 2];
        let (_, token) = app.admitted_user(concert.id, 0).await;
        let held = app.hold_ok(&token, schedule, seats).await;
        let mut sorted = seats.to_vec();
        sorted.sort_unstable();
        let amount = sorted.iter().map(|n| price(*n)).sum();
        assert_reservation(&held, &concert, schedule, &sorted, amount, ttl);
        // Reading it gives the same reservation.
        let response = app
            .get(
                &format!("/api/v1/reservations/{}", uuid(&held["reservation_id"])),
                Some(&token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap(), held);
        held_so_far[i % 2].extend(sorted);
        let held_now = app.seats_in_state(&token, schedule, "held").await;
        assert_eq!(
            held_now,
            held_so_far[i % 2].iter().copied().collect::<Vec<_>>()
        );
    }
    // Five seats are one too many, and none of them is held.
    let (_, token) = app.admitted_user(concert.id, 0).await;
    assert_error(
        app.hold(&token, concert.schedules[0], &[16, 17, 18, 19, 13])
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_seats",
    )
    .await;
    assert_eq!(
        app.seats_in_state(&token, concert.schedules[0], "held")
            .await,
        [1, 4, 5, 6, 7]
    );
}

#[sqlx::test]
async fn the_seat_map_lists_every_seat_in_order_with_its_price_and_state(db: PgPool) {
    let app = spawn_app(db).await;
    // Prices that do not rise with the seat number, so order is not by price.
    let concert = app
        .create_concert_priced(1, 12, |n| 1_000 * i64::from((n * 7) % 12 + 1))
        .await;
    let schedule = concert.schedules[0];
    let (_, buyer) = app.admitted_user(concert.id, 1_000_000).await;
    let bought = app.hold_ok(&buyer, schedule, &[10, 2]).await;
    let amount = bought["amount"].as_i64().unwrap();
    assert_eq!(
        app.pay(&buyer, uuid(&bought["reservation_id"]), amount)
            .await
            .status(),
        StatusCode::CREATED
    );
    let (_, holder) = app.admitted_user(concert.id, 0).await;
    app.hold_ok(&holder, schedule, &[3, 11, 12]).await;

    let (_, viewer) = app.admitted_user(concert.id, 0).await;
    let map = app.seat_states(&viewer, schedule, None).await;
    let expected: Vec<(i64, i64, String)> = (1..=12)
        .map(|n: i64| {
            let state = match n {
                2 | 10 => "sold",
                3 | 11 | 12 => "held",
                _ => "available",
            };
            (n, 1_000 * ((n * 7) % 12 + 1), state.to_owned())
        })
        .collect();
    assert_eq!(map, expected);

    for (filter, want) in [
        ("available", vec![1, 4, 5, 6, 7, 8, 9]),
        ("held", vec![3, 11, 12]),
        ("sold", vec![2, 10]),
    ] {
        let seats = app.seat_states(&viewer, schedule, Some(filter)).await;
        assert!(seats.iter().all(|(_, _, s)| s == filter), "{seats:?}");
        let numbers: Vec<i64> = seats.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(numbers, want, "?status={filter}");
    }
    // The list of dates counts the same: 12 - 2 sold - 3 held.
    assert_eq!(app.available_by_schedule(concert.id).await, [(schedule, 7)]);
}

#[sqlx::test]
async fn a_taken_seat_refuses_the_whole_hold_and_names_the_taken_seats(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (_, first) = app.admitted_user(concert.id, 0).await;
    let (_, second) = app.admitted_user(concert.id, 0).await;
    app.hold_ok(&first, schedule, &[2, 5]).await;

    let body = assert_error(
        app.hold(&second, schedule, &[1, 2, 3, 5]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([2, 5]));
    let body = assert_error(
        app.hold(&second, schedule, &[1, 2]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([2]));
    // None of the free seats was taken by the refused attempts...
    assert_eq!(app.seats_in_state(&second, schedule, "held").await, [2, 5]);
    // ...and they left no reservation behind: the free ones can be held now.
    let held = app.hold_ok(&second, schedule, &[1, 3]).await;
    assert_eq!(held["seat_nos"], json!([1, 3]));
    assert_eq!(
        app.seats_in_state(&second, schedule, "held").await,
        [1, 2, 3, 5]
    );
}

#[sqlx::test]
async fn one_open_reservation_per_user_per_concert(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 10).await;
    let elsewhere = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 0).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[1]).await;

    for (schedule, seats) in [
        (concert.schedules[0], [2]),
        (concert.schedules[1], [1]),
        (concert.schedules[0], [1]),
    ] {
        let body = assert_error(
            app.hold(&token, schedule, &seats).await,
            StatusCode::CONFLICT,
            "reservation_exists",
        )
        .await;
        assert_eq!(body["reservation_id"], held["reservation_id"]);
    }
    assert_eq!(
        app.seats_in_state(&token, concert.schedules[1], "held")
            .await,
        [0i64; 0]
    );
    assert_eq!(
        app.seats_in_state(&token, concert.schedules[0], "held")
            .await,
        [1]
    );
    // Another concert is another line and another reservation.
    let other_token = app.join_token(&user, elsewhere.id).await;
    app.wait_for_status(&other_token, "active").await;
    app.hold_ok(&other_token, elsewhere.schedules[0], &[1])
        .await;

    // Once released, the user may hold again in this concert.
    assert_eq!(
        app.delete(
            &format!("/api/v1/reservations/{}", uuid(&held["reservation_id"])),
            Some(&token)
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    app.hold_ok(&token, concert.schedules[1], &[1, 2]).await;
}

#[sqlx::test]
async fn a_reservation_is_read_and_released_by_its_holder_only(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (owner_user, owner) = app.admitted_user(concert.id, 0).await;
    let (_, stranger) = app.admitted_user(concert.id, 0).await;
    let held = app.hold_ok(&owner, schedule, &[4, 6]).await;
    let path = format!("/api/v1/reservations/{}", uuid(&held["reservation_id"]));

    assert_error(
        app.get(&path, Some(&stranger)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.delete(&path, Some(&stranger)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(app.seats_in_state(&owner, schedule, "held").await, [4, 6]);
    assert_error(
        app.get(
            &format!("/api/v1/reservations/{}", uuid::Uuid::now_v7()),
            Some(&owner),
        )
        .await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;

    assert_eq!(
        app.delete(&path, Some(&owner)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.seats_in_state(&owner, schedule, "held").await,
        [0i64; 0]
    );
    assert_error(
        app.get(&path, Some(&owner)).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert_error(
        app.delete(&path, Some(&owner)).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    // The seats are anyone's again, the released holder is still admitted,
    // and the holder may charge again (nothing is held).
    app.hold_ok(&stranger, schedule, &[4, 6]).await;
    assert_eq!(app.status(&owner).await["status"], "active");
    assert_eq!(
        app.charge(&owner_user, 5_000).await.status(),
        StatusCode::OK
    );
    app.hold_ok(&owner, schedule, &[5]).await;
}

#[sqlx::test]
async fn an_unpaid_hold_ends_with_its_ttl_and_everything_comes_back(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.hold_ttl_seconds = 1)
        .spawn()
        .await;
    let concert = app.create_concert(1, 5).await;
    let schedule = concert.schedules[0];
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let (_, other) = app.admitted_user(concert.id, 0).await;
    let held = app.hold_ok(&token, schedule, &[1, 2]).await;
    let reservation = uuid(&held["reservation_id"]);
    assert_error(
        app.charge(&user, 1_000).await,
        StatusCode::CONFLICT,
        "reservation_in_progress",
    )
    .await;
    assert_eq!(app.available_by_schedule(concert.id).await, [(schedule, 3)]);
    assert_error(
        app.hold(&other, schedule, &[2]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;

    eventually(
        Duration::from_secs(5),
        "the held seats come back",
        || async {
            let held = app.seats_in_state(&other, schedule, "held").await;
            held.is_empty().then_some(())
        },
    )
    .await;
    // Not before the hold's end.
    assert!(Utc::now() >= time_of(&held["held_until"]) - chrono::Duration::milliseconds(200));
    assert_eq!(app.available_by_schedule(concert.id).await, [(schedule, 5)]);
    let path = format!("/api/v1/reservations/{reservation}");
    assert_error(
        app.get(&path, Some(&token)).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert_error(
        app.pay(&token, reservation, 100_000).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert_eq!(app.balance(&user).await, 100_000);
    // Charging, refused while the seats were held, is allowed again (after a
    // second's margin for clock skew).
    eventually(
        Duration::from_secs(3),
        "charging is allowed again",
        || async { (app.charge(&user, 1_000).await.status() == StatusCode::OK).then_some(()) },
    )
    .await;
    assert_eq!(app.balance(&user).await, 101_000);
    // The holder is still admitted and may hold again (the old reservation no
    // longer counts as open); so may anyone else.
    app.hold_ok(&other, schedule, &[2]).await;
    app.hold_ok(&token, schedule, &[1, 3]).await;
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_hold_keeps_its_holder_admitted_until_the_hold_ends(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.queue_defaults.active_ttl_seconds = 1;
            config.queue_defaults.hold_ttl_seconds = 3;
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (_, token) = app.admitted_user(concert.id, 0).await;
    let held = app.hold_ok(&token, schedule, &[4]).await;
    let held_until = time_of(&held["held_until"]);
    let ticket = app.status(&token).await;
    assert!(
        ticket["active_remaining_seconds"].as_u64().unwrap() >= 2,
        "the admission was not extended to the hold: {ticket}"
    );

    // Past the one-second admission, the holder keeps reading the seat map
    // and their reservation, until the hold ends; then the admission ends too.
    let ended_at = eventually(Duration::from_secs(8), "the admission ends", || async {
        let ticket = app.status(&token).await;
        if ticket["status"] == "expired" {
            return Some(Utc::now());
        }
        assert_eq!(ticket["status"], "active");
        let response = app
            .get(&format!("/api/v1/schedules/{schedule}/seats"), Some(&token))
            .await;
        // The seat map asks Redis separately, a moment later: it may just have ended.
        if response.status() == StatusCode::OK {
            let map: Value = response.json().await.unwrap();
            assert_eq!(map["seats"][3]["seat_no"], 4);
        } else {
            assert_error(response, StatusCode::FORBIDDEN, "token_revoked").await;
        }
        None
    })
    .await;
    assert!(
        ended_at >= held_until - chrono::Duration::milliseconds(200),
        "the admission ended at {ended_at}, before the hold's end {held_until}"
    );
}

#[sqlx::test]
async fn a_date_that_has_started_is_not_held(db: PgPool) {
    let app = spawn_app(db).await;
    let now = Utc::now();
    let seats: Vec<Value> = (1..=4)
        .map(|n| json!({"seat_no": n, "price": 10_000}))
        .collect();
    let response = app
        .post(
            "/admin/v1/concerts",
            Some(ADMIN_TOKEN),
            json!({
                "title": "Tonight", "venue": "Hall", "opens_at": now - chrono::Duration::days(1),
                "schedules": [
                    {"starts_at": now - chrono::Duration::minutes(5), "seats": seats},
                    {"starts_at": now + chrono::Duration::days(2), "seats": seats},
                ]
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let concert = uuid(&created["concert_id"]);
    let started = uuid(&created["schedules"][0]["schedule_id"]);
    let upcoming = uuid(&created["schedules"][1]["schedule_id"]);

    let (_, token) = app.admitted_user(concert, 0).await;
    assert_error(
        app.hold(&token, started, &[1, 2]).await,
        StatusCode::CONFLICT,
        "schedule_closed",
    )
    .await;
    let held: i64 = {
        let mut conn = app.redis_conn();
        let pattern = format!("{}:*hold:{started}:*", app.config.redis.prefix);
        let keys: Vec<String> = redis::AsyncCommands::keys(&mut conn, pattern)
            .await
            .unwrap();
        keys.len() as i64
    };
    assert_eq!(held, 0, "a refused hold left hold keys");
    // The refusal left no reservation: the upcoming date can be held.
    app.hold_ok(&token, upcoming, &[1, 2]).await;
}

#[sqlx::test]
async fn holding_needs_an_admission_and_known_seats(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    app.set_queue(concert.id, json!({"paused": true})).await;
    let user = app.sign_up().await;
    let waiting = app.join_token(&user, concert.id).await;
    assert_error(
        app.hold(&waiting, schedule, &[1]).await,
        StatusCode::FORBIDDEN,
        "not_admitted",
    )
    .await;
    assert_error(
        app.get(
            &format!("/api/v1/schedules/{schedule}/seats"),
            Some(&waiting),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_admitted",
    )
    .await;

    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&waiting, "active").await;
    let body = assert_error(
        app.hold(&waiting, schedule, &[9, 11, 12]).await,
        StatusCode::NOT_FOUND,
        "seat_not_found",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([11, 12]));
    assert_eq!(
        app.seats_in_state(&waiting, schedule, "held").await,
        [0i64; 0]
    );
    app.hold_ok(&waiting, schedule, &[9, 10]).await;
}
