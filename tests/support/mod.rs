//! Real `lineup serve` processes, several at once on one Redis prefix and one
//! database, as a sale runs them behind a load balancer; a redis-server of a
//! test's own that it may kill and restart empty; the booking steps as calls
//! against any one of the servers. Shared by `tests/multi_server.rs` and
//! `tests/faults.rs`.

#![allow(dead_code)]

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use uuid::Uuid;

pub const TOKEN_KEY: &str = "fleet-test-token-key-0123456789abcdef-012";
pub const ADMIN_TOKEN: &str = "fleet-test-admin-token-0123456789";

/// The Redis every server of a test shares: the cluster named by
/// `LINEUP_TEST_REDIS_CLUSTER` (`make test` runs the suite against one), else
/// the single Redis on 127.0.0.1:6379.
pub fn shared_redis_args() -> Vec<String> {
    match std::env::var("LINEUP_TEST_REDIS_CLUSTER") {
        Ok(nodes) if !nodes.is_empty() => vec!["--redis-cluster-nodes".into(), nodes],
        _ => vec!["--redis-url".into(), "redis://127.0.0.1:6379".into()],
    }
}

/// The URL of the test's own database (made by `#[sqlx::test]`).
pub fn database_url(db: &PgPool) -> String {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set by make test");
    let mut url = url::Url::parse(&server).expect("DATABASE_URL is a URL");
    url.set_path(
        db.connect_options()
            .get_database()
            .expect("the test database has a name"),
    );
    url.to_string()
}

