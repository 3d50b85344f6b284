//! Admissions that any site can check: the admission token a person gets once
//! admitted (and the cookie that carries it), and the gate reverse proxies ask
//! before they let a request through to a protected origin
//! (`GET /api/v1/gate/{concert_id}`, nginx `auth_request`, Envoy `ext_authz`,
//! Traefik `forwardAuth`).
//!
//! The gate never touches PostgreSQL: it verifies the token's signature and
//! claims in memory, then asks Redis whether the admission is still live
//! (`lua/gate.lua`, one read-only round trip), remembering a yes for at most a
//! second ([`cache`]) so that an ended admission is refused within a second.

mod cache;
mod cookie;
mod return_to;

pub use cookie::CookieSettings;
pub use return_to::{MAX_RETURN_TO_LEN, ReturnToOrigins};

use crate::config::GateConfig;
use crate::domain::{ConcertId, UserId};
use crate::error::{Error, Result};
use crate::store::RedisStore;
use crate::store::scripts::{self, GateReply, StatusArgs, StatusReply};
use crate::tokens::{QueueClaims, TokenKeys};
use cache::PositiveCache;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A live admission, as the gate tells the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    pub user: UserId,
    pub concert: ConcertId,
}

/// An admission token just issued.
#[derive(Clone, Debug)]
pub struct IssuedAdmission {
    pub token: String,
    /// Unix seconds: the admission's end as it stands now.
    pub expires_at: u64,
    /// How long the cookie should live.
    pub max_age: Duration,
    /// The validated `return_to`, if one was asked for.
    pub return_to: Option<String>,
}

pub struct GateService {
    redis: RedisStore,
    tokens: Arc<TokenKeys>,
    cache: PositiveCache,
    config: GateConfig,
}

impl GateService {
    pub fn new(redis: RedisStore, tokens: Arc<TokenKeys>, config: GateConfig) -> Self {
        Self {
            redis,
            tokens,
            cache: PositiveCache::new(config.cache_for),
            config,
        }
    }

    pub fn cookie(&self) -> &CookieSettings {
        &self.config.cookie
    }

    /// An admission token for an admitted queue token, and `return_to`
    /// checked against the allow-list. A waiting token is `not_admitted`, an
    /// ended one `token_revoked`.
    pub async fn admit(
        &self,
        queue: &QueueClaims,
        return_to: Option<&str>,
    ) -> Result<IssuedAdmission> {
        // Checked first: a refused URL costs no Redis call.
        let return_to = match return_to {
            Some(raw) => Some(
                self.config
                    .return_to
                    .check(raw)
                    .ok_or(Error::RETURN_TO_NOT_ALLOWED)?,
            ),
            None => None,
        };
        let keys = self.redis.admission_keys(queue.cid);
        let args = StatusArgs::state_only(queue.sub, &queue.jti);
        let remaining = match scripts::status(&mut self.redis.conn(), &keys, args).await? {
            StatusReply::Active { remaining_ms } => Duration::from_millis(remaining_ms),
            StatusReply::Waiting { .. } | StatusReply::SoldOut { .. } => {
                return Err(Error::NOT_ADMITTED);
            }
            StatusReply::Expired => return Err(Error::TOKEN_REVOKED),
        };
        let (token, expires_at) = self.tokens.issue_admission(queue, remaining);
        Ok(IssuedAdmission {
            token,
            expires_at,
            max_age: remaining,
            return_to,
        })
    }

    /// Whether the request's admission tokens (`tokens`, the cookie's first,
    /// then a bearer header's) hold a live admission to `concert`: the first
    /// one whose signature, kind, issuer, audience, expiry and concert check
    /// out is asked of the line's live state. Every candidate counts because a
    /// proxy forwards the protected site's own `Authorization` header too.
    pub async fn check(&self, tokens: &[&str], concert: ConcertId) -> Result<Admission> {
        for token in tokens {
            if let Some(user) = self.cache.get(token, concert) {
                return Ok(Admission { user, concert });
            }
        }
        let mut refusal = Error::GATE_NO_ADMISSION;
        let mut admission = None;
        for token in tokens {
            match self.tokens.verify_admission(token) {
                Ok(claims) if claims.cid == concert => {
                    admission = Some((*token, claims));
                    break;
                }
                // The first reason is the one told.
                Ok(_) if tokens.first() == Some(token) => refusal = Error::GATE_OTHER_CONCERT,
                Err(_) if tokens.first() == Some(token) => refusal = Error::GATE_INVALID_ADMISSION,
                Ok(_) | Err(_) => {}
            }
        }
        let Some((token, claims)) = admission else {
            return Err(refusal);
        };
        let keys = self.redis.admission_keys(concert);
        let asked = Instant::now();
        match scripts::gate(&mut self.redis.conn(), &keys, claims.sub, &claims.jti).await? {
            GateReply::Admitted { remaining } => {
                self.cache.put(token, claims.sub, concert, remaining, asked);
                Ok(Admission {
                    user: claims.sub,
                    concert,
                })
            }
            GateReply::NotAdmitted => Err(Error::GATE_ADMISSION_ENDED),
        }
    }
}
