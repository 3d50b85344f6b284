//! The draw at the opening, made once, whichever server's admit tick first
//! finds the concert open, from the list of joiners recorded in PostgreSQL and
//! the concert's seed; and the report that publishes it.

use super::{ALGORITHM, commitment, record, shuffle};
use crate::catalog::{Catalog, Concert};
use crate::domain::UserId;
use crate::error::Result;
use crate::store::RedisStore;
use crate::store::scripts::{self, DrawReply, PrequeueReply};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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

/// What `GET /api/v1/concerts/{concert_id}/fairness` answers: the commitment
/// always, the seed, the joiners and their drawn order once the draw is made.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FairnessReport {
    pub concert_id: Uuid,
    pub opens_at: DateTime<Utc>,
    /// Seconds until the opening; 0 once open.
    pub opens_in_seconds: u64,
    /// The procedure that turns seed and joiners into the order (docs/FAIRNESS.md).
    pub algorithm: String,
    /// SHA-256 of the seed, hex: published from the concert's creation on.
    pub commitment: String,
    /// The 32-byte seed, hex; null until the draw is made.
    pub seed: Option<String>,
    /// When the draw was made (the first admit tick after `opens_at`); null before.
    pub drawn_at: Option<DateTime<Utc>>,
    /// The ids of everyone in the pre-queue at the draw, sorted; null before it.
    pub joiners: Option<Vec<Uuid>>,
    /// The order drawn from them, first admitted first; null before the draw.
    pub drawn_order: Option<Vec<Uuid>>,
}

/// What the fairness endpoint publishes of a concert's draw.
pub async fn report(catalog: &Catalog, concert: &Concert) -> Result<FairnessReport> {
    let pool = catalog.pool();
    let seed = record::seed(pool, concert.id).await?;
    let draw = record::recorded(pool, concert.id).await?;
    let now = Utc::now();
    let opens_in_seconds = (concert.opens_at - now).num_milliseconds().max(0) as u64;
    Ok(FairnessReport {
        concert_id: concert.id.as_uuid(),
        opens_at: concert.opens_at,
        opens_in_seconds: opens_in_seconds.div_ceil(1000),
        algorithm: ALGORITHM.into(),
        commitment: commitment(&seed),
        seed: draw.as_ref().map(|_| hex::encode(&seed)),
        drawn_at: draw.as_ref().map(|d| d.drawn_at),
        drawn_order: draw.as_ref().map(|d| shuffle(&seed, &d.joiners)),
        joiners: draw.map(|d| d.joiners),
    })
}
