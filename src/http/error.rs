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
    //! The list of codes, [`ErrorCode::ALL`], against the README's error-code
    //! table and the OpenAPI document: a code added, renamed or answered with
    //! another status fails here until both say so.

    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Codes that no operation of the document answers: the fallbacks of
    /// unknown paths and methods, a bug, and the redirect listener's refusal
    /// (it serves no API). The README lists them.
    const OUTSIDE_THE_OPERATIONS: [ErrorCode; 4] = [
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Internal,
        ErrorCode::InvalidHost,
    ];

    /// The README's error-code table: code -> status.
    fn readme_codes() -> BTreeMap<String, u16> {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n### Error codes\n")
            .nth(1)
            .expect("the README has a ### Error codes section");
        let section = section.split("\n#").next().unwrap_or(section);
        let mut codes = BTreeMap::new();
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let code = cells[1].trim_matches('`').to_owned();
            let status = cells[2].parse().unwrap_or_else(|_| panic!("{row}"));
            assert!(codes.insert(code, status).is_none(), "{row} twice");
        }
        codes
    }

    /// Every backticked error code in the document's error answers: code ->
    /// the statuses it is documented under.
    fn openapi_codes() -> BTreeMap<String, BTreeSet<u16>> {
        let spec = serde_json::to_value(crate::http::openapi::spec()).unwrap();
        let mut codes: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
        for item in spec["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let status: u16 = status.parse().unwrap();
                    if status < 400 {
                        continue;
                    }
                    let description = response["description"].as_str().unwrap_or_default();
                    for word in description.split('`').skip(1).step_by(2) {
                        let is_name = word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                        if is_name && !EXTRA_FIELDS.contains(&word) {
                            codes.entry(word.to_owned()).or_default().insert(status);
                        }
                    }
                }
            }
        }
        codes
    }

    #[test]
    fn the_readme_lists_every_code_with_its_status_and_nothing_else() {
        let declared: BTreeMap<String, u16> = ErrorCode::ALL
            .iter()
            .map(|c| (c.wire_name().to_owned(), c.status()))
            .collect();
        assert_eq!(
            readme_codes(),
            declared,
            "README.md's error-code table differs from ErrorCode (src/error.rs)"
        );
    }

    #[test]
    fn the_openapi_document_names_every_code_under_its_status_and_no_other() {
        let documented = openapi_codes();
        for (name, statuses) in &documented {
            let code = ErrorCode::ALL
                .iter()
                .find(|c| c.wire_name() == name)
                .unwrap_or_else(|| panic!("the OpenAPI document names an unknown code `{name}`"));
            assert_eq!(
                statuses,
                &BTreeSet::from([code.status()]),
                "`{name}` is documented under the wrong status"
            );
        }
        for code in ErrorCode::ALL {
            if !OUTSIDE_THE_OPERATIONS.contains(code) {
                assert!(
                    documented.contains_key(code.wire_name()),
                    "no operation of the OpenAPI document answers `{code}`"
                );
            }
        }
    }

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
