use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test]
async fn a_person_books_and_pays_from_sign_up_to_history(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 10).await;
    let (user, token) = app.admitted_user(concert.id, 200_000).await;

    let response = app.hold(&token, concert.schedules[0], &[3, 4]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let reservation: Value = response.json().await.unwrap();
    assert_eq!(reservation["amount"], 100_000);
    assert_eq!(reservation["status"], "held");

    let response = app
        .pay(&token, uuid(&reservation["reservation_id"]), 100_000)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let payment: Value = response.json().await.unwrap();
    assert_eq!(payment["balance"], 100_000);
    assert_eq!(payment["seat_nos"], serde_json::json!([3, 4]));
    assert_eq!(payment["status"], "paid");

    assert_eq!(app.status(&token).await["status"], "expired");
    assert_eq!(app.balance(&user).await, 100_000);
    let history = app.payment_history(&user).await;
    assert_eq!(history[0]["payment_id"], payment["payment_id"]);
    assert_money_invariants(&app.db).await;
}

/// Asserts a Payment body's fields; returns its time.
fn assert_payment(
    body: &Value,
    reservation: &Value,
    amount: i64,
    balance: i64,
) -> chrono::DateTime<chrono::Utc> {
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
            "balance",
            "concert_id",
            "paid_at",
            "payment_id",
            "reservation_id",
            "schedule_id",
            "seat_nos",
            "status"
        ],
        "{body}"
    );
    uuid(&body["payment_id"]);
    for field in ["reservation_id", "concert_id", "schedule_id", "seat_nos"] {
        assert_eq!(body[field], reservation[field], "{field}");
    }
    assert_eq!(body["amount"], amount);
    assert_eq!(body["balance"], balance);
    assert_eq!(body["status"], "paid");
    let paid_at = time_of(&body["paid_at"]);
    let off = (chrono::Utc::now() - paid_at).num_seconds().abs();
    assert!(off <= 5, "paid_at {paid_at} is {off} s off");
    paid_at
}

fn path_of(reservation: &Value) -> String {
    format!(
        "/api/v1/reservations/{}",
        uuid(&reservation["reservation_id"])
    )
}

