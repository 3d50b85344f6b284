//! The Redis connection shared by every request.

use super::{Keys, Scripts};
use crate::telemetry::metrics::REDIS_SCRIPT_DURATION;
use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Arg, Cmd, RedisFuture, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// One multiplexed connection (requests are pipelined over it, no pool to check
/// out from), the key namer and the script registry.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    pub keys: Keys,
    pub scripts: Arc<Scripts>,
}

/// The shared connection, timing every Lua script it runs (by the SHA1 of its
/// EVALSHA) in a histogram and a tracing span, so no call site has to.
#[derive(Clone)]
pub struct Conn {
    inner: ConnectionManager,
    script_names: Arc<HashMap<Vec<u8>, &'static str>>,
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
    /// Connects, with bounded timeouts so an outage answers 503 quickly instead
    /// of piling requests up, and loads every script.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("invalid Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let mut conn = ConnectionManager::new_with_config(client, config)
            .await
            .with_context(|| format!("cannot connect to Redis at {}", redact_url(url)))?;
        let scripts = Arc::new(Scripts::new());
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
            scripts,
        })
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

/// One element of a script's array reply, converted.
pub fn reply_field<T: redis::FromRedisValue>(
    reply: &[redis::Value],
    index: usize,
) -> crate::error::Result<T> {
    use crate::error::Error;
    let value = reply
        .get(index)
        .ok_or_else(|| Error::internal(format!("script reply has no element {index}")))?;
    redis::from_redis_value_ref(value)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("unexpected script reply")))
}
