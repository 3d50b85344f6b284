//! Money moving in and out of a balance, inside the caller's transaction: a
//! debit or a credit under the wallet's row lock, then the ledger entry that
//! records it. A charge (here) and a payment (`payment/`) both move money
//! only through these, so every balance equals the sum of its ledger entries.

use crate::domain::{PaymentId, UserId};
use crate::error::{Error, Result};
use sqlx::PgConnection;

/// A balance just changed, not recorded yet: [`record`] writes its ledger
/// entry (a payment first writes its own row, which the entry names).
#[derive(Clone, Copy, Debug)]
#[must_use = "a balance change goes into the ledger: pass it to wallet::record"]
pub struct BalanceChange {
    user: UserId,
    /// Won added (positive) or taken (negative or zero).
    amount: i64,
    pub balance_after: i64,
}

/// What a debit found.
#[derive(Debug)]
pub enum Debit {
    Debited(BalanceChange),
    /// Nothing taken: the balance does not cover the amount.
    Insufficient {
        balance: i64,
    },
}

/// Why money moved: the ledger's `kind` and the payment it belongs to.
#[derive(Clone, Copy, Debug)]
pub enum Movement {
    Charge,
    Payment(PaymentId),
}

/// Takes `amount` won from the user's balance if it covers it. The row stays
/// locked until the caller's transaction ends, so concurrent debits and
/// charges of one user queue up instead of losing an update.
pub async fn debit(tx: &mut PgConnection, user: UserId, amount: i64) -> Result<Debit> {
    let balance: Option<i64> =
        sqlx::query_scalar("SELECT balance FROM wallets WHERE user_id = $1 FOR UPDATE")
            .bind(user.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
    let balance = balance.unwrap_or(0);
    if balance < amount {
        return Ok(Debit::Insufficient { balance });
    }
    let balance_after: i64 = sqlx::query_scalar(
        "UPDATE wallets SET balance = balance - $2, updated_at = now() WHERE user_id = $1 RETURNING balance",
    )
    .bind(user.as_uuid())
    .bind(amount)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Debit::Debited(BalanceChange {
        user,
        amount: -amount,
        balance_after,
    }))
}

/// Adds `amount` won to the user's balance: `user_not_found` without a
/// wallet, `balance_limit` past what the column holds.
pub(super) async fn credit(
    tx: &mut PgConnection,
    user: UserId,
    amount: i64,
) -> Result<BalanceChange> {
    let balance: Option<i64> = sqlx::query_scalar(
        "UPDATE wallets SET balance = balance + $2, updated_at = now()
         WHERE user_id = $1 RETURNING balance",
    )
    .bind(user.as_uuid())
    .bind(amount)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("22003") => Error::BALANCE_LIMIT,
        _ => e.into(),
    })?;
    let balance_after = balance.ok_or(Error::USER_NOT_FOUND)?;
    Ok(BalanceChange {
        user,
        amount,
        balance_after,
    })
}

/// Writes the ledger entry of a balance change; returns its id (an
/// idempotency key's stored answer points at it).
pub async fn record(tx: &mut PgConnection, change: BalanceChange, why: Movement) -> Result<i64> {
    let (kind, payment) = match why {
        Movement::Charge => ("charge", None),
        Movement::Payment(payment) => ("payment", Some(payment.as_uuid())),
    };
    let entry: i64 = sqlx::query_scalar(
        "INSERT INTO ledger (user_id, kind, amount, balance_after, payment_id)
         VALUES ($1, $2, $3, $4, $5) RETURNING entry_id",
    )
    .bind(change.user.as_uuid())
    .bind(kind)
    .bind(change.amount)
    .bind(change.balance_after)
    .bind(payment)
    .fetch_one(&mut *tx)
    .await?;
    Ok(entry)
}
