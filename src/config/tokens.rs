//! The key that signs access and queue tokens, and their lifetimes.
//!
//! Reads `LINEUP_TOKEN_KEY`, `LINEUP_TOKEN_KEY_FILE`, `LINEUP_ACCESS_TOKEN_TTL`,
//! `LINEUP_QUEUE_TOKEN_TTL`.

use anyhow::{Context, bail, ensure};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::time::Duration;

/// Token signing key of `--demo` runs only; a real deployment must set its own.
pub const DEMO_TOKEN_KEY: &str = "lineup-demo-token-key-do-not-use-in-production";
/// Shortest accepted token signing key, in bytes (HS256 wants 256 bits).
pub const MIN_TOKEN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
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

    /// Lifetime of access tokens issued by POST /api/v1/users.
    #[arg(long, env = "LINEUP_ACCESS_TOKEN_TTL", default_value = "30days", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of queue tokens; longer than any wait in line.
    #[arg(long, env = "LINEUP_QUEUE_TOKEN_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub queue_token_ttl: Duration,
}

/// The checked token settings.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub key: SecretString,
    pub access_ttl: Duration,
    pub queue_ttl: Duration,
}

impl TokenArgs {
    /// `demo` lends the demo key when none is given, and only then accepts it.
    pub fn into_config(self, demo: bool) -> anyhow::Result<TokenConfig> {
        let from_file = match &self.token_key_file {
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
        let key = match (self.token_key.or(from_file), demo) {
            (Some(key), _) => key,
            (None, true) => SecretString::from(DEMO_TOKEN_KEY),
            (None, false) => bail!(
                "LINEUP_TOKEN_KEY (--token-key) or LINEUP_TOKEN_KEY_FILE is required: a secret of {MIN_TOKEN_KEY_BYTES} bytes or more shared by every server"
            ),
        };
        ensure!(
            key.expose_secret().len() >= MIN_TOKEN_KEY_BYTES,
            "LINEUP_TOKEN_KEY (--token-key) must be at least {MIN_TOKEN_KEY_BYTES} bytes long"
        );
        ensure!(
            demo || key.expose_secret() != DEMO_TOKEN_KEY,
            "LINEUP_TOKEN_KEY is the public demo key: outside --demo, set a secret of your own"
        );
        Ok(TokenConfig {
            key,
            access_ttl: super::nonzero("LINEUP_ACCESS_TOKEN_TTL", self.access_token_ttl)?,
            queue_ttl: super::nonzero("LINEUP_QUEUE_TOKEN_TTL", self.queue_token_ttl)?,
        })
    }
}
