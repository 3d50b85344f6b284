//! Rules no client can bend: a person's time is bounded whatever they hold or
//! release, and seat-aware admission counts real shoppers whatever path took
//! the others away (an expired hold, leaving, eviction, a re-join).

use crate::support::*;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

#[sqlx::test]
async fn releasing_and_holding_again_never_keeps_an_admission_past_its_deadline(db: PgPool) {
    // An admission ends at most active_ttl + hold_ttl after it began (5 s).
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.queue_defaults.active_ttl_seconds = 2;
            config.queue_defaults.hold_ttl_seconds = 3;
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (_, token) = app.admitted_user(concert.id, 0).await;
    let mut held = app.hold_ok(&token, schedule, &[1, 2]).await;
    // The admission began before this first hold did, so its deadline is at
    // most active_ttl after this hold's end (both in Redis's time).
    let deadline = time_of(&held["held_until"]) + chrono::Duration::seconds(2);

    // A scalper's loop: release just before the hold ends and hold the same
    // seats again, every 1.3 s, for as long as the server lets them.
    let mut rounds = 0;
    let ended = loop {
        assert!(
            rounds < 15,
            "still holding after {rounds} rounds: the admission has no end"
        );
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        let released = app
            .delete(
                &format!("/api/v1/reservations/{}", uuid(&held["reservation_id"])),
                Some(&token),
            )
            .await;
        assert!(
            !released.status().is_server_error(),
            "release: {}",
            released.status()
        );
        let again = app.hold(&token, schedule, &[1, 2]).await;
        if again.status() == StatusCode::FORBIDDEN {
            break assert_error(again, StatusCode::FORBIDDEN, "token_revoked").await;
        }
        assert_eq!(again.status(), StatusCode::CREATED, "hold again");
        held = again.json().await.unwrap();
        let until = time_of(&held["held_until"]);
        assert!(
            until <= deadline,
            "round {rounds}: held until {until}, past the admission's deadline {deadline}"
        );
    };
    assert_eq!(ended["error"]["code"], "token_revoked");
    assert_eq!(app.status(&token).await["status"], "expired");

    // The seats come back to everyone else.
    let (_, other) = app.admitted_user(concert.id, 0).await;
    eventually(Duration::from_secs(10), "the seats come back", || async {
        let available = app.seats_in_state(&other, schedule, "available").await;
        (available.contains(&1) && available.contains(&2)).then_some(())
    })
    .await;
}

/// A server with a three-seat concert, where admission keeps the people
/// without a live hold at or below the free seats (factor 1.0), and holds last
/// a second while admissions last long.
async fn three_seats(db: PgPool) -> (TestApp, TestConcert) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.queue_defaults.admit_seat_factor = 1.0;
            config.queue_defaults.hold_ttl_seconds = 1;
            config.queue_defaults.active_ttl_seconds = 300;
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 3).await;
    (app, concert)
}

/// How many people are admitted now, as the operator reads it.
async fn admitted(app: &TestApp, concert: Uuid) -> u64 {
    app.queue_settings(concert).await["active"]
        .as_u64()
        .unwrap()
}

/// After a few admit ticks, exactly `expected` are admitted: with nobody
/// holding and three seats free, that is the three shoppers the seats allow.
async fn assert_admitted_after_ticks(app: &TestApp, concert: Uuid, expected: u64, when: &str) {
    app.admit_ticks(concert, 3).await;
    assert_eq!(admitted(app, concert).await, expected, "{when}");
}

/// Waits until the holds of `seats` have ended (the seats read available).
async fn until_available(app: &TestApp, token: &str, schedule: Uuid, seats: &[i64]) {
    eventually(Duration::from_secs(10), "the holds end", || async {
        let available = app.seats_in_state(token, schedule, "available").await;
        seats
            .iter()
            .all(|seat| available.contains(seat))
            .then_some(())
    })
    .await;
}

async fn leave(app: &TestApp, token: &str) {
    assert_eq!(
        app.delete("/api/v1/queue", Some(token)).await.status(),
        StatusCode::NO_CONTENT,
        "leave"
    );
}

