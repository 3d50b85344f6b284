//! The rustls server configuration: the operator's PEM files, or a self-signed
//! certificate for localhost made at start. HTTP/2 and HTTP/1.1 by ALPN.
//! Sessions resume with stateless tickets whose keys every server derives from
//! one shared secret ([`tickets`]).

pub mod tickets;

use crate::config::TlsConfig;
use anyhow::Context;
use rustls::ServerConfig;
use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::ProducesTickets;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What seals session tickets: keys from `LINEUP_TLS_TICKET_SECRET`, or from a
/// random secret of this process when none is given.
pub fn ticketer(config: &TlsConfig) -> anyhow::Result<Arc<dyn ProducesTickets>> {
    use secrecy::ExposeSecret;
    Ok(match &config.ticket_secret {
        Some(secret) => Arc::new(tickets::SharedTicketer::new(
            secret.expose_secret().as_bytes(),
            config.ticket_rotation,
        )),
        None => Arc::new(tickets::SharedTicketer::random(config.ticket_rotation)?),
    })
}

/// A server config from PEM files: a certificate chain and its private key.
pub fn from_pem_files(
    cert: &Path,
    key: &Path,
    tickets: &Arc<dyn ProducesTickets>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the TLS certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    build(chain, key, tickets)
}

/// A server config with a certificate for localhost, 127.0.0.1 and ::1 made now.
pub fn self_signed(tickets: &Arc<dyn ProducesTickets>) -> anyhow::Result<Arc<ServerConfig>> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .context("cannot generate a self-signed certificate")?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    build(vec![certified.cert.der().clone()], key.into(), tickets)
}

fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    tickets: &Arc<dyn ProducesTickets>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not match or are unsupported")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Stateless tickets: resumption needs no per-server cache, so it survives
    // any number of other connections, other servers and restarts.
    config.ticketer = tickets.clone();
    Ok(Arc::new(config))
}

/// Reloads the certificate and key when either file changes (checked every
/// `every`) or on SIGHUP, without a restart; new connections get the new
/// certificate. A file that does not parse is logged and the old one kept.
pub async fn reload_on_change(
    target: axum_server::tls_rustls::RustlsConfig,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    every: std::time::Duration,
    tickets: Arc<dyn ProducesTickets>,
    shutdown: CancellationToken,
) {
    let stamp = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut seen = (stamp(&cert), stamp(&key));
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    while let Some(forced) = shutdown
        .run_until_cancelled(next_check(every, &mut hangup))
        .await
    {
        let now = (stamp(&cert), stamp(&key));
        if !forced && now == seen {
            continue;
        }
        match from_pem_files(&cert, &key, &tickets) {
            Ok(config) => {
                target.reload_from_config(config);
                seen = now;
                tracing::info!(cert = %cert.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "TLS certificate not reloaded; keeping the current one"
            ),
        }
    }
}

/// Waits for the next look at the files: `every` passed (false), or SIGHUP
/// asked for a reload whatever the files say (true).
async fn next_check(
    every: std::time::Duration,
    hangup: &mut Option<tokio::signal::unix::Signal>,
) -> bool {
    let sighup = async {
        match hangup {
            Some(signal) => signal.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::time::sleep(every) => false,
        _ = sighup => true,
    }
}
