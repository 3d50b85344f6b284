//! [`Error`] -> its response: the status of its [`ErrorCode`] and the error body
//! `{"error": {"code", "message"}}` plus any extra fields beside `error`.
//! [`ErrorBody`] is that body as the OpenAPI document describes it.

use crate::error::{Error, ErrorCode};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::time::Duration;
use utoipa::ToSchema;

/// How long a client should wait after an outage before retrying.
const OUTAGE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Every error of the API: `{"error": {"code", "message"}}`. Some errors add
/// fields beside `error` (`seat_nos`, `reservation_id`, `balance`, `amount`,
/// `expected_amount`), so other top-level properties may appear.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "seat_unavailable", "message": "seats 7, 8 are taken"}, "seat_nos": [7, 8]}))]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: what a program matches on.
    code: String,
    /// For people; may change.
    message: String,
}

/// The fields some errors add beside `error`, as [`ErrorBody`] lists them.
pub const EXTRA_FIELDS: [&str; 5] = [
    "seat_nos",
    "reservation_id",
    "balance",
    "amount",
    "expected_amount",
];

/// The response of `code` with `message` and extra top-level fields.
pub fn error_response(code: ErrorCode, message: &str, extra: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert(
        "error".into(),
        json!({ "code": code.wire_name(), "message": message }),
    );
    body.extend(extra);
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(Value::Object(body))).into_response()
}

fn with_retry_after(mut response: Response, after: Duration) -> Response {
    // Whole seconds, rounded up: a client that waits this long is let in.
    let seconds = after.as_millis().div_ceil(1000).max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn seat_list(seats: &[crate::domain::SeatNo]) -> Value {
    Value::from(seats.iter().map(|s| s.get()).collect::<Vec<_>>())
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = self.to_string();
        let extra = |fields: &[(&str, Value)]| {
            Map::from_iter(fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())))
        };
        match self {
            Error::SeatNotFound(seats) | Error::SeatUnavailable(seats) => {
                error_response(code, &message, extra(&[("seat_nos", seat_list(&seats))]))
            }
            Error::ReservationExists(id) => error_response(
                code,
                &message,
                extra(&[("reservation_id", Value::from(id.to_string()))]),
            ),
            Error::InsufficientBalance { balance, amount } => error_response(
                code,
                &message,
                extra(&[
                    ("balance", Value::from(balance)),
                    ("amount", Value::from(amount)),
                ]),
            ),
            Error::AmountMismatch { amount, expected } => error_response(
                code,
                &message,
                extra(&[
                    ("amount", Value::from(amount)),
                    ("expected_amount", Value::from(expected)),
                ]),
            ),
            Error::RateLimited { retry_after } | Error::QueueFull { retry_after } => {
                with_retry_after(error_response(code, &message, Map::new()), retry_after)
            }
            Error::Timeout => with_retry_after(
                error_response(code, &message, Map::new()),
                OUTAGE_RETRY_AFTER,
            ),
            Error::Unavailable(source) => {
                tracing::warn!(error = format!("{source:#}"), "dependency unavailable");
                with_retry_after(
                    error_response(code, &message, Map::new()),
                    OUTAGE_RETRY_AFTER,
                )
            }
            Error::Internal(source) => {
                tracing::error!(error = format!("{source:#}"), "internal error");
                error_response(code, "something went wrong on our side", Map::new())
            }
            Error::Refused { .. } => error_response(code, &message, Map::new()),
        }
    }
}

pub async fn not_found() -> Response {
    Error::NO_SUCH_PATH.into_response()
}

pub async fn method_not_allowed() -> Response {
    Error::METHOD_NOT_ALLOWED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_response_carries_the_status_and_the_wire_name_of_its_code() {
        let response = Error::TOKEN_REVOKED.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "token_revoked");

        let response =
            Error::SeatUnavailable(vec![crate::domain::SeatNo::parse(7).unwrap()]).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["seat_nos"], json!([7]));

        let response = Error::internal("a secret detail").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }
}
