//! What the clients, the nemesis and the checkers of one run share: the
//! fleet, the history, the concerts created so far, what clients leaked to
//! each other (ids a hostile client may try), what they were told (payments
//! and charges, to check against PostgreSQL and replay), which payments are
//! in flight, when the last fault healed, and the invariants found broken.
//!
//! [`World::call`] is the one way a client sends a request: it picks a
//! server as a load balancer would, writes the invocation and the completion
//! to the history, and checks the answer against what the API documents.
//!
//! One file: every field is shared state behind its own lock, each with the
//! few methods that read and change it; apart they would only import each
//! other.

use crate::history::{History, Kind, NEMESIS, short};
use crate::invariant::{Invariant, Violation};
use crate::support::{Documented, Fleet, Server};
use crate::timing::{TIMING, Timing};
use reqwest::{Method, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// A concert the operator has created.
#[derive(Clone, Debug)]
pub struct LiveConcert {
    pub index: usize,
    pub id: Uuid,
    pub schedules: Vec<Uuid>,
    pub seats: u32,
    /// Its settings as PostgreSQL keeps them: what the servers fall back on
    /// when Redis has lost the live copy (restarted empty).
    pub max_active: u32,
    pub active_ttl: Duration,
    pub hold_ttl: Duration,
}

/// What a client let slip that another may try: its user, and its
/// reservation while it has one.
#[derive(Clone, Debug)]
pub struct Leak {
    pub client: usize,
    pub user: Uuid,
    pub reservation: Option<(usize, Uuid)>,
}

/// A 201 a client was told, or a 200 of a keyed charge.
#[derive(Clone, Debug)]
pub struct Told {
    pub who: String,
    pub key: Option<String>,
    pub token: String,
    /// The request to replay: the reservation and amount of a payment, the
    /// user of a charge.
    pub request: Value,
    pub body: Value,
}

/// The payments of one reservation, as the clients sent them.
#[derive(Clone, Debug, Default)]
pub struct PayTrack {
    pub in_flight: u32,
    pub last_done: Option<Duration>,
    /// Some answer decided it (201, 402, a seat sold meanwhile): its Redis
    /// half may still be landing in the background.
    pub decided: bool,
}

/// When faults that keep lineup from reaching Redis (lost or late replies,
/// a restart, a killed server) began and healed: while one lasts, a
/// reservation may stay `paying` because its cleanup cannot land. A
/// PostgreSQL cut is no such fault: undoing a payment's Redis half needs
/// Redis only.
#[derive(Debug, Default)]
struct FaultClock {
    active: u32,
    healed_at: Duration,
    redis_restarts: u64,
}

/// An answer as a client sees it: a status, or none when the answer was
/// lost (the server died, the connection dropped): then the request may or
/// may not have been applied.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: Option<u16>,
    pub body: Value,
    pub replayed: bool,
}

impl Answer {
    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// Worth trying again: 503 or no answer.
    pub fn retryable(&self) -> bool {
        matches!(self.status, None | Some(503))
    }

    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// One request as the history tells it.
pub struct Op {
    pub method: Method,
    pub name: &'static str,
    pub detail: String,
}

pub struct World {
    pub seed: u64,
    pub fleet: Fleet,
    pub history: History,
    pub documented: Documented,
    pub timing: Timing,
    /// When the run started: the plan's times count from here.
    pub started: Instant,
    /// When clients stop.
    pub ends_at: Instant,
    concerts: RwLock<Vec<Option<LiveConcert>>>,
    board: Mutex<Vec<Leak>>,
    pub payments: Mutex<Vec<Told>>,
    pub charges: Mutex<Vec<Told>>,
    pays: Mutex<HashMap<Uuid, PayTrack>>,
    faults: Mutex<FaultClock>,
    violations: Mutex<Vec<Violation>>,
}

impl World {
    /// The world of a run that starts now and lets clients act for `duration`.
    pub fn new(seed: u64, fleet: Fleet, concerts: usize, duration: Duration) -> Self {
        let started = Instant::now();
        Self {
            seed,
            fleet,
            history: History::new(started.into_std()),
            documented: Documented::load(),
            timing: TIMING,
            started,
            ends_at: started + duration,
            concerts: RwLock::new(vec![None; concerts]),
            board: Mutex::new(Vec::new()),
            payments: Mutex::new(Vec::new()),
            charges: Mutex::new(Vec::new()),
            pays: Mutex::new(HashMap::new()),
            faults: Mutex::new(FaultClock::default()),
            violations: Mutex::new(Vec::new()),
        }
    }

    pub fn over(&self) -> bool {
        Instant::now() >= self.ends_at
    }

    /// Sleeps `d`, or until the run is over; whether the run goes on.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::time::sleep_until((Instant::now() + d).min(self.ends_at)).await;
        !self.over()
    }

