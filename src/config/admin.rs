//! The operators' tokens of the admin API.
//!
//! Reads `LINEUP_ADMIN_TOKEN`, `LINEUP_ADMIN_TOKENS`.

use anyhow::ensure;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

/// Admin token of `--demo` runs when none is given.
pub const DEMO_ADMIN_TOKEN: &str = "lineup-demo-admin-token";
/// Shortest accepted admin token.
const MIN_ADMIN_TOKEN_CHARS: usize = 16;

#[derive(Debug, Clone, Args)]
pub struct AdminTokenArgs {
    /// Bearer token of the admin API (16 characters or more). Without it the
    /// admin API refuses every request, except in --demo, which has a default.
    #[arg(long, env = "LINEUP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,

    /// More admin tokens, each with the operator's name that the audit log
    /// records: `alice=<token>,bob=<token>` (LINEUP_ADMIN_TOKEN's name is `admin`).
    #[arg(long, env = "LINEUP_ADMIN_TOKENS", hide_env_values = true, value_delimiter = ',', value_parser = parse_named_token)]
    pub admin_tokens: Vec<NamedToken>,
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

/// The checked admin tokens. Without any, the admin API refuses everything.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `LINEUP_ADMIN_TOKEN`: the operator `admin`.
    pub token: Option<SecretString>,
    /// `LINEUP_ADMIN_TOKENS`: named operators.
    pub named: Vec<NamedToken>,
}

impl AdminConfig {
    /// Every operator, `admin` first.
    pub fn operators(&self) -> Vec<NamedToken> {
        self.token
            .iter()
            .map(|token| NamedToken {
                name: "admin".into(),
                token: token.clone(),
            })
            .chain(self.named.iter().cloned())
            .collect()
    }
}

impl AdminTokenArgs {
    /// `demo` lends the demo admin token when none is given.
    pub fn into_config(self, demo: bool) -> anyhow::Result<AdminConfig> {
        let token = match (self.admin_token, demo) {
            (Some(token), _) => Some(token),
            (None, true) => Some(SecretString::from(DEMO_ADMIN_TOKEN)),
            (None, false) => None,
        };
        if let Some(token) = &token {
            ensure!(
                token.expose_secret().len() >= MIN_ADMIN_TOKEN_CHARS,
                "LINEUP_ADMIN_TOKEN (--admin-token) must be at least {MIN_ADMIN_TOKEN_CHARS} characters long"
            );
        }
        Ok(AdminConfig {
            token,
            named: self.admin_tokens,
        })
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
    if token.len() < MIN_ADMIN_TOKEN_CHARS {
        return Err(format!(
            "the admin token of {name} must be at least {MIN_ADMIN_TOKEN_CHARS} characters long"
        ));
    }
    Ok(NamedToken {
        name: name.to_owned(),
        token: SecretString::from(token.to_owned()),
    })
}