#[sqlx::test]
async fn holders_whose_holds_ran_out_and_who_left_make_room_for_exactly_as_many(db: PgPool) {
    let (app, concert) = three_seats(db).await;
    let schedule = concert.schedules[0];
    let people = app.line_up(concert.id, 7).await;
    let token = |i: usize| people[i].1.as_str();
    for i in 0..3 {
        app.wait_for_status(token(i), "active").await;
    }
    assert_admitted_after_ticks(&app, concert.id, 3, "three seats, three shoppers").await;

    // Two of them hold a seat each, and their holds run out: they are
    // shoppers again, and the third still is.
    app.hold_ok(token(0), schedule, &[1]).await;
    app.hold_ok(token(1), schedule, &[2]).await;
    until_available(&app, token(2), schedule, &[1, 2]).await;
    assert_admitted_after_ticks(&app, concert.id, 3, "the holds ran out: three shoppers").await;

    // They leave: two places, taken by the next two in line, and no more.
    leave(&app, token(0)).await;
    leave(&app, token(1)).await;
    app.wait_for_status(token(3), "active").await;
    app.wait_for_status(token(4), "active").await;
    assert_admitted_after_ticks(&app, concert.id, 3, "two left, two admitted").await;
    assert_eq!(app.status(token(5)).await["status"], "waiting");
}

