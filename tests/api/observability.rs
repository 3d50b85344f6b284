//! What operators see: the metrics a sale produces on the metrics listener, and
//! a Grafana dashboard that asks only for metrics lineup exports.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::time::Duration;

/// Every metric name of lineup in a Prometheus text exposition (its `# TYPE` lines).
fn exported_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| name.starts_with("lineup_"))
        .map(str::to_owned)
        .collect()
}

/// The metric names a PromQL expression reads, histogram suffixes removed.
fn referenced_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("lineup_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.push(base.to_owned());
        rest = &tail[end..];
    }
    names
}

/// Runs a small sale and returns the metrics text once the seat gauges are in.
async fn metrics_after_a_sale(app: &TestApp) -> String {
    let concert = app.create_concert(1, 10).await;
    let (user, token) = app.admitted_user(concert.id, 100_000).await;
    let held: Value = app
        .hold(&token, concert.schedules[0], &[1])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.pay(&token, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::CREATED
    );
    let (_, poor) = app.admitted_user(concert.id, 0).await;
    let held: Value = app
        .hold(&poor, concert.schedules[0], &[2])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.pay(&poor, uuid(&held["reservation_id"]), 50_000)
            .await
            .status(),
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(app.charge(&user, 5_000).await.status(), StatusCode::OK);

    let url = format!(
        "http://{}/metrics",
        app.metrics_addr.expect("a metrics listener")
    );
    let client = reqwest::Client::new();
    let needle = format!("lineup_seats_sold{{concert=\"{}\"", concert.id);
    eventually(Duration::from_secs(5), "the seat gauges", || async {
        let text = client.get(&url).send().await.unwrap().text().await.unwrap();
        text.contains(&needle).then_some(text)
    })
    .await
}

#[sqlx::test]
async fn a_sale_shows_in_the_metrics(db: PgPool) {
    let app = spawn_app(db).await;
    let text = metrics_after_a_sale(&app).await;
    let names = exported_names(&text);
    for wanted in [
        "lineup_queue_waiting",
        "lineup_queue_active",
        "lineup_queue_admitted_total",
        "lineup_queue_expired_total",
        "lineup_queue_admit_rate",
        "lineup_queue_admit_rate_setting",
        "lineup_queue_max_active_setting",
        "lineup_queue_paused",
        "lineup_seats_sold",
        "lineup_seats_held",
        "lineup_seats_available",
        "lineup_payments_total",
        "lineup_paid_won_total",
        "lineup_charges_total",
        "lineup_charged_won_total",
        "lineup_http_requests_total",
        "lineup_http_request_duration_seconds",
        "lineup_redis_script_duration_seconds",
        "lineup_db_acquire_seconds",
        "lineup_db_connections",
    ] {
        assert!(names.contains(wanted), "{wanted} is missing from /metrics");
    }
    assert!(
        text.contains(r#"lineup_payments_total{outcome="paid"}"#),
        "payments by outcome"
    );
    assert!(text.contains(r#"lineup_payments_total{outcome="insufficient_balance"}"#));
    assert!(
        text.contains(r#"script="hold""#),
        "script latency by script"
    );
    assert!(
        text.contains(r#"route="/api/v1/payments""#),
        "requests by route pattern, not path"
    );
    assert!(text.contains(r#"lineup_http_request_duration_seconds_bucket{method="POST",route="/api/v1/payments",le="0.005"}"#), "explicit buckets");
    // The metrics listener is not the API: the API does not serve /metrics.
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test]
async fn the_dashboard_is_grafana_json_asking_only_for_exported_metrics(db: PgPool) {
    let dashboard: Value = serde_json::from_str(include_str!("../../deploy/grafana/lineup.json"))
        .expect("the dashboard is JSON");
    assert!(dashboard["title"].is_string() && dashboard["schemaVersion"].is_number());
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 5);

    let app = spawn_app(db).await;
    let exported = exported_names(&metrics_after_a_sale(&app).await);
    let mut checked = 0;
    for panel in panels {
        assert!(
            panel["title"].is_string() && panel["gridPos"].is_object(),
            "{panel}"
        );
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let names = referenced_names(expr);
            assert!(!names.is_empty(), "{expr} reads no lineup metric");
            for name in names {
                assert!(
                    exported.contains(&name),
                    "the dashboard reads {name}, which lineup does not export"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10);
}

#[test]
fn histogram_series_are_traced_to_their_metric() {
    assert_eq!(
        referenced_names(
            "histogram_quantile(0.99, sum by (le) (rate(lineup_http_request_duration_seconds_bucket[1m]))) / lineup_queue_active"
        ),
        [
            "lineup_http_request_duration_seconds",
            "lineup_queue_active"
        ]
    );
}
