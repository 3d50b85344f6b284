use super::{QueueSettings, QueueSettingsChange, estimate, polling};
use crate::catalog::{Catalog, Concert};
use crate::domain::{ConcertId, ReservationId, UserId};
use crate::error::{Error, ErrorCode, Result};
use crate::store::RedisStore;
use crate::store::redis::reply_field as field;
use crate::tokens::{QueueClaims, TokenKeys};
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
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
    /// minute (the setting until there is one); 0 unless waiting.
    pub estimated_wait_seconds: u64,
    /// Nine waits in ten end by then (same model); 0 unless waiting.
    pub estimated_wait_seconds_p90: u64,
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
    redis: RedisStore,
    catalog: Arc<Catalog>,
    tokens: Arc<TokenKeys>,
    defaults: QueueSettings,
}

impl QueueService {
    pub fn new(
        redis: RedisStore,
        catalog: Arc<Catalog>,
        tokens: Arc<TokenKeys>,
        defaults: QueueSettings,
    ) -> Self {
        Self {
            redis,
            catalog,
            tokens,
            defaults,
        }
    }

    /// Puts the user in the concert's line. Returns the ticket and whether the
    /// place is new (an existing place is returned unchanged, same token).
    pub async fn join(&self, user: UserId, concert_id: ConcertId) -> Result<(QueueTicket, bool)> {
        let concert = self.catalog.existing_concert(concert_id).await?;
        let now = Utc::now();
        let snapshot = self.catalog.snapshot();
        if concert.closed_at.is_some()
            || !snapshot.schedules_of(&concert).any(|s| !s.has_started(now))
        {
            return Err(Error::SALE_CLOSED);
        }
        let keys = self.redis.keys.concert(concert_id);
        let settings = concert.stored_settings;
        let reply: Vec<redis::Value> = self
            .redis
            .scripts
            .join
            .key(keys.wait())
            .key(keys.active())
            .key(keys.jti())
            .key(keys.seq())
            .key(keys.cfg())
            .key(keys.seen())
            .key(keys.line_stats())
            .key(keys.draw())
            .key(keys.drawn())
            .arg(user.to_string())
            .arg(settings.max_waiting)
            .arg(settings.admit_per_second)
            .arg(u64::from(settings.idle_timeout_seconds) * 1000)
            .arg(settings.poll_budget_per_second)
            .arg(concert.opens_at.timestamp_micros())
            .invoke_async(&mut self.redis.conn())
            .await?;
        let state: String = field(&reply, 0)?;
        match state.as_str() {
            "queue_full" => {
                return Err(Error::QueueFull {
                    retry_after: QUEUE_FULL_RETRY_AFTER,
                });
            }
            "sale_closed" => return Err(Error::SALE_CLOSED),
            _ => {}
        }
        let jti: String = field(&reply, 1)?;
        let position: u64 = field(&reply, 2)?;
        let remaining_ms: u64 = field(&reply, 3)?;
        let sold_out: u8 = field(&reply, 4)?;
        let status = if state == "active" {
            TicketStatus::Active
        } else if sold_out == 1 {
            TicketStatus::SoldOut
        } else {
            TicketStatus::Waiting
        };
        let token = self.tokens.issue_queue(user, concert_id, &jti);
        let standing = Standing {
            status,
            position,
            active_remaining_ms: remaining_ms,
            line: LineFacts::from_reply(&reply, 5)?,
        };
        Ok((
            standing.into_ticket(token, user, concert_id, Some(concert.opens_at)),
            state == "joined",
        ))
    }

