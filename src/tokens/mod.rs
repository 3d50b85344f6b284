//! Access, queue and admission tokens (JWTs): issue and verify.
//!
//! Access tokens are HS256 with the server's shared secret: only lineup reads
//! them, so a symmetric key is the simpler choice. Queue and admission tokens
//! are EdDSA (Ed25519, see [`keys`]) with a `kid`, an issuer and an audience,
//! so that any backend can check them against `/.well-known/jwks.json` without
//! a secret of lineup's. The first key of the set signs; every key verifies,
//! which is what lets a key be rotated without breaking a live token.
//!
//! Every token carries `typ`, and a token of one `typ` is never accepted where
//! another is expected. A queue token's signature only proves it was issued
//! here; whether it is waiting, active or expired is read from Redis on every
//! request. A queue token lives its TTL from its issue or from the sale's
//! opening, whichever is later, and joining again issues a fresh one for the
//! same place. An admission token (the gate's cookie) lives until the end of
//! the admission it was issued in, and the gate checks it against the line's
//! live state too.

mod generate;
pub mod keys;
mod verified;

pub use generate::{KeysArgs, run as run_keys_command};

use crate::config::TokenConfig;
use crate::domain::{ConcertId, UserId};
use crate::error::Error;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use keys::SigningKey;
use secrecy::ExposeSecret;
#[cfg(test)]
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use verified::VerifiedTokens;

const ACCESS: &str = "access";
const QUEUE: &str = "queue";
const ADMISSION: &str = "admission";

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: UserId,
    typ: String,
    iat: u64,
    exp: u64,
}

/// What a verified queue token says (besides `iss` and `aud`, checked on the way in).
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

/// What a verified admission token says: the admitted person (`sub`), the
/// concert (`cid`) and the place in line it came from (`jti`, the queue
/// token's), which must still be the person's current admission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionClaims {
    pub sub: UserId,
    pub cid: ConcertId,
    pub jti: String,
    pub iat: u64,
    /// The end of the admission as it stood when the token was issued.
    pub exp: u64,
    pub typ: String,
}

/// The registered claims every signed token carries around its own.
#[derive(Serialize)]
struct Registered<'a, T> {
    iss: &'a str,
    aud: &'a str,
    #[serde(flatten)]
    claims: &'a T,
}

/// How a token failed to verify.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Forged, unreadable, of the wrong kind, algorithm, key, issuer or audience.
    Invalid,
    /// Authentic but past its `exp`.
    Expired,
}

/// Signs and verifies the three kinds of token.
pub struct TokenKeys {
    access_encoding: EncodingKey,
    access_decoding: DecodingKey,
    access_validation: Validation,
    signer: EncodingKey,
    signer_kid: String,
    /// Every key of the set by `kid`, the signer's included.
    verifiers: HashMap<String, DecodingKey>,
    signed_validation: Validation,
    /// The same checks but `exp`, to read an expired queue token's claims.
    signed_validation_any_age: Validation,
    issuer: String,
    audience: String,
    /// `/.well-known/jwks.json`, serialised once.
    jwks: String,
    access_ttl: Duration,
    queue_ttl: Duration,
    /// Queue and admission tokens whose signatures were checked here.
    verified_queue: VerifiedTokens<QueueClaims>,
    verified_admission: VerifiedTokens<AdmissionClaims>,
}

impl TokenKeys {
    pub fn new(config: &TokenConfig) -> Self {
        let secret = config.key.expose_secret().as_bytes();
        // Only HS256 for access tokens, only EdDSA for the others: a token naming
        // another algorithm (none, RS256, HS256 over a public key...) is refused.
        let mut access_validation = Validation::new(Algorithm::HS256);
        access_validation.leeway = 0;
        access_validation.set_required_spec_claims(&["exp", "sub"]);
        let mut signed_validation = Validation::new(Algorithm::EdDSA);
        signed_validation.leeway = 0;
        signed_validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        signed_validation.set_issuer(&[&config.issuer]);
        signed_validation.set_audience(&[&config.audience]);
        let mut signed_validation_any_age = signed_validation.clone();
        signed_validation_any_age.validate_exp = false;
        let signer = config
            .signing_keys
            .first()
            .expect("the token config holds at least one signing key");
        Self {
            access_encoding: EncodingKey::from_secret(secret),
            access_decoding: DecodingKey::from_secret(secret),
            access_validation,
            signer: EncodingKey::from_ed_der(signer.pkcs8_der()),
            signer_kid: signer.kid().to_owned(),
            verifiers: config
                .signing_keys
                .iter()
                .map(|key| {
                    let decoding = DecodingKey::from_ed_components(&key.x())
                        .expect("a key's own x is base64url");
                    (key.kid().to_owned(), decoding)
                })
                .collect(),
            signed_validation,
            signed_validation_any_age,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            jwks: jwks(&config.signing_keys).to_string(),
            access_ttl: config.access_ttl,
            queue_ttl: config.queue_ttl,
            verified_queue: VerifiedTokens::new(config.verified_cache),
            verified_admission: VerifiedTokens::new(config.verified_cache),
        }
    }

