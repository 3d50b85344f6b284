//! The OpenAPI document: the committed `openapi.json` is exactly what the code
//! describes, every error answer is documented with the error body, and the
//! server serves the document and its Swagger UI.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

const REGENERATE: &str = "cargo run --quiet -- openapi > openapi.json";

fn code_spec() -> Value {
    serde_json::to_value(lineup::http::openapi::spec()).unwrap()
}

/// The operations of the document: (method, path, operation).
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

#[test]
fn the_committed_openapi_json_is_what_the_code_describes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let committed = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path} ({e}); make it with `{REGENERATE}`"));
    let generated = lineup::http::openapi::spec_json();
    if committed != generated {
        let committed: Value = serde_json::from_str(&committed).unwrap_or(Value::Null);
        let generated: Value = serde_json::from_str(&generated).unwrap();
        let differing: Vec<&String> = generated["paths"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(path, item)| committed["paths"].get(path.as_str()) != Some(item))
            .map(|(path, _)| path)
            .collect();
        panic!(
            "openapi.json differs from the API the code describes (paths that differ: {differing:?}); \
             regenerate it with `{REGENERATE}` and commit it"
        );
    }
}

#[test]
fn every_operation_documents_its_errors_with_the_error_body_and_a_known_token() {
    let spec = code_spec();
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    for name in [
        "access_token",
        "queue_token",
        "admission_token",
        "admin_token",
    ] {
        assert_eq!(schemes[name]["type"], "http", "{name}");
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
    }
    let operations = operations(&spec);
    assert!(operations.len() >= 24, "{} operations", operations.len());
    for (method, path, operation) in operations {
        let what = format!("{} {path}", method.to_uppercase());
        assert!(
            operation["operationId"].is_string(),
            "{what} has no operationId"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{what} documents no success"
        );
        if path != "/healthz" {
            assert!(
                responses.contains_key("503"),
                "{what} does not document 503"
            );
        }
        for (status, response) in responses {
            let code: u16 = status.parse().unwrap();
            if code >= 400 && path != "/readyz" {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{what} {status}"
                );
            }
            if (code == 429 || code == 503) && path != "/readyz" {
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{what} {status} does not document Retry-After"
                );
            }
        }
        if let Some(security) = operation["security"].as_array() {
            for requirement in security {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{what}: unknown {scheme}");
                }
            }
            assert!(
                responses.contains_key("401"),
                "{what} does not document 401"
            );
        }
        let takes_a_body = operation.get("requestBody").is_some()
            || operation["parameters"]
                .as_array()
                .is_some_and(|params| !params.is_empty());
        if takes_a_body && path != "/api/v1/users" {
            assert!(
                responses.contains_key("400"),
                "{what} does not document 400"
            );
        }
    }
}

#[sqlx::test]
async fn the_document_and_its_swagger_ui_are_served(db: PgPool) {
    let app = spawn_app(db).await;
    let response = app.get("/api/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, code_spec());
    assert_eq!(served["openapi"], "3.1.0");

    // /api/docs redirects to /api/docs/, which the client follows.
    let page = app.get("/api/docs", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.url().path().ends_with("/api/docs/"), "{}", page.url());
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // The page's script points the UI at the document, and it is served from
    // the binary itself (the vendored UI), not from a CDN.
    let initializer = app.get("/api/docs/swagger-initializer.js", None).await;
    assert_eq!(initializer.status(), StatusCode::OK);
    assert!(
        initializer
            .text()
            .await
            .unwrap()
            .contains("/api/openapi.json")
    );
    let bundle = app.get("/api/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(
        !html.contains("https://"),
        "the page loads nothing from outside: {html}"
    );
}

/// The bounds the document gives each queue setting are the ones the server
/// enforces: the documented minimum and maximum are accepted, one beyond is 400.
#[sqlx::test]
async fn the_documented_bounds_of_queue_settings_are_the_servers(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(1, 1).await;
    let path = format!("/admin/v1/concerts/{}/queue", concert.id);
    let spec = code_spec();
    let fields = spec["components"]["schemas"]["QueueSettingsChange"]["properties"]
        .as_object()
        .unwrap();
    let mut bounded = 0;
    for (field, schema) in fields {
        if !schema["type"]
            .as_array()
            .unwrap()
            .contains(&json!("integer"))
        {
            continue;
        }
        for (bound, step) in [("minimum", -1), ("maximum", 1)] {
            let Some(limit) = schema[bound].as_i64() else {
                continue;
            };
            bounded += 1;
            let put = |value: i64| {
                app.request(
                    reqwest::Method::PUT,
                    &path,
                    Some(ADMIN_TOKEN),
                    Some(serde_json::json!({ field.as_str(): value })),
                )
            };
            let at = put(limit).await;
            assert_eq!(at.status(), StatusCode::OK, "{field} = {limit}");
            let body: Value = at.json().await.unwrap();
            assert_eq!(body[field.as_str()], limit, "{field}");
            let beyond = put(limit + step).await;
            assert_eq!(
                beyond.status(),
                StatusCode::BAD_REQUEST,
                "{field} = {} is past the documented {bound}",
                limit + step
            );
        }
    }
    // Every integer setting but paused has a minimum and a maximum
    // (admit_seat_factor, a fraction, is checked below).
    assert_eq!(bounded, 14, "{fields:?}");

    let factor = &fields["admit_seat_factor"];
    assert_eq!(factor["exclusiveMinimum"].as_f64(), Some(0.0), "{factor}");
    assert_eq!(factor["maximum"].as_f64(), Some(100.0), "{factor}");
    for (value, status) in [
        (100.0, StatusCode::OK),
        (0.01, StatusCode::OK),
        (100.5, StatusCode::BAD_REQUEST),
        (0.0, StatusCode::BAD_REQUEST),
    ] {
        let response = app
            .request(
                reqwest::Method::PUT,
                &path,
                Some(ADMIN_TOKEN),
                Some(json!({ "admit_seat_factor": value })),
            )
            .await;
        assert_eq!(response.status(), status, "admit_seat_factor = {value}");
    }
}
