//! Every setting of lineup, read in one place: CLI flags, each with a `LINEUP_*`
//! environment variable. [`Config::from_args`] checks them all at boot and fails
//! with a message that names the bad one.

use crate::domain::ChargePolicy;
use crate::queue::QueueSettings;
use anyhow::{Context, bail, ensure};
use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Token signing key of `--demo` runs only; a real deployment must set its own.
pub const DEMO_TOKEN_KEY: &str = "lineup-demo-token-key-do-not-use-in-production";
/// Admin token of `--demo` runs when none is given.
pub const DEMO_ADMIN_TOKEN: &str = "lineup-demo-admin-token";
/// Shortest accepted token signing key, in bytes (HS256 wants 256 bits).
pub const MIN_TOKEN_KEY_BYTES: usize = 32;

#[derive(Debug, Parser)]
#[command(
    name = "lineup",
    version,
    about = "A waiting room and seat reservations for concert ticket sales"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP(S) server: the line, the admission loop, seats and payments.
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the API's OpenAPI 3.1 document (what `openapi.json` holds).
    Openapi,
    /// Operate a running server: create concerts, read the line, change settings.
    Admin(crate::admin_cli::AdminArgs),
    /// Recompute a pre-queue's drawn order from its published seed and joiners.
    VerifyShuffle(crate::fairness::VerifyShuffleArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL.
    #[arg(
        long,
        env = "LINEUP_DATABASE_URL",
        default_value = "postgres://postgres:postgres@127.0.0.1:5432/lineup"
    )]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port the API listens on.
    #[arg(long, env = "LINEUP_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,

    /// PEM certificate chain for HTTPS. Without --tls-cert and --tls-key a
    /// self-signed certificate for localhost is generated at start.
    #[arg(long, env = "LINEUP_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for HTTPS.
    #[arg(long, env = "LINEUP_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve plain HTTP instead of HTTPS; only behind a proxy that terminates TLS.
    #[arg(long, env = "LINEUP_PLAIN_HTTP", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub plain_http: bool,

    /// How often the PEM files are checked for a new certificate (also reloaded
    /// on SIGHUP).
    #[arg(long, env = "LINEUP_TLS_RELOAD_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub tls_reload_interval: Duration,

    /// Also listen for plain HTTP here, answering every request with a redirect
    /// to HTTPS.
    #[arg(long, env = "LINEUP_REDIRECT_HTTP_LISTEN")]
    pub redirect_http_listen: Option<SocketAddr>,

    /// Where Prometheus scrapes `/metrics`: plain HTTP, meant for a private network.
    #[arg(long, env = "LINEUP_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    pub metrics_listen: SocketAddr,

    /// Serve no metrics listener at all.
    #[arg(long, env = "LINEUP_NO_METRICS")]
    pub no_metrics: bool,

    /// Log every status poll and health check at INFO too (by default at DEBUG:
    /// a line per poll would drown the log during a sale).
    #[arg(long, env = "LINEUP_LOG_POLLS")]
    pub log_polls: bool,

    /// Largest request body, in bytes (the admin API takes up to 32 MiB).
    #[arg(long, env = "LINEUP_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// Longest a request may take before it is answered 503 `timeout`.
    #[arg(long, env = "LINEUP_REQUEST_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Longest a client may take to send a request's headers.
    #[arg(long, env = "LINEUP_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// Most connections served at once (0 = no cap); beyond it new ones are closed.
    #[arg(long, env = "LINEUP_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Proxies whose X-Forwarded-For is believed (comma-separated addresses or
    /// CIDR ranges); from anyone else the header is ignored.
    #[arg(long, env = "LINEUP_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Join, reserve, charge and pay requests per second allowed from one client
    /// address, each action counted apart, shared by all servers (0 = no limit).
    #[arg(long, env = "LINEUP_LIMIT_ADDRESS_RATE", default_value_t = 50.0)]
    pub limit_address_rate: f64,

    /// Burst allowed above the per-address rate.
    #[arg(long, env = "LINEUP_LIMIT_ADDRESS_BURST", default_value_t = 100)]
    pub limit_address_burst: u32,

    /// Join, reserve, charge and pay requests per second allowed for one user,
    /// each action counted apart, shared by all servers (0 = no limit).
    #[arg(long, env = "LINEUP_LIMIT_USER_RATE", default_value_t = 2.0)]
    pub limit_user_rate: f64,

    /// Burst allowed above the per-user rate.
    #[arg(long, env = "LINEUP_LIMIT_USER_BURST", default_value_t = 10)]
    pub limit_user_burst: u32,

    /// Redis connection URL.
    #[arg(
        long,
        env = "LINEUP_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// A Redis Cluster to use instead of LINEUP_REDIS_URL: comma-separated URLs
    /// of some of its nodes (redis://host:port), from which lineup learns the rest.
    #[arg(long, env = "LINEUP_REDIS_CLUSTER_NODES", value_delimiter = ',')]
    pub redis_cluster_nodes: Vec<String>,

    /// Prefix of every Redis key, so several deployments can share one Redis.
    #[arg(long, env = "LINEUP_REDIS_PREFIX", default_value = "lineup")]
    pub redis_prefix: String,

    /// Longest wait for a Redis connection or reply before answering 503.
    #[arg(long, env = "LINEUP_REDIS_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Most PostgreSQL connections this server opens.
    #[arg(long, env = "LINEUP_DATABASE_MAX_CONNECTIONS", default_value_t = 20)]
    pub database_max_connections: u32,

    /// Longest wait for a PostgreSQL connection before answering 503.
    #[arg(long, env = "LINEUP_DATABASE_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub database_timeout: Duration,

    /// Longest a PostgreSQL statement may run (a lock wait included) before it
    /// is cancelled and answered 503; a session idle in a transaction for twice
    /// this is ended.
    #[arg(long, env = "LINEUP_DATABASE_STATEMENT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub database_statement_timeout: Duration,

    /// HS256 key that signs access and queue tokens (32 bytes or more). Shared by
    /// every server of a deployment. Required unless --demo.
    #[arg(
        long,
        env = "LINEUP_TOKEN_KEY",
        hide_env_values = true,
        conflicts_with = "token_key_file"
    )]
    pub token_key: Option<SecretString>,

    /// A file holding the token key (surrounding whitespace ignored), instead of
    /// --token-key.
    #[arg(long, env = "LINEUP_TOKEN_KEY_FILE")]
    pub token_key_file: Option<PathBuf>,

    /// Bearer token of the admin API (16 characters or more). Without it the
    /// admin API refuses every request, except in --demo, which has a default.
    #[arg(long, env = "LINEUP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,

    /// More admin tokens, each with the operator's name that the audit log
    /// records: `alice=<token>,bob=<token>` (LINEUP_ADMIN_TOKEN's name is `admin`).
    #[arg(long, env = "LINEUP_ADMIN_TOKENS", hide_env_values = true, value_delimiter = ',', value_parser = parse_named_token)]
    pub admin_tokens: Vec<NamedToken>,

    /// Lifetime of access tokens issued by POST /api/v1/users.
    #[arg(long, env = "LINEUP_ACCESS_TOKEN_TTL", default_value = "30days", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of queue tokens; longer than any wait in line.
    #[arg(long, env = "LINEUP_QUEUE_TOKEN_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub queue_token_ttl: Duration,

    /// Default admission rate of a new concert, users per second (all servers together).
    #[arg(long, env = "LINEUP_ADMIT_PER_SECOND", default_value_t = 100)]
    pub admit_per_second: u32,

    /// Default cap on admitted users of a new concert at one time.
    #[arg(long, env = "LINEUP_MAX_ACTIVE", default_value_t = 1000)]
    pub max_active: u32,

    /// Default cap on the line of a new concert (0 = no cap); beyond it a join gets 503 queue_full.
    #[arg(long, env = "LINEUP_MAX_WAITING", default_value_t = 0)]
    pub max_waiting: u32,

    /// Default time an admitted user may stay admitted.
    #[arg(long, env = "LINEUP_ACTIVE_TTL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub active_ttl: Duration,

    /// Default idle timeout of a new concert's line: a waiting person who has not
    /// polled for this long is dropped instead of admitted (whole seconds, 3 s or more).
    #[arg(long, env = "LINEUP_IDLE_TIMEOUT", default_value = "2m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// Default cap on admitted people without a reservation of a new concert, as a
    /// multiple of its free seats.
    #[arg(long, env = "LINEUP_ADMIT_SEAT_FACTOR", default_value_t = crate::queue::DEFAULT_ADMIT_SEAT_FACTOR)]
    pub admit_seat_factor: f64,

    /// Default poll budget of a new concert's line, polls per second for all servers together.
    #[arg(long, env = "LINEUP_POLL_BUDGET", default_value_t = crate::queue::DEFAULT_POLL_BUDGET_PER_SECOND)]
    pub poll_budget: u32,

    /// How often each server runs the admission script per concert.
    #[arg(long, env = "LINEUP_ADMIT_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub admit_interval: Duration,

    /// Default time a seat hold of a new concert lasts before it is released
    /// unpaid (whole seconds; an operator changes it per concert).
    #[arg(long, env = "LINEUP_HOLD_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub hold_ttl: Duration,

    /// How long a payment in progress keeps its seats held, at least, while PostgreSQL commits.
    #[arg(long, env = "LINEUP_PAYMENT_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub payment_timeout: Duration,

    /// Smallest balance charge, in won.
    #[arg(long, env = "LINEUP_CHARGE_MIN", default_value_t = 1_000)]
    pub charge_min: i64,

    /// Largest balance charge, in won.
    #[arg(long, env = "LINEUP_CHARGE_MAX", default_value_t = 10_000_000)]
    pub charge_max: i64,

    /// Log format.
    #[arg(long, env = "LINEUP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Seed the demo concert (3 dates x 50 seats) once, use the demo token key and
    /// admin token when none is given, and print how to try it.
    #[arg(long, env = "LINEUP_DEMO")]
    pub demo: bool,
}

