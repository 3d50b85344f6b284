use super::extract::{
    AccessUser, ApiJson, ApiPath, IdempotencyKeyHeader, idempotent_response, integer_won,
};
use crate::abuse::Action;
use crate::app::AppState;
use crate::domain::{ChargeAmount, ChargePolicy, UserId};
use crate::error::Error;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", post(sign_up))
        .route("/api/v1/users/{user_id}/balance", get(balance))
        .route("/api/v1/users/{user_id}/balance/charge", post(charge))
}

/// A new user with a zero balance and an access token. The body is empty or `{}`.
async fn sign_up(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), Error> {
    check_sign_up_body(&body)?;
    let user = state.wallet.create_user().await?;
    let access_token = state.tokens.issue_access(user);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user_id": user, "access_token": access_token })),
    ))
}

async fn balance(
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
            "invalid_body",
            "the body must be empty or {}",
        )),
        Err(e) => Err(Error::invalid(
            "invalid_json",
            format!("the body is not JSON: {e}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChargeBody {
    amount: Value,
}

impl ChargeBody {
    pub(super) fn amount(&self, policy: ChargePolicy) -> Result<ChargeAmount, Error> {
        ChargeAmount::parse(integer_won(&self.amount, "invalid_amount")?, policy)
            .map_err(|message| Error::invalid("invalid_amount", message))
    }
}

async fn charge(
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
