//! lineup: a waiting room and seat reservations for concert ticket sales.
//!
//! When a sale opens, tens of thousands of people arrive in one minute. lineup
//! puts them in a fair line (a Redis sorted set), admits them at a rate an
//! operator controls (a token bucket in Redis, so N servers admit at the set
//! rate), holds the seats they choose for five minutes (`SET NX PX`), takes
//! payment from a prepaid balance and writes it to PostgreSQL, where a unique
//! ticket per seat makes a double sale impossible.
//!
//! # Layout
//!
//! - [`config`]: every setting, from CLI flags and `LINEUP_*` variables, checked at boot; one
//!   file per concern (TLS, HTTP limits, abuse limits, Redis, PostgreSQL, tokens, admin tokens,
//!   queue defaults, payments, logs and metrics).
//! - [`admin_cli`]: `lineup admin ...`, operators' commands against a running server's admin
//!   API: its HTTP client, its printed summaries, the concert file.
//! - [`app`]: builds connections, services and the router; runs until shutdown, which one
//!   `CancellationToken` carries to every background task.
//! - [`domain`]: pure types with parsing constructors: ids, money, seat numbers, operators'
//!   texts.
//! - [`error`]: the one error type, and [`error::ErrorCode`], every code a client can read,
//!   declared once with its status; [`http::error`] turns an error into its response.
//! - [`fairness`]: the pre-queue's seed, commitment and shuffle; the published draw, computed
//!   once per server and served by pages; `lineup verify-shuffle`.
//! - [`tokens`]: access and queue tokens (HS256 JWTs).
//! - [`abuse`]: per-address and per-user rate limits, shared through Redis; per-token limits
//!   on status polls and seat maps, counted by each server in memory.
//! - [`queue`]: joining, status, leaving, the admission loop, queue settings; idle
//!   waiters dropped, seat-aware admission, measured estimates, the poll budget, the pre-queue draw.
//! - [`catalog`]: concerts, schedules, seat prices (PostgreSQL, served from memory).
//! - [`reservation`]: seat holds, reservations, seat maps (Redis).
//! - [`wallet`]: users and balances (PostgreSQL).
//! - [`payment`]: hold -> ledger -> ticket -> sold -> token ended.
//! - [`idempotency`]: `Idempotency-Key`: a retried charge or payment moves money once.
//! - [`http`]: axum routers per area, the handlers' state ([`http::AppState`]), auth
//!   extractors; the only module importing axum, and it imports nothing that imports it.
//!   [`http::openapi`] is the OpenAPI 3.1 document generated from the handlers, served at
//!   `/api/openapi.json` with a Swagger UI at `/api/docs/`; `lineup openapi` prints it.
//! - [`store`]: Redis connection (one Redis or a Redis Cluster), Lua script registry, key
//!   names; PostgreSQL pool (every wait bounded) and migrations.
//! - [`tls`]: rustls configuration: PEM files or a self-signed localhost certificate.
//! - [`demo`]: the demo concert of `make run`.
//! - [`telemetry`]: logs, and every Prometheus metric lineup exports.
//!
//! Outside `src/`: `lua/` (one script per atomic Redis operation), `migrations/`
//! (the PostgreSQL schema), `tests/` (integration tests against real Redis and
//! PostgreSQL; `multi_server.rs`, `redis_cluster.rs`, `faults.rs` and
//! `store_tls.rs` run the real binary several times over), `scripts/` (services
//! set-up, a local Redis Cluster, a bench of one Redis primary; `schemathesis.sh`
//! fuzzes the API from its OpenAPI document), `openapi.json` (that document, kept
//! equal to the code's by a test), `web/` (the waiting-room pages, embedded in the
//! binary and served at `/` by `http::web`), `e2e/` (their end-to-end tests in
//! headless Chromium) and `docs/OPERATIONS.md` (running a sale in production).

pub mod abuse;
pub mod admin_cli;
pub mod app;
pub mod catalog;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod fairness;
pub mod http;
pub mod idempotency;
pub mod payment;
pub mod queue;
pub mod reservation;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tokens;
pub mod wallet;
