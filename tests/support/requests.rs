//! The steps of a booking as HTTP calls, written once for every kind of test
//! server: a server says where it is and which client reaches it
//! ([`RequestHelper::url`], [`RequestHelper::client`]); everything else (sign
//! up, charge, join, wait for admission, hold, pay, read the seat map, set a
//! line's settings) is a default method here. Steps assert what every test
//! expects of them (a sign-up answers 201); a step whose refusal a test looks
//! at returns the response instead. Each step's request is written once, as a
//! `try_` step that hands back a transport error (a server killed under a
//! client, as the simulation does) instead of panicking; the plain step is
//! that request, reached.
//!
//! This file is the whole booking vocabulary of the suites, kept in one place
//! so the in-process app and the `lineup` processes cannot drift apart; that is
//! why it is longer than most.

use super::{ADMIN_TOKEN, eventually, uuid};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

/// How long a step waits for the line to move (an admission, an expiry).
const STATUS_LIMIT: Duration = Duration::from_secs(20);

/// A user as a test sees them.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub access_token: String,
}

/// A concert made through the admin API.
#[derive(Clone, Debug)]
pub struct TestConcert {
    pub id: Uuid,
    pub schedules: Vec<Uuid>,
}

impl TestConcert {
    /// The concert the body of a 201 to `POST /admin/v1/concerts` describes.
    pub fn from_created(created: &Value) -> Self {
        TestConcert {
            id: uuid(&created["concert_id"]),
            schedules: created["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| uuid(&s["schedule_id"]))
                .collect(),
        }
    }
}

/// The client every test server is reached with: a browser's, but trusting
/// the self-signed certificate a server makes when given none.
pub fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client builds")
}

