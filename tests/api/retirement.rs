//! Finished sales are retired: out of every server's memory and Redis after
//! `LINEUP_RETIRE_AFTER`, their PostgreSQL records intact; the public list
//! shows only concerts still on sale.

use crate::support::*;
use chrono::Utc;
use lineup::domain::ConcertId;
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
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
    // KEYS, not SCAN: on a Redis Cluster the client asks every primary for
    // KEYS and merges the answers, while a SCAN goes to one node of its choice.
    let keys: Vec<String> = conn.keys(&pattern).await.unwrap();
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
    // Someone waits in the other line, so it has lasting keys of its own
    // (its admission task may not have ticked yet, and a tick's keys would
    // come only then).
    app.line_up(lasting.id, 1).await;
    assert!(lasting_keys(&app, &finished).await > 0);
    let lasting_before = lasting_keys(&app, &lasting).await;
    assert!(lasting_before > 0);
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
    assert!(lasting_keys(&app, &lasting).await >= lasting_before);
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
            Method::POST,
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

/// What a late client tries: why, the method, the path, the token, the body.
type Attempt<'a> = (&'a str, Method, String, Option<&'a str>, Option<Value>);

/// A hostile or late client still holding a retired sale's tokens, its
/// reservation and its ids: every route answers a clean 4xx (never a 5xx),
/// and nothing recreates the sale's keys in Redis.
#[sqlx::test]
async fn every_route_on_a_retired_sale_answers_cleanly(db: PgPool) {
    let app = TestApp::builder(db.clone())
        .with_config(|config| config.retire_after = Duration::from_secs(1))
        .spawn()
        .await;
    let mut body = concert_body(1, 5, |_| 50_000);
    body["schedules"][0]["starts_at"] = json!(Utc::now() + chrono::Duration::seconds(4));
    let finished = app.create_concert_from(body).await;
    let schedule = finished.schedules[0];
    let (buyer, buyer_token) = app.admitted_user(finished.id, 1_000_000).await;
    let paid = app.hold_ok(&buyer_token, schedule, &[1]).await;
    let paid_id: uuid::Uuid = paid["reservation_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        app.pay(&buyer_token, paid_id, paid["amount"].as_i64().unwrap())
            .await
            .status(),
        StatusCode::CREATED
    );
    let (holder, token) = app.admitted_user(finished.id, 1_000_000).await;
    let held = app.hold_ok(&token, schedule, &[2]).await;
    let held_id: uuid::Uuid = held["reservation_id"].as_str().unwrap().parse().unwrap();
    let admission = app.admission_token(&token).await;

    eventually(Duration::from_secs(30), "the sale is retired", || async {
        let retired: bool =
            sqlx::query_scalar("SELECT retired_at IS NOT NULL FROM concerts WHERE concert_id = $1")
                .bind(finished.id)
                .fetch_one(&db)
                .await
                .unwrap();
        retired.then_some(())
    })
    .await;
    eventually(Duration::from_secs(30), "the server forgets it", || async {
        let response = app
            .get(&format!("/api/v1/concerts/{}/schedules", finished.id), None)
            .await;
        (response.status() != StatusCode::OK).then_some(())
    })
    .await;

    let c = finished.id;
    let admin = Some(ADMIN_TOKEN);
    let attempts: Vec<Attempt> = vec![
        (
            "gate",
            Method::GET,
            format!("/api/v1/gate/{c}"),
            Some(&admission),
            None,
        ),
        (
            "admission",
            Method::POST,
            "/api/v1/queue/admission".into(),
            Some(&token),
            Some(json!({})),
        ),
        (
            "status",
            Method::GET,
            "/api/v1/queue/status".into(),
            Some(&token),
            None,
        ),
        (
            "leave",
            Method::DELETE,
            "/api/v1/queue".into(),
            Some(&token),
            None,
        ),
        (
            "seats",
            Method::GET,
            format!("/api/v1/schedules/{schedule}/seats"),
            Some(&token),
            None,
        ),
        (
            "hold",
            Method::POST,
            "/api/v1/reservations".into(),
            Some(&token),
            Some(json!({ "schedule_id": schedule, "seat_nos": [3] })),
        ),
        (
            "read hold",
            Method::GET,
            format!("/api/v1/reservations/{held_id}"),
            Some(&token),
            None,
        ),
        (
            "read paid",
            Method::GET,
            format!("/api/v1/reservations/{paid_id}"),
            Some(&buyer_token),
            None,
        ),
        (
            "pay",
            Method::POST,
            "/api/v1/payments".into(),
            Some(&token),
            Some(json!({ "reservation_id": held_id, "amount": held["amount"] })),
        ),
        (
            "release",
            Method::DELETE,
            format!("/api/v1/reservations/{held_id}"),
            Some(&token),
            None,
        ),
        (
            "fairness",
            Method::GET,
            format!("/api/v1/concerts/{c}/fairness"),
            None,
            None,
        ),
        (
            "join",
            Method::POST,
            format!("/api/v1/concerts/{c}/queue"),
            Some(&holder.access_token),
            None,
        ),
        (
            "payments",
            Method::GET,
            format!("/api/v1/users/{}/payments", buyer.id),
            Some(&buyer.access_token),
            None,
        ),
        (
            "admin read",
            Method::GET,
            format!("/admin/v1/concerts/{c}/queue"),
            admin,
            None,
        ),
        (
            "admin set",
            Method::PUT,
            format!("/admin/v1/concerts/{c}/queue"),
            admin,
            Some(json!({ "admit_per_second": 3 })),
        ),
        (
            "admin pause",
            Method::POST,
            format!("/admin/v1/concerts/{c}/queue/pause"),
            admin,
            None,
        ),
        (
            "admin resume",
            Method::POST,
            format!("/admin/v1/concerts/{c}/queue/resume"),
            admin,
            None,
        ),
        (
            "admin close",
            Method::POST,
            format!("/admin/v1/concerts/{c}/close"),
            admin,
            None,
        ),
        (
            "admin evict",
            Method::DELETE,
            format!("/admin/v1/concerts/{c}/queue/users/{}", holder.id),
            admin,
            None,
        ),
    ];
    for (why, method, path, token, body) in attempts {
        let response = app.request(method, &path, token, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_client_error() || status.is_success(),
            "{why}: {status} {text}"
        );
    }
    // The payment history still shows the ticket bought.
    assert_eq!(app.payment_history(&buyer).await.len(), 1);
    // Nothing above brought the sale's keys back.
    assert_eq!(lasting_keys(&app, &finished).await, 0);
}
