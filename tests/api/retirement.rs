//! Finished sales are retired: out of every server's memory and Redis after
//! `LINEUP_RETIRE_AFTER`, their PostgreSQL records intact; the public list
//! shows only concerts still on sale.

use crate::support::*;
use chrono::Utc;
use lineup::domain::ConcertId;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

/// How many of the concert's Redis keys exist that would never expire.
async fn lasting_keys(app: &TestApp, concert: &TestConcert) -> u64 {
    // Every key under the concert's hash tag that does not expire by itself,
    // found by scanning (not from `ConcertKeys::lasting`, so keys the scripts
    // name themselves, like the idle buckets, count too).
    let wait = app
        .redis
        .keys
        .concert(ConcertId::from_uuid(concert.id))
        .wait();
    let pattern = format!("{}*", wait.strip_suffix("wait").unwrap());
    let mut conn = app.redis_conn();
    let keys: Vec<String> = {
        let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await.unwrap();
        let mut keys = Vec::new();
        while let Some(key) = iter.next_item().await {
            keys.push(key.unwrap());
        }
        keys
    };
    let mut lasting = 0;
    for key in keys {
        let ttl_ms: i64 = conn.pttl(&key).await.unwrap();
        if ttl_ms == -1 {
            lasting += 1;
        }
    }
    lasting
}

/// The ids `GET /api/v1/concerts` lists.
async fn listed(app: &TestApp) -> Vec<Value> {
    let response = app.get("/api/v1/concerts", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["concerts"].as_array().unwrap().clone()
}

fn ids(concerts: &[Value]) -> Vec<uuid::Uuid> {
    concerts.iter().map(|c| uuid(&c["concert_id"])).collect()
}

#[sqlx::test]
async fn a_finished_sale_leaves_memory_and_redis_and_keeps_its_records(db: PgPool) {
    let app = TestApp::builder(db.clone())
        .with_config(|config| config.retire_after = Duration::from_secs(1))
        .spawn()
        .await;
    // One date that begins in four seconds: a sale that finishes during the test.
    let mut body = concert_body(1, 5, |_| 50_000);
    body["schedules"][0]["starts_at"] = json!(Utc::now() + chrono::Duration::seconds(4));
    let finished = app.create_concert_from(body).await;
    let lasting = app.create_concert(1, 5).await;
    app.buy(finished.id, finished.schedules[0], &[1]).await;
    let (_, token) = app.admitted_user(finished.id, 0).await;
    assert!(lasting_keys(&app, &finished).await > 0);
    assert_eq!(
        ids(&listed(&app).await),
        [finished.id, lasting.id],
        "both on sale"
    );

    eventually(
        Duration::from_secs(30),
        "the finished sale is retired",
        || async {
            let retired: bool = sqlx::query_scalar(
                "SELECT retired_at IS NOT NULL FROM concerts WHERE concert_id = $1",
            )
            .bind(finished.id)
            .fetch_one(&db)
            .await
            .unwrap();
            retired.then_some(())
        },
    )
    .await;
    // Redis: every lasting key gone; the other concert's untouched.
    assert_eq!(lasting_keys(&app, &finished).await, 0);
    assert!(lasting_keys(&app, &lasting).await > 0);
    // Memory: the server rereads its catalog right after retiring; from then
    // on the concert is not served, and every answer is a clean one.
    eventually(Duration::from_secs(30), "the server forgets it", || async {
        let response = app
            .get(&format!("/api/v1/concerts/{}/schedules", finished.id), None)
            .await;
        (response.status() != StatusCode::OK).then_some(response)
    })
    .await;
    assert_error(
        app.get(&format!("/api/v1/concerts/{}/schedules", finished.id), None)
            .await,
        StatusCode::NOT_FOUND,
        "concert_not_found",
    )
    .await;
    assert_eq!(ids(&listed(&app).await), [lasting.id]);
    let user = app.sign_up().await;
    assert_error(
        app.join(&user, finished.id).await,
        StatusCode::NOT_FOUND,
        "concert_not_found",
    )
    .await;
    assert_eq!(app.status(&token).await["status"], "expired");
    // PostgreSQL: the concert, its date, seats and ticket are all there.
    let (dates, seats, tickets): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM schedules WHERE concert_id = $1),
                (SELECT count(*) FROM seats JOIN schedules USING (schedule_id) WHERE concert_id = $1),
                (SELECT count(*) FROM tickets JOIN schedules USING (schedule_id) WHERE concert_id = $1)",
    )
    .bind(finished.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((dates, seats, tickets), (1, 5, 1));
    assert_money_invariants(&db).await;
    // A server started now does not load it.
    let another = app.spawn_another().await;
    assert_eq!(ids(&listed(&another).await), [lasting.id]);
}

#[sqlx::test]
async fn the_public_list_shows_only_sales_still_on_with_their_dates(db: PgPool) {
    let app = spawn_app(db).await;
    let open = app.create_concert(2, 5).await;
    let opens_at = Utc::now() + chrono::Duration::hours(1);
    let announced = app.create_concert_opening_at(opens_at, 5).await;
    let closed = app.create_concert(1, 5).await;
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("/admin/v1/concerts/{}/close", closed.id),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let concerts = listed(&app).await;
    let mut listed_ids = ids(&concerts);
    listed_ids.sort();
    let mut want = vec![open.id, announced.id];
    want.sort();
    assert_eq!(listed_ids, want, "the closed sale is not listed");
    let open_view = concerts
        .iter()
        .find(|c| uuid(&c["concert_id"]) == open.id)
        .unwrap();
    assert_eq!(open_view["dates"].as_array().unwrap().len(), 2);
}
