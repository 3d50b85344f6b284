//! `lineup admin ...`: an operator's commands against a running server's admin
//! API, so a sale can be set up and steered from a terminal without writing
//! curl lines: create a concert from a TOML or JSON file, read the live line
//! and seats, change the queue settings, pause, resume, close, evict.
//!
//! The server's URL and an admin token come from flags or `LINEUP_ADMIN_URL` and
//! `LINEUP_ADMIN_TOKEN`. Any answer other than 2xx, and any connection or TLS
//! failure, is an error naming what went wrong, and the process exits non-zero.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
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
    let client = AdminClient::new(&args)?;
    let answer = match &args.command {
        AdminCommand::CreateConcert { file } => {
            let body = read_concert_file(file)?;
            client
                .call(Method::POST, "/admin/v1/concerts", Some(&body))
                .await?
        }
        AdminCommand::Concerts => client.call(Method::GET, "/admin/v1/concerts", None).await?,
        AdminCommand::Queue { concert_id } => {
            client
                .call(
                    Method::GET,
                    &format!("/admin/v1/concerts/{concert_id}/queue"),
                    None,
                )
                .await?
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
            let mut change = Map::new();
            let mut put = |name: &str, value: Option<Value>| {
                if let Some(value) = value {
                    change.insert(name.to_owned(), value);
                }
            };
            put("admit_per_second", admit_per_second.map(Value::from));
            put("max_active", max_active.map(Value::from));
            put("max_waiting", max_waiting.map(Value::from));
            put(
                "active_ttl_seconds",
                active_ttl.map(whole_seconds).transpose()?.map(Value::from),
            );
            put(
                "hold_ttl_seconds",
                hold_ttl.map(whole_seconds).transpose()?.map(Value::from),
            );
            put("paused", paused.map(Value::from));
            if change.is_empty() {
                bail!(
                    "nothing to change: give at least one of --admit-per-second, --max-active, \
                     --max-waiting, --active-ttl, --hold-ttl, --paused"
                );
            }
            client
                .call(
                    Method::PUT,
                    &format!("/admin/v1/concerts/{concert_id}/queue"),
                    Some(&Value::Object(change)),
                )
                .await?
        }
        AdminCommand::Pause { concert_id } => {
            client
                .call(
                    Method::POST,
                    &format!("/admin/v1/concerts/{concert_id}/queue/pause"),
                    None,
                )
                .await?
        }
        AdminCommand::Resume { concert_id } => {
            client
                .call(
                    Method::POST,
                    &format!("/admin/v1/concerts/{concert_id}/queue/resume"),
                    None,
                )
                .await?
        }
        AdminCommand::Close { concert_id } => {
            client
                .call(
                    Method::POST,
                    &format!("/admin/v1/concerts/{concert_id}/close"),
                    None,
                )
                .await?
        }
        AdminCommand::Evict {
            concert_id,
            user_id,
        } => {
            client
                .call(
                    Method::DELETE,
                    &format!("/admin/v1/concerts/{concert_id}/queue/users/{user_id}"),
                    None,
                )
                .await?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", summary(&args.command, &answer));
    }
    Ok(())
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

/// A concert file as the JSON body of POST /admin/v1/concerts.
pub fn read_concert_file(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_toml = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
    let body = if is_toml {
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        toml_to_json(toml::Value::Table(table))
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?
    };
    if !body.is_object() {
        bail!(
            "{} must hold one object: title, venue, opens_at, schedules",
            path.display()
        );
    }
    Ok(body)
}

/// TOML as JSON; a TOML date-time becomes its RFC 3339 text, which the API reads.
fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect(),
        ),
    }
}

struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl AdminClient {
    fn new(args: &AdminArgs) -> anyhow::Result<Self> {
        let token = args.token.clone().context(
            "no admin token: pass --token or set LINEUP_ADMIN_TOKEN to one of the server's admin tokens",
        )?;
        let base = args.url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base).with_context(|| {
            format!("--url {base:?} is not a URL (e.g. https://localhost:8443)")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("--url {base:?} must start with https:// or http://");
        }
        // The same provider the server uses; a second install attempt is harmless.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(args.timeout)
            .user_agent(concat!("lineup-admin/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(args.insecure);
        if let Some(path) = &args.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --ca-cert {}", path.display()))?;
            let certificate = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
            builder = builder.add_root_certificate(certificate);
        }
        Ok(Self {
            http: builder.build().context("cannot build the HTTP client")?,
            base,
            token,
        })
    }

    /// One request; the JSON answer on 2xx, an error naming the status and the
    /// server's error code and message otherwise.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.token.expose_secret());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, e))?;
        let status = response.status();
        let raw = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: the answer was cut off"))?;
        if !status.is_success() {
            bail!("{method} {path}: {}", refusal(status, &raw));
        }
        if raw.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&raw)
            .with_context(|| format!("{method} {path}: the answer is not JSON: {raw}"))
    }
}

/// Why a request got no answer, with a hint where one helps.
fn unreachable(base: &str, error: reqwest::Error) -> anyhow::Error {
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    let hint = if chain.contains("certificate") || chain.contains("UnknownIssuer") {
        " (a self-signed certificate? --insecure accepts it, --ca-cert trusts a given one)"
    } else if error.is_timeout() {
        " (no answer within --timeout)"
    } else if error.is_connect() {
        " (is the server running there? --url or LINEUP_ADMIN_URL)"
    } else {
        ""
    };
    anyhow::anyhow!("cannot reach the server at {base}: {chain}{hint}")
}

