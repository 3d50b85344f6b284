//! First joins of new people as fast as they go, over kept-alive connections:
//! the `first_join` row of `loadtest/throughput.sh`.
//!
//! oha sends one request over and over, so it can only measure a person
//! joining again; every first join needs an access token of its own. This
//! client signs a fresh access token for a new user id before each join (with
//! the server's `LINEUP_TOKEN_KEY`, as a sign-up would, without the sign-up's
//! PostgreSQL rows, which joining never reads) and also measures `/healthz` the
//! same way, so the two rows compare like with like.
//!
//! ```sh
//! LINEUP_TOKEN_KEY=... cargo run --release --example join_load -- \
//!     https://localhost:9443 <concert_id|healthz> [connections] [seconds]
//! ```
//!
//! Prints one JSON line: requests a second, p50 and p99 in ms, the statuses.

use lineup::domain::UserId;
use lineup::tokens::TokenKeys;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: join_load <base url> <concert_id|healthz> [connections] [seconds]";
    let base = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let target = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let connections: usize = args.next().map_or(Ok(64), |c| c.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    let key = SecretString::from(std::env::var("LINEUP_TOKEN_KEY")?);
    let tokens = Arc::new(TokenKeys::new(
        &key,
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    ));

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let url = if target == "healthz" {
        format!("{base}/healthz")
    } else {
        format!("{base}/api/v1/concerts/{target}/queue")
    };
    let join = target != "healthz";
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (url, tokens) = (url.clone(), tokens.clone());
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
                    let request = if join {
                        let token = tokens.issue_access(UserId::new());
                        client.post(&url).bearer_auth(token)
                    } else {
                        client.get(&url)
                    };
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
