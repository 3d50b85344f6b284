//! `lineup admin ...` as an operator runs it: the real binary against a running
//! server, each command's effect checked through the API, and every failure a
//! message and a non-zero exit.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::process::Output;
use uuid::Uuid;

/// `lineup admin <args>` against `app` with the admin token, accepting its
/// self-signed certificate.
async fn lineup_admin(app: &TestApp, args: &[&str]) -> Output {
    lineup_admin_as(app, Some(ADMIN_TOKEN), &["--insecure"], args).await
}

async fn lineup_admin_as(
    app: &TestApp,
    token: Option<&str>,
    flags: &[&str],
    args: &[&str],
) -> Output {
    let mut command = tokio::process::Command::from(lineup_command());
    command
        .arg("admin")
        .env("LINEUP_ADMIN_URL", &app.base)
        .args(flags)
        .args(args);
    if let Some(token) = token {
        command.env("LINEUP_ADMIN_TOKEN", token);
    }
    command.output().await.expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

fn failed(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "should have failed; stdout: {}",
        stdout(output)
    );
    stderr(output)
}

/// A file named like `name` (its extension tells TOML from JSON), removed when dropped.
fn temp_file(name: &str, contents: &str) -> tempfile::TempPath {
    use std::io::Write;
    let extension = std::path::Path::new(name)
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut file = tempfile::Builder::new()
        .prefix("lineup-admin-cli-")
        .suffix(&extension)
        .tempfile()
        .unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    file.into_temp_path()
}

#[sqlx::test]
async fn a_concert_is_created_from_the_example_toml_and_from_json(db: PgPool) {
    let app = spawn_app(db).await;
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/concert.example.toml");
    let out = succeeded(&lineup_admin(&app, &["create-concert", example]).await);
    let concert: Uuid = out
        .strip_prefix("created concert ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no concert id in {out}"));

    // The public API sells it: two dates, 5 and 2 seats, at the file's prices.
    let schedules: Value = app
        .get(&format!("/api/v1/concerts/{concert}/schedules"), None)
        .await
        .json()
        .await
        .unwrap();
    let totals: Vec<i64> = schedules["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["total_seats"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, [5, 2], "{schedules}");
    let (_, token) = app.admitted_user(concert, 0).await;
    let first = uuid(&schedules["schedules"][0]["schedule_id"]);
    let seats: Value = app
        .get(&format!("/api/v1/schedules/{first}/seats"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seats["seats"][0]["price"], 150_000, "{seats}");
    assert_eq!(seats["seats"][4]["price"], 50_000, "{seats}");

    // The same shape as JSON, answered as JSON with --json.
    let file = temp_file(
        "concert.json",
        &json!({
            "title": "Spring night",
            "venue": "Hall",
            "opens_at": "2026-01-01T00:00:00Z",
            "schedules": [{"starts_at": "2031-04-01T19:00:00Z", "seats": [{"seat_no": 1, "price": 1000}]}],
        })
        .to_string(),
    );
    let out =
        succeeded(&lineup_admin(&app, &["--json", "create-concert", file.to_str().unwrap()]).await);
    let created: Value = serde_json::from_str(&out).expect("--json prints the answer");
    let listed: Value = app
        .get("/api/v1/concerts", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["concerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["concert_id"] == created["concert_id"] && c["title"] == "Spring night"),
        "{listed}"
    );
}

#[sqlx::test]
async fn settings_change_pause_and_resume_take_effect(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 5).await;
    let id = concert.id.to_string();
    let out = succeeded(
        &lineup_admin(
            &app,
            &[
                "set",
                &id,
                "--admit-per-second",
                "7",
                "--max-active",
                "30",
                "--max-waiting",
                "500",
                "--active-ttl",
                "15m",
                "--hold-ttl",
                "90s",
            ],
        )
        .await,
    );
    assert!(out.contains("admit_per_second"), "{out}");
    let now = app.queue_settings(concert.id).await;
    assert_eq!(now["admit_per_second"], 7);
    assert_eq!(now["max_active"], 30);
    assert_eq!(now["max_waiting"], 500);
    assert_eq!(now["active_ttl_seconds"], 900);
    assert_eq!(now["hold_ttl_seconds"], 90);
    assert_eq!(now["paused"], false);

    succeeded(&lineup_admin(&app, &["pause", &id]).await);
    assert_eq!(app.queue_settings(concert.id).await["paused"], true);
    // A paused line admits no one.
    let user = app.sign_up().await;
    let token = app.join_token(&user, concert.id).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.status(&token).await["status"], "waiting");

    succeeded(&lineup_admin(&app, &["resume", &id]).await);
    assert_eq!(app.queue_settings(concert.id).await["paused"], false);
    app.wait_for_status(&token, "active").await;

    succeeded(&lineup_admin(&app, &["set", &id, "--paused", "true"]).await);
    assert_eq!(app.queue_settings(concert.id).await["paused"], true);
}

