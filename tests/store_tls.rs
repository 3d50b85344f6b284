//! TLS to Redis and PostgreSQL, as docs/OPERATIONS.md tells operators to run
//! them: a redis-server of the test's own that listens only on a TLS port
//! (its certificate trusted through `SSL_CERT_FILE`), and the shared
//! PostgreSQL with `sslmode=require`.

mod support;

use sqlx::PgPool;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// A redis-server with TLS only (`--port 0`), its certificate made for
/// localhost; killed when dropped.
struct TlsRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: std::process::Child,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TlsRedis {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "lineup-tls-redis-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--tls-cert-file")
            .arg(dir.join("cert.pem"))
            .arg("--tls-key-file")
            .arg(dir.join("key.pem"))
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        TlsRedis { port, dir, child }
    }

    fn cert_file(&self) -> String {
        self.dir.join("cert.pem").to_str().unwrap().to_owned()
    }
}

#[sqlx::test]
async fn lineup_talks_to_redis_and_postgres_over_tls(db: PgPool) {
    let redis = TlsRedis::start();
    // Until it listens, a TCP connection is refused.
    eventually(Duration::from_secs(10), "the TLS port listens", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
            .await
            .ok()
    })
    .await;
    let mut database = url::Url::parse(&database_url(&db)).unwrap();
    database.set_query(Some("sslmode=require"));
    let server = Server::builder(&db)
        .database_url(database.as_str())
        .redis_url(&format!("rediss://localhost:{}", redis.port))
        .args(&["--admit-interval", "10ms"])
        .env("SSL_CERT_FILE", &redis.cert_file())
        .start()
        .await;

    // The whole flow, over TLS on both sides.
    let concert = server.create_concert(1, 5).await;
    server.buy(concert.id, concert.schedules[0], &[2]).await;
    assert_money_invariants(&db).await;

    // PostgreSQL sees the server's connections encrypted.
    let encrypted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.datname = current_database() AND s.ssl AND a.pid <> pg_backend_pid()",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(encrypted > 0);
}

#[sqlx::test]
async fn a_redis_certificate_nobody_vouches_for_stops_the_boot(db: PgPool) {
    let redis = TlsRedis::start();
    eventually(Duration::from_secs(10), "the TLS port listens", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
            .await
            .ok()
    })
    .await;
    let output = Server::builder(&db)
        .redis_url(&format!("rediss://localhost:{}", redis.port))
        .args(&["--redis-timeout", "1s"])
        .command()
        .env_remove("SSL_CERT_FILE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to Redis"), "{stderr}");
}