#[sqlx::test]
async fn an_evicted_holder_and_a_holder_who_left_and_joined_again_are_counted_as_they_are(
    db: PgPool,
) {
    let (app, concert) = three_seats(db).await;
    let schedule = concert.schedules[0];
    let mut people = app.line_up(concert.id, 6).await;
    let token = |people: &[(TestUser, String)], i: usize| people[i].1.clone();
    for i in 0..3 {
        app.wait_for_status(&token(&people, i), "active").await;
    }

    // A holds a seat until the hold runs out, and an operator evicts A: the
    // next in line (D) takes the place, and only D.
    app.hold_ok(&token(&people, 0), schedule, &[1]).await;
    until_available(&app, &token(&people, 2), schedule, &[1]).await;
    let evicted = app
        .delete(
            &format!(
                "/admin/v1/concerts/{}/queue/users/{}",
                concert.id, people[0].0.id
            ),
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(evicted.status(), StatusCode::OK);
    app.wait_for_status(&token(&people, 3), "active").await;
    assert_admitted_after_ticks(&app, concert.id, 3, "one evicted, one admitted").await;

    // B holds until the hold runs out, leaves and joins again, at the back,
    // behind a newcomer (G).
    app.hold_ok(&token(&people, 1), schedule, &[2]).await;
    until_available(&app, &token(&people, 2), schedule, &[2]).await;
    leave(&app, &token(&people, 1)).await;
    app.wait_for_status(&token(&people, 4), "active").await;
    assert_admitted_after_ticks(&app, concert.id, 3, "one left, one admitted").await;
    let b = people[1].0.clone();
    let rejoined: Value = app.join_ticket(&b, concert.id).await;
    assert_eq!(rejoined["status"], "waiting");
    let newcomer = app.line_up(concert.id, 1).await.remove(0);

    // C, D and E leave: F and B take their places, then the newcomer; B,
    // admitted again and holding nothing, is one of the three shoppers.
    for i in 2..5 {
        leave(&app, &token(&people, i)).await;
    }
    people.push((b, rejoined["token"].as_str().unwrap().to_owned()));
    app.wait_for_status(&token(&people, 5), "active").await;
    app.wait_for_status(&token(&people, 6), "active").await;
    app.wait_for_status(&newcomer.1, "active").await;
    assert_admitted_after_ticks(&app, concert.id, 3, "B admitted again as a shopper").await;
}

#[sqlx::test]
async fn a_hold_longer_than_this_server_knows_keeps_charges_out_to_its_end(db: PgPool) {
    // The hold script takes the live hold time from Redis; this server's
    // catalog may still know the old one (another server changed it, or
    // PostgreSQL has not caught up). The marker that keeps charges out must
    // last as long as the hold Redis granted, not as long as the catalog says.
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.hold_ttl_seconds = 2)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let cid = lineup::domain::ConcertId::from_uuid(concert.id);
    let () = app
        .redis
        .conn()
        .hset(app.redis.keys.concert(cid).cfg(), "hold_ttl_ms", "600000")
        .await
        .unwrap();
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&token, concert.schedules[0], &[1]).await;
    let held_until = chrono::DateTime::parse_from_rfc3339(held["held_until"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!(
        held_until > chrono::Utc::now().timestamp_millis() + 10_000,
        "the live hold time applies: {held}"
    );

    let marker = app
        .redis
        .keys
        .user_holding(lineup::domain::UserId::from_uuid(user.id));
    let mut redis = app.redis.conn();
    let until: i64 = redis
        .zscore(&marker, held["reservation_id"].as_str().unwrap())
        .await
        .unwrap();
    assert!(
        until >= held_until,
        "marker ends at {until}, the hold at {held_until}"
    );
    let lifetime_ms: i64 = redis.pttl(&marker).await.unwrap();
    assert!(
        chrono::Utc::now().timestamp_millis() + lifetime_ms >= held_until,
        "the marker key outlives the hold"
    );
    assert_eq!(
        app.charge(&user, 1_000).await.status(),
        StatusCode::CONFLICT
    );
}

#[sqlx::test]
async fn a_short_hold_in_one_concert_does_not_cut_the_marker_of_a_long_one_in_another(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.hold_ttl_seconds = 2)
        .spawn()
        .await;
    let long = app.create_concert(1, 10).await;
    let short = app.create_concert(1, 10).await;
    let () = app
        .redis
        .conn()
        .hset(
            app.redis
                .keys
                .concert(lineup::domain::ConcertId::from_uuid(long.id))
                .cfg(),
            "hold_ttl_ms",
            "600000",
        )
        .await
        .unwrap();
    let user = app.sign_up().await;
    assert_eq!(app.charge(&user, 100_000).await.status(), StatusCode::OK);
    let long_token = app.join_token(&user, long.id).await;
    app.wait_for_status(&long_token, "active").await;
    let held = app.hold_ok(&long_token, long.schedules[0], &[1]).await;
    let short_token = app.join_token(&user, short.id).await;
    app.wait_for_status(&short_token, "active").await;
    app.hold_ok(&short_token, short.schedules[0], &[1]).await;

    let held_until = chrono::DateTime::parse_from_rfc3339(held["held_until"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let marker = app
        .redis
        .keys
        .user_holding(lineup::domain::UserId::from_uuid(user.id));
    let lifetime_ms: i64 = app.redis.conn().pttl(&marker).await.unwrap();
    assert!(
        chrono::Utc::now().timestamp_millis() + lifetime_ms >= held_until,
        "the marker key outlives the long hold"
    );
}

/// Every admission has a deadline (`deadlines`); an admission that ends takes
/// its deadline with it, whether it ended by a payment, by leaving, by an
/// operator's eviction or by time. Otherwise every admission of the last
/// active_ttl + hold_ttl (ten minutes by default) would stay in Redis after
/// its person had gone: the 30-minute soak saw `deadlines` reach 6.5 MB while
/// the admitted set held a few dozen people.
#[sqlx::test]
async fn an_admission_that_ends_takes_its_deadline_with_it(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.queue_defaults.active_ttl_seconds = 2;
            config.queue_defaults.hold_ttl_seconds = 600;
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let deadlines = app
        .redis
        .keys
        .concert(lineup::domain::ConcertId::from_uuid(concert.id))
        .deadlines();
    let in_deadlines = || async {
        let members: Vec<String> = app.redis_conn().zrange(&deadlines, 0, -1).await.unwrap();
        members
    };

    app.buy(concert.id, schedule, &[1]).await;
    let (_, leaver) = app.admitted_user(concert.id, 0).await;
    leave(&app, &leaver).await;
    let (evicted, _) = app.admitted_user(concert.id, 0).await;
    let response = app
        .delete(
            &format!(
                "/admin/v1/concerts/{}/queue/users/{}",
                concert.id, evicted.id
            ),
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "evict");
    // Still admitted while holding (the hold keeps the admission open).
    let (holder, holding) = app.admitted_user(concert.id, 0).await;
    app.hold_ok(&holding, schedule, &[2]).await;
    // Admitted, holding nothing: the admission ends after active_ttl (2 s).
    let (_, idle) = app.admitted_user(concert.id, 0).await;
    app.wait_for_status(&idle, "expired").await;
    app.admit_ticks(concert.id, 2).await;

    assert_eq!(
        in_deadlines().await,
        vec![holder.id.to_string()],
        "only the admission still open keeps its deadline"
    );
}