/// An operator's admin token and the name the audit log gives them.
#[derive(Clone)]
pub struct NamedToken {
    pub name: String,
    pub token: SecretString,
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NamedToken({}, [REDACTED])", self.name)
    }
}

fn parse_named_token(text: &str) -> Result<NamedToken, String> {
    let (name, token) = text
        .trim()
        .split_once('=')
        .ok_or("an admin token reads name=token")?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "admin token name {name:?}: letters, digits, - and _ only"
        ));
    }
    if token.len() < 16 {
        return Err(format!(
            "the admin token of {name} must be at least 16 characters long"
        ));
    }
    Ok(NamedToken {
        name: name.to_owned(),
        token: SecretString::from(token.to_owned()),
    })
}

/// A proxy address: a CIDR range, or one address.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR range"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How the API is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with the operator's PEM certificate chain and key.
    TlsFiles { cert: PathBuf, key: PathBuf },
    /// HTTPS with a certificate for localhost generated at start.
    TlsSelfSigned,
    /// Plain HTTP, behind a TLS-terminating proxy.
    PlainHttp,
}

/// The checked settings of a server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub transport: Transport,
    pub redis_url: String,
    /// When not empty, a Redis Cluster through these nodes instead of `redis_url`.
    pub redis_cluster_nodes: Vec<String>,
    pub redis_prefix: String,
    pub redis_timeout: Duration,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub database_timeout: Duration,
    pub database_statement_timeout: Duration,
    pub token_key: SecretString,
    pub admin_token: Option<SecretString>,
    /// Named operators' tokens, besides `admin_token`.
    pub admin_tokens: Vec<NamedToken>,
    pub access_token_ttl: Duration,
    pub queue_token_ttl: Duration,
    /// Settings a new concert starts with.
    pub queue_defaults: QueueSettings,
    pub admit_interval: Duration,
    pub payment_timeout: Duration,
    pub charge_policy: ChargePolicy,
    pub log_format: LogFormat,
    pub demo: bool,
    pub tls_reload_interval: Duration,
    pub redirect_http_listen: Option<SocketAddr>,
    pub limits: HttpLimits,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub abuse: AbuseLimits,
    /// `None`: no metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    pub log_polls: bool,
}