/// A concert body that opened a minute ago, with `dates` dates a month ahead
/// of `seats` seats each, seat n costing `price_of(n)`.
pub fn concert_body(dates: usize, seats: u32, price_of: impl Fn(u32) -> i64) -> Value {
    let schedules: Vec<Value> = (0..dates)
        .map(|d| {
            json!({
                "starts_at": chrono::Utc::now() + chrono::Duration::days(30 + d as i64),
                "seats": (1..=seats).map(|n| json!({"seat_no": n, "price": price_of(n)})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "title": "Test night",
        "venue": "Test hall",
        "opens_at": chrono::Utc::now() - chrono::Duration::minutes(1),
        "schedules": schedules,
    })
}

/// The response of a request that must reach its server; panics naming the
/// request (reqwest's error carries the URL) when it did not.
fn reached(result: reqwest::Result<Response>) -> Response {
    result.unwrap_or_else(|e| panic!("request failed: {e}"))
}

/// Request plumbing per server, booking steps for all of them.
pub trait RequestHelper {
    /// The absolute URL of `path` on this server.
    fn url(&self, path: &str) -> String;

    /// The client that reaches this server.
    fn client(&self) -> &reqwest::Client;

    /// Any request; `token` goes in `Authorization: Bearer`. Hands back a
    /// transport error (a server that is gone) instead of panicking.
    async fn try_request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Result<Response> {
        self.try_request_keyed(method, path, token, body, None)
            .await
    }

    /// [`try_request`](Self::try_request) with an `Idempotency-Key` header
    /// when `key` is given.
    async fn try_request_keyed(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> reqwest::Result<Response> {
        let mut request = self.client().request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await
    }

    /// Any request; panics when the server cannot be reached.
    async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        reached(self.try_request(method, path, token, body).await)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Creates the concert `body` describes (see [`concert_body`]) as an operator.
    async fn try_create_concert(&self, body: Value) -> reqwest::Result<Response> {
        self.try_request(
            Method::POST,
            "/admin/v1/concerts",
            Some(ADMIN_TOKEN),
            Some(body),
        )
        .await
    }

    /// Creates the concert `body` describes (see [`concert_body`]); asserts 201.
    async fn create_concert_from(&self, body: Value) -> TestConcert {
        let response = reached(self.try_create_concert(body).await);
        assert_eq!(response.status(), StatusCode::CREATED, "create a concert");
        TestConcert::from_created(&response.json().await.unwrap())
    }

    /// A concert that opened a minute ago, with `dates` dates a month ahead of
    /// `seats` seats each, seat n costing `price_of(n)`.
    async fn create_concert_priced(
        &self,
        dates: usize,
        seats: u32,
        price_of: impl Fn(u32) -> i64,
    ) -> TestConcert {
        self.create_concert_from(concert_body(dates, seats, price_of))
            .await
    }

    /// A concert of `dates` dates x `seats` seats at 50,000 won each.
    async fn create_concert(&self, dates: usize, seats: u32) -> TestConcert {
        self.create_concert_priced(dates, seats, |_| 50_000).await
    }

    /// A concert of one date of `seats` seats at 50,000 won whose sale opens
    /// at `opens_at`: joining before it puts people in the pre-queue.
    async fn create_concert_opening_at(
        &self,
        opens_at: chrono::DateTime<chrono::Utc>,
        seats: u32,
    ) -> TestConcert {
        let mut body = concert_body(1, seats, |_| 50_000);
        body["title"] = serde_json::json!("Pre-queue night");
        body["opens_at"] = serde_json::json!(opens_at);
        self.create_concert_from(body).await
    }

    /// `available_seats` of each bookable date of a concert, by schedule id.
    async fn available_by_schedule(&self, concert: Uuid) -> Vec<(Uuid, i64)> {
        let response = self
            .get(&format!("/api/v1/concerts/{concert}/schedules"), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let listed: Value = response.json().await.unwrap();
        listed["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    uuid(&s["schedule_id"]),
                    s["available_seats"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    /// Changes a concert's queue settings as an operator.
    async fn try_set_queue(&self, concert: Uuid, settings: Value) -> reqwest::Result<Response> {
        self.try_request(
            Method::PUT,
            &format!("/admin/v1/concerts/{concert}/queue"),
            Some(ADMIN_TOKEN),
            Some(settings),
        )
        .await
    }

    /// Changes a concert's queue settings; asserts 200.
    async fn set_queue(&self, concert: Uuid, settings: Value) {
        let response = reached(self.try_set_queue(concert, settings).await);
        assert_eq!(response.status(), StatusCode::OK, "set the queue");
    }

    /// A concert's queue settings with its `waiting` and `active` counts.
    async fn queue_settings(&self, concert: Uuid) -> Value {
        let response = self
            .get(
                &format!("/admin/v1/concerts/{concert}/queue"),
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Signs a new user up.
    async fn try_sign_up(&self) -> reqwest::Result<Response> {
        self.try_request(Method::POST, "/api/v1/users", None, None)
            .await
    }

    /// A new user; asserts 201.
    async fn sign_up(&self) -> TestUser {
        let response = reached(self.try_sign_up().await);
        assert_eq!(response.status(), StatusCode::CREATED, "sign up");
        let body: Value = response.json().await.unwrap();
        TestUser {
            id: uuid(&body["user_id"]),
            access_token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Charges the balance of user `user_id` with `access_token` (anyone's:
    /// a test may try another's), under an idempotency key if given.
    async fn try_charge(
        &self,
        user_id: Uuid,
        access_token: &str,
        amount: Value,
        key: Option<&str>,
    ) -> reqwest::Result<Response> {
        self.try_request_keyed(
            Method::POST,
            &format!("/api/v1/users/{user_id}/balance/charge"),
            Some(access_token),
            Some(json!({ "amount": amount })),
            key,
        )
        .await
    }

    /// Charges a user's balance; returns the response (200 with the balance).
    async fn charge(&self, user: &TestUser, amount: i64) -> Response {
        reached(
            self.try_charge(user.id, &user.access_token, json!(amount), None)
                .await,
        )
    }

    /// A user's balance; asserts 200.
    async fn balance(&self, user: &TestUser) -> i64 {
        let response = self
            .get(
                &format!("/api/v1/users/{}/balance", user.id),
                Some(&user.access_token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["balance"]
            .as_i64()
            .unwrap()
    }

    /// Joins the line with `access_token`.
    async fn try_join(&self, access_token: &str, concert: Uuid) -> reqwest::Result<Response> {
        self.try_request(
            Method::POST,
            &format!("/api/v1/concerts/{concert}/queue"),
            Some(access_token),
            None,
        )
        .await
    }

    /// Joins the line; returns the response (201 or 200 with a QueueTicket).
    async fn join(&self, user: &TestUser, concert: Uuid) -> Response {
        reached(self.try_join(&user.access_token, concert).await)
    }

    /// Joins the line; returns the QueueTicket (asserts 201 or 200).
    async fn join_ticket(&self, user: &TestUser, concert: Uuid) -> Value {
        let response = self.join(user, concert).await;
        assert!(
            response.status().is_success(),
            "join: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Joins the line; returns the queue token.
    async fn join_token(&self, user: &TestUser, concert: Uuid) -> String {
        self.join_ticket(user, concert).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Signs up `n` people and joins them one after another (arrival order =
    /// index order), each as a newcomer (asserts 201); returns them with their
    /// queue tokens.
    async fn line_up(&self, concert: Uuid, n: usize) -> Vec<(TestUser, String)> {
        let mut people = Vec::new();
        for _ in 0..n {
            let user = self.sign_up().await;
            let response = self.join(&user, concert).await;
            assert_eq!(response.status(), StatusCode::CREATED, "a new place");
            let ticket: Value = response.json().await.unwrap();
            people.push((user, ticket["token"].as_str().unwrap().to_owned()));
        }
        people
    }

    /// Asks where a queue token stands.
    async fn try_status(&self, queue_token: &str) -> reqwest::Result<Response> {
        self.try_request(Method::GET, "/api/v1/queue/status", Some(queue_token), None)
            .await
    }

    /// Leaves the line (or gives up the admission) with a queue token.
    async fn try_leave(&self, queue_token: &str) -> reqwest::Result<Response> {
        self.try_request(Method::DELETE, "/api/v1/queue", Some(queue_token), None)
            .await
    }

    /// The QueueTicket a queue token reads now; asserts 200.
    async fn status(&self, queue_token: &str) -> Value {
        let response = reached(self.try_status(queue_token).await);
        assert_eq!(response.status(), StatusCode::OK, "queue status");
        response.json().await.unwrap()
    }

    /// Polls until the ticket reads `want` (waiting, active, expired,
    /// sold_out); returns it.
    async fn wait_for_status(&self, queue_token: &str, want: &str) -> Value {
        eventually(STATUS_LIMIT, &format!("status {want}"), || async {
            let ticket = self.status(queue_token).await;
            (ticket["status"] == want).then_some(ticket)
        })
        .await
    }

    /// A new user, charged `balance`, admitted to `concert`: the user and
    /// their queue token.
    async fn admitted_user(&self, concert: Uuid, balance: i64) -> (TestUser, String) {
        let user = self.sign_up().await;
        if balance > 0 {
            assert_eq!(
                self.charge(&user, balance).await.status(),
                StatusCode::OK,
                "charge"
            );
        }
        let token = self.join_token(&user, concert).await;
        self.wait_for_status(&token, "active").await;
        (user, token)
    }

    /// Asks for the admission token (and cookie) of an admitted queue token.
    async fn admission(&self, queue_token: &str, return_to: Option<&str>) -> Response {
        let body = match return_to {
            Some(url) => json!({ "return_to": url }),
            None => json!({}),
        };
        self.post("/api/v1/queue/admission", Some(queue_token), body)
            .await
    }

    /// An admitted queue token's admission token.
    async fn admission_token(&self, queue_token: &str) -> String {
        let response = self.admission(queue_token, None).await;
        assert_eq!(response.status(), StatusCode::OK, "admission");
        let body: Value = response.json().await.unwrap();
        body["admission_token"].as_str().unwrap().to_owned()
    }

    /// Asks the gate as a reverse proxy would, with the admission `token` in
    /// the default admission cookie (or no cookie).
    async fn gate(&self, concert: Uuid, token: Option<&str>) -> Response {
        let mut request = self
            .client()
            .get(self.url(&format!("/api/v1/gate/{concert}")));
        if let Some(token) = token {
            request = request.header("cookie", format!("other=1; lineup_admission={token}"));
        }
        reached(request.send().await)
    }

    /// Holds seats (any numbers, to try bad ones too).
    async fn try_hold(
        &self,
        queue_token: &str,
        schedule: Uuid,
        seats: &[i64],
    ) -> reqwest::Result<Response> {
        self.try_request(
            Method::POST,
            "/api/v1/reservations",
            Some(queue_token),
            Some(json!({ "schedule_id": schedule, "seat_nos": seats })),
        )
        .await
    }

    /// Holds seats; returns the response (201 with a Reservation).
    async fn hold(&self, queue_token: &str, schedule: Uuid, seats: &[i64]) -> Response {
        reached(self.try_hold(queue_token, schedule, seats).await)
    }

    /// Reads a reservation.
    async fn try_reservation(
        &self,
        queue_token: &str,
        reservation: Uuid,
    ) -> reqwest::Result<Response> {
        self.try_request(
            Method::GET,
            &format!("/api/v1/reservations/{reservation}"),
            Some(queue_token),
            None,
        )
        .await
    }

    /// Releases a reservation.
    async fn try_release(&self, queue_token: &str, reservation: Uuid) -> reqwest::Result<Response> {
        self.try_request(
            Method::DELETE,
            &format!("/api/v1/reservations/{reservation}"),
            Some(queue_token),
            None,
        )
        .await
    }

    /// Holds seats; returns the Reservation (asserts 201).
    async fn hold_ok(&self, queue_token: &str, schedule: Uuid, seats: &[i64]) -> Value {
        let response = self.hold(queue_token, schedule, seats).await;
        assert_eq!(response.status(), StatusCode::CREATED, "hold {seats:?}");
        response.json().await.unwrap()
    }

    /// Pays a reservation `amount` (any JSON, to try bad ones too), under an
    /// idempotency key if given.
    async fn try_pay(
        &self,
        queue_token: &str,
        reservation: Uuid,
        amount: Value,
        key: Option<&str>,
    ) -> reqwest::Result<Response> {
        self.try_request_keyed(
            Method::POST,
            "/api/v1/payments",
            Some(queue_token),
            Some(json!({ "reservation_id": reservation, "amount": amount })),
            key,
        )
        .await
    }

    /// Pays a reservation; returns the response (201 with a Payment).
    async fn pay(&self, queue_token: &str, reservation: Uuid, amount: i64) -> Response {
        reached(
            self.try_pay(queue_token, reservation, json!(amount), None)
                .await,
        )
    }

    /// A user's payments, newest first; asserts 200.
    async fn payment_history(&self, user: &TestUser) -> Vec<Value> {
        let response = self
            .get(
                &format!("/api/v1/users/{}/payments", user.id),
                Some(&user.access_token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "payment history");
        let body: Value = response.json().await.unwrap();
        body["payments"].as_array().unwrap().clone()
    }

    /// A new user admitted with money enough buys `seats` of `schedule`;
    /// returns the Payment (asserts every step).
    async fn buy(&self, concert: Uuid, schedule: Uuid, seats: &[i64]) -> Value {
        let (_, token) = self.admitted_user(concert, 1_000_000).await;
        let held = self.hold_ok(&token, schedule, seats).await;
        let response = self
            .pay(
                &token,
                uuid(&held["reservation_id"]),
                held["amount"].as_i64().unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "pay");
        response.json().await.unwrap()
    }

    /// Reads the seat map of a schedule; `filter` is the `?status=` query, if any.
    async fn try_seat_map(
        &self,
        queue_token: &str,
        schedule: Uuid,
        filter: Option<&str>,
    ) -> reqwest::Result<Response> {
        let query = filter.map_or(String::new(), |f| format!("?status={f}"));
        self.try_request(
            Method::GET,
            &format!("/api/v1/schedules/{schedule}/seats{query}"),
            Some(queue_token),
            None,
        )
        .await
    }

    /// The seat map of a schedule as `(seat_no, price, status)` in the order
    /// served; `filter` is the `?status=` query, if any. Asserts 200.
    async fn seat_states(
        &self,
        queue_token: &str,
        schedule: Uuid,
        filter: Option<&str>,
    ) -> Vec<(i64, i64, String)> {
        let response = reached(self.try_seat_map(queue_token, schedule, filter).await);
        assert_eq!(response.status(), StatusCode::OK, "seat map");
        let map: Value = response.json().await.unwrap();
        assert_eq!(map["schedule_id"], json!(schedule));
        map["seats"]
            .as_array()
            .expect("seats is a list")
            .iter()
            .map(|s| {
                (
                    s["seat_no"].as_i64().unwrap(),
                    s["price"].as_i64().unwrap(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The seat numbers of a schedule in one state (`available`, `held`,
    /// `sold`), read from the unfiltered seat map.
    async fn seats_in_state(&self, queue_token: &str, schedule: Uuid, state: &str) -> Vec<i64> {
        self.seat_states(queue_token, schedule, None)
            .await
            .into_iter()
            .filter(|(_, _, s)| s == state)
            .map(|(n, _, _)| n)
            .collect()
    }
}