#[sqlx::test]
async fn a_payment_debits_the_price_sells_the_seats_and_ends_the_admission(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app
        .create_concert_priced(1, 10, |n| 20_000 + 1_000 * i64::from(n))
        .await;
    let schedule = concert.schedules[0];
    let (user, token) = app.admitted_user(concert.id, 150_000).await;
    let held = app.hold_ok(&token, schedule, &[9, 1, 5]).await;
    let amount = 21_000 + 25_000 + 29_000;
    assert_eq!(held["amount"], amount);

    let response = app.pay(&token, uuid(&held["reservation_id"]), amount).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let payment: Value = response.json().await.unwrap();
    assert_payment(&payment, &held, amount, 150_000 - amount);
    assert_eq!(app.balance(&user).await, 150_000 - amount);

    // PostgreSQL has the payment, its tickets and its ledger entry.
    let tickets: Vec<i32> =
        sqlx::query_scalar("SELECT seat_no FROM tickets WHERE payment_id = $1 ORDER BY seat_no")
            .bind(uuid(&payment["payment_id"]))
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(tickets, [1, 5, 9]);
    let debit: i64 =
        sqlx::query_scalar("SELECT amount FROM ledger WHERE payment_id = $1 AND kind = 'payment'")
            .bind(uuid(&payment["payment_id"]))
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(debit, -amount);

    // The reservation has become the payment, the admission has ended.
    assert_eq!(app.status(&token).await["status"], "expired");
    // With the spent token: gone, or the token refused (DESIGN leaves it open
    // whether reading a reservation needs a current token).
    let response = app.get(&path_of(&held), Some(&token)).await;
    match response.status() {
        StatusCode::NOT_FOUND => {
            assert_error(response, StatusCode::NOT_FOUND, "reservation_not_found").await;
        }
        _ => {
            assert_error(response, StatusCode::FORBIDDEN, "token_revoked").await;
        }
    }
    let (_, other) = app.admitted_user(concert.id, 0).await;
    assert_error(
        app.get(&path_of(&held), Some(&other)).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert_eq!(
        app.seats_in_state(&other, schedule, "sold").await,
        [1, 5, 9]
    );
    // Nothing is held any more: the balance may be charged again.
    assert_eq!(app.charge(&user, 1_000).await.status(), StatusCode::OK);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_wrong_amount_is_refused_and_the_reservation_stays_payable(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 200_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[2, 3]).await;
    let reservation = uuid(&held["reservation_id"]);

    for wrong in [99_999, 100_001, 50_000, 0] {
        assert_error(
            app.pay(&token, reservation, wrong).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_mismatch",
        )
        .await;
    }
    assert_eq!(app.balance(&user).await, 200_000);
    assert_eq!(app.status(&token).await["status"], "active");
    let read: Value = app
        .get(&path_of(&held), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, held);
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(payments, 0);

    let response = app.pay(&token, reservation, 100_000).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.balance(&user).await, 100_000);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn too_little_balance_debits_nothing_frees_the_seats_and_ends_the_admission(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (user, token) = app.admitted_user(concert.id, 149_999).await;
    let held = app.hold_ok(&token, schedule, &[4, 5, 6]).await;

    let body = assert_error(
        app.pay(&token, uuid(&held["reservation_id"]), 150_000)
            .await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_balance",
    )
    .await;
    assert_eq!(body["balance"], 149_999);
    assert_eq!(body["amount"], 150_000);
    assert_eq!(app.balance(&user).await, 149_999);
    let (payments, entries): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM ledger WHERE kind = 'payment')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((payments, entries), (0, 0));
    assert!(app.payment_history(&user).await.is_empty());

    // The token has expired, and the seats are free for the next person.
    assert_eq!(app.status(&token).await["status"], "expired");
    let (_, next) = app.admitted_user(concert.id, 0).await;
    assert_eq!(app.seats_in_state(&next, schedule, "held").await, [0i64; 0]);
    assert_eq!(
        app.available_by_schedule(concert.id).await,
        [(schedule, 10)]
    );
    app.hold_ok(&next, schedule, &[4, 5, 6]).await;
    // The refused buyer can charge (nothing held) and line up again.
    assert_eq!(app.charge(&user, 1_000).await.status(), StatusCode::OK);
    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_ne!(
        response.json::<Value>().await.unwrap()["token"],
        json!(token)
    );
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn payment_history_lists_every_payment_newest_first(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(3, 10).await;
    let other_concert = app.create_concert(1, 10).await;
    let user = app.sign_up().await;
    assert_eq!(app.charge(&user, 1_000_000).await.status(), StatusCode::OK);
    assert!(app.payment_history(&user).await.is_empty());

    let mut balance = 1_000_000;
    let mut paid = Vec::new();
    let purchases = [
        (concert.id, concert.schedules[2], vec![1]),
        (other_concert.id, other_concert.schedules[0], vec![3, 4]),
        (concert.id, concert.schedules[0], vec![7, 8, 9]),
        (concert.id, concert.schedules[0], vec![10]),
    ];
    for (concert_id, schedule, seats) in purchases {
        let token = app.join_token(&user, concert_id).await;
        app.wait_for_status(&token, "active").await;
        let held = app.hold_ok(&token, schedule, &seats).await;
        let amount = 50_000 * seats.len() as i64;
        balance -= amount;
        let response = app.pay(&token, uuid(&held["reservation_id"]), amount).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let payment: Value = response.json().await.unwrap();
        assert_payment(&payment, &held, amount, balance);
        paid.push(payment);
    }
    // Someone else's payment is not in this history.
    let (_, stranger) = app.admitted_user(concert.id, 100_000).await;
    let theirs = app.hold_ok(&stranger, concert.schedules[1], &[1]).await;
    assert_eq!(
        app.pay(&stranger, uuid(&theirs["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );

    let listed = app.payment_history(&user).await;
    paid.reverse();
    assert_eq!(listed, paid);
    let times: Vec<_> = listed.iter().map(|p| time_of(&p["paid_at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(app.balance(&user).await, balance);
    // Only its owner may read it.
    assert_error(
        app.get(
            &format!("/api/v1/users/{}/payments", user.id),
            Some(&app.sign_up().await.access_token),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn paid_seats_read_sold_and_leave_the_dates_count(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 4).await;
    let (first, second) = (concert.schedules[0], concert.schedules[1]);
    let before = app.available_by_schedule(concert.id).await;
    assert_eq!(before, [(first, 4), (second, 4)]);

    let (_, buyer) = app.admitted_user(concert.id, 500_000).await;
    let held = app.hold_ok(&buyer, first, &[1, 3]).await;
    // Held seats count as taken already.
    assert_eq!(
        app.available_by_schedule(concert.id).await,
        [(first, 2), (second, 4)]
    );
    assert_eq!(
        app.pay(&buyer, uuid(&held["reservation_id"]), 100_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.available_by_schedule(concert.id).await,
        [(first, 2), (second, 4)]
    );
    let (_, viewer) = app.admitted_user(concert.id, 500_000).await;
    let map = app.seat_states(&viewer, first, None).await;
    let states: Vec<&str> = map.iter().map(|(_, _, s)| s.as_str()).collect();
    assert_eq!(states, ["sold", "available", "sold", "available"]);
    assert_error(
        app.hold(&viewer, first, &[3]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    assert_eq!(app.seats_in_state(&viewer, second, "sold").await, [0i64; 0]);

    // Selling the rest of the first date takes it off the list of dates.
    let rest = app.hold_ok(&viewer, first, &[2, 4]).await;
    assert_eq!(
        app.pay(&viewer, uuid(&rest["reservation_id"]), 100_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(app.available_by_schedule(concert.id).await, [(second, 4)]);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_paid_buyer_lines_up_again_with_a_new_token(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 200_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[1]).await;
    assert_eq!(
        app.pay(&token, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(app.status(&token).await["status"], "expired");
    // The spent token buys nothing more.
    assert_error(
        app.hold(&token, concert.schedules[0], &[2]).await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;

    app.set_queue(concert.id, json!({"paused": true})).await;
    let ahead = app.sign_up().await;
    app.join_token(&ahead, concert.id).await;
    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ticket: Value = response.json().await.unwrap();
    let new_token = ticket["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    assert_eq!(ticket["status"], "waiting");
    assert_eq!(ticket["position"], 2);
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&new_token, "active").await;
    assert_eq!(app.status(&token).await["status"], "expired");
    let again = app.hold_ok(&new_token, concert.schedules[0], &[2]).await;
    assert_eq!(
        app.pay(&new_token, uuid(&again["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(app.balance(&user).await, 100_000);
    assert_eq!(app.payment_history(&user).await.len(), 2);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn only_the_holder_pays_and_only_while_the_hold_lasts(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.hold_ttl_seconds = 1)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let (owner, token) = app.admitted_user(concert.id, 100_000).await;
    let (stranger, theirs) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[1]).await;
    let reservation = uuid(&held["reservation_id"]);

    assert_error(
        app.pay(&theirs, reservation, 50_000).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(app.balance(&stranger).await, 100_000);
    // The hold runs out: there is nothing left to pay.
    eventually(Duration::from_secs(5), "the hold ends", || async {
        let response = app.get(&path_of(&held), Some(&token)).await;
        (response.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert_error(
        app.pay(&token, reservation, 50_000).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert_eq!(app.balance(&owner).await, 100_000);
    let sold: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sold, 0);
    assert_money_invariants(&app.db).await;
}
