//! The draw at the opening, made once, whichever server's admit tick first
//! finds the concert open, from the list of joiners recorded in PostgreSQL and
//! the concert's seed (`published.rs` publishes it).

use super::{record, shuffle};
use crate::catalog::{Catalog, Concert};
use crate::domain::UserId;
use crate::error::Result;
use crate::store::RedisStore;
use crate::store::scripts::{self, DrawReply, PrequeueReply};
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
    let pool = catalog.pool();
    let draw = record::record(pool, concert.id, &members).await?;
    let seed = record::seed(pool, concert.id).await?;
    let order: Vec<UserId> = shuffle(&seed, &draw.joiners)
        .into_iter()
        .map(UserId::from_uuid)
        .collect();
    let placed = scripts::draw(&mut redis.conn(), &keys, concert.opens_at, &order).await?;
    if let DrawReply::Placed(placed) = placed {
        tracing::info!(concert_id = %concert.id, joiners = draw.joiners.len(), placed, "pre-queue drawn");
    }
    Ok(true)
}
