//! The keys that sign tokens, the issuer and audience they name, and their
//! lifetimes. Access tokens: one HS256 secret. Queue and admission tokens: a
//! list of Ed25519 PEM files, the first signs and all verify (see
//! `crate::tokens::keys`).
//!
//! Reads `LINEUP_TOKEN_KEY`, `LINEUP_TOKEN_KEY_FILE`, `LINEUP_SIGNING_KEY_FILES`,
//! `LINEUP_TOKEN_ISSUER`, `LINEUP_TOKEN_AUDIENCE`, `LINEUP_ACCESS_TOKEN_TTL`,
//! `LINEUP_QUEUE_TOKEN_TTL`, `LINEUP_VERIFIED_TOKEN_CACHE`.

use crate::tokens::keys::SigningKey;
use anyhow::{Context, bail, ensure};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::time::Duration;

/// Token signing key of `--demo` runs only; a real deployment must set its own.
pub const DEMO_TOKEN_KEY: &str = "lineup-demo-token-key-do-not-use-in-production";
/// The public seed of the Ed25519 key `--demo` signs with when no key file is given.
pub const DEMO_SIGNING_SEED: &str = "lineup-demo-signing-key-do-not-use-in-production";
/// The most verified tokens a server may be told to remember (about 5.6 GB).
pub const MAX_VERIFIED_TOKEN_CACHE: usize = 10_000_000;
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

    /// Ed25519 private keys (PKCS#8 PEM files, comma-separated) of queue and
    /// admission tokens, shared by every server. The first signs; every one
    /// verifies and is published at /.well-known/jwks.json. Rotate by adding the
    /// next key last, then moving it first, then dropping the old one once the
    /// last token it signed has expired. Required unless --demo.
    #[arg(long, env = "LINEUP_SIGNING_KEY_FILES", value_delimiter = ',')]
    pub signing_key_files: Vec<PathBuf>,

    /// The `iss` of queue and admission tokens, which verifiers check: the
    /// line's public URL is a good choice.
    #[arg(long, env = "LINEUP_TOKEN_ISSUER", default_value = "lineup")]
    pub token_issuer: String,

    /// The `aud` of queue and admission tokens, which verifiers check: who the
    /// admission is for (the protected site).
    #[arg(long, env = "LINEUP_TOKEN_AUDIENCE", default_value = "lineup")]
    pub token_audience: String,

    /// Lifetime of access tokens issued by POST /api/v1/users.
    #[arg(long, env = "LINEUP_ACCESS_TOKEN_TTL", default_value = "30days", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of queue tokens; longer than any wait in line.
    #[arg(long, env = "LINEUP_QUEUE_TOKEN_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub queue_token_ttl: Duration,

    /// How many queue and admission tokens each server remembers as verified
    /// (about 560 bytes each), so that a person's next poll skips the
    /// signature check; `exp` and Redis's state are still checked every time.
    /// 0 checks every signature; at most 10,000,000.
    #[arg(long, env = "LINEUP_VERIFIED_TOKEN_CACHE", default_value_t = 50_000)]
    pub verified_token_cache: usize,
}

/// The checked token settings.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The HS256 secret of access tokens.
    pub key: SecretString,
    /// Queue and admission token keys: the first signs, all verify.
    pub signing_keys: Vec<SigningKey>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub queue_ttl: Duration,
    /// How many verified queue and admission tokens (each) to remember.
    pub verified_cache: usize,
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
        ensure!(
            self.verified_token_cache <= MAX_VERIFIED_TOKEN_CACHE,
            "LINEUP_VERIFIED_TOKEN_CACHE must be at most {MAX_VERIFIED_TOKEN_CACHE} (about 560 bytes each)"
        );
        let signing_keys = signing_keys(&self.signing_key_files, demo)?;
        ensure!(
            !self.token_issuer.trim().is_empty() && !self.token_audience.trim().is_empty(),
            "LINEUP_TOKEN_ISSUER and LINEUP_TOKEN_AUDIENCE must not be empty"
        );
        Ok(TokenConfig {
            key,
            signing_keys,
            issuer: self.token_issuer,
            audience: self.token_audience,
            access_ttl: super::nonzero("LINEUP_ACCESS_TOKEN_TTL", self.access_token_ttl)?,
            queue_ttl: super::nonzero("LINEUP_QUEUE_TOKEN_TTL", self.queue_token_ttl)?,
            verified_cache: self.verified_token_cache,
        })
    }
}

