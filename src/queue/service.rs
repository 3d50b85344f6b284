use super::line_cache::LineCache;
use super::{QueueSettings, estimate, polling};
use crate::catalog::Catalog;
use crate::domain::{ConcertId, ReservationId, UserId};
use crate::error::{Error, Result};
use crate::store::RedisStore;
use crate::store::scripts::{
    self, JoinArgs, JoinReply, LeaveReply, LineDefaults, LineFacts, NotAdmitted, Place, StatusArgs,
    StatusReply,
};
use crate::tokens::{QueueClaims, TokenKeys};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Where a queue token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Waiting,
    Active,
    Expired,
    /// Still in line, but no seat of the concert is neither sold nor held: nobody
    /// is admitted until seats come back (holds ending), when the place reads
    /// `waiting` again, in the same order.
    SoldOut,
}

/// The answer to joining and to every status poll.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueTicket {
    pub token: String,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub status: TicketStatus,
    /// 1-based while waiting or sold out (the place kept should seats come
    /// back), 0 otherwise.
    pub position: u64,
    /// The expected wait, from the admission rate measured over about the last
    /// minute (the setting until there is one); 0 unless waiting. The rate, the
    /// line's length and the settings behind this and `poll_after_ms` may be up
    /// to `LINEUP_LINE_FACTS_TTL` (250 ms) older than `position`, which is exact.
    pub estimated_wait_seconds: u64,
    /// Nine waits in ten end by then (same model); 0 unless waiting.
    pub estimated_wait_seconds_p90: u64,
    /// Seconds left of the admission; 0 unless active. A hold extends the
    /// admission to the hold's end, but never past its deadline,
    /// `active_ttl_seconds + hold_ttl_seconds` after it began: whatever is held
    /// or released, the admission ends by then (only a payment begun before it
    /// runs on, by at most the payment timeout).
    pub active_remaining_seconds: u64,
    /// When the client should ask again.
    pub poll_after_ms: u64,
    /// Seconds until the concert's sale opens; 0 once open. Until the opening
    /// and its draw, a waiting ticket stands in the pre-queue: position 0, its
    /// place to be drawn at random (see `GET /api/v1/concerts/{concert_id}/fairness`).
    pub opens_in_seconds: u64,
}

/// Live numbers of one concert's line, for operators.
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub waiting: u64,
    pub active: u64,
}

/// Admitted people poll no more often than this.
const MIN_POLL_MS: u64 = 1_000;
/// Admitted people poll to see their remaining time; every few seconds is enough.
const ACTIVE_POLL_MS: u64 = 5_000;
/// How long the answer to a full line tells clients to wait.
const QUEUE_FULL_RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct QueueService {
    pub(super) redis: RedisStore,
    pub(super) catalog: Arc<Catalog>,
    tokens: Arc<TokenKeys>,
    defaults: QueueSettings,
    /// How long an operator's change waits for PostgreSQL before answering
    /// `durable: false` (the server's `LINEUP_DATABASE_TIMEOUT`).
    pub(super) durable_within: Duration,
    pub(super) line_cache: Arc<LineCache>,
}

impl QueueService {
    pub fn new(
        redis: RedisStore,
        catalog: Arc<Catalog>,
        tokens: Arc<TokenKeys>,
        defaults: QueueSettings,
        durable_within: Duration,
        line_facts_ttl: Duration,
    ) -> Self {
        Self {
            redis,
            catalog,
            tokens,
            defaults,
            durable_within,
            line_cache: Arc::new(LineCache::new(line_facts_ttl)),
        }
    }

