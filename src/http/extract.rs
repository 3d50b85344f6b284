//! Extractors whose rejections are lineup's error bodies (axum's own would answer
//! plain text, 415 or 422), and the three kinds of bearer auth.

use crate::app::AppState;
use crate::domain::UserId;
use crate::error::Error;
use crate::tokens::{QueueClaims, TokenError};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

/// A JSON body; malformed JSON, a missing content type or a body of the wrong
/// shape is a 400 with the error body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> Response {
    let (status, code) = match &rejection {
        JsonRejection::JsonDataError(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::BAD_REQUEST, "invalid_content_type")
        }
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_body"),
    };
    super::error::error_response(status, code, &rejection.body_text(), Default::default())
}

/// A raw body that could not be read: past the body limit is a 413
/// `body_too_large`, anything else a 400 `invalid_body`, both with the error body
/// (axum's own answer is plain text).
pub fn bytes_rejection(rejection: BytesRejection) -> Response {
    let (status, code) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    } else {
        (StatusCode::BAD_REQUEST, "invalid_body")
    };
    super::error::error_response(status, code, &rejection.body_text(), Default::default())
}

/// Path parameters; an id that is not a UUID is a 400 `invalid_id`.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> Response {
    Error::invalid(
        "invalid_id",
        format!("the path is malformed: {}", rejection.body_text()),
    )
    .into_response()
}

/// Query parameters; a malformed query is a 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> Response {
    Error::invalid("invalid_query", rejection.body_text()).into_response()
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts: &Parts) -> Result<&str, Error> {
    let header =
        parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(Error::Unauthenticated {
                code: "missing_token",
                message: "this request needs an Authorization: Bearer token",
            })?;
    let malformed = || Error::Unauthenticated {
        code: "invalid_token",
        message: "the Authorization header must read: Bearer <token>",
    };
    let value = header.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
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

/// A queue token within its `exp`; one past it is 403 `token_expired`.
pub struct QueueToken(pub QueueClaims);

impl FromRequestParts<AppState> for QueueToken {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        match state.tokens.verify_queue(token) {
            Ok(claims) => Ok(Self(claims)),
            Err(TokenError::Expired) => Err(Error::TOKEN_EXPIRED),
            Err(e) => Err(e.into()),
        }
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
            return Err(Error::Unauthenticated {
                code: "invalid_admin_token",
                message: "the admin API is disabled: no LINEUP_ADMIN_TOKEN is set",
            });
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
            .ok_or(Error::Unauthenticated {
                code: "invalid_admin_token",
                message: "the admin token is wrong",
            })
    }
}

/// An amount of won from a JSON body: an integer, or a 400 with `code`. Taken as
/// a raw JSON value so a float or a string gets the amount's own error code.
pub fn integer_won(value: &serde_json::Value, code: &'static str) -> Result<i64, Error> {
    value
        .as_i64()
        .ok_or_else(|| Error::invalid(code, "amount must be an integer number of won"))
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
        let invalid = |message: String| Error::invalid("invalid_idempotency_key", message);
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
