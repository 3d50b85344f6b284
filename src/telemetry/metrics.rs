//! Prometheus metrics: every name lineup exports, its help text and buckets,
//! and the recorder. Served on a listener of its own (`LINEUP_METRICS_LISTEN`)
//! by [`crate::http::metrics_router`].
//!
//! Gauges of the line and the seats are set by the admission loop (every tick
//! for the line, every second for the seats), never computed per scrape.

use ::metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub const QUEUE_WAITING: &str = "lineup_queue_waiting";
pub const QUEUE_ACTIVE: &str = "lineup_queue_active";
pub const QUEUE_ADMITTED: &str = "lineup_queue_admitted_total";
pub const QUEUE_EXPIRED: &str = "lineup_queue_expired_total";
pub const QUEUE_ADMIT_RATE_SETTING: &str = "lineup_queue_admit_rate_setting";
pub const QUEUE_ADMIT_RATE: &str = "lineup_queue_admit_rate";
pub const QUEUE_MAX_ACTIVE: &str = "lineup_queue_max_active_setting";
pub const QUEUE_PAUSED: &str = "lineup_queue_paused";
pub const QUEUE_IDLE_DROPPED: &str = "lineup_queue_idle_dropped_total";
pub const QUEUE_SOLD_OUT: &str = "lineup_queue_sold_out";
pub const QUEUE_ADMIT_TICK_FAILURES: &str = "lineup_queue_admit_tick_failures_total";
pub const SEATS_SOLD: &str = "lineup_seats_sold";
pub const SEATS_HELD: &str = "lineup_seats_held";
pub const SEATS_AVAILABLE: &str = "lineup_seats_available";
pub const PAYMENTS: &str = "lineup_payments_total";
pub const PAID_WON: &str = "lineup_paid_won_total";
pub const CHARGES: &str = "lineup_charges_total";
pub const CHARGED_WON: &str = "lineup_charged_won_total";
pub const HTTP_REQUESTS: &str = "lineup_http_requests_total";
pub const HTTP_DURATION: &str = "lineup_http_request_duration_seconds";
pub const REDIS_SCRIPT_DURATION: &str = "lineup_redis_script_duration_seconds";
pub const DB_ACQUIRE: &str = "lineup_db_acquire_seconds";
pub const DB_CONNECTIONS: &str = "lineup_db_connections";
pub const CONNECTIONS_OPEN: &str = "lineup_connections_open";
pub const CONNECTIONS_CLOSED: &str = "lineup_connections_closed_total";
pub const TLS_HANDSHAKES: &str = "lineup_tls_handshakes_total";

/// Latency buckets, in seconds: fine below 10 ms where the hot paths live.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process's recorder, installed on first use: metrics are global to a
/// process, so every server built in it (tests build many) shares one.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("buckets are not empty")
                .install_recorder()
                .expect("the metrics recorder is installed once");
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_gauge!(QUEUE_WAITING, "People waiting in a concert's line.");
    describe_gauge!(
        QUEUE_ACTIVE,
        "People admitted to a concert and not yet expired."
    );
    describe_counter!(
        QUEUE_ADMITTED,
        "People admitted from the line by this server."
    );
    describe_counter!(
        QUEUE_EXPIRED,
        "Admissions that ended unused (dropped at their TTL) on this server's ticks."
    );
    describe_gauge!(
        QUEUE_ADMIT_RATE_SETTING,
        "The admission rate an operator set, people per second."
    );
    describe_gauge!(
        QUEUE_ADMIT_RATE,
        "Admissions per second this server made over the last few seconds."
    );
    describe_gauge!(
        QUEUE_MAX_ACTIVE,
        "The cap on admitted people an operator set."
    );
    describe_gauge!(QUEUE_PAUSED, "1 while an operator has paused admission.");
    describe_counter!(
        QUEUE_IDLE_DROPPED,
        "Waiting people dropped for not polling within the idle timeout, on this server's ticks."
    );
    describe_gauge!(
        QUEUE_SOLD_OUT,
        "1 while no seat of the concert is neither sold nor held: nobody is admitted."
    );
    describe_counter!(
        QUEUE_ADMIT_TICK_FAILURES,
        "Admit ticks of one concert that failed or ran past their time limit, on this server."
    );
    describe_gauge!(SEATS_SOLD, "Seats sold, per date.");
    describe_gauge!(SEATS_HELD, "Seats held and not yet paid, per date.");
    describe_gauge!(SEATS_AVAILABLE, "Seats neither sold nor held, per date.");
    describe_counter!(PAYMENTS, "Payment attempts by outcome.");
    describe_counter!(PAID_WON, "Won paid for seats.");
    describe_counter!(CHARGES, "Balance charges by outcome.");
    describe_counter!(CHARGED_WON, "Won added to balances.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status.");
    describe_histogram!(
        HTTP_DURATION,
        ::metrics::Unit::Seconds,
        "HTTP request latency by method and route."
    );
    describe_histogram!(
        REDIS_SCRIPT_DURATION,
        ::metrics::Unit::Seconds,
        "Round trip of each Lua script."
    );
    describe_histogram!(
        DB_ACQUIRE,
        ::metrics::Unit::Seconds,
        "Wait for a PostgreSQL connection and BEGIN."
    );
    describe_gauge!(CONNECTIONS_OPEN, "API connections open now.");
    describe_counter!(
        CONNECTIONS_CLOSED,
        "API connections the server closed, by reason (idle_http1, idle_http2, headers_late)."
    );
    describe_counter!(
        TLS_HANDSHAKES,
        "Completed TLS handshakes by kind (full, resumed)."
    );
    describe_gauge!(
        DB_CONNECTIONS,
        "PostgreSQL pool connections by state (in_use, idle)."
    );
}
