//! The connection policy (src/http/serve.rs): idle HTTP/1.1 connections are
//! closed and idle HTTP/2 sessions get a GOAWAY after their own settings, not
//! before, and never while a request is in flight; TLS sessions resume from
//! stateless tickets after thousands of other connections, a restart, and on
//! another server that shares the ticket secret.

use crate::support::*;
use futures::StreamExt;
use lineup::config::Transport;
use secrecy::SecretString;
use sqlx::PgPool;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn port_of(app: &TestApp) -> u16 {
    app.base.rsplit(':').next().unwrap().parse().unwrap()
}

/// Reads one HTTP/1.1 response (headers and a `content-length` body) and
/// returns its head, lower-cased.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("read a response");
        assert!(n > 0, "closed before a whole response: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_string();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return head;
            }
        }
    }
}

/// Waits for the server to close `stream` (EOF or reset), reading what comes.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closed the connection");
}

#[sqlx::test]
async fn an_idle_http1_connection_is_closed_after_its_own_timeout_not_the_header_one(db: PgPool) {
    let idle = Duration::from_millis(1500);
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.tls.transport = Transport::PlainHttp;
            config.limits.header_read_timeout = Duration::from_millis(200);
            config.limits.http1_idle_timeout = idle;
        })
        .spawn()
        .await;
    let mut stream = TcpStream::connect(("127.0.0.1", port_of(&app)))
        .await
        .unwrap();
    // The server's idle clock starts after it has the request: never before this.
    let sent = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let head = read_response(&mut stream).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("keep-alive: timeout=1"),
        "the close is announced: {head}"
    );
    closed_by_server(&mut stream, idle + Duration::from_secs(10)).await;
    assert!(
        sent.elapsed() >= idle,
        "closed after {:?}, before the idle timeout {idle:?} (the header timeout is 200 ms)",
        sent.elapsed()
    );
}

#[sqlx::test]
async fn a_request_in_flight_is_not_cut_by_the_idle_timeout(db: PgPool) {
    // PostgreSQL stalls: the sign-up waits for the request timeout (2 s), far
    // past the idle timeout (300 ms), and is answered on the same connection.
    let app = TestApp::builder(db)
        .with_database_proxy()
        .with_config(|config| {
            config.tls.transport = Transport::PlainHttp;
            config.limits.http1_idle_timeout = Duration::from_millis(300);
            config.limits.request_timeout = Duration::from_secs(2);
        })
        .spawn()
        .await;
    app.database_proxy().stall();
    let mut stream = TcpStream::connect(("127.0.0.1", port_of(&app)))
        .await
        .unwrap();
    stream
        .write_all(b"POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let head = read_response(&mut stream).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    // Quiet again: now it is closed.
    closed_by_server(&mut stream, Duration::from_secs(10)).await;
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend([kind, flags]);
    out.extend(stream.to_be_bytes());
    out.extend(payload);
    out
}

const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const HEADERS: u8 = 1;
const DATA: u8 = 0;
const ACK: u8 = 1;
const END_STREAM: u8 = 1;

/// Reads the next frame: (type, flags, stream, payload); `None` once closed.
async fn next_frame(stream: &mut TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], id, payload))
}

/// Reads frames (acknowledging SETTINGS and PING) until one of `kind` on
/// `stream_id` whose flags include `flags`.
async fn until_frame(stream: &mut TcpStream, kind: u8, flags: u8, stream_id: u32) -> Vec<u8> {
    loop {
        let (k, f, id, payload) = next_frame(stream).await.expect("the session is open");
        if k == SETTINGS && f & ACK == 0 {
            stream
                .write_all(&frame(SETTINGS, ACK, 0, &[]))
                .await
                .unwrap();
        } else if k == PING && f & ACK == 0 {
            stream
                .write_all(&frame(PING, ACK, 0, &payload))
                .await
                .unwrap();
        }
        if k == kind && f & flags == flags && id == stream_id {
            return payload;
        }
    }
}

#[sqlx::test]
async fn an_idle_http2_session_ends_with_a_goaway_after_its_own_timeout(db: PgPool) {
    let idle = Duration::from_millis(1500);
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.tls.transport = Transport::PlainHttp;
            config.limits.header_read_timeout = Duration::from_millis(200);
            config.limits.http1_idle_timeout = Duration::from_millis(200);
            config.limits.http2_idle_timeout = idle;
        })
        .spawn()
        .await;
    let mut stream = TcpStream::connect(("127.0.0.1", port_of(&app)))
        .await
        .unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    // GET /healthz: HPACK :method GET, :scheme http (static), :path and
    // :authority as literals.
    let mut block = vec![0x82, 0x86, 0x04, 8];
    block.extend(b"/healthz");
    block.extend([0x01, 9]);
    block.extend(b"localhost");
    let sent = Instant::now();
    stream
        .write_all(&frame(HEADERS, 0x4 | END_STREAM, 1, &block))
        .await
        .unwrap();
    until_frame(&mut stream, DATA, END_STREAM, 1).await;

    let goaway = tokio::time::timeout(
        idle + Duration::from_secs(10),
        until_frame(&mut stream, GOAWAY, 0, 0),
    )
    .await
    .expect("a GOAWAY");
    assert!(
        sent.elapsed() >= idle,
        "GOAWAY after {:?}, before the HTTP/2 idle timeout {idle:?}",
        sent.elapsed()
    );
    let code = u32::from_be_bytes(goaway[4..8].try_into().unwrap());
    assert_eq!(code, 0, "a graceful GOAWAY (NO_ERROR)");
    // The client answers the PING between the two GOAWAYs; then it is closed.
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some((kind, flags, _, payload)) = next_frame(&mut stream).await {
            if kind == PING && flags & ACK == 0 {
                let _ = stream.write_all(&frame(PING, ACK, 0, &payload)).await;
            }
        }
    })
    .await
    .expect("the server closed the session after its GOAWAY");
}