    /// The verification keys as a JWK Set (RFC 7517), signer first.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// The `kid` new queue and admission tokens are signed with.
    pub fn signer_kid(&self) -> &str {
        &self.signer_kid
    }

    pub fn issue_access(&self, user: UserId) -> String {
        let iat = unix_now();
        let claims = AccessClaims {
            sub: user,
            typ: ACCESS.into(),
            iat,
            exp: iat + self.access_ttl.as_secs(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.access_encoding,
        )
        .expect("HS256 signing of plain claims cannot fail")
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

    /// The admission token of an admitted queue token, living `remaining`
    /// (rounded up to a whole second): the admission's end as it stands now.
    pub fn issue_admission(&self, queue: &QueueClaims, remaining: Duration) -> (String, u64) {
        let iat = unix_now();
        let exp = iat + remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
        let token = self.sign(&AdmissionClaims {
            sub: queue.sub,
            cid: queue.cid,
            jti: queue.jti.clone(),
            iat,
            exp,
            typ: ADMISSION.into(),
        });
        (token, exp)
    }

    pub fn verify_access(&self, token: &str) -> Result<UserId, TokenError> {
        let claims: AccessClaims =
            jsonwebtoken::decode(token, &self.access_decoding, &self.access_validation)
                .map(|data| data.claims)
                .map_err(kind_of)?;
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
        let claims = match self.verified_queue.get(token) {
            Some(claims) => claims,
            None => {
                let claims: QueueClaims =
                    self.verify_signed(token, &self.signed_validation_any_age)?;
                if claims.typ != QUEUE || claims.jti.parse::<u64>().is_err() {
                    return Err(TokenError::Invalid);
                }
                self.verified_queue.remember(token, &claims);
                claims
            }
        };
        let expired = claims.exp < unix_now();
        Ok((claims, expired))
    }

    pub fn verify_admission(&self, token: &str) -> Result<AdmissionClaims, TokenError> {
        if let Some(claims) = self.verified_admission.get(token) {
            // The signature was checked when it was remembered; `exp` never was
            // for good: the same test as jsonwebtoken's, with no leeway.
            return match claims.exp < unix_now() {
                true => Err(TokenError::Expired),
                false => Ok(claims),
            };
        }
        let claims: AdmissionClaims = self.verify_signed(token, &self.signed_validation)?;
        if claims.typ != ADMISSION || claims.jti.parse::<u64>().is_err() {
            return Err(TokenError::Invalid);
        }
        self.verified_admission.remember(token, &claims);
        Ok(claims)
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signer_kid.clone());
        let registered = Registered {
            iss: &self.issuer,
            aud: &self.audience,
            claims,
        };
        jsonwebtoken::encode(&header, &registered, &self.signer)
            .expect("Ed25519 signing with a checked key cannot fail")
    }

    /// Checks the header names EdDSA and a key of the set, then the signature,
    /// issuer, audience (and `exp`, when `validation` does).
    fn verify_signed<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifiers.get(kid))
            .ok_or(TokenError::Invalid)?;
        jsonwebtoken::decode::<T>(token, key, validation)
            .map(|data| data.claims)
            .map_err(kind_of)
    }
}

/// The JWK Set of these keys' public halves.
fn jwks(keys: &[SigningKey]) -> serde_json::Value {
    serde_json::json!({ "keys": keys.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() })
}

/// The signature is checked before the claims, so an expired token is authentic.
fn kind_of(e: jsonwebtoken::errors::Error) -> TokenError {
    match e.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        _ => TokenError::Invalid,
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
