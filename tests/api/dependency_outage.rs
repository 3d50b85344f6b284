//! Redis or PostgreSQL out of reach: 503 with the error body and `Retry-After`,
//! never a 500; what does not need the missing store keeps working; nothing is
//! half-written; everything works again once it is back.

use crate::cuttable::CuttableProxy;
use crate::helpers::*;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
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
    for _ in 0..100 {
        let response = request().await;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still 503 ten seconds after the store came back");
}

#[sqlx::test]
async fn without_postgres_the_line_keeps_moving_and_money_waits(db: PgPool) {
    let proxy = CuttableProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let options = (*db.connect_options()).clone().port(proxy.addr.port());
    let proxied = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_with(options)
        .await
        .unwrap();
    let mut config = test_config();
    config.database_timeout = Duration::from_millis(500);
    let app = start(proxied, config).await;
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
    assert_unavailable(app.pay(&token, reservation, 50_000).await).await;
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
    let proxy = CuttableProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let mut config = test_config();
    config.redis_url = format!("redis://{}", proxy.addr);
    config.redis_timeout = Duration::from_millis(500);
    let app = start(db, config).await;
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
