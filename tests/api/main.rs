//! Integration tests: each test starts a real lineup server on port 0 over HTTPS,
//! against real Redis (a unique key prefix per test) and real PostgreSQL (a
//! database per test, made by `#[sqlx::test]`), so the suite runs in parallel.

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod admin_cli;
mod admission_isolation;
mod bad_input;
mod connections;
mod database_guards;
mod dependency_outage;
mod exactly_once;
mod fairness;
mod fairness_pages;
mod flow;
mod fuzz_findings;
mod gate;
mod hardening;
mod lost_replies;
mod observability;
mod openapi;
mod pages;
mod payment_faults;
mod payments;
mod poll_limits;
mod prequeue_tokens;
mod queue;
mod races;
mod recovery;
mod reservations;
mod retirement;
mod rules;
mod settings_outage;
mod token_attacks;