/// A fresh key prefix: the servers of one test share it, other tests never see it.
pub fn unique_prefix() -> String {
    format!("fleet-{}", Uuid::new_v4().simple())
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `lineup serve` process on plain HTTP; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub client: reqwest::Client,
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
    /// Starts `lineup serve` against `database_url`, Redis (`redis_args`, e.g.
    /// [`shared_redis_args`]) under `prefix`, and waits for its listening line
    /// (asynchronously: the test's own proxies keep running meanwhile).
    pub async fn start(
        database_url: &str,
        redis_args: &[String],
        prefix: &str,
        extra: &[&str],
    ) -> Self {
        Self::start_with_env(database_url, redis_args, prefix, extra, &[]).await
    }

    /// [`start`](Self::start) with environment variables of its own (such as
    /// `SSL_CERT_FILE`).
    pub async fn start_with_env(
        database_url: &str,
        redis_args: &[String],
        prefix: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lineup"));
        for (name, _) in std::env::vars() {
            if name.starts_with("LINEUP_") {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().copied());
        let mut child = command
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--plain-http",
                "--no-metrics",
            ])
            .args(["--token-key", TOKEN_KEY, "--admin-token", ADMIN_TOKEN])
            .args(["--database-url", database_url, "--redis-prefix", prefix])
            .args(redis_args)
            .args(["--limit-address-rate", "0", "--limit-user-rate", "0"])
            // Seat-aware admission would admit at most twice the free seats, and
            // these tests admit many people to small concerts (as tests/api does).
            .args(["--admit-seat-factor", "100"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the lineup binary starts");
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
        let mut server = Server {
            child,
            port: 0,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            log,
            history: Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while server.port == 0 {
            let line = match server.log.try_recv() {
                Ok(line) => line,
                Err(mpsc::TryRecvError::Empty) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(_) => panic!("no listening line; log so far: {:#?}", server.history),
            };
            if let Some(rest) = line.split("://localhost:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                server.port = digits.parse().expect("a port after ://localhost:");
            }
            server.history.push(line);
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends a signal (`-TERM`, `-KILL`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits (asynchronously, so the test's clients keep running) for the
    /// process to exit; panics after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the process has logged so far.
    pub fn log_lines(&mut self) -> Vec<String> {
        self.history.extend(self.log.try_iter());
        self.history.clone()
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        self.try_request(method, path, token, body)
            .await
            .unwrap_or_else(|e| panic!("request to {}: {e}", self.url(path)))
    }

    /// Like [`request`](Self::request), handing back a transport error (a
    /// server that is gone) instead of panicking.
    pub async fn try_request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Result<Response> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// A concert that opened a minute ago: `dates` dates of `seats` seats at 50,000 won.
    pub async fn create_concert(&self, dates: usize, seats: u32) -> (Uuid, Vec<Uuid>) {
        let schedules: Vec<Value> = (0..dates)
            .map(|d| {
                json!({
                    "starts_at": chrono::Utc::now() + chrono::Duration::days(30 + d as i64),
                    "seats": (1..=seats).map(|n| json!({"seat_no": n, "price": 50_000})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let response = self
            .post(
                "/admin/v1/concerts",
                Some(ADMIN_TOKEN),
                json!({
                    "title": "Fleet night", "venue": "Fleet hall",
                    "opens_at": chrono::Utc::now() - chrono::Duration::minutes(1),
                    "schedules": schedules,
                }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        (
            uuid(&body["concert_id"]),
            body["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| uuid(&s["schedule_id"]))
                .collect(),
        )
    }

    /// Changes a concert's queue settings; asserts 200.
    pub async fn set_queue(&self, concert: Uuid, settings: Value) {
        let response = self
            .request(
                reqwest::Method::PUT,
                &format!("/admin/v1/concerts/{concert}/queue"),
                Some(ADMIN_TOKEN),
                Some(settings),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// The concert's queue settings with `waiting` and `active`.
    pub async fn queue_of(&self, concert: Uuid) -> Value {
        let response = self
            .get(
                &format!("/admin/v1/concerts/{concert}/queue"),
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// A new user: (user id, access token).
    pub async fn sign_up(&self) -> (Uuid, String) {
        let response = self
            .request(reqwest::Method::POST, "/api/v1/users", None, None)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        (
            uuid(&body["user_id"]),
            body["access_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn charge(&self, user: Uuid, access: &str, amount: i64) -> Response {
        self.post(
            &format!("/api/v1/users/{user}/balance/charge"),
            Some(access),
            json!({ "amount": amount }),
        )
        .await
    }

    pub async fn balance(&self, user: Uuid, access: &str) -> i64 {
        let response = self
            .get(&format!("/api/v1/users/{user}/balance"), Some(access))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["balance"]
            .as_i64()
            .unwrap()
    }

    /// Joins the line; returns the QueueTicket (asserts 200 or 201).
    pub async fn join(&self, access: &str, concert: Uuid) -> Value {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/concerts/{concert}/queue"),
                Some(access),
                None,
            )
            .await;
        assert!(
            response.status().is_success(),
            "join: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn status(&self, queue_token: &str) -> Value {
        let response = self.get("/api/v1/queue/status", Some(queue_token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Polls until the ticket reads `want`; panics after 20 s.
    pub async fn wait_for_status(&self, queue_token: &str, want: &str) -> Value {
        eventually(
            Duration::from_secs(20),
            &format!("status {want}"),
            || async {
                let ticket = self.status(queue_token).await;
                (ticket["status"] == want).then_some(ticket)
            },
        )
        .await
    }

    pub async fn hold(&self, queue_token: &str, schedule: Uuid, seats: &[i64]) -> Response {
        self.post(
            "/api/v1/reservations",
            Some(queue_token),
            json!({ "schedule_id": schedule, "seat_nos": seats }),
        )
        .await
    }

    pub async fn pay(&self, queue_token: &str, reservation: Uuid, amount: i64) -> Response {
        self.post(
            "/api/v1/payments",
            Some(queue_token),
            json!({ "reservation_id": reservation, "amount": amount }),
        )
        .await
    }

    /// The seat numbers of a schedule in one state, from the seat map.
    pub async fn seats_in_state(&self, queue_token: &str, schedule: Uuid, state: &str) -> Vec<i64> {
        let response = self
            .get(
                &format!("/api/v1/schedules/{schedule}/seats"),
                Some(queue_token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let map: Value = response.json().await.unwrap();
        map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == state)
            .map(|s| s["seat_no"].as_i64().unwrap())
            .collect()
    }
}

/// A new user charged `balance` and admitted to `concert` through `server`:
/// (user id, access token, queue token).
pub async fn admitted_user(server: &Server, concert: Uuid, balance: i64) -> (Uuid, String, String) {
    let (user, access) = server.sign_up().await;
    if balance > 0 {
        assert_eq!(
            server.charge(user, &access, balance).await.status(),
            StatusCode::OK
        );
    }
    let ticket = server.join(&access, concert).await;
    let token = ticket["token"].as_str().unwrap().to_owned();
    server.wait_for_status(&token, "active").await;
    (user, access, token)
}

pub fn uuid(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{value} is not a UUID"))
}

/// Polls `check` every 25 ms until it returns `Some`; panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A redis-server of one test's own on its own loopback port, which the test
/// may kill and start again with nothing in it; killed when dropped.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start() -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("lineup-redis-{port}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = OwnRedis {
            port,
            dir,
            child: None,
        };
        redis.launch().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/services.sh)");
        self.child = Some(child);
        let url = self.url();
        eventually(Duration::from_secs(10), "own redis-server answers", || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            }
        })
        .await;
    }

    /// Kills the server (SIGKILL: nothing is saved) and starts an empty one on
    /// the same port.
    pub async fn restart_empty(&mut self) {
        self.kill();
        self.launch().await;
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The money invariants that must hold after anything: each balance equals the
/// sum of its ledger, none is negative, no ticket without its payment, no seat
/// sold twice, no payment without its tickets and its ledger debit, no ledger
/// debit without its payment.
pub async fn assert_money_invariants(db: &PgPool) {
    let checks = [
        (
            "a balance differs from the sum of its ledger",
            "SELECT count(*) FROM wallets w
             WHERE w.balance <> COALESCE((SELECT sum(amount) FROM ledger l WHERE l.user_id = w.user_id), 0)",
        ),
        ("a balance is negative", "SELECT count(*) FROM wallets WHERE balance < 0"),
        (
            "a ticket has no payment",
            "SELECT count(*) FROM tickets t LEFT JOIN payments p ON p.payment_id = t.payment_id WHERE p.payment_id IS NULL",
        ),
        (
            "a seat is sold twice",
            "SELECT count(*) FROM (SELECT schedule_id, seat_no FROM tickets GROUP BY 1, 2 HAVING count(*) > 1) t",
        ),
        (
            "a payment lacks its tickets or its ledger debit",
            "SELECT count(*) FROM payments p
             WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.payment_id = p.payment_id)
                OR NOT EXISTS (SELECT 1 FROM ledger l WHERE l.payment_id = p.payment_id AND l.amount = -p.amount)",
        ),
        (
            "a debit has no payment",
            "SELECT count(*) FROM ledger l
             WHERE l.kind = 'payment'
               AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = l.payment_id)",
        ),
    ];
    for (what, sql) in checks {
        let count: i64 = sqlx::query_scalar(sql).fetch_one(db).await.unwrap();
        assert_eq!(count, 0, "{what}");
    }
}

/// A Redis Cluster of three primaries of one test's own, on free loopback
/// ports (each with its cluster bus port, +10000), made with
/// `redis-cli --cluster create`; its nodes are killed when dropped.
pub struct OwnCluster {
    pub ports: Vec<u16>,
    dir: PathBuf,
    children: Vec<Child>,
}

impl OwnCluster {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("lineup-cluster-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ports = Vec::new();
        while ports.len() < 3 {
            let port = free_port();
            let bus_free = port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
            if bus_free && !ports.contains(&port) {
                ports.push(port);
            }
        }
        let mut children = Vec::new();
        for port in &ports {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
                .arg("--cluster-config-file")
                .arg(dir.join(format!("nodes-{port}.conf")))
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed (scripts/services.sh)");
            children.push(child);
        }
        let cluster = OwnCluster {
            ports,
            dir,
            children,
        };
        for port in &cluster.ports {
            eventually(
                Duration::from_secs(10),
                "a cluster node answers",
                || async {
                    let mut conn = cluster.node(*port).await.ok()?;
                    redis::cmd("PING")
                        .query_async::<String>(&mut conn)
                        .await
                        .ok()
                },
            )
            .await;
        }
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli is installed");
        assert!(created.success(), "redis-cli --cluster create");
        for port in &cluster.ports {
            eventually(Duration::from_secs(20), "cluster_state:ok", || async {
                let mut conn = cluster.node(*port).await.ok()?;
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                info.contains("cluster_state:ok").then_some(())
            })
            .await;
        }
        cluster
    }

    /// The comma-separated node URLs of `--redis-cluster-nodes`.
    pub fn nodes(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A plain connection to one node (no redirections: it sees only its slots).
    pub async fn node(&self, port: u16) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))?
            .get_multiplexed_async_connection()
            .await
    }

    /// The port of the primary that owns `key`'s slot.
    pub async fn owner_of(&self, key: &str) -> u16 {
        let mut conn = self.node(self.ports[0]).await.unwrap();
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        // Each entry: [first slot, last slot, [ip, port, id], replicas...].
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut conn)
            .await
            .unwrap();
        for range in ranges {
            let (first, last, primary): (u16, u16, Vec<redis::Value>) = match range {
                redis::Value::Array(items) if items.len() >= 3 => (
                    redis::from_redis_value_ref(&items[0]).unwrap(),
                    redis::from_redis_value_ref(&items[1]).unwrap(),
                    redis::from_redis_value_ref(&items[2]).unwrap(),
                ),
                other => panic!("unexpected CLUSTER SLOTS entry {other:?}"),
            };
            if (first..=last).contains(&slot) {
                // [ip, port, node id, metadata]
                return redis::from_redis_value_ref(&primary[1]).unwrap();
            }
        }
        panic!("no primary owns slot {slot}");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
