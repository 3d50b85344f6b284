//! Access and queue tokens: JWTs signed HS256 with the server's key.
//!
//! Both carry `typ`, and a token of one `typ` is never accepted where the other
//! is expected. A queue token's signature only proves it was issued here; whether
//! it is waiting, active or expired is read from Redis on every request.

use crate::domain::{ConcertId, UserId};
use crate::error::Error;
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
    pub iat: u64,
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

    /// The queue token of a place in line. Deterministic: the jti is the order
    /// number, which is Redis time in microseconds at joining, so `iat` and `exp`
    /// follow from it and joining again yields the very same token.
    pub fn issue_queue(&self, user: UserId, concert: ConcertId, jti: &str) -> String {
        let iat = jti
            .parse::<u64>()
            .map_or_else(|_| unix_now(), |us| us / 1_000_000);
        self.sign(&QueueClaims {
            sub: user,
            cid: concert,
            jti: jti.to_owned(),
            iat,
            exp: iat + self.queue_ttl.as_secs(),
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

    #[test]
    fn tokens_verify_with_their_own_kind_only() {
        let keys = keys(KEY);
        let user = UserId::new();
        let concert = ConcertId::new();
        let access = keys.issue_access(user);
        let joined_us = unix_now() * 1_000_000 + 123_456;
        let queue = keys.issue_queue(user, concert, &joined_us.to_string());

        assert_eq!(keys.verify_access(&access), Ok(user));
        let claims = keys.verify_queue(&queue).unwrap();
        assert_eq!((claims.sub, claims.cid), (user, concert));
        assert_eq!(claims.iat, joined_us / 1_000_000);

        assert_eq!(keys.verify_access(&queue), Err(TokenError::Invalid));
        assert_eq!(keys.verify_queue(&access).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn a_queue_token_is_the_same_for_the_same_place() {
        let keys = keys(KEY);
        let (user, concert) = (UserId::new(), ConcertId::new());
        let now_us = unix_now() * 1_000_000;
        assert_eq!(
            keys.issue_queue(user, concert, &now_us.to_string()),
            keys.issue_queue(user, concert, &now_us.to_string())
        );
    }

    #[test]
    fn forged_and_expired_tokens_are_told_apart() {
        let user = UserId::new();
        let forged = keys("another-key-another-key-another-key").issue_access(user);
        assert_eq!(keys(KEY).verify_access(&forged), Err(TokenError::Invalid));

        // Issued at the Unix epoch plus one second: long expired.
        let old = keys(KEY).issue_queue(user, ConcertId::new(), "1000000");
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
