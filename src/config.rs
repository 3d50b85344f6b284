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

    /// Redis connection URL.
    #[arg(
        long,
        env = "LINEUP_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

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

    /// HS256 key that signs access and queue tokens (32 bytes or more). Shared by
    /// every server of a deployment. Required unless --demo.
    #[arg(long, env = "LINEUP_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<SecretString>,

    /// Bearer token of the admin API (16 characters or more). Without it the
    /// admin API refuses every request, except in --demo, which has a default.
    #[arg(long, env = "LINEUP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,

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

    /// How often each server runs the admission script per concert.
    #[arg(long, env = "LINEUP_ADMIT_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub admit_interval: Duration,

    /// How long a seat hold lasts before it is released unpaid.
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
    pub redis_prefix: String,
    pub redis_timeout: Duration,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub database_timeout: Duration,
    pub token_key: SecretString,
    pub admin_token: Option<SecretString>,
    pub access_token_ttl: Duration,
    pub queue_token_ttl: Duration,
    /// Settings a new concert starts with.
    pub queue_defaults: QueueSettings,
    pub admit_interval: Duration,
    pub hold_ttl: Duration,
    pub payment_timeout: Duration,
    pub charge_policy: ChargePolicy,
    pub log_format: LogFormat,
    pub demo: bool,
}

impl Config {
    pub fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        let transport = match (args.plain_http, args.tls_cert, args.tls_key) {
            (true, _, _) => Transport::PlainHttp,
            (false, Some(cert), Some(key)) => Transport::TlsFiles { cert, key },
            (false, None, None) => Transport::TlsSelfSigned,
            _ => bail!("--tls-cert (LINEUP_TLS_CERT) and --tls-key (LINEUP_TLS_KEY) go together"),
        };

        let token_key = match (args.token_key, args.demo) {
            (Some(key), _) => key,
            (None, true) => SecretString::from(DEMO_TOKEN_KEY),
            (None, false) => bail!(
                "LINEUP_TOKEN_KEY (--token-key) is required: a secret of {MIN_TOKEN_KEY_BYTES} bytes or more shared by every server"
            ),
        };
        ensure!(
            token_key.expose_secret().len() >= MIN_TOKEN_KEY_BYTES,
            "LINEUP_TOKEN_KEY (--token-key) must be at least {MIN_TOKEN_KEY_BYTES} bytes long"
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
        ensure!(
            args.database_max_connections >= 1,
            "LINEUP_DATABASE_MAX_CONNECTIONS must be 1 or more"
        );
        ensure!(
            args.charge_min >= 1 && args.charge_min <= args.charge_max,
            "LINEUP_CHARGE_MIN must be 1 or more and not above LINEUP_CHARGE_MAX"
        );
        for (name, value) in [
            ("LINEUP_REDIS_TIMEOUT", args.redis_timeout),
            ("LINEUP_DATABASE_TIMEOUT", args.database_timeout),
            ("LINEUP_ACCESS_TOKEN_TTL", args.access_token_ttl),
            ("LINEUP_QUEUE_TOKEN_TTL", args.queue_token_ttl),
            ("LINEUP_ADMIT_INTERVAL", args.admit_interval),
            ("LINEUP_HOLD_TTL", args.hold_ttl),
            ("LINEUP_PAYMENT_TIMEOUT", args.payment_timeout),
        ] {
            ensure!(!value.is_zero(), "{name} must be longer than zero");
        }
        let queue_defaults = QueueSettings::parse(
            args.admit_per_second,
            args.max_active,
            args.max_waiting,
            args.active_ttl.as_secs(),
            false,
        )
        .map_err(anyhow::Error::msg)
        .context("invalid queue defaults (LINEUP_ADMIT_PER_SECOND, LINEUP_MAX_ACTIVE, LINEUP_MAX_WAITING, LINEUP_ACTIVE_TTL)")?;

        Ok(Self {
            listen: args.listen,
            transport,
            redis_url: args.redis_url,
            redis_prefix: args.redis_prefix,
            redis_timeout: args.redis_timeout,
            database_url: SecretString::from(args.database.database_url),
            database_max_connections: args.database_max_connections,
            database_timeout: args.database_timeout,
            token_key,
            admin_token,
            access_token_ttl: args.access_token_ttl,
            queue_token_ttl: args.queue_token_ttl,
            queue_defaults,
            admit_interval: args.admit_interval,
            hold_ttl: args.hold_ttl,
            payment_timeout: args.payment_timeout,
            charge_policy: ChargePolicy {
                min: args.charge_min,
                max: args.charge_max,
            },
            log_format: args.log_format,
            demo: args.demo,
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
            Command::Migrate(_) => unreachable!(),
        }
    }

    #[test]
    fn defaults_serve_https_with_a_self_signed_certificate() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.transport, Transport::TlsSelfSigned);
        assert_eq!(config.hold_ttl, Duration::from_secs(300));
        assert_eq!(config.queue_defaults.admit_per_second, 100);
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
    fn secrets_stay_out_of_debug_output() {
        let config = parse(&["--admin-token", "a-very-secret-admin-token"]).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(!debug.contains("a-very-secret-admin-token"), "{debug}");
    }
}
