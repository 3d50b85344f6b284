//! How the API is served: HTTPS with the operator's PEM files or a self-signed
//! certificate, or plain HTTP behind a proxy; the certificate reload; the
//! plain-HTTP listener that only redirects.
//!
//! Reads `LINEUP_TLS_CERT`, `LINEUP_TLS_KEY`, `LINEUP_PLAIN_HTTP`,
//! `LINEUP_TLS_RELOAD_INTERVAL`, `LINEUP_REDIRECT_HTTP_LISTEN`,
//! `LINEUP_TLS_TICKET_SECRET`, `LINEUP_TLS_TICKET_ROTATION`.

use anyhow::{bail, ensure};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
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

    /// The secret TLS 1.3 session-ticket keys are derived from (at least 32
    /// characters). Give every server the same one, and a browser that comes
    /// back resumes its session on any of them, also after a restart. Unset: a
    /// random secret per process (resumption on this server until it restarts).
    #[arg(long, env = "LINEUP_TLS_TICKET_SECRET", hide_env_values = true)]
    pub tls_ticket_secret: Option<SecretString>,

    /// How often the ticket key changes; a ticket is accepted for this long
    /// after its key is retired (so it lives between one and two periods).
    #[arg(long, env = "LINEUP_TLS_TICKET_ROTATION", default_value = "6h", value_parser = humantime::parse_duration)]
    pub tls_ticket_rotation: Duration,
}

/// Shortest `LINEUP_TLS_TICKET_SECRET`.
pub const MIN_TICKET_SECRET_CHARS: usize = 32;

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

/// The checked transport settings.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub transport: Transport,
    /// How often [`Transport::TlsFiles`] are checked for a new certificate.
    pub reload_interval: Duration,
    /// The redirect-to-HTTPS listener, if any (never with plain HTTP).
    pub redirect_http_listen: Option<SocketAddr>,
    /// The session-ticket secret shared by the servers, if given.
    pub ticket_secret: Option<SecretString>,
    /// How often the ticket key changes.
    pub ticket_rotation: Duration,
}

impl TlsArgs {
    pub fn into_config(self) -> anyhow::Result<TlsConfig> {
        let transport = match (self.plain_http, self.tls_cert, self.tls_key) {
            (true, _, _) => Transport::PlainHttp,
            (false, Some(cert), Some(key)) => Transport::TlsFiles { cert, key },
            (false, None, None) => Transport::TlsSelfSigned,
            _ => bail!("--tls-cert (LINEUP_TLS_CERT) and --tls-key (LINEUP_TLS_KEY) go together"),
        };
        ensure!(
            self.redirect_http_listen.is_none() || !self.plain_http,
            "LINEUP_REDIRECT_HTTP_LISTEN redirects to HTTPS, which --plain-http turns off"
        );
        if let Some(secret) = &self.tls_ticket_secret {
            ensure!(
                secret.expose_secret().chars().count() >= MIN_TICKET_SECRET_CHARS,
                "LINEUP_TLS_TICKET_SECRET must be {MIN_TICKET_SECRET_CHARS} characters or more"
            );
        }
        ensure!(
            self.tls_ticket_rotation >= Duration::from_secs(60)
                && self.tls_ticket_rotation <= Duration::from_secs(3 * 24 * 3600),
            "LINEUP_TLS_TICKET_ROTATION must be between 1m and 3days (TLS 1.3 tickets live at most 7 days)"
        );
        Ok(TlsConfig {
            transport,
            ticket_secret: self.tls_ticket_secret,
            ticket_rotation: self.tls_ticket_rotation,
            reload_interval: super::nonzero(
                "LINEUP_TLS_RELOAD_INTERVAL",
                self.tls_reload_interval,
            )?,
            redirect_http_listen: self.redirect_http_listen,
        })
    }
}