    /// Where the token stands now. `token_expired` is set for an authentic token
    /// past its `exp`: it reads `expired` without asking Redis.
    pub async fn status(
        &self,
        token: &str,
        claims: &QueueClaims,
        token_expired: bool,
    ) -> Result<QueueTicket> {
        let concert = self.catalog.snapshot().concert(claims.cid).cloned();
        let opens_at = concert.as_ref().map(|c| c.opens_at);
        if token_expired {
            return Ok(Standing::EXPIRED.into_ticket(
                token.into(),
                claims.sub,
                claims.cid,
                opens_at,
            ));
        }
        let keys = self.redis.keys.concert(claims.cid);
        let defaults = concert
            .as_ref()
            .map_or(self.defaults, |c| c.stored_settings);
        let reply: Vec<redis::Value> = self
            .redis
            .scripts
            .status
            .key(keys.wait())
            .key(keys.active())
            .key(keys.jti())
            .key(keys.cfg())
            .key(keys.seen())
            .key(keys.line_stats())
            .key(keys.draw())
            .key(keys.drawn())
            .arg(claims.sub.to_string())
            .arg(&claims.jti)
            .arg(defaults.admit_per_second)
            .arg(u64::from(defaults.idle_timeout_seconds) * 1000)
            .arg(defaults.poll_budget_per_second)
            // An unknown concert (not in this server's catalog yet) has no pre-queue.
            .arg(opens_at.map_or(0, |at| at.timestamp_micros()))
            .invoke_async(&mut self.redis.conn())
            .await?;
        let state: String = field(&reply, 0)?;
        let status = match state.as_str() {
            "waiting" => TicketStatus::Waiting,
            "active" => TicketStatus::Active,
            "sold_out" => TicketStatus::SoldOut,
            _ => TicketStatus::Expired,
        };
        let standing = Standing {
            status,
            position: field(&reply, 1)?,
            active_remaining_ms: field(&reply, 2)?,
            line: LineFacts::from_reply(&reply, 3)?,
        };
        Ok(standing.into_ticket(token.into(), claims.sub, claims.cid, opens_at))
    }

    /// Leaves the line or gives up the admission. A token that was no longer
    /// current gets `token_revoked`.
    pub async fn leave(&self, claims: &QueueClaims) -> Result<()> {
        let keys = self.redis.keys.concert(claims.cid);
        let outcome: String = self
            .redis
            .scripts
            .leave
            .key(keys.wait())
            .key(keys.active())
            .key(keys.jti())
            .key(keys.draw())
            .arg(claims.sub.to_string())
            .arg(&claims.jti)
            .invoke_async(&mut self.redis.conn())
            .await?;
        match outcome.as_str() {
            "left" => Ok(()),
            _ => Err(Error::TOKEN_REVOKED),
        }
    }

    /// The live settings of a concert: Redis's copy, any missing field from PostgreSQL's.
    pub async fn settings(&self, concert: &Concert) -> Result<QueueSettings> {
        let fields: Vec<(String, String)> = self
            .redis
            .conn()
            .hgetall(self.redis.keys.concert(concert.id).cfg())
            .await?;
        Ok(QueueSettings::from_redis_fields(
            &fields,
            concert.stored_settings,
        ))
    }

    /// Applies an operator's change: PostgreSQL first (the durable copy), then Redis
    /// (the live copy every server reads).
    pub async fn update_settings(
        &self,
        concert: &Concert,
        change: &QueueSettingsChange,
    ) -> Result<QueueSettings> {
        let updated = self
            .settings(concert)
            .await?
            .apply(change)
            .map_err(|message| Error::invalid(ErrorCode::InvalidSettings, message))?;
        self.catalog.save_settings(concert.id, updated).await?;
        self.publish_settings(concert.id, updated).await?;
        Ok(updated)
    }

    /// Writes settings to the concert's Redis `cfg` hash.
    pub async fn publish_settings(
        &self,
        concert: ConcertId,
        settings: QueueSettings,
    ) -> Result<()> {
        let _: () = self
            .redis
            .conn()
            .hset_multiple(
                self.redis.keys.concert(concert).cfg(),
                &settings.to_redis_fields(),
            )
            .await?;
        Ok(())
    }

    /// Ends a sale: PostgreSQL records when, Redis stops joins, admissions and
    /// holds and dismisses the line. Returns when it closed and how many were
    /// still waiting.
    pub async fn close(&self, concert: ConcertId) -> Result<(DateTime<Utc>, u64)> {
        let closed_at = self.catalog.close(concert).await?;
        let keys = self.redis.keys.concert(concert);
        let dismissed: u64 = self
            .redis
            .scripts
            .close
            .key(keys.cfg())
            .key(keys.wait())
            .invoke_async(&mut self.redis.conn())
            .await?;
        Ok((closed_at, dismissed))
    }

