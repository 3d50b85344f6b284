//! Concurrency: many requests at once for one seat, one balance, one
//! reservation, one place in line; the books must balance after every race.

use crate::support::*;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::{BTreeSet, HashSet};

async fn status_and_body(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body)
}

#[sqlx::test]
async fn two_hundred_people_race_for_one_seat_and_exactly_one_gets_it(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let racers = join_all((0..200).map(|_| app.admitted_user(concert.id, 100_000))).await;

    let outcomes = join_all(
        racers
            .iter()
            .map(|(_, token)| app.hold(token, schedule, &[7])),
    )
    .await;
    let mut winners = Vec::new();
    for (i, response) in outcomes.into_iter().enumerate() {
        if response.status() == StatusCode::CREATED {
            winners.push((i, response.json::<Value>().await.unwrap()));
        } else {
            let body = assert_error(response, StatusCode::CONFLICT, "seat_unavailable").await;
            assert_eq!(body["seat_nos"], json!([7]));
        }
    }
    assert_eq!(winners.len(), 1, "{} held seat 7", winners.len());
    let (winner, held) = &winners[0];
    assert_eq!(
        app.seats_in_state(&racers[0].1, schedule, "held").await,
        [7]
    );

    // The winner pays; everyone else still cannot have the seat.
    let token = &racers[*winner].1;
    assert_eq!(
        app.pay(token, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    let loser = &racers[(winner + 1) % racers.len()].1;
    assert_eq!(app.seats_in_state(loser, schedule, "sold").await, [7]);
    assert_error(
        app.hold(loser, schedule, &[7]).await,
        StatusCode::CONFLICT,
        "seat_unavailable",
    )
    .await;
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(tickets, 1);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn a_hundred_concurrent_charges_of_one_balance_all_count(db: PgPool) {
    let app = spawn_app(db).await;
    let user = app.sign_up().await;
    let bystander = app.sign_up().await;
    let amounts: Vec<i64> = (0..100).map(|i| 1_000 + 37 * i).collect();
    let responses = join_all(
        amounts
            .iter()
            .map(|amount| app.charge(&user, *amount))
            .chain([app.charge(&bystander, 5_000)]),
    )
    .await;
    let mut balances_seen = BTreeSet::new();
    for response in responses.into_iter().take(amounts.len()) {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        // Each charge saw its own balance: no two answered the same one.
        assert!(balances_seen.insert(body["balance"].as_i64().unwrap()));
    }
    let expected: i64 = amounts.iter().sum();
    assert_eq!(app.balance(&user).await, expected);
    assert_eq!(balances_seen.last().copied(), Some(expected));
    assert_eq!(app.balance(&bystander).await, 5_000);
    let (entries, sum): (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum(amount)::bigint FROM ledger WHERE user_id = $1 AND kind = 'charge'",
    )
    .bind(user.id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((entries, sum), (100, expected));
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn one_reservation_paid_ten_times_at_once_is_paid_and_debited_once(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    for round in 0..3 {
        let (user, token) = app.admitted_user(concert.id, 300_000).await;
        let seats = [round * 3 + 1, round * 3 + 2];
        let held = app.hold_ok(&token, schedule, &seats).await;
        let reservation = uuid(&held["reservation_id"]);

        let responses = join_all((0..10).map(|_| app.pay(&token, reservation, 100_000))).await;
        let mut paid = 0;
        for response in responses {
            let (status, body) = status_and_body(response).await;
            if status == StatusCode::CREATED {
                paid += 1;
                assert_eq!(body["balance"], 200_000);
                continue;
            }
            // Still being paid; or paid already, so the reservation is gone
            // (or, checked first, the token it expired).
            let code = body["error"]["code"].as_str().unwrap_or_default();
            let expected = match status {
                StatusCode::CONFLICT => "payment_in_progress",
                StatusCode::NOT_FOUND => "reservation_not_found",
                StatusCode::FORBIDDEN => "token_revoked",
                other => panic!("round {round}: unexpected {other}: {body}"),
            };
            assert_eq!(code, expected, "round {round}: {body}");
        }
        assert_eq!(paid, 1, "round {round}");
        assert_eq!(app.balance(&user).await, 200_000);
        let (payments, debits): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM payments WHERE user_id = $1),
                    (SELECT count(*) FROM ledger WHERE user_id = $1 AND kind = 'payment')",
        )
        .bind(user.id)
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert_eq!((payments, debits), (1, 1), "round {round}");
    }
    let (_, viewer) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.seats_in_state(&viewer, schedule, "sold").await,
        [1, 2, 4, 5, 7, 8]
    );
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn overlapping_seat_sets_are_never_held_in_part(db: PgPool) {
    let app = spawn_app(db).await;
    let rounds = 25;
    let concert = app.create_concert(1, 5 * rounds).await;
    let schedule = concert.schedules[0];
    let pairs = join_all((0..rounds).map(|_| async {
        let (_, a) = app.admitted_user(concert.id, 0).await;
        let (_, b) = app.admitted_user(concert.id, 0).await;
        (a, b)
    }))
    .await;
    let sets: Vec<([i64; 3], [i64; 3])> = (0..rounds as i64)
        .map(|r| {
            let base = r * 5 + 1;
            ([base, base + 1, base + 2], [base + 2, base + 3, base + 4])
        })
        .collect();

    // Every round at once: a holds [b, b+1, b+2] while b holds [b+2, b+3, b+4].
    let app = &app;
    let outcomes = join_all(
        pairs
            .iter()
            .zip(&sets)
            .map(|((a, b), (sa, sb))| async move {
                let (first, second) =
                    tokio::join!(app.hold(a, schedule, sa), app.hold(b, schedule, sb));
                (first.status(), second.status())
            }),
    )
    .await;

    let mut should_be_held = BTreeSet::new();
    for (round, (outcome, (sa, sb))) in outcomes.iter().zip(&sets).enumerate() {
        match outcome {
            (StatusCode::CREATED, StatusCode::CONFLICT) => should_be_held.extend(sa),
            (StatusCode::CONFLICT, StatusCode::CREATED) => should_be_held.extend(sb),
            other => panic!("round {round}: {other:?}"),
        }
    }
    let held: BTreeSet<i64> = app
        .seats_in_state(&pairs[0].0, schedule, "held")
        .await
        .into_iter()
        .collect();
    assert_eq!(
        held, should_be_held,
        "the held seats are exactly the winners' sets"
    );
    assert_eq!(held.len(), 3 * rounds as usize);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn one_person_holding_from_many_tabs_gets_one_reservation(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 40).await;
    let (_, token) = app.admitted_user(concert.id, 0).await;
    // Eight tabs, each a different date or seats.
    let attempts: Vec<(uuid::Uuid, Vec<i64>)> = (0..8)
        .map(|i: i64| {
            (
                concert.schedules[(i % 2) as usize],
                vec![i * 4 + 1, i * 4 + 2],
            )
        })
        .collect();
    let responses = join_all(
        attempts
            .iter()
            .map(|(schedule, seats)| app.hold(&token, *schedule, seats)),
    )
    .await;
    let mut winner = None;
    let mut named = HashSet::new();
    for (i, response) in responses.into_iter().enumerate() {
        let (status, body) = status_and_body(response).await;
        match status {
            StatusCode::CREATED => {
                assert!(winner.is_none(), "two reservations");
                winner = Some((i, body));
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "reservation_exists", "{body}");
                named.insert(body["reservation_id"].as_str().unwrap().to_owned());
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (i, held) = winner.expect("one tab holds");
    // Every refusal names the one reservation that won.
    assert_eq!(
        named,
        HashSet::from([held["reservation_id"].as_str().unwrap().to_owned()])
    );
    let (schedule, seats) = &attempts[i];
    assert_eq!(app.seats_in_state(&token, *schedule, "held").await, *seats);
    let other = concert.schedules.iter().find(|s| *s != schedule).unwrap();
    assert_eq!(app.seats_in_state(&token, *other, "held").await, [0i64; 0]);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn joining_from_many_tabs_gives_each_person_one_place(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let people = join_all((0..10).map(|_| app.sign_up())).await;
    // Everyone joins five times at once.
    let responses = join_all(
        people
            .iter()
            .flat_map(|user| (0..5).map(move |_| user))
            .map(|user| app.join(user, concert.id)),
    )
    .await;
    let mut by_person: Vec<Vec<(StatusCode, Value)>> = vec![Vec::new(); people.len()];
    for (i, response) in responses.into_iter().enumerate() {
        let status = response.status();
        by_person[i / 5].push((status, response.json().await.unwrap()));
    }
    let mut positions = BTreeSet::new();
    for (person, answers) in by_person.iter().enumerate() {
        let created = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "person {person} got {created} new places");
        assert!(
            answers
                .iter()
                .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::OK)
        );
        // One place: every token names the same order number (`jti`); tokens
        // issued in different seconds differ in `iat`, so compare the places.
        let places: HashSet<String> = answers
            .iter()
            .map(|(_, t)| jti_of(t["token"].as_str().unwrap()))
            .collect();
        assert_eq!(places.len(), 1, "person {person} got several places");
        let ticket = app.status(answers[0].1["token"].as_str().unwrap()).await;
        positions.insert(ticket["position"].as_u64().unwrap());
    }
    assert_eq!(positions, (1..=10).collect::<BTreeSet<u64>>());
    let waiting = app.queue_settings(concert.id).await;
    assert_eq!(waiting["waiting"], 10);
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn paying_and_releasing_one_reservation_at_once_never_both_happen(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 40).await;
    let schedule = concert.schedules[0];
    let buyers = join_all((0..20).map(|_| app.admitted_user(concert.id, 100_000))).await;
    let app = &app;
    let outcomes = join_all(
        buyers
            .iter()
            .enumerate()
            .map(|(i, (user, token))| async move {
                let seats = [2 * i as i64 + 1, 2 * i as i64 + 2];
                let held = app.hold_ok(token, schedule, &seats).await;
                let reservation = uuid(&held["reservation_id"]);
                let path = format!("/api/v1/reservations/{reservation}");
                // One of the two starts a moment later, the one and the other
                // in turn, so that both orders happen across the rounds.
                let pause = |me: usize| async move {
                    if i % 2 == me {
                        tokio::time::sleep(std::time::Duration::from_millis(i as u64 % 4)).await;
                    }
                };
                let (paid, released) = tokio::join!(
                    async {
                        pause(0).await;
                        app.pay(token, reservation, 100_000).await
                    },
                    async {
                        pause(1).await;
                        app.delete(&path, Some(token)).await
                    }
                );
                let paid = status_and_body(paid).await;
                let released = released.status();
                (user, seats, paid, released)
            }),
    )
    .await;

    let (_, viewer) = app.admitted_user(concert.id, 0).await;
    let sold = app.seats_in_state(&viewer, schedule, "sold").await;
    let held = app.seats_in_state(&viewer, schedule, "held").await;
    assert_eq!(held, [0i64; 0], "a seat stayed held");
    for (user, seats, (paid, body), released) in outcomes {
        let balance = app.balance(user).await;
        match (paid, released) {
            (StatusCode::CREATED, StatusCode::CONFLICT | StatusCode::NOT_FOUND) => {
                assert_eq!(balance, 0);
                assert!(seats.iter().all(|s| sold.contains(s)), "{seats:?} not sold");
            }
            (StatusCode::NOT_FOUND, StatusCode::NO_CONTENT) => {
                assert_eq!(body["error"]["code"], "reservation_not_found");
                assert_eq!(balance, 100_000);
                assert!(seats.iter().all(|s| !sold.contains(s)), "{seats:?} sold");
            }
            other => panic!("pay and release answered {other:?}: {body}"),
        }
    }
    assert_money_invariants(&app.db).await;
}

#[sqlx::test]
async fn many_people_paying_and_charging_at_once_keep_the_books_straight(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app
        .create_concert_priced(2, 30, |n| 10_000 + 500 * i64::from(n))
        .await;
    let price = |n: i64| 10_000 + 500 * n;
    // Thirty buyers for thirty seats on each of two dates; every third cannot
    // afford their seats. Two seats each.
    let buyers = join_all(
        (0..30).map(|i| app.admitted_user(concert.id, if i % 3 == 2 { 20_000 } else { 60_000 })),
    )
    .await;
    let (app, schedules) = (&app, &concert.schedules);
    let holds = join_all(buyers.iter().enumerate().map(|(i, (_, token))| async move {
        let schedule = schedules[i % 2];
        let first = (i / 2) as i64 * 2 + 1;
        app.hold_ok(token, schedule, &[first, first + 1]).await
    }))
    .await;
    // Everyone pays at once, while others charge their balances.
    let chargers = join_all((0..10).map(|_| app.sign_up())).await;
    let (paid, charged) = tokio::join!(
        join_all(buyers.iter().zip(&holds).map(|((_, token), held)| {
            app.pay(
                token,
                uuid(&held["reservation_id"]),
                held["amount"].as_i64().unwrap(),
            )
        })),
        join_all(chargers.iter().map(|user| app.charge(user, 7_000)))
    );
    assert!(charged.iter().all(|r| r.status() == StatusCode::OK));

    let mut expected_sold = [BTreeSet::new(), BTreeSet::new()];
    for (i, response) in paid.into_iter().enumerate() {
        let seats: Vec<i64> = serde_json::from_value(holds[i]["seat_nos"].clone()).unwrap();
        let amount: i64 = seats.iter().map(|n| price(*n)).sum();
        let start = if i % 3 == 2 { 20_000 } else { 60_000 };
        let balance = app.balance(&buyers[i].0).await;
        if amount <= start {
            assert_eq!(response.status(), StatusCode::CREATED, "buyer {i}");
            assert_eq!(balance, start - amount, "buyer {i}");
            expected_sold[i % 2].extend(seats);
        } else {
            let body = assert_error(
                response,
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_balance",
            )
            .await;
            assert_eq!(
                (body["balance"].as_i64(), body["amount"].as_i64()),
                (Some(start), Some(amount))
            );
            assert_eq!(balance, start, "buyer {i}");
        }
    }
    let (_, viewer) = app.admitted_user(concert.id, 0).await;
    for (d, schedule) in concert.schedules.iter().enumerate() {
        let sold: BTreeSet<i64> = app
            .seats_in_state(&viewer, *schedule, "sold")
            .await
            .into_iter()
            .collect();
        assert_eq!(sold, expected_sold[d], "date {d}");
        assert_eq!(
            app.seats_in_state(&viewer, *schedule, "held").await,
            [0i64; 0]
        );
    }
    for user in &chargers {
        assert_eq!(app.balance(user).await, 7_000);
    }
    assert_money_invariants(&app.db).await;
}

/// The place (`jti`) a queue token names, read without verifying it.
fn jti_of(token: &str) -> String {
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .unwrap()
        .claims["jti"]
        .as_str()
        .unwrap()
        .to_owned()
}
