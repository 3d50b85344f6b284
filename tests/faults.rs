//! The failures a sale night brings, each against real `lineup serve`
//! processes: Redis restarted with its data gone, a server killed with SIGKILL
//! in the middle of payments, a server stopped gracefully with requests in
//! flight. (PostgreSQL going away is `tests/api/dependency_outage.rs`: the line
//! keeps moving, charges and payments get 503 with Redis untouched, and all
//! works again once it is back.) Each test prints what it saw.

mod support;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;
use support::*;
use uuid::Uuid;

/// A person's money as PostgreSQL has it: (balance, payments, payment debits).
async fn money_of(db: &PgPool, user: Uuid) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT balance FROM wallets WHERE user_id = $1),
                (SELECT count(*) FROM payments WHERE user_id = $1),
                (SELECT count(*) FROM ledger WHERE user_id = $1 AND kind = 'payment')",
    )
    .bind(user)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn sold_seats(db: &PgPool) -> Vec<i32> {
    sqlx::query_scalar("SELECT seat_no FROM tickets ORDER BY seat_no")
        .fetch_all(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn redis_restarted_empty_mid_sale_loses_no_sale_and_no_payment(db: PgPool) {
    let mut redis = OwnRedis::start().await;
    let fleet = Server::builder(&db).redis_url(&redis.url()).args(&[
        "--admit-interval",
        "10ms",
        "--redis-timeout",
        "500ms",
    ]);
    let servers = [fleet.start().await, fleet.start().await];
    let concert = servers[0].create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let concert = concert.id;

    // Before: A bought seats 1 and 2, B holds seat 3 unpaid, C waits in line.
    let (buyer, buyer_token) = servers[0].admitted_user(concert, 100_000).await;
    let held: Value = servers[1]
        .hold(&buyer_token, schedule, &[1, 2])
        .await
        .json()
        .await
        .unwrap();
    let paid = servers[0]
        .pay(&buyer_token, uuid(&held["reservation_id"]), 100_000)
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let paid: Value = paid.json().await.unwrap();
    let (holder, holder_token) = servers[1].admitted_user(concert, 50_000).await;
    assert_eq!(
        servers[0]
            .hold(&holder_token, schedule, &[3])
            .await
            .status(),
        StatusCode::CREATED
    );
    servers[0].set_queue(concert, json!({"paused": true})).await;
    let waiter = servers[1].sign_up().await;
    assert_eq!(
        servers[1].charge(&waiter, 50_000).await.status(),
        StatusCode::OK
    );
    let ticket = servers[1].join_ticket(&waiter, concert).await;
    assert_eq!(ticket["status"], "waiting");
    let waiter_token = ticket["token"].as_str().unwrap().to_owned();

    redis.restart_empty().await;

    // Both servers reconnect by themselves; every place in line is gone.
    for (server, token) in [
        (&servers[0], &waiter_token),
        (&servers[1], &holder_token),
        (&servers[0], &buyer_token),
    ] {
        let ticket = eventually(
            Duration::from_secs(20),
            "the server answers again",
            || async {
                let response = server.get("/api/v1/queue/status", Some(token)).await;
                match response.status() {
                    StatusCode::OK => Some(response.json::<Value>().await.unwrap()),
                    StatusCode::SERVICE_UNAVAILABLE => None,
                    other => panic!("status answered {other}"),
                }
            },
        )
        .await;
        assert_eq!(ticket["status"], "expired", "{ticket}");
    }
    // The operator's pause outlives Redis (settings are kept in PostgreSQL
    // too); the operator resumes the sale.
    servers[1]
        .set_queue(concert, json!({"paused": false}))
        .await;

    // The waiting person joins again and gets a new place and token.
    let again = servers[0].join_ticket(&waiter, concert).await;
    let new_token = again["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, waiter_token);
    servers[1].wait_for_status(&new_token, "active").await;
    // Sold seats came back from PostgreSQL; the unpaid hold is gone.
    assert_eq!(
        servers[0]
            .seats_in_state(&new_token, schedule, "sold")
            .await,
        [1, 2]
    );
    let refused = servers[1].hold(&new_token, schedule, &[2]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let held: Value = servers[1]
        .hold(&new_token, schedule, &[3])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        servers[0]
            .pay(&new_token, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );

    // No payment lost, nobody charged for the lost hold.
    assert_eq!(servers[1].payment_history(&buyer).await, [paid]);
    assert_eq!(servers[0].balance(&holder).await, 50_000);
    assert_eq!(money_of(&db, holder.id).await, (50_000, 0, 0));
    assert_eq!(sold_seats(&db).await, [1, 2, 3]);
    assert_money_invariants(&db).await;
    eprintln!(
        "redis restart: waiting, holding and paid tickets read expired; seats 1-2 reloaded as sold; \
         the lost hold of seat 3 came free and sold to the re-joined person; payments intact"
    );
}

/// Pays through `server` with an Idempotency-Key: (status, body, whether it
/// was a replay); `None` when the server is gone before it answers.
async fn pay_keyed(
    server: &Server,
    client: &reqwest::Client,
    token: &str,
    reservation: Uuid,
    key: &str,
) -> Option<(StatusCode, Value, bool)> {
    let response = client
        .post(server.url("/api/v1/payments"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"reservation_id": reservation, "amount": 50_000}))
        .send()
        .await
        .ok()?;
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    Some((status, response.json().await.ok()?, replayed))
}

#[sqlx::test]
async fn a_server_killed_mid_payments_sells_no_seat_twice_and_loses_no_money(db: PgPool) {
    const PEOPLE: usize = 24;
    let fleet = Server::builder(&db).args(&["--admit-interval", "10ms", "--payment-timeout", "2s"]);
    let mut doomed = fleet.start().await;
    let survivor = fleet.start().await;
    // One seat more than payers: with every seat sold the line would read
    // sold_out and admit nobody, and the check at the end needs one more person in.
    let concert = survivor.create_concert(1, PEOPLE as u32 + 1).await;
    let schedule = concert.schedules[0];
    let concert = concert.id;

    // Everyone holds a seat of their own (seat i + 1) through the survivor.
    let mut people = Vec::new();
    for seat in 1..=PEOPLE as i64 {
        let (user, token) = survivor.admitted_user(concert, 100_000).await;
        let held: Value = survivor
            .hold(&token, schedule, &[seat])
            .await
            .json()
            .await
            .unwrap();
        people.push((user, token, uuid(&held["reservation_id"]), seat));
    }

    // They pay through the doomed server, four at a time; it is killed
    // (SIGKILL: no shutdown at all) once a few payments have committed.
    let client = reqwest::Client::new();
    let paying = futures::stream::iter(people.iter().enumerate().map(|(i, person)| {
        let (client, doomed) = (&client, &doomed);
        async move {
            let (_, token, reservation, _) = person;
            pay_keyed(doomed, client, token, *reservation, &format!("pay-{i}")).await
        }
    }))
    .buffered(4)
    .collect::<Vec<_>>();
    let killer = async {
        eventually(Duration::from_secs(30), "a few payments commit", || async {
            let paid: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
                .fetch_one(&db)
                .await
                .unwrap();
            (paid >= 6).then_some(())
        })
        .await;
        doomed.signal("-KILL");
    };
    let (first_answers, ()) = tokio::join!(paying, killer);
    assert!(!doomed.wait_exit(Duration::from_secs(10)).await.success());

    // Whoever got no answer retries with the same key on the survivor.
    let (mut answered, mut replayed, mut paid_now, mut in_limbo) = (0, 0, 0, 0);
    for (i, ((user, token, reservation, seat), first)) in
        people.iter().zip(&first_answers).enumerate()
    {
        let payment = match first {
            Some((status, body, _)) => {
                assert_eq!(*status, StatusCode::CREATED, "{body}");
                answered += 1;
                Some(body.clone())
            }
            None => {
                let retry = pay_keyed(&survivor, &client, token, *reservation, &format!("pay-{i}"))
                    .await
                    .expect("the survivor answers");
                match retry.0 {
                    // Replayed (the dead server had committed it) or paid now.
                    StatusCode::CREATED if retry.2 => {
                        replayed += 1;
                        Some(retry.1)
                    }
                    StatusCode::CREATED => {
                        paid_now += 1;
                        Some(retry.1)
                    }
                    // Killed between claiming the reservation and committing:
                    // nothing was paid; the claim lapses after the payment
                    // timeout (a later retry takes it over and pays).
                    StatusCode::CONFLICT => {
                        assert_eq!(
                            retry.1["error"]["code"], "payment_in_progress",
                            "{}",
                            retry.1
                        );
                        in_limbo += 1;
                        None
                    }
                    other => panic!("the retry answered {other}: {}", retry.1),
                }
            }
        };
        let (balance, payments, debits) = money_of(&db, user.id).await;
        match payment {
            Some(payment) => {
                assert_eq!((balance, payments, debits), (50_000, 1, 1));
                assert_eq!(payment["seat_nos"], json!([seat]));
                assert_eq!(payment["balance"], 50_000);
                let listed = survivor.payment_history(user).await;
                assert_eq!(listed[0]["payment_id"], payment["payment_id"]);
            }
            None => assert_eq!((balance, payments, debits), (100_000, 0, 0)),
        }
    }

    // Every sold seat reads sold on the survivor, and nobody else can hold it.
    let sold = sold_seats(&db).await;
    let (_, viewer) = survivor.admitted_user(concert, 100_000).await;
    let shown = survivor.seats_in_state(&viewer, schedule, "sold").await;
    assert_eq!(
        shown,
        sold.iter().map(|&s| i64::from(s)).collect::<Vec<_>>()
    );
    for seat in &sold {
        assert_eq!(
            survivor
                .hold(&viewer, schedule, &[i64::from(*seat)])
                .await
                .status(),
            StatusCode::CONFLICT
        );
    }
    assert_money_invariants(&db).await;
    eprintln!(
        "SIGKILL mid-payments: {answered} answered 201 before the kill, {replayed} committed by the dead \
         server and replayed on retry elsewhere (same Idempotency-Key), {paid_now} paid on retry, {in_limbo} killed before commit (409 payment_in_progress, \
         nothing debited); {} seats sold once each",
        sold.len()
    );
}

#[sqlx::test]
async fn a_graceful_stop_finishes_requests_in_flight_while_new_ones_go_elsewhere(db: PgPool) {
    let fleet = Server::builder(&db).args(&["--database-statement-timeout", "60s"]);
    let mut stopping = fleet.start().await;
    let other = fleet.start().await;
    let user = stopping.sign_up().await;

    // A charge that stays in flight: something else holds the wallet's lock.
    let mut blocker = db.begin().await.unwrap();
    sqlx::query("SELECT balance FROM wallets WHERE user_id = $1 FOR UPDATE")
        .bind(user.id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let in_flight = tokio::spawn({
        let (client, url) = (
            reqwest::Client::new(),
            stopping.url(&format!("/api/v1/users/{}/balance/charge", user.id)),
        );
        let access = user.access_token.clone();
        async move {
            let response = client
                .post(url)
                .bearer_auth(access)
                .json(&json!({"amount": 7_000}))
                .send()
                .await
                .expect("the request in flight is answered");
            (response.status(), response.json::<Value>().await.unwrap())
        }
    });
    eventually(
        Duration::from_secs(10),
        "the charge waits on the lock",
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            (waiting > 0).then_some(())
        },
    )
    .await;

    stopping.signal("-TERM");
    // New connections are refused at once; a load balancer sends them to the
    // other server, which serves them.
    eventually(
        Duration::from_secs(10),
        "new connections refused",
        || async {
            let fresh = reqwest::Client::new();
            fresh
                .get(stopping.url("/healthz"))
                .send()
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
    let newcomer = other.sign_up().await;
    assert_eq!(
        other.charge(&newcomer, 3_000).await.status(),
        StatusCode::OK
    );

    // The request in flight finishes once the lock is gone; then the server exits cleanly.
    blocker.rollback().await.unwrap();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["balance"], 7_000);
    assert!(stopping.wait_exit(Duration::from_secs(30)).await.success());
    assert_eq!(other.balance(&user).await, 7_000);
    assert_money_invariants(&db).await;
    let log = stopping.log_lines().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    eprintln!(
        "SIGTERM: the charge in flight finished with 200 after the signal; new work went to the other server"
    );
}
