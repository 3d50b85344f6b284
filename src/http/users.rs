//! Sign-up, balances and charges, for the holder of an access token.

use super::error::ErrorBody;
use super::extract::{
    AccessUser, ApiJson, ApiPath, IdempotencyKeyHeader, idempotent_response, integer_won,
};
use super::responses::{AccessTokenRefused, PostgresDown, RateLimited};
use super::state::AppState;
use crate::abuse::Action;
use crate::domain::{ChargeAmount, ChargePolicy, UserId};
use crate::error::{Error, ErrorCode};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", post(sign_up))
        .route("/api/v1/users/{user_id}/balance", get(balance))
        .route("/api/v1/users/{user_id}/balance/charge", post(charge))
}

/// A sign-up's body, when there is one: `{}`.
#[derive(ToSchema)]
#[schema(max_properties = 0)]
pub(super) struct SignUpBody {}

#[derive(Serialize, ToSchema)]
pub(super) struct SignedUp {
    user_id: UserId,
    /// Who you are: `Authorization: Bearer <access_token>` (an HS256 JWT, `typ: access`).
    access_token: String,
}

/// A new user with a zero balance and an access token. The body is empty or `{}`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body(content = Option<SignUpBody>, description = "Empty, or `{}`", content_type = "application/json"),
    responses(
        (status = 201, description = "A new user with a zero balance", body = SignedUp),
        (status = 400, description = "`invalid_json` or `invalid_body`: a body other than `{}`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        PostgresDown,
    )
)]
pub(super) async fn sign_up(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SignedUp>), Error> {
    check_sign_up_body(&body?)?;
    let user = state.wallet.create_user().await?;
    let access_token = state.tokens.issue_access(user);
    Ok((
        StatusCode::CREATED,
        Json(SignedUp {
            user_id: user,
            access_token,
        }),
    ))
}

/// One's own prepaid balance.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}/balance",
    tag = "users",
    security(("access_token" = [])),
    params(("user_id" = UserId, Path, description = "The user; must be the access token's")),
    responses(
        (status = 200, description = "The balance, in won", body = crate::wallet::Balance),
        (status = 400, description = "`invalid_id`: the user id is not a UUID", body = ErrorBody),
        AccessTokenRefused,
        (status = 403, description = "`forbidden`: another user's balance", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        PostgresDown,
    )
)]
pub(super) async fn balance(
    State(state): State<AppState>,
    auth: AccessUser,
    ApiPath(user): ApiPath<UserId>,
) -> Result<Json<crate::wallet::Balance>, Error> {
    auth.must_be(user)?;
    Ok(Json(state.wallet.balance(user).await?))
}

/// A sign-up body is empty (whitespace at most) or `{}`.
pub(super) fn check_sign_up_body(body: &[u8]) -> Result<(), Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) if fields.is_empty() => Ok(()),
        Ok(_) => Err(Error::invalid(
            ErrorCode::InvalidBody,
            "the body must be empty or {}",
        )),
        Err(e) => Err(Error::invalid(
            ErrorCode::InvalidJson,
            format!("the body is not JSON: {e}"),
        )),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChargeBody {
    /// Won to add: an integer within the charge policy (1,000 to 10,000,000 by default).
    #[schema(value_type = i64, example = 300000)]
    amount: Value,
}

impl ChargeBody {
    pub(super) fn amount(&self, policy: ChargePolicy) -> Result<ChargeAmount, Error> {
        ChargeAmount::parse(integer_won(&self.amount)?, policy)
            .map_err(|message| Error::invalid(ErrorCode::InvalidAmount, message))
    }
}

/// Adds to one's own balance. Refused while the user holds a seat.
#[utoipa::path(
    post,
    path = "/api/v1/users/{user_id}/balance/charge",
    tag = "users",
    security(("access_token" = [])),
    params(
        ("user_id" = UserId, Path, description = "The user; must be the access token's"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: a retry with the same key and body gets the first answer back and moves no money again"),
    ),
    request_body = ChargeBody,
    responses(
        (status = 200, description = "Charged; the new balance", body = crate::wallet::Charged,
            headers(("idempotent-replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key"))),
        (status = 400, description = "`invalid_amount`, `invalid_json`, `invalid_body`, `invalid_content_type`, `invalid_id` or `invalid_idempotency_key`", body = ErrorBody),
        AccessTokenRefused,
        (status = 403, description = "`forbidden`: another user's balance", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 409, description = "`reservation_in_progress` while the user holds seats; `balance_limit` when the balance could not hold the sum", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused`: the same key with another body", body = ErrorBody),
        RateLimited,
        PostgresDown,
    )
)]
pub(super) async fn charge(
    State(state): State<AppState>,
    auth: AccessUser,
    ApiPath(user): ApiPath<UserId>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<ChargeBody>,
) -> Result<Response, Error> {
    auth.must_be(user)?;
    state.abuse.check_user(Action::Charge, user).await?;
    let amount = body.amount(state.wallet.policy())?;
    let outcome = state.wallet.charge(user, amount, key).await?;
    Ok(idempotent_response(StatusCode::OK, outcome))
}
