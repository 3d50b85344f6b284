//! Bad input of every kind gets its 4xx and the error body, never a 500, and
//! changes nothing.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

/// One hostile request and the answer the API promises (README, OpenAPI).
struct Case {
    method: Method,
    path: String,
    token: Option<String>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: StatusCode,
    code: &'static str,
}

fn case(
    method: Method,
    path: impl Into<String>,
    token: Option<&str>,
    body: Option<&str>,
    status: StatusCode,
    code: &'static str,
) -> Case {
    Case {
        method,
        path: path.into(),
        token: token.map(str::to_owned),
        content_type: body.map(|_| "application/json"),
        body: body.map(|b| b.as_bytes().to_vec()),
        status,
        code,
    }
}

async fn send(app: &TestApp, case: &Case) -> reqwest::Response {
    let mut request = app.client.request(case.method.clone(), app.url(&case.path));
    if let Some(token) = &case.token {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(body) = &case.body {
        request = request.body(body.clone());
    }
    request.send().await.unwrap()
}

/// Counts of every table a request could change, to show nothing changed.
async fn row_counts(db: &PgPool) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "concerts",
        "schedules",
        "seats",
        "users",
        "wallets",
        "payments",
        "tickets",
        "ledger",
    ] {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(db)
                .await
                .unwrap();
        counts.push(count);
    }
    let balance: i64 = sqlx::query_scalar("SELECT COALESCE(sum(balance), 0)::bigint FROM wallets")
        .fetch_one(db)
        .await
        .unwrap();
    counts.push(balance);
    counts
}

/// Every key of this test's prefix with its content, but for the admission
/// bucket and the line's stats, which the admission loop rewrites on every tick,
/// and the replies kept for re-sends (`once:`), which expire on their own.
async fn redis_snapshot(app: &TestApp) -> Vec<(String, String)> {
    use redis::AsyncCommands;
    let mut conn = app.redis_conn();
    let mut keys: Vec<String> = conn
        .keys(format!("{}:*", app.config.redis.prefix))
        .await
        .unwrap();
    keys.retain(|k| {
        !k.ends_with(":bucket") && !k.ends_with(":line-stats") && !k.contains(":once:")
    });
    keys.sort();
    let mut snapshot = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut content: Vec<String> = match kind.as_str() {
            // Bytes, not text: the idle buckets' shard bitmaps are strings
            // whose bytes are rarely UTF-8.
            "string" => vec![hex::encode(conn.get::<_, Vec<u8>>(&key).await.unwrap())],
            "hash" => conn
                .hgetall::<_, Vec<(String, String)>>(&key)
                .await
                .unwrap()
                .into_iter()
                .map(|(f, v)| format!("{f}={v}"))
                .collect(),
            "set" => conn.smembers(&key).await.unwrap(),
            "zset" => conn
                .zrange_withscores::<_, Vec<(String, String)>>(&key, 0, -1)
                .await
                .unwrap()
                .into_iter()
                .map(|(m, s)| format!("{m}={s}"))
                .collect(),
            other => vec![other.to_owned()],
        };
        content.sort();
        snapshot.push((key, content.join(",")));
    }
    snapshot
}

