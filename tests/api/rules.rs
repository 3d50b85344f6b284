//! DESIGN.md's rules under pressure: races for one seat, one balance and one
//! reservation; holds and admissions that expire; sold seats that survive Redis
//! losing them; scripts that survive Redis forgetting them.

use crate::helpers::*;
use futures::future::join_all;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test]
async fn two_hundred_people_race_for_one_seat_and_exactly_one_holds_it(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let racers = join_all((0..200).map(|_| app.admitted_user(concert.id, 0))).await;

    let outcomes = join_all(
        racers
            .iter()
            .map(|(_, token)| app.hold(token, schedule, &[5])),
    )
    .await;
    let mut won = 0;
    for response in outcomes {
        match response.status() {
            StatusCode::CREATED => won += 1,
            StatusCode::CONFLICT => {
                let body = assert_error(response, StatusCode::CONFLICT, "seat_unavailable").await;
                assert_eq!(body["seat_nos"], json!([5]));
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(won, 1);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_hundred_concurrent_charges_of_one_balance_all_count(db: PgPool) {
    let app = spawn_app(db).await;
    let user = app.sign_up().await;
    let responses = join_all((0..100).map(|i| app.charge(&user, 1_000 + i))).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    let expected: i64 = (0..100).map(|i| 1_000 + i).sum();
    assert_eq!(app.balance(&user).await, expected);
    let entries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ledger WHERE user_id = $1 AND kind = 'charge'")
            .bind(user.id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(entries, 100);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn one_reservation_paid_ten_times_at_once_is_paid_and_debited_once(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 500_000).await;
    let held: Value = app
        .hold(&token, concert.schedules[0], &[1, 2])
        .await
        .json()
        .await
        .unwrap();
    let reservation = uuid(&held["reservation_id"]);

    let responses = join_all((0..10).map(|_| app.pay(&token, reservation, 100_000))).await;
    let mut paid = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => paid += 1,
            // Either still paying, or paid already and gone, or the token already expired by it.
            StatusCode::CONFLICT | StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => {
                let body: Value = response.json().await.unwrap();
                let code = body["error"]["code"].as_str().unwrap().to_owned();
                assert!(
                    [
                        "payment_in_progress",
                        "reservation_not_found",
                        "token_expired"
                    ]
                    .contains(&code.as_str()),
                    "{body}"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(paid, 1);
    assert_eq!(app.balance(&user).await, 400_000);
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(payments, 1);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn overlapping_seat_sets_are_held_all_or_none(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 30).await;
    let schedule = concert.schedules[0];
    for round in 0..10 {
        let base = round * 2 + 1;
        let (_, a) = app.admitted_user(concert.id, 0).await;
        let (_, b) = app.admitted_user(concert.id, 0).await;
        let (seats_a, seats_b) = ([base, base + 1, base + 2], [base + 2, base + 3, base + 4]);
        let (first, second) = tokio::join!(
            app.hold(&a, schedule, &seats_a),
            app.hold(&b, schedule, &seats_b)
        );
        let statuses = [first.status(), second.status()];
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::CREATED)
                .count(),
            1,
            "round {round}: {statuses:?}"
        );
        let winner_seats: Vec<i64> = if statuses[0] == StatusCode::CREATED {
            vec![base, base + 1, base + 2]
        } else {
            vec![base + 2, base + 3, base + 4]
        };
        let map: Value = app
            .get(&format!("/api/v1/schedules/{schedule}/seats"), Some(&a))
            .await
            .json()
            .await
            .unwrap();
        for seat in map["seats"].as_array().unwrap() {
            let no = seat["seat_no"].as_i64().unwrap();
            let expected = if winner_seats.contains(&no) {
                "held"
            } else {
                "available"
            };
            assert_eq!(seat["status"], expected, "round {round}, seat {no}");
        }
        // Free the seats for the next round.
        for token in [&a, &b] {
            assert_eq!(
                app.delete("/api/v1/queue", Some(token)).await.status(),
                StatusCode::NO_CONTENT
            );
        }
    }
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn many_people_paying_for_different_seats_at_once_keep_the_books_straight(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 40).await;
    let schedule = concert.schedules[0];
    // Half can afford their seat, half cannot.
    let buyers = join_all(
        (0..40).map(|i| app.admitted_user(concert.id, if i % 2 == 0 { 60_000 } else { 10_000 })),
    )
    .await;
    let app = &app;
    let holds =
        join_all(buyers.iter().enumerate().map(|(i, (_, token))| async move {
            app.hold(token, schedule, &[i as i64 + 1]).await
        }))
        .await;
    let mut reservations = Vec::new();
    for response in holds {
        assert_eq!(response.status(), StatusCode::CREATED);
        reservations.push(uuid(
            &response.json::<Value>().await.unwrap()["reservation_id"],
        ));
    }
    let paid = join_all(
        buyers
            .iter()
            .zip(&reservations)
            .map(|((_, token), id)| app.pay(token, *id, 50_000)),
    )
    .await;
    for (i, response) in paid.into_iter().enumerate() {
        let want = if i % 2 == 0 {
            StatusCode::CREATED
        } else {
            StatusCode::PAYMENT_REQUIRED
        };
        assert_eq!(response.status(), want, "buyer {i}");
    }
    let sold: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sold, 20);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn an_unpaid_hold_ends_after_the_hold_ttl_and_its_seats_come_back(db: PgPool) {
    let app = spawn_app_with(db, |config| config.hold_ttl = Duration::from_millis(800)).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (_, first) = app.admitted_user(concert.id, 0).await;
    let (_, second) = app.admitted_user(concert.id, 0).await;
    let held: Value = app.hold(&first, schedule, &[3]).await.json().await.unwrap();
    assert_error(
        app.hold(&second, schedule, &[3]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;

    let reservation = held["reservation_id"].as_str().unwrap().to_owned();
    let mut freed = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if app.hold(&second, schedule, &[3]).await.status() == StatusCode::CREATED {
            freed = true;
            break;
        }
    }
    assert!(freed, "the seat never came back");
    assert_error(
        app.get(&format!("/api/v1/reservations/{reservation}"), Some(&first))
            .await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
}

#[sqlx::test]
async fn an_admission_ends_after_the_active_ttl(db: PgPool) {
    let app = spawn_app_with(db, |config| config.queue_defaults.active_ttl_seconds = 1).await;
    let concert = app.create_concert(1, 10).await;
    let (_, token) = app.admitted_user(concert.id, 0).await;
    let ticket = app.wait_for_status(&token, "expired").await;
    assert_eq!(ticket["position"], 0);
    assert_error(
        app.hold(&token, concert.schedules[0], &[1]).await,
        StatusCode::FORBIDDEN,
        "token_expired",
    )
    .await;
}

#[sqlx::test]
async fn a_hold_keeps_its_holder_admitted_until_it_ends(db: PgPool) {
    let app = spawn_app_with(db, |config| {
        config.queue_defaults.active_ttl_seconds = 1;
        config.hold_ttl = Duration::from_secs(3);
    })
    .await;
    let concert = app.create_concert(1, 10).await;
    let (_, token) = app.admitted_user(concert.id, 200_000).await;
    let held: Value = app
        .hold(&token, concert.schedules[0], &[4])
        .await
        .json()
        .await
        .unwrap();
    // Past the 1 s admission, inside the 3 s hold: still admitted, and the hold is payable.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(app.status(&token).await["status"], "active");
    let response = app.pay(&token, uuid(&held["reservation_id"]), 50_000).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Deletes every sold set and sold-loaded marker of this test's prefix.
async fn forget_sold_seats(app: &TestApp) {
    let mut conn = app.redis_conn();
    let pattern = format!("{}:*sold*", app.config.redis_prefix);
    let keys: Vec<String> = conn.keys(pattern).await.unwrap();
    assert!(!keys.is_empty(), "there were sold keys to delete");
    let _: () = conn.del(keys).await.unwrap();
}

#[sqlx::test]
async fn sold_seats_stay_sold_when_redis_loses_them_and_the_app_restarts(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (_, token) = app.admitted_user(concert.id, 200_000).await;
    let held: Value = app
        .hold(&token, schedule, &[1, 2])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.pay(&token, uuid(&held["reservation_id"]), 100_000)
            .await
            .status(),
        StatusCode::CREATED
    );

    forget_sold_seats(&app).await;
    let app = app.restart().await;

    let (_, token) = app.admitted_user(concert.id, 200_000).await;
    let body = assert_error(
        app.hold(&token, schedule, &[2, 3]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([2]));
    let map: Value = app
        .get(
            &format!("/api/v1/schedules/{schedule}/seats?status=sold"),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    let sold: Vec<i64> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seat_no"].as_i64().unwrap())
        .collect();
    assert_eq!(sold, [1, 2]);
}

#[sqlx::test]
async fn sold_seats_are_reloaded_without_a_restart(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (_, token) = app.admitted_user(concert.id, 200_000).await;
    let held: Value = app.hold(&token, schedule, &[6]).await.json().await.unwrap();
    assert_eq!(
        app.pay(&token, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    forget_sold_seats(&app).await;

    let schedules: Value = app
        .get(&format!("/api/v1/concerts/{}/schedules", concert.id), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(schedules["schedules"][0]["available_seats"], 9);
    let (_, token) = app.admitted_user(concert.id, 0).await;
    assert_error(
        app.hold(&token, schedule, &[6]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
}

#[sqlx::test]
async fn a_seat_sold_behind_redis_back_is_refused_at_payment_without_a_debit(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (user, token) = app.admitted_user(concert.id, 200_000).await;
    let held: Value = app.hold(&token, schedule, &[8]).await.json().await.unwrap();
    // Another sale of seat 8 that Redis never heard of (as if its sold set was lost
    // with the marker still in place).
    let other = app.sign_up().await;
    let payment = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (payment_id, reservation_id, user_id, concert_id, schedule_id, amount, balance_after)
         VALUES ($1, $2, $3, $4, $5, 0, 0)",
    )
    .bind(payment)
    .bind(uuid::Uuid::now_v7())
    .bind(other.id)
    .bind(concert.id)
    .bind(schedule)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO tickets (payment_id, schedule_id, seat_no) VALUES ($1, $2, 8)")
        .bind(payment)
        .bind(schedule)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO ledger (user_id, kind, amount, balance_after, payment_id) VALUES ($1, 'payment', 0, 0, $2)")
        .bind(other.id)
        .bind(payment)
        .execute(&app.db)
        .await
        .unwrap();

    let body = assert_error(
        app.pay(&token, uuid(&held["reservation_id"]), 50_000).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(body["seat_nos"], json!([8]));
    assert_eq!(app.balance(&user).await, 200_000);
    // Redis learned the sale: the seat reads sold, and the holder may choose again.
    let map: Value = app
        .get(
            &format!("/api/v1/schedules/{schedule}/seats?status=sold"),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(map["seats"][0]["seat_no"], 8);
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
