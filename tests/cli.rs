//! The `lineup` binary as an operator runs it: settings checked at boot, HTTPS
//! with the operator's certificate or a self-signed one, plain HTTP only when
//! asked, and a clean stop on SIGTERM and SIGINT.

use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN_KEY: &str = "cli-test-token-key-0123456789abcdef-0123";

fn lineup() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lineup"));
    // Only what a test sets, so the runner's own LINEUP_* variables cannot leak in.
    for (name, _) in std::env::vars() {
        if name.starts_with("LINEUP_") {
            command.env_remove(name);
        }
    }
    command.env("NO_COLOR", "1").env("RUST_LOG", "info");
    command
}

/// The URL of the test's own database, for the binary to connect to.
fn database_url(db: &PgPool) -> String {
    let options = db.connect_options();
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set by make test");
    let mut url = url::Url::parse(&server).expect("DATABASE_URL is a URL");
    url.set_path(
        options
            .get_database()
            .expect("the test database has a name"),
    );
    url.to_string()
}

/// A running server process, killed if the test fails before stopping it.
struct Server {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    history: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `lineup serve` on a free port and waits for its "listening" line.
    fn start(db: &PgPool, extra: &[&str]) -> Server {
        let mut child = lineup()
            .args(["serve", "--listen", "127.0.0.1:0", "--token-key", TOKEN_KEY])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .args(["--database-url", &database_url(db)])
            .args([
                "--redis-prefix",
                &format!("cli-{}", uuid::Uuid::new_v4().simple()),
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (tx, log) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        // From here on, a failing test still kills and reaps the process (Drop).
        let mut server = Server {
            child,
            port: 0,
            log,
            history: Vec::new(),
        };
        while server.port == 0 {
            let line = server
                .log
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no listening line; log so far: {:#?}", server.history));
            if let Some(rest) = line.split("://localhost:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                server.port = digits.parse().expect("a port after ://localhost:");
            }
            server.history.push(line);
        }
        server
    }

    /// Sends a signal and waits for the process to exit; returns whether it exited 0.
    /// Waits asynchronously: the test's own clients must keep answering the
    /// server's HTTP/2 GOAWAY and PING while it drains connections.
    async fn stop_with(&mut self, signal: &str) -> bool {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not stop within 10 s of {signal}");
    }

    /// Everything the process has logged so far.
    fn log_lines(&mut self) -> Vec<String> {
        self.history.extend(self.log.try_iter());
        self.history.clone()
    }
}

#[test]
fn bad_settings_stop_the_boot_with_the_setting_named() {
    let cases: [(&[&str], &str); 4] = [
        (&["serve", "--token-key", "too-short"], "LINEUP_TOKEN_KEY"),
        (&["serve"], "LINEUP_TOKEN_KEY"),
        (
            &["serve", "--token-key", TOKEN_KEY, "--hold-ttl", "soon"],
            "--hold-ttl",
        ),
        (
            &["serve", "--token-key", TOKEN_KEY, "--charge-min", "0"],
            "LINEUP_CHARGE_MIN",
        ),
    ];
    for (args, named) in cases {
        let output = lineup().args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?} should not boot");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

#[sqlx::test]
async fn an_operator_certificate_is_served_over_http2_and_sigterm_stops_cleanly(db: PgPool) {
    let dir = std::env::temp_dir().join(format!("lineup-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key): (PathBuf, PathBuf) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let mut server = Server::start(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // Trusts only the operator's certificate: the handshake proves it is the one served.
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{}/healthz", server.port))
        .send()
        .await
        .expect("TLS with the operator's certificate");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);

    assert!(server.stop_with("-TERM").await, "exit status after SIGTERM");
    let log = server.log_lines().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[sqlx::test]
async fn without_a_certificate_a_self_signed_one_is_made_and_said(db: PgPool) {
    let mut server = Server::start(&db, &[]);
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", server.port);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    // A client that checks certificates refuses it: it is not from a trusted CA.
    assert!(reqwest::get(&url).await.is_err());
    assert!(server.stop_with("-INT").await, "exit status after SIGINT");
    let log = server.log_lines().join("\n");
    assert!(log.contains("self-signed"), "{log}");
}

#[sqlx::test]
async fn plain_http_is_served_only_when_asked(db: PgPool) {
    let mut server = Server::start(&db, &["--plain-http"]);
    let response = reqwest::get(format!("http://localhost:{}/healthz", server.port))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(server.stop_with("-TERM").await);
}

#[sqlx::test]
async fn operators_actions_are_audited_by_name_and_no_secret_is_logged(db: PgPool) {
    let alice = "alice-admin-token-0123456789";
    let mut server = Server::start(
        &db,
        &[
            "--admin-tokens",
            &format!("alice={alice}"),
            "--log-format",
            "json",
            "--demo",
        ],
    );
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", server.port);
    let concert = lineup::demo::DEMO_CONCERT_ID;
    let changed = client
        .put(format!("{base}/admin/v1/concerts/{concert}/queue"))
        .bearer_auth(alice)
        .json(&serde_json::json!({"admit_per_second": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let user: serde_json::Value = client
        .post(format!("{base}/api/v1/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = user["access_token"].as_str().unwrap().to_owned();
    let balance = client
        .get(format!(
            "{base}/api/v1/users/{}/balance",
            user["user_id"].as_str().unwrap()
        ))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(balance.status(), 200);

    assert!(server.stop_with("-TERM").await);
    let lines = server.log_lines();
    let audit: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["target"] == "lineup::audit")
        .collect();
    assert!(
        audit
            .iter()
            .any(|e| e["operator"] == "alice" && e["action"] == "change_settings"),
        "{lines:#?}"
    );
    let log = lines.join("\n");
    for secret in [alice, access.as_str(), lineup::config::DEMO_TOKEN_KEY] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    // One line per request, with its route and status.
    assert!(
        log.contains(r#""route":"/api/v1/users/{user_id}/balance""#),
        "{log}"
    );
}

#[sqlx::test]
async fn lineup_admin_trusts_the_operator_certificate_it_is_given(db: PgPool) {
    let dir = std::env::temp_dir().join(format!("lineup-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key): (PathBuf, PathBuf) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let admin_token = "cli-admin-token-0123456789";
    let mut server = Server::start(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--admin-token",
            admin_token,
        ],
    );
    let url = format!("https://localhost:{}", server.port);
    let admin = |extra: &[&str]| {
        lineup()
            .args(["admin", "--url", &url])
            .env("LINEUP_ADMIN_TOKEN", admin_token)
            .args(extra)
            .arg("concerts")
            .output()
            .unwrap()
    };
    let trusted = admin(&["--ca-cert", cert.to_str().unwrap()]);
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&trusted.stdout), "no concerts\n");
    let untrusted = admin(&[]);
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("--ca-cert"));
    assert!(server.stop_with("-TERM").await);
    std::fs::remove_dir_all(dir).unwrap();
}