/// A refusal as people read it: status, and the error body's code and message.
fn refusal(status: StatusCode, text: &str) -> String {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match (
        body["error"]["code"].as_str(),
        body["error"]["message"].as_str(),
    ) {
        (Some(code), Some(message)) => format!("{status}: {code}: {message}"),
        _ if text.trim().is_empty() => status.to_string(),
        _ => format!("{status}: {}", text.trim()),
    }
}

/// What a command prints when --json is not given.
fn summary(command: &AdminCommand, answer: &Value) -> String {
    match command {
        AdminCommand::CreateConcert { .. } => {
            let mut out = format!("created concert {}\n", text(&answer["concert_id"]));
            for schedule in answer["schedules"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "  schedule {} starts {}\n",
                    text(&schedule["schedule_id"]),
                    text(&schedule["starts_at"])
                ));
            }
            out
        }
        AdminCommand::Concerts => concerts_summary(answer),
        AdminCommand::Close { .. } => format!(
            "closed concert {} at {}; {} dismissed from the line\n",
            text(&answer["concert_id"]),
            text(&answer["closed_at"]),
            text(&answer["dismissed"])
        ),
        AdminCommand::Evict { .. } => {
            let released = match &answer["released_reservation_id"] {
                Value::Null => "no reservation to release".to_owned(),
                id => format!("released reservation {}", text(id)),
            };
            format!(
                "evicted user {} (was {}); {released}\n",
                text(&answer["user_id"]),
                text(&answer["was"])
            )
        }
        AdminCommand::Queue { .. }
        | AdminCommand::Set { .. }
        | AdminCommand::Pause { .. }
        | AdminCommand::Resume { .. } => fields(answer),
    }
}

fn concerts_summary(answer: &Value) -> String {
    let concerts = answer["concerts"].as_array().cloned().unwrap_or_default();
    if concerts.is_empty() {
        return "no concerts\n".to_owned();
    }
    let mut out = String::new();
    for concert in &concerts {
        let settings = &concert["settings"];
        let state = if !concert["closed_at"].is_null() {
            format!("closed {}", text(&concert["closed_at"]))
        } else if settings["paused"] == json!(true) {
            "paused".to_owned()
        } else {
            "admitting".to_owned()
        };
        out.push_str(&format!(
            "{}  {} @ {}  opens {}  {state}\n",
            text(&concert["concert_id"]),
            text(&concert["title"]),
            text(&concert["venue"]),
            text(&concert["opens_at"]),
        ));
        out.push_str(&format!(
            "  line: {} waiting, {} active of {}; admits {}/s; admission {} s; holds {} s; max waiting {}\n",
            text(&concert["waiting"]),
            text(&concert["active"]),
            text(&settings["max_active"]),
            text(&settings["admit_per_second"]),
            text(&settings["active_ttl_seconds"]),
            text(&settings["hold_ttl_seconds"]),
            match settings["max_waiting"].as_u64() {
                Some(0) => "no cap".to_owned(),
                _ => text(&settings["max_waiting"]),
            },
        ));
        for schedule in concert["schedules"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {}  {}: {} seats, {} sold, {} held, {} available\n",
                text(&schedule["starts_at"]),
                text(&schedule["schedule_id"]),
                text(&schedule["total_seats"]),
                text(&schedule["sold_seats"]),
                text(&schedule["held_seats"]),
                text(&schedule["available_seats"]),
            ));
        }
    }
    out
}

/// An object's fields, one `name value` line each, in the server's order.
fn fields(answer: &Value) -> String {
    let Some(object) = answer.as_object() else {
        return format!("{answer}\n");
    };
    let width = object.keys().map(String::len).max().unwrap_or(0);
    object
        .iter()
        .map(|(name, value)| format!("{name:width$}  {}\n", text(value)))
        .collect()
}

/// A JSON value as plain text: strings without quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_concert_becomes_the_api_body_with_rfc3339_times() {
        let dir = std::env::temp_dir().join(format!("lineup-admin-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("concert.toml");
        std::fs::write(
            &file,
            r#"
title = "Winter night"
venue = "Hall"
opens_at = 2026-12-01T10:00:00Z

[[schedules]]
starts_at = "2026-12-24T19:00:00Z"
seats = [{ seat_no = 1, price = 50000 }, { seat_no = 2, price = 70000 }]
"#,
        )
        .unwrap();
        let body = read_concert_file(&file).unwrap();
        assert_eq!(
            body,
            json!({
                "title": "Winter night",
                "venue": "Hall",
                "opens_at": "2026-12-01T10:00:00Z",
                "schedules": [{
                    "starts_at": "2026-12-24T19:00:00Z",
                    "seats": [{"seat_no": 1, "price": 50000}, {"seat_no": 2, "price": 70000}],
                }],
            })
        );
        std::fs::write(&file, "title = ").unwrap();
        let error = read_concert_file(&file).unwrap_err();
        assert!(format!("{error:#}").contains("not valid TOML"), "{error:#}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn durations_become_whole_seconds_rounded_up_and_zero_is_refused() {
        assert_eq!(whole_seconds(Duration::from_secs(600)).unwrap(), 600);
        assert_eq!(whole_seconds(Duration::from_millis(1500)).unwrap(), 2);
        assert!(whole_seconds(Duration::ZERO).is_err());
    }

    #[test]
    fn a_refusal_names_the_status_code_and_message() {
        assert_eq!(
            refusal(
                StatusCode::NOT_FOUND,
                r#"{"error":{"code":"concert_not_found","message":"no concert has this id"}}"#
            ),
            "404 Not Found: concert_not_found: no concert has this id"
        );
        assert_eq!(
            refusal(StatusCode::BAD_GATEWAY, "upstream down"),
            "502 Bad Gateway: upstream down"
        );
    }
}
