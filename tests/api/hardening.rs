//! HTTPS done properly and a server that bounds what one client can take:
//! protocol versions, HSTS, certificate reload, the redirect listener, the
//! connection cap, timeouts, body size and abuse limits.

use crate::support::*;
use lineup::config::{RateLimit, Transport};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A TLS ClientHello offering at most `version` (0x0302 = TLS 1.1, 0x0303 =
/// TLS 1.2) and ECDSA cipher suites for the server's P-256 certificate.
fn client_hello(version: u16, suites: &[u16]) -> Vec<u8> {
    fn u16be(n: usize) -> [u8; 2] {
        (n as u16).to_be_bytes()
    }
    let mut extensions = Vec::new();
    let mut extension = |kind: u16, body: &[u8]| {
        extensions.extend_from_slice(&kind.to_be_bytes());
        extensions.extend_from_slice(&u16be(body.len()));
        extensions.extend_from_slice(body);
    };
    extension(0x000a, &[0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]); // groups: x25519, secp256r1
    extension(0x000b, &[0x01, 0x00]); // point formats: uncompressed
    extension(0x000d, &[0x00, 0x04, 0x04, 0x03, 0x08, 0x04]); // ecdsa_p256_sha256, rsa_pss_sha256
    extension(0x0017, &[]); // extended master secret
    extension(0xff01, &[0x00]); // renegotiation info
    let mut hello = Vec::new();
    hello.extend_from_slice(&version.to_be_bytes());
    hello.extend_from_slice(&[7u8; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&u16be(suites.len() * 2));
    for suite in suites {
        hello.extend_from_slice(&suite.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null
    hello.extend_from_slice(&u16be(extensions.len()));
    hello.extend_from_slice(&extensions);
    let mut handshake = vec![0x01, 0, 0, 0];
    handshake[2..4].copy_from_slice(&u16be(hello.len()));
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16be(handshake.len()));
    record.extend_from_slice(&handshake);
    record
}

/// The content type of the server's first TLS record: 0x16 handshake
/// (ServerHello), 0x15 alert.
async fn first_record_type(port: u16, hello: &[u8]) -> u8 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(hello).await.unwrap();
    let mut header = [0u8; 5];
    stream
        .read_exact(&mut header)
        .await
        .expect("the server answers the hello");
    header[0]
}

#[sqlx::test]
async fn tls_1_1_is_refused_where_tls_1_2_is_answered(db: PgPool) {
    let app = spawn_app(db).await;
    let port = app.base.rsplit(':').next().unwrap().parse().unwrap();
    // The same hello at TLS 1.2 gets a ServerHello: the probe itself is sound.
    assert_eq!(
        first_record_type(port, &client_hello(0x0303, &[0xc02b, 0xc02c])).await,
        0x16
    );
    // At TLS 1.1 (with 1.1's own CBC suites too) the answer is an alert.
    assert_eq!(
        first_record_type(port, &client_hello(0x0302, &[0xc009, 0xc00a, 0xc02b])).await,
        0x15
    );
}

#[sqlx::test]
async fn every_tls_response_carries_hsts_and_http2_is_spoken(db: PgPool) {
    let app = spawn_app(db).await;
    for path in ["/healthz", "/api/v1/concerts", "/nowhere"] {
        let response = app.get(path, None).await;
        assert_eq!(response.version(), reqwest::Version::HTTP_2, "{path}");
        let hsts = response
            .headers()
            .get("strict-transport-security")
            .expect("HSTS");
        assert!(hsts.to_str().unwrap().starts_with("max-age="), "{path}");
    }
}

/// A fresh self-signed certificate for localhost, written to `dir`.
fn write_certificate(dir: &Path) -> (PathBuf, PathBuf, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    // Written aside and renamed, as a certificate manager does, so the server
    // never reads half a file.
    std::fs::write(dir.join("cert.tmp"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.tmp"), certified.signing_key.serialize_pem()).unwrap();
    std::fs::rename(dir.join("key.tmp"), &key).unwrap();
    std::fs::rename(dir.join("cert.tmp"), &cert).unwrap();
    (cert, key, certified.cert.pem())
}

/// A client that trusts only `pem`, on a new connection each time.
fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

#[sqlx::test]
async fn a_swapped_certificate_is_served_after_reload(db: PgPool) {
    let dir = std::env::temp_dir().join(format!("lineup-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, first) = write_certificate(&dir);
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.tls.transport = Transport::TlsFiles { cert, key };
            config.tls.reload_interval = Duration::from_millis(100);
        })
        .spawn()
        .await;
    let url = app.url("/healthz");
    assert_eq!(
        trusting(&first).get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Some filesystems keep modification times in whole seconds.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (_, _, second) = write_certificate(&dir);
    eventually(
        Duration::from_secs(5),
        "the new certificate is served",
        || async { trusting(&second).get(&url).send().await.ok().map(drop) },
    )
    .await;
    assert!(
        trusting(&first).get(&url).send().await.is_err(),
        "the old certificate is still served"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[sqlx::test]
async fn the_plain_http_listener_only_redirects_to_https(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.tls.redirect_http_listen = Some("127.0.0.1:0".parse().unwrap())
        })
        .spawn()
        .await;
    let redirect = app.redirect_addr.expect("a redirect listener");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(format!(
            "http://localhost:{}/api/v1/users?x=1",
            redirect.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response.headers()["location"],
        format!("{}/api/v1/users?x=1", app.base).as_str()
    );
    // Nothing was served over plain HTTP: no user was created.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[sqlx::test]
async fn connections_beyond_the_cap_are_closed(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.tls.transport = Transport::PlainHttp;
            config.limits.max_connections = 2;
        })
        .spawn()
        .await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        open.push(stream);
    }
    let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = third.write_all(request).await;
    let mut buf = [0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("closed at once");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "a third connection was served: {read:?}"
    );

    // One closes: a new connection is served again.
    drop(open.pop());
    eventually(
        Duration::from_secs(50),
        "a new connection served",
        || async {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            stream.write_all(request).await.unwrap();
            let mut buf = [0u8; 12];
            let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
            matches!(read, Ok(Ok(n)) if n > 0).then_some(())
        },
    )
    .await;
}

#[sqlx::test]
async fn a_client_that_never_finishes_its_headers_is_dropped(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.tls.transport = Transport::PlainHttp;
            config.limits.header_read_timeout = Duration::from_millis(300);
        })
        .spawn()
        .await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: local")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was still open after 5 s");
}

#[sqlx::test]
async fn a_request_that_takes_too_long_gets_503_timeout(db: PgPool) {
    // PostgreSQL behind a proxy that accepts connections and never answers: the
    // pool waits, and the request timeout answers first.
    let app = TestApp::builder(db)
        .with_database_proxy()
        .with_config(|config| config.limits.request_timeout = Duration::from_millis(300))
        .spawn()
        .await;
    app.database_proxy().stall();
    let response = app
        .request(reqwest::Method::POST, "/api/v1/users", None, None)
        .await;
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "timeout").await;
}