/// Bounds on what one request or client may take from a server.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    /// 0 = no cap.
    pub max_connections: usize,
}

/// A token bucket: `rate` per second sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub rate: f64,
    pub burst: u32,
}

impl RateLimit {
    /// `None` when switched off (rate 0).
    fn parse(rate: f64, burst: u32, name: &str) -> anyhow::Result<Option<Self>> {
        ensure!(
            rate.is_finite() && rate >= 0.0,
            "LINEUP_LIMIT_{name}_RATE must be 0 or more"
        );
        if rate == 0.0 {
            return Ok(None);
        }
        ensure!(burst >= 1, "LINEUP_LIMIT_{name}_BURST must be 1 or more");
        Ok(Some(Self { rate, burst }))
    }
}

/// Per-address and per-user limits on join, reserve, charge and pay.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AbuseLimits {
    pub per_address: Option<RateLimit>,
    pub per_user: Option<RateLimit>,
}

impl Config {
    pub fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        let transport = match (args.plain_http, args.tls_cert, args.tls_key) {
            (true, _, _) => Transport::PlainHttp,
            (false, Some(cert), Some(key)) => Transport::TlsFiles { cert, key },
            (false, None, None) => Transport::TlsSelfSigned,
            _ => bail!("--tls-cert (LINEUP_TLS_CERT) and --tls-key (LINEUP_TLS_KEY) go together"),
        };