#[sqlx::test]
async fn stats_show_the_live_line_and_seats(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (_, token) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.hold(&token, concert.schedules[0], &[1, 2])
            .await
            .status(),
        StatusCode::CREATED
    );
    app.set_queue(concert.id, json!({"paused": true})).await;
    let waiting = app.sign_up().await;
    app.join_token(&waiting, concert.id).await;

    let out = succeeded(&lineup_admin(&app, &["concerts"]).await);
    assert!(out.contains(&concert.id.to_string()), "{out}");
    assert!(out.contains("1 waiting, 1 active"), "{out}");
    assert!(
        out.contains("10 seats, 0 sold, 2 held, 8 available"),
        "{out}"
    );
    assert!(out.contains("paused"), "{out}");

    let out = succeeded(&lineup_admin(&app, &["queue", &concert.id.to_string()]).await);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .to_owned()
    };
    assert_eq!(line("waiting"), "1");
    assert_eq!(line("active"), "1");
    assert_eq!(line("paused"), "true");

    let out = succeeded(&lineup_admin(&app, &["--json", "concerts"]).await);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["concerts"][0]["schedules"][0]["held_seats"], 2);
}

#[sqlx::test]
async fn evict_and_close_end_places_and_the_sale(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let id = concert.id.to_string();
    let (user, token) = app.admitted_user(concert.id, 0).await;
    assert_eq!(
        app.hold(&token, concert.schedules[0], &[3]).await.status(),
        StatusCode::CREATED
    );
    let out = succeeded(&lineup_admin(&app, &["evict", &id, &user.id.to_string()]).await);
    assert!(out.contains("was active"), "{out}");
    assert!(out.contains("released reservation"), "{out}");
    assert_eq!(app.status(&token).await["status"], "expired");
    // Evicting someone who is not there is the server's 404, said plainly.
    let err = failed(&lineup_admin(&app, &["evict", &id, &user.id.to_string()]).await);
    assert!(err.contains("404") && err.contains("not_in_line"), "{err}");

    let out = succeeded(&lineup_admin(&app, &["close", &id]).await);
    assert!(out.contains("closed concert"), "{out}");
    let late = app.sign_up().await;
    assert_error(
        app.join(&late, concert.id).await,
        StatusCode::CONFLICT,
        "sale_closed",
    )
    .await;
}

#[sqlx::test]
async fn every_failure_is_a_message_and_a_non_zero_exit(db: PgPool) {
    let app = spawn_app(db).await;
    let unknown = Uuid::new_v4().to_string();

    let err = failed(&lineup_admin(&app, &["queue", &unknown]).await);
    assert!(
        err.contains("404") && err.contains("concert_not_found"),
        "{err}"
    );

    let err = failed(
        &lineup_admin_as(
            &app,
            Some("not-the-admin-token-at-all"),
            &["-k"],
            &["concerts"],
        )
        .await,
    );
    assert!(
        err.contains("401") && err.contains("invalid_admin_token"),
        "{err}"
    );

    let err = failed(&lineup_admin_as(&app, None, &["-k"], &["concerts"]).await);
    assert!(err.contains("LINEUP_ADMIN_TOKEN"), "{err}");

    // The self-signed certificate is refused unless asked, with a hint.
    let err = failed(&lineup_admin_as(&app, Some(ADMIN_TOKEN), &[], &["concerts"]).await);
    assert!(err.contains("--insecure"), "{err}");

    // Settings the server refuses: its 400, and nothing changes.
    let concert = app.create_concert(1, 1).await;
    let err = failed(
        &lineup_admin(
            &app,
            &["set", &concert.id.to_string(), "--admit-per-second", "0"],
        )
        .await,
    );
    assert!(
        err.contains("400") && err.contains("invalid_settings"),
        "{err}"
    );
    assert_eq!(
        app.queue_settings(concert.id).await["admit_per_second"],
        100_000
    );
    let err = failed(&lineup_admin(&app, &["set", &concert.id.to_string()]).await);
    assert!(err.contains("nothing to change"), "{err}");

    // A concert file the server refuses, and one that is not JSON.
    let file = temp_file(
        "bad.json",
        r#"{"title": "", "venue": "x", "opens_at": "2026-01-01T00:00:00Z", "schedules": []}"#,
    );
    let err = failed(&lineup_admin(&app, &["create-concert", file.to_str().unwrap()]).await);
    assert!(
        err.contains("400") && err.contains("invalid_concert"),
        "{err}"
    );
    let file = temp_file("broken.json", "{ not json");
    let err = failed(&lineup_admin(&app, &["create-concert", file.to_str().unwrap()]).await);
    assert!(err.contains("not valid JSON"), "{err}");
    let err = failed(&lineup_admin(&app, &["create-concert", "/no/such/concert.toml"]).await);
    assert!(err.contains("cannot read /no/such/concert.toml"), "{err}");

    // Nothing listening: a connection error, not a hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = failed(
        &lineup_admin_as(
            &app,
            Some(ADMIN_TOKEN),
            &["-k", "--url", &format!("https://127.0.0.1:{port}")],
            &["concerts"],
        )
        .await,
    );
    assert!(err.contains("cannot reach the server"), "{err}");

    // A malformed concert id is a usage error before any request.
    let err = failed(&lineup_admin(&app, &["pause", "not-a-uuid"]).await);
    assert!(err.contains("invalid value"), "{err}");
}
