//! A lost reply is an ordinary event: Redis applied the script, the server
//! never heard back (its connection dropped, or the reply came too late) and
//! sends it again. Every state-changing script answers the re-send as it
//! answered the first time and changes nothing twice. Each test loses the
//! reply of one chosen script, behind a [`ChaosProxy`] in front of Redis.

use crate::support::*;
use lineup::domain::ConcertId;
use lineup::store::Scripts;
use redis::{AsyncCommands, Script};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// The SHA1 a script is sent by (EVALSHA): the bytes only its requests carry.
fn sha(script: impl Fn(&Scripts) -> &Script) -> String {
    script(lineup::store::scripts::registry())
        .get_hash()
        .to_owned()
}

/// A server whose Redis is behind a proxy, with a concert of one date of ten
/// seats, and a user admitted to it with 100,000 won.
async fn behind_a_proxy(db: PgPool) -> (TestApp, TestConcert, TestUser, String) {
    let app = TestApp::builder(db).with_redis_proxy().spawn().await;
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    (app, concert, user, token)
}

/// A connection to the shared Redis that goes around the proxy, so the test's
/// own reads never meet a lost reply.
async fn direct() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_proxy_loses_the_reply_to_a_marked_request_after_applying_it() {
    let proxy = ChaosProxy::to_redis().await;
    let key = format!("{}:marked", unique_prefix());
    let mut through = redis::Client::open(proxy.redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = through.set(&key, "before").await.unwrap();
    proxy.lose_replies_to("marked-value", 1);

    let lost: redis::RedisResult<()> = through.set(&key, "marked-value").await;
    assert!(lost.is_err(), "the reply of the marked request is lost");
    let value: String = direct().await.get(&key).await.unwrap();
    assert_eq!(value, "marked-value", "and the request was applied");
    assert_eq!(proxy.replies_lost(), 1);

    // One marked request only: the next one is answered.
    let mut again = redis::Client::open(proxy.redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = again.set(&key, "marked-value").await.unwrap();
    assert_eq!(proxy.replies_lost(), 1);
    let () = direct().await.del(&key).await.unwrap();
}

#[sqlx::test]
async fn a_hold_whose_reply_is_lost_is_held_once_for_its_holder(db: PgPool) {
    let (app, concert, _, token) = behind_a_proxy(db).await;
    let schedule = concert.schedules[0];
    app.redis_proxy().lose_replies_to(sha(|s| &s.hold), 1);

    let held = app.hold_ok(&token, schedule, &[1, 2]).await;
    assert_eq!(app.redis_proxy().replies_lost(), 1);

    // The seats are this reservation's, the one the holder was answered.
    let reservation = uuid(&held["reservation_id"]);
    let read: Value = app
        .get(&format!("/api/v1/reservations/{reservation}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, held);
    let body = assert_error(
        app.hold(&token, schedule, &[3]).await,
        StatusCode::CONFLICT,
        "reservation_exists",
    )
    .await;
    assert_eq!(body["reservation_id"], json!(reservation));
    assert_eq!(app.seats_in_state(&token, schedule, "held").await, [1, 2]);
}

/// A hold whose reply never comes (it and its re-send both lost) may have
/// landed: the client is answered 503, but the seats may be theirs. The
/// holding marker that keeps charges out stays until it lapses, so the
/// balance is not charged while the seats are held.
#[sqlx::test]
async fn a_hold_never_answered_that_landed_still_keeps_charges_out(db: PgPool) {
    let (app, concert, user, token) = behind_a_proxy(db).await;
    let schedule = concert.schedules[0];
    app.redis_proxy().lose_replies_to(sha(|s| &s.hold), 2);

    assert_error(
        app.hold(&token, schedule, &[3]).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    )
    .await;
    assert_eq!(app.redis_proxy().replies_lost(), 2);
    app.redis_proxy().restore();

    // It landed: the seat is held, and the holder is told so when trying again.
    assert_eq!(app.seats_in_state(&token, schedule, "held").await, [3]);
    assert_error(
        app.hold(&token, schedule, &[4]).await,
        StatusCode::CONFLICT,
        "reservation_exists",
    )
    .await;
    assert_error(
        app.charge(&user, 10_000).await,
        StatusCode::CONFLICT,
        "reservation_in_progress",
    )
    .await;
}

#[sqlx::test]
async fn a_payment_whose_begin_reply_is_lost_is_paid_once_and_not_left_paying(db: PgPool) {
    let (app, concert, user, token) = behind_a_proxy(db).await;
    let schedule = concert.schedules[0];
    let held = app.hold_ok(&token, schedule, &[4]).await;
    let reservation = uuid(&held["reservation_id"]);
    app.redis_proxy().lose_replies_to(sha(|s| &s.pay_begin), 1);

    let response = app.pay(&token, reservation, 50_000).await;
    assert_eq!(response.status(), StatusCode::CREATED, "pay");
    assert_eq!(app.redis_proxy().replies_lost(), 1);

    assert_eq!(app.reservation_status(concert.id, reservation).await, None);
    assert_eq!(app.balance(&user).await, 50_000);
    assert_eq!(app.payment_history(&user).await.len(), 1);
    let (_, other) = app.admitted_user(concert.id, 0).await;
    assert_eq!(app.seats_in_state(&other, schedule, "sold").await, [4]);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_payment_whose_begin_is_never_answered_hands_the_reservation_back(db: PgPool) {
    let (app, concert, user, token) = behind_a_proxy(db).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[5]).await;
    let reservation = uuid(&held["reservation_id"]);
    // The begin and its one re-send both lose their replies.
    app.redis_proxy().lose_replies_to(sha(|s| &s.pay_begin), 2);

    let response = app.pay(&token, reservation, 50_000).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    app.redis_proxy().restore();

    // What the begin claimed was handed back: the reservation is held, and
    // paid at the next try.
    eventually(
        Duration::from_secs(10),
        "the claim is handed back",
        || async {
            (app.reservation_status(concert.id, reservation)
                .await
                .as_deref()
                == Some("held"))
            .then_some(())
        },
    )
    .await;
    let response = app.pay(&token, reservation, 50_000).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.balance(&user).await, 50_000);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_release_whose_reply_is_lost_answers_released_and_frees_the_seats(db: PgPool) {
    let (app, concert, _, token) = behind_a_proxy(db).await;
    let schedule = concert.schedules[0];
    let held = app.hold_ok(&token, schedule, &[6, 7]).await;
    let path = format!("/api/v1/reservations/{}", uuid(&held["reservation_id"]));
    app.redis_proxy().lose_replies_to(sha(|s| &s.release), 1);

    assert_eq!(
        app.delete(&path, Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.redis_proxy().replies_lost(), 1);
    assert_error(
        app.get(&path, Some(&token)).await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;
    assert!(
        app.seats_in_state(&token, schedule, "held")
            .await
            .is_empty()
    );
    app.hold_ok(&token, schedule, &[6]).await;
}

#[sqlx::test]
async fn leaving_whose_reply_is_lost_answers_left_once(db: PgPool) {
    let (app, concert, _, token) = behind_a_proxy(db).await;
    app.hold_ok(&token, concert.schedules[0], &[8]).await;
    app.redis_proxy().lose_replies_to(sha(|s| &s.leave), 1);

    assert_eq!(
        app.delete("/api/v1/queue", Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.redis_proxy().replies_lost(), 1);
    assert_eq!(app.status(&token).await["status"], "expired");
    let (_, other) = app.admitted_user(concert.id, 0).await;
    assert!(
        app.seats_in_state(&other, concert.schedules[0], "held")
            .await
            .is_empty()
    );
}

#[sqlx::test]
async fn an_eviction_whose_reply_is_lost_answers_where_they_were_and_frees_their_seats(db: PgPool) {
    let (app, concert, user, token) = behind_a_proxy(db).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[9]).await;
    app.redis_proxy().lose_replies_to(sha(|s| &s.evict), 1);

    let response = app
        .delete(
            &format!("/admin/v1/concerts/{}/queue/users/{}", concert.id, user.id),
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.redis_proxy().replies_lost(), 1);
    let evicted: Value = response.json().await.unwrap();
    assert_eq!(evicted["was"], "active");
    assert_eq!(evicted["released_reservation_id"], held["reservation_id"]);
    assert_eq!(app.status(&token).await["status"], "expired");
    let (_, other) = app.admitted_user(concert.id, 0).await;
    assert!(
        app.seats_in_state(&other, concert.schedules[0], "held")
            .await
            .is_empty()
    );
}

#[sqlx::test]
async fn a_join_whose_reply_is_lost_is_a_new_place_once(db: PgPool) {
    let (app, concert, _, _) = behind_a_proxy(db).await;
    let user = app.sign_up().await;
    app.redis_proxy().lose_replies_to(sha(|s| &s.join), 1);

    let first = app.join(&user, concert.id).await;
    assert_eq!(first.status(), StatusCode::CREATED, "a new place");
    assert_eq!(app.redis_proxy().replies_lost(), 1);
    let first: Value = first.json().await.unwrap();
    let again = app.join(&user, concert.id).await;
    assert_eq!(again.status(), StatusCode::OK, "the same place");
    let again: Value = again.json().await.unwrap();
    // The same place (its order number, the `jti`): a re-join's token is fresh
    // (a new `iat` when the joins straddle a second), its place is not.
    let jti = |ticket: &Value| claims_of(ticket["token"].as_str().unwrap())["jti"].clone();
    assert_eq!(jti(&again), jti(&first));
}

#[sqlx::test]
async fn admit_ticks_whose_replies_are_lost_admit_no_faster_than_the_rate(db: PgPool) {
    // A re-sent tick is a later tick of the same token bucket: it admits what
    // the bucket refilled since, never the first tick's batch again.
    let app = TestApp::builder(db)
        .with_redis_proxy()
        .with_config(|config| config.queue_defaults.admit_per_second = 5)
        .spawn()
        .await;
    let concert = app.create_concert(1, 50).await;
    let keys = app.redis.keys.concert(ConcertId::from_uuid(concert.id));
    let active = keys.active();
    // Paused while the line fills (a paused tick empties the bucket), so the
    // replies start to be lost before anyone is admitted, however slow the
    // sign-ups are on a loaded machine. Resumed behind the proxy's back: a
    // request through it could meet a connection dropped with a lost reply.
    app.set_queue(concert.id, json!({"paused": true})).await;
    app.line_up(concert.id, 30).await;
    app.redis_proxy().lose_replies_to(sha(|s| &s.admit), 40);
    let started = Instant::now();
    let _: () = direct()
        .await
        .hset(keys.cfg(), "paused", "0")
        .await
        .unwrap();

    let admitted = eventually(Duration::from_secs(30), "ten admitted", || async {
        let admitted: u64 = direct().await.zcard(&active).await.unwrap();
        (admitted >= 10).then_some(admitted)
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(app.redis_proxy().replies_lost() > 0);
    // The bucket starts empty and holds at most one second of admissions.
    assert!(
        admitted as f64 <= 5.0 * (elapsed + 1.0),
        "{admitted} admitted in {elapsed:.1} s at 5 a second"
    );
}

/// The replies Redis keeps for re-sends (`once`) of one concert.
async fn remembered_replies(app: &TestApp, concert: uuid::Uuid) -> usize {
    let nil = uuid::Uuid::nil();
    let pattern = app
        .redis
        .keys
        .concert(ConcertId::from_uuid(concert))
        .attempt(nil)
        .replace(&nil.to_string(), "*");
    // The app's own connection: on a Redis Cluster it asks every primary.
    let keys: Vec<String> = app.redis_conn().keys(pattern).await.unwrap();
    keys.len()
}

/// Leaving is not rate limited, and a spent token (left already) still
/// passes its signature check until its `exp`: a client that sends the same
/// leave again and again must not make Redis keep a reply of each for the
/// re-sends that never come. A leave that changed nothing needs no memory:
/// sent again, it answers the same, for a spent token never becomes current.
#[sqlx::test]
async fn leaving_again_and_again_with_a_spent_token_leaves_nothing_in_redis(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (_, token) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.delete("/api/v1/queue", Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    // The join and the leave that left are remembered, for their re-sends.
    let after_leaving = remembered_replies(&app, concert.id).await;
    assert_eq!(after_leaving, 2);

    for _ in 0..20 {
        assert_error(
            app.delete("/api/v1/queue", Some(&token)).await,
            StatusCode::FORBIDDEN,
            "token_revoked",
        )
        .await;
    }
    assert_eq!(remembered_replies(&app, concert.id).await, after_leaving);
}