        let from_file = match &args.token_key_file {
            Some(path) => Some(SecretString::from(
                std::fs::read_to_string(path)
                    .with_context(|| {
                        format!("cannot read LINEUP_TOKEN_KEY_FILE {}", path.display())
                    })?
                    .trim()
                    .to_owned(),
            )),
            None => None,
        };
        let token_key = match (args.token_key.or(from_file), args.demo) {
            (Some(key), _) => key,
            (None, true) => SecretString::from(DEMO_TOKEN_KEY),
            (None, false) => bail!(
                "LINEUP_TOKEN_KEY (--token-key) or LINEUP_TOKEN_KEY_FILE is required: a secret of {MIN_TOKEN_KEY_BYTES} bytes or more shared by every server"
            ),
        };
        ensure!(
            token_key.expose_secret().len() >= MIN_TOKEN_KEY_BYTES,
            "LINEUP_TOKEN_KEY (--token-key) must be at least {MIN_TOKEN_KEY_BYTES} bytes long"
        );
        ensure!(
            args.demo || token_key.expose_secret() != DEMO_TOKEN_KEY,
            "LINEUP_TOKEN_KEY is the public demo key: outside --demo, set a secret of your own"
        );

        let admin_token = match (args.admin_token, args.demo) {
            (Some(token), _) => Some(token),
            (None, true) => Some(SecretString::from(DEMO_ADMIN_TOKEN)),
            (None, false) => None,
        };
        if let Some(token) = &admin_token {
            ensure!(
                token.expose_secret().len() >= 16,
                "LINEUP_ADMIN_TOKEN (--admin-token) must be at least 16 characters long"
            );
        }

