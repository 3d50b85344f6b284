//! Every setting of lineup: CLI flags, each with a `LINEUP_*` environment
//! variable, grouped by concern with one file each. Each file opens with the
//! variables it reads and turns its flags into the checked values the server
//! uses, failing with a message that names the bad variable; [`Config::from_args`]
//! only assembles them. The README's configuration table is checked against
//! `lineup serve --help` by a test below.
//!
//! - [`tls`]: HTTPS or plain HTTP, certificate reload, the redirect listener.
//! - [`http`]: body, time and connection bounds of one request or client.
//! - [`abuse`]: per-address and per-user rate limits, trusted proxies.
//! - [`redis`], [`database`]: the two stores.
//! - [`tokens`]: the signing keys, issuer, audience and token lifetimes;
//!   [`admin`]: operators' tokens.
//! - [`gate`]: the admission cookie, the `return_to` allow-list, the gate's cache.
//! - [`queue`]: a new concert's queue settings, the admission interval, the
//!   retirement of finished sales.
//! - [`payments`]: the charge policy, the payment timeout.
//! - [`telemetry`]: log format, poll logging, the metrics listener.
//!
//! Reads `LINEUP_LISTEN` and `LINEUP_DEMO` here: the server itself.

pub mod abuse;
pub mod admin;
pub mod database;
pub mod gate;
pub mod http;
pub mod payments;
pub mod queue;
pub mod redis;
pub mod telemetry;
pub mod tls;
pub mod tokens;

#[cfg(test)]
mod help_table;

pub use abuse::{AbuseLimits, RateLimit};
pub use admin::{AdminConfig, DEMO_ADMIN_TOKEN, NamedToken};
pub use database::{DatabaseArgs, DatabaseConfig};
pub use gate::GateConfig;
pub use http::HttpLimits;
pub use redis::RedisConfig;
pub use telemetry::LogFormat;
pub use tls::{TlsConfig, Transport};
pub use tokens::{DEMO_SIGNING_SEED, DEMO_TOKEN_KEY, MIN_TOKEN_KEY_BYTES, TokenConfig};

use crate::domain::ChargePolicy;
use crate::queue::QueueSettings;
use anyhow::ensure;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;

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
    /// Signing keys of queue and admission tokens: `lineup keys generate`.
    Keys(crate::tokens::KeysArgs),
    /// Recompute a pre-queue's drawn order from its published seed and joiners.
    VerifyShuffle(crate::fairness::VerifyShuffleArgs),
}

/// The flags of `lineup serve`, by concern.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port the API listens on.
    #[arg(long, env = "LINEUP_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,

    /// Seed the demo concert (3 dates x 50 seats) once, use the demo token key and
    /// admin token when none is given, and print how to try it.
    #[arg(long, env = "LINEUP_DEMO")]
    pub demo: bool,

    #[command(flatten, next_help_heading = "TLS")]
    pub tls: tls::TlsArgs,

    #[command(flatten, next_help_heading = "HTTP limits")]
    pub http: http::HttpArgs,

    #[command(flatten, next_help_heading = "Abuse limits")]
    pub abuse: abuse::AbuseArgs,

    #[command(flatten, next_help_heading = "Redis")]
    pub redis: redis::RedisArgs,

    #[command(flatten, next_help_heading = "PostgreSQL")]
    pub database: database::ServerDatabaseArgs,

    #[command(flatten, next_help_heading = "Tokens")]
    pub tokens: tokens::TokenArgs,

    #[command(flatten, next_help_heading = "Gate for reverse proxies")]
    pub gate: gate::GateArgs,

    #[command(flatten, next_help_heading = "Admin API")]
    pub admin: admin::AdminTokenArgs,

    #[command(flatten, next_help_heading = "Queue defaults of new concerts")]
    pub queue: queue::QueueArgs,

    #[command(flatten, next_help_heading = "Payments")]
    pub payments: payments::PaymentArgs,

    #[command(flatten, next_help_heading = "Logs and metrics")]
    pub telemetry: telemetry::TelemetryArgs,
}

/// The checked settings of a server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub demo: bool,
    pub tls: TlsConfig,
    pub limits: HttpLimits,
    pub abuse: AbuseLimits,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub redis: RedisConfig,
    pub database: DatabaseConfig,
    pub tokens: TokenConfig,
    pub gate: GateConfig,
    pub admin: AdminConfig,
    /// Settings a new concert starts with.
    pub queue_defaults: QueueSettings,
    pub admit_interval: Duration,
    /// How long after its last date began a concert is retired.
    pub retire_after: Duration,
    /// How long a server reuses a concert's line facts (0: never).
    pub line_facts_ttl: Duration,
    pub payment_timeout: Duration,
    pub charge_policy: ChargePolicy,
    pub log_format: LogFormat,
    pub log_polls: bool,
    /// `None`: no metrics listener.
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// Every group checked and converted; the first bad value stops the boot.
    pub fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        let demo = args.demo;
        Ok(Self {
            listen: args.listen,
            demo,
            tls: args.tls.into_config()?,
            tokens: args.tokens.into_config(demo)?,
            gate: args.gate.into_config()?,
            admin: args.admin.into_config(demo)?,
            redis: args.redis.into_config()?,
            database: args.database.into_config()?,
            limits: args.http.into_config()?,
            charge_policy: args.payments.charge_policy()?,
            payment_timeout: args.payments.payment_timeout()?,
            queue_defaults: args.queue.defaults()?,
            admit_interval: args.queue.admit_interval()?,
            retire_after: args.queue.retire_after()?,
            line_facts_ttl: args.queue.line_facts_ttl()?,
            abuse: args.abuse.limits()?,
            trusted_proxies: args.abuse.trusted_proxies,
            log_format: args.telemetry.log_format,
            log_polls: args.telemetry.log_polls,
            metrics_listen: args.telemetry.metrics_listen(),
        })
    }
}

/// `value`, unless it is zero: every duration lineup takes must pass.
fn nonzero(variable: &str, value: Duration) -> anyhow::Result<Duration> {
    ensure!(!value.is_zero(), "{variable} must be longer than zero");
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    /// The test suite's signing key (tests/support/keys/).
    const SIGNING: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/keys/signing.pem"
    );

    fn parse(extra: &[&str]) -> anyhow::Result<Config> {
        let mut argv = vec![
            "lineup",
            "serve",
            "--token-key",
            "0123456789abcdef0123456789abcdef",
        ];
        if !extra.contains(&"--signing-key-files") {
            argv.extend_from_slice(&["--signing-key-files", SIGNING]);
        }
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(args) => Config::from_args(*args),
            _ => unreachable!("only serve is parsed here"),
        }
    }

    #[test]
    fn defaults_serve_https_with_a_self_signed_certificate() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.tls.transport, Transport::TlsSelfSigned);
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
        assert!(parse(&[]).unwrap().redis.cluster_nodes.is_empty());
        assert!(
            parse(&["--redis-cluster-nodes", ""])
                .unwrap()
                .redis
                .cluster_nodes
                .is_empty()
        );
        let config = parse(&[
            "--redis-cluster-nodes",
            "redis://10.0.0.1:7001, redis://10.0.0.2:7001,",
        ])
        .unwrap();
        assert_eq!(
            config.redis.cluster_nodes,
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
            "--signing-key-files",
            SIGNING,
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            unreachable!()
        };
        let config = Config::from_args(*args).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            config.tokens.key.expose_secret(),
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
        assert_eq!(config.admin.named.len(), 2);
        assert_eq!(config.admin.named[1].name, "bob");
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
