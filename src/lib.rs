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
//! - [`config`]: every setting, from CLI flags and `LINEUP_*` variables, checked at boot.
//! - [`app`]: builds connections, services and the router; runs until shutdown.
//! - [`domain`]: pure types with parsing constructors: ids, money, seat numbers.
//! - [`error`]: the one error type; [`http::error`] maps it to status codes.
//! - [`fairness`]: the pre-queue's seed, commitment and shuffle, and `lineup verify-shuffle`.
//! - [`tokens`]: access and queue tokens (HS256 JWTs).
//! - [`abuse`]: per-address and per-user rate limits, shared through Redis.
//! - [`queue`]: joining, status, leaving, the admission loop, queue settings; idle
//!   waiters dropped, seat-aware admission, measured estimates, the poll budget, the pre-queue draw.
//! - [`catalog`]: concerts, schedules, seat prices (PostgreSQL, served from memory).
//! - [`reservation`]: seat holds, reservations, seat maps (Redis).
//! - [`wallet`]: users and balances (PostgreSQL).
//! - [`payment`]: hold -> ledger -> ticket -> sold -> token expired.
//! - [`idempotency`]: `Idempotency-Key`: a retried charge or payment moves money once.
//! - [`http`]: axum routers per area, auth extractors; the only module importing axum.
//! - [`store`]: Redis connection, Lua script registry, key names; PostgreSQL pool and migrations.
//! - [`tls`]: rustls configuration: PEM files or a self-signed localhost certificate.
//! - [`demo`]: the demo concert of `make run`.
//! - [`telemetry`]: logs, and every Prometheus metric lineup exports.
//!
//! Outside `src/`: `lua/` (one script per atomic Redis operation), `migrations/`
//! (the PostgreSQL schema), `tests/` (integration tests against real Redis and
//! PostgreSQL), `scripts/` (services set-up).

pub mod abuse;
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
