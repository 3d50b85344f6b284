use super::extract::{
    AccessUser, ApiJson, ApiPath, IdempotencyKeyHeader, QueueToken, idempotent_response,
    integer_won,
};
use crate::abuse::Action;
use crate::app::AppState;
use crate::domain::{ReservationId, UserId};
use crate::error::Error;
use crate::payment::Payment;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payments", post(pay))
        .route("/api/v1/users/{user_id}/payments", get(history))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PayBody {
    reservation_id: ReservationId,
    amount: serde_json::Value,
}

impl PayBody {
    pub(super) fn amount(&self) -> Result<i64, Error> {
        let amount = integer_won(&self.amount, "invalid_amount")?;
        if amount < 0 {
            return Err(Error::invalid(
                "invalid_amount",
                "amount must not be negative",
            ));
        }
        Ok(amount)
    }
}

async fn pay(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<PayBody>,
) -> Result<Response, Error> {
    state.abuse.check_user(Action::Pay, claims.sub).await?;
    let amount = body.amount()?;
    // A payment runs to its end even if the client goes away: cancelled halfway,
    // it would leave a reservation `paying` or a sale Redis never heard of.
    let payments = state.payments.clone();
    let outcome = tokio::spawn(async move {
        payments
            .pay(&claims, body.reservation_id, amount, key)
            .await
    })
    .await
    .map_err(|e| Error::Internal(anyhow::Error::new(e).context("the payment task failed")))??;
    Ok(idempotent_response(StatusCode::CREATED, outcome))
}

#[derive(Serialize)]
struct Payments {
    payments: Vec<Payment>,
}

async fn history(
    State(state): State<AppState>,
    auth: AccessUser,
    ApiPath(user): ApiPath<UserId>,
) -> Result<Json<Payments>, Error> {
    auth.must_be(user)?;
    Ok(Json(Payments {
        payments: state.payments.history(user).await?,
    }))
}
