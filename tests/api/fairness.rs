//! Fairness (issue 7): idle waiters do not block the line, admission knows the
//! seats, estimates come from the measured rate, polling stays in a budget, and
//! the pre-queue's draw can be checked by anyone.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Polls every token once a second (never slower than its `poll_after_ms` asks)
/// for `how_long`, asserting each waiting ticket asks for polls at most a third
/// of the idle timeout apart.
async fn keep_polling(app: &TestApp, tokens: &[&str], how_long: Duration, idle_timeout_ms: u64) {
    let started = Instant::now();
    while started.elapsed() < how_long {
        for token in tokens {
            let ticket = app.status(token).await;
            if ticket["status"] == "waiting" {
                let poll = ticket["poll_after_ms"].as_u64().unwrap();
                assert!(
                    poll <= idle_timeout_ms / 3,
                    "poll_after_ms {poll} exceeds a third of the idle timeout"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[sqlx::test]
async fn an_idle_waiter_is_dropped_and_takes_no_admission_slot(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|c| c.queue_defaults.idle_timeout_seconds = 3)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    // Two admission slots in all, and three people in line: the first one leaves
    // their tab open but never polls.
    app.set_queue(concert.id, json!({"paused": true, "max_active": 2}))
        .await;
    let people = app.line_up(concert.id, 3).await;
    let (idle, present) = (&people[0].1, [people[1].1.as_str(), people[2].1.as_str()]);

    keep_polling(&app, &present, Duration::from_millis(4_000), 3_000).await;
    let dropped = app.status(idle).await;
    assert_eq!(dropped["status"], "expired", "{dropped}");
    metrics_show(
        &app,
        format!(
            "lineup_queue_idle_dropped_total{{concert=\"{}\"}} 1",
            concert.id
        ),
    )
    .await;
    assert_eq!(dropped["position"], 0);
    for (i, token) in present.iter().enumerate() {
        let ticket = app.status(token).await;
        assert_eq!(ticket["status"], "waiting");
        assert_eq!(ticket["position"], i as u64 + 1, "{ticket}");
    }

    app.set_queue(concert.id, json!({"paused": false})).await;
    for token in present {
        app.wait_for_status(token, "active").await;
    }
    assert_eq!(app.status(idle).await["status"], "expired");
    // Joining again is a new place at the back, with a new token.
    let rejoined = app.join(&people[0].0, concert.id).await;
    assert_eq!(rejoined.status(), StatusCode::CREATED);
    let rejoined: Value = rejoined.json().await.unwrap();
    assert_ne!(rejoined["token"].as_str(), Some(idle.as_str()));
}

#[sqlx::test]
async fn a_waiter_who_polls_stays_in_line_however_long_the_wait(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|c| c.queue_defaults.idle_timeout_seconds = 3)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let people = app.line_up(concert.id, 2).await;
    let tokens = [people[0].1.as_str(), people[1].1.as_str()];
    // Twice the idle timeout, polling as asked.
    keep_polling(&app, &tokens, Duration::from_millis(6_000), 3_000).await;
    for (i, token) in tokens.iter().enumerate() {
        let ticket = app.status(token).await;
        assert_eq!(ticket["status"], "waiting");
        assert_eq!(ticket["position"], i as u64 + 1);
    }
}

#[sqlx::test]
async fn the_fairness_settings_have_defaults_and_ranges(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let path = format!("/admin/v1/concerts/{}/queue", concert.id);
    let settings: Value = app
        .get(&path, Some(ADMIN_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["idle_timeout_seconds"], 120);
    // The test harness admits up to 100 x the free seats (config.rs's unit tests
    // check the default of 2).
    assert_eq!(settings["admit_seat_factor"], 100.0);
    assert_eq!(settings["poll_budget_per_second"], 20_000);

    for bad in [
        json!({"idle_timeout_seconds": 2}),
        json!({"idle_timeout_seconds": 86_401}),
        json!({"admit_seat_factor": 0}),
        json!({"admit_seat_factor": -1.5}),
        json!({"admit_seat_factor": 101}),
        json!({"poll_budget_per_second": 0}),
    ] {
        let response = app
            .request(Method::PUT, &path, Some(ADMIN_TOKEN), Some(bad.clone()))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_settings").await;
    }
    app.set_queue(
        concert.id,
        json!({"idle_timeout_seconds": 30, "admit_seat_factor": 1.5, "poll_budget_per_second": 500}),
    )
    .await;
    let settings: Value = app
        .get(&path, Some(ADMIN_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["idle_timeout_seconds"], 30);
    assert_eq!(settings["admit_seat_factor"], 1.5);
    assert_eq!(settings["poll_budget_per_second"], 500);
    // A waiting ticket then asks for polls at most 10 s apart.
    app.set_queue(concert.id, json!({"paused": true})).await;
    let user = app.sign_up().await;
    let token = app.join_token(&user, concert.id).await;
    assert!(app.status(&token).await["poll_after_ms"].as_u64().unwrap() <= 10_000);
}

/// Waits until the server's `/metrics` has `line` (a whole sample line).
async fn metrics_show(app: &TestApp, line: String) {
    let url = format!(
        "http://{}/metrics",
        app.metrics_addr.expect("a metrics listener")
    );
    eventually(Duration::from_secs(5), &line, || {
        let (url, line) = (url.clone(), line.clone());
        async move {
            let text = reqwest::get(url).await.ok()?.text().await.ok()?;
            text.lines().any(|l| l == line).then_some(())
        }
    })
    .await;
}

/// Reads every token's ticket; returns (status, position) pairs.
async fn standings(app: &TestApp, tokens: &[String]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for token in tokens {
        let ticket = app.status(token).await;
        out.push((
            ticket["status"].as_str().unwrap().to_owned(),
            ticket["position"].as_u64().unwrap(),
        ));
    }
    out
}

#[sqlx::test]
async fn a_line_reads_sold_out_while_every_seat_is_held_and_waits_again_in_order_when_holds_end(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 2).await;
    app.set_queue(
        concert.id,
        json!({"hold_ttl_seconds": 2, "admit_seat_factor": 2.0}),
    )
    .await;
    let (_, holder) = app.admitted_user(concert.id, 0).await;
    app.hold_ok(&holder, concert.schedules[0], &[1, 2]).await;

    // Every seat is held: those who join now read sold_out at once (within an
    // admit tick), keep their places, and nobody is admitted.
    let people = app.line_up(concert.id, 3).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    let sold_out = eventually(
        Duration::from_secs(5),
        "the line reads sold_out",
        || async {
            let now = standings(&app, &tokens).await;
            now.iter().all(|(s, _)| s == "sold_out").then_some(now)
        },
    )
    .await;
    assert_eq!(
        sold_out.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let ticket = app.status(&tokens[0]).await;
    assert_eq!(ticket["estimated_wait_seconds"], 0, "{ticket}");
    assert!(ticket["poll_after_ms"].as_u64().unwrap() >= 1_000);
    metrics_show(
        &app,
        format!("lineup_queue_sold_out{{concert=\"{}\"}} 1", concert.id),
    )
    .await;
    let late = app.sign_up().await;
    let joined: Value = app.join(&late, concert.id).await.json().await.unwrap();
    assert_eq!(joined["status"], "sold_out", "{joined}");
    assert_eq!(joined["position"], 4);

    // Pause, so the order can be read before anyone is admitted again; the
    // holds end and the seats come back.
    app.set_queue(concert.id, json!({"paused": true})).await;
    let back = eventually(Duration::from_secs(6), "the line waits again", || async {
        let now = standings(&app, &tokens).await;
        now.iter().all(|(s, _)| s == "waiting").then_some(now)
    })
    .await;
    assert_eq!(
        back.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        [1, 2, 3],
        "the old order"
    );
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&tokens[0], "active").await;
}

#[sqlx::test]
async fn a_sale_admits_no_more_shoppers_than_free_seats_times_the_factor(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 3).await;
    // Three free seats x 1.0: three shoppers at most, whatever the rate.
    app.set_queue(
        concert.id,
        json!({"admit_seat_factor": 1.0, "paused": true}),
    )
    .await;
    let people = app.line_up(concert.id, 6).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    app.set_queue(concert.id, json!({"paused": false})).await;
    for token in &tokens[..3] {
        app.wait_for_status(token, "active").await;
    }
    // Many ticks later, still three.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = standings(&app, &tokens).await;
    assert_eq!(
        now,
        [
            ("active".into(), 0),
            ("active".into(), 0),
            ("active".into(), 0),
            ("waiting".into(), 1),
            ("waiting".into(), 2),
            ("waiting".into(), 3),
        ]
    );

    // One shopper holds a seat: two seats free, two shoppers allowed, and there
    // are two (the holder no longer shops): nobody more.
    app.hold_ok(&tokens[0], concert.schedules[0], &[1]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.status(&tokens[3]).await["status"], "waiting");
    // One shopper leaves: room for the next in line.
    assert_eq!(
        app.delete("/api/v1/queue", Some(&tokens[1])).await.status(),
        StatusCode::NO_CONTENT
    );
    app.wait_for_status(&tokens[3], "active").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.status(&tokens[4]).await["status"], "waiting");
}

#[sqlx::test]
async fn estimates_come_from_the_measured_admission_rate_not_the_setting(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 50).await;
    app.set_queue(concert.id, json!({"paused": true, "admit_per_second": 2}))
        .await;
    let people = app.line_up(concert.id, 12).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();

    // Before any admission the setting stands in: position 10 at 2 a second.
    let tenth = app.status(&tokens[9]).await;
    assert_eq!(tenth["position"], 10);
    assert_eq!(tenth["estimated_wait_seconds"], 5, "{tenth}");
    assert!(
        tenth["estimated_wait_seconds_p90"].as_u64().unwrap() > 5,
        "{tenth}"
    );

    // Two a second for a while, then the operator pauses and sets 1,000 a second:
    // the estimate follows what was measured (about two a second), not 1,000.
    app.set_queue(concert.id, json!({"paused": false})).await;
    app.wait_for_status(&tokens[3], "active").await;
    app.set_queue(
        concert.id,
        json!({"paused": true, "admit_per_second": 1000}),
    )
    .await;
    let last = app.status(&tokens[11]).await;
    assert_eq!(last["status"], "waiting");
    let position = last["position"].as_u64().unwrap();
    let wait = last["estimated_wait_seconds"].as_u64().unwrap();
    let p90 = last["estimated_wait_seconds_p90"].as_u64().unwrap();
    assert!(
        wait >= position.div_ceil(4) && wait > 1,
        "position {position} waits {wait} s: the setting's 1,000/s would say 1 s"
    );
    assert!(p90 > wait, "{last}");
    // The measured rate lives in Redis for every server.
    let stats: std::collections::HashMap<String, String> = redis::AsyncCommands::hgetall(
        &mut app.redis_conn(),
        app.redis
            .keys
            .concert(lineup::domain::ConcertId::from_uuid(concert.id))
            .line_stats(),
    )
    .await
    .unwrap();
    let admitted: f64 = stats["rate_admitted"].parse().unwrap();
    assert!((3.0..=5.0).contains(&admitted), "{stats:?}");
}

/// Positions only ever fall, whatever happens in the line: admissions, idle
/// people dropped, people leaving, newcomers, the line selling out and coming back.
#[sqlx::test]
async fn a_waiting_persons_position_never_increases(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|c| c.queue_defaults.idle_timeout_seconds = 3)
        .spawn()
        .await;
    let concert = app.create_concert(1, 4).await;
    app.set_queue(
        concert.id,
        json!({"paused": true, "admit_per_second": 3, "admit_seat_factor": 1.0, "hold_ttl_seconds": 2}),
    )
    .await;
    let people = app.line_up(concert.id, 14).await;
    let tokens: Vec<String> = people.iter().map(|(_, t)| t.clone()).collect();
    // Persons 9 and 12 never poll (dropped as idle); person 8 leaves after 2 s.
    let silent = [9usize, 12];
    let mut last: Vec<Option<u64>> = vec![None; tokens.len()];
    let mut newcomers = Vec::new();
    app.set_queue(concert.id, json!({"paused": false})).await;
    let started = Instant::now();
    let (mut left, mut held, mut fell, mut saw_sold_out) = (false, false, false, false);
    while started.elapsed() < Duration::from_secs(7) {
        if !left && started.elapsed() > Duration::from_secs(2) {
            assert_eq!(
                app.delete("/api/v1/queue", Some(&tokens[8])).await.status(),
                StatusCode::NO_CONTENT
            );
            left = true;
        }
        for (i, token) in tokens.iter().enumerate() {
            if silent.contains(&i) || (left && i == 8) {
                continue;
            }
            let ticket = app.status(token).await;
            match ticket["status"].as_str().unwrap() {
                "waiting" | "sold_out" => {
                    saw_sold_out |= ticket["status"] == "sold_out";
                    let now = ticket["position"].as_u64().unwrap();
                    if let Some(before) = last[i] {
                        assert!(now <= before, "person {i}: position grew {before} -> {now}");
                        fell |= now < before;
                    }
                    last[i] = Some(now);
                }
                "active" => {
                    // The first admitted holds every seat once: the line sells
                    // out until the hold ends two seconds later.
                    if !held {
                        app.hold_ok(token, concert.schedules[0], &[1, 2, 3, 4])
                            .await;
                        held = true;
                    }
                    last[i] = None;
                }
                other => panic!("person {i} reads {other}: {ticket}"),
            }
        }
        let newcomer = app.sign_up().await;
        newcomers.push(app.join_token(&newcomer, concert.id).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(fell, "nobody moved up");
    assert!(saw_sold_out, "the line never sold out");
    for i in silent {
        assert_eq!(app.status(&tokens[i]).await["status"], "expired");
    }
}

#[sqlx::test]
async fn a_line_polls_within_its_budget_with_the_head_every_second(db: PgPool) {
    // Intervals from the line's length read on each poll: with the line facts
    // kept for a while (LINEUP_LINE_FACTS_TTL), the first polls after the line
    // grew would be spread for the shorter line the server last read.
    let app = TestApp::builder(db)
        .with_config(|config| config.line_facts_ttl = Duration::ZERO)
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    // A budget of 5 polls a second for a line of 30.
    app.set_queue(
        concert.id,
        json!({"paused": true, "poll_budget_per_second": 5}),
    )
    .await;
    let people = app.line_up(concert.id, 30).await;
    let mut polls = Vec::new();
    for (_, token) in &people {
        let ticket = app.status(token).await;
        polls.push(ticket["poll_after_ms"].as_u64().unwrap());
    }
    assert_eq!(polls[0], 1_000, "the head polls every second");
    assert!(
        polls.windows(2).all(|w| w[0] <= w[1]),
        "intervals grow with position: {polls:?}"
    );
    assert!(polls.iter().all(|p| *p <= 40_000), "{polls:?}");
    let rate: f64 = polls.iter().map(|ms| 1000.0 / *ms as f64).sum();
    assert!(rate <= 5.0, "{rate} polls/s from {polls:?}");
    // Under budget, everyone polls every second.
    app.set_queue(concert.id, json!({"poll_budget_per_second": 20_000}))
        .await;
    assert_eq!(app.status(&people[29].1).await["poll_after_ms"], 1_000);
}

/// A concert of one date of `seats` seats whose sale opens `seconds` from now.
async fn create_concert_opening_in(app: &TestApp, seconds: i64, seats: u32) -> TestConcert {
    app.create_concert_opening_at(
        chrono::Utc::now() + chrono::Duration::seconds(seconds),
        seats,
    )
    .await
}

async fn fairness_of(app: &TestApp, concert: uuid::Uuid) -> Value {
    let response = app
        .get(&format!("/api/v1/concerts/{concert}/fairness"), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn ids_of(value: &Value) -> Vec<uuid::Uuid> {
    value.as_array().unwrap().iter().map(uuid).collect()
}

/// Runs `lineup verify-shuffle` on a fairness answer; returns its exit success
/// and the order it printed.
fn verify_shuffle_cli(report: &Value) -> (bool, Vec<uuid::Uuid>, String) {
    let path = std::env::temp_dir().join(format!("lineup-fairness-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, report.to_string()).unwrap();
    let output = lineup_command()
        .args(["verify-shuffle", "--fairness"])
        .arg(&path)
        .output()
        .expect("lineup runs");
    let _ = std::fs::remove_file(&path);
    let order = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split('\t').nth(1).unwrap().parse().unwrap())
        .collect();
    (
        output.status.success(),
        order,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[sqlx::test]
async fn the_pre_queue_is_drawn_once_at_the_opening_from_the_published_seed(db: PgPool) {
    let app = spawn_app(db).await;
    // A second server on the same Redis and database: both tick, one draw.
    let other = app.spawn_another().await;
    let concert = create_concert_opening_in(&app, 4, 50).await;
    app.set_queue(concert.id, json!({"paused": true})).await;

    // Before the opening: the commitment only.
    let before = fairness_of(&app, concert.id).await;
    let commitment = before["commitment"].as_str().unwrap().to_owned();
    assert_eq!(commitment.len(), 64, "{before}");
    assert_eq!(before["algorithm"], "lineup-shuffle-v1");
    assert!(before["opens_in_seconds"].as_u64().unwrap() >= 1);
    for field in ["seed", "drawn_at", "joiners", "drawn_order"] {
        assert!(
            before[field].is_null(),
            "{field} before the opening: {before}"
        );
    }

    // Eight join the pre-queue (on either server): waiting, position unknown.
    let mut early = Vec::new();
    for i in 0..8 {
        let server = if i % 2 == 0 { &app } else { &other };
        let user = server.sign_up().await;
        let response = server.join(&user, concert.id).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let ticket: Value = response.json().await.unwrap();
        assert_eq!(ticket["status"], "waiting", "{ticket}");
        assert_eq!(ticket["position"], 0, "{ticket}");
        assert!(
            ticket["opens_in_seconds"].as_u64().unwrap() >= 1,
            "{ticket}"
        );
        assert!(ticket["poll_after_ms"].as_u64().unwrap() >= 1_000);
        early.push((user, ticket["token"].as_str().unwrap().to_owned()));
    }
    let polled = app.status(&early[0].1).await;
    assert_eq!(polled["position"], 0);
    assert_eq!(
        polled["estimated_wait_seconds"], polled["opens_in_seconds"],
        "{polled}"
    );

    // The opening: the draw is published.
    let after = eventually(Duration::from_secs(15), "the draw", || async {
        let report = fairness_of(&app, concert.id).await;
        (!report["seed"].is_null()).then_some(report)
    })
    .await;
    assert_eq!(
        after["commitment"],
        commitment.as_str(),
        "the commitment stands"
    );
    let seed = hex::decode(after["seed"].as_str().unwrap()).unwrap();
    assert_eq!(seed.len(), 32);
    assert_eq!(lineup::fairness::commitment(&seed), commitment);
    let joiners = ids_of(&after["joiners"]);
    let mut early_ids: Vec<uuid::Uuid> = early.iter().map(|(u, _)| u.id).collect();
    early_ids.sort();
    assert_eq!(joiners, early_ids, "the joiners, sorted");
    let recomputed = lineup::fairness::shuffle(&seed, &joiners);
    assert_eq!(ids_of(&after["drawn_order"]), recomputed);
    assert_eq!(
        fairness_of(&other, concert.id).await,
        after,
        "one draw for both servers"
    );
    let draws: i64 = sqlx::query_scalar("SELECT count(*) FROM concert_draws WHERE concert_id = $1")
        .bind(concert.id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(draws, 1);

    // People who join now go behind the pre-queue, in arrival order.
    let late = app.line_up(concert.id, 3).await;
    for (i, (_, token)) in late.iter().enumerate() {
        let ticket = app.status(token).await;
        assert_eq!(ticket["position"], 9 + i as u64, "{ticket}");
        assert_eq!(ticket["opens_in_seconds"], 0);
    }
    // Each pre-queue member's position is their place in the recomputed order.
    // The draw is published once PostgreSQL holds it; Redis takes it from the
    // next tick on, and until then a pre-queue ticket reads position 0.
    eventually(
        Duration::from_secs(10),
        "the draw applied in Redis",
        || async {
            let mut applied = true;
            for (_, token) in &early {
                applied &= other.status(token).await["position"] != 0;
            }
            applied.then_some(())
        },
    )
    .await;
    for (user, token) in &early {
        let ticket = other.status(token).await;
        let place = recomputed.iter().position(|id| *id == user.id).unwrap();
        assert_eq!(ticket["position"], place as u64 + 1, "{ticket}");
    }

    // Anyone can check it with the command.
    let (ok, order, stderr) = verify_shuffle_cli(&after);
    assert!(ok, "{stderr}");
    assert_eq!(order, recomputed);
    let mut forged = after.clone();
    let mut swapped = recomputed.clone();
    swapped.swap(0, 1);
    forged["drawn_order"] = json!(swapped);
    let (ok, _, stderr) = verify_shuffle_cli(&forged);
    assert!(!ok && stderr.contains("drawn_order"), "{stderr}");
    let mut forged = after.clone();
    forged["seed"] = json!(hex::encode([0u8; 32]));
    let (ok, _, stderr) = verify_shuffle_cli(&forged);
    assert!(!ok && stderr.contains("commitment"), "{stderr}");

    // Admission takes the drawn order first: the head of the draw is admitted
    // first, the late arrivals last.
    app.set_queue(concert.id, json!({"paused": false, "max_active": 1}))
        .await;
    let first = early.iter().find(|(u, _)| u.id == recomputed[0]).unwrap();
    app.wait_for_status(&first.1, "active").await;
    for (_, token) in &late {
        assert_eq!(app.status(token).await["status"], "waiting");
    }
}

#[sqlx::test]
async fn the_fairness_of_an_unknown_concert_is_404(db: PgPool) {
    let app = spawn_app(db).await;
    let response = app
        .get(
            &format!("/api/v1/concerts/{}/fairness", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "concert_not_found").await;
    let response = app.get("/api/v1/concerts/not-a-uuid/fairness", None).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_id").await;
}

/// The order number a queue token carries (its `jti`): the Redis time in
/// microseconds of the join, which is the arrival order the line keeps.
fn arrival_of(queue_token: &str) -> u64 {
    use base64::Engine;
    let payload = queue_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["jti"].as_str().unwrap().parse().unwrap()
}

/// The Kendall tau distance between two orders of the same people, given as the
/// rank of each person in each (ties in `second` count as agreeing): the number
/// of pairs the two orders put the other way round, and that over all pairs.
fn kendall_tau_distance(first: &[u64], second: &[u64]) -> (u64, f64) {
    let n = first.len();
    let mut discordant = 0;
    for i in 0..n {
        for j in i + 1..n {
            if (first[i] < first[j] && second[i] > second[j])
                || (first[i] > first[j] && second[i] < second[j])
            {
                discordant += 1;
            }
        }
    }
    let pairs = (n * (n - 1) / 2).max(1) as f64;
    (discordant, discordant as f64 / pairs)
}

/// The fairness measure of docs/FAIRNESS.md: people join concurrently before
/// and after the opening; their admission times are read from Redis (an
/// admission's expiry minus the active TTL). Everyone after the opening is
/// admitted in arrival order (Kendall tau distance 0), the pre-queue in exactly
/// its published draw, and all of it before anyone who came later. Run with
/// `-- --nocapture` to see the figures.
#[sqlx::test]
async fn admission_follows_arrival_after_the_opening_and_the_draw_before_it(db: PgPool) {
    const PRE: usize = 25;
    const POST: usize = 25;
    let app = spawn_app(db).await;
    let concert = create_concert_opening_in(&app, 3, 200).await;
    app.set_queue(concert.id, json!({"admit_per_second": 25}))
        .await;

    let join_concurrently = |n: usize| {
        let app = &app;
        async move {
            let users = futures::future::join_all((0..n).map(|_| app.sign_up())).await;
            let tokens =
                futures::future::join_all(users.iter().map(|u| app.join_token(u, concert.id)))
                    .await;
            users.into_iter().zip(tokens).collect::<Vec<_>>()
        }
    };
    let pre = join_concurrently(PRE).await;
    let report = eventually(Duration::from_secs(15), "the draw", || async {
        let report = fairness_of(&app, concert.id).await;
        (!report["seed"].is_null()).then_some(report)
    })
    .await;
    let post = join_concurrently(POST).await;

    // Everyone admitted (a cap of 1,000 active and 200 seats x 100 leave room).
    let keys = app
        .redis
        .keys
        .concert(lineup::domain::ConcertId::from_uuid(concert.id));
    let mut conn = app.redis_conn();
    let admitted: Vec<(String, u64)> = eventually(Duration::from_secs(20), "all admitted", || {
        let mut conn = conn.clone();
        let active = keys.active();
        async move {
            let admitted: Vec<(String, u64)> =
                redis::AsyncCommands::zrange_withscores(&mut conn, active, 0, -1)
                    .await
                    .unwrap();
            (admitted.len() == PRE + POST).then_some(admitted)
        }
    })
    .await;
    let waiting: u64 = redis::AsyncCommands::zcard(&mut conn, keys.wait())
        .await
        .unwrap();
    assert_eq!(waiting, 0);
    let admitted_at: std::collections::HashMap<uuid::Uuid, u64> = admitted
        .into_iter()
        .map(|(user, until_ms)| (user.parse().unwrap(), until_ms))
        .collect();

    // After the opening: arrival order against admission order.
    let arrivals: Vec<u64> = post.iter().map(|(_, t)| arrival_of(t)).collect();
    let admissions: Vec<u64> = post.iter().map(|(u, _)| admitted_at[&u.id]).collect();
    let (post_discordant, post_tau) = kendall_tau_distance(&arrivals, &admissions);

    // The pre-queue: the published draw against admission order.
    let drawn = ids_of(&report["drawn_order"]);
    assert_eq!(drawn.len(), PRE);
    let drawn_rank: Vec<u64> = (0..PRE as u64).collect();
    let pre_admissions: Vec<u64> = drawn.iter().map(|id| admitted_at[id]).collect();
    let (pre_discordant, pre_tau) = kendall_tau_distance(&drawn_rank, &pre_admissions);
    let mut by_admission: Vec<usize> = (0..PRE).collect();
    by_admission.sort_by_key(|i| (pre_admissions[*i], *i));
    let in_place = by_admission
        .iter()
        .enumerate()
        .filter(|(place, drawn_place)| place == *drawn_place)
        .count();
    let share = in_place as f64 / PRE as f64;
    // And the pre-queue's arrival order against its admission: the shuffle's work.
    let pre_arrivals: Vec<u64> = drawn
        .iter()
        .map(|id| arrival_of(&pre.iter().find(|(u, _)| u.id == *id).unwrap().1))
        .collect();
    let (_, shuffled_tau) = kendall_tau_distance(&pre_arrivals, &pre_admissions);
    println!(
        "fairness: post-open {POST} people: Kendall tau distance arrival/admission {post_discordant} pairs ({post_tau:.3}); \
         pre-queue {PRE} people: distance draw/admission {pre_discordant} pairs ({pre_tau:.3}), \
         {in_place}/{PRE} admitted in their drawn place (share {share:.2}); \
         pre-queue arrival/admission distance {shuffled_tau:.3} (about 0.5 for a uniform shuffle)"
    );
    assert_eq!(
        post_discordant, 0,
        "someone was admitted before an earlier arrival"
    );
    assert_eq!(
        pre_discordant, 0,
        "the pre-queue was not admitted in its drawn order"
    );
    assert_eq!(share, 1.0);
    assert!(
        shuffled_tau > 0.0,
        "the pre-queue was admitted in arrival order"
    );
    let last_pre = pre_admissions.iter().max().unwrap();
    assert!(
        admissions.iter().all(|at| at >= last_pre),
        "someone who came after the opening went before the pre-queue"
    );
}

#[sqlx::test]
async fn someone_evicted_from_the_pre_queue_who_joins_again_goes_to_the_back(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = create_concert_opening_in(&app, 2, 50).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let early = app.line_up(concert.id, 4).await;
    eventually(Duration::from_secs(15), "the draw", || async {
        (!fairness_of(&app, concert.id).await["seed"].is_null()).then_some(())
    })
    .await;
    let late = app.line_up(concert.id, 1).await;
    // An operator evicts the first of the draw, who joins again.
    let drawn = ids_of(&fairness_of(&app, concert.id).await["drawn_order"]);
    let (evicted, _) = early.iter().find(|(u, _)| u.id == drawn[0]).unwrap();
    let response = app
        .request(
            Method::DELETE,
            &format!(
                "/admin/v1/concerts/{}/queue/users/{}",
                concert.id, evicted.id
            ),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let again: Value = app.join(evicted, concert.id).await.json().await.unwrap();
    assert_eq!(
        again["position"], 5,
        "behind the 3 left of the draw and the late one: {again}"
    );
    assert_eq!(app.status(&late[0].1).await["position"], 4);
    // Admitted one at a time: the back is the back.
    app.set_queue(concert.id, json!({"paused": false, "max_active": 4}))
        .await;
    app.wait_for_status(&late[0].1, "active").await;
    let token = again["token"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.status(token).await["status"], "waiting");
}

/// Redis loses a date's sold seats (a restart): the admit tick reloads them from
/// PostgreSQL before counting free seats, so a sold-out line stays sold out.
#[sqlx::test]
async fn the_admit_tick_reloads_lost_sold_seats_before_counting_free_ones(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 1).await;
    let schedule = concert.schedules[0];
    let (_, buyer) = app.admitted_user(concert.id, 100_000).await;
    let held = app.hold_ok(&buyer, schedule, &[1]).await;
    assert_eq!(
        app.pay(&buyer, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    let late = app.line_up(concert.id, 1).await;
    app.wait_for_status(&late[0].1, "sold_out").await;

    let keys = app
        .redis
        .keys
        .concert(lineup::domain::ConcertId::from_uuid(concert.id));
    let schedule_id = lineup::domain::ScheduleId::from_uuid(schedule);
    let mut conn = app.redis_conn();
    let () = redis::pipe()
        .del(keys.sold(schedule_id))
        .del(keys.sold_loaded(schedule_id))
        .hset(keys.line_stats(), "sold_out", 0)
        .query_async(&mut conn)
        .await
        .unwrap();
    // The tick notices, reloads the sold seat and finds the line sold out again.
    app.wait_for_status(&late[0].1, "sold_out").await;
    let sold: Vec<u32> = redis::AsyncCommands::smembers(&mut conn, keys.sold(schedule_id))
        .await
        .unwrap();
    assert_eq!(sold, [1]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.status(&late[0].1).await["status"], "sold_out");
}

/// Redis's clock in ms, which the idle buckets are cut from.
async fn redis_now_ms(app: &TestApp) -> u64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME")
        .query_async(&mut app.redis_conn())
        .await
        .expect("Redis answers");
    secs * 1_000 + micros / 1_000
}

#[sqlx::test]
async fn a_waiter_asked_for_a_long_interval_is_not_dropped_when_the_line_shrinks(db: PgPool) {
    // A poll budget of 1 a second stretches the polls of a line of 10 to up to
    // 20 s apart, and its idle timeout in force to 60 s (idle buckets 8.192 s
    // wide); the last of the 10 is asked to poll every 10 s. (Line facts read
    // fresh on every poll: the next test keeps them.)
    let app = TestApp::builder(db)
        .with_config(|c| {
            c.queue_defaults.idle_timeout_seconds = 3;
            c.line_facts_ttl = Duration::ZERO;
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(
        concert.id,
        json!({"paused": true, "poll_budget_per_second": 1}),
    )
    .await;
    let people = app.line_up(concert.id, 10).await;
    let last = people[9].1.as_str();
    // Its poll falls in the last second of an idle bucket, so the bucket ends
    // at once after it.
    const WIDTH_MS: u64 = 8_192;
    eventually(
        Duration::from_secs(10),
        "the last second of an idle bucket",
        || async { (redis_now_ms(&app).await % WIDTH_MS >= WIDTH_MS - 1_000).then_some(()) },
    )
    .await;
    let polled_at = redis_now_ms(&app).await;
    let ticket = app.status(last).await;
    assert_eq!(ticket["position"], 10, "{ticket}");
    let asked_ms = ticket["poll_after_ms"].as_u64().unwrap();
    assert!(asked_ms >= 9_000, "{ticket}");
    // Everyone ahead leaves: a line of one polls every 2 s, idle after 6 s.
    let ahead: Vec<&str> = people[..9]
        .iter()
        .map(|(_, token)| token.as_str())
        .collect();
    // (A second before the poll it was asked for is well past the bucket's
    // end plus the new idle timeout.)
    let ticket =
        leave_then_poll_just_before_asked(&app, concert.id, &ahead, last, polled_at, asked_ms)
            .await;
    assert_eq!(ticket["status"], "waiting", "{ticket}");
    assert_eq!(ticket["position"], 1, "{ticket}");
}

/// The people `ahead` leave; then, a second before the poll `last` was asked
/// for at `polled_at` and after a few more admit ticks, `last`'s ticket.
async fn leave_then_poll_just_before_asked(
    app: &TestApp,
    concert: Uuid,
    ahead: &[&str],
    last: &str,
    polled_at: u64,
    asked_ms: u64,
) -> Value {
    for token in ahead {
        assert_eq!(
            app.try_leave(token).await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
    }
    eventually(
        Duration::from_secs(20),
        "a second before the poll asked for",
        || async { (redis_now_ms(app).await + 1_000 >= polled_at + asked_ms).then_some(()) },
    )
    .await;
    app.admit_ticks(concert, 3).await;
    app.status(last).await
}

#[sqlx::test]
async fn a_waiter_whose_poll_used_line_facts_from_before_the_line_grew_is_not_dropped(db: PgPool) {
    // Line facts kept 5 s: the first join reads a line of 1 (idle buckets 1 s
    // wide), and the next nine joins and the poll below reuse that; the poll's
    // position says 10, though.
    let app = TestApp::builder(db)
        .with_config(|c| {
            c.queue_defaults.idle_timeout_seconds = 3;
            c.line_facts_ttl = Duration::from_secs(5);
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(
        concert.id,
        json!({"paused": true, "poll_budget_per_second": 1}),
    )
    .await;
    let mut users = Vec::new();
    for _ in 0..10 {
        users.push(app.sign_up().await);
    }
    let mut tokens = Vec::new();
    for user in &users {
        tokens.push(
            app.join_ticket(user, concert.id).await["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let last = tokens[9].as_str();
    let polled_at = redis_now_ms(&app).await;
    let ticket = app.status(last).await;
    assert_eq!(ticket["position"], 10, "{ticket}");
    let asked_ms = ticket["poll_after_ms"].as_u64().unwrap();
    let ahead: Vec<&str> = tokens[..9].iter().map(String::as_str).collect();
    let ticket =
        leave_then_poll_just_before_asked(&app, concert.id, &ahead, last, polled_at, asked_ms)
            .await;
    assert_eq!(
        ticket["status"], "waiting",
        "asked to poll in {asked_ms} ms: {ticket}"
    );
}
