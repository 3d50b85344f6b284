//! One virtual client: signs up, then carries out its planned steps against
//! the fleet through [`World::call`], as a person with a browser would (it
//! retries what may not have arrived, learns a reservation it lost the answer
//! to from the `reservation_exists` refusal, joins again when its place is
//! gone). It checks what only it can see: that its position never grows, that
//! its hostile requests are refused, that every 201 it is told for one key is
//! the same. It never looks behind the API.
//!
//! Routing to servers and the jitter of its waits come from a generator of
//! its own, seeded from the run's seed and its id; how many requests a step
//! takes depends on the answers, so neither is part of the plan.
//!
//! One file (its hostile requests apart, in `hostile`): every step reads and
//! changes the same few facts (its place, its reservation, its keys), and
//! reads best next to them.

mod hostile;

use crate::history::short;
use crate::invariant::Invariant;
use crate::plan::{ClientPlan, Step};
use crate::support::{RequestHelper, Server, TestUser, uuid};
use crate::world::{Answer, Leak, LiveConcert, Op, Told, World};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A place in line: its token, the last position it read while waiting,
/// whether a position that grew was reported (once a place is enough).
struct Place {
    token: String,
    last_position: Option<u64>,
    reported: bool,
}

/// A reservation the client holds.
#[derive(Clone, Debug)]
struct Held {
    id: Uuid,
    schedule: Uuid,
    seats: Vec<i64>,
    amount: i64,
    until: DateTime<Utc>,
}

impl Held {
    fn from_body(body: &Value) -> Option<Held> {
        Some(Held {
            id: body["reservation_id"].as_str()?.parse().ok()?,
            schedule: body["schedule_id"].as_str()?.parse().ok()?,
            seats: body["seat_nos"]
                .as_array()?
                .iter()
                .filter_map(Value::as_i64)
                .collect(),
            amount: body["amount"].as_i64()?,
            until: body["held_until"].as_str()?.parse().ok()?,
        })
    }
}

/// The last keyed request, for [`Attack::ReuseKey`].
#[derive(Clone)]
enum Keyed {
    Charge {
        key: String,
        amount: i64,
    },
    Pay {
        key: String,
        reservation: Uuid,
        amount: i64,
    },
}

pub struct Client {
    id: usize,
    who: String,
    world: Arc<World>,
    concert: LiveConcert,
    user: TestUser,
    rng: StdRng,
    place: Option<Place>,
    held: Option<Held>,
    keys: u32,
    /// The last keyed request that succeeded.
    last_keyed: Option<Keyed>,
    /// The balance as the last answer that told it said (a payment a
    /// reservation's price over it ends 402).
    balance: i64,
}

pub fn name(id: usize) -> String {
    format!("c{id:03}")
}

/// How long to wait before try `attempt` (0-based) of a request that may not
/// have arrived.
fn backoff(attempt: u8) -> Duration {
    Duration::from_millis(200 << attempt.min(4))
}

/// Plays one client's plan to its end or the run's.
pub async fn run(plan: ClientPlan, world: Arc<World>) {
    if !world.sleep_until(plan.starts_at).await {
        return;
    }
    let who = name(plan.id);
    let Some(concert) = world.wait_for_concert(plan.concert).await else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(world.seed ^ (plan.id as u64).wrapping_mul(0x9e37_79b9));
    let Some(user) = sign_up(&world, &who, &mut rng).await else {
        return;
    };
    world.note(
        &who,
        format!(
            "is {:?} user={} wants concert={}",
            plan.persona,
            short(user.id),
            short(concert.id)
        ),
    );
    let mut client = Client {
        id: plan.id,
        who,
        world,
        concert,
        user,
        rng,
        place: None,
        held: None,
        keys: 0,
        last_keyed: None,
        balance: 0,
    };
    client.leak();
    for step in plan.steps {
        if client.world.over() {
            return;
        }
        if step == Step::Vanish {
            client
                .world
                .note(&client.who, "vanishes without a word".into());
            return;
        }
        client.step(step).await;
    }
}

async fn sign_up(world: &World, who: &str, rng: &mut StdRng) -> Option<TestUser> {
    for attempt in 0..8 {
        let op = Op {
            method: Method::POST,
            name: "sign-up",
            detail: String::new(),
        };
        let answer = world
            .call(who, rng.random::<u32>() as usize, op, |server| async move {
                server.try_sign_up().await
            })
            .await;
        if answer.is(201) {
            return Some(TestUser {
                id: uuid(&answer.body["user_id"]),
                access_token: answer.body["access_token"].as_str()?.to_owned(),
            });
        }
        if !answer.retryable() || !world.sleep(backoff(attempt)).await {
            return None;
        }
    }
    None
}

