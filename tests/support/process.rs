//! lineup as separate processes: the real binary, as operators and load
//! balancers see it. [`lineup_command`] is the one way a test runs the
//! binary (a `serve`, an `admin`, a `verify-shuffle`); [`Server`] is a running
//! `lineup serve`, started by a [`ServerBuilder`] whose methods are its
//! variants. Owns the child processes; killed when dropped.

use super::{
    ADMIN_TOKEN, RequestHelper, SIGNING_KEY_FILE, TOKEN_KEY, database_url, redis_cluster_nodes,
    redis_url, unique_prefix,
};
use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

/// The `lineup` binary with only what a test sets: none of the runner's own
/// `LINEUP_*` variables (`make test` exports some) leak in.
pub fn lineup_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lineup"));
    for (name, _) in std::env::vars() {
        if name.starts_with("LINEUP_") {
            command.env_remove(name);
        }
    }
    command.env("NO_COLOR", "1").env("RUST_LOG", "info");
    command
}

/// How a `lineup serve` is to be started. By default: the test's database,
/// the shared Redis (or the cluster of `LINEUP_TEST_REDIS_CLUSTER`) under a
/// prefix of the builder's own, plain HTTP on a free port, no metrics
/// listener, the test token key and admin token, no abuse limits, a seat
/// factor of 100 (the last two unless `args` set them). Servers
/// started from one builder share the database and the prefix: a fleet.
#[derive(Clone)]
pub struct ServerBuilder {
    database_url: String,
    redis: Vec<String>,
    prefix: String,
    https: bool,
    metrics: bool,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl ServerBuilder {
    /// Another database URL (such as the test's with `sslmode=require`).
    pub fn database_url(mut self, url: &str) -> Self {
        self.database_url = url.to_owned();
        self
    }

    /// One Redis at `url` instead of the shared one.
    pub fn redis_url(mut self, url: &str) -> Self {
        self.redis = vec!["--redis-url".into(), url.into()];
        self
    }

    /// A Redis Cluster (comma-separated node URLs) instead of the shared Redis.
    pub fn redis_cluster(mut self, nodes: &str) -> Self {
        self.redis = vec!["--redis-cluster-nodes".into(), nodes.into()];
        self
    }

    /// The prefix the servers of this builder share.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// HTTPS, with the certificate in the arguments or a self-signed one.
    pub fn https(mut self) -> Self {
        self.https = true;
        self
    }

    /// A metrics listener on a free port.
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// More `serve` arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// An environment variable of the process (such as `SSL_CERT_FILE`).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The `lineup serve` command, not started: for a boot a test expects to fail.
    pub fn command(&self) -> Command {
        let mut command = lineup_command();
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        if !self.https {
            command.arg("--plain-http");
        }
        if self.metrics {
            command.args(["--metrics-listen", "127.0.0.1:0"]);
        } else {
            command.arg("--no-metrics");
        }
        command
            .args(["--token-key", TOKEN_KEY, "--admin-token", ADMIN_TOKEN])
            .args(["--signing-key-files", SIGNING_KEY_FILE])
            .args(["--database-url", &self.database_url])
            .args(["--redis-prefix", &self.prefix])
            .args(&self.redis)
            .args(self.defaults_not_in_args())
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// The builder's defaults that the test's own [`args`](Self::args) do not
    /// replace (a `serve` argument may be given once only).
    fn defaults_not_in_args(&self) -> Vec<&'static str> {
        // No abuse limits (per address, user or queue token); and seat-aware admission would admit at most twice
        // the free seats, while these tests admit many people to small concerts.
        const DEFAULTS: [(&str, &str); 4] = [
            ("--limit-address-rate", "0"),
            ("--limit-user-rate", "0"),
            ("--limit-poll-rate", "0"),
            ("--admit-seat-factor", "100"),
        ];
        DEFAULTS
            .iter()
            .filter(|(name, _)| !self.args.iter().any(|arg| arg == name))
            .flat_map(|(name, value)| [*name, *value])
            .collect()
    }

    /// Starts the server and waits for its listening line (asynchronously:
    /// the test's own proxies and clients keep running meanwhile).
    pub async fn start(&self) -> Server {
        self.try_start()
            .await
            .unwrap_or_else(|log| panic!("no listening line; log so far: {log:#?}"))
    }

    /// [`start`](Self::start), handing back what the process logged when it
    /// exits or has not listened within a minute (a boot a test expects may
    /// fail, such as while a dependency is unreachable).
    pub async fn try_start(&self) -> Result<Server, Vec<String>> {
        let mut child = self
            .command()
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
        // From here on, a failing test still kills and reaps the process (Drop).
        let mut server = Server {
            child,
            port: 0,
            https: self.https,
            client: super::test_client(),
            log: Mutex::new(Log {
                lines: log,
                read: Vec::new(),
            }),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while server.port == 0 {
            let log = server.log.get_mut().unwrap();
            let line = match log.lines.try_recv() {
                Ok(line) => line,
                Err(mpsc::TryRecvError::Empty) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(_) => return Err(log.read.clone()),
            };
            if let Some(rest) = line.split("://localhost:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                server.port = digits.parse().expect("a port after ://localhost:");
            }
            log.read.push(line);
        }
        Ok(server)
    }
}

/// One `lineup serve` process; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    https: bool,
    client: reqwest::Client,
    /// In a mutex so that a server can be shared between tasks (a [`super::Fleet`]).
    log: Mutex<Log>,
}

/// What a process logs: the lines not read yet, and those read.
struct Log {
    lines: mpsc::Receiver<String>,
    read: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RequestHelper for Server {
    fn url(&self, path: &str) -> String {
        if self.https {
            // The server's certificate names localhost.
            format!("https://localhost:{}{path}", self.port)
        } else {
            format!("http://127.0.0.1:{}{path}", self.port)
        }
    }

    fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Server {
    /// A server on the test's database; see [`ServerBuilder`] for the defaults.
    pub fn builder(db: &PgPool) -> ServerBuilder {
        let cluster = redis_cluster_nodes();
        let redis = if cluster.is_empty() {
            vec!["--redis-url".to_owned(), redis_url()]
        } else {
            vec!["--redis-cluster-nodes".to_owned(), cluster.join(",")]
        };
        ServerBuilder {
            database_url: database_url(db),
            redis,
            prefix: unique_prefix(),
            https: false,
            metrics: false,
            args: Vec::new(),
            env: Vec::new(),
        }
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

    /// Waits (asynchronously, so the test's clients keep answering the
    /// server's HTTP/2 GOAWAY and PING while it drains) for the process to
    /// exit; panics after `limit`.
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

    /// Sends `signal` and waits up to 10 s for the process to exit.
    pub async fn stop_with(&mut self, signal: &str) -> ExitStatus {
        self.signal(signal);
        self.wait_exit(Duration::from_secs(10)).await
    }

    /// Everything the process has logged so far.
    pub fn log_lines(&self) -> Vec<String> {
        let mut log = self.log.lock().unwrap();
        let Log { lines, read } = &mut *log;
        read.extend(lines.try_iter());
        read.clone()
    }
}
