//! Exactly-once money: a charge or payment retried with the same
//! `Idempotency-Key` moves money once and answers as the first time did.

use crate::support::*;
use futures::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

async fn keyed_charge(app: &TestApp, user: &TestUser, key: &str, amount: i64) -> Response {
    app.client
        .post(app.url(&format!("/api/v1/users/{}/balance/charge", user.id)))
        .bearer_auth(&user.access_token)
        .header("idempotency-key", key)
        .json(&json!({ "amount": amount }))
        .send()
        .await
        .unwrap()
}

fn keyed_pay(
    app: &TestApp,
    token: &str,
    key: &str,
    reservation: &Value,
    amount: i64,
) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/api/v1/payments"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({ "reservation_id": reservation["reservation_id"], "amount": amount }))
}

#[sqlx::test]
async fn fifty_concurrent_retries_of_one_charge_move_money_once(db: PgPool) {
    let app = spawn_app(db).await;
    let user = app.sign_up().await;
    let responses =
        join_all((0..50).map(|_| keyed_charge(&app, &user, "charge-once", 25_000))).await;
    let mut bodies = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        bodies.push(response.json::<Value>().await.unwrap());
    }
    assert!(
        bodies
            .iter()
            .all(|b| *b == json!({"user_id": user.id, "balance": 25_000, "charged": 25_000}))
    );
    assert_eq!(app.balance(&user).await, 25_000);
    let linked: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ledger WHERE user_id = $1),
                (SELECT count(*) FROM idempotency_keys k JOIN ledger l ON l.entry_id = k.ledger_entry_id
                 WHERE k.user_id = $1 AND l.amount = 25000)",
    )
    .bind(user.id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(linked, (1, 1), "one ledger entry, kept with its key");

    // A later retry is answered from the store and says so.
    let again = keyed_charge(&app, &user, "charge-once", 25_000).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    // A new key is a new charge.
    assert_eq!(
        keyed_charge(&app, &user, "charge-twice", 25_000)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.balance(&user).await, 50_000);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_key_reused_for_another_request_is_refused(db: PgPool) {
    let app = spawn_app(db).await;
    let user = app.sign_up().await;
    assert_eq!(
        keyed_charge(&app, &user, "k1", 5_000).await.status(),
        StatusCode::OK
    );
    let reused = keyed_charge(&app, &user, "k1", 6_000).await;
    assert_error(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.balance(&user).await, 5_000);
    // Keys belong to their user: another user's "k1" is theirs.
    let other = app.sign_up().await;
    assert_eq!(
        keyed_charge(&app, &other, "k1", 6_000).await.status(),
        StatusCode::OK
    );
    for bad in ["", "has space", &"x".repeat(256)] {
        let response = keyed_charge(&app, &user, bad, 5_000).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
    }
}

#[sqlx::test]
async fn a_client_that_times_out_and_retries_a_payment_pays_once(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 200_000).await;
    let held: Value = app
        .hold(&token, concert.schedules[0], &[4, 5])
        .await
        .json()
        .await
        .unwrap();

    // Hold the wallet's row lock, so the payment stalls inside PostgreSQL.
    let mut blocker = app.db.begin().await.unwrap();
    sqlx::query("SELECT balance FROM wallets WHERE user_id = $1 FOR UPDATE")
        .bind(user.id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let first = keyed_pay(&app, &token, "pay-1", &held, 100_000)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(
        first.is_err_and(|e| e.is_timeout()),
        "the first attempt should time out at the client"
    );

    // The client retries with the same key while the first attempt still waits.
    let retry = tokio::spawn(keyed_pay(&app, &token, "pay-1", &held, 100_000).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    blocker.commit().await.unwrap();
    let retry = retry.await.unwrap().unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    let payment: Value = retry.json().await.unwrap();

    assert_eq!(app.balance(&user).await, 100_000);
    let stored: (i64, uuid::Uuid) =
        sqlx::query_as("SELECT count(*), min(payment_id::text)::uuid FROM payments")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, (1, uuid(&payment["payment_id"])));
    // And once more after all is done: the same payment, replayed.
    let late = keyed_pay(&app, &token, "pay-1", &held, 100_000)
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::CREATED);
    assert_eq!(late.headers()["idempotent-replayed"], "true");
    assert_eq!(late.json::<Value>().await.unwrap(), payment);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_refused_payment_is_replayed_as_refused(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 10_000).await;
    let held: Value = app
        .hold(&token, concert.schedules[0], &[1])
        .await
        .json()
        .await
        .unwrap();
    let first = keyed_pay(&app, &token, "pay-poor", &held, 50_000)
        .send()
        .await
        .unwrap();
    let first = assert_error(first, StatusCode::PAYMENT_REQUIRED, "insufficient_balance").await;
    // The token is expired now, yet the retry gets the same answer, not a 403.
    let again = keyed_pay(&app, &token, "pay-poor", &held, 50_000)
        .send()
        .await
        .unwrap();
    let again = assert_error(again, StatusCode::PAYMENT_REQUIRED, "insufficient_balance").await;
    assert_eq!(
        (again["balance"].clone(), again["amount"].clone()),
        (first["balance"].clone(), first["amount"].clone())
    );
    assert_eq!(app.balance(&user).await, 10_000);
    assert_money_invariants(&app.db).await;
}
