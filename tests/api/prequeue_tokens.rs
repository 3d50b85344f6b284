//! The pre-queue's tokens and positions (issue 13, items 6 and 9d): a token
//! taken long before the opening still works through it, a re-join renews it
//! for the same place, and a server that has not loaded a new concert yet
//! reads its pre-queue as the others do.

use crate::support::*;
use chrono::{Duration as Span, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;

/// A claim of a token as a number.
fn claim(token: &str, name: &str) -> u64 {
    let claims = claims_of(token);
    claims[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} of {claims}"))
}

#[sqlx::test]
async fn a_pre_queue_token_lives_through_the_opening_and_a_rejoin_renews_it_for_the_same_place(
    db: PgPool,
) {
    const TTL: u64 = 2;
    let app = TestApp::builder(db)
        .with_config(|c| c.tokens.queue_ttl = Duration::from_secs(TTL))
        .spawn()
        .await;
    // Opens long after the token's TTL: a joiner waits through more than one TTL.
    let opens_at = Utc::now() + Span::seconds(60);
    let concert = app.create_concert_opening_at(opens_at, 10).await;
    let user = app.sign_up().await;
    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let first: Value = response.json().await.unwrap();
    let old = first["token"].as_str().unwrap().to_owned();
    assert!(
        claim(&old, "exp") >= opens_at.timestamp() as u64 + TTL,
        "a pre-queue token ends {TTL} s after the opening at the earliest: {}",
        claims_of(&old)
    );

    // More than the TTL passes (time is this test's input): the token still
    // reads its place, and joining again renews it for the same place.
    tokio::time::sleep(Duration::from_secs(TTL + 1)).await;
    let ticket = app.status(&old).await;
    assert_eq!(ticket["status"], "waiting", "{ticket}");
    assert_eq!(ticket["position"], 0, "{ticket}");
    let response = app.join(&user, concert.id).await;
    assert_eq!(response.status(), StatusCode::OK, "the same place");
    let again: Value = response.json().await.unwrap();
    let renewed = again["token"].as_str().unwrap();
    assert_ne!(renewed, old, "a fresh token");
    assert_eq!(
        claims_of(renewed)["jti"],
        claims_of(&old)["jti"],
        "same place"
    );
    assert!(claim(renewed, "iat") > claim(&old, "iat"));
    assert!(claim(renewed, "exp") >= claim(&old, "exp"));
    assert_eq!(app.status(renewed).await["status"], "waiting");

    // The first token can still leave the line, which ends both.
    assert_eq!(
        app.delete("/api/v1/queue", Some(&old)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.status(renewed).await["status"], "expired");
}

#[sqlx::test]
async fn a_rejoin_after_the_opening_renews_the_token_for_the_same_place(db: PgPool) {
    const TTL: u64 = 2;
    let app = TestApp::builder(db)
        .with_config(|c| c.tokens.queue_ttl = Duration::from_secs(TTL))
        .spawn()
        .await;
    let concert = app.create_concert(1, 10).await;
    app.set_queue(concert.id, serde_json::json!({"paused": true}))
        .await;
    let user = app.sign_up().await;
    let old = app.join_token(&user, concert.id).await;
    // The token's second passes, so the renewed one differs in iat and exp.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let renewed = app.join_token(&user, concert.id).await;
    assert_eq!(claims_of(&renewed)["jti"], claims_of(&old)["jti"]);
    assert!(claim(&renewed, "exp") > claim(&old, "exp"));
    assert_eq!(app.status(&renewed).await["position"], 1);
}

#[sqlx::test]
async fn a_server_that_has_not_loaded_a_new_concert_reads_its_pre_queue_as_the_others_do(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    // Started before the concert exists: its catalog does not have it.
    let other = app.spawn_another().await;
    let concert = app
        .create_concert_opening_at(Utc::now() + Span::seconds(60), 10)
        .await;
    let people = app.line_up(concert.id, 3).await;
    for (_, token) in &people {
        let here = app.status(token).await;
        let there = other.status(token).await;
        for ticket in [&here, &there] {
            assert_eq!(ticket["status"], "waiting", "{ticket}");
            assert_eq!(ticket["position"], 0, "not drawn yet: {ticket}");
            assert!(
                ticket["opens_in_seconds"].as_u64().unwrap() >= 1,
                "{ticket}"
            );
        }
    }
}