        ensure!(
            !args.redis_prefix.is_empty() && !args.redis_prefix.contains(['{', '}', ' ']),
            "LINEUP_REDIS_PREFIX (--redis-prefix) must be non-empty, without braces or spaces"
        );
        // An empty entry (`LINEUP_REDIS_CLUSTER_NODES=` or a trailing comma) names no node.
        let redis_cluster_nodes: Vec<String> = args
            .redis_cluster_nodes
            .into_iter()
            .map(|node| node.trim().to_owned())
            .filter(|node| !node.is_empty())
            .collect();
        for node in &redis_cluster_nodes {
            ensure!(
                redis::parse_redis_url(node).is_some(),
                "LINEUP_REDIS_CLUSTER_NODES (--redis-cluster-nodes): {node:?} is not a redis:// URL"
            );
        }
        ensure!(
            args.database_max_connections >= 1,
            "LINEUP_DATABASE_MAX_CONNECTIONS must be 1 or more"
        );
        ensure!(
            args.body_limit >= 1024,
            "LINEUP_BODY_LIMIT must be 1024 bytes or more"
        );
        ensure!(
            args.redirect_http_listen.is_none() || !args.plain_http,
            "LINEUP_REDIRECT_HTTP_LISTEN redirects to HTTPS, which --plain-http turns off"
        );
        ensure!(
            args.charge_min >= 1 && args.charge_min <= args.charge_max,
            "LINEUP_CHARGE_MIN must be 1 or more and not above LINEUP_CHARGE_MAX"
        );
        for (name, value) in [
            ("LINEUP_REDIS_TIMEOUT", args.redis_timeout),
            ("LINEUP_DATABASE_TIMEOUT", args.database_timeout),
            (
                "LINEUP_DATABASE_STATEMENT_TIMEOUT",
                args.database_statement_timeout,
            ),
            ("LINEUP_ACCESS_TOKEN_TTL", args.access_token_ttl),
            ("LINEUP_QUEUE_TOKEN_TTL", args.queue_token_ttl),
            ("LINEUP_ADMIT_INTERVAL", args.admit_interval),
            ("LINEUP_HOLD_TTL", args.hold_ttl),
            ("LINEUP_PAYMENT_TIMEOUT", args.payment_timeout),
            ("LINEUP_TLS_RELOAD_INTERVAL", args.tls_reload_interval),
            ("LINEUP_REQUEST_TIMEOUT", args.request_timeout),
            ("LINEUP_HEADER_READ_TIMEOUT", args.header_read_timeout),
        ] {
            ensure!(!value.is_zero(), "{name} must be longer than zero");
        }
        let queue_defaults = QueueSettings {
            admit_per_second: args.admit_per_second,
            max_active: args.max_active,
            max_waiting: args.max_waiting,
            active_ttl_seconds: u32::try_from(args.active_ttl.as_secs()).unwrap_or(u32::MAX),
            // Holds count in whole seconds; a part second rounds up.
            hold_ttl_seconds: u32::try_from(args.hold_ttl.as_millis().div_ceil(1000)).unwrap_or(u32::MAX),
            paused: false,
            idle_timeout_seconds: u32::try_from(args.idle_timeout.as_secs()).unwrap_or(u32::MAX),
            admit_seat_factor: args.admit_seat_factor,
            poll_budget_per_second: args.poll_budget,
        }
        .checked()
        .map_err(anyhow::Error::msg)
        .context("invalid queue defaults (LINEUP_ADMIT_PER_SECOND, LINEUP_MAX_ACTIVE, LINEUP_MAX_WAITING, LINEUP_ACTIVE_TTL, LINEUP_HOLD_TTL, LINEUP_IDLE_TIMEOUT, LINEUP_ADMIT_SEAT_FACTOR, LINEUP_POLL_BUDGET)")?;

        Ok(Self {
            listen: args.listen,
            transport,
            redis_url: args.redis_url,
            redis_cluster_nodes,
            redis_prefix: args.redis_prefix,
            redis_timeout: args.redis_timeout,
            database_url: SecretString::from(args.database.database_url),
            database_max_connections: args.database_max_connections,
            database_timeout: args.database_timeout,
            database_statement_timeout: args.database_statement_timeout,
            token_key,
            admin_token,
            admin_tokens: args.admin_tokens,
            access_token_ttl: args.access_token_ttl,
            queue_token_ttl: args.queue_token_ttl,
            queue_defaults,
            admit_interval: args.admit_interval,
            payment_timeout: args.payment_timeout,
            charge_policy: ChargePolicy {
                min: args.charge_min,
                max: args.charge_max,
            },
            log_format: args.log_format,
            demo: args.demo,
            tls_reload_interval: args.tls_reload_interval,
            redirect_http_listen: args.redirect_http_listen,
            limits: HttpLimits {
                body_limit: args.body_limit,
                request_timeout: args.request_timeout,
                header_read_timeout: args.header_read_timeout,
                max_connections: args.max_connections,
            },
            trusted_proxies: args.trusted_proxies,
            metrics_listen: (!args.no_metrics).then_some(args.metrics_listen),
            log_polls: args.log_polls,
            abuse: AbuseLimits {
                per_address: RateLimit::parse(
                    args.limit_address_rate,
                    args.limit_address_burst,
                    "ADDRESS",
                )?,
                per_user: RateLimit::parse(args.limit_user_rate, args.limit_user_burst, "USER")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> anyhow::Result<Config> {
        let mut argv = vec![
            "lineup",
            "serve",
            "--token-key",
            "0123456789abcdef0123456789abcdef",
        ];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(args) => Config::from_args(*args),
            _ => unreachable!("only serve is parsed here"),
        }
    }

    #[test]
    fn defaults_serve_https_with_a_self_signed_certificate() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.transport, Transport::TlsSelfSigned);
        assert_eq!(config.queue_defaults.hold_ttl_seconds, 300);
        assert_eq!(config.queue_defaults.admit_per_second, 100);
        assert_eq!(config.queue_defaults.idle_timeout_seconds, 120);
        assert_eq!(config.queue_defaults.admit_seat_factor, 2.0);
        assert_eq!(config.queue_defaults.poll_budget_per_second, 20_000);
    }

