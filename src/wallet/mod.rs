//! Users and their prepaid balances, in PostgreSQL: the `users`, `wallets` and
//! `ledger` tables are written here and nowhere else. Every movement of money is
//! one `UPDATE` of the balance under its row lock plus a ledger entry
//! (`ledger.rs`), so concurrent charges and payments never lose an update; a
//! payment debits through [`debit`] inside its own transaction.

mod ledger;

pub use ledger::{BalanceChange, Debit, Movement, debit, record};

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
        postgres::commit(tx).await?;
        Ok(user)
    }

    pub async fn balance(&self, user: UserId) -> Result<Balance> {
        let balance: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM wallets WHERE user_id = $1")
                .bind(user.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        let balance = balance.ok_or(Error::USER_NOT_FOUND)?;
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
        let change = ledger::credit(&mut tx, user, amount.won()).await?;
        let entry = ledger::record(&mut tx, change, Movement::Charge).await?;
        let charged = Charged {
            user_id: user,
            balance: change.balance_after,
            charged: amount.won(),
        };
        if let Some(keyed) = &keyed {
            let body = serde_json::to_value(charged).map_err(|e| Error::Internal(e.into()))?;
            idempotency::complete(&mut tx, keyed, 200, &body, Some(entry)).await?;
        }
        postgres::commit(tx).await?;
        Ok(Idempotent::Fresh(charged))
    }
}
