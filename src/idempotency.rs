//! Exactly-once money: `Idempotency-Key` on charges and payments.
//!
//! The first response to a key is stored in PostgreSQL in the same transaction
//! as the money it moved, with the ledger entry. A retry with the same key and
//! the same request gets that response back and moves nothing; the same key
//! with a different request is refused (422). Concurrent first attempts meet at
//! the primary key: one inserts, the others wait for its commit and replay it.

use crate::domain::UserId;
use crate::error::{Error, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A client's key: 1 to 255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty()
            || text.len() > MAX_KEY_LEN
            || !text.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

/// Which money-moving endpoint a key belongs to; each has its own keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Charge,
    Payment,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Charge => "charge",
            Endpoint::Payment => "payment",
        }
    }
}

/// One keyed request: who sent it, where, under which key, asking for what.
#[derive(Clone, Debug)]
pub struct KeyedRequest {
    pub user: UserId,
    pub endpoint: Endpoint,
    pub key: IdempotencyKey,
    hash: Vec<u8>,
}

impl KeyedRequest {
    /// `request` is what the request asks for, in a fixed shape (the fields
    /// that decide the outcome), so the same request always hashes the same.
    pub fn new(user: UserId, endpoint: Endpoint, key: IdempotencyKey, request: &Value) -> Self {
        let hash = Sha256::digest(request.to_string().as_bytes()).to_vec();
        Self {
            user,
            endpoint,
            key,
            hash,
        }
    }
}

/// A stored first response.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub status: u16,
    pub body: Value,
}

/// The answer of a keyed endpoint: done now, or the first answer replayed.
#[derive(Debug)]
pub enum Idempotent<T> {
    Fresh(T),
    Replayed(Stored),
}

/// The stored response of this key, if any; 422 when the key was used for a
/// different request.
pub async fn lookup(pool: &PgPool, request: &KeyedRequest) -> Result<Option<Stored>> {
    let mut conn = pool.acquire().await?;
    read(&mut conn, request).await
}

async fn read(conn: &mut PgConnection, request: &KeyedRequest) -> Result<Option<Stored>> {
    let row: Option<(Vec<u8>, i16, Value)> = sqlx::query_as(
        "SELECT request_hash, status, response FROM idempotency_keys
         WHERE user_id = $1 AND endpoint = $2 AND key = $3",
    )
    .bind(request.user.as_uuid())
    .bind(request.endpoint.name())
    .bind(&request.key.0)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some((hash, _, _)) if hash != request.hash => Err(Error::IDEMPOTENCY_KEY_REUSED),
        Some((_, status, body)) => Ok(Some(Stored {
            status: status as u16,
            body,
        })),
    }
}

/// Claims the key inside the transaction that will move the money. `None`: the
/// key is ours, go ahead and [`complete`] it. `Some`: another attempt with this
/// key committed first (this call waited for it); replay its response.
pub async fn claim(tx: &mut PgConnection, request: &KeyedRequest) -> Result<Option<Stored>> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, endpoint, key, request_hash, status, response)
         VALUES ($1, $2, $3, $4, 0, 'null') ON CONFLICT DO NOTHING",
    )
    .bind(request.user.as_uuid())
    .bind(request.endpoint.name())
    .bind(&request.key.0)
    .bind(&request.hash)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        return Ok(None);
    }
    read(tx, request)
        .await?
        .map(Some)
        .ok_or_else(|| Error::internal("an idempotency key vanished while claimed"))
}

/// Stores the response of a claimed key, with the ledger entry it produced
/// (none for a refusal, which moved no money but is answered the same way to
/// every retry).
pub async fn complete(
    tx: &mut PgConnection,
    request: &KeyedRequest,
    status: u16,
    body: &Value,
    ledger_entry: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $4, response = $5, ledger_entry_id = $6
         WHERE user_id = $1 AND endpoint = $2 AND key = $3",
    )
    .bind(request.user.as_uuid())
    .bind(request.endpoint.name())
    .bind(&request.key.0)
    .bind(status as i16)
    .bind(body)
    .bind(ledger_entry)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse("order-7f3a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN)).is_ok());
        for bad in [
            "",
            "with space",
            "탭",
            "line\nbreak",
            &"k".repeat(MAX_KEY_LEN + 1),
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_same_request_hashes_the_same() {
        let user = UserId::new();
        let key = IdempotencyKey::parse("k").unwrap();
        let a = KeyedRequest::new(
            user,
            Endpoint::Charge,
            key.clone(),
            &serde_json::json!({"amount": 5000}),
        );
        let b = KeyedRequest::new(
            user,
            Endpoint::Charge,
            key.clone(),
            &serde_json::json!({"amount": 5000}),
        );
        let c = KeyedRequest::new(
            user,
            Endpoint::Charge,
            key,
            &serde_json::json!({"amount": 5001}),
        );
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
    }
}
