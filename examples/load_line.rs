//! Puts many people in one concert's line, fast: the loader of
//! `loadtest/million.sh`.
//!
//! Each person joins through lineup's own queue service, so the line is built
//! by the same join script, with the same keys and order numbers, as joins
//! through the API; only HTTP is left out. Settings come from the same
//! `LINEUP_*` variables as `lineup serve` (database, Redis, prefix, token key),
//! so the printed queue tokens are valid on a server run with them.
//!
//! ```sh
//! cargo run --release --example load_line -- <concert_id> <people> [concurrency]
//! ```
//!
//! Prints one JSON line: how many joined, how long it took, and the queue token
//! of the person in the middle of the line.

use futures::StreamExt;
use lineup::app::Application;
use lineup::config::{Cli, Command, Config};
use lineup::domain::{ConcertId, UserId};
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: load_line <concert_id> <people> [concurrency]";
    let concert: ConcertId = args
        .next()
        .ok_or_else(|| anyhow::anyhow!(usage))?
        .parse()
        .map_err(|_| anyhow::anyhow!("the concert id is not a UUID"))?;
    let people: u64 = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let concurrency: usize = args.next().map_or(Ok(512), |c| c.parse())?;

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = <Cli as clap::Parser>::parse_from([
        "lineup",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--plain-http",
        "--no-metrics",
    ]);
    let Command::Serve(serve) = cli.command else {
        unreachable!("the arguments above name serve")
    };
    let app = Application::build(Config::from_args(*serve)?).await?;
    let queue = app.state().queue.clone();

    let middle = people / 2 + 1;
    let started = Instant::now();
    let mut joined = 0u64;
    let mut middle_token = None;
    let mut joins = futures::stream::iter(1..=people)
        .map(|_| {
            let queue = queue.clone();
            async move { queue.join(UserId::new(), concert).await }
        })
        .buffer_unordered(concurrency);
    while let Some(joined_one) = joins.next().await {
        let (ticket, _) = joined_one?;
        joined += 1;
        if ticket.position == middle {
            middle_token = Some(ticket.token);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "joined": joined,
            "seconds": seconds,
            "joins_per_second": joined as f64 / seconds,
            "middle_position": middle,
            "middle_token": middle_token,
        })
    );
    Ok(())
}