    /// Sleeps until `at` after the start, or until the run is over; whether
    /// the run goes on.
    pub async fn sleep_until(&self, at: Duration) -> bool {
        tokio::time::sleep_until((self.started + at).min(self.ends_at)).await;
        !self.over()
    }

    pub fn note(&self, who: &str, text: String) {
        self.history.record(who, Kind::Note, text);
    }

    pub fn violate(&self, invariant: Invariant, detail: String, tags: Vec<String>) {
        self.history.record(
            "checker",
            Kind::Note,
            format!("BROKEN {invariant:?}: {detail}"),
        );
        self.violations.lock().unwrap().push(Violation {
            invariant,
            at: self.history.now(),
            detail,
            tags,
        });
    }

    pub fn violations(&self) -> Vec<Violation> {
        self.violations.lock().unwrap().clone()
    }

    // The concerts.

    pub fn set_concert(&self, concert: LiveConcert) {
        let index = concert.index;
        self.concerts.write().unwrap()[index] = Some(concert);
    }

    pub fn concert(&self, index: usize) -> Option<LiveConcert> {
        self.concerts.read().unwrap()[index].clone()
    }

    /// The concert of plan index `index`, once the operator has created it.
    pub async fn wait_for_concert(&self, index: usize) -> Option<LiveConcert> {
        loop {
            if let Some(concert) = self.concert(index) {
                return Some(concert);
            }
            if !self.sleep(Duration::from_millis(100)).await {
                return None;
            }
        }
    }

