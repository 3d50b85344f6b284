//! Redis or PostgreSQL out of reach: 503 with the error body and `Retry-After`,
//! never a 500; what does not need the missing store keeps working; nothing is
//! half-written; everything works again once it is back.

use crate::support::*;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use std::future::Future;
use std::time::Duration;

async fn assert_unavailable(response: Response) {
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

/// Retries a request until it stops answering 503 (the store is back); panics after 10 s.
async fn once_back<F, Fut>(request: F) -> Response
where
    F: Fn() -> Fut,
    Fut: Future<Output = Response>,
{
    eventually(
        Duration::from_secs(10),
        "the store answers again",
        || async {
            let response = request().await;
            (response.status() != StatusCode::SERVICE_UNAVAILABLE).then_some(response)
        },
    )
    .await
}

/// What Redis holds of one reservation: its hash, every user's open
/// reservation entry of the concert, the hold keys with their expiry (ms), and
/// its holder's admission expiry.
async fn redis_state_of(
    app: &TestApp,
    concert: uuid::Uuid,
    reservation: uuid::Uuid,
) -> (
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<(String, i64)>,
    Option<i64>,
) {
    use redis::AsyncCommands;
    let base = format!("{}:{{c:{concert}}}", app.config.redis.prefix);
    let mut conn = app.redis_conn();
    let mut hash: Vec<(String, String)> = conn
        .hgetall(format!("{base}:res:{reservation}"))
        .await
        .unwrap();
    hash.sort();
    assert!(!hash.is_empty(), "the reservation is in Redis");
    let mut open: Vec<(String, String)> = conn.hgetall(format!("{base}:user-res")).await.unwrap();
    open.sort();
    let mut holds = Vec::new();
    for (field, value) in &hash {
        if field == "seat_nos" {
            for seat in value.split(',') {
                let key = format!("{base}:hold:{}:{seat}", hash_field(&hash, "schedule_id"));
                let expiry: i64 = redis::cmd("PEXPIRETIME")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                holds.push((key, expiry));
            }
        }
    }
    assert!(!holds.is_empty(), "the holds are in Redis: {hash:?}");
    let admission: Option<i64> = conn
        .zscore(format!("{base}:active"), hash_field(&hash, "user_id"))
        .await
        .unwrap();
    (hash, open, holds, admission)
}

fn hash_field<'a>(hash: &'a [(String, String)], name: &str) -> &'a str {
    hash.iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} in {hash:?}"))
}

