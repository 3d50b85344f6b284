//! Reading what a server answered: ids and times out of JSON bodies, and the
//! error body every refusal carries. Knows nothing of which server answered.

use reqwest::{Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

/// A UUID of a JSON body; panics naming the value when it is not one.
pub fn uuid(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{value} is not a UUID"))
}

/// An RFC 3339 time of a JSON body.
pub fn time_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(
        value
            .as_str()
            .unwrap_or_else(|| panic!("{value} is not a time")),
    )
    .unwrap_or_else(|e| panic!("{value}: {e}"))
    .with_timezone(&chrono::Utc)
}

/// Reads a JSON body and checks the error body shape (a code and a message);
/// returns it.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected {code}");
    let body: Value = response.json().await.expect("error bodies are JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// The claims of a JWT (an access or queue token), read without checking its
/// signature: what a client can see of its own token.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("a JWT's payload is base64url");
    serde_json::from_slice(&bytes).expect("a JWT's payload is JSON")
}
