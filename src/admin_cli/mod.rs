//! `lineup admin ...`: an operator's commands against a running server's admin
//! API, so a sale can be set up and steered from a terminal without writing
//! curl lines: create a concert from a TOML or JSON file, read the live line
//! and seats, change the queue settings, pause, resume, close, evict.
//!
//! The server's URL and an admin token come from flags or `LINEUP_ADMIN_URL` and
//! `LINEUP_ADMIN_TOKEN`. Any answer other than 2xx, and any connection or TLS
//! failure, is an error naming what went wrong, and the process exits non-zero.
//!
//! Here: the commands and the request each one sends. [`client`] sends it,
//! [`summary`] prints the answer for people, [`concert_file`] reads the file of
//! `create-concert`.

pub mod client;
pub mod concert_file;
pub mod summary;

use crate::queue::QueueSettingsChange;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use client::AdminClient;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of a running lineup server.
    #[arg(
        long,
        env = "LINEUP_ADMIN_URL",
        default_value = "https://localhost:8443",
        global = true
    )]
    pub url: String,

    /// An admin token of that server (LINEUP_ADMIN_TOKEN or one of LINEUP_ADMIN_TOKENS).
    #[arg(
        long,
        env = "LINEUP_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<SecretString>,

    /// Accept any certificate, such as the self-signed one a server makes for
    /// localhost when it has none (like curl -k).
    #[arg(
        short = 'k',
        long,
        env = "LINEUP_ADMIN_INSECURE",
        global = true,
        conflicts_with = "ca_cert"
    )]
    pub insecure: bool,

    /// Trust this PEM certificate (the server's own, or its CA) besides the
    /// system's roots.
    #[arg(long, env = "LINEUP_ADMIN_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,

    /// Print the server's JSON answer as it is, instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,

    /// Longest wait for one answer.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub timeout: Duration,

    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a concert from a TOML or JSON file shaped like the body of
    /// POST /admin/v1/concerts: title, venue, opens_at, and schedules, each with
    /// starts_at and seats of seat_no and price.
    CreateConcert {
        /// The file; `.toml` is read as TOML, anything else as JSON.
        file: PathBuf,
    },
    /// Every concert with its live line, settings and seats per date.
    Concerts,
    /// One concert's queue settings with how many wait and how many are admitted.
    Queue { concert_id: Uuid },
    /// Change any of a concert's queue settings, at once on every server.
    Set {
        concert_id: Uuid,
        /// Users admitted per second, all servers together.
        #[arg(long)]
        admit_per_second: Option<u32>,
        /// Most users admitted at one time.
        #[arg(long)]
        max_active: Option<u32>,
        /// Longest line (0 = no cap).
        #[arg(long)]
        max_waiting: Option<u32>,
        /// How long an admission lasts: `90s`, `10m`.
        #[arg(long, value_parser = humantime::parse_duration)]
        active_ttl: Option<Duration>,
        /// How long a seat hold lasts unpaid: `90s`, `5m`.
        #[arg(long, value_parser = humantime::parse_duration)]
        hold_ttl: Option<Duration>,
        /// Stop (true) or restart (false) admission.
        #[arg(long)]
        paused: Option<bool>,
    },
    /// Stop admitting from a concert's line; people keep their places.
    Pause { concert_id: Uuid },
    /// Admit from a concert's line again.
    Resume { concert_id: Uuid },
    /// End a sale: no more joins, admissions or holds; the line is dismissed.
    Close { concert_id: Uuid },
    /// Take one person out of a concert's line or admission, releasing their seats.
    Evict { concert_id: Uuid, user_id: Uuid },
}

/// Runs one admin command, printing its answer on stdout.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(
        &args.url,
        args.token.clone(),
        args.insecure,
        args.ca_cert.as_deref(),
        args.timeout,
    )?;
    let (method, path, body) = args.command.request()?;
    let answer = client.call(method, &path, body.as_ref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", args.command.summary(&answer));
    }
    Ok(())
}

