//! lineup in the test's own process: [`TestApp`] runs the real application
//! (HTTPS on port 0, its admission loop, its metrics listener) against the
//! test's database and a unique Redis prefix, and keeps what a test needs to
//! look behind the API (the database, a Redis connection, the config).
//! Variants are [`TestAppBuilder`] methods; the config every test starts from
//! is built in one place, [`test_config`].

use super::{ChaosProxy, RequestHelper, redis_cluster_nodes, redis_url, unique_prefix};
use lineup::app::Application;
use lineup::config::{Cli, Command, Config};
use lineup::store::RedisStore;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::sync::Once;
use std::time::Duration;
use tokio::sync::oneshot;

/// The settings every in-process test starts from: fast admission, HTTPS with
/// a self-signed certificate, port 0, no abuse limits, a prefix of its own.
/// As with the binary ([`super::lineup_command`]), none of the runner's
/// `LINEUP_*` variables count: only these arguments and the defaults. Tests
/// change what they need through [`TestAppBuilder::with_config`].
pub fn test_config() -> Config {
    let without_env = <Cli as clap::CommandFactory>::command()
        .mut_subcommand("serve", |serve| serve.mut_args(|arg| arg.env(None)));
    let matches = without_env.try_get_matches_from([
        "lineup",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--token-key",
        super::TOKEN_KEY,
        "--signing-key-files",
        super::SIGNING_KEY_FILE,
        "--admin-token",
        super::ADMIN_TOKEN,
        "--redis-url",
        &redis_url(),
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
        // Tests poll as fast as they like; the per-token tests switch it on.
        "--limit-poll-rate",
        "0",
    ]);
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches.expect("test arguments parse"))
            .expect("test arguments parse");
    let Command::Serve(args) = cli.command else {
        unreachable!()
    };
    let mut config = Config::from_args(*args).expect("test config is valid");
    config.redis.prefix = unique_prefix();
    config.redis.cluster_nodes = redis_cluster_nodes();
    config
}

