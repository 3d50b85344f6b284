//! Round trips of lineup's hot paths, against the real Redis and PostgreSQL of
//! `scripts/services.sh` (database from `LINEUP_BENCH_DATABASE_URL`, default
//! `lineup_bench`, made when missing). Run: `cargo bench --bench hot_paths`.
//!
//! Measures token signing and verification, each queue and hold script through
//! its service (one Redis round trip each), the gate's check of an admission
//! (from Redis, and from its one-second memory), and the admit tick moving a
//! batch of 1,000 users from the line to the active set.

use criterion::{Criterion, criterion_group, criterion_main};
use lineup::app::Application;
use lineup::catalog::NewConcert;
use lineup::config::{Cli, Command, Config, GateConfig};
use lineup::domain::{ConcertId, ScheduleId, SeatSelection, UserId};
use lineup::gate::GateService;
use lineup::http::AppState;
use lineup::queue::{QueueSettings, admit_tick};
use lineup::store::{RedisStore, postgres};
use lineup::tokens::QueueClaims;
use sqlx::migrate::MigrateDatabase;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn config() -> Config {
    let cli = <Cli as clap::Parser>::parse_from([
        "lineup",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--token-key",
        "bench-token-key-0123456789abcdef-0123456789",
        "--signing-key-files",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/keys/signing.pem"
        ),
        "--plain-http",
    ]);
    let Command::Serve(args) = cli.command else {
        unreachable!()
    };
    let mut config = Config::from_args(*args).expect("bench config");
    config.redis.prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    config
}

/// Services over the real stores, a concert of one date x 50 seats, and its
/// settings set for a fast line.
struct Bench {
    state: AppState,
    concert: ConcertId,
    schedule: ScheduleId,
}

async fn setup() -> Bench {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = config();
    // A database of the benchmarks' own, so their concerts never show in the demo's list.
    let url = std::env::var("LINEUP_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/lineup_bench".into());
    if !sqlx::Postgres::database_exists(&url)
        .await
        .expect("PostgreSQL")
    {
        sqlx::Postgres::create_database(&url)
            .await
            .expect("the bench database is created");
    }
    let db = postgres::connect(&url, 10, Duration::from_secs(5))
        .await
        .expect("PostgreSQL");
    postgres::migrate(&db).await.expect("migrations");
    let redis = RedisStore::connect(REDIS_URL, &config.redis.prefix, Duration::from_secs(5))
        .await
        .expect("Redis");
    let app = Application::build_with(config, db, redis)
        .await
        .expect("app");
    let state = app.state().clone();
    let seats = (1..=50).map(|n| (n, 50_000)).collect();
    let starts_at = chrono::Utc::now() + chrono::Duration::days(30);
    let new = NewConcert::parse(
        "Bench night",
        "Bench hall",
        chrono::Utc::now(),
        vec![(starts_at, seats)],
    )
    .unwrap();
    let settings = QueueSettings {
        admit_per_second: 100_000,
        max_active: 1_000_000,
        max_waiting: 0,
        active_ttl_seconds: 3600,
        hold_ttl_seconds: 300,
        paused: false,
        idle_timeout_seconds: lineup::queue::DEFAULT_IDLE_TIMEOUT_SECONDS,
        // Up to 100 x 50 free seats may shop at once: a batch of 1,000 fits.
        admit_seat_factor: 100.0,
        poll_budget_per_second: lineup::queue::DEFAULT_POLL_BUDGET_PER_SECOND,
    };
    let (concert, schedules) = state.catalog.create(&new, settings).await.expect("concert");
    state
        .queue
        .publish_settings(concert, settings)
        .await
        .unwrap();
    Bench {
        state,
        concert,
        schedule: schedules[0].0,
    }
}

impl Bench {
    async fn join(&self) -> QueueClaims {
        let (ticket, _) = self
            .state
            .queue
            .join(UserId::new(), self.concert)
            .await
            .unwrap();
        self.state.tokens.verify_queue(&ticket.token).unwrap()
    }

    async fn tick(&self) -> lineup::queue::AdmitOutcome {
        let concert = self
            .state
            .catalog
            .concert(self.concert)
            .await
            .unwrap()
            .unwrap();
        admit_tick(&self.state.redis, &self.state.catalog, &concert)
            .await
            .unwrap()
    }
}

fn tokens(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let bench = rt.block_on(setup());
    let tokens = &bench.state.tokens;
    let (user, concert) = (UserId::new(), ConcertId::new());
    let jti = (chrono::Utc::now().timestamp_micros()).to_string();
    let access = tokens.issue_access(user);
    let opened = chrono::Utc::now();
    let queue = tokens.issue_queue(user, concert, &jti, opened);
    c.bench_function("token/issue_access", |b| {
        b.iter(|| tokens.issue_access(user))
    });
    c.bench_function("token/verify_access", |b| {
        b.iter(|| tokens.verify_access(&access).unwrap())
    });
    c.bench_function("token/issue_queue", |b| {
        b.iter(|| tokens.issue_queue(user, concert, &jti, opened))
    });
    c.bench_function("token/verify_queue", |b| {
        b.iter(|| tokens.verify_queue(&queue).unwrap())
    });
}

