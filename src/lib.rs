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
//! `docs/ARCHITECTURE.md`, in the repository, is the one map of the tree:
//! the modules and the rules between them, the Redis key scheme, each Lua script's
//! contract, and the walk of a status poll and of a payment through the code. In short: [`http`]
//! is the only module that imports axum and builds no key and no SQL; the services ([`queue`],
//! [`reservation`], [`payment`], [`wallet`], [`catalog`], [`fairness`], [`abuse`],
//! [`idempotency`], [`tokens`], [`gate`]) return [`error::Error`]; [`store`] owns the connections, the key
//! names and one typed wrapper per Lua script; [`config`] reads every setting; [`app`] builds it
//! all and runs it until shutdown.

pub mod abuse;
pub mod admin_cli;
pub mod app;
pub mod catalog;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod fairness;
pub mod gate;
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