impl AdminCommand {
    /// The admin API request of this command: method, path and body.
    fn request(&self) -> anyhow::Result<(Method, String, Option<Value>)> {
        let concert = |id: &Uuid, rest: &str| format!("/admin/v1/concerts/{id}{rest}");
        Ok(match self {
            AdminCommand::CreateConcert { file } => (
                Method::POST,
                "/admin/v1/concerts".to_owned(),
                Some(concert_file::read_concert_file(file)?),
            ),
            AdminCommand::Concerts => (Method::GET, "/admin/v1/concerts".to_owned(), None),
            AdminCommand::Queue { concert_id } => {
                (Method::GET, concert(concert_id, "/queue"), None)
            }
            AdminCommand::Set {
                concert_id,
                admit_per_second,
                max_active,
                max_waiting,
                active_ttl,
                hold_ttl,
                paused,
            } => {
                let change = QueueSettingsChange {
                    admit_per_second: *admit_per_second,
                    max_active: *max_active,
                    max_waiting: *max_waiting,
                    active_ttl_seconds: active_ttl.map(whole_seconds).transpose()?,
                    hold_ttl_seconds: hold_ttl.map(whole_seconds).transpose()?,
                    paused: *paused,
                    ..QueueSettingsChange::default()
                };
                let body = serde_json::to_value(change)?;
                if body.as_object().is_none_or(|fields| fields.is_empty()) {
                    bail!(
                        "nothing to change: give at least one of --admit-per-second, --max-active, \
                         --max-waiting, --active-ttl, --hold-ttl, --paused"
                    );
                }
                (Method::PUT, concert(concert_id, "/queue"), Some(body))
            }
            AdminCommand::Pause { concert_id } => {
                (Method::POST, concert(concert_id, "/queue/pause"), None)
            }
            AdminCommand::Resume { concert_id } => {
                (Method::POST, concert(concert_id, "/queue/resume"), None)
            }
            AdminCommand::Close { concert_id } => {
                (Method::POST, concert(concert_id, "/close"), None)
            }
            AdminCommand::Evict {
                concert_id,
                user_id,
            } => (
                Method::DELETE,
                concert(concert_id, &format!("/queue/users/{user_id}")),
                None,
            ),
        })
    }

    /// What this command prints of its answer when --json is not given.
    fn summary(&self, answer: &Value) -> String {
        match self {
            AdminCommand::CreateConcert { .. } => summary::created(answer),
            AdminCommand::Concerts => summary::concerts(answer),
            AdminCommand::Close { .. } => summary::closed(answer),
            AdminCommand::Evict { .. } => summary::evicted(answer),
            AdminCommand::Queue { .. }
            | AdminCommand::Set { .. }
            | AdminCommand::Pause { .. }
            | AdminCommand::Resume { .. } => summary::fields(answer),
        }
    }
}

/// Seconds for the API, a part second rounded up (as the server does for its defaults).
fn whole_seconds(duration: Duration) -> anyhow::Result<u32> {
    u32::try_from(duration.as_millis().div_ceil(1000))
        .ok()
        .filter(|&seconds| seconds > 0)
        .with_context(|| {
            format!(
                "{} is not a whole number of seconds the server can take",
                humantime::format_duration(duration)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_whole_seconds_rounded_up_and_zero_is_refused() {
        assert_eq!(whole_seconds(Duration::from_secs(600)).unwrap(), 600);
        assert_eq!(whole_seconds(Duration::from_millis(1500)).unwrap(), 2);
        assert!(whole_seconds(Duration::ZERO).is_err());
    }

    #[test]
    fn set_sends_only_the_settings_it_is_given() {
        let set = AdminCommand::Set {
            concert_id: Uuid::nil(),
            admit_per_second: Some(20),
            max_active: None,
            max_waiting: None,
            active_ttl: Some(Duration::from_millis(1500)),
            hold_ttl: None,
            paused: None,
        };
        let (method, path, body) = set.request().unwrap();
        assert_eq!(method, Method::PUT);
        assert_eq!(path, format!("/admin/v1/concerts/{}/queue", Uuid::nil()));
        assert_eq!(
            body,
            Some(serde_json::json!({"admit_per_second": 20, "active_ttl_seconds": 2}))
        );
        let nothing = AdminCommand::Set {
            concert_id: Uuid::nil(),
            admit_per_second: None,
            max_active: None,
            max_waiting: None,
            active_ttl: None,
            hold_ttl: None,
            paused: None,
        };
        assert!(format!("{:#}", nothing.request().unwrap_err()).contains("nothing to change"));
    }
}
