//! Requests as fast as they go over kept-alive connections (HTTPS, HTTP/1.1,
//! one connection per worker): the rows of `loadtest/throughput.sh` that oha
//! cannot make, and the same endpoints again through one client so that their
//! ratios compare like with like.
//!
//! oha sends one request over and over, so it can only measure a person
//! joining again; every first join needs an access token of its own. With
//! `fresh`, this client signs an access token for a new user id before each
//! request (with the server's `LINEUP_TOKEN_KEY`, as a sign-up would, without
//! the sign-up's PostgreSQL rows, which joining never reads).
//!
//! ```sh
//! LINEUP_TOKEN_KEY=... cargo run --release --example load_client -- \
//!     <GET|POST> <url> <none|fresh|bearer token> [connections] [seconds]
//! ```
//!
//! Prints one JSON line: requests a second, p50 and p99 in ms, the statuses.

use lineup::config::TokenConfig;
use lineup::domain::UserId;
use lineup::tokens::TokenKeys;
use lineup::tokens::keys::SigningKey;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: load_client <GET|POST> <url> <none|fresh|token> [connections] [seconds]";
    let mut next = || args.next().ok_or_else(|| anyhow::anyhow!(usage));
    let method: reqwest::Method = next()?.parse()?;
    let url = next()?;
    let auth = next()?;
    let connections: usize = next().map_or(Ok(64), |c| c.parse())?;
    let seconds: u64 = next().map_or(Ok(10), |s| s.parse())?;
    let tokens = match auth.as_str() {
        // Only access tokens are signed here (HS256, the server's key); the
        // queue-token key is a throwaway this client never uses.
        "fresh" => Some(Arc::new(TokenKeys::new(&TokenConfig {
            key: SecretString::from(std::env::var("LINEUP_TOKEN_KEY")?),
            signing_keys: vec![SigningKey::generate()?],
            issuer: "lineup".into(),
            audience: "lineup".into(),
            access_ttl: Duration::from_secs(3600),
            queue_ttl: Duration::from_secs(3600),
            verified_cache: 0,
        }))),
        _ => None,
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (method, url, auth, tokens) =
                (method.clone(), url.clone(), auth.clone(), tokens.clone());
            tokio::spawn(async move {
                // One client each: one kept-alive connection each.
                let client = reqwest::Client::builder()
                    .danger_accept_invalid_certs(true)
                    .http1_only()
                    .pool_max_idle_per_host(1)
                    .build()?;
                let mut latencies_us = Vec::new();
                let mut statuses = BTreeMap::<u16, u64>::new();
                while Instant::now() < until {
                    let mut request = client.request(method.clone(), &url);
                    if let Some(tokens) = &tokens {
                        request = request.bearer_auth(tokens.issue_access(UserId::new()));
                    } else if auth != "none" {
                        request = request.bearer_auth(&auth);
                    }
                    let sent = Instant::now();
                    let status = match request.send().await {
                        Ok(answer) => {
                            let status = answer.status().as_u16();
                            answer.bytes().await?;
                            status
                        }
                        Err(_) => 0,
                    };
                    latencies_us.push(sent.elapsed().as_micros() as u64);
                    *statuses.entry(status).or_default() += 1;
                }
                anyhow::Ok((latencies_us, statuses))
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut statuses = BTreeMap::<u16, u64>::new();
    for worker in workers {
        let (latencies, counts) = worker.await??;
        latencies_us.extend(latencies);
        for (status, count) in counts {
            *statuses.entry(status).or_default() += count;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let at = |q: f64| {
        let i =
            ((latencies_us.len() as f64 * q) as usize).min(latencies_us.len().saturating_sub(1));
        latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "{}",
        serde_json::json!({
            "requests_per_sec": latencies_us.len() as f64 / elapsed,
            "p50_ms": at(0.5),
            "p99_ms": at(0.99),
            "statuses": statuses,
        })
    );
    Ok(())
}
