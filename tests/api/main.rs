//! Integration tests: each test starts a real lineup server on port 0 over HTTPS,
//! against real Redis (a unique key prefix per test) and real PostgreSQL (a
//! database per test, made by `#[sqlx::test]`), so the suite runs in parallel.

mod helpers;

mod admin;
mod auth;
mod bad_input;
mod catalog;
mod contract;
mod cuttable;
mod dependency_outage;
mod exactly_once;
mod flow;
mod hardening;
mod observability;
mod outage;
mod payments;
mod queue;
mod races;
mod recovery;
mod reservations;
mod token_attacks;
mod wallet;
