//! Several lineup servers as separate processes (the real binary, each on its
//! own port) against one Redis prefix and one PostgreSQL database, as a sale
//! runs them behind a load balancer: admission stays at the configured rate
//! for all of them together, a seat raced from every server has one winner,
//! and a person may move between servers at every step. Also the admission
//! loop of a server living through a Redis outage.

mod support;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use support::*;

/// `n` servers on the test's database and the shared Redis, one prefix.
async fn fleet(db: &PgPool, n: usize, extra: &[&str]) -> Vec<Server> {
    let builder = Server::builder(db).args(extra);
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(builder.start().await);
    }
    servers
}

/// The concert's admitted count as one server reads it, and when.
async fn active_now(server: &Server, concert: uuid::Uuid) -> (u64, Instant) {
    let queue = server.queue_settings(concert).await;
    (queue["active"].as_u64().unwrap(), Instant::now())
}

#[sqlx::test]
async fn three_servers_together_admit_at_the_configured_rate(db: PgPool) {
    const RATE: u64 = 30;
    const PEOPLE: usize = 300;
    let servers = fleet(&db, 3, &["--admit-interval", "100ms"]).await;
    let concert = servers[0].create_concert(1, 10).await.id;
    servers[0]
        .set_queue(
            concert,
            json!({"paused": true, "admit_per_second": RATE, "max_active": 100_000}),
        )
        .await;
    // The line fills through every server (each learns of the concert so).
    futures::stream::iter((0..PEOPLE).map(|i| {
        let server = &servers[i % servers.len()];
        async move {
            let user = server.sign_up().await;
            server.join_ticket(&user, concert).await
        }
    }))
    .buffer_unordered(12)
    .collect::<Vec<_>>()
    .await;
    assert_eq!(servers[1].queue_settings(concert).await["waiting"], PEOPLE);

    servers[2]
        .set_queue(concert, json!({"paused": false}))
        .await;
    // From the first admission on, every server's admit loop draws on the one
    // bucket: count what all of them admitted over a few seconds.
    eventually(Duration::from_secs(10), "the first admission", || async {
        (active_now(&servers[0], concert).await.0 > 0).then_some(())
    })
    .await;
    let (before, started) = active_now(&servers[0], concert).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (after, ended) = active_now(&servers[1], concert).await;
    let queue = servers[2].queue_settings(concert).await;
    assert!(
        queue["waiting"].as_u64().unwrap() > 0,
        "the line never ran dry, so the rate was the only limit: {queue}"
    );

    let admitted = (after - before) as f64;
    let expected = RATE as f64 * ended.duration_since(started).as_secs_f64();
    eprintln!("three servers admitted {admitted} where {expected:.1} was the rate's share");
    assert!(
        (admitted - expected).abs() <= 0.1 * expected,
        "three servers admitted {admitted} in {:?}, {expected:.1} expected at {RATE}/s",
        ended.duration_since(started)
    );
}

