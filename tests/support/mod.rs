//! The one test harness of every integration suite (`tests/api` in process,
//! `tests/multi_server.rs`, `tests/faults.rs`, `tests/cli.rs`, ... as
//! processes). Each suite includes it with `mod support;`.
//!
//! - [`TestApp`] runs lineup inside the test; [`Server`] runs the `lineup`
//!   binary, which only [`lineup_command`] starts. Both are built by builders
//!   whose methods are the variants (a config change, a proxy in front of a
//!   dependency, HTTPS, a metrics listener).
//! - [`RequestHelper`] holds the booking steps, written once for both.
//! - [`assert_money_invariants`] is the one money check; [`eventually`] the
//!   one way to wait for a condition; [`ChaosProxy`] the one way to take
//!   PostgreSQL or Redis away, or lose or delay their replies; [`services`]
//!   says where they are; [`CapturedLogs`] what the in-process server and
//!   its pools logged.
//! - [`Fleet`] is several servers behind a load balancer, each behind proxies
//!   a test can fault, killed and started again in their slots.
//! - [`Documented`] is what the OpenAPI document promises each operation answers.
//!
//! Nothing here changes lineup's code or its shared services: a test that
//! breaks a dependency breaks its own proxy or its own redis-server.

// Each suite uses a part of the harness.
#![allow(dead_code, unused_imports)]

mod answers;
mod app;
mod documented;
mod fleet;
mod logs;
mod money;
mod own_redis;
mod process;
mod proxy;
mod requests;
pub mod services;
mod wait;

pub use answers::{assert_error, claims_of, time_of, uuid};
pub use app::{TestApp, TestAppBuilder, spawn_app, test_config};
pub use documented::Documented;
pub use fleet::{Fleet, FleetRedis};
pub use logs::CapturedLogs;
pub use money::{assert_money_invariants, money_violations};
pub use own_redis::{OwnCluster, OwnRedis};
pub use process::{Server, ServerBuilder, lineup_command};
pub use proxy::ChaosProxy;
pub use requests::{RequestHelper, TestConcert, TestUser, concert_body, test_client};
pub use services::{
    REDIS_ADDR, create_database, database_url, database_url_via, drop_database, free_port,
    redis_cluster_nodes, redis_url, unique_prefix,
};
pub use wait::eventually;

/// The key every test server signs tokens with (tests forge tokens with it).
pub const TOKEN_KEY: &str = "test-token-key-0123456789abcdef-0123456789";
/// The Ed25519 key every test server signs queue and admission tokens with
/// (tests forge tokens with it, see [`sign_with_test_key`]).
pub const SIGNING_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/keys/signing.pem"
);
/// A second key, for rotations.
pub const NEXT_SIGNING_KEY_FILE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/keys/next.pem");
/// The `iss` and `aud` of the test servers' tokens (the defaults).
pub const TOKEN_ISSUER: &str = "lineup";

/// Claims signed as a test server signs queue and admission tokens: EdDSA
/// with the test key and its `kid` (the claims bring their own `iss` and `aud`).
pub fn sign_with_test_key(claims: &serde_json::Value) -> String {
    sign_with_key_file(claims, SIGNING_KEY_FILE)
}

/// Claims signed EdDSA with the key of this PEM file, named by its `kid`.
pub fn sign_with_key_file(claims: &serde_json::Value, path: &str) -> String {
    let key = lineup::tokens::keys::SigningKey::from_pem(&std::fs::read_to_string(path).unwrap())
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ed_der(key.pkcs8_der()),
    )
    .unwrap()
}

/// The admin token every test server accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
