//! The test harness: `spawn_app` and the steps of the booking flow as helpers.

use lineup::app::Application;
use lineup::config::{Cli, Command, Config};
use lineup::store::RedisStore;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Once;
use std::time::Duration;
use tokio::sync::oneshot;
use uuid::Uuid;

pub const TOKEN_KEY: &str = "test-token-key-0123456789abcdef-0123456789";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The settings every test starts from: fast admission, HTTPS with a
/// self-signed certificate, port 0. Tests change what they need.
pub fn test_config() -> Config {
    let cli = <Cli as clap::Parser>::try_parse_from([
        "lineup",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--token-key",
        TOKEN_KEY,
        "--admin-token",
        ADMIN_TOKEN,
        "--redis-url",
        REDIS_URL,
        "--admit-per-second",
        "100000",
        "--max-active",
        "100000",
        // Seat-aware admission would admit at most twice the free seats; the
        // fairness tests set the factor they need.
        "--admit-seat-factor",
        "100",
        "--admit-interval",
        "10ms",
        "--metrics-listen",
        "127.0.0.1:0",
        // Every test client comes from 127.0.0.1; the abuse-limit tests switch them on.
        "--limit-address-rate",
        "0",
        "--limit-user-rate",
        "0",
    ])
    .expect("test arguments parse");
    let Command::Serve(args) = cli.command else {
        unreachable!()
    };
    let mut config = Config::from_args(*args).expect("test config is valid");
    config.redis.prefix = format!("test-{}", Uuid::new_v4().simple());
    config.redis.cluster_nodes = test_cluster_nodes();
    config
}

/// The Redis Cluster to run against instead of the single Redis, when
/// `LINEUP_TEST_REDIS_CLUSTER` names some of its nodes (comma-separated URLs;
/// `make test` runs the flow tests so against `scripts/redis-cluster.sh`).
pub fn test_cluster_nodes() -> Vec<String> {
    std::env::var("LINEUP_TEST_REDIS_CLUSTER")
        .map(|nodes| {
            nodes
                .split(',')
                .filter(|node| !node.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn init_once() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        if std::env::var_os("TEST_LOG").is_some() {
            lineup::telemetry::init(lineup::config::LogFormat::Pretty);
        }
    });
}

/// A running server and what a test needs to talk to it and look behind it.
pub struct TestApp {
    /// The plain-HTTP redirect listener, when the config asked for one.
    pub redirect_addr: Option<std::net::SocketAddr>,
    /// The `/metrics` listener.
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub base: String,
    pub client: reqwest::Client,
    pub db: PgPool,
    pub redis: RedisStore,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app(db: PgPool) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

pub async fn spawn_app_with(db: PgPool, change: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config();
    change(&mut config);
    start(db, config).await
}

/// Starts a server on `config` with connections of its own to Redis.
pub async fn start(db: PgPool, config: Config) -> TestApp {
    init_once();
    let redis = RedisStore::connect_to(
        &config.redis.url,
        &config.redis.cluster_nodes,
        &config.redis.prefix,
        config.redis.timeout,
    )
    .await
    .expect("Redis is running on 127.0.0.1:6379 (scripts/services.sh starts it), or the cluster of LINEUP_TEST_REDIS_CLUSTER (scripts/redis-cluster.sh)");
    let app = Application::build_with(config.clone(), db.clone(), redis.clone())
        .await
        .expect("the app builds");
    let addr = app.local_addr();
    let redirect_addr = app.redirect_addr();
    let metrics_addr = app.metrics_addr();
    let scheme = if app.is_tls() { "https" } else { "http" };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    TestApp {
        redirect_addr,
        metrics_addr,
        base: format!("{scheme}://localhost:{}", addr.port()),
        client: test_client(),
        db,
        redis,
        config,
        stop: Some(stop_tx),
        server: Some(server),
    }
}

/// A client like a browser's, but trusting the self-signed test certificate.
pub fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client builds")
}

/// A user as a test sees them.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub access_token: String,
}

/// A concert made through the admin API.
#[derive(Clone, Debug)]
pub struct TestConcert {
    pub id: Uuid,
    pub schedules: Vec<Uuid>,
}

