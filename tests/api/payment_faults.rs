//! Payments under faults and races: whatever PostgreSQL or another attempt
//! does, a payment answers within the request timeout, a paid reservation is
//! never handed back as unpaid, and no reservation is left `paying`.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

fn keyed_pay(
    app: &TestApp,
    token: &str,
    key: &str,
    reservation: Uuid,
    amount: i64,
) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/api/v1/payments"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({ "reservation_id": reservation, "amount": amount }))
}

#[sqlx::test]
async fn a_keyed_payment_meeting_another_attempt_answers_within_the_request_timeout(db: PgPool) {
    // Payments may take 30 s; requests 2.
    let app = TestApp::builder(db.clone())
        .with_config(|config| config.limits.request_timeout = Duration::from_secs(2))
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[1]).await;
    let reservation = uuid(&held["reservation_id"]);

    // A first attempt (no key) claims the reservation and waits on the
    // wallet's row lock, held by something else.
    let mut blocker = db.begin().await.unwrap();
    sqlx::query("SELECT balance FROM wallets WHERE user_id = $1 FOR UPDATE")
        .bind(user.id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let first = tokio::spawn(
        app.client
            .post(app.url("/api/v1/payments"))
            .bearer_auth(&token)
            .json(&json!({ "reservation_id": reservation, "amount": 50_000 }))
            .send(),
    );
    eventually(
        Duration::from_secs(10),
        "the first attempt claims it",
        || async {
            (app.reservation_status(concert.id, reservation)
                .await
                .as_deref()
                == Some("paying"))
            .then_some(())
        },
    )
    .await;

    // A keyed attempt finds it being paid: it says so, before its request's time is up.
    let second = keyed_pay(&app, &token, "second", reservation, 50_000)
        .send()
        .await
        .unwrap();
    assert_error(second, StatusCode::CONFLICT, "payment_in_progress").await;

    // The first attempt goes on once the lock is gone, and pays.
    blocker.rollback().await.unwrap();
    let _ = first.await;
    eventually(
        Duration::from_secs(10),
        "the first attempt pays",
        || async { (app.balance(&user).await == 50_000).then_some(()) },
    )
    .await;
    assert_eq!(app.payment_history(&user).await.len(), 1);
    assert_money_invariants(&db).await;
}

#[sqlx::test]
async fn a_payment_whose_commit_reply_is_lost_is_never_handed_back_as_unpaid(db: PgPool) {
    let app = TestApp::builder(db.clone())
        .with_database_proxy()
        .with_config(|config| config.database.timeout = Duration::from_secs(2))
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&token, schedule, &[2]).await;
    let reservation = uuid(&held["reservation_id"]);
    let path = format!("/api/v1/reservations/{reservation}");

    // PostgreSQL commits the payment; its answer never reaches the server.
    app.database_proxy().lose_replies_to("COMMIT", 1);
    let first = app.pay(&token, reservation, 50_000).await;
    assert!(
        [StatusCode::CREATED, StatusCode::SERVICE_UNAVAILABLE].contains(&first.status()),
        "first attempt: {}",
        first.status()
    );
    assert_eq!(app.database_proxy().replies_lost(), 1);

    // The reservation is paid: it is not held again, and paying it again is
    // not `payment_in_progress` (nor a second payment).
    assert_error(
        app.get(&path, Some(&token)).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    let again = app.pay(&token, reservation, 50_000).await;
    assert_ne!(again.status(), StatusCode::CONFLICT);
    assert_ne!(again.status(), StatusCode::CREATED);
    assert_eq!(app.reservation_status(concert.id, reservation).await, None);
    assert_eq!(app.balance(&user).await, 50_000);
    assert_eq!(app.payment_history(&user).await.len(), 1);
    let (_, other) = app.admitted_user(concert.id, 0).await;
    assert_eq!(app.seats_in_state(&other, schedule, "sold").await, [2]);
    assert_money_invariants(&db).await;
}

