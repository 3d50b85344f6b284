//! Tokens that must not work: forged, unsigned, of the wrong kind, expired, for
//! another concert or user, or superseded by a later place in line.

use crate::support::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A token with these claims signed HS256 with `key`.
fn signed(claims: &Value, key: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

/// The claims of a token, unverified (to forge variations of a real one).
fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .unwrap()
        .claims
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[sqlx::test]
async fn forged_unsigned_and_confused_tokens_are_401(db: PgPool) {
    let app = spawn_app(db).await;
    let user = app.sign_up().await;
    let balance = format!("/api/v1/users/{}/balance", user.id);
    let claims = claims_of(&user.access_token);

    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    // HS/RS confusion: an RS256 header over an HMAC made with the server's secret
    // must not pass as HS256, nor may any other algorithm.
    let rs_header = format!(
        "{}.{}",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let hs384 = encode(
        &Header::new(Algorithm::HS384),
        &claims,
        &EncodingKey::from_secret(TOKEN_KEY.as_bytes()),
    )
    .unwrap();
    let tampered = {
        let mut parts: Vec<String> = user.access_token.split('.').map(str::to_owned).collect();
        let mut other = claims.clone();
        other["sub"] = json!(uuid::Uuid::now_v7());
        parts[1] = b64(other.to_string().as_bytes());
        parts.join(".")
    };
    for (name, token) in [
        (
            "another key",
            signed(&claims, "some-other-key-some-other-key-0123"),
        ),
        ("alg none", unsigned),
        ("RS256 header", format!("{rs_header}.{}", b64(b"signature"))),
        ("HS384", hs384),
        ("tampered claims", tampered),
        ("garbage", "not-a-token".into()),
        ("empty", "".into()),
    ] {
        let response = app.get(&balance, Some(&token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        let body: Value = response.json().await.unwrap();
        assert!(
            ["invalid_token", "missing_token"].contains(&body["error"]["code"].as_str().unwrap()),
            "{name}: {body}"
        );
    }
    assert_error(
        app.get(&balance, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    let basic = app
        .client
        .get(app.url(&balance))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_error(basic, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[sqlx::test]
async fn a_token_of_one_kind_is_refused_where_the_other_is_expected(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, queue) = app.admitted_user(concert.id, 0).await;
    assert_error(
        app.get(&format!("/api/v1/users/{}/balance", user.id), Some(&queue))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_error(
        app.get("/api/v1/queue/status", Some(&user.access_token))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_error(
        app.hold(&user.access_token, concert.schedules[0], &[1])
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // A queue token's claims signed HS256 with the access tokens' secret: only
    // EdDSA with a key of the set makes a queue token.
    let hs256_queue = signed(&claims_of(&queue), TOKEN_KEY);
    assert_error(
        app.hold(&hs256_queue, concert.schedules[0], &[1]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // The same claims with typ changed by someone without the key: forged.
    let mut claims = claims_of(&queue);
    claims["typ"] = json!("access");
    assert_error(
        app.get(
            &format!("/api/v1/users/{}/balance", user.id),
            Some(&signed(&claims, "x".repeat(40).as_str())),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[sqlx::test]
async fn expired_tokens_are_told_apart_from_forged_ones(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, queue) = app.admitted_user(concert.id, 0).await;

    let mut access = claims_of(&user.access_token);
    access["exp"] = json!(now() - 60);
    let expired_access = signed(&access, TOKEN_KEY);
    assert_error(
        app.get(
            &format!("/api/v1/users/{}/balance", user.id),
            Some(&expired_access),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;

    let mut claims = claims_of(&queue);
    claims["exp"] = json!(now() - 60);
    let expired_queue = sign_with_test_key(&claims);
    assert_error(
        app.hold(&expired_queue, concert.schedules[0], &[1]).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
    // The status poll answers an authentic old token instead of refusing it.
    let ticket = app.status(&expired_queue).await;
    assert_eq!(ticket["status"], "expired");
    assert_eq!(ticket["user_id"], json!(user.id));
    assert_eq!(ticket["concert_id"], json!(concert.id));
}

#[sqlx::test]
async fn a_queue_token_reaches_only_its_own_concert_and_user(db: PgPool) {
    let app = spawn_app(db).await;
    let a = app.create_concert(1, 10).await;
    let b = app.create_concert(1, 10).await;
    let (_, token_a) = app.admitted_user(a.id, 0).await;
    let (_, token_other) = app.admitted_user(a.id, 0).await;

    assert_error(
        app.get(
            &format!("/api/v1/schedules/{}/seats", b.schedules[0]),
            Some(&token_a),
        )
        .await,
        StatusCode::FORBIDDEN,
        "wrong_concert",
    )
    .await;
    assert_error(
        app.hold(&token_a, b.schedules[0], &[1]).await,
        StatusCode::FORBIDDEN,
        "wrong_concert",
    )
    .await;

    // Another user's reservation in the same concert.
    let held: Value = app
        .hold(&token_other, a.schedules[0], &[2])
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/reservations/{}",
        held["reservation_id"].as_str().unwrap()
    );
    assert_error(
        app.get(&path, Some(&token_a)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.delete(&path, Some(&token_a)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.pay(&token_a, uuid(&held["reservation_id"]), 50_000)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Still theirs, still held.
    assert_eq!(
        app.get(&path, Some(&token_other)).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test]
async fn an_access_token_reaches_only_its_own_user(db: PgPool) {
    let app = spawn_app(db).await;
    let alice = app.sign_up().await;
    let bob = app.sign_up().await;
    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/v1/users/{}/balance", bob.id),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/users/{}/balance/charge", bob.id),
            Some(json!({"amount": 5000})),
        ),
        (
            Method::GET,
            format!("/api/v1/users/{}/payments", bob.id),
            None,
        ),
    ] {
        let response = app
            .request(method.clone(), &path, Some(&alice.access_token), body)
            .await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_eq!(app.balance(&bob).await, 0);
}

#[sqlx::test]
async fn a_waiting_user_may_not_see_seats_hold_or_pay(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let user = app.sign_up().await;
    let token = app.join_token(&user, concert.id).await;
    assert_eq!(app.status(&token).await["status"], "waiting");
    let schedule = concert.schedules[0];
    assert_error(
        app.get(&format!("/api/v1/schedules/{schedule}/seats"), Some(&token))
            .await,
        StatusCode::FORBIDDEN,
        "not_admitted",
    )
    .await;
    assert_error(
        app.hold(&token, schedule, &[1]).await,
        StatusCode::FORBIDDEN,
        "not_admitted",
    )
    .await;
}

#[sqlx::test]
async fn a_token_from_before_a_rejoin_is_dead(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, first) = app.admitted_user(concert.id, 200_000).await;
    let held: Value = app
        .hold(&first, concert.schedules[0], &[1])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.pay(&first, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );

    let second = app.join_token(&user, concert.id).await;
    assert_ne!(first, second);
    app.wait_for_status(&second, "active").await;
    assert_eq!(app.status(&first).await["status"], "expired");
    assert_error(
        app.hold(&first, concert.schedules[0], &[2]).await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;
    assert_eq!(
        app.hold(&second, concert.schedules[0], &[2]).await.status(),
        StatusCode::CREATED
    );
}

#[sqlx::test]
async fn the_admin_api_wants_the_admin_token(db: PgPool) {
    let app = spawn_app(db.clone()).await;
    let user = app.sign_up().await;
    let concert = app.create_concert(1, 5).await;
    let path = format!("/admin/v1/concerts/{}/queue", concert.id);
    assert_error(
        app.get(&path, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    assert_error(
        app.get(&path, Some("wrong-admin-token-0000")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_admin_token",
    )
    .await;
    assert_error(
        app.get(&path, Some(&user.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_admin_token",
    )
    .await;
    assert_eq!(
        app.get(&path, Some(ADMIN_TOKEN)).await.status(),
        StatusCode::OK
    );

    // With no admin token configured, nothing opens the admin API.
    let closed = TestApp::builder(db)
        .with_config(|config| config.admin.token = None)
        .spawn()
        .await;
    assert_error(
        closed.get(&path, Some(ADMIN_TOKEN)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_admin_token",
    )
    .await;
    let response = closed
        .post("/admin/v1/concerts", Some(ADMIN_TOKEN), json!({}))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_admin_token").await;
}

/// The admission token carries the queue token's very claims but its `typ`:
/// it is no queue token (no seats, no payment, no fresh admission), and
/// neither an access token nor a queue token is an admission at the gate.
/// A token whose header names another key of the set than the one that
/// signed it is forged.
#[sqlx::test]
async fn an_admission_token_is_only_an_admission(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, queue) = app.admitted_user(concert.id, 1_000_000).await;
    let admission = app.admission_token(&queue).await;
    for (why, response) in [
        (
            "status",
            app.get("/api/v1/queue/status", Some(&admission)).await,
        ),
        (
            "hold",
            app.hold(&admission, concert.schedules[0], &[1]).await,
        ),
        (
            "another admission",
            app.post("/api/v1/queue/admission", Some(&admission), json!({}))
                .await,
        ),
        ("leave", app.delete("/api/v1/queue", Some(&admission)).await),
        (
            "balance",
            app.get(
                &format!("/api/v1/users/{}/balance", user.id),
                Some(&admission),
            )
            .await,
        ),
    ] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_token", "{why}: {body}");
    }
    // The gate: an access token, by header and by cookie, is no admission.
    for response in [
        app.get(
            &format!("/api/v1/gate/{}", concert.id),
            Some(&user.access_token),
        )
        .await,
        app.gate(concert.id, Some(&user.access_token)).await,
    ] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The admission's claims under a header naming a key it was not signed with.
    let parts: Vec<&str> = admission.split('.').collect();
    let mut header = claims_of_part(parts[0]);
    header["kid"] = json!("not-a-key-of-the-set");
    let tampered = format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    assert_eq!(
        app.gate(concert.id, Some(&tampered)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // And the genuine one still passes.
    assert_eq!(
        app.gate(concert.id, Some(&admission)).await.status(),
        StatusCode::NO_CONTENT
    );
}

fn claims_of_part(part: &str) -> Value {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