const TICKET_SECRET: &str = "a ticket secret every server of the test shares";

fn with_ticket_secret(secret: &'static str) -> impl FnOnce(&mut lineup::config::Config) {
    move |config| config.tls.ticket_secret = Some(SecretString::from(secret))
}

/// `openssl s_client` to the app over TLS 1.3, reading or saving its session;
/// returns whether the session was resumed ("Reused").
async fn s_client(app: &TestApp, session_in: Option<&Path>, session_out: Option<&Path>) -> bool {
    s_client_over("1.3", app, session_in, session_out).await
}

/// [`s_client`] over TLS `version` ("1.2" or "1.3").
async fn s_client_over(
    version: &str,
    app: &TestApp,
    session_in: Option<&Path>,
    session_out: Option<&Path>,
) -> bool {
    let flag = format!("-tls{}", version.replace('.', "_"));
    let mut command = tokio::process::Command::new("openssl");
    command
        .args(["s_client", &flag, "-alpn", "http/1.1", "-ign_eof"])
        .args(["-connect", &format!("127.0.0.1:{}", port_of(app))])
        .args(["-servername", "localhost"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(path) = session_in {
        command.arg("-sess_in").arg(path);
    }
    if let Some(path) = session_out {
        command.arg("-sess_out").arg(path);
    }
    let mut child = command.spawn().expect("openssl is installed");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("s_client ends when the server closes")
        .unwrap();
    drop(stdin);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("HTTP/1.1 200"), "no answer: {stdout}");
    if stdout.contains(&format!("Reused, TLSv{version}")) {
        true
    } else {
        assert!(stdout.contains(&format!("New, TLSv{version}")), "{stdout}");
        false
    }
}

#[sqlx::test]
async fn a_tls_1_2_session_gets_no_ticket_sealed_with_the_shared_secret(db: PgPool) {
    // A TLS 1.2 ticket holds the session's master secret and resumes with no new
    // key exchange, and TLS 1.2 sends it unencrypted: sealed with keys derived
    // from LINEUP_TLS_TICKET_SECRET (every period's, from the secret alone),
    // that secret would later decrypt every recorded TLS 1.2 session. So only
    // TLS 1.3 sessions (which resume with a fresh key exchange) get tickets; a
    // TLS 1.2 session resumes on the server that holds it only, by its id.
    let app = TestApp::builder(db.clone())
        .with_config(with_ticket_secret(TICKET_SECRET))
        .spawn()
        .await;
    let another = app.spawn_another().await;
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.pem");
    assert!(!s_client_over("1.2", &app, None, Some(&session)).await);
    assert!(
        !s_client_over("1.2", &another, Some(&session), None).await,
        "another server resumed a TLS 1.2 session from its ticket"
    );
    // TLS 1.3 sessions still resume anywhere.
    assert!(!s_client(&app, None, Some(&session)).await);
    assert!(s_client(&another, Some(&session), None).await);
}

#[sqlx::test]
async fn a_tls_session_resumes_after_thousands_of_connections_a_restart_and_on_another_server(
    db: PgPool,
) {
    let app = TestApp::builder(db.clone())
        .with_config(with_ticket_secret(TICKET_SECRET))
        .spawn()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.pem");
    assert!(!s_client(&app, None, Some(&session)).await, "a first visit");

    // Thousands of other people connect (each a new connection and session).
    let others = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{}/healthz", app.base);
    let served = futures::stream::iter(0..2_000)
        .map(|_| others.get(&url).send())
        .buffer_unordered(8)
        .filter(|r| std::future::ready(r.as_ref().is_ok_and(|r| r.status().is_success())))
        .count()
        .await;
    assert_eq!(served, 2_000);
    assert!(
        s_client(&app, Some(&session), None).await,
        "resumed after 2,000 others"
    );

    let another = app.spawn_another().await;
    assert!(
        s_client(&another, Some(&session), None).await,
        "resumed on another server"
    );
    let app = app.restart().await;
    assert!(
        s_client(&app, Some(&session), None).await,
        "resumed after a restart"
    );

    // A server with another secret cannot read the ticket: a full handshake.
    let stranger = TestApp::builder(db)
        .with_config(with_ticket_secret(
            "another secret that no other server of the test has",
        ))
        .spawn()
        .await;
    assert!(!s_client(&stranger, Some(&session), None).await);
}

#[sqlx::test]
async fn the_redirect_listener_closes_slow_and_idle_connections_too(db: PgPool) {
    // The plain-HTTP listener is as public as the API's: a client that opens
    // connections to it and sends half a request, or keeps one quiet after its
    // redirect, must not keep them (and their file descriptors) for ever.
    let app = TestApp::builder(db)
        .with_config(|config| {
            config.tls.redirect_http_listen = Some("127.0.0.1:0".parse().unwrap());
            config.limits.header_read_timeout = Duration::from_millis(300);
            config.limits.http1_idle_timeout = Duration::from_millis(300);
        })
        .spawn()
        .await;
    let redirect = app.redirect_addr.expect("a redirect listener");
    let mut slow = TcpStream::connect(redirect).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let mut quiet = TcpStream::connect(redirect).await.unwrap();
    quiet
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let head = read_response(&mut quiet).await;
    assert!(head.starts_with("http/1.1 308"), "{head}");
    closed_by_server(&mut slow, Duration::from_secs(10)).await;
    closed_by_server(&mut quiet, Duration::from_secs(10)).await;
}