#[sqlx::test]
async fn a_refusal_that_cannot_be_stored_under_its_key_leaves_the_reservation_held(db: PgPool) {
    let app = spawn_app(db.clone()).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 10_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[3]).await;
    let reservation = uuid(&held["reservation_id"]);

    // Writing a 402 under an Idempotency-Key fails as if PostgreSQL went away.
    for statement in [
        "CREATE FUNCTION refuse_402() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'the 402 write is lost' USING ERRCODE = '08006'; END $$",
        "CREATE TRIGGER refuse_402 BEFORE INSERT OR UPDATE ON idempotency_keys
         FOR EACH ROW WHEN (NEW.status = 402) EXECUTE FUNCTION refuse_402()",
    ] {
        sqlx::query(statement).execute(&db).await.unwrap();
    }
    let response = keyed_pay(&app, &token, "short", reservation, 50_000)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    // Nothing was decided under the key: the reservation is held, not `paying`.
    assert_eq!(
        app.reservation_status(concert.id, reservation)
            .await
            .as_deref(),
        Some("held")
    );

    // Once the write works, the same key decides it: 402, and the 402 again.
    sqlx::query("DROP TRIGGER refuse_402 ON idempotency_keys")
        .execute(&db)
        .await
        .unwrap();
    for _ in 0..2 {
        let refused = assert_error(
            keyed_pay(&app, &token, "short", reservation, 50_000)
                .send()
                .await
                .unwrap(),
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_balance",
        )
        .await;
        assert_eq!(refused["balance"], 10_000);
    }
    assert_eq!(app.reservation_status(concert.id, reservation).await, None);
    assert_eq!(app.balance(&user).await, 10_000);
    assert_money_invariants(&db).await;
}

/// A server that dies between claiming a reservation for a payment (pay_begin)
/// and deciding it leaves the claim behind: nobody will end it or hand it
/// back. PostgreSQL rolled the dead attempt's transaction back, so once the
/// claim has outlived the payment timeout its holder may pay again (the claim
/// is taken over); until then the answer is `payment_in_progress`. Money stays
/// safe whatever the dead attempt did: a reservation has one payment at most.
#[sqlx::test]
async fn a_claim_left_by_a_dead_server_lapses_after_the_payment_timeout(db: PgPool) {
    use lineup::domain::{ConcertId, ReservationId, ScheduleId, SeatNo, UserId};
    use lineup::store::scripts::{PayBeginReply, PaymentAttempt, ReservationSeats, pay_begin};

    let timeout = Duration::from_secs(1);
    let app = TestApp::builder(db)
        .with_config(|config| config.payment_timeout = timeout)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[2]).await;
    let reservation = uuid(&held["reservation_id"]);

    // The dead server's claim, as its pay_begin left it.
    let cid = ConcertId::from_uuid(concert.id);
    let jti: String = redis::AsyncCommands::hget(
        &mut app.redis_conn(),
        app.redis.keys.concert(cid).jti(),
        user.id.to_string(),
    )
    .await
    .unwrap();
    let seats = [SeatNo::parse(2).unwrap()];
    let claimed = pay_begin(
        &mut app.redis_conn(),
        &app.redis.admission_keys(cid),
        UserId::from_uuid(user.id),
        &jti,
        ReservationSeats {
            id: ReservationId::from_uuid(reservation),
            schedule: ScheduleId::from_uuid(concert.schedules[0]),
            seats: &seats,
        },
        timeout,
        PaymentAttempt::fresh(),
    )
    .await
    .unwrap();
    assert!(matches!(claimed, PayBeginReply::Paying), "{claimed:?}");

    // Within the payment timeout the dead attempt may still be deciding.
    assert_error(
        app.pay(&token, reservation, 50_000).await,
        StatusCode::CONFLICT,
        "payment_in_progress",
    )
    .await;
    // Past it, the claim is the holder's to take over, long before the hold ends.
    let paid = eventually(Duration::from_secs(10), "the claim lapses", || async {
        let response = app.pay(&token, reservation, 50_000).await;
        (response.status() == StatusCode::CREATED)
            .then_some(response.json::<serde_json::Value>().await.unwrap())
    })
    .await;
    assert_eq!(paid["seat_nos"], json!([2]));
    assert_eq!(app.balance(&user).await, 50_000);
    assert_eq!(app.reservation_status(concert.id, reservation).await, None);
    assert_money_invariants(&app.db).await;
}
