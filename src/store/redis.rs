//! The Redis connection shared by every request.

use super::Keys;
use super::scripts::{self, AdmissionKeys};
use crate::domain::ConcertId;
use crate::telemetry::metrics::REDIS_SCRIPT_DURATION;
use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Arg, Cmd, RedisFuture, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// One multiplexed connection (requests are pipelined over it, no pool to check
/// out from) and the key namer. The scripts are [`scripts::registry`]'s.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    pub keys: Keys,
}

/// The shared connection, timing every Lua script it runs (by the SHA1 of its
/// EVALSHA) in a histogram and a tracing span, so no call site has to.
#[derive(Clone)]
pub struct Conn {
    inner: Link,
    script_names: Arc<HashMap<Vec<u8>, &'static str>>,
}

/// One Redis, or a Redis Cluster. Both multiplex every request over their
/// connections and reconnect by themselves; the cluster connection also routes
/// each command to the primary owning its key's slot (a script by its first
/// key: all of one concert's keys share a hash tag, so one slot) and follows
/// MOVED and ASK when slots move. An enum, not a trait object: the single-Redis
/// path stays one match away from the ConnectionManager.
#[derive(Clone)]
enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Single(conn) => conn.req_packed_command(cmd),
            Link::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Link::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Single(conn) => conn.get_db(),
            Link::Cluster(conn) => conn.get_db(),
        }
    }
}

impl Conn {
    fn script_of(&self, cmd: &Cmd) -> Option<&'static str> {
        let mut args = cmd.args_iter();
        match (args.next(), args.next()) {
            (Some(Arg::Simple(name)), Some(Arg::Simple(sha)))
                if name.eq_ignore_ascii_case(b"EVALSHA") =>
            {
                self.script_names.get(sha).copied()
            }
            _ => None,
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Some(script) = self.script_of(cmd) else {
            return self.inner.req_packed_command(cmd);
        };
        let span = tracing::debug_span!("redis_script", script);
        Box::pin(
            async move {
                let started = Instant::now();
                let result = self.inner.req_packed_command(cmd).await;
                metrics::histogram!(REDIS_SCRIPT_DURATION, "script" => script)
                    .record(started.elapsed().as_secs_f64());
                result
            }
            .instrument(span),
        )
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

impl RedisStore {
    /// Connects to a Redis Cluster through `cluster_nodes` (any of its nodes)
    /// when there are some, else to the one Redis at `url`.
    pub async fn connect_to(
        url: &str,
        cluster_nodes: &[String],
        prefix: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        if cluster_nodes.is_empty() {
            Self::connect(url, prefix, timeout).await
        } else {
            Self::connect_cluster(cluster_nodes, prefix, timeout).await
        }
    }

    /// Connects, with bounded timeouts so an outage answers 503 quickly instead
    /// of piling requests up, and loads every script.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("invalid Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .with_context(|| format!("cannot connect to Redis at {}", redact_url(url)))?;
        Self::ready(Link::Single(conn), prefix).await
    }

    /// Connects to a Redis Cluster: each attempt on a node bounded by
    /// `timeout`, a whole request (retries, reconnections and MOVED/ASK
    /// redirections included) by three times that, and loads every script on
    /// every primary (SCRIPT LOAD goes to all of them; a primary that lost them,
    /// or joined later, gets a script again on its first NOSCRIPT).
    pub async fn connect_cluster(
        nodes: &[String],
        prefix: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let named = || {
            nodes
                .iter()
                .map(|node| redact_url(node))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let client = ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .overall_response_timeout(Some(timeout * 3))
            .retries(3)
            .min_retry_wait(10)
            .max_retry_wait(500)
            .build()
            .with_context(|| format!("invalid Redis Cluster nodes {}", named()))?;
        let conn = client
            .get_async_connection()
            .await
            .with_context(|| format!("cannot connect to the Redis Cluster at {}", named()))?;
        Self::ready(Link::Cluster(conn), prefix).await
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn.inner, Link::Cluster(_))
    }

    async fn ready(mut conn: Link, prefix: &str) -> anyhow::Result<Self> {
        let scripts = scripts::registry();
        scripts
            .load_all(&mut conn)
            .await
            .context("cannot load the Lua scripts into Redis")?;
        let script_names = scripts
            .all()
            .into_iter()
            .map(|(name, script)| (script.get_hash().as_bytes().to_vec(), name))
            .collect();
        Ok(Self {
            conn: Conn {
                inner: conn,
                script_names: Arc::new(script_names),
            },
            keys: Keys::new(prefix),
        })
    }

    /// The keys of one concert's line, for its scripts.
    pub fn admission_keys(&self, concert: ConcertId) -> AdmissionKeys {
        AdmissionKeys::new(&self.keys, concert)
    }

    /// A handle on the shared connection; cheap to clone, one per call.
    pub fn conn(&self) -> Conn {
        self.conn.clone()
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        redis::cmd("PING").query_async(&mut self.conn()).await
    }
}

/// A connection URL without its password, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable url>".into(),
    }
}
