//! The fairness endpoint's CPU with a million joiners, without the network or
//! PostgreSQL: what every call cost before issue 13 (step 1's sort by each
//! id's text, the shuffle, the whole report as JSON) against what a call costs
//! now (a page of a draw computed once per server, as JSON). Run:
//! `cargo bench --bench fairness` (`LINEUP_BENCH_JOINERS` changes the million;
//! `cargo test --benches` runs each once with 10,000).
//! `loadtest/fairness_endpoint.sh` measures the same over HTTP.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use lineup::domain::ConcertId;
use lineup::fairness::{Draw, FairnessReport, Page, Published, new_seed, shuffle};
use std::hint::black_box;
use std::time::Duration;
use uuid::Uuid;

/// A million, or 10,000 in a debug build (`cargo test --benches`).
fn joiners() -> Vec<Uuid> {
    let default = if cfg!(debug_assertions) {
        10_000
    } else {
        1_000_000
    };
    let n = std::env::var("LINEUP_BENCH_JOINERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    ids.sort_unstable();
    ids
}

fn fairness(c: &mut Criterion) {
    let joiners = joiners();
    let n = joiners.len();
    let seed = new_seed();
    let mut group = c.benchmark_group(format!("fairness/{n} joiners"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));

    group.bench_function("step 1: sort by each id's text (before)", |b| {
        b.iter(|| {
            let mut ids = joiners.clone();
            ids.sort_by_key(|id| id.hyphenated().to_string());
            black_box(ids)
        })
    });
    group.bench_function("step 1: sort as bytes (now)", |b| {
        b.iter(|| {
            let mut ids = joiners.clone();
            ids.sort_unstable();
            black_box(ids)
        })
    });
    group.bench_function("shuffle (now: once per server)", |b| {
        b.iter(|| black_box(shuffle(&seed, &joiners)))
    });

    let published = Published::new(
        ConcertId::new(),
        Utc::now(),
        &seed,
        Draw {
            joiners: joiners.clone(),
            drawn_at: Utc::now(),
        },
    );
    let whole = Page {
        offset: 0,
        limit: n.max(1),
    };
    let whole_json = serde_json::to_vec(&published.page(whole)).unwrap();
    let page_json = serde_json::to_vec(&published.page(Page::default())).unwrap();
    println!(
        "fairness/{n} joiners: the whole report is {} bytes of JSON, the default page {} bytes",
        whole_json.len(),
        page_json.len()
    );
    group.bench_function("the whole report as JSON (before: every call)", |b| {
        b.iter(|| black_box(serde_json::to_vec(&published.page(whole)).unwrap()))
    });
    group.bench_function(
        "the default page as JSON (now: a call without If-None-Match)",
        |b| {
            b.iter(|| {
                let page: FairnessReport = published.page(Page::default());
                black_box(serde_json::to_vec(&page).unwrap())
            })
        },
    );
    group.bench_function("the default page's ETag (now: a call answered 304)", |b| {
        b.iter(|| black_box(published.etag(Page::default())))
    });
    group.finish();
}

criterion_group!(benches, fairness);
criterion_main!(benches);
