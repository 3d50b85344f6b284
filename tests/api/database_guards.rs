//! What PostgreSQL itself refuses or survives (issue 13, items 9f, 9g, 9h): a
//! concert's text it cannot store is a 400 before it gets there, a request cut
//! short mid-transaction leaves its connection clean for the pool's next user,
//! and the money tables' last guards hold whatever the code does.

use crate::support::*;
use futures::FutureExt;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

#[sqlx::test]
async fn a_nul_byte_or_a_control_character_in_a_concerts_title_or_venue_is_a_400(db: PgPool) {
    let app = spawn_app(db).await;
    for (field, text) in [
        ("title", "Night\u{0}"),
        ("venue", "Hall\u{0}East"),
        ("title", "Night\u{7}"),
        ("venue", "Hall\nEast"),
    ] {
        let mut body = concert_body(1, 5, |_| 1_000);
        body[field] = json!(text);
        let response = app
            .post("/admin/v1/concerts", Some(ADMIN_TOKEN), body)
            .await;
        let refused = assert_error(response, StatusCode::BAD_REQUEST, "invalid_concert").await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{refused}"
        );
    }
    let concerts: i64 = sqlx::query_scalar("SELECT count(*) FROM concerts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(concerts, 0);
}

/// The SQLSTATE and constraint of a refused statement.
fn refusal(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> (String, String) {
    let error = result.expect_err("the database refuses the row");
    let database = error
        .as_database_error()
        .unwrap_or_else(|| panic!("not a database error: {error}"));
    (
        database.code().unwrap_or_default().into_owned(),
        database.constraint().unwrap_or_default().to_owned(),
    )
}

#[sqlx::test]
async fn the_database_refuses_a_second_ledger_entry_for_one_payment(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let payment = app.buy(concert.id, concert.schedules[0], &[1]).await;
    let copied = sqlx::query(
        "INSERT INTO ledger (user_id, kind, amount, balance_after, payment_id)
         SELECT user_id, kind, amount, balance_after, payment_id FROM ledger WHERE payment_id = $1",
    )
    .bind(uuid(&payment["payment_id"]))
    .execute(&app.db)
    .await;
    assert_eq!(
        refusal(copied),
        ("23505".into(), "ledger_one_entry_per_payment".into())
    );
}

#[sqlx::test]
async fn the_database_refuses_two_idempotency_keys_naming_one_ledger_entry(db: PgPool) {
    let app = spawn_app(db).await;
    let user = app.sign_up().await;
    let response = app
        .client()
        .post(app.url(&format!("/api/v1/users/{}/balance/charge", user.id)))
        .bearer_auth(&user.access_token)
        .header("Idempotency-Key", "first")
        .json(&json!({"amount": 10_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let copied = sqlx::query(
        "INSERT INTO idempotency_keys
             (user_id, endpoint, key, request_hash, status, response, ledger_entry_id)
         SELECT user_id, endpoint, 'second', request_hash, status, response, ledger_entry_id
         FROM idempotency_keys WHERE key = 'first'",
    )
    .execute(&app.db)
    .await;
    assert_eq!(
        refusal(copied),
        (
            "23505".into(),
            "idempotency_keys_one_per_ledger_entry".into()
        )
    );
}

#[sqlx::test]
async fn the_database_refuses_a_ticket_for_a_date_its_payment_did_not_pay_for(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 10).await;
    let payment = app.buy(concert.id, concert.schedules[0], &[1]).await;
    let elsewhere =
        sqlx::query("INSERT INTO tickets (payment_id, schedule_id, seat_no) VALUES ($1, $2, 2)")
            .bind(uuid(&payment["payment_id"]))
            .bind(concert.schedules[1])
            .execute(&app.db)
            .await;
    assert_eq!(
        refusal(elsewhere),
        ("23503".into(), "tickets_of_their_payments_date".into())
    );
    // The same seat of the date paid for is refused by the older guard.
    let twice =
        sqlx::query("INSERT INTO tickets (payment_id, schedule_id, seat_no) VALUES ($1, $2, 1)")
            .bind(uuid(&payment["payment_id"]))
            .bind(concert.schedules[0])
            .execute(&app.db)
            .await;
    assert_eq!(
        refusal(twice),
        ("23505".into(), "tickets_one_per_seat".into())
    );
}

/// Backends of this test's database in `state`.
async fn backends_in(db: &PgPool, state: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = $1",
    )
    .bind(state)
    .fetch_one(db)
    .await
    .unwrap()
}

/// A caller that stops waiting while its transaction's BEGIN is on the wire
/// (a client gone, a request's time limit): sqlx does not roll back a BEGIN
/// whose answer it has not read, so the connection went back to the pool
/// inside a transaction, and the pool's next user wrote into it unseen.
#[sqlx::test]
async fn a_transaction_cancelled_while_it_begins_leaves_its_connection_outside_any_transaction(
    db: PgPool,
) {
    sqlx::query("CREATE TABLE marks (n integer)")
        .execute(&db)
        .await
        .unwrap();
    // One connection, not pinged at checkout, whose replies a proxy can hold.
    let proxy = ChaosProxy::to_postgres(&db).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with((*db.connect_options()).clone().port(proxy.port()))
        .await
        .unwrap();
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();

    // PostgreSQL runs the BEGIN; its answer is held back while the caller
    // gives up on it.
    proxy.delay_replies(Duration::from_secs(5));
    let mut begin = Box::pin(lineup::store::postgres::begin(&pool));
    eventually(Duration::from_secs(10), "BEGIN reaches PostgreSQL", || {
        assert!(
            (&mut begin).now_or_never().is_none(),
            "BEGIN answered early"
        );
        async { (backends_in(&db, "idle in transaction").await == 1).then_some(()) }
    })
    .await;
    drop(begin);
    proxy.restore();

    // The pool's next user writes without a transaction of its own: everyone sees it.
    sqlx::query("INSERT INTO marks VALUES (1)")
        .execute(&pool)
        .await
        .unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM marks")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(seen, 1, "the write went into a transaction nobody ends");
    assert_eq!(backends_in(&db, "idle in transaction").await, 0);
}

/// The advisory lock a user's insert waits for at COMMIT (see [`gate_sign_ups`]).
const GATE: i64 = 1313;

/// Makes every sign-up's COMMIT wait for the advisory lock [`GATE`]: a deferred
/// constraint trigger on `users` (this test's database only) takes it shared.
async fn gate_sign_ups(db: &PgPool) {
    for statement in [
        "CREATE FUNCTION wait_at_the_gate() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_advisory_xact_lock_shared(1313); RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER gate AFTER INSERT ON users
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wait_at_the_gate()",
    ] {
        sqlx::query(statement).execute(db).await.unwrap();
    }
}

/// A sign-up cut short by the request time limit while its COMMIT waits: sqlx
/// left the transaction marked open and queued a ROLLBACK behind the COMMIT,
/// which PostgreSQL answered with `there is no transaction in progress` (the
/// warning of the load run). The commit is carried to its end instead.
#[sqlx::test]
async fn a_sign_up_cut_short_during_its_commit_commits_and_sends_no_stray_rollback(db: PgPool) {
    let logs = CapturedLogs::start();
    let app = TestApp::builder(db)
        .with_config(|c| c.limits.request_timeout = Duration::from_secs(3))
        .spawn()
        .await;
    gate_sign_ups(&app.db).await;
    let mut gatekeeper = app.db.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(GATE)
        .execute(&mut *gatekeeper)
        .await
        .unwrap();

    let response = app
        .request(reqwest::Method::POST, "/api/v1/users", None, None)
        .await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "timeout").await;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(waiting, 1, "the sign-up was cut short during its COMMIT");

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(GATE)
        .execute(&mut *gatekeeper)
        .await
        .unwrap();
    drop(gatekeeper);
    // Every connection back in the pool: the cut one has been answered and checked.
    eventually(Duration::from_secs(10), "the pool is idle", || async {
        (app.db.size() == app.db.num_idle() as u32).then_some(())
    })
    .await;

    // The pool's next user signs up; the cut sign-up committed all the same.
    app.sign_up().await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users JOIN wallets USING (user_id)")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 2);
    assert_eq!(backends_in(&app.db, "idle in transaction").await, 0);
    let logged = logs.text();
    assert!(
        !logged.contains("no transaction in progress"),
        "a stray ROLLBACK: {logged}"
    );
}
