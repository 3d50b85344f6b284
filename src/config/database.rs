//! PostgreSQL: where it is, the pool's size and every wait's bound.
//!
//! Reads `LINEUP_DATABASE_URL` (also `lineup migrate`'s), and for the server
//! `LINEUP_DATABASE_MAX_CONNECTIONS`, `LINEUP_DATABASE_TIMEOUT`,
//! `LINEUP_DATABASE_STATEMENT_TIMEOUT`.

use anyhow::ensure;
use clap::Args;
use secrecy::SecretString;
use std::time::Duration;

/// Where PostgreSQL is: all `lineup migrate` needs.
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

/// The server's PostgreSQL settings.
#[derive(Debug, Clone, Args)]
pub struct ServerDatabaseArgs {
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
}

/// The checked PostgreSQL settings of a server.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// May hold a password.
    pub url: SecretString,
    pub max_connections: u32,
    /// Longest wait for a pooled connection.
    pub timeout: Duration,
    pub statement_timeout: Duration,
}

impl ServerDatabaseArgs {
    pub fn into_config(self) -> anyhow::Result<DatabaseConfig> {
        ensure!(
            self.database_max_connections >= 1,
            "LINEUP_DATABASE_MAX_CONNECTIONS must be 1 or more"
        );
        Ok(DatabaseConfig {
            url: SecretString::from(self.database.database_url),
            max_connections: self.database_max_connections,
            timeout: super::nonzero("LINEUP_DATABASE_TIMEOUT", self.database_timeout)?,
            statement_timeout: super::nonzero(
                "LINEUP_DATABASE_STATEMENT_TIMEOUT",
                self.database_statement_timeout,
            )?,
        })
    }
}
