//! Admissions other sites check: the key set, the admission token and its
//! cookie, `return_to`, and the gate reverse proxies ask, which must refuse an
//! admission as soon as it ends (a second at most with its cache; at once
//! without it).

use crate::support::*;
use lineup::gate::ReturnToOrigins;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

/// The gate without its cache: every answer is Redis's.
async fn uncached(db: PgPool) -> TestApp {
    TestApp::builder(db)
        .with_config(|config| config.gate.cache_for = Duration::ZERO)
        .spawn()
        .await
}

fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .unwrap()
        .claims
}

async fn assert_refused(response: reqwest::Response, why: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "admission_required", "{why}: {body}");
}

#[sqlx::test]
async fn the_key_set_is_published_with_cache_headers(db: PgPool) {
    let app = spawn_app(db).await;
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = response.json().await.unwrap();
    let key = lineup::tokens::keys::SigningKey::from_pem(
        &std::fs::read_to_string(SIGNING_KEY_FILE).unwrap(),
    )
    .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0], key.public_jwk());
    // Never the private half.
    assert!(jwks["keys"][0].get("d").is_none());

    // A queue token names that key and carries the issuer and audience.
    let concert = app.create_concert(1, 10).await;
    let (_, queue) = app.admitted_user(concert.id, 0).await;
    let header = jsonwebtoken::decode_header(&queue).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(key.kid()));
    let claims = claims_of(&queue);
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some("lineup"), Some("lineup"))
    );
}

