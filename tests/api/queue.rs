//! The line: one place per user, positions that only fall, admission in
//! arrival order at the set rate under the caps, leaving, and admissions that end.

use crate::support::*;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// Every ticket's status, read from the last in line to the first: whoever is
/// read active was admitted before any earlier read, so an admission in arrival
/// order always shows as a prefix of actives, whatever happens during the reads.
async fn statuses_back_to_front(app: &TestApp, tokens: &[String]) -> Vec<Value> {
    let mut statuses = Vec::new();
    for token in tokens.iter().rev() {
        statuses.push(app.status(token).await);
    }
    statuses.reverse();
    statuses
}

fn count_status(tickets: &[Value], status: &str) -> usize {
    tickets.iter().filter(|t| t["status"] == status).count()
}

/// Asserts the admitted are the first arrivals and the rest wait with positions
/// that rise with arrival; returns how many are admitted.
fn assert_admitted_in_arrival_order(tickets: &[Value]) -> usize {
    let active: Vec<bool> = tickets.iter().map(|t| t["status"] == "active").collect();
    assert!(
        active.windows(2).all(|w| w[0] || !w[1]),
        "someone was admitted before an earlier arrival: {active:?}"
    );
    let admitted = active.iter().filter(|a| **a).count();
    let positions: Vec<u64> = tickets[admitted..]
        .iter()
        .map(|t| {
            assert_eq!(t["status"], "waiting", "{t}");
            t["position"].as_u64().unwrap()
        })
        .collect();
    assert!(
        positions.first().is_none_or(|p| *p >= 1) && positions.windows(2).all(|w| w[0] < w[1]),
        "positions of those waiting: {positions:?}"
    );
    for ticket in &tickets[..admitted] {
        assert_eq!(ticket["position"], 0, "{ticket}");
    }
    admitted
}

#[sqlx::test]
async fn joining_again_returns_the_same_place_with_a_fresh_token_while_waiting_and_while_active(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let ahead = app.sign_up().await;
    assert_eq!(
        app.join(&ahead, concert.id).await.status(),
        StatusCode::CREATED
    );
    let user = app.sign_up().await;

    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["status"], "waiting");
    assert_eq!(first["position"], 2);
    assert_eq!(first["user_id"], json!(user.id));
    assert_eq!(first["concert_id"], json!(concert.id));
    for _ in 0..3 {
        let response = app.join(&user, concert.id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let again: Value = response.json().await.unwrap();
        assert_eq!(
            claims_of(again["token"].as_str().unwrap())["jti"],
            claims_of(first["token"].as_str().unwrap())["jti"]
        );
        assert_eq!(again["position"], 2);
        assert_eq!(again["status"], "waiting");
    }
    let token = first["token"].as_str().unwrap();
    assert_eq!(app.status(token).await["position"], 2);

    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(token, "active").await;
    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let active: Value = response.json().await.unwrap();
    assert_eq!(
        claims_of(active["token"].as_str().unwrap())["jti"],
        claims_of(token)["jti"]
    );
    assert_eq!(active["status"], "active");
    assert_eq!(active["position"], 0);
    assert!(active["active_remaining_seconds"].as_u64().unwrap() > 0);
    // The admission is the same one: the token still works for seats.
    app.hold_ok(token, concert.schedules[0], &[1]).await;
}

