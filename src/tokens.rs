//! Access and queue tokens: JWTs signed HS256 with the server's key.
//!
//! Both carry `typ`, and a token of one `typ` is never accepted where the other
//! is expected. A queue token's signature only proves it was issued here; whether
//! it is waiting, active or expired is read from Redis on every request. A queue
//! token lives its TTL from its issue or from the sale's opening, whichever is
//! later, and joining again issues a fresh one for the same place.

use crate::domain::{ConcertId, UserId};
use crate::error::Error;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ACCESS: &str = "access";
const QUEUE: &str = "queue";

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: UserId,
    typ: String,
    iat: u64,
    exp: u64,
}

/// What a verified queue token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueClaims {
    pub sub: UserId,
    pub cid: ConcertId,
    /// The user's order number in the line when the token was issued; it must
    /// still be the user's current one.
    pub jti: String,
    /// When this token was issued: each join (a re-join too) issues a fresh one.
    pub iat: u64,
    /// Its TTL after `iat` or after the sale's opening, whichever is later.
    pub exp: u64,
    pub typ: String,
}

/// How a token failed to verify.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Forged, unreadable, of the wrong kind or algorithm.
    Invalid,
    /// Authentic but past its `exp`.
    Expired,
}

/// Signs and verifies both kinds of token with one key.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The same checks but `exp`, to read an expired queue token's claims.
    validation_any_age: Validation,
    access_ttl: Duration,
    queue_ttl: Duration,
}

impl TokenKeys {
    pub fn new(key: &SecretString, access_ttl: Duration, queue_ttl: Duration) -> Self {
        let secret = key.expose_secret().as_bytes();
        // Only HS256: a token naming another algorithm (none, RS256...) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let mut validation_any_age = validation.clone();
        validation_any_age.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            validation_any_age,
            access_ttl,
            queue_ttl,
        }
    }

    pub fn issue_access(&self, user: UserId) -> String {
        let iat = unix_now();
        self.sign(&AccessClaims {
            sub: user,
            typ: ACCESS.into(),
            iat,
            exp: iat + self.access_ttl.as_secs(),
        })
    }

    /// The queue token of a place in line (`jti`, its order number), issued
    /// now. It lives the queue TTL from now or from the sale's opening,
    /// whichever is later: someone who joins the pre-queue days before the sale
    /// holds a token that still works through the opening, and renews it by
    /// joining again, which returns a fresh token for the same place.
    pub fn issue_queue(
        &self,
        user: UserId,
        concert: ConcertId,
        jti: &str,
        opens_at: DateTime<Utc>,
    ) -> String {
        let iat = unix_now();
        // Rounded up: the token lives at least its TTL after the opening.
        let opens = opens_at.timestamp() + i64::from(opens_at.timestamp_subsec_nanos() > 0);
        let from = iat.max(u64::try_from(opens).unwrap_or(0));
        self.sign(&QueueClaims {
            sub: user,
            cid: concert,
            jti: jti.to_owned(),
            iat,
            exp: from + self.queue_ttl.as_secs(),
            typ: QUEUE.into(),
        })
    }

    pub fn verify_access(&self, token: &str) -> Result<UserId, TokenError> {
        let claims: AccessClaims = self.verify(token)?;
        if claims.typ != ACCESS {
            return Err(TokenError::Invalid);
        }
        Ok(claims.sub)
    }

    pub fn verify_queue(&self, token: &str) -> Result<QueueClaims, TokenError> {
        match self.verify_queue_any_age(token)? {
            (_, true) => Err(TokenError::Expired),
            (claims, false) => Ok(claims),
        }
    }

    /// An authentic queue token's claims, and whether it is past its `exp`: the
    /// status endpoint answers `expired` for those instead of refusing them.
    pub fn verify_queue_any_age(&self, token: &str) -> Result<(QueueClaims, bool), TokenError> {
        let claims: QueueClaims =
            jsonwebtoken::decode(token, &self.decoding, &self.validation_any_age)
                .map_err(|_| TokenError::Invalid)?
                .claims;
        if claims.typ != QUEUE || claims.jti.parse::<u64>().is_err() {
            return Err(TokenError::Invalid);
        }
        let expired = claims.exp < unix_now();
        Ok((claims, expired))
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    fn verify<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        jsonwebtoken::decode::<T>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                // The signature is checked before the claims, so this token is authentic.
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

impl From<TokenError> for Error {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid => Error::INVALID_TOKEN,
            TokenError::Expired => Error::TOKEN_PAST_EXP,
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(
            &SecretString::from(secret),
            Duration::from_secs(3600),
            Duration::from_secs(3600),
        )
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    /// A Unix time as a chrono time.
    fn at(unix: u64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix as i64, 0).unwrap()
    }

    #[test]
    fn tokens_verify_with_their_own_kind_only() {
        let keys = keys(KEY);
        let user = UserId::new();
        let concert = ConcertId::new();
        let access = keys.issue_access(user);
        let joined_us = unix_now() * 1_000_000 + 123_456;
        let queue = keys.issue_queue(user, concert, &joined_us.to_string(), at(0));

        assert_eq!(keys.verify_access(&access), Ok(user));
        let claims = keys.verify_queue(&queue).unwrap();
        assert_eq!((claims.sub, claims.cid), (user, concert));
        assert_eq!(claims.jti, joined_us.to_string());

        assert_eq!(keys.verify_access(&queue), Err(TokenError::Invalid));
        assert_eq!(keys.verify_queue(&access).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn a_queue_token_lives_its_ttl_from_now_or_from_the_opening_whichever_is_later() {
        let keys = keys(KEY);
        let (user, concert) = (UserId::new(), ConcertId::new());
        let now = unix_now();
        let claims = |opens_at| {
            let token = keys.issue_queue(user, concert, "1700000000000001", opens_at);
            keys.verify_queue(&token).unwrap()
        };
        // Opened a day ago: from now.
        let open = claims(at(now - 86_400));
        assert!(open.iat >= now && open.exp == open.iat + 3600, "{open:?}");
        // Opens in ten days (and a half second, rounded up): from the opening.
        let opening = Utc::now() + chrono::Duration::days(10);
        let opening = opening
            - chrono::Duration::nanoseconds(i64::from(opening.timestamp_subsec_nanos()))
            + chrono::Duration::milliseconds(500);
        let early = claims(opening);
        assert_eq!(
            early.exp,
            opening.timestamp() as u64 + 1 + 3600,
            "{early:?}"
        );
        assert!(early.iat >= now && early.iat < opening.timestamp() as u64);
    }

    #[test]
    fn forged_and_expired_tokens_are_told_apart() {
        let user = UserId::new();
        let forged = keys("another-key-another-key-another-key").issue_access(user);
        assert_eq!(keys(KEY).verify_access(&forged), Err(TokenError::Invalid));

        // Issued at the Unix epoch plus one second: long expired.
        let old = keys(KEY).sign(&QueueClaims {
            sub: user,
            cid: ConcertId::new(),
            jti: "1000000".into(),
            iat: 1,
            exp: 3601,
            typ: QUEUE.into(),
        });
        assert_eq!(keys(KEY).verify_queue(&old), Err(TokenError::Expired));
        let (claims, expired) = keys(KEY).verify_queue_any_age(&old).unwrap();
        assert!(expired);
        assert_eq!(claims.sub, user);
        assert_eq!(
            keys("another-key-another-key-another-key").verify_queue_any_age(&old),
            Err(TokenError::Invalid)
        );

        assert_eq!(
            keys(KEY).verify_access("not.a.jwt"),
            Err(TokenError::Invalid)
        );
    }
}
