//! The pre-queue's draw at the opening: made once, whichever server's admit
//! tick first finds the concert open, from the list of joiners recorded in
//! PostgreSQL and the concert's seed (the shuffle is [`crate::fairness`]'s).

use crate::catalog::{Catalog, Concert};
use crate::error::Result;
use crate::fairness::{self, FairnessReport};
use crate::store::RedisStore;
use crate::store::redis::reply_field as field;
use chrono::Utc;
use uuid::Uuid;

/// Makes the pre-queue's draw if it is due and not made yet. Returns whether the
/// line is drawn (false while Redis time is before the opening).
///
/// Three steps, each safe to race with other servers: read the pre-queue (final
/// once Redis time has passed the opening); record it in PostgreSQL, where the
/// first server's list stands for everyone; apply the order computed from that
/// list and the seed with a script that does it only if no one has.
pub async fn draw_prequeue(
    redis: &RedisStore,
    catalog: &Catalog,
    concert: &Concert,
) -> Result<bool> {
    let keys = redis.keys.concert(concert.id);
    let opens_at_us = concert.opens_at.timestamp_micros();
    let reply: Vec<redis::Value> = redis
        .scripts
        .prequeue
        .key(keys.wait())
        .key(keys.drawn())
        .arg(opens_at_us)
        .invoke_async(&mut redis.conn())
        .await?;
    let members: Vec<String> = match field::<String>(&reply, 0)?.as_str() {
        "drawn" => return Ok(true),
        "not_open" => return Ok(false),
        _ => field(&reply, 1)?,
    };
    let members: Vec<Uuid> = members.iter().filter_map(|m| m.parse().ok()).collect();
    let draw = catalog.record_draw(concert.id, &members).await?;
    let seed = catalog.draw_seed(concert.id).await?;
    let order = fairness::shuffle(&seed, &draw.joiners);
    let mut invocation = redis.scripts.draw.prepare_invoke();
    invocation
        .key(keys.wait())
        .key(keys.draw())
        .key(keys.drawn())
        .arg(opens_at_us);
    for user in &order {
        invocation.arg(user.to_string());
    }
    let placed: i64 = invocation.invoke_async(&mut redis.conn()).await?;
    if placed >= 0 {
        tracing::info!(concert_id = %concert.id, joiners = draw.joiners.len(), placed, "pre-queue drawn");
    }
    Ok(true)
}

/// What the fairness endpoint publishes of a concert's draw.
pub async fn fairness_report(catalog: &Catalog, concert: &Concert) -> Result<FairnessReport> {
    let seed = catalog.draw_seed(concert.id).await?;
    let draw = catalog.draw(concert.id).await?;
    let now = Utc::now();
    let opens_in_seconds = (concert.opens_at - now).num_milliseconds().max(0) as u64;
    Ok(FairnessReport {
        concert_id: concert.id.as_uuid(),
        opens_at: concert.opens_at,
        opens_in_seconds: opens_in_seconds.div_ceil(1000),
        algorithm: fairness::ALGORITHM.into(),
        commitment: fairness::commitment(&seed),
        seed: draw.as_ref().map(|_| hex::encode(&seed)),
        drawn_at: draw.as_ref().map(|d| d.drawn_at),
        drawn_order: draw.as_ref().map(|d| fairness::shuffle(&seed, &d.joiners)),
        joiners: draw.map(|d| d.joiners),
    })
}