/// The key files read in order, or the demo key under `--demo` when none is given.
fn signing_keys(files: &[PathBuf], demo: bool) -> anyhow::Result<Vec<SigningKey>> {
    let demo_key = SigningKey::from_public_seed(DEMO_SIGNING_SEED);
    if files.is_empty() {
        ensure!(
            demo,
            "LINEUP_SIGNING_KEY_FILES (--signing-key-files) is required: Ed25519 PEM files shared by every server (`lineup keys generate` writes one)"
        );
        return Ok(vec![demo_key]);
    }
    let mut keys: Vec<SigningKey> = Vec::with_capacity(files.len());
    for path in files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read LINEUP_SIGNING_KEY_FILES {}", path.display()))?;
        let key = SigningKey::from_pem(&text)
            .with_context(|| format!("LINEUP_SIGNING_KEY_FILES {}", path.display()))?;
        ensure!(
            demo || key.kid() != demo_key.kid(),
            "LINEUP_SIGNING_KEY_FILES {} is the public demo key: outside --demo, generate your own",
            path.display()
        );
        ensure!(
            keys.iter().all(|k| k.kid() != key.kid()),
            "LINEUP_SIGNING_KEY_FILES lists the key {} twice",
            path.display()
        );
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command, Config, DEMO_SIGNING_SEED};
    use super::*;
    use clap::Parser;

    /// The test suite's signing keys (tests/support/keys/).
    const SIGNING: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/keys/signing.pem"
    );
    const NEXT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/keys/next.pem");

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
    fn signing_keys_are_required_outside_the_demo_and_the_first_signs() {
        let bare =
            Cli::try_parse_from(["lineup", "serve", "--token-key", &"k".repeat(32)]).unwrap();
        let Command::Serve(args) = bare.command else {
            unreachable!()
        };
        let err = Config::from_args(*args).unwrap_err().to_string();
        assert!(err.contains("LINEUP_SIGNING_KEY_FILES"), "{err}");

        let both = format!("{NEXT},{SIGNING}");
        let config = parse(&["--signing-key-files", &both]).unwrap();
        let kids: Vec<&str> = config.tokens.signing_keys.iter().map(|k| k.kid()).collect();
        let read = |path| SigningKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(kids, [read(NEXT).kid(), read(SIGNING).kid()]);

        let twice = format!("{SIGNING},{SIGNING}");
        let err = parse(&["--signing-key-files", &twice])
            .unwrap_err()
            .to_string();
        assert!(err.contains("twice"), "{err}");
        let err = parse(&["--signing-key-files", "/nonexistent/key.pem"]).unwrap_err();
        assert!(
            format!("{err:#}").contains("LINEUP_SIGNING_KEY_FILES"),
            "{err:#}"
        );
    }

    #[test]
    fn the_demo_derives_its_signing_key_and_only_the_demo_accepts_it() {
        let demo = Cli::try_parse_from(["lineup", "serve", "--demo"]).unwrap();
        let Command::Serve(args) = demo.command else {
            unreachable!()
        };
        let config = Config::from_args(*args).unwrap();
        let demo_key = SigningKey::from_public_seed(DEMO_SIGNING_SEED);
        assert_eq!(config.tokens.signing_keys.len(), 1);
        assert_eq!(config.tokens.signing_keys[0].kid(), demo_key.kid());

        let path = std::env::temp_dir().join(format!("lineup-demo-key-{}.pem", std::process::id()));
        std::fs::write(&path, demo_key.to_pem()).unwrap();
        let err = parse(&["--signing-key-files", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("public demo key"), "{err}");
    }

    #[test]
    fn the_verified_token_memory_is_bounded() {
        let config = parse(&["--signing-key-files", SIGNING]).unwrap();
        assert_eq!(config.tokens.verified_cache, 50_000);
        let most = MAX_VERIFIED_TOKEN_CACHE.to_string();
        let config = parse(&[
            "--signing-key-files",
            SIGNING,
            "--verified-token-cache",
            &most,
        ]);
        assert_eq!(
            config.unwrap().tokens.verified_cache,
            MAX_VERIFIED_TOKEN_CACHE
        );
        let over = (MAX_VERIFIED_TOKEN_CACHE + 1).to_string();
        let err = parse(&[
            "--signing-key-files",
            SIGNING,
            "--verified-token-cache",
            &over,
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("LINEUP_VERIFIED_TOKEN_CACHE"), "{err}");
    }
}