impl Client {
    async fn call<F, Fut>(
        &mut self,
        method: Method,
        name: &'static str,
        detail: String,
        send: F,
    ) -> Answer
    where
        F: FnOnce(Arc<Server>) -> Fut,
        Fut: Future<Output = reqwest::Result<reqwest::Response>>,
    {
        let route = self.rng.random::<u32>() as usize;
        let op = Op {
            method,
            name,
            detail,
        };
        self.world.call(&self.who, route, op, send).await
    }

    fn token(&self) -> Option<String> {
        self.place.as_ref().map(|p| p.token.clone())
    }

    fn new_key(&mut self) -> String {
        self.keys += 1;
        format!("s{}-{}-{}", self.world.seed, self.who, self.keys)
    }

    fn leak(&self) {
        self.world.leak(Leak {
            client: self.id,
            user: self.user.id,
            reservation: self.held.as_ref().map(|h| (self.concert.index, h.id)),
        });
    }

    async fn step(&mut self, step: Step) {
        match step {
            Step::Charge { amount, attempts } => self.charge(amount, attempts).await,
            Step::Join => self.join().await,
            Step::AwaitAdmission { hammer, patience } => {
                self.await_admission(hammer, patience).await
            }
            Step::Hold { date, seats, pick } => self.hold(date, seats, pick).await,
            Step::Release => self.release().await,
            Step::Pay {
                amount_off,
                keyed,
                attempts,
                twice,
            } => self.pay(amount_off, keyed, attempts, twice).await,
            Step::Spin { rounds } => self.spin(rounds).await,
            Step::OutwaitHold => self.outwait_hold().await,
            Step::Leave => self.leave().await,
            Step::Think(pause) => {
                self.world.sleep(pause).await;
            }
            Step::Vanish => {}
            Step::Attack(attack) => self.attack(attack).await,
        }
    }

    async fn charge(&mut self, amount: i64, attempts: u8) {
        let key = self.new_key();
        for attempt in 0..attempts {
            let (user, k) = (self.user.clone(), key.clone());
            let answer = self
                .call(
                    Method::POST,
                    "charge",
                    format!("amount={amount} key={key}"),
                    |s| async move {
                        s.try_charge(user.id, &user.access_token, json!(amount), Some(&k))
                            .await
                    },
                )
                .await;
            if answer.is(200) {
                self.balance = answer.body["balance"].as_i64().unwrap_or(self.balance);
                self.world.told_charge(Told {
                    who: self.who.clone(),
                    key: Some(key.clone()),
                    token: self.user.access_token.clone(),
                    request: json!({ "user_id": self.user.id, "amount": amount }),
                    body: answer.body,
                });
                self.last_keyed = Some(Keyed::Charge { key, amount });
                return;
            }
            if !answer.retryable() || !self.world.sleep(backoff(attempt)).await {
                return;
            }
        }
    }

    async fn join(&mut self) {
        for attempt in 0..3 {
            let (token, concert) = (self.user.access_token.clone(), self.concert.id);
            let answer = self
                .call(
                    Method::POST,
                    "join",
                    format!("concert={}", short(concert)),
                    |s| async move { s.try_join(&token, concert).await },
                )
                .await;
            if answer.is(200) || answer.is(201) {
                let token = answer.body["token"].as_str().unwrap_or_default().to_owned();
                if self.token().as_deref() != Some(token.as_str()) {
                    self.place = Some(Place {
                        token,
                        last_position: None,
                        reported: false,
                    });
                }
                self.observe(&answer.body);
                return;
            }
            if !answer.retryable() || !self.world.sleep(backoff(attempt)).await {
                return;
            }
        }
    }

    /// Reads a ticket: checks the position of a waiting place, forgets a
    /// place that has expired.
    fn observe(&mut self, ticket: &Value) {
        let Some(place) = self.place.as_mut() else {
            return;
        };
        match ticket["status"].as_str() {
            Some("waiting" | "sold_out") => {
                let position = ticket["position"].as_u64().unwrap_or(0);
                let grew = match place.last_position {
                    Some(last) if position == 0 => Some(format!(
                        "went back to 0 (an undrawn pre-queue) after {last}"
                    )),
                    Some(last) if position > last => {
                        Some(format!("grew from {last} to {position}"))
                    }
                    _ => None,
                };
                if position > 0 {
                    place.last_position = Some(position);
                }
                if let Some(grew) = grew
                    && !std::mem::replace(&mut place.reported, true)
                {
                    self.world.violate(
                        Invariant::PositionNeverGrows,
                        format!(
                            "{} (user {}) in line for concert {}: its position {grew}",
                            self.who,
                            short(self.user.id),
                            short(self.concert.id)
                        ),
                        vec![self.who.clone()],
                    );
                }
            }
            Some("expired") => self.place = None,
            _ => {}
        }
    }