#[sqlx::test]
async fn without_postgres_the_line_keeps_moving_and_money_waits(db: PgPool) {
    let app = TestApp::builder(db.clone())
        .with_database_proxy()
        .with_config(|config| {
            config.database.timeout = Duration::from_millis(500);
            // A payment that began would extend the holds past their five
            // minutes: the Redis check below would see it.
            config.payment_timeout = Duration::from_secs(600);
        })
        .spawn()
        .await;
    let proxy = app.database_proxy();
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let newcomer = app.sign_up().await;

    proxy.cut();
    // The line needs only Redis.
    assert_eq!(app.status(&token).await["status"], "active");
    let joined = app.join(&newcomer, concert.id).await;
    assert!(joined.status().is_success(), "{}", joined.status());
    let held: Value = app
        .hold(&token, concert.schedules[0], &[3])
        .await
        .json()
        .await
        .unwrap();
    let reservation = uuid(&held["reservation_id"]);
    // Money needs PostgreSQL.
    assert_unavailable(
        app.request(reqwest::Method::POST, "/api/v1/users", None, None)
            .await,
    )
    .await;
    assert_unavailable(
        app.get(
            &format!("/api/v1/users/{}/balance", user.id),
            Some(&user.access_token),
        )
        .await,
    )
    .await;
    // A payment and a charge are refused before Redis changes for them: the
    // reservation, the user's open reservation and the holds read as before.
    let redis_before = redis_state_of(&app, concert.id, reservation).await;
    assert_unavailable(app.pay(&token, reservation, 50_000).await).await;
    assert_unavailable(app.charge(&newcomer, 5_000).await).await;
    assert_eq!(
        redis_state_of(&app, concert.id, reservation).await,
        redis_before
    );
    assert_eq!(
        app.get("/readyz", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    proxy.restore();
    // The failed payment debited nothing and left the reservation payable.
    let response = once_back(|| app.pay(&token, reservation, 50_000)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.balance(&user).await, 50_000);
    assert_money_invariants(&db).await;
}

#[sqlx::test]
async fn without_redis_the_line_answers_503_and_recovers(db: PgPool) {
    let app = TestApp::builder(db)
        .with_redis_proxy()
        .with_config(|config| config.redis.timeout = Duration::from_millis(500))
        .spawn()
        .await;
    let proxy = app.redis_proxy();
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let other = app.sign_up().await;

    proxy.cut();
    assert_unavailable(app.get("/api/v1/queue/status", Some(&token)).await).await;
    assert_unavailable(app.join(&other, concert.id).await).await;
    assert_unavailable(app.hold(&token, concert.schedules[0], &[1]).await).await;
    assert_unavailable(
        app.get(&format!("/api/v1/concerts/{}/schedules", concert.id), None)
            .await,
    )
    .await;
    // A charge must know whether seats are held, which Redis says.
    assert_unavailable(app.charge(&user, 5_000).await).await;
    assert_eq!(
        app.get("/readyz", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // What needs only PostgreSQL or memory still works.
    assert_eq!(
        app.get("/api/v1/concerts", None).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.balance(&user).await, 100_000);

    proxy.restore();
    let response = once_back(|| app.get("/api/v1/queue/status", Some(&token))).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "active");
    let response = once_back(|| app.hold(&token, concert.schedules[0], &[1])).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        app.join(&other, concert.id).await.status(),
        StatusCode::CREATED
    );
}

#[sqlx::test]
async fn a_hung_redis_or_postgres_answers_unavailable_long_before_the_request_limit(db: PgPool) {
    // Both stores behind proxies that accept connections and never answer. The
    // request limit is a minute and the test client gives up after 30 s: a 503
    // `unavailable` can only come from the Redis reply timeout and the pool's
    // bounded wait, not from a request that hung until its limit (`timeout`).
    let app = TestApp::builder(db.clone())
        .with_redis_proxy()
        .with_database_proxy()
        .with_config(|config| {
            config.redis.timeout = Duration::from_millis(300);
            config.database.timeout = Duration::from_millis(500);
            config.limits.request_timeout = Duration::from_secs(60);
        })
        .spawn()
        .await;
    let (redis_proxy, pg_proxy) = (app.redis_proxy(), app.database_proxy());
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;

    redis_proxy.stall();
    for _ in 0..3 {
        assert_unavailable(app.get("/api/v1/queue/status", Some(&token)).await).await;
    }
    redis_proxy.restore();
    let response = once_back(|| app.get("/api/v1/queue/status", Some(&token))).await;
    assert_eq!(response.status(), StatusCode::OK);

    let balance = format!("/api/v1/users/{}/balance", user.id);
    pg_proxy.stall();
    for _ in 0..3 {
        assert_unavailable(app.get(&balance, Some(&user.access_token)).await).await;
    }
    pg_proxy.restore();
    let response = once_back(|| app.get(&balance, Some(&user.access_token))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_money_invariants(&db).await;
}

#[sqlx::test]
async fn a_statement_stuck_behind_a_lock_is_cancelled_with_503_and_moves_no_money(db: PgPool) {
    // The server's pool bounds every statement, as `LINEUP_DATABASE_STATEMENT_TIMEOUT` does.
    let app = TestApp::builder(db.clone())
        .with_statement_timeout(Duration::from_millis(300))
        .spawn()
        .await;
    let user = app.sign_up().await;
    assert_eq!(app.charge(&user, 10_000).await.status(), StatusCode::OK);

    // Something else holds the wallet's row lock far longer than the bound.
    let mut blocker = db.begin().await.unwrap();
    sqlx::query("SELECT balance FROM wallets WHERE user_id = $1 FOR UPDATE")
        .bind(user.id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    assert_unavailable(app.charge(&user, 5_000).await).await;
    blocker.rollback().await.unwrap();

    assert_eq!(app.charge(&user, 5_000).await.status(), StatusCode::OK);
    assert_eq!(app.balance(&user).await, 15_000);
    assert_money_invariants(&db).await;
}