#[sqlx::test]
async fn malformed_requests_get_their_4xx_and_error_body_and_change_nothing(db: PgPool) {
    use StatusCode as S;
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let schedule = concert.schedules[0];
    let (user, queue) = app.admitted_user(concert.id, 100_000).await;
    let held: Value = app.hold(&queue, schedule, &[1]).await.json().await.unwrap();
    let reservation = held["reservation_id"].as_str().unwrap().to_owned();
    let access = user.access_token.as_str();
    let q = queue.as_str();
    let charge = format!("/api/v1/users/{}/balance/charge", user.id);
    let unknown = uuid::Uuid::now_v7();
    let huge = "92233720368547758070";

    let cases = vec![
        // Bodies that are not JSON, or not the right JSON.
        case(
            Method::POST,
            &charge,
            Some(access),
            Some("{"),
            S::BAD_REQUEST,
            "invalid_json",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some("not json"),
            S::BAD_REQUEST,
            "invalid_json",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some("{}"),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some("[]"),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(r#"{"amount": 1.5}"#),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(r#"{"amount": "5000"}"#),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(r#"{"amount": null}"#),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(&format!(r#"{{"amount": {huge}}}"#)),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(r#"{"amount": 0}"#),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(r#"{"amount": -5000}"#),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(r#"{"amount": 999}"#),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            &charge,
            Some(access),
            Some(r#"{"amount": 10000001}"#),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        Case {
            content_type: None,
            ..case(
                Method::POST,
                &charge,
                Some(access),
                Some(r#"{"amount": 5000}"#),
                S::BAD_REQUEST,
                "invalid_content_type",
            )
        },
        Case {
            content_type: Some("text/plain"),
            ..case(
                Method::POST,
                &charge,
                Some(access),
                Some(r#"{"amount": 5000}"#),
                S::BAD_REQUEST,
                "invalid_content_type",
            )
        },
        // Seat selections.
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": []}).to_string()),
            S::BAD_REQUEST,
            "invalid_seats",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": [1, 2, 3, 4, 5]}).to_string()),
            S::BAD_REQUEST,
            "invalid_seats",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": [0]}).to_string()),
            S::BAD_REQUEST,
            "invalid_seats",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": [-3]}).to_string()),
            S::BAD_REQUEST,
            "invalid_seats",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": [2, 2]}).to_string()),
            S::BAD_REQUEST,
            "invalid_seats",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": [1.5]}).to_string()),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": "7"}).to_string()),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": "42", "seat_nos": [2]}).to_string()),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"seat_nos": [2]}).to_string()),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": unknown, "seat_nos": [2]}).to_string()),
            S::NOT_FOUND,
            "schedule_not_found",
        ),
        case(
            Method::POST,
            "/api/v1/reservations",
            Some(q),
            Some(&json!({"schedule_id": schedule, "seat_nos": [2, 11]}).to_string()),
            S::NOT_FOUND,
            "seat_not_found",
        ),
        // Payments.
        case(
            Method::POST,
            "/api/v1/payments",
            Some(q),
            Some(&json!({"reservation_id": reservation, "amount": "50000"}).to_string()),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            "/api/v1/payments",
            Some(q),
            Some(&json!({"reservation_id": reservation, "amount": 50000.5}).to_string()),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            "/api/v1/payments",
            Some(q),
            Some(&json!({"reservation_id": reservation, "amount": -1}).to_string()),
            S::BAD_REQUEST,
            "invalid_amount",
        ),
        case(
            Method::POST,
            "/api/v1/payments",
            Some(q),
            Some(&json!({"reservation_id": reservation, "amount": 1}).to_string()),
            S::UNPROCESSABLE_ENTITY,
            "amount_mismatch",
        ),
        case(
            Method::POST,
            "/api/v1/payments",
            Some(q),
            Some(&json!({"reservation_id": "x", "amount": 50000}).to_string()),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            "/api/v1/payments",
            Some(q),
            Some(&json!({"reservation_id": unknown, "amount": 50000}).to_string()),
            S::NOT_FOUND,
            "reservation_not_found",
        ),
        // Paths.
        case(
            Method::GET,
            "/api/v1/users/42/balance",
            Some(access),
            None,
            S::BAD_REQUEST,
            "invalid_id",
        ),
        case(
            Method::GET,
            "/api/v1/users/..%2F..%2Fetc%2Fpasswd/balance",
            Some(access),
            None,
            S::BAD_REQUEST,
            "invalid_id",
        ),
        case(
            Method::GET,
            "/api/v1/concerts/not-a-uuid/schedules",
            None,
            None,
            S::BAD_REQUEST,
            "invalid_id",
        ),
        case(
            Method::GET,
            format!("/api/v1/concerts/{unknown}/schedules"),
            None,
            None,
            S::NOT_FOUND,
            "concert_not_found",
        ),
        case(
            Method::POST,
            format!("/api/v1/concerts/{unknown}/queue"),
            Some(access),
            None,
            S::NOT_FOUND,
            "concert_not_found",
        ),
        case(
            Method::GET,
            "/api/v1/schedules/nope/seats",
            Some(q),
            None,
            S::BAD_REQUEST,
            "invalid_id",
        ),
        case(
            Method::GET,
            format!("/api/v1/schedules/{unknown}/seats"),
            Some(q),
            None,
            S::NOT_FOUND,
            "schedule_not_found",
        ),
        case(
            Method::GET,
            format!("/api/v1/schedules/{schedule}/seats?status=gone"),
            Some(q),
            None,
            S::BAD_REQUEST,
            "invalid_query",
        ),
        case(
            Method::GET,
            "/api/v1/reservations/123",
            Some(q),
            None,
            S::BAD_REQUEST,
            "invalid_id",
        ),
        case(
            Method::GET,
            format!("/api/v1/reservations/{unknown}"),
            Some(q),
            None,
            S::NOT_FOUND,
            "reservation_not_found",
        ),
        case(
            Method::DELETE,
            format!("/api/v1/reservations/{unknown}"),
            Some(q),
            None,
            S::NOT_FOUND,
            "reservation_not_found",
        ),
        case(
            Method::GET,
            "/api/v1/nothing-here",
            None,
            None,
            S::NOT_FOUND,
            "not_found",
        ),
        case(
            Method::DELETE,
            "/api/v1/concerts",
            None,
            None,
            S::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        case(
            Method::PUT,
            "/api/v1/payments",
            Some(q),
            None,
            S::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        // Sign-up takes an empty body or {} only.
        case(
            Method::POST,
            "/api/v1/users",
            None,
            Some(r#"{"user_id": "mine"}"#),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::POST,
            "/api/v1/users",
            None,
            Some("{oops"),
            S::BAD_REQUEST,
            "invalid_json",
        ),
        // Admin bodies.
        case(
            Method::POST,
            "/admin/v1/concerts",
            Some(ADMIN_TOKEN),
            Some(r#"{"title": "x"}"#),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::PUT,
            format!("/admin/v1/concerts/{}/queue", concert.id),
            Some(ADMIN_TOKEN),
            Some(r#"{"admit_per_second": 0}"#),
            S::BAD_REQUEST,
            "invalid_settings",
        ),
        case(
            Method::PUT,
            format!("/admin/v1/concerts/{}/queue", concert.id),
            Some(ADMIN_TOKEN),
            Some(r#"{"admit_per_second": -1}"#),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::PUT,
            format!("/admin/v1/concerts/{}/queue", concert.id),
            Some(ADMIN_TOKEN),
            Some(r#"{"speed": 9}"#),
            S::BAD_REQUEST,
            "invalid_body",
        ),
        case(
            Method::PUT,
            format!("/admin/v1/concerts/{unknown}/queue"),
            Some(ADMIN_TOKEN),
            Some("{}"),
            S::NOT_FOUND,
            "concert_not_found",
        ),
        // Wrong methods on real paths.
        case(Method::PATCH, "/api/v1/users", None, None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::PUT, "/api/v1/queue/status", Some(q), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::POST, "/api/v1/queue/status", Some(q), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::DELETE, format!("/api/v1/users/{}/balance", user.id), Some(access), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::GET, "/api/v1/payments", Some(q), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::POST, format!("/api/v1/schedules/{schedule}/seats"), Some(q), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::PATCH, format!("/api/v1/reservations/{reservation}"), Some(q), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::GET, "/api/v1/reservations", Some(q), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::DELETE, "/admin/v1/concerts", Some(ADMIN_TOKEN), None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        case(Method::POST, "/healthz", None, None, S::METHOD_NOT_ALLOWED, "method_not_allowed"),
        // Hostile shapes: deep nesting, unknown fields, duplicate keys, odd JSON.
        case(Method::POST, &charge, Some(access), Some(&format!("{}{}", "[".repeat(200), "]".repeat(200))), S::BAD_REQUEST, "invalid_json"),
        case(Method::POST, &charge, Some(access), Some(&format!(r#"{{"amount": {}5000{}}}"#, "[".repeat(150), "]".repeat(150))), S::BAD_REQUEST, "invalid_json"),
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": 5000, "admin": true}"#), S::BAD_REQUEST, "invalid_body"),
        case(Method::POST, "/api/v1/reservations", Some(q), Some(&json!({"schedule_id": schedule, "seat_nos": [2], "user_id": unknown}).to_string()), S::BAD_REQUEST, "invalid_body"),
        case(Method::POST, "/api/v1/payments", Some(q), Some(&json!({"reservation_id": reservation, "amount": 50000, "balance": 1_000_000_000}).to_string()), S::BAD_REQUEST, "invalid_body"),
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": 5000, "amount": 1}"#), S::BAD_REQUEST, "invalid_body"),
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": 5000}trailing"#), S::BAD_REQUEST, "invalid_json"),
        case(Method::POST, &charge, Some(access), Some(""), S::BAD_REQUEST, "invalid_json"),
        case(Method::POST, &charge, Some(access), Some("null"), S::BAD_REQUEST, "invalid_body"),
        Case { body: Some(vec![0xff, 0xfe, 0x7b]), ..case(Method::POST, &charge, Some(access), Some(""), S::BAD_REQUEST, "invalid_json") },
        Case {
            content_type: Some("application/x-www-form-urlencoded"),
            ..case(Method::POST, &charge, Some(access), Some("amount=5000"), S::BAD_REQUEST, "invalid_content_type")
        },
        // Numbers that are not amounts or seats.
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": 5000.0}"#), S::BAD_REQUEST, "invalid_amount"),
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": 1e308}"#), S::BAD_REQUEST, "invalid_amount"),
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": true}"#), S::BAD_REQUEST, "invalid_amount"),
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": [5000]}"#), S::BAD_REQUEST, "invalid_amount"),
        case(Method::POST, &charge, Some(access), Some(r#"{"amount": -0}"#), S::BAD_REQUEST, "invalid_amount"),
        case(Method::POST, "/api/v1/reservations", Some(q), Some(&format!(r#"{{"schedule_id": "{schedule}", "seat_nos": [1e30]}}"#)), S::BAD_REQUEST, "invalid_body"),
        case(Method::POST, "/api/v1/reservations", Some(q), Some(&json!({"schedule_id": schedule, "seat_nos": [4_294_967_296_i64]}).to_string()), S::BAD_REQUEST, "invalid_seats"),
        case(Method::POST, "/api/v1/reservations", Some(q), Some(&json!({"schedule_id": schedule, "seat_nos": [i64::MAX]}).to_string()), S::BAD_REQUEST, "invalid_seats"),
        // Paths that try to climb out or smuggle bytes (a dot-dot segment is
        // resolved by the URL itself, to a path that does not exist).
        case(Method::GET, "/api/v1/reservations/..%2F..%2Fadmin", Some(q), None, S::BAD_REQUEST, "invalid_id"),
        case(Method::GET, "/api/v1/users/%00/balance", Some(access), None, S::BAD_REQUEST, "invalid_id"),
        case(Method::GET, "/api/v1/concerts/%2e%2e/schedules", None, None, S::NOT_FOUND, "not_found"),
        case(Method::GET, format!("/api/v1/schedules/{schedule}%00/seats"), Some(q), None, S::BAD_REQUEST, "invalid_id"),
        case(Method::GET, format!("/api/v1/users/{}%0d%0aX-Injected:%201/balance", user.id), Some(access), None, S::BAD_REQUEST, "invalid_id"),
        // Queries the seat map does not take.
        case(Method::GET, format!("/api/v1/schedules/{schedule}/seats?status=AVAILABLE"), Some(q), None, S::BAD_REQUEST, "invalid_query"),
        case(Method::GET, format!("/api/v1/schedules/{schedule}/seats?status="), Some(q), None, S::BAD_REQUEST, "invalid_query"),
        case(Method::GET, format!("/api/v1/schedules/{schedule}/seats?debug=1"), Some(q), None, S::BAD_REQUEST, "invalid_query"),
        // Concerts beyond the limits.
        case(Method::POST, "/admin/v1/concerts", Some(ADMIN_TOKEN), Some(&json!({"title": "x".repeat(201), "venue": "Hall", "opens_at": chrono::Utc::now(), "schedules": [{"starts_at": chrono::Utc::now(), "seats": [{"seat_no": 1, "price": 1}]}]}).to_string()), S::BAD_REQUEST, "invalid_concert"),
        case(Method::POST, "/admin/v1/concerts", Some(ADMIN_TOKEN), Some(&json!({"title": "Night", "venue": "Hall", "opens_at": chrono::Utc::now(), "schedules": vec![json!({"starts_at": chrono::Utc::now(), "seats": [{"seat_no": 1, "price": 1}]}); 101]}).to_string()), S::BAD_REQUEST, "invalid_concert"),
    ];

    assert!(cases.len() >= 80, "{} cases", cases.len());
    let before = row_counts(&app.db).await;
    let redis_before = redis_snapshot(&app).await;
    for case in &cases {
        let response = send(&app, case).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, case.status, "{} {}: {text}", case.method, case.path);
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{} {}: not JSON: {text}", case.method, case.path));
        assert_eq!(
            body["error"]["code"], case.code,
            "{} {}: {body}",
            case.method, case.path
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    assert_eq!(
        row_counts(&app.db).await,
        before,
        "a refused request changed PostgreSQL"
    );
    assert_eq!(
        redis_snapshot(&app).await,
        redis_before,
        "a refused request changed Redis"
    );
    // The reservation is still held and payable: nothing above touched it.
    let response = app.pay(q, uuid(&held["reservation_id"]), 50_000).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[sqlx::test]
async fn an_oversized_body_is_refused_with_413_and_the_error_body(db: PgPool) {
    let app = spawn_app(db).await;
    let user = app.sign_up().await;
    let padding = "x".repeat(100 * 1024);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/users/{}/balance/charge", user.id)))
        .bearer_auth(&user.access_token)
        .header("content-type", "application/json")
        .body(format!(r#"{{"amount": 5000, "padding": "{padding}"}}"#))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    assert_eq!(app.balance(&user).await, 0);
}
