//! Paying a hold from the balance (keyed by `Idempotency-Key`), and one's
//! payment history.

use super::error::ErrorBody;
use super::extract::{
    AccessUser, ApiJson, ApiPath, IdempotencyKeyHeader, QueueToken, idempotent_response,
    integer_won,
};
use super::responses::{
    AccessTokenRefused, PostgresDown, QueueTokenRefused, RateLimited, RedisOrPostgresDown,
};
use super::state::AppState;
use crate::abuse::Action;
use crate::domain::{ReservationId, UserId};
use crate::error::{Error, ErrorCode};
use crate::payment::Payment;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payments", post(pay))
        .route("/api/v1/users/{user_id}/payments", get(history))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PayBody {
    reservation_id: ReservationId,
    /// The reservation's amount, in won.
    #[schema(value_type = i64, minimum = 0, example = 120000)]
    amount: serde_json::Value,
}

impl PayBody {
    pub(super) fn amount(&self) -> Result<i64, Error> {
        let amount = integer_won(&self.amount)?;
        if amount < 0 {
            return Err(Error::invalid(
                ErrorCode::InvalidAmount,
                "amount must not be negative",
            ));
        }
        Ok(amount)
    }
}

/// Pays one's own held reservation from the balance. 201 and 402 both end the
/// queue token.
#[utoipa::path(
    post,
    path = "/api/v1/payments",
    tag = "payments",
    security(("queue_token" = [])),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: a retry with the same key and body gets the first answer back and moves no money again")),
    request_body = PayBody,
    responses(
        (status = 201, description = "Paid: the seats are the user's", body = Payment,
            headers(("idempotent-replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key"))),
        (status = 400, description = "`invalid_amount`, `invalid_json`, `invalid_body`, `invalid_content_type` or `invalid_idempotency_key`", body = ErrorBody),
        QueueTokenRefused,
        (status = 402, description = "`insufficient_balance` with `balance` and `amount`: nothing debited, the holds released, the token ended", body = ErrorBody),
        (status = 403, description = "`forbidden` (another user's), `not_admitted`, `token_revoked` or `wrong_concert`", body = ErrorBody),
        (status = 404, description = "`reservation_not_found`: unknown, expired, released or paid already", body = ErrorBody),
        (status = 409, description = "`payment_in_progress`: another attempt is deciding it (with an `Idempotency-Key`, answered after waiting up to half the request timeout for that key's answer); or `seat_unavailable` with `seat_nos`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 422, description = "`amount_mismatch` with `amount` and `expected_amount`; `idempotency_key_reused`", body = ErrorBody),
        RateLimited,
        RedisOrPostgresDown,
    )
)]
pub(super) async fn pay(
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

#[derive(Serialize, ToSchema)]
pub(super) struct Payments {
    payments: Vec<Payment>,
}

/// One's own payments, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}/payments",
    tag = "payments",
    security(("access_token" = [])),
    params(("user_id" = UserId, Path, description = "The user; must be the access token's")),
    responses(
        (status = 200, description = "The payments, newest first", body = Payments),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        AccessTokenRefused,
        (status = 403, description = "`forbidden`: another user's payments", body = ErrorBody),
        PostgresDown,
    )
)]
pub(super) async fn history(
    State(state): State<AppState>,
    auth: AccessUser,
    ApiPath(user): ApiPath<UserId>,
) -> Result<Json<Payments>, Error> {
    auth.must_be(user)?;
    Ok(Json(Payments {
        payments: state.payments.history(user).await?,
    }))
}