/// The default app: [`TestApp::builder`] with no variant.
pub async fn spawn_app(db: PgPool) -> TestApp {
    TestApp::builder(db).spawn().await
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

/// How the test app is to be started; [`spawn`](Self::spawn) starts it.
pub struct TestAppBuilder {
    db: PgPool,
    config: Config,
    database_proxy: bool,
    redis_proxy: bool,
    statement_timeout: Option<Duration>,
}

impl TestAppBuilder {
    /// Changes the config before the start.
    pub fn with_config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// The server reaches PostgreSQL through a [`ChaosProxy`]
    /// ([`TestApp::database_proxy`]), in plain text, its pool waiting
    /// `database_timeout` for a connection as the real server's does. The test's own [`TestApp::db`]
    /// goes around it.
    pub fn with_database_proxy(mut self) -> Self {
        self.database_proxy = true;
        self
    }

    /// The server reaches the single Redis through a [`ChaosProxy`]
    /// ([`TestApp::redis_proxy`]), never the cluster of
    /// `LINEUP_TEST_REDIS_CLUSTER`.
    pub fn with_redis_proxy(mut self) -> Self {
        self.redis_proxy = true;
        self
    }

    /// Every statement of the server's pool is cancelled after `limit`, as
    /// `LINEUP_DATABASE_STATEMENT_TIMEOUT` does in the real server.
    pub fn with_statement_timeout(mut self, limit: Duration) -> Self {
        self.statement_timeout = Some(limit);
        self
    }

    /// Starts the server.
    pub async fn spawn(mut self) -> TestApp {
        let mut proxies = Proxies::default();
        if self.database_proxy {
            proxies.database = Some(ChaosProxy::to_postgres(&self.db).await);
        }
        if self.redis_proxy {
            let proxy = ChaosProxy::to_redis().await;
            self.config.redis.url = format!("redis://127.0.0.1:{}", proxy.port());
            self.config.redis.cluster_nodes.clear();
            proxies.redis = Some(proxy);
        }
        let server_pool = self.server_pool(proxies.database.as_ref()).await;
        TestApp::launch(self.db, server_pool, self.config, proxies).await
    }

    /// The test's own pool, unless the server needs one of its own: through
    /// the proxy, or with its statements bounded.
    async fn server_pool(&self, proxy: Option<&ChaosProxy>) -> PgPool {
        if proxy.is_none() && self.statement_timeout.is_none() {
            return self.db.clone();
        }
        let mut options = (*self.db.connect_options()).clone();
        if let Some(proxy) = proxy {
            // In plain text, so a test can name the bytes of one request
            // ([`ChaosProxy::lose_replies_to`]).
            options = options
                .port(proxy.port())
                .ssl_mode(sqlx::postgres::PgSslMode::Disable);
        }
        if let Some(limit) = self.statement_timeout {
            options = lineup::store::postgres::bounded(options, limit);
        }
        PgPoolOptions::new()
            .acquire_timeout(self.config.database.timeout)
            .connect_with(options)
            .await
            .expect("the server's own pool connects")
    }
}

/// The proxies a test app was started behind.
#[derive(Default)]
struct Proxies {
    database: Option<ChaosProxy>,
    redis: Option<ChaosProxy>,
}

/// A running in-process server and what a test needs to talk to it and look
/// behind it. Stops when dropped (dropping the stop sender is the stop signal).
pub struct TestApp {
    /// The plain-HTTP redirect listener, when the config asked for one.
    pub redirect_addr: Option<std::net::SocketAddr>,
    /// The `/metrics` listener.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `https://localhost:<port>` (or `http://` when the config serves plain HTTP).
    pub base: String,
    pub client: reqwest::Client,
    /// The test's database, reached directly (never through a proxy).
    pub db: PgPool,
    /// The test's own connection to the server's Redis, under its prefix.
    pub redis: RedisStore,
    pub config: Config,
    server_pool: PgPool,
    proxies: Proxies,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RequestHelper for TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl TestApp {
    pub fn builder(db: PgPool) -> TestAppBuilder {
        TestAppBuilder {
            db,
            config: test_config(),
            database_proxy: false,
            redis_proxy: false,
            statement_timeout: None,
        }
    }

    /// Starts a server on `config` with connections of its own to Redis.
    async fn launch(db: PgPool, server_pool: PgPool, config: Config, proxies: Proxies) -> TestApp {
        init_once();
        let redis = RedisStore::connect_to(
            &config.redis.url,
            &config.redis.cluster_nodes,
            &config.redis.prefix,
            config.redis.timeout,
        )
        .await
        .expect("Redis is running on 127.0.0.1:6379 (scripts/services.sh starts it), or the cluster of LINEUP_TEST_REDIS_CLUSTER (scripts/redis-cluster.sh)");
        let app = Application::build_with(config.clone(), server_pool.clone(), redis.clone())
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
            client: super::test_client(),
            db,
            redis,
            config,
            server_pool,
            proxies,
            stop: Some(stop_tx),
            server: Some(server),
        }
    }

    /// Another server on the same database, Redis and prefix (and behind the
    /// same proxies), with an admission loop of its own: a second instance
    /// behind a load balancer.
    pub async fn spawn_another(&self) -> TestApp {
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        TestApp::launch(
            self.db.clone(),
            self.server_pool.clone(),
            config,
            Proxies::default(),
        )
        .await
    }

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
        let proxies = std::mem::take(&mut self.proxies);
        TestApp::launch(self.db.clone(), self.server_pool.clone(), config, proxies).await
    }

    /// The proxy between the server and PostgreSQL
    /// ([`TestAppBuilder::with_database_proxy`]).
    pub fn database_proxy(&self) -> &ChaosProxy {
        self.proxies
            .database
            .as_ref()
            .expect("started with_database_proxy")
    }

    /// The proxy between the server and Redis ([`TestAppBuilder::with_redis_proxy`]).
    pub fn redis_proxy(&self) -> &ChaosProxy {
        self.proxies
            .redis
            .as_ref()
            .expect("started with_redis_proxy")
    }

    /// A raw Redis connection under this test's prefix, to look behind the API.
    pub fn redis_conn(&self) -> lineup::store::redis::Conn {
        self.redis.conn()
    }

    /// The `status` field of a reservation's hash in Redis (`held` or
    /// `paying`), `None` once it has ended: what the API does not show.
    pub async fn reservation_status(
        &self,
        concert: uuid::Uuid,
        reservation: uuid::Uuid,
    ) -> Option<String> {
        use redis::AsyncCommands;
        let key = self
            .redis
            .keys
            .concert(lineup::domain::ConcertId::from_uuid(concert))
            .reservation(lineup::domain::ReservationId::from_uuid(reservation));
        self.redis_conn()
            .hget(key, "status")
            .await
            .expect("Redis answers")
    }

    /// Returns once the admit tick of `concert` has run `n` more times (on any
    /// server): what it would admit by now, it has. Each tick stamps the
    /// line's stats with Redis's time.
    pub async fn admit_ticks(&self, concert: uuid::Uuid, n: usize) {
        use redis::AsyncCommands;
        let stats = self
            .redis
            .keys
            .concert(lineup::domain::ConcertId::from_uuid(concert))
            .line_stats();
        let stamp = || async {
            let stamp: Option<String> = self
                .redis_conn()
                .hget(&stats, "rate_ts_us")
                .await
                .expect("Redis answers");
            stamp
        };
        let mut last = stamp().await;
        for tick in 0..n {
            last = super::eventually(
                Duration::from_secs(10),
                &format!("admit tick {tick}"),
                || {
                    let last = last.clone();
                    async move {
                        stamp()
                            .await
                            .filter(|now| Some(now) != last.as_ref())
                            .map(Some)
                    }
                },
            )
            .await;
        }
    }
}
