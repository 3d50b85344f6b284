//! [`Documented`], the check every answer of the simulation goes through,
//! reads the error codes of each operation and status from the API's own
//! OpenAPI document.

use crate::support::Documented;
use reqwest::Method;
use serde_json::json;

fn error(code: &str) -> serde_json::Value {
    json!({"error": {"code": code, "message": "m"}})
}

#[test]
fn documented_codes_pass_and_others_do_not() {
    let documented = Documented::load();
    let pay = "/api/v1/payments";
    let release = "/api/v1/reservations/0195f0a4-5b6c-7d8e-9f00-112233445566";

    for (method, path, status, code) in [
        (Method::POST, pay, 409, "payment_in_progress"),
        (Method::POST, pay, 422, "idempotency_key_reused"),
        (Method::POST, pay, 503, "timeout"),
        (Method::DELETE, release, 403, "forbidden"),
        (Method::GET, "/api/v1/queue/status", 401, "invalid_token"),
    ] {
        assert_eq!(
            documented.undocumented(&method, path, status, &error(code)),
            None,
            "{method} {path} {status} {code}"
        );
    }
    for (method, path, status, body) in [
        (Method::POST, pay, 409, error("made_up")),
        (Method::POST, pay, 500, error("internal")),
        (Method::GET, "/api/v1/queue/status", 404, error("not_found")),
        (Method::DELETE, release, 409, json!({"message": "no code"})),
        (Method::PATCH, pay, 400, error("invalid_json")),
    ] {
        assert!(
            documented
                .undocumented(&method, path, status, &body)
                .is_some(),
            "{method} {path} {status} {body}"
        );
    }
    assert_eq!(
        documented.undocumented(&Method::DELETE, release, 204, &json!(null)),
        None
    );
}