#[sqlx::test]
async fn an_admitted_person_gets_the_cookie_and_the_gate_lets_them_through(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, queue) = app.admitted_user(concert.id, 0).await;

    let response = app.admission(&queue, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let token = body["admission_token"].as_str().unwrap();
    assert!(
        cookie.starts_with(&format!("lineup_admission={token}; Path=/; Max-Age=")),
        "{cookie}"
    );
    assert!(
        cookie.ends_with("; Secure; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(body["return_to"], Value::Null);
    let claims = claims_of(token);
    assert_eq!(claims["typ"], "admission");
    assert_eq!(claims["sub"], json!(user.id));
    assert_eq!(claims["cid"], json!(concert.id));
    assert_eq!(claims["jti"], claims_of(&queue)["jti"]);
    let expires_at = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(claims["exp"].as_i64().unwrap(), expires_at);

    // Through the cookie.
    let passed = app.gate(concert.id, Some(token)).await;
    assert_eq!(passed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        passed.headers()["x-lineup-user"],
        user.id.to_string().as_str()
    );
    assert_eq!(
        passed.headers()["x-lineup-concert"],
        concert.id.to_string().as_str()
    );
    // Through a bearer header, for API clients.
    let bearer = app
        .get(&format!("/api/v1/gate/{}", concert.id), Some(token))
        .await;
    assert_eq!(bearer.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        bearer.headers()["x-lineup-user"],
        user.id.to_string().as_str()
    );
}

#[sqlx::test]
async fn the_gate_refuses_missing_forged_expired_and_other_concert_admissions(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    let other = app.create_concert(1, 10).await;
    let (_, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    let claims = claims_of(&token);

    assert_refused(app.gate(concert.id, None).await, "no cookie").await;
    assert_refused(app.gate(other.id, Some(&token)).await, "another concert").await;
    // The queue token itself is no admission.
    assert_refused(app.gate(concert.id, Some(&queue)).await, "a queue token").await;

    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 5);
    let mut other_concert = claims.clone();
    other_concert["cid"] = json!(other.id);
    let mut other_audience = claims.clone();
    other_audience["aud"] = json!("another-site");
    let mut other_issuer = claims.clone();
    other_issuer["iss"] = json!("https://evil.example");
    let tampered = {
        let parts: Vec<&str> = token.split('.').collect();
        let forged = base64_url(other_concert.to_string().as_bytes());
        format!("{}.{forged}.{}", parts[0], parts[2])
    };
    for (why, forged) in [
        ("expired", sign_with_test_key(&expired)),
        (
            "signed by a key outside the set",
            sign_with_key_file(&claims, NEXT_SIGNING_KEY_FILE),
        ),
        ("another audience", sign_with_test_key(&other_audience)),
        ("another issuer", sign_with_test_key(&other_issuer)),
        ("tampered concert", tampered),
        ("garbage", "not-a-token".to_owned()),
    ] {
        assert_refused(app.gate(concert.id, Some(&forged)).await, why).await;
    }
    // A validly signed admission to the other concert is for the other concert.
    assert_refused(
        app.gate(concert.id, Some(&sign_with_test_key(&other_concert)))
            .await,
        "other-concert admission",
    )
    .await;
    // A non-UUID concert is a bad request, not a pass.
    assert_eq!(
        app.get("/api/v1/gate/not-a-uuid", None).await.status(),
        StatusCode::BAD_REQUEST
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[sqlx::test]
async fn a_waiting_or_ended_place_gets_no_admission(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let user = app.sign_up().await;
    let waiting = app.join_token(&user, concert.id).await;
    assert_error(
        app.admission(&waiting, None).await,
        StatusCode::FORBIDDEN,
        "not_admitted",
    )
    .await;
    assert_eq!(
        app.delete("/api/v1/queue", Some(&waiting)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.admission(&waiting, None).await,
        StatusCode::FORBIDDEN,
        "token_revoked",
    )
    .await;
    let user = app.sign_up().await;
    assert_error(
        app.admission(&user.access_token, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

/// Each way an admission ends closes the gate at once when nothing is cached.
#[sqlx::test]
async fn an_ended_admission_is_refused_by_the_gate(db: PgPool) {
    let app = uncached(db).await;
    let concert = app.create_concert(1, 10).await;

    // Leaving.
    let (_, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    assert_eq!(
        app.gate(concert.id, Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/api/v1/queue", Some(&queue)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_refused(app.gate(concert.id, Some(&token)).await, "left").await;

    // Paying.
    let (_, queue) = app.admitted_user(concert.id, 1_000_000).await;
    let token = app.admission_token(&queue).await;
    let held = app.hold_ok(&queue, concert.schedules[0], &[1]).await;
    let paid = app
        .pay(
            &queue,
            uuid(&held["reservation_id"]),
            held["amount"].as_i64().unwrap(),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    assert_refused(app.gate(concert.id, Some(&token)).await, "paid").await;

    // An operator's eviction.
    let (user, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    let evicted = app
        .request(
            Method::DELETE,
            &format!("/admin/v1/concerts/{}/queue/users/{}", concert.id, user.id),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(evicted.status(), StatusCode::OK);
    assert_refused(app.gate(concert.id, Some(&token)).await, "evicted").await;

    // A re-join supersedes the old place.
    let (user, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    assert_eq!(
        app.delete("/api/v1/queue", Some(&queue)).await.status(),
        StatusCode::NO_CONTENT
    );
    let _again = app.join_token(&user, concert.id).await;
    assert_refused(app.gate(concert.id, Some(&token)).await, "re-joined").await;
    app.set_queue(concert.id, json!({"paused": false})).await;

    // The operator closes the sale.
    let (_, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    assert_eq!(
        app.gate(concert.id, Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    let closed = app
        .request(
            Method::POST,
            &format!("/admin/v1/concerts/{}/close", concert.id),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(closed.status(), StatusCode::OK);
    assert_refused(app.gate(concert.id, Some(&token)).await, "sale closed").await;
}

/// With the default cache (1 s), an ended admission is refused once the
/// remembered yes runs out.
#[sqlx::test]
async fn with_its_cache_the_gate_refuses_an_ended_admission_within_a_second(db: PgPool) {
    let app = spawn_app(db).await;
    assert_eq!(app.config.gate.cache_for, Duration::from_secs(1));
    let concert = app.create_concert(1, 10).await;
    let (_, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    assert_eq!(
        app.gate(concert.id, Some(&token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/api/v1/queue", Some(&queue)).await.status(),
        StatusCode::NO_CONTENT
    );
    // The bound is the cache's second; the limit here only stops a broken gate.
    eventually(
        Duration::from_secs(10),
        "the gate refuses the ended admission",
        || async {
            (app.gate(concert.id, Some(&token)).await.status() == StatusCode::UNAUTHORIZED)
                .then_some(())
        },
    )
    .await;
}

#[sqlx::test]
async fn return_to_must_be_on_the_allow_list(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.gate.return_to =
                ReturnToOrigins::parse(&["https://shop.example", "http://localhost:8080"]).unwrap();
        })
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    let (_, queue) = app.admitted_user(concert.id, 0).await;

    for (asked, normal) in [
        (
            "https://shop.example/concerts/7?x=1",
            "https://shop.example/concerts/7?x=1",
        ),
        ("HTTPS://SHOP.example:443/a", "https://shop.example/a"),
        ("http://localhost:8080/", "http://localhost:8080/"),
    ] {
        let response = app.admission(&queue, Some(asked)).await;
        assert_eq!(response.status(), StatusCode::OK, "{asked}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["return_to"], normal, "{asked}");
    }
    for hostile in [
        "https://evil.example/",
        "//evil.example/",
        "/relative",
        "https://shop.example@evil.example/",
        "https://shop.example\\@evil.example/",
        "https:\\\\evil.example",
        "javascript:alert(document.cookie)",
        "https://user:pw@shop.example/",
        "https://shop.example:444/",
        "http://shop.example/",
        "https://shop.example.evil.example/",
        "https://shоp.example/",
        "https://xn--shp-8cd.example/",
    ] {
        let response = app.admission(&queue, Some(hostile)).await;
        let headers = response.headers().clone();
        assert_error(response, StatusCode::BAD_REQUEST, "return_to_not_allowed").await;
        assert!(
            headers.get("set-cookie").is_none(),
            "{hostile}: no cookie on a refusal"
        );
    }
}

/// A rotation on a running deployment: a server that signs with the next key
/// and still lists the old one keeps every token the old one signed working.
#[sqlx::test]
async fn a_token_signed_before_a_rotation_still_verifies_after(db: PgPool) {
    let before = spawn_app(db.clone()).await;
    let concert = before.create_concert(1, 10).await;
    let (user, queue) = before.admitted_user(concert.id, 0).await;
    let admission = before.admission_token(&queue).await;

    let prefix = before.config.redis.prefix.clone();
    let read = |path: &str| {
        lineup::tokens::keys::SigningKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let (old, next) = (read(SIGNING_KEY_FILE), read(NEXT_SIGNING_KEY_FILE));
    let after = TestApp::builder(db)
        .with_config(|config| {
            config.redis.prefix = prefix;
            config.tokens.signing_keys = vec![next.clone(), old.clone()];
        })
        .spawn()
        .await;
    let jwks: Value = after
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [next.kid(), old.kid()]);

    // The old key's tokens still work on the rotated server.
    assert_eq!(after.status(&queue).await["status"], "active");
    let passed = after.gate(concert.id, Some(&admission)).await;
    assert_eq!(passed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        passed.headers()["x-lineup-user"],
        user.id.to_string().as_str()
    );
    // New ones are signed with the next key, and the old server (which
    // published nothing of it) would not know them: that is why the next key
    // is published first.
    let fresh = after.admission_token(&queue).await;
    let kid = jsonwebtoken::decode_header(&fresh).unwrap().kid.unwrap();
    assert_eq!(kid, next.kid());
    assert_refused(before.gate(concert.id, Some(&fresh)).await, "unknown kid").await;
}

/// nginx's `auth_request` hands the gate every header of the original
/// request, the protected site's own `Authorization` too (HTTP Basic on a
/// staging site, the site's own API bearer tokens): the admission cookie must
/// still let an admitted person through, and a bearer admission token still
/// counts when the cookie beside it is stale.
#[sqlx::test]
async fn the_sites_own_authorization_header_does_not_hide_the_cookie(db: PgPool) {
    let app = uncached(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    let gate = |authorization: &'static str, cookie: String| {
        app.client()
            .get(app.url(&format!("/api/v1/gate/{}", concert.id)))
            .header("authorization", authorization)
            .header("cookie", cookie)
            .send()
    };
    for authorization in [
        "Basic c3RhZ2luZzpzZWNyZXQ=",
        "Bearer the-sites-own-api-token",
        "Bearer",
        "Digest username=\"x\"",
    ] {
        let response = gate(authorization, format!("lineup_admission={token}"))
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "cookie beside Authorization: {authorization}"
        );
        assert_eq!(
            response.headers()["x-lineup-user"],
            user.id.to_string().as_str()
        );
    }
    // Neither a foreign Authorization nor a bearer without a cookie is a pass.
    let response = gate("Basic c3RhZ2luZzpzZWNyZXQ=", "other=1".into())
        .await
        .unwrap();
    assert_refused(response, "Basic and no cookie").await;
    // A bearer admission token beside a forged cookie still passes.
    let response = app
        .client()
        .get(app.url(&format!("/api/v1/gate/{}", concert.id)))
        .bearer_auth(&token)
        .header("cookie", "lineup_admission=forged.token.here")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// The gate's second of memory counts from when Redis answered, not from
/// when a slow reply reached the server: a yes that took two seconds to
/// arrive (a stalled network, a Redis failing over) is already older than the
/// cache's second, so an admission that ended meanwhile is refused at once.
#[sqlx::test]
async fn a_slow_yes_is_not_remembered_past_a_second_after_redis_gave_it(db: PgPool) {
    use futures::StreamExt;
    let slow = TestApp::builder(db.clone())
        .with_redis_proxy()
        .with_config(|c| c.redis.timeout = Duration::from_secs(10))
        .spawn()
        .await;
    assert_eq!(slow.config.gate.cache_for, Duration::from_secs(1));
    let concert = slow.create_concert(1, 10).await;
    let (user, queue) = slow.admitted_user(concert.id, 0).await;
    let token = slow.admission_token(&queue).await;
    let mut config = slow.config.clone();
    config.redis.url = redis_url();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let fast = TestApp::builder(db.clone())
        .with_config(|c| *c = config)
        .spawn()
        .await;
    let monitor = redis::Client::open(redis_url())
        .unwrap()
        .get_async_monitor()
        .await
        .unwrap();
    let mut commands = monitor.into_on_message::<String>();

    slow.redis_proxy().delay_replies(Duration::from_secs(2));
    let asked = slow.gate(concert.id, Some(&token));
    let left = async {
        // Redis has answered the slow server's gate check (yes); the answer is
        // on its way. Now the person leaves, through the other server.
        let user = user.id.to_string();
        while let Some(command) = commands.next().await {
            if command.contains("EVAL") && command.contains(&user) {
                break;
            }
        }
        fast.delete("/api/v1/queue", Some(&queue)).await.status()
    };
    let (asked, left) = tokio::join!(asked, left);
    assert_eq!(
        asked.status(),
        StatusCode::NO_CONTENT,
        "the yes given before"
    );
    assert_eq!(left, StatusCode::NO_CONTENT);
    slow.redis_proxy().restore();
    // Two seconds after Redis said yes, and after the admission ended.
    assert_refused(
        slow.gate(concert.id, Some(&token)).await,
        "a yes two seconds old",
    )
    .await;
}

/// A browser can hold two admission cookies of the same name (one set with
/// a Domain before the operator changed `LINEUP_ADMISSION_COOKIE_DOMAIN`, one
/// host-only after; or one per path) and sends both, the older first: the
/// live one still lets the person through. At most a few are tried.
#[sqlx::test]
async fn a_stale_admission_cookie_beside_the_live_one_does_not_hide_it(db: PgPool) {
    let app = uncached(db).await;
    let concert = app.create_concert(1, 10).await;
    let (user, queue) = app.admitted_user(concert.id, 0).await;
    let token = app.admission_token(&queue).await;
    let response = app
        .client()
        .get(app.url(&format!("/api/v1/gate/{}", concert.id)))
        .header(
            "cookie",
            format!("lineup_admission=an.old.one; other=1; lineup_admission={token}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.headers()["x-lineup-user"],
        user.id.to_string().as_str()
    );
}
