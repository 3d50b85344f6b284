//! The pre-queue's draw at the opening: made once, whichever server's admit
//! tick first finds the concert open, from the list of joiners recorded in
//! PostgreSQL and the concert's seed (the shuffle is [`crate::fairness`]'s).

use crate::catalog::{Catalog, Concert};
use crate::domain::UserId;
use crate::error::Result;
use crate::fairness::{self, FairnessReport};
use crate::store::RedisStore;
use crate::store::scripts::{self, DrawReply, PrequeueReply};
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
    let keys = redis.admission_keys(concert.id);
    let members = match scripts::prequeue(&mut redis.conn(), &keys, concert.opens_at).await? {
        PrequeueReply::Drawn => return Ok(true),
        PrequeueReply::NotOpen => return Ok(false),
        PrequeueReply::Members(members) => members,
    };
    let members: Vec<Uuid> = members.iter().map(UserId::as_uuid).collect();
    let draw = catalog.record_draw(concert.id, &members).await?;
    let seed = catalog.draw_seed(concert.id).await?;
    let order: Vec<UserId> = fairness::shuffle(&seed, &draw.joiners)
        .into_iter()
        .map(UserId::from_uuid)
        .collect();
    let placed = scripts::draw(&mut redis.conn(), &keys, concert.opens_at, &order).await?;
    if let DrawReply::Placed(placed) = placed {
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