fn queue_scripts(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let bench = rt.block_on(setup());
    // A waiting user in the middle of a line of 10,000 (admission is never ticked here).
    let middle = rt.block_on(async {
        let mut middle = None;
        for i in 0..10_000 {
            let claims = bench.join().await;
            if i == 5_000 {
                middle = Some(claims);
            }
        }
        middle.unwrap()
    });
    let token =
        bench
            .state
            .tokens
            .issue_queue(middle.sub, middle.cid, &middle.jti, chrono::Utc::now());
    c.bench_function("script/status (waiting, position 5,001 of 10,000+)", |b| {
        b.to_async(&rt).iter(|| async {
            bench
                .state
                .queue
                .status(&token, &middle, false)
                .await
                .unwrap()
        })
    });
    c.bench_function("script/join (a new user at the back)", |b| {
        b.to_async(&rt).iter(|| async {
            bench
                .state
                .queue
                .join(UserId::new(), bench.concert)
                .await
                .unwrap()
        })
    });
    c.bench_function("script/join (again: the same place)", |b| {
        b.to_async(&rt).iter(|| async {
            bench
                .state
                .queue
                .join(middle.sub, bench.concert)
                .await
                .unwrap()
        })
    });
}

/// What one gate check costs (GET /api/v1/gate/{concert} without the HTTP):
/// the token verified and the line read in Redis, or a remembered yes.
fn gate(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let bench = rt.block_on(setup());
    let claims = rt.block_on(async {
        let claims = bench.join().await;
        bench.tick().await;
        claims
    });
    let admission = rt
        .block_on(bench.state.gate.admit(&claims, None))
        .expect("admitted after a tick");
    let uncached = GateService::new(
        bench.state.redis.clone(),
        bench.state.tokens.clone(),
        GateConfig {
            cache_for: Duration::ZERO,
            ..config().gate
        },
    );
    let token = admission.token.as_str();
    c.bench_function("token/verify_admission", |b| {
        b.iter(|| bench.state.tokens.verify_admission(token).unwrap())
    });
    c.bench_function("gate/check (verify + gate script, no cache)", |b| {
        b.to_async(&rt)
            .iter(|| async { uncached.check(&[token], bench.concert).await.unwrap() })
    });
    c.bench_function("gate/check (a yes remembered, LINEUP_GATE_CACHE=1s)", |b| {
        b.to_async(&rt).iter(|| async {
            bench
                .state
                .gate
                .check(&[token], bench.concert)
                .await
                .unwrap()
        })
    });
}

fn admit(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let bench = rt.block_on(setup());
    // A first tick starts the bucket; the 1,000 joins before each measured tick
    // refill it (100,000 a second) well past 1,000.
    rt.block_on(bench.tick());
    let mut group = c.benchmark_group("script/admit");
    group.sample_size(20);
    group.bench_function("tick admitting 1,000", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let bench = &bench;
            async move {
                let mut measured = Duration::ZERO;
                for _ in 0..iters {
                    for _ in 0..1_000 {
                        bench.join().await;
                    }
                    let started = Instant::now();
                    let outcome = bench.tick().await;
                    measured += started.elapsed();
                    assert_eq!(outcome.admitted, 1_000, "{outcome:?}");
                    // Unmeasured: the admitted leave, so seat-aware admission
                    // (free seats x factor shoppers) has room for the next batch.
                    let active = bench.state.redis.keys.concert(bench.concert).active();
                    let _: () = redis::cmd("DEL")
                        .arg(active)
                        .query_async(&mut bench.state.redis.conn())
                        .await
                        .unwrap();
                }
                measured
            }
        })
    });
    group.finish();
}

fn holds(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let bench = rt.block_on(setup());
    let claims = rt.block_on(async {
        let claims = bench.join().await;
        // The bucket starts empty: tick until it has refilled enough to admit.
        while bench.tick().await.admitted == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        claims
    });
    let seats = SeatSelection::parse(&[7, 8]).unwrap();
    let reservations = &bench.state.reservations;
    c.bench_function("script/hold + release (2 seats)", |b| {
        b.to_async(&rt).iter(|| async {
            let held = reservations
                .hold(&claims, bench.schedule, &seats)
                .await
                .unwrap();
            reservations
                .release(&claims, held.reservation_id)
                .await
                .unwrap();
        })
    });
    c.bench_function("script/seat_map (50 seats)", |b| {
        b.to_async(&rt).iter(|| async {
            reservations
                .seat_map(&claims, bench.schedule, None)
                .await
                .unwrap()
        })
    });
}

criterion_group!(benches, tokens, queue_scripts, gate, admit, holds);
criterion_main!(benches);
