//! What `scripts/schemathesis.sh` found, each now a clear answer: 500s for
//! numbers past what PostgreSQL's `integer` columns hold and for a concert whose
//! dates have all started, and a plain-text 413 for an oversized sign-up body;
//! and what a review found the same way: a 500 for a date before PostgreSQL's years.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

fn concert_body(starts_at: chrono::DateTime<chrono::Utc>, seat_no: i64) -> Value {
    json!({
        "title": "Edge night",
        "venue": "Hall",
        "opens_at": "2000-01-01T00:00:00Z",
        "schedules": [{"starts_at": starts_at, "seats": [{"seat_no": seat_no, "price": 0}]}],
    })
}

#[sqlx::test]
async fn a_seat_number_past_what_postgresql_holds_is_refused_not_a_500(db: PgPool) {
    let app = spawn_app(db).await;
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let refused = app
        .post(
            "/admin/v1/concerts",
            Some(ADMIN_TOKEN),
            concert_body(later, 4_294_967_294),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_concert", "{body}");
    assert_eq!(
        app.post(
            "/admin/v1/concerts",
            Some(ADMIN_TOKEN),
            concert_body(later, i64::from(i32::MAX) + 1)
        )
        .await
        .status(),
        StatusCode::BAD_REQUEST
    );
    // The highest seat number there is can be sold like any other.
    let created = app
        .post(
            "/admin/v1/concerts",
            Some(ADMIN_TOKEN),
            concert_body(later, i64::from(i32::MAX)),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let (_, token) = app.admitted_user(uuid(&created["concert_id"]), 0).await;
    let held = app
        .hold(
            &token,
            uuid(&created["schedules"][0]["schedule_id"]),
            &[i64::from(i32::MAX)],
        )
        .await;
    assert_eq!(held.status(), StatusCode::CREATED);
}

#[sqlx::test]
async fn a_line_cap_past_what_postgresql_holds_is_refused_not_a_500(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 1).await;
    let path = format!("/admin/v1/concerts/{}/queue", concert.id);
    let put = |value: i64| {
        app.request(
            reqwest::Method::PUT,
            &path,
            Some(ADMIN_TOKEN),
            Some(json!({ "max_waiting": value })),
        )
    };
    let refused = put(2_147_483_648).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_settings", "{body}");
    let kept: Value = app
        .get(&path, Some(ADMIN_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["max_waiting"], 0, "a refused change changes nothing");
    assert_eq!(put(2_147_483_647).await.status(), StatusCode::OK);
}

#[sqlx::test]
async fn a_concert_whose_dates_have_all_started_lists_no_bookable_date(db: PgPool) {
    let app = spawn_app(db).await;
    // Begun an hour ago: still served (within LINEUP_RETIRE_AFTER), no date bookable.
    let begun = chrono::Utc::now() - chrono::Duration::hours(1);
    // Begun in 2000: finished long ago, so never loaded: a clean 404.
    let finished = "2000-01-01T00:00:00Z".parse().unwrap();
    for (starts_at, status, want) in [
        (begun, StatusCode::OK, json!({"schedules": []})),
        (finished, StatusCode::NOT_FOUND, json!("concert_not_found")),
    ] {
        let created = app
            .post(
                "/admin/v1/concerts",
                Some(ADMIN_TOKEN),
                concert_body(starts_at, 1),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let concert: Value = created.json().await.unwrap();
        let listed = app
            .get(
                &format!(
                    "/api/v1/concerts/{}/schedules",
                    concert["concert_id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(listed.status(), status);
        let body: Value = listed.json().await.unwrap();
        if status == StatusCode::OK {
            assert_eq!(body, want);
        } else {
            assert_eq!(body["error"]["code"], want);
        }
    }
}

#[sqlx::test]
async fn a_sign_up_body_past_the_limit_is_413_with_the_error_body(db: PgPool) {
    let app = spawn_app(db).await;
    let oversized = format!("{{\"padding\": \"{}\"}}", "x".repeat(100_000));
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body(oversized)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response
        .json()
        .await
        .expect("the error body, not plain text");
    assert_eq!(body["error"]["code"], "body_too_large", "{body}");
}

/// JSON dates parse to years PostgreSQL cannot store (before 4713 BC) or
/// RFC 3339 cannot write (five digits); such a concert is refused as
/// invalid, not answered 500 by a failed INSERT.
#[sqlx::test]
async fn a_date_outside_four_digit_years_is_refused_not_a_500(db: PgPool) {
    let app = spawn_app(db).await;
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    for (field, date) in [
        ("opens_at", "-10000-01-01T00:00:00Z"),
        ("opens_at", "+10000-01-01T00:00:00Z"),
        ("starts_at", "-10000-01-01T00:00:00Z"),
        ("starts_at", "+20000-01-01T00:00:00Z"),
    ] {
        let mut body = concert_body(later, 1);
        if field == "opens_at" {
            body["opens_at"] = json!(date);
        } else {
            body["schedules"][0]["starts_at"] = json!(date);
        }
        let refused = app
            .post("/admin/v1/concerts", Some(ADMIN_TOKEN), body)
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{field} {date}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_concert", "{body}");
    }
    let mut body = concert_body(later, 1);
    body["opens_at"] = json!("0001-01-01T00:00:00Z");
    assert_eq!(
        app.post("/admin/v1/concerts", Some(ADMIN_TOKEN), body)
            .await
            .status(),
        StatusCode::CREATED
    );
}