    pub fn live_concerts(&self) -> Vec<LiveConcert> {
        self.concerts
            .read()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    // What clients let slip.

    pub fn leak(&self, leak: Leak) {
        let mut board = self.board.lock().unwrap();
        match board.iter_mut().find(|l| l.client == leak.client) {
            Some(known) => *known = leak,
            None => board.push(leak),
        }
    }

    /// Another client's leak, chosen by `victim`, if any client has leaked.
    pub fn victim(&self, me: usize, victim: u64, with_reservation: bool) -> Option<Leak> {
        let board = self.board.lock().unwrap();
        let others: Vec<&Leak> = board
            .iter()
            .filter(|l| l.client != me && (!with_reservation || l.reservation.is_some()))
            .collect();
        (!others.is_empty()).then(|| others[victim as usize % others.len()].clone())
    }

    /// The client (`c007`) of a user, if a client has signed it up.
    pub fn who_is(&self, user: &str) -> Option<String> {
        let user: Uuid = user.parse().ok()?;
        let board = self.board.lock().unwrap();
        let leak = board.iter().find(|l| l.user == user)?;
        Some(crate::client::name(leak.client))
    }

    // What clients were told.

    /// Records a 201 a client was told; a second 201 for the same key must be
    /// the first one again.
    pub fn told_payment(&self, told: Told) {
        Self::told(&self.payments, told, self);
    }

    /// Records a 200 of a keyed charge; a second one for its key must be the
    /// first one again.
    pub fn told_charge(&self, told: Told) {
        Self::told(&self.charges, told, self);
    }

    fn told(list: &Mutex<Vec<Told>>, told: Told, world: &World) {
        let mut list = list.lock().unwrap();
        let first = told
            .key
            .as_ref()
            .and_then(|key| list.iter().find(|t| t.key.as_ref() == Some(key)));
        if let Some(first) = first
            && first.body != told.body
        {
            world.violate(
                Invariant::ReplaysSame,
                format!(
                    "key {} answered {} to {} and then {} to {}",
                    told.key.as_deref().unwrap_or_default(),
                    first.body,
                    first.who,
                    told.body,
                    told.who
                ),
                vec![told.who.clone()],
            );
        }
        list.push(told);
    }

    /// The queue token a keyed payment was made with.
    pub fn paid_token(&self, key: &str) -> Option<String> {
        let payments = self.payments.lock().unwrap();
        let told = payments.iter().find(|t| t.key.as_deref() == Some(key))?;
        Some(told.token.clone())
    }

    // Payments in flight.

    pub fn pay_started(&self, reservation: Uuid) {
        self.pays
            .lock()
            .unwrap()
            .entry(reservation)
            .or_default()
            .in_flight += 1;
    }

    pub fn pay_done(&self, reservation: Uuid, decided: bool) {
        let now = self.history.now();
        let mut pays = self.pays.lock().unwrap();
        let track = pays.entry(reservation).or_default();
        track.in_flight -= 1;
        track.last_done = Some(now);
        track.decided |= decided;
    }

    pub fn pay_track(&self, reservation: Uuid) -> PayTrack {
        self.pays
            .lock()
            .unwrap()
            .get(&reservation)
            .cloned()
            .unwrap_or_default()
    }

    // Faults.

    /// A fault begins; `cuts_redis` when it keeps lineup from Redis.
    pub fn fault_began(&self, text: String, cuts_redis: bool) {
        if cuts_redis {
            self.faults.lock().unwrap().active += 1;
        }
        self.history
            .record(NEMESIS, Kind::Note, format!("begin {text}"));
    }

    pub fn fault_healed(&self, text: String, cuts_redis: bool) {
        if cuts_redis {
            let now = self.history.now();
            let mut clock = self.faults.lock().unwrap();
            clock.active -= 1;
            clock.healed_at = now;
        }
        self.history
            .record(NEMESIS, Kind::Note, format!("heal {text}"));
    }

    pub fn redis_restarted(&self) {
        self.faults.lock().unwrap().redis_restarts += 1;
    }

    /// How many times Redis has restarted empty: snapshots of different
    /// counts are not compared.
    pub fn redis_epoch(&self) -> u64 {
        self.faults.lock().unwrap().redis_restarts
    }

    /// Since when every server has reached Redis (`None` while a fault that
    /// keeps one from it lasts).
    pub fn redis_reachable_since(&self) -> Option<Duration> {
        let clock = self.faults.lock().unwrap();
        (clock.active == 0).then_some(clock.healed_at)
    }

    // Requests.

    /// Sends one request on the server a load balancer would pick for
    /// `route` (the next one up, while some are down), recording it and
    /// checking the answer: no 500, every error documented.
    pub async fn call<F, Fut>(&self, who: &str, route: usize, op: Op, send: F) -> Answer
    where
        F: FnOnce(Arc<Server>) -> Fut,
        Fut: Future<Output = reqwest::Result<Response>>,
    {
        let Some((index, server)) = self.any_server(route).await else {
            self.history.record(
                who,
                Kind::Info,
                format!("{} {}: no server up", op.name, op.detail),
            );
            return Answer {
                status: None,
                body: Value::Null,
                replayed: false,
            };
        };
        self.history.record(
            who,
            Kind::Invoke,
            format!("{} {} @s{index}", op.name, op.detail),
        );
        let answer = match send(server).await {
            Ok(response) => self.read(who, &op, response).await,
            Err(e) => Err(format!("{e}")),
        };
        match answer {
            Ok(answer) => answer,
            Err(lost) => {
                self.history
                    .record(who, Kind::Info, format!("{} lost: {lost}", op.name));
                Answer {
                    status: None,
                    body: Value::Null,
                    replayed: false,
                }
            }
        }
    }

    async fn any_server(&self, route: usize) -> Option<(usize, Arc<Server>)> {
        loop {
            if let Some(picked) = self.fleet.pick(route) {
                return Some(picked);
            }
            if !self.sleep(Duration::from_millis(100)).await {
                return None;
            }
        }
    }

    async fn read(&self, who: &str, op: &Op, response: Response) -> Result<Answer, String> {
        let status = response.status().as_u16();
        let path = response.url().path().to_owned();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let text = response.text().await.map_err(|e| e.to_string())?;
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let answer = Answer {
            status: Some(status),
            body,
            replayed,
        };
        let summary = summarize(&answer);
        let kind = if answer.succeeded() {
            Kind::Ok
        } else {
            Kind::Fail
        };
        self.history
            .record(who, kind, format!("{} {status} {summary}", op.name));
        if status >= 500 && status != 503 {
            self.violate(
                Invariant::NoServerError,
                format!(
                    "{} {} {}: {status} {}",
                    op.method, path, op.detail, answer.body
                ),
                vec![who.to_owned()],
            );
        }
        if status >= 400
            && let Some(why) = self
                .documented
                .undocumented(&op.method, &path, status, &answer.body)
        {
            self.violate(Invariant::DocumentedErrors, why, vec![who.to_owned()]);
        }
        Ok(answer)
    }
}

/// The part of an answer a history line shows: the error code, or the ids
/// and states of a success.
fn summarize(answer: &Answer) -> String {
    let body = &answer.body;
    if !answer.succeeded() {
        let extra = ["seat_nos", "reservation_id", "balance", "expected_amount"]
            .iter()
            .filter(|f| !body[**f].is_null())
            .map(|f| format!("{f}={}", body[*f]))
            .collect::<Vec<_>>()
            .join(" ");
        return format!("{} {extra}", answer.code()).trim_end().to_owned();
    }
    let mut parts = Vec::new();
    if answer.replayed {
        parts.push("replayed".to_owned());
    }
    for field in [
        "payment_id",
        "reservation_id",
        "user_id",
        "status",
        "position",
        "active_remaining_seconds",
        "seat_nos",
        "amount",
        "balance",
        "held_until",
    ] {
        let value = &body[field];
        if value.is_null() {
            continue;
        }
        let shown = match value.as_str().and_then(|s| s.parse::<Uuid>().ok()) {
            Some(id) => short(id),
            None => match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        };
        parts.push(format!("{field}={shown}"));
    }
    parts.join(" ")
}
