//! Per-token limits (issue 13, item 9e): a queue token that polls its status
//! or reads a seat map far faster than it is asked to is refused cheaply, 429
//! with `Retry-After`; and a rate-limit call sent twice (a client re-sending
//! after a lost reply) takes one request from its bucket.

use crate::support::*;
use lineup::config::RateLimit;
use lineup::domain::{ConcertId, UserId};
use lineup::store::RedisStore;
use lineup::store::scripts::{RateLimitArgs, rate_limit};
use reqwest::StatusCode;
use sqlx::PgPool;
use std::time::Duration;

/// Three polls at once, then one every ten seconds: far slower than any test polls.
const SLOW: RateLimit = RateLimit {
    rate: 0.1,
    burst: 3,
};

/// Waits until Redis admits the user, without polling the API (which counts).
async fn admitted_in_redis(app: &TestApp, concert: uuid::Uuid, user: uuid::Uuid) {
    let active = app
        .redis
        .keys
        .concert(ConcertId::from_uuid(concert))
        .active();
    eventually(Duration::from_secs(10), "admitted", || {
        let (mut conn, active) = (app.redis_conn(), active.clone());
        async move {
            let until: Option<f64> = redis::AsyncCommands::zscore(
                &mut conn,
                active,
                UserId::from_uuid(user).to_string(),
            )
            .await
            .unwrap();
            until.map(drop)
        }
    })
    .await;
}

/// `times` GETs of `path` with `token`; returns the statuses.
async fn statuses(app: &TestApp, path: &str, token: &str, times: usize) -> Vec<StatusCode> {
    let mut seen = Vec::new();
    for _ in 0..times {
        seen.push(app.get(path, Some(token)).await.status());
    }
    seen
}

#[sqlx::test]
async fn polling_status_or_a_seat_map_far_faster_than_asked_is_refused_with_retry_after(
    db: PgPool,
) {
    let app = TestApp::builder(db)
        .with_config(|c| c.abuse.per_token = Some(SLOW))
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let user = app.sign_up().await;
    let token = app.join_token(&user, concert.id).await;
    admitted_in_redis(&app, concert.id, user.id).await;

    let status = "/api/v1/queue/status";
    assert_eq!(
        statuses(&app, status, &token, 3).await,
        [StatusCode::OK; 3],
        "the burst"
    );
    let refused = app.get(status, Some(&token)).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // The seat map counts apart, with the same rule.
    let seats = format!("/api/v1/schedules/{}/seats", concert.schedules[0]);
    assert_eq!(statuses(&app, &seats, &token, 3).await, [StatusCode::OK; 3]);
    assert_error(
        app.get(&seats, Some(&token)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    // Another person's token has its own budget; holding a seat is not a poll.
    let other = app.sign_up().await;
    let other_token = app.join_token(&other, concert.id).await;
    assert_eq!(
        app.get(status, Some(&other_token)).await.status(),
        StatusCode::OK
    );
    app.hold_ok(&token, concert.schedules[0], &[1]).await;
}

/// axum answers HEAD with the GET handler (the body dropped): a HEAD status
/// poll or seat map asks Redis all the same, so it is a poll and counts.
#[sqlx::test]
async fn polling_with_head_instead_of_get_counts_against_the_same_limit(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|c| c.abuse.per_token = Some(SLOW))
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let user = app.sign_up().await;
    let token = app.join_token(&user, concert.id).await;
    admitted_in_redis(&app, concert.id, user.id).await;

    let seats = format!("/api/v1/schedules/{}/seats", concert.schedules[0]);
    for path in ["/api/v1/queue/status", seats.as_str()] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(
                app.request(reqwest::Method::HEAD, path, Some(&token), None)
                    .await
                    .status(),
            );
        }
        assert_eq!(
            seen,
            [
                StatusCode::OK,
                StatusCode::OK,
                StatusCode::OK,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "{path}: HEAD spends the same budget"
        );
        // And a GET finds the budget spent.
        assert_eq!(
            app.get(path, Some(&token)).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{path}"
        );
    }
}

/// A bucket of this test's own prefix on the shared Redis.
async fn redis_of_its_own() -> RedisStore {
    RedisStore::connect_to(
        &redis_url(),
        &redis_cluster_nodes(),
        &unique_prefix(),
        Duration::from_secs(5),
    )
    .await
    .expect("Redis is running")
}

#[tokio::test]
async fn a_rate_limit_call_sent_twice_takes_one_request_from_the_bucket() {
    let redis = redis_of_its_own().await;
    let args = |attempt: &'static str| RateLimitArgs {
        scope: "user",
        action: "join",
        client: "resent",
        rate: 0.01,
        burst: 1,
        attempt,
    };
    let mut conn = redis.conn();
    assert_eq!(
        rate_limit(&mut conn, &redis.keys, args("a1"))
            .await
            .unwrap(),
        None
    );
    // The very same call again, as a client re-sends it after a lost reply:
    // the first answer, and the bucket's one request is not taken twice.
    assert_eq!(
        rate_limit(&mut conn, &redis.keys, args("a1"))
            .await
            .unwrap(),
        None
    );
    // Another request finds the bucket empty.
    let wait = rate_limit(&mut conn, &redis.keys, args("a2"))
        .await
        .unwrap()
        .expect("refused");
    assert!(wait > Duration::from_secs(1), "{wait:?}");
    // And its re-send is refused the same way, taking nothing either.
    assert!(
        rate_limit(&mut conn, &redis.keys, args("a2"))
            .await
            .unwrap()
            .is_some()
    );
}
