//! Extractors whose rejections are lineup's error bodies (axum's own would answer
//! plain text, 415 or 422), and the three kinds of bearer auth.

use super::state::AppState;
use crate::domain::UserId;
use crate::error::{Error, ErrorCode};
use crate::tokens::QueueClaims;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

/// A JSON body; malformed JSON, a missing content type or a body of the wrong
/// shape is a 400 with the error body, one past the body limit a 413.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct ApiJson<T>(pub T);

/// Path parameters; an id that is not a UUID is a 400 `invalid_id`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct ApiPath<T>(pub T);

/// Query parameters; a malformed query is a 400 `invalid_query`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => ErrorCode::InvalidBody,
            JsonRejection::JsonSyntaxError(_) => ErrorCode::InvalidJson,
            JsonRejection::MissingJsonContentType(_) => ErrorCode::InvalidContentType,
            JsonRejection::BytesRejection(_) => {
                return body_error(rejection.status(), rejection.body_text());
            }
            _ => ErrorCode::InvalidBody,
        };
        Error::invalid(code, rejection.body_text())
    }
}

/// A raw body that could not be read: past the body limit is a 413
/// `body_too_large`, anything else a 400 `invalid_body`, both with the error body
/// (axum's own answer is plain text).
impl From<BytesRejection> for Error {
    fn from(rejection: BytesRejection) -> Self {
        body_error(rejection.status(), rejection.body_text())
    }
}

fn body_error(status: StatusCode, text: String) -> Error {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ErrorCode::BodyTooLarge
    } else {
        ErrorCode::InvalidBody
    };
    Error::invalid(code, text)
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        Error::invalid(
            ErrorCode::InvalidId,
            format!("the path is malformed: {}", rejection.body_text()),
        )
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        Error::invalid(ErrorCode::InvalidQuery, rejection.body_text())
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts: &Parts) -> Result<&str, Error> {
    bearer_token(&parts.headers)
}

/// The token of an `Authorization: Bearer <token>` header, for middleware
/// that reads it before the extractors do.
pub(super) fn bearer_token(headers: &HeaderMap) -> Result<&str, Error> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(Error::MISSING_TOKEN)?;
    let value = header.to_str().map_err(|_| Error::INVALID_TOKEN)?;
    let (scheme, token) = value.split_once(' ').ok_or(Error::INVALID_TOKEN)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Error::INVALID_TOKEN);
    }
    Ok(token)
}

/// The user of an access token.
pub struct AccessUser(pub UserId);

impl FromRequestParts<AppState> for AccessUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        Ok(Self(state.tokens.verify_access(token)?))
    }
}

impl AccessUser {
    /// Access tokens reach only their own user's data.
    pub fn must_be(&self, user: UserId) -> Result<(), Error> {
        if self.0 == user {
            Ok(())
        } else {
            Err(Error::NOT_YOURS)
        }
    }
}

/// A queue token within its `exp`; one past it is 401 `token_expired`. Whether
/// it is still current (not revoked) is for the service to ask Redis.
pub struct QueueToken(pub QueueClaims);

impl FromRequestParts<AppState> for QueueToken {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        Ok(Self(state.tokens.verify_queue(token)?))
    }
}

/// A queue token of any age, for the status poll, which answers `expired`
/// rather than refusing an authentic old token.
pub struct AnyAgeQueueToken {
    pub token: String,
    pub claims: QueueClaims,
    pub past_exp: bool,
}

impl FromRequestParts<AppState> for AnyAgeQueueToken {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let (claims, past_exp) = state.tokens.verify_queue_any_age(token)?;
        Ok(Self {
            token: token.to_owned(),
            claims,
            past_exp,
        })
    }
}

/// An operator holding one of the admin tokens, by name (for the audit log).
/// Every token is compared, in constant time, so the answer's timing tells
/// nothing about which one came close.
pub struct Admin {
    pub name: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if state.admins.is_empty() {
            return Err(Error::INVALID_ADMIN_TOKEN);
        }
        let mut operator = None;
        for admin in state.admins.iter() {
            if constant_time_eq::constant_time_eq(
                token.as_bytes(),
                admin.token.expose_secret().as_bytes(),
            ) {
                operator = Some(admin.name.clone());
            }
        }
        operator
            .map(|name| Admin { name })
            .ok_or(Error::INVALID_ADMIN_TOKEN)
    }
}

/// An amount of won from a JSON body: an integer, or a 400 `invalid_amount`.
/// Taken as a raw JSON value so a float or a string gets the amount's own error
/// code rather than `invalid_body`.
pub fn integer_won(value: &serde_json::Value) -> Result<i64, Error> {
    value.as_i64().ok_or_else(|| {
        Error::invalid(
            ErrorCode::InvalidAmount,
            "amount must be an integer number of won",
        )
    })
}

/// The optional `Idempotency-Key` header of a charge or payment; a malformed
/// one is a 400 `invalid_idempotency_key`.
pub struct IdempotencyKeyHeader(pub Option<crate::idempotency::IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let invalid = |message: String| Error::invalid(ErrorCode::InvalidIdempotencyKey, message);
        let text = value
            .to_str()
            .map_err(|_| invalid("Idempotency-Key must be visible ASCII".into()))?;
        crate::idempotency::IdempotencyKey::parse(text)
            .map(|key| Self(Some(key)))
            .map_err(invalid)
    }
}

/// The answer of a keyed endpoint: `status` and the body when done now, or the
/// stored first answer with `Idempotent-Replayed: true`.
pub fn idempotent_response<T: serde::Serialize>(
    status: StatusCode,
    outcome: crate::idempotency::Idempotent<T>,
) -> Response {
    use crate::idempotency::Idempotent;
    match outcome {
        Idempotent::Fresh(body) => (status, axum::Json(body)).into_response(),
        Idempotent::Replayed(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(status);
            (
                status,
                [("idempotent-replayed", "true")],
                axum::Json(stored.body),
            )
                .into_response()
        }
    }
}