    /// Puts the user in the concert's line. Returns the ticket and whether the
    /// place is new (an existing place is returned unchanged, with a fresh
    /// token: same jti, new `iat` and `exp`).
    pub async fn join(&self, user: UserId, concert_id: ConcertId) -> Result<(QueueTicket, bool)> {
        let concert = self.catalog.existing_concert(concert_id).await?;
        let now = Utc::now();
        let snapshot = self.catalog.snapshot();
        if concert.closed_at.is_some()
            || !snapshot.schedules_of(&concert).any(|s| !s.has_started(now))
        {
            return Err(Error::SALE_CLOSED);
        }
        let settings = concert.stored_settings;
        let args = JoinArgs {
            user,
            max_waiting: settings.max_waiting,
            defaults: line_defaults(&settings),
            opens_at: concert.opens_at,
            cached: self.line_cache.get(concert_id),
        };
        let fresh = args.cached.is_none();
        let keys = self.redis.admission_keys(concert_id);
        let (new, jti, standing) = match scripts::join(&mut self.redis.conn(), &keys, args).await? {
            JoinReply::Placed { new, jti, standing } => {
                if fresh {
                    self.remember_line(concert_id, &standing);
                }
                (new, jti, standing)
            }
            JoinReply::QueueFull => {
                return Err(Error::QueueFull {
                    retry_after: QUEUE_FULL_RETRY_AFTER,
                });
            }
            JoinReply::SaleClosed => return Err(Error::SALE_CLOSED),
        };
        let token = self
            .tokens
            .issue_queue(user, concert_id, &jti, concert.opens_at);
        let ticket = into_ticket(standing, token, user, concert_id, Some(concert.opens_at));
        Ok((ticket, new))
    }

    /// Where the token stands now. `token_expired` is set for an authentic token
    /// past its `exp`: it reads `expired` without asking Redis.
    pub async fn status(
        &self,
        token: &str,
        claims: &QueueClaims,
        token_expired: bool,
    ) -> Result<QueueTicket> {
        // A miss is a concert made on another server since this one last read
        // the catalog: load it, for without its opening a pre-queue place reads
        // as a place in the open line (a position that later grows).
        let concert = match self.catalog.snapshot().concert(claims.cid) {
            Some(concert) => Some(concert.clone()),
            None => self.catalog.concert(claims.cid).await?,
        };
        let opens_at = concert.as_ref().map(|c| c.opens_at);
        let standing = if token_expired {
            StatusReply::Expired
        } else {
            let settings = concert
                .as_ref()
                .map_or(self.defaults, |c| c.stored_settings);
            let args = StatusArgs {
                user: claims.sub,
                jti: &claims.jti,
                defaults: line_defaults(&settings),
                opens_at,
                cached: self.line_cache.get(claims.cid),
            };
            let fresh = args.cached.is_none();
            let keys = self.redis.admission_keys(claims.cid);
            let standing = scripts::status(&mut self.redis.conn(), &keys, args).await?;
            if fresh {
                self.remember_line(claims.cid, &standing);
            }
            standing
        };
        Ok(into_ticket(
            standing,
            token.into(),
            claims.sub,
            claims.cid,
            opens_at,
        ))
    }

    /// Keeps the line facts a reply carried, for the joins and polls of the
    /// next moment (only a waiting or sold-out reply uses them).
    fn remember_line(&self, concert: ConcertId, standing: &StatusReply) {
        if let StatusReply::Waiting { line, .. } | StatusReply::SoldOut { line, .. } = standing {
            self.line_cache.put(concert, *line);
        }
    }

    /// Leaves the line or gives up the admission. A token that was no longer
    /// current gets `token_expired`.
    pub async fn leave(&self, claims: &QueueClaims) -> Result<()> {
        let keys = self.redis.admission_keys(claims.cid);
        match scripts::leave(&mut self.redis.conn(), &keys, claims.sub, &claims.jti).await? {
            LeaveReply::Left => Ok(()),
            LeaveReply::Expired => Err(NotAdmitted::Expired.into()),
        }
    }

    /// Removes one person from the line or their admission. Returns where they
    /// stood (`None` when nowhere) and their open reservation, for the caller
    /// to release.
    pub async fn evict(
        &self,
        concert: ConcertId,
        user: UserId,
    ) -> Result<Option<(TicketStatus, Option<ReservationId>)>> {
        let keys = self.redis.admission_keys(concert);
        let evicted = scripts::evict(&mut self.redis.conn(), &keys, user).await?;
        let status = match evicted.was {
            Some(Place::Waiting) => TicketStatus::Waiting,
            Some(Place::Active) => TicketStatus::Active,
            None => return Ok(None),
        };
        Ok(Some((status, evicted.reservation)))
    }

