//! One concert's trouble stays its own: a concert whose admit tick fails
//! stops no other concert's admission on the same server.

use crate::support::*;
use chrono::{Duration as Days, Utc};
use lineup::domain::ConcertId;
use redis::AsyncCommands;
use sqlx::PgPool;
use std::time::Duration;

/// The value of `lineup_queue_admit_tick_failures_total` for a concert on the
/// metrics listener, 0 while it has no series.
async fn tick_failures(app: &TestApp, concert: uuid::Uuid) -> u64 {
    let url = format!(
        "http://{}/metrics",
        app.metrics_addr.expect("a metrics listener")
    );
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let series = format!("lineup_queue_admit_tick_failures_total{{concert=\"{concert}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[sqlx::test]
async fn a_concert_whose_tick_fails_stops_no_other_concert(db: PgPool) {
    let app = spawn_app(db).await;
    // The broken concert opened first, so a loop over the concerts in order
    // of opening meets it before the healthy one.
    let broken = app
        .create_concert_opening_at(Utc::now() - Days::hours(1), 10)
        .await
        .id;
    let healthy = app.create_concert(1, 50).await.id;
    app.set_queue(healthy, serde_json::json!({ "admit_per_second": 20 }))
        .await;

    // The broken concert's line is a string: every admit script on it fails
    // with WRONGTYPE, as on a shard that answers nonsense.
    let wait = app.redis.keys.concert(ConcertId::from_uuid(broken)).wait();
    let _: () = app.redis_conn().set(&wait, "not a line").await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the broken concert's ticks fail",
        || async { (tick_failures(&app, broken).await > 0).then_some(()) },
    )
    .await;

    // The healthy concert admits everyone in line, at its own rate.
    let people = app.line_up(healthy, 10).await;
    for (_, token) in &people {
        app.wait_for_status(token, "active").await;
    }
    assert_eq!(app.queue_settings(healthy).await["active"], 10);
    assert_eq!(tick_failures(&app, healthy).await, 0);
    // The broken concert is still tried, and still fails, on its own.
    let before = tick_failures(&app, broken).await;
    eventually(
        Duration::from_secs(10),
        "the broken concert is tried again",
        || async { (tick_failures(&app, broken).await > before).then_some(()) },
    )
    .await;
}
