//! [`Error`] -> status code and the error body of DESIGN.md:
//! `{"error": {"code", "message"}}` plus any extra fields beside `error`.

use crate::error::Error;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// How long a client should wait after an outage before retrying.
const OUTAGE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// An error response with extra top-level fields.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: Map<String, Value>,
) -> Response {
    let mut body = Map::new();
    body.insert("error".into(), json!({ "code": code, "message": message }));
    body.extend(extra);
    (status, Json(Value::Object(body))).into_response()
}

fn simple(status: StatusCode, code: &str, message: &str) -> Response {
    error_response(status, code, message, Map::new())
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
        let message = self.to_string();
        match self {
            Error::Invalid { code, message } => simple(StatusCode::BAD_REQUEST, code, &message),
            Error::Unauthenticated { code, message } => {
                simple(StatusCode::UNAUTHORIZED, code, message)
            }
            Error::Forbidden { code, message } => simple(StatusCode::FORBIDDEN, code, message),
            Error::NotFound { code, message } => simple(StatusCode::NOT_FOUND, code, &message),
            Error::SeatNotFound(seats) => error_response(
                StatusCode::NOT_FOUND,
                "seat_not_found",
                &message,
                Map::from_iter([("seat_nos".into(), seat_list(&seats))]),
            ),
            Error::SeatUnavailable(seats) => error_response(
                StatusCode::CONFLICT,
                "seat_unavailable",
                &message,
                Map::from_iter([("seat_nos".into(), seat_list(&seats))]),
            ),
            Error::ReservationExists(id) => error_response(
                StatusCode::CONFLICT,
                "reservation_exists",
                "you already hold a reservation for this concert; pay or release it first",
                Map::from_iter([("reservation_id".into(), Value::from(id.to_string()))]),
            ),
            Error::Conflict { code, message } => simple(StatusCode::CONFLICT, code, message),
            Error::InsufficientBalance { balance, amount } => error_response(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_balance",
                &format!("your balance of {balance} won does not cover {amount} won"),
                Map::from_iter([
                    ("balance".into(), Value::from(balance)),
                    ("amount".into(), Value::from(amount)),
                ]),
            ),
            Error::Unprocessable { code, message } => {
                simple(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            Error::AmountMismatch { amount, expected } => error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "amount_mismatch",
                &format!("the reservation costs {expected} won, not {amount}"),
                Map::from_iter([
                    ("amount".into(), Value::from(amount)),
                    ("expected_amount".into(), Value::from(expected)),
                ]),
            ),
            Error::RateLimited { retry_after } => with_retry_after(
                simple(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests; slow down and try again shortly",
                ),
                retry_after,
            ),
            Error::Timeout => with_retry_after(
                simple(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    "the request took too long; try again shortly",
                ),
                OUTAGE_RETRY_AFTER,
            ),
            Error::QueueFull { retry_after } => with_retry_after(
                simple(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "queue_full",
                    "the line is full; try again shortly",
                ),
                retry_after,
            ),
            Error::Unavailable(source) => {
                tracing::warn!(error = format!("{source:#}"), "dependency unavailable");
                with_retry_after(
                    simple(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the service is briefly unavailable; try again shortly",
                    ),
                    OUTAGE_RETRY_AFTER,
                )
            }
            Error::Internal(source) => {
                tracing::error!(error = format!("{source:#}"), "internal error");
                simple(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side",
                )
            }
        }
    }
}

pub async fn not_found() -> Response {
    simple(StatusCode::NOT_FOUND, "not_found", "no such path")
}

pub async fn method_not_allowed() -> Response {
    simple(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take this method",
    )
}