#[sqlx::test]
async fn the_body_limit_is_a_setting(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| config.limits.body_limit = 2048)
        .spawn()
        .await;
    let user = app.sign_up().await;
    let body = json!({"amount": 5000, "note": "x".repeat(4096)});
    let response = app
        .post(
            &format!("/api/v1/users/{}/balance/charge", user.id),
            Some(&user.access_token),
            body,
        )
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
}

#[sqlx::test]
async fn one_user_is_limited_across_addresses_and_told_when_to_return(db: PgPool) {
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.abuse.per_user = Some(RateLimit {
                rate: 0.5,
                burst: 2,
            })
        })
        .spawn()
        .await;
    let user = app.sign_up().await;
    assert_eq!(app.charge(&user, 1_000).await.status(), StatusCode::OK);
    assert_eq!(app.charge(&user, 1_000).await.status(), StatusCode::OK);
    let limited = app.charge(&user, 1_000).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(app.balance(&user).await, 2_000);
    // Another user, and another action of the same user, have buckets of their own.
    let other = app.sign_up().await;
    assert_eq!(app.charge(&other, 1_000).await.status(), StatusCode::OK);
    let concert = app.create_concert(1, 5).await;
    assert!(app.join(&user, concert.id).await.status().is_success());
    assert_money_invariants(&app.db).await;
}

/// Joins with a fresh user each time, from `forwarded_for` as the proxy says.
async fn join_from(app: &TestApp, concert: uuid::Uuid, forwarded_for: &str) -> StatusCode {
    let user = app.sign_up().await;
    app.client
        .post(app.url(&format!("/api/v1/concerts/{concert}/queue")))
        .bearer_auth(&user.access_token)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
}

#[sqlx::test]
async fn an_address_is_limited_and_x_forwarded_for_counts_only_from_trusted_proxies(db: PgPool) {
    let limit = Some(RateLimit {
        rate: 0.2,
        burst: 3,
    });
    let app = TestApp::builder(db.clone())
        .with_config(|config| config.abuse.per_address = limit)
        .spawn()
        .await;
    let concert = app.create_concert(1, 5).await;
    // The test client is no trusted proxy: its X-Forwarded-For is ignored and
    // every join counts against 127.0.0.1, loopback not exempted.
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(join_from(&app, concert.id, &format!("198.51.100.{i}")).await);
    }
    assert_eq!(statuses[..3], [StatusCode::CREATED; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);

    // Behind a trusted proxy (127.0.0.1), each forwarded client has its own bucket.
    let proxied = TestApp::builder(db)
        .with_config(|config| {
            config.abuse.per_address = limit;
            config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        })
        .spawn()
        .await;
    for i in 0..6 {
        let status = join_from(&proxied, concert.id, &format!("198.51.100.{i}")).await;
        assert_eq!(status, StatusCode::CREATED, "client {i}");
    }
    for _ in 0..3 {
        join_from(&proxied, concert.id, "203.0.113.5").await;
    }
    assert_eq!(
        join_from(&proxied, concert.id, "203.0.113.5").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test]
async fn a_request_id_is_echoed_only_when_it_is_a_plain_id(db: PgPool) {
    let app = spawn_app(db).await;
    let send = |id: &'static str| {
        app.client
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send()
    };
    let kept = send("trace-42_ab").await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-42_ab");
    for hostile in ["<script>alert(1)</script>", "a b", "x".repeat(65).leak()] {
        let response = send(hostile).await.unwrap();
        let echoed = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(echoed, hostile);
        assert!(
            echoed.parse::<uuid::Uuid>().is_ok(),
            "a fresh id replaces {hostile:?}: {echoed}"
        );
    }
    let fresh = app.get("/healthz", None).await;
    assert!(
        fresh.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
}