    async fn await_admission(&mut self, hammer: bool, patience: Duration) {
        let give_up = tokio::time::Instant::now() + patience;
        let mut rejoins = 0;
        while tokio::time::Instant::now() < give_up && !self.world.over() {
            let Some(token) = self.token() else {
                // The place is gone (Redis lost it, or the line dropped an
                // idle waiter): join again, as the page would offer.
                if rejoins == 2 {
                    return;
                }
                rejoins += 1;
                self.join().await;
                if self.place.is_none() {
                    return;
                }
                continue;
            };
            let answer = self
                .call(Method::GET, "status", String::new(), |s| async move {
                    s.try_status(&token).await
                })
                .await;
            let mut pause = Duration::from_millis(300);
            if answer.is(200) {
                self.observe(&answer.body);
                match answer.body["status"].as_str() {
                    Some("active") => return,
                    Some("expired") => continue,
                    _ => {}
                }
                let asked = answer.body["poll_after_ms"].as_u64().unwrap_or(1000);
                pause = if hammer {
                    Duration::from_millis(self.rng.random_range(20..80))
                } else {
                    let loosely = asked as f64 * self.rng.random_range(0.5..1.2);
                    Duration::from_millis((loosely as u64).min(2500))
                };
            }
            if !self.world.sleep(pause).await {
                return;
            }
        }
    }

    async fn hold(&mut self, date: usize, seats: usize, pick: u64) {
        let Some(token) = self.token() else {
            return;
        };
        let schedule = self.concert.schedules[date % self.concert.schedules.len()];
        let map_token = token.clone();
        let answer = self
            .call(
                Method::GET,
                "seats",
                format!("date={}", short(schedule)),
                |s| async move {
                    s.try_seat_map(&map_token, schedule, Some("available"))
                        .await
                },
            )
            .await;
        let available: Vec<i64> = answer.body["seats"]
            .as_array()
            .map(|seats| seats.iter().filter_map(|s| s["seat_no"].as_i64()).collect())
            .unwrap_or_default();
        let chosen = choose_seats(&available, self.concert.seats, seats, pick);
        self.hold_seats(schedule, chosen).await;
    }

    /// Holds `seats`, trying again while the answer may not have arrived;
    /// whether the client now holds a reservation.
    async fn hold_seats(&mut self, schedule: Uuid, seats: Vec<i64>) -> bool {
        let Some(token) = self.token() else {
            return false;
        };
        for attempt in 0..3 {
            let (t, s) = (token.clone(), seats.clone());
            let answer = self
                .call(
                    Method::POST,
                    "hold",
                    format!("date={} seats={seats:?}", short(schedule)),
                    |server| async move { server.try_hold(&t, schedule, &s).await },
                )
                .await;
            if answer.is(201) {
                self.held = Held::from_body(&answer.body);
                self.leak();
                return self.held.is_some();
            }
            if answer.code() == "reservation_exists" {
                // An earlier hold whose answer was lost, or one it forgot.
                if let Some(id) = answer.body["reservation_id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                {
                    self.adopt(id).await;
                }
                return self.held.is_some();
            }
            if !answer.retryable() || !self.world.sleep(backoff(attempt)).await {
                return false;
            }
        }
        false
    }

    /// Learns a reservation of its own it did not know it had.
    async fn adopt(&mut self, id: Uuid) {
        let Some(token) = self.token() else {
            return;
        };
        let answer = self
            .call(
                Method::GET,
                "reservation",
                format!("res={}", short(id)),
                |s| async move { s.try_reservation(&token, id).await },
            )
            .await;
        if answer.is(200) {
            self.held = Held::from_body(&answer.body);
            self.leak();
            self.world.note(
                &self.who,
                format!("adopts res={} it did not know of", short(id)),
            );
        }
    }

    async fn release(&mut self) {
        let (Some(token), Some(held)) = (self.token(), self.held.clone()) else {
            return;
        };
        for attempt in 0..3 {
            let t = token.clone();
            let answer = self
                .call(
                    Method::DELETE,
                    "release",
                    format!("res={}", short(held.id)),
                    |s| async move { s.try_release(&t, held.id).await },
                )
                .await;
            if answer.is(204) || answer.is(404) {
                self.held = None;
                self.leak();
                return;
            }
            if !answer.retryable() || !self.world.sleep(backoff(attempt)).await {
                return;
            }
        }
    }

