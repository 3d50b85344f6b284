//! The Redis connection shared by every request.

use super::{Keys, Scripts};
use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;

/// One multiplexed connection (requests are pipelined over it, no pool to check
/// out from), the key namer and the script registry.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    pub keys: Keys,
    pub scripts: Arc<Scripts>,
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
        Ok(Self {
            conn,
            keys: Keys::new(prefix),
            scripts,
        })
    }

    /// A handle on the shared connection; cheap to clone, one per call.
    pub fn conn(&self) -> ConnectionManager {
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