    /// Removes one person from the line or their admission. Returns where they
    /// stood (`None` when nowhere) and their open reservation, for the caller
    /// to release.
    pub async fn evict(
        &self,
        concert: ConcertId,
        user: UserId,
    ) -> Result<Option<(TicketStatus, Option<ReservationId>)>> {
        let keys = self.redis.keys.concert(concert);
        let (was, reservation): (String, String) = self
            .redis
            .scripts
            .evict
            .key(keys.wait())
            .key(keys.active())
            .key(keys.jti())
            .key(keys.user_res())
            .key(keys.draw())
            .arg(user.to_string())
            .invoke_async(&mut self.redis.conn())
            .await?;
        let status = match was.as_str() {
            "waiting" => TicketStatus::Waiting,
            "active" => TicketStatus::Active,
            _ => return Ok(None),
        };
        Ok(Some((status, reservation.parse().ok())))
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

/// What Redis says of a place in line, before it is turned into a ticket.
struct Standing {
    status: TicketStatus,
    position: u64,
    active_remaining_ms: u64,
    line: LineFacts,
}

/// What the join and status scripts say of the whole line (`line_facts` in
/// `lua/_lib.lua`): the estimate and the poll interval are computed from it.
#[derive(Clone, Copy, Debug)]
struct LineFacts {
    admit_per_second: u32,
    /// The concert's idle timeout: polls are asked for at most a third of it apart.
    idle_timeout_ms: u64,
    poll_budget_per_second: u32,
    /// The measured admission rate's numerator and denominator (see `lua/admit.lua`).
    rate_admitted: f64,
    rate_seconds: f64,
    /// People in line.
    waiting: u64,
}

impl LineFacts {
    const NONE: LineFacts = LineFacts {
        admit_per_second: 1,
        idle_timeout_ms: 0,
        poll_budget_per_second: 1,
        rate_admitted: 0.0,
        rate_seconds: 0.0,
        waiting: 0,
    };

    /// When the person at `position` should poll again: within the line's poll
    /// budget, every second at the head (see [`polling`]).
    fn poll_after_ms(&self, position: u64) -> u64 {
        polling::poll_after_ms(
            position,
            self.waiting,
            self.poll_budget_per_second,
            self.idle_timeout_ms,
        )
    }

    /// The six facts starting at `offset` of a script's reply.
    fn from_reply(reply: &[redis::Value], offset: usize) -> Result<Self> {
        Ok(Self {
            admit_per_second: field(reply, offset)?,
            idle_timeout_ms: field(reply, offset + 1)?,
            poll_budget_per_second: field(reply, offset + 2)?,
            rate_admitted: field(reply, offset + 3)?,
            rate_seconds: field(reply, offset + 4)?,
            waiting: field(reply, offset + 5)?,
        })
    }
}

impl Standing {
    const EXPIRED: Standing = Standing {
        status: TicketStatus::Expired,
        position: 0,
        active_remaining_ms: 0,
        line: LineFacts::NONE,
    };

    /// The ticket, with the estimated wait (the line ahead at the current rate,
    /// plus the time until the sale opens) and when to poll next.
    fn into_ticket(
        self,
        token: String,
        user: UserId,
        concert: ConcertId,
        opens_at: Option<DateTime<Utc>>,
    ) -> QueueTicket {
        let line = self.line;
        let rate =
            estimate::admission_rate(line.admit_per_second, line.rate_admitted, line.rate_seconds);
        let opens_in_ms =
            opens_at.map_or(0, |at| (at - Utc::now()).num_milliseconds().max(0) as u64);
        let opens_in_seconds = opens_in_ms.div_ceil(1000);
        let mut estimated_wait_seconds_p90 = 0;
        let (position, estimated_wait_seconds, active_remaining_seconds, poll_after_ms) =
            match self.status {
                // In the pre-queue: the place is drawn at the opening.
                TicketStatus::Waiting if self.position == 0 => {
                    estimated_wait_seconds_p90 = opens_in_seconds;
                    let poll = polling::prequeue_poll_after_ms(
                        user.as_uuid().as_u128() as u64,
                        opens_in_ms,
                        line.waiting,
                        line.poll_budget_per_second,
                        line.idle_timeout_ms,
                    );
                    (0, opens_in_seconds, 0, poll)
                }
                TicketStatus::Waiting => {
                    let until_open = opens_in_seconds;
                    let (wait, p90) = estimate::wait_seconds(self.position, rate);
                    estimated_wait_seconds_p90 = p90 + until_open;
                    let wait = wait + until_open;
                    (self.position, wait, 0, line.poll_after_ms(self.position))
                }
                TicketStatus::Active => {
                    let poll = self.active_remaining_ms.clamp(MIN_POLL_MS, ACTIVE_POLL_MS);
                    (0, 0, self.active_remaining_ms.div_ceil(1000), poll)
                }
                // The place is kept; no estimate holds until seats come back.
                TicketStatus::SoldOut => (self.position, 0, 0, line.poll_after_ms(self.position)),
                TicketStatus::Expired => (0, 0, 0, 0),
            };
        QueueTicket {
            token,
            user_id: user,
            concert_id: concert,
            status: self.status,
            position,
            estimated_wait_seconds,
            estimated_wait_seconds_p90,
            active_remaining_seconds,
            poll_after_ms,
            opens_in_seconds,
        }
    }
}