    async fn pay(&mut self, amount_off: i64, keyed: bool, attempts: u8, twice: bool) {
        let (Some(token), Some(held)) = (self.token(), self.held.clone()) else {
            return;
        };
        let amount = held.amount - amount_off;
        let key = keyed.then(|| self.new_key());
        for attempt in 0..attempts {
            let copies = if twice && attempt == 0 { 2 } else { 1 };
            let routes: Vec<usize> = (0..copies)
                .map(|_| self.rng.random::<u32>() as usize)
                .collect();
            let answers = futures::future::join_all(
                routes
                    .into_iter()
                    .map(|route| self.pay_once(route, &token, &held, amount, key.as_deref())),
            )
            .await;
            let mut again = false;
            for answer in answers {
                if let Some(balance) = answer.body["balance"].as_i64() {
                    self.balance = balance;
                }
                match (answer.status, answer.code()) {
                    (Some(201), _) => {
                        self.world.told_payment(Told {
                            who: self.who.clone(),
                            key: key.clone(),
                            token: token.clone(),
                            request: json!({ "reservation_id": held.id, "amount": amount }),
                            body: answer.body.clone(),
                        });
                        if let Some(key) = &key {
                            self.last_keyed = Some(Keyed::Pay {
                                key: key.clone(),
                                reservation: held.id,
                                amount,
                            });
                        }
                        self.held = None;
                        self.place = None;
                    }
                    // Paid for or not, the reservation and the token are over.
                    (Some(402), _) => {
                        self.held = None;
                        self.place = None;
                    }
                    (Some(404), _) | (Some(409), "seat_unavailable") => self.held = None,
                    (Some(409), "payment_in_progress") => again = true,
                    _ if answer.retryable() => again = true,
                    _ => {}
                }
            }
            self.leak();
            if self.held.is_none() || !again || !self.world.sleep(backoff(attempt)).await {
                return;
            }
        }
    }

    /// One payment request, counted in flight while it lasts.
    async fn pay_once(
        &self,
        route: usize,
        token: &str,
        held: &Held,
        amount: i64,
        key: Option<&str>,
    ) -> Answer {
        let op = Op {
            method: Method::POST,
            name: "pay",
            detail: format!(
                "res={} amount={amount} key={} balance={}",
                short(held.id),
                key.unwrap_or("-"),
                self.balance
            ),
        };
        let (token, key, id) = (token.to_owned(), key.map(str::to_owned), held.id);
        self.world.pay_started(id);
        let answer = self
            .world
            .call(&self.who, route, op, |s| async move {
                s.try_pay(&token, id, json!(amount), key.as_deref()).await
            })
            .await;
        let decided = answer.is(201) || answer.is(402) || answer.code() == "seat_unavailable";
        self.world.pay_done(id, decided);
        answer
    }

    /// Keeps seats (and, with them, an admission) by releasing and holding
    /// them again just before each hold ends.
    async fn spin(&mut self, rounds: u8) {
        for _ in 0..rounds {
            let Some(held) = self.held.clone() else {
                return;
            };
            let margin = chrono::Duration::milliseconds(self.rng.random_range(400..900));
            let wait = (held.until - margin - Utc::now())
                .to_std()
                .unwrap_or_default();
            if !self.world.sleep(wait).await {
                return;
            }
            self.release().await;
            if self.held.is_some() || !self.hold_seats(held.schedule, held.seats.clone()).await {
                return;
            }
        }
    }

    async fn outwait_hold(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        self.world
            .note(&self.who, format!("lets res={} run out", short(held.id)));
        let wait = (held.until - Utc::now()).to_std().unwrap_or_default();
        self.world.sleep(wait + Duration::from_millis(500)).await;
        self.leak();
    }

    async fn leave(&mut self) {
        let Some(token) = self.token() else {
            return;
        };
        for attempt in 0..3 {
            let t = token.clone();
            let answer = self
                .call(Method::DELETE, "leave", String::new(), |s| async move {
                    s.try_leave(&t).await
                })
                .await;
            if answer.is(204) || answer.code() == "token_expired" {
                self.place = None;
                self.held = None;
                self.leak();
                return;
            }
            if !answer.retryable() || !self.world.sleep(backoff(attempt)).await {
                return;
            }
        }
    }
}

/// `pick` chooses `count` neighbouring seats among those shown available;
/// when too few are, seats that are taken (the hold will be refused).
fn choose_seats(available: &[i64], total: u32, count: usize, pick: u64) -> Vec<i64> {
    if available.len() >= count {
        let start = pick as usize % (available.len() - count + 1);
        return available[start..start + count].to_vec();
    }
    let total = i64::from(total.max(1));
    let first = (pick % total as u64) as i64;
    (0..count as i64).map(|i| (first + i) % total + 1).collect()
}
