//! Where the shared PostgreSQL and Redis are, and the names that keep one
//! test's data apart from another's. Owns no connection and starts nothing:
//! the in-process app, the `lineup` processes and the proxies all ask here.

use sqlx::PgPool;
use std::net::TcpListener;
use uuid::Uuid;

/// The single Redis every test shares (`scripts/services.sh` starts it).
pub const REDIS_ADDR: &str = "127.0.0.1:6379";

/// [`REDIS_ADDR`] as a `--redis-url`.
pub fn redis_url() -> String {
    format!("redis://{REDIS_ADDR}")
}

/// The Redis Cluster to run against instead of the single Redis, when
/// `LINEUP_TEST_REDIS_CLUSTER` names some of its nodes (comma-separated URLs;
/// `make test` runs the in-process and multi-server suites so against
/// `scripts/redis-cluster.sh`); empty otherwise.
pub fn redis_cluster_nodes() -> Vec<String> {
    std::env::var("LINEUP_TEST_REDIS_CLUSTER")
        .map(|nodes| {
            nodes
                .split(',')
                .filter(|node| !node.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The URL of the test's own database (made by `#[sqlx::test]`) on the server
/// `DATABASE_URL` names, for a `lineup` process to connect to.
pub fn database_url(db: &PgPool) -> String {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set by make test");
    let mut url = url::Url::parse(&server).expect("DATABASE_URL is a URL");
    url.set_path(
        db.connect_options()
            .get_database()
            .expect("the test database has a name"),
    );
    url.to_string()
}

/// A migrated database of its own on the server `DATABASE_URL` names, and its
/// name, for a test that may run twice at once (`#[sqlx::test]` names a
/// test's database after the test, so two runs of one test share it, and the
/// second drops it under the first). [`drop_database`] removes it.
pub async fn create_database() -> (PgPool, String) {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL names the PostgreSQL server");
    let name = format!("lineup_run_{}", Uuid::new_v4().simple());
    let admin = PgPool::connect(&server).await.expect("PostgreSQL answers");
    // The name is ours: a prefix and hex digits.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("CREATE DATABASE");
    let mut url = url::Url::parse(&server).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    let db = PgPool::connect(url.as_str())
        .await
        .expect("the new database answers");
    lineup::store::postgres::MIGRATOR
        .run(&db)
        .await
        .expect("the migrations run");
    (db, name)
}

/// Drops a database of [`create_database`], whoever is still connected.
pub async fn drop_database(name: &str) {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL names the PostgreSQL server");
    let admin = PgPool::connect(&server).await.expect("PostgreSQL answers");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .expect("DROP DATABASE");
}

/// [`database_url`] through a proxy on loopback `port` (a [`super::ChaosProxy`]).
pub fn database_url_via(db: &PgPool, port: u16) -> String {
    let mut url = url::Url::parse(&database_url(db)).expect("a database URL");
    url.set_host(Some("127.0.0.1")).expect("a host");
    url.set_port(Some(port)).expect("a port");
    url.to_string()
}

/// A fresh Redis key prefix: the servers of one test share it, other tests
/// never see it.
pub fn unique_prefix() -> String {
    format!("test-{}", Uuid::new_v4().simple())
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
