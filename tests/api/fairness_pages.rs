//! The published draw as a cacheable, paged resource (issue 13, item 7): once
//! drawn it never changes, so each server computes it once, serves it from
//! memory with an `ETag` (a matching `If-None-Match` is a bodiless 304), and
//! hands a large list out in pages that `lineup verify-shuffle` puts together.

use crate::support::*;
use chrono::{Duration as Span, Utc};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

fn ids_of(value: &Value) -> Vec<Uuid> {
    value.as_array().unwrap().iter().map(uuid).collect()
}

/// Runs `lineup verify-shuffle` with one `--fairness` per page; returns its
/// success, the order it printed and what it said on stderr.
fn verify_pages(pages: &[&Value]) -> (bool, Vec<Uuid>, String) {
    let files: Vec<tempfile::NamedTempFile> = pages
        .iter()
        .map(|page| {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), page.to_string()).unwrap();
            file
        })
        .collect();
    let mut command = lineup_command();
    command.arg("verify-shuffle");
    for file in &files {
        command.arg("--fairness").arg(file.path());
    }
    let output = command.output().expect("lineup runs");
    let order = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split('\t').nth(1).unwrap().parse().unwrap())
        .collect();
    (
        output.status.success(),
        order,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[sqlx::test]
async fn a_drawn_pre_queue_is_served_from_memory_with_an_etag_and_in_pages(db: PgPool) {
    let app = TestApp::builder(db).with_database_proxy().spawn().await;
    let concert = app
        .create_concert_opening_at(Utc::now() + Span::seconds(2), 10)
        .await;
    app.set_queue(concert.id, json!({"paused": true})).await;
    let path = format!("/api/v1/concerts/{}/fairness", concert.id);

    // Before the draw the answer changes every second: no ETag.
    let before = app.get(&path, None).await;
    assert_eq!(before.status(), StatusCode::OK);
    assert!(before.headers().get(ETAG).is_none());
    let before: Value = before.json().await.unwrap();
    assert!(before["joiners_total"].is_null(), "{before}");

    app.line_up(concert.id, 7).await;
    eventually(Duration::from_secs(15), "the draw", || async {
        let report: Value = app.get(&path, None).await.json().await.unwrap();
        (!report["seed"].is_null()).then_some(())
    })
    .await;

    // The default answer of a small draw: the whole lists, as before, plus
    // where they stand in the draw.
    let response = app.get(&path, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(
        response.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age"),
    );
    let whole: Value = response.json().await.unwrap();
    assert_eq!(whole["joiners_total"], 7, "{whole}");
    assert_eq!(whole["offset"], 0);
    assert!(whole["next_offset"].is_null());
    let joiners = ids_of(&whole["joiners"]);
    let order = ids_of(&whole["drawn_order"]);
    assert_eq!(joiners.len(), 7);
    let seed = hex::decode(whole["seed"].as_str().unwrap()).unwrap();
    assert_eq!(order, lineup::fairness::shuffle(&seed, &joiners));

    // Served from memory: PostgreSQL gone, the same answer; a client that has
    // it gets a 304 without a body.
    app.database_proxy().cut();
    let again = app.get(&path, None).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()[ETAG].to_str().unwrap(), etag);
    assert_eq!(again.json::<Value>().await.unwrap(), whole);
    let not_modified = app
        .client()
        .get(app.url(&path))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.headers()[ETAG].to_str().unwrap(), etag);
    assert!(not_modified.bytes().await.unwrap().is_empty());

    // Pages of three: each its own ETag, together the whole.
    let mut pages = Vec::new();
    let mut etags = Vec::new();
    let mut offset = Some(0);
    while let Some(at) = offset {
        let response = app.get(&format!("{path}?offset={at}&limit=3"), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        etags.push(response.headers()[ETAG].to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        assert_eq!(page["offset"], at);
        assert_eq!(page["joiners_total"], 7);
        offset = page["next_offset"].as_u64();
        pages.push(page);
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(
        pages
            .iter()
            .map(|p| p["drawn_order"].as_array().unwrap().len())
            .collect::<Vec<_>>(),
        [3, 3, 1]
    );
    etags.push(etag);
    etags.sort();
    etags.dedup();
    assert_eq!(etags.len(), 4, "one ETag per page");
    let joined =
        |field: &str| -> Vec<Uuid> { pages.iter().flat_map(|p| ids_of(&p[field])).collect() };
    assert_eq!(joined("joiners"), joiners);
    assert_eq!(joined("drawn_order"), order);
    let past_the_end: Value = app
        .get(&format!("{path}?offset=7"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(past_the_end["drawn_order"], json!([]));
    assert!(past_the_end["next_offset"].is_null());
    for bad in ["limit=0", "limit=100001", "offset=-1", "limit=many"] {
        assert_error(
            app.get(&format!("{path}?{bad}"), None).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }

    // Anyone can check the pages, in any order, with the command; a page
    // missing is refused.
    let (ok, printed, stderr) = verify_pages(&[&pages[2], &pages[0], &pages[1]]);
    assert!(ok, "{stderr}");
    assert_eq!(printed, order);
    let (ok, _, stderr) = verify_pages(&[&pages[0], &pages[2]]);
    assert!(!ok && stderr.contains("missing"), "{stderr}");
    let (ok, printed, stderr) = verify_pages(&[&whole]);
    assert!(ok, "{stderr}");
    assert_eq!(printed, order);
}

/// Every concert that opened has a draw, so a server soon knows more drawn
/// concerts than it keeps. Asking for the others in turn (which anyone can,
/// unauthenticated) must not push a large draw out of memory: recomputing it
/// is a read of every joiner from PostgreSQL and a shuffle, the very cost the
/// cache exists to pay once. Small draws cost next to nothing to keep.
#[sqlx::test]
async fn asking_for_many_small_draws_in_turn_does_not_push_a_large_one_out_of_memory(db: PgPool) {
    let app = TestApp::builder(db).with_database_proxy().spawn().await;
    let large = app
        .create_concert_opening_at(Utc::now() + Span::seconds(2), 10)
        .await;
    app.set_queue(large.id, json!({"paused": true})).await;
    app.line_up(large.id, 5).await;
    let mut small = Vec::new();
    for _ in 0..12 {
        small.push(app.create_concert(1, 1).await.id);
    }
    let path = |concert: Uuid| format!("/api/v1/concerts/{concert}/fairness");
    for concert in std::iter::once(large.id).chain(small.iter().copied()) {
        eventually(Duration::from_secs(20), "the draw", || async {
            let report: Value = app.get(&path(concert), None).await.json().await.unwrap();
            (!report["seed"].is_null()).then_some(())
        })
        .await;
    }

    let first: Value = app.get(&path(large.id), None).await.json().await.unwrap();
    assert_eq!(first["joiners_total"], 5, "{first}");
    for &concert in &small {
        assert_eq!(app.get(&path(concert), None).await.status(), StatusCode::OK);
    }
    // From memory still: PostgreSQL is not asked again.
    app.database_proxy().cut();
    let again = app.get(&path(large.id), None).await;
    assert_eq!(again.status(), StatusCode::OK, "the large draw was dropped");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
}

/// Before the opening the fairness answer is the commitment and a countdown,
/// asked for by everyone waiting, unauthenticated: it must cost PostgreSQL
/// nothing each time (the seed never changes, and there is no draw to look
/// for before the opening), or the endpoint is a way to tie up the pool that
/// payments need.
#[sqlx::test]
async fn before_the_opening_the_fairness_answer_asks_postgresql_nothing(db: PgPool) {
    let app = TestApp::builder(db).with_database_proxy().spawn().await;
    let concert = app
        .create_concert_opening_at(Utc::now() + Span::hours(1), 10)
        .await;
    let path = format!("/api/v1/concerts/{}/fairness", concert.id);
    let first: Value = app.get(&path, None).await.json().await.unwrap();
    assert!(first["seed"].is_null(), "{first}");

    app.database_proxy().cut();
    let again = app.get(&path, None).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["commitment"], first["commitment"]);
    assert!(again["seed"].is_null());
}
