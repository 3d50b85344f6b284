//! The `lineup` binary as an operator runs it: settings checked at boot, HTTPS
//! with the operator's certificate or a self-signed one, plain HTTP only when
//! asked, and a clean stop on SIGTERM and SIGINT.

mod support;

use reqwest::Method;
use sqlx::PgPool;
use std::path::PathBuf;
use support::*;

/// A server as an operator starts it: HTTPS and a metrics listener.
fn operators_server(db: &PgPool) -> ServerBuilder {
    Server::builder(db).https().metrics()
}

#[test]
fn bad_settings_stop_the_boot_with_the_setting_named() {
    let cases: [(&[&str], &str); 6] = [
        (&["serve", "--token-key", "too-short"], "LINEUP_TOKEN_KEY"),
        (&["serve"], "LINEUP_TOKEN_KEY"),
        (
            &["serve", "--token-key", TOKEN_KEY, "--hold-ttl", "soon"],
            "--hold-ttl",
        ),
        (
            &["serve", "--token-key", TOKEN_KEY],
            "LINEUP_SIGNING_KEY_FILES",
        ),
        (
            &[
                "serve",
                "--token-key",
                TOKEN_KEY,
                "--signing-key-files",
                TOKEN_KEY,
            ],
            "LINEUP_SIGNING_KEY_FILES",
        ),
        (
            &[
                "serve",
                "--token-key",
                TOKEN_KEY,
                "--signing-key-files",
                SIGNING_KEY_FILE,
                "--charge-min",
                "0",
            ],
            "LINEUP_CHARGE_MIN",
        ),
    ];
    for (args, named) in cases {
        let output = lineup_command().args(args).output().unwrap();
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

    let mut server = operators_server(&db)
        .args(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .start()
        .await;
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

    assert!(
        server.stop_with("-TERM").await.success(),
        "exit status after SIGTERM"
    );
    let log = server.log_lines().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[sqlx::test]
async fn without_a_certificate_a_self_signed_one_is_made_and_said(db: PgPool) {
    let mut server = operators_server(&db).start().await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", server.port);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    // A client that checks certificates refuses it: it is not from a trusted CA.
    assert!(reqwest::get(&url).await.is_err());
    assert!(
        server.stop_with("-INT").await.success(),
        "exit status after SIGINT"
    );
    let log = server.log_lines().join("\n");
    assert!(log.contains("self-signed"), "{log}");
}

#[sqlx::test]
async fn plain_http_is_served_only_when_asked(db: PgPool) {
    let mut server = Server::builder(&db).metrics().start().await;
    let response = reqwest::get(format!("http://localhost:{}/healthz", server.port))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(server.stop_with("-TERM").await.success());
}

#[sqlx::test]
async fn operators_actions_are_audited_by_name_and_no_secret_is_logged(db: PgPool) {
    let alice = "alice-admin-token-0123456789";
    let mut server = operators_server(&db)
        .args(&[
            "--admin-tokens",
            &format!("alice={alice}"),
            "--log-format",
            "json",
            "--demo",
        ])
        .start()
        .await;
    let concert = lineup::demo::DEMO_CONCERT_ID;
    let changed = server
        .request(
            Method::PUT,
            &format!("/admin/v1/concerts/{concert}/queue"),
            Some(alice),
            Some(serde_json::json!({"admit_per_second": 42})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let user = server.sign_up().await;
    let access = user.access_token.clone();
    server.balance(&user).await;

    assert!(server.stop_with("-TERM").await.success());
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
    let mut server = operators_server(&db)
        .args(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .start()
        .await;
    let url = format!("https://localhost:{}", server.port);
    let admin = |extra: &[&str]| {
        lineup_command()
            .args(["admin", "--url", &url])
            .env("LINEUP_ADMIN_TOKEN", ADMIN_TOKEN)
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
    assert!(server.stop_with("-TERM").await.success());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn keys_generate_writes_a_private_key_once_and_prints_its_kid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signing.pem");
    let output = lineup_command()
        .args(["keys", "generate", "--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let kid = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let pem = std::fs::read_to_string(&path).unwrap();
    let key = lineup::tokens::keys::SigningKey::from_pem(&pem).unwrap();
    assert_eq!(key.kid(), kid);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    // Never over a file that exists.
    let again = lineup_command()
        .args(["keys", "generate", "--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
    // Without --out, the PEM goes to standard output.
    let printed = lineup_command()
        .args(["keys", "generate"])
        .output()
        .unwrap();
    let printed = String::from_utf8(printed.stdout).unwrap();
    assert!(
        lineup::tokens::keys::SigningKey::from_pem(&printed).is_ok(),
        "{printed}"
    );
}