    /// How many wait and how many are admitted now.
    pub async fn stats(&self, concert: ConcertId) -> Result<QueueStats> {
        let keys = self.redis.keys.concert(concert);
        let now_ms = Utc::now().timestamp_millis();
        let (waiting, active): (u64, u64) = redis::pipe()
            .zcard(keys.wait())
            .zcount(keys.active(), format!("({now_ms}"), "+inf")
            .query_async(&mut self.redis.conn())
            .await?;
        Ok(QueueStats { waiting, active })
    }
}

/// The settings the join and status scripts fall back on.
fn line_defaults(settings: &QueueSettings) -> LineDefaults {
    LineDefaults {
        admit_per_second: settings.admit_per_second,
        idle_timeout_ms: u64::from(settings.idle_timeout_seconds) * 1000,
        poll_budget_per_second: settings.poll_budget_per_second,
    }
}

/// When the person at `position` should poll again: within the line's poll
/// budget, every second at the head (see [`polling`]). Never past the ceiling
/// of the line the facts describe: the poll went into an idle bucket as wide
/// as those facts make it (a quarter of their idle timeout in force at most),
/// and a position past their length (facts kept from before the line grew)
/// would otherwise ask for a longer interval than that bucket is kept for.
fn poll_after_ms(line: &LineFacts, position: u64) -> u64 {
    let (ceiling, _) = polling::ceiling_and_idle_ms(
        line.waiting,
        line.poll_budget_per_second,
        line.idle_timeout_ms,
    );
    polling::poll_after_ms(
        position,
        line.waiting,
        line.poll_budget_per_second,
        line.idle_timeout_ms,
    )
    .min(ceiling)
}

/// The ticket of a place, with the estimated wait (the line ahead at the
/// current rate, plus the time until the sale opens) and when to poll next.
fn into_ticket(
    standing: StatusReply,
    token: String,
    user: UserId,
    concert: ConcertId,
    opens_at: Option<DateTime<Utc>>,
) -> QueueTicket {
    let opens_in_ms = opens_at.map_or(0, |at| (at - Utc::now()).num_milliseconds().max(0) as u64);
    let opens_in_seconds = opens_in_ms.div_ceil(1000);
    // What every ticket says; each standing below adds its own.
    let expired = QueueTicket {
        token,
        user_id: user,
        concert_id: concert,
        status: TicketStatus::Expired,
        position: 0,
        estimated_wait_seconds: 0,
        estimated_wait_seconds_p90: 0,
        active_remaining_seconds: 0,
        poll_after_ms: 0,
        opens_in_seconds,
    };
    match standing {
        // In the pre-queue: the place is drawn at the opening.
        StatusReply::Waiting { position: 0, line } => QueueTicket {
            status: TicketStatus::Waiting,
            estimated_wait_seconds: opens_in_seconds,
            estimated_wait_seconds_p90: opens_in_seconds,
            poll_after_ms: polling::prequeue_poll_after_ms(
                user.as_uuid().as_u128() as u64,
                opens_in_ms,
                line.waiting,
                line.poll_budget_per_second,
                line.idle_timeout_ms,
            ),
            ..expired
        },
        StatusReply::Waiting { position, line } => {
            let rate = estimate::admission_rate(
                line.admit_per_second,
                line.rate_admitted,
                line.rate_seconds,
            );
            let (wait, p90) = estimate::wait_seconds(position, rate);
            QueueTicket {
                status: TicketStatus::Waiting,
                position,
                estimated_wait_seconds: wait + opens_in_seconds,
                estimated_wait_seconds_p90: p90 + opens_in_seconds,
                poll_after_ms: poll_after_ms(&line, position),
                ..expired
            }
        }
        StatusReply::Active { remaining_ms } => QueueTicket {
            status: TicketStatus::Active,
            active_remaining_seconds: remaining_ms.div_ceil(1000),
            poll_after_ms: remaining_ms.clamp(MIN_POLL_MS, ACTIVE_POLL_MS),
            ..expired
        },
        // The place is kept; no estimate holds until seats come back.
        StatusReply::SoldOut { position, line } => QueueTicket {
            status: TicketStatus::SoldOut,
            position,
            poll_after_ms: poll_after_ms(&line, position),
            ..expired
        },
        StatusReply::Expired => expired,
    }
}