impl TestApp {
    /// Stops the server and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// Stops this server and starts another on the same database and Redis prefix.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        start(self.db.clone(), config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Any request; `token` goes in `Authorization: Bearer`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request reaches the server")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Creates a concert that opened a minute ago, with `dates` dates a month
    /// ahead of `seats` seats each, seat n costing `price_of(n)`.
    pub async fn create_concert_priced(
        &self,
        dates: usize,
        seats: u32,
        price_of: impl Fn(u32) -> i64,
    ) -> TestConcert {
        let opens_at = chrono::Utc::now() - chrono::Duration::minutes(1);
        let schedules: Vec<Value> = (0..dates)
            .map(|d| {
                json!({
                    "starts_at": chrono::Utc::now() + chrono::Duration::days(30 + d as i64),
                    "seats": (1..=seats).map(|n| json!({"seat_no": n, "price": price_of(n)})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let response = self
            .post(
                "/admin/v1/concerts",
                Some(ADMIN_TOKEN),
                json!({"title": "Test night", "venue": "Test hall", "opens_at": opens_at, "schedules": schedules}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        TestConcert {
            id: uuid(&body["concert_id"]),
            schedules: body["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| uuid(&s["schedule_id"]))
                .collect(),
        }
    }

    /// A concert of `dates` dates x `seats` seats at 50,000 won each.
    pub async fn create_concert(&self, dates: usize, seats: u32) -> TestConcert {
        self.create_concert_priced(dates, seats, |_| 50_000).await
    }

    pub async fn sign_up(&self) -> TestUser {
        let response = self
            .request(Method::POST, "/api/v1/users", None, None)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        TestUser {
            id: uuid(&body["user_id"]),
            access_token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn charge(&self, user: &TestUser, amount: i64) -> Response {
        self.post(
            &format!("/api/v1/users/{}/balance/charge", user.id),
            Some(&user.access_token),
            json!({ "amount": amount }),
        )
        .await
    }

    pub async fn balance(&self, user: &TestUser) -> i64 {
        let response = self
            .get(
                &format!("/api/v1/users/{}/balance", user.id),
                Some(&user.access_token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["balance"]
            .as_i64()
            .unwrap()
    }

    /// Joins the line; returns the response (201 or 200 with a QueueTicket).
    pub async fn join(&self, user: &TestUser, concert: Uuid) -> Response {
        self.request(
            Method::POST,
            &format!("/api/v1/concerts/{concert}/queue"),
            Some(&user.access_token),
            None,
        )
        .await
    }

    /// Joins and returns the queue token.
    pub async fn join_token(&self, user: &TestUser, concert: Uuid) -> String {
        let response = self.join(user, concert).await;
        assert!(
            response.status().is_success(),
            "join: {}",
            response.status()
        );
        response.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn status(&self, queue_token: &str) -> Value {
        let response = self.get("/api/v1/queue/status", Some(queue_token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Polls until the ticket reads `want` (waiting, active, expired); panics after 10 s.
    pub async fn wait_for_status(&self, queue_token: &str, want: &str) -> Value {
        for _ in 0..500 {
            let ticket = self.status(queue_token).await;
            if ticket["status"] == want {
                return ticket;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the ticket never became {want}");
    }

    /// A new user, charged `balance`, admitted to `concert`: returns the user and queue token.
    pub async fn admitted_user(&self, concert: Uuid, balance: i64) -> (TestUser, String) {
        let user = self.sign_up().await;
        if balance > 0 {
            assert_eq!(self.charge(&user, balance).await.status(), StatusCode::OK);
        }
        let token = self.join_token(&user, concert).await;
        self.wait_for_status(&token, "active").await;
        (user, token)
    }

    /// Holds seats; returns the response (201 with a Reservation).
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

    pub async fn set_queue(&self, concert: Uuid, settings: Value) {
        let response = self
            .request(
                Method::PUT,
                &format!("/admin/v1/concerts/{concert}/queue"),
                Some(ADMIN_TOKEN),
                Some(settings),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// A raw Redis connection under this test's prefix, to look behind the API.
    pub fn redis_conn(&self) -> lineup::store::redis::Conn {
        self.redis.conn()
    }
}

pub fn uuid(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{value} is not a UUID"))
}

/// Reads a JSON body and checks the error body shape of DESIGN.md; returns it.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected {code}");
    let body: Value = response.json().await.expect("error bodies are JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// The money invariants that must hold after anything: each balance equals the
/// sum of its ledger entries, none is negative, every ticket belongs to exactly
/// one payment whose amount and seats agree, and no seat is sold twice.
pub async fn assert_money_invariants(db: &PgPool) {
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM wallets w
         WHERE w.balance <> COALESCE((SELECT sum(amount) FROM ledger l WHERE l.user_id = w.user_id), 0)",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(
        mismatched, 0,
        "a balance differs from the sum of its ledger"
    );
    let negative: i64 = sqlx::query_scalar("SELECT count(*) FROM wallets WHERE balance < 0")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(negative, 0, "a balance is negative");
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets t LEFT JOIN payments p ON p.payment_id = t.payment_id WHERE p.payment_id IS NULL",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "a ticket has no payment");
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT schedule_id, seat_no FROM tickets GROUP BY 1, 2 HAVING count(*) > 1) t",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(twice, 0, "a seat is sold twice");
    let unbacked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payments p
         WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.payment_id = p.payment_id)
            OR NOT EXISTS (SELECT 1 FROM ledger l WHERE l.payment_id = p.payment_id AND l.amount = -p.amount)",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(
        unbacked, 0,
        "a payment lacks its tickets or its ledger entry"
    );
}

/// Seat maps, reservations and schedules as the flow tests read them.
impl TestApp {
    /// The seat map of a schedule as `(seat_no, price, status)` in the order
    /// served; `filter` is the `?status=` query, if any. Asserts 200.
    pub async fn seat_states(
        &self,
        queue_token: &str,
        schedule: Uuid,
        filter: Option<&str>,
    ) -> Vec<(i64, i64, String)> {
        let query = filter.map_or(String::new(), |f| format!("?status={f}"));
        let response = self
            .get(
                &format!("/api/v1/schedules/{schedule}/seats{query}"),
                Some(queue_token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "seat map");
        let map: Value = response.json().await.unwrap();
        assert_eq!(map["schedule_id"], json!(schedule));
        map["seats"]
            .as_array()
            .expect("seats is a list")
            .iter()
            .map(|s| {
                (
                    s["seat_no"].as_i64().unwrap(),
                    s["price"].as_i64().unwrap(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The seat numbers of a schedule in one state (`available`, `held`, `sold`),
    /// read from the unfiltered seat map.
    pub async fn seats_in_state(&self, queue_token: &str, schedule: Uuid, state: &str) -> Vec<i64> {
        self.seat_states(queue_token, schedule, None)
            .await
            .into_iter()
            .filter(|(_, _, s)| s == state)
            .map(|(n, _, _)| n)
            .collect()
    }

    /// Holds seats and returns the Reservation; asserts 201.
    pub async fn hold_ok(&self, queue_token: &str, schedule: Uuid, seats: &[i64]) -> Value {
        let response = self.hold(queue_token, schedule, seats).await;
        assert_eq!(response.status(), StatusCode::CREATED, "hold {seats:?}");
        response.json().await.unwrap()
    }

    /// `available_seats` of each bookable date of a concert, by schedule id.
    pub async fn available_by_schedule(&self, concert: Uuid) -> Vec<(Uuid, i64)> {
        let response = self
            .get(&format!("/api/v1/concerts/{concert}/schedules"), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let listed: Value = response.json().await.unwrap();
        listed["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    uuid(&s["schedule_id"]),
                    s["available_seats"].as_i64().unwrap(),
                )
            })
            .collect()
    }
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

/// An RFC 3339 time of a JSON body.
pub fn time_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(
        value
            .as_str()
            .unwrap_or_else(|| panic!("{value} is not a time")),
    )
    .unwrap_or_else(|e| panic!("{value}: {e}"))
    .with_timezone(&chrono::Utc)
}