#[sqlx::test]
async fn positions_count_arrivals_and_only_ever_fall(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true, "admit_per_second": 3}))
        .await;
    let people = app.line_up(concert.id, 6).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    let positions: Vec<u64> = join_all(tokens.iter().map(|t| app.status(t)))
        .await
        .iter()
        .map(|t| t["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6]);

    // The third leaves: everyone behind moves up one, nobody ahead moves.
    assert_eq!(
        app.delete("/api/v1/queue", Some(&tokens[2])).await.status(),
        StatusCode::NO_CONTENT
    );
    let mut last: Vec<Option<u64>> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let ticket = app.status(token).await;
        if i == 2 {
            assert_eq!(ticket["status"], "expired");
            assert_eq!(ticket["position"], 0);
            last.push(None);
        } else {
            last.push(ticket["position"].as_u64());
        }
    }
    assert_eq!(last, [Some(1), Some(2), None, Some(3), Some(4), Some(5)]);

    // Admission starts, and newcomers keep arriving behind: the positions of
    // those waiting never grow, and the newcomers always stand behind them.
    app.set_queue(concert.id, json!({"paused": false})).await;
    let mut fell = false;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1_800) {
        let newcomer = app.sign_up().await;
        let newcomer = app.join_token(&newcomer, concert.id).await;
        // The newcomer is read first. Positions only fall, so everyone read
        // after it stands no further back than they stood at that moment,
        // when they were ahead of it: the comparison below holds whatever
        // admission does between the reads.
        let behind = app.status(&newcomer).await;
        let tickets = statuses_back_to_front(&app, &tokens).await;
        for (i, ticket) in tickets.iter().enumerate() {
            let Some(before) = last[i] else { continue };
            match ticket["status"].as_str().unwrap() {
                "waiting" => {
                    let now = ticket["position"].as_u64().unwrap();
                    assert!(now <= before, "person {i}: position grew {before} -> {now}");
                    fell |= now < before;
                    last[i] = Some(now);
                }
                "active" => last[i] = Some(0),
                other => panic!("person {i} reads {other}"),
            }
        }
        if behind["status"] == "waiting" {
            let max_ahead = last.iter().flatten().max().copied().unwrap_or(0);
            assert!(
                behind["position"].as_u64().unwrap() > max_ahead,
                "a newcomer at {} is ahead of someone at {max_ahead}",
                behind["position"]
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(fell, "nobody moved up in 1.8 s at 3 admissions a second");
}

#[sqlx::test]
async fn admission_follows_arrival_order_and_never_outpaces_the_rate(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true, "admit_per_second": 2}))
        .await;
    let people = app.line_up(concert.id, 10).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    // Paused: nobody gets in, however long the bucket could have filled.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tickets = statuses_back_to_front(&app, &tokens).await;
    assert_eq!(count_status(&tickets, "active"), 0);

    let unpaused = Instant::now();
    app.set_queue(concert.id, json!({"paused": false})).await;
    // The first gets in within the bound, and the bucket starts empty...
    app.wait_for_status(&tokens[0], "active").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let tickets = statuses_back_to_front(&app, &tokens).await;
    let elapsed = unpaused.elapsed().as_secs_f64();
    let admitted = assert_admitted_in_arrival_order(&tickets);
    // ...and refills at 2 a second: never more than 2 per second since
    // unpausing, plus one for a refill landing on a tick's edge.
    assert!(
        admitted as f64 <= 2.0 * elapsed + 1.0,
        "{admitted} admitted within {elapsed:.2} s at 2 a second"
    );
    assert!(admitted >= 1);
    // Those still waiting count from 1. Read on a still line: with admission
    // running, the first one waiting could be read before the one ahead of
    // it is admitted and read after, and so read 2.
    app.set_queue(concert.id, json!({"paused": true})).await;
    let still = statuses_back_to_front(&app, &tokens).await;
    let admitted = assert_admitted_in_arrival_order(&still);
    assert_eq!(still[admitted]["position"], 1, "{}", still[admitted]);
}

#[sqlx::test]
async fn two_servers_share_one_admission_rate(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    // Another server on the same Redis and PostgreSQL runs its own admission loop.
    let other = app.spawn_another().await;
    app.set_queue(concert.id, json!({"paused": true, "admit_per_second": 2}))
        .await;
    let people = other.line_up(concert.id, 12).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();

    let unpaused = Instant::now();
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&tokens[0], "active").await;
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    let tickets = statuses_back_to_front(&other, &tokens).await;
    let elapsed = unpaused.elapsed().as_secs_f64();
    let admitted = assert_admitted_in_arrival_order(&tickets);
    // Two servers with a bucket each would admit about twice as many.
    assert!(
        admitted as f64 <= 2.0 * elapsed + 1.0,
        "two servers admitted {admitted} within {elapsed:.2} s at 2 a second"
    );
}

#[sqlx::test]
async fn max_active_caps_the_admitted_and_a_leaver_makes_room(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true, "max_active": 3}))
        .await;
    let people = app.line_up(concert.id, 7).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&tokens[2], "active").await;
    // Many ticks later, still three: the rate would admit everyone at once.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let tickets = statuses_back_to_front(&app, &tokens).await;
    assert_eq!(assert_admitted_in_arrival_order(&tickets), 3);
    assert_eq!(tickets[3]["position"], 1);
    let stats = app.queue_settings(concert.id).await;
    assert_eq!(stats["active"], 3, "{stats}");
    assert_eq!(stats["waiting"], 4, "{stats}");

    // Two admitted leave: exactly two more come in, in order.
    for token in &tokens[..2] {
        assert_eq!(
            app.delete("/api/v1/queue", Some(token)).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    app.wait_for_status(&tokens[4], "active").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tickets = statuses_back_to_front(&app, &tokens[2..]).await;
    assert_eq!(assert_admitted_in_arrival_order(&tickets), 3);
    // The operator raises the cap: the rest come in.
    app.set_queue(concert.id, json!({"max_active": 10})).await;
    app.wait_for_status(&tokens[6], "active").await;
}

#[sqlx::test]
async fn an_ended_admission_makes_room_under_max_active(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.active_ttl_seconds = 1)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true, "max_active": 1}))
        .await;
    let people = app.line_up(concert.id, 2).await;
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&people[0].1, "active").await;
    assert_eq!(app.status(&people[1].1).await["position"], 1);
    // The first admission runs out after a second; the second person takes the place.
    app.wait_for_status(&people[1].1, "active").await;
    assert_eq!(app.status(&people[0].1).await["status"], "expired");
}