    #[test]
    fn bad_values_fail_with_the_variable_named() {
        let short_key = Cli::try_parse_from(["lineup", "serve", "--token-key", "short"]).unwrap();
        let Command::Serve(args) = short_key.command else {
            unreachable!()
        };
        let err = Config::from_args(*args).unwrap_err().to_string();
        assert!(err.contains("LINEUP_TOKEN_KEY"), "{err}");

        let err = parse(&["--charge-min", "0"]).unwrap_err().to_string();
        assert!(err.contains("LINEUP_CHARGE_MIN"), "{err}");

        let err = parse(&["--admit-per-second", "0"]).unwrap_err();
        assert!(
            format!("{err:#}").contains("LINEUP_ADMIT_PER_SECOND"),
            "{err:#}"
        );

        assert!(parse(&["--hold-ttl", "five minutes"]).is_err());
        assert!(parse(&["--tls-cert", "cert.pem"]).is_err());
    }

    #[test]
    fn cluster_nodes_are_a_comma_separated_list_of_redis_urls() {
        assert!(parse(&[]).unwrap().redis_cluster_nodes.is_empty());
        assert!(
            parse(&["--redis-cluster-nodes", ""])
                .unwrap()
                .redis_cluster_nodes
                .is_empty()
        );
        let config = parse(&[
            "--redis-cluster-nodes",
            "redis://10.0.0.1:7001, redis://10.0.0.2:7001,",
        ])
        .unwrap();
        assert_eq!(
            config.redis_cluster_nodes,
            ["redis://10.0.0.1:7001", "redis://10.0.0.2:7001"]
        );
        let err = parse(&[
            "--redis-cluster-nodes",
            "redis://10.0.0.1:7001,10.0.0.2:7001",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("LINEUP_REDIS_CLUSTER_NODES"), "{err}");
    }

    #[test]
    fn the_demo_key_is_refused_outside_the_demo() {
        let cli = Cli::try_parse_from(["lineup", "serve", "--token-key", DEMO_TOKEN_KEY]).unwrap();
        let Command::Serve(args) = cli.command else {
            unreachable!()
        };
        let err = Config::from_args(*args).unwrap_err().to_string();
        assert!(err.contains("demo key"), "{err}");
    }

    #[test]
    fn the_token_key_can_come_from_a_file() {
        let path = std::env::temp_dir().join(format!("lineup-key-{}", std::process::id()));
        std::fs::write(&path, "  file-key-0123456789abcdef-0123456789abcdef\n").unwrap();
        let cli = Cli::try_parse_from([
            "lineup",
            "serve",
            "--token-key-file",
            path.to_str().unwrap(),
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            unreachable!()
        };
        let config = Config::from_args(*args).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            config.token_key.expose_secret(),
            "file-key-0123456789abcdef-0123456789abcdef"
        );
    }

    #[test]
    fn abuse_limits_switch_off_with_zero() {
        let config = parse(&[
            "--limit-address-rate",
            "0",
            "--limit-user-rate",
            "3",
            "--limit-user-burst",
            "6",
        ])
        .unwrap();
        assert_eq!(config.abuse.per_address, None);
        assert_eq!(
            config.abuse.per_user,
            Some(RateLimit {
                rate: 3.0,
                burst: 6
            })
        );
        assert!(parse(&["--limit-user-rate", "-1"]).is_err());
        assert!(parse(&["--trusted-proxies", "10.0.0.0/8,not-an-ip"]).is_err());
        let config = parse(&["--trusted-proxies", "10.0.0.0/8, 127.0.0.1"]).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(
            config.trusted_proxies[1].contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = parse(&[
            "--admin-token",
            "a-very-secret-admin-token",
            "--admin-tokens",
            "alice=alice-secret-token-0001,bob=bob-secret-token-00002",
        ])
        .unwrap();
        assert_eq!(config.admin_tokens.len(), 2);
        assert_eq!(config.admin_tokens[1].name, "bob");
        let debug = format!("{config:?}");
        for secret in [
            "0123456789abcdef",
            "a-very-secret-admin-token",
            "alice-secret",
            "bob-secret",
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(parse(&["--admin-tokens", "carol=short"]).is_err());
        assert!(parse(&["--admin-tokens", "no-equals-sign-token-000"]).is_err());
    }
}