#[sqlx::test]
async fn a_seat_raced_from_every_server_has_exactly_one_winner(db: PgPool) {
    let servers = fleet(&db, 3, &["--admit-interval", "10ms"]).await;
    let TestConcert {
        id: concert,
        schedules,
    } = servers[0].create_concert(1, 5).await;
    let schedule = schedules[0];
    let mut people = Vec::new();
    for i in 0..12 {
        let server = &servers[i % servers.len()];
        people.push((
            i % servers.len(),
            server.admitted_user(concert, 100_000).await,
        ));
    }

    let attempts = futures::future::join_all(
        people
            .iter()
            .map(|(at, (_, token))| servers[*at].hold(token, schedule, &[3])),
    )
    .await;
    let mut winners = Vec::new();
    for (response, (at, (user, token))) in attempts.into_iter().zip(&people) {
        match response.status() {
            StatusCode::CREATED => {
                let held: Value = response.json().await.unwrap();
                winners.push((*at, user.id, token.clone(), held));
            }
            StatusCode::CONFLICT => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "seat_unavailable", "{body}");
                assert_eq!(body["seat_nos"], json!([3]));
            }
            other => panic!("a hold answered {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "one hold of seat 3 wins: {winners:?}");

    // The winner pays through another server; the seat reads sold everywhere.
    let (at, winner, token, held) = &winners[0];
    let payer = &servers[(at + 1) % servers.len()];
    let paid = payer
        .pay(token, uuid(&held["reservation_id"]), 50_000)
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    for (at, (user, token)) in &people {
        if user.id == *winner {
            continue;
        }
        let server = &servers[(at + 2) % servers.len()];
        assert_eq!(server.seats_in_state(token, schedule, "sold").await, [3]);
        assert_eq!(
            server.hold(token, schedule, &[3]).await.status(),
            StatusCode::CONFLICT
        );
    }
    let tickets: Vec<i32> = sqlx::query_scalar("SELECT seat_no FROM tickets")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(tickets, [3]);
    assert_money_invariants(&db).await;
}

#[sqlx::test]
async fn a_person_joins_on_one_server_polls_on_another_and_pays_on_a_third(db: PgPool) {
    let servers = fleet(&db, 3, &["--admit-interval", "10ms"]).await;
    let TestConcert {
        id: concert,
        schedules,
    } = servers[0].create_concert(1, 10).await;
    let user = servers[1].sign_up().await;
    assert_eq!(
        servers[2].charge(&user, 80_000).await.status(),
        StatusCode::OK
    );

    let ticket = servers[0].join_ticket(&user, concert).await;
    let token = ticket["token"].as_str().unwrap().to_owned();
    // Joining again elsewhere is the same place (a fresh token for it).
    let again = servers[2].join_ticket(&user, concert).await;
    assert_eq!(
        claims_of(again["token"].as_str().unwrap())["jti"],
        claims_of(&token)["jti"]
    );
    let active = servers[1].wait_for_status(&token, "active").await;
    assert_eq!(active["user_id"], json!(user.id));

    let held = servers[2].hold(&token, schedules[0], &[4, 5]).await;
    assert_eq!(held.status(), StatusCode::CREATED);
    let held: Value = held.json().await.unwrap();
    let reservation = uuid(&held["reservation_id"]);
    let read: Value = servers[0]
        .get(&format!("/api/v1/reservations/{reservation}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, held);
    // Too little money: 100,000 due, 80,000 there. Charging more is refused
    // anywhere while the seats are held.
    assert_eq!(
        servers[1].charge(&user, 50_000).await.status(),
        StatusCode::CONFLICT
    );
    let paid = servers[2].pay(&token, reservation, 100_000).await;
    assert_eq!(paid.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(servers[0].status(&token).await["status"], "expired");

    // Again, from the start, on other servers: this time it is paid.
    assert_eq!(
        servers[0].charge(&user, 20_000).await.status(),
        StatusCode::OK
    );
    let again = servers[1].join_ticket(&user, concert).await;
    let token = again["token"].as_str().unwrap().to_owned();
    servers[2].wait_for_status(&token, "active").await;
    let held: Value = servers[0]
        .hold(&token, schedules[0], &[4, 5])
        .await
        .json()
        .await
        .unwrap();
    let paid = servers[1]
        .pay(&token, uuid(&held["reservation_id"]), 100_000)
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["balance"], 0);
    assert_eq!(servers[2].status(&token).await["status"], "expired");
    assert_eq!(servers[0].payment_history(&user).await, [paid]);
    assert_eq!(servers[2].balance(&user).await, 0);
    assert_money_invariants(&db).await;
}

#[sqlx::test]
async fn the_admission_loop_lives_through_a_redis_outage_and_logs_it_once(db: PgPool) {
    // The single Redis behind a proxy the test cuts; two seconds of outage are
    // forty admit ticks at 50 ms.
    let proxy = ChaosProxy::to_redis().await;
    let server = Server::builder(&db)
        .redis_url(&format!("redis://127.0.0.1:{}", proxy.port()))
        .args(&["--admit-interval", "50ms", "--redis-timeout", "300ms"])
        .start()
        .await;
    let concert = server.create_concert(1, 10).await.id;
    server.admitted_user(concert, 0).await;

    proxy.cut();
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    eventually(Duration::from_secs(20), "admission resumes", || {
        let resumed = server
            .log_lines()
            .iter()
            .any(|line| line.contains("admission resumed"));
        async move { resumed.then_some(()) }
    })
    .await;
    // Still admitting after the outage.
    server.admitted_user(concert, 0).await;

    let log = server.log_lines();
    let count = |what: &str| log.iter().filter(|line| line.contains(what)).count();
    assert_eq!(count("admission stopped"), 1, "{log:#?}");
    assert_eq!(count("admission resumed"), 1, "{log:#?}");
}