#[sqlx::test]
async fn a_full_line_answers_queue_full_with_retry_after(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true, "max_waiting": 2}))
        .await;
    let people = app.line_up(concert.id, 2).await;
    let late = app.sign_up().await;

    let response = app.join(&late, concert.id).await;
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a full line says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "queue_full").await;
    // Those in line keep their place: joining again is not refused by the cap.
    let again = app.join(&people[0].0, concert.id).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["position"], 1);
    let stats = app.queue_settings(concert.id).await;
    assert_eq!(stats["waiting"], 2);

    // Someone leaves: there is room again, at the back.
    assert_eq!(
        app.delete("/api/v1/queue", Some(&people[0].1))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let response = app.join(&late, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ticket: Value = response.json().await.unwrap();
    assert_eq!(ticket["position"], 2);

    // The admitted do not count against the line's cap.
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(ticket["token"].as_str().unwrap(), "active")
        .await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    app.line_up(concert.id, 2).await;
    let one_too_many = app.sign_up().await;
    assert_error(
        app.join(&one_too_many, concert.id).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_full",
    )
    .await;
}

#[sqlx::test]
async fn leaving_the_line_moves_the_others_up_and_a_rejoin_goes_to_the_back(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let people = app.line_up(concert.id, 4).await;

    assert_eq!(
        app.delete("/api/v1/queue", Some(&people[0].1))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let gone = app.status(&people[0].1).await;
    assert_eq!(
        (gone["status"].as_str(), gone["position"].as_u64()),
        (Some("expired"), Some(0))
    );
    for (i, (_, token)) in people.iter().enumerate().skip(1) {
        assert_eq!(app.status(token).await["position"], i as u64);
    }
    // The old token can leave only once.
    assert_error(
        app.delete("/api/v1/queue", Some(&people[0].1)).await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;

    let response = app.join(&people[0].0, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let rejoined: Value = response.json().await.unwrap();
    assert_ne!(rejoined["token"], json!(people[0].1));
    assert_eq!(rejoined["position"], 4);
    assert_eq!(rejoined["status"], "waiting");
    // The old token stays expired next to the new one.
    assert_eq!(app.status(&people[0].1).await["status"], "expired");
    assert_eq!(
        app.status(rejoined["token"].as_str().unwrap()).await["position"],
        4
    );
}

#[sqlx::test]
async fn giving_up_an_admission_ends_it_frees_its_seats_and_a_rejoin_starts_over(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (user, token) = app.admitted_user(concert.id, 0).await;
    let held = app.hold_ok(&token, schedule, &[2, 3]).await;

    assert_eq!(
        app.delete("/api/v1/queue", Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.status(&token).await["status"], "expired");
    assert_error(
        app.hold(&token, schedule, &[4]).await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;
    // The hold went with the admission.
    let (_, other) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.seats_in_state(&other, schedule, "held").await,
        [0i64; 0]
    );
    assert_error(
        app.get(
            &format!("/api/v1/reservations/{}", uuid(&held["reservation_id"])),
            Some(&other),
        )
        .await,
        StatusCode::NOT_FOUND,
        "reservation_not_found",
    )
    .await;

    // Back in line, behind the people who came meanwhile, with a new token.
    app.set_queue(concert.id, json!({"paused": true})).await;
    let meanwhile = app.line_up(concert.id, 2).await;
    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ticket: Value = response.json().await.unwrap();
    assert_ne!(ticket["token"], json!(token));
    assert_eq!(ticket["status"], "waiting");
    assert_eq!(ticket["position"], 3);
    app.set_queue(concert.id, json!({"paused": false})).await;
    let new_token = ticket["token"].as_str().unwrap();
    app.wait_for_status(new_token, "active").await;
    assert_eq!(app.status(&meanwhile[1].1).await["status"], "active");
    app.hold_ok(new_token, schedule, &[2, 3]).await;
}

#[sqlx::test]
async fn an_admission_ends_after_its_active_ttl_and_a_rejoin_gets_a_new_token(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.active_ttl_seconds = 1)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (user, token) = app.admitted_user(concert.id, 0).await;
    let ticket = app.status(&token).await;
    assert!(
        ticket["active_remaining_seconds"].as_u64().unwrap() <= 1,
        "{ticket}"
    );

    let ended = app.wait_for_status(&token, "expired").await;
    assert_eq!(ended["position"], 0);
    assert_eq!(ended["active_remaining_seconds"], 0);
    assert_error(
        app.hold(&token, schedule, &[1]).await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;
    assert_error(
        app.get(&format!("/api/v1/schedules/{schedule}/seats"), Some(&token))
            .await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;

    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let rejoined: Value = response.json().await.unwrap();
    let new_token = rejoined["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    app.wait_for_status(&new_token, "active").await;
    assert_eq!(app.status(&token).await["status"], "expired");
    app.hold_ok(&new_token, schedule, &[1]).await;
}

#[sqlx::test]
async fn an_operator_shortens_the_admission_at_run_time(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (_, long) = app.admitted_user(concert.id, 0).await;
    assert!(
        app.status(&long).await["active_remaining_seconds"]
            .as_u64()
            .unwrap()
            > 500
    );

    app.set_queue(concert.id, json!({"active_ttl_seconds": 1}))
        .await;
    let (_, short) = app.admitted_user(concert.id, 0).await;
    assert!(
        app.status(&short).await["active_remaining_seconds"]
            .as_u64()
            .unwrap()
            <= 1
    );
    app.wait_for_status(&short, "expired").await;
    // An admission given before the change keeps its time.
    assert_eq!(app.status(&long).await["status"], "active");
}

#[sqlx::test]
async fn a_spent_token_cannot_give_up_the_place_of_the_new_one(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (user, spent) = app.admitted_user(concert.id, 200_000).await;
    let held = app.hold_ok(&spent, schedule, &[1]).await;
    assert_eq!(
        app.pay(&spent, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    let current = app.join_token(&user, concert.id).await;
    app.wait_for_status(&current, "active").await;
    let holding = app.hold_ok(&current, schedule, &[2, 3]).await;

    // An old tab still has the spent token and presses "leave".
    assert_error(
        app.delete("/api/v1/queue", Some(&spent)).await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;
    // Refused, and nothing changed: the new admission and its seats stand.
    assert_eq!(app.status(&current).await["status"], "active");
    assert_eq!(app.seats_in_state(&current, schedule, "held").await, [2, 3]);
    let response = app
        .get(
            &format!("/api/v1/reservations/{}", uuid(&holding["reservation_id"])),
            Some(&current),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[sqlx::test]
async fn a_new_line_starts_with_an_empty_bucket(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.queue_defaults.admit_per_second = 2)
        .spawn()
        .await;
    let people = join_all((0..8).map(|_| app.sign_up())).await;
    let created = Instant::now();
    let concert = app.create_concert(1, 10).await;
    let mut tokens = Vec::new();
    for user in &people {
        tokens.push(app.join_token(user, concert.id).await);
    }
    let tickets = statuses_back_to_front(&app, &tokens).await;
    let elapsed = created.elapsed().as_secs_f64();
    let admitted = assert_admitted_in_arrival_order(&tickets);
    // A bucket that started full would have let two in at once.
    assert!(
        admitted as f64 <= 2.0 * elapsed + 1.0,
        "{admitted} admitted within {elapsed:.2} s of the line opening at 2 a second"
    );
    app.wait_for_status(&tokens[1], "active").await;
}

#[sqlx::test]
async fn an_idle_bucket_saves_up_at_most_one_second_of_admissions(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"admit_per_second": 2}))
        .await;
    let people = join_all((0..10).map(|_| app.sign_up())).await;
    // The line stays empty for well over a second: the bucket fills to its cap.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let first_join = Instant::now();
    let mut tokens = Vec::new();
    for user in &people {
        tokens.push(app.join_token(user, concert.id).await);
    }
    let tickets = statuses_back_to_front(&app, &tokens).await;
    let elapsed = first_join.elapsed().as_secs_f64();
    let admitted = assert_admitted_in_arrival_order(&tickets);
    // At most one second's worth saved (2), plus the rate since, plus an edge.
    assert!(
        admitted as f64 <= 2.0 + 2.0 * elapsed + 1.0,
        "{admitted} admitted within {elapsed:.2} s after 2.5 s idle at 2 a second"
    );
    // The saved-up admissions are used at once.
    app.wait_for_status(&tokens[1], "active").await;
}
