//! Users and their prepaid balances, in PostgreSQL. Every charge is one
//! `UPDATE ... SET balance = balance + $1` under the row lock plus a ledger entry,
//! so concurrent charges never lose an update.

use crate::domain::{ChargeAmount, ChargePolicy, UserId};
use crate::error::{Error, ErrorCode, Result};
use crate::idempotency::{self, Endpoint, IdempotencyKey, Idempotent, KeyedRequest};
use crate::reservation::ReservationService;
use crate::store::postgres;
use crate::telemetry::metrics as m;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct Balance {
    pub user_id: UserId,
    pub balance: i64,
}

#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct Charged {
    pub user_id: UserId,
    pub balance: i64,
    pub charged: i64,
}

#[derive(Clone)]
pub struct WalletService {
    pool: PgPool,
    policy: ChargePolicy,
    reservations: ReservationService,
}

pub fn user_not_found() -> Error {
    Error::USER_NOT_FOUND
}

impl WalletService {
    pub fn new(pool: PgPool, policy: ChargePolicy, reservations: ReservationService) -> Self {
        Self {
            pool,
            policy,
            reservations,
        }
    }

    pub fn policy(&self) -> ChargePolicy {
        self.policy
    }

    /// A new user with an empty wallet.
    pub async fn create_user(&self) -> Result<UserId> {
        let user = UserId::new();
        let mut tx = postgres::begin(&self.pool).await?;
        sqlx::query("INSERT INTO users (user_id) VALUES ($1)")
            .bind(user.as_uuid())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO wallets (user_id, balance) VALUES ($1, 0)")
            .bind(user.as_uuid())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn balance(&self, user: UserId) -> Result<Balance> {
        let balance: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM wallets WHERE user_id = $1")
                .bind(user.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        let balance = balance.ok_or_else(user_not_found)?;
        Ok(Balance {
            user_id: user,
            balance,
        })
    }

    /// Adds to the balance. Refused while the user holds a seat anywhere: the
    /// price of a held seat was shown against the balance of that moment. With
    /// an idempotency key, a retry replays the first answer and adds nothing.
    pub async fn charge(
        &self,
        user: UserId,
        amount: ChargeAmount,
        key: Option<IdempotencyKey>,
    ) -> Result<Idempotent<Charged>> {
        let outcome = self.charge_keyed(user, amount, key).await;
        let label = match &outcome {
            Ok(Idempotent::Fresh(charged)) => {
                metrics::counter!(m::CHARGED_WON).increment(charged.charged as u64);
                "charged"
            }
            Ok(Idempotent::Replayed(_)) => "replayed",
            Err(e) if matches!(e.code(), ErrorCode::ReservationInProgress) => "refused_holding",
            Err(_) => "error",
        };
        metrics::counter!(m::CHARGES, "outcome" => label).increment(1);
        outcome
    }

    #[tracing::instrument(level = "debug", name = "sql_charge", skip_all, fields(%user))]
    async fn charge_keyed(
        &self,
        user: UserId,
        amount: ChargeAmount,
        key: Option<IdempotencyKey>,
    ) -> Result<Idempotent<Charged>> {
        let keyed = key.map(|key| {
            KeyedRequest::new(
                user,
                Endpoint::Charge,
                key,
                &json!({ "amount": amount.won() }),
            )
        });
        if let Some(keyed) = &keyed
            && let Some(stored) = idempotency::lookup(&self.pool, keyed).await?
        {
            return Ok(Idempotent::Replayed(stored));
        }
        if self.reservations.is_holding(user).await? {
            return Err(Error::RESERVATION_IN_PROGRESS);
        }
        let mut tx = postgres::begin(&self.pool).await?;
        if let Some(keyed) = &keyed
            && let Some(stored) = idempotency::claim(&mut tx, keyed).await?
        {
            return Ok(Idempotent::Replayed(stored));
        }
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE wallets SET balance = balance + $2, updated_at = now()
             WHERE user_id = $1 RETURNING balance",
        )
        .bind(user.as_uuid())
        .bind(amount.won())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22003") => {
                Error::BALANCE_LIMIT
            }
            _ => e.into(),
        })?;
        let balance = balance.ok_or_else(user_not_found)?;
        let entry: i64 = sqlx::query_scalar(
            "INSERT INTO ledger (user_id, kind, amount, balance_after) VALUES ($1, 'charge', $2, $3)
             RETURNING entry_id",
        )
        .bind(user.as_uuid())
        .bind(amount.won())
        .bind(balance)
        .fetch_one(&mut *tx)
        .await?;
        let charged = Charged {
            user_id: user,
            balance,
            charged: amount.won(),
        };
        if let Some(keyed) = &keyed {
            let body = serde_json::to_value(charged).map_err(|e| Error::Internal(e.into()))?;
            idempotency::complete(&mut tx, keyed, 200, &body, Some(entry)).await?;
        }
        tx.commit().await?;
        Ok(Idempotent::Fresh(charged))
    }
}
