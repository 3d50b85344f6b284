//! The request-body parsing of every endpoint that takes a body, in one call,
//! for the fuzz target in `fuzz/` (built with `--features fuzzing`).

use super::admin::ConcertBody;
use super::extract::ApiJson;
use super::payments::PayBody;
use super::reservations::HoldBody;
use super::users::{ChargeBody, check_sign_up_body};
use crate::domain::ChargePolicy;
use crate::queue::QueueSettingsChange;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::response::IntoResponse;

/// Feeds `bytes` as a JSON body to each extractor and on to the domain's
/// parsers. Every refusal must be a 4xx; a panic or a 5xx is a bug.
pub async fn parse_every_body(bytes: &[u8]) {
    let policy = ChargePolicy {
        min: 1_000,
        max: 10_000_000,
    };
    let refused = |response: axum::response::Response| {
        assert!(
            response.status().is_client_error(),
            "refused with {}",
            response.status()
        );
    };
    if let Err(e) = check_sign_up_body(bytes) {
        refused(e.into_response());
    }
    match ApiJson::<ChargeBody>::from_request(request(bytes), &()).await {
        Ok(ApiJson(body)) => {
            if let Err(e) = body.amount(policy) {
                refused(e.into_response());
            }
        }
        Err(e) => refused(e.into_response()),
    }
    match ApiJson::<HoldBody>::from_request(request(bytes), &()).await {
        Ok(ApiJson(body)) => {
            if let Err(e) = body.selection() {
                refused(e.into_response());
            }
        }
        Err(e) => refused(e.into_response()),
    }
    match ApiJson::<PayBody>::from_request(request(bytes), &()).await {
        Ok(ApiJson(body)) => {
            if let Err(e) = body.amount() {
                refused(e.into_response());
            }
        }
        Err(e) => refused(e.into_response()),
    }
    match ApiJson::<ConcertBody>::from_request(request(bytes), &()).await {
        Ok(ApiJson(body)) => {
            if let Err(e) = body.into_new_concert() {
                refused(e.into_response());
            }
        }
        Err(e) => refused(e.into_response()),
    }
    if let Err(e) = ApiJson::<QueueSettingsChange>::from_request(request(bytes), &()).await {
        refused(e.into_response());
    }
}

fn request(bytes: &[u8]) -> Request {
    Request::builder()
        .method("POST")
        .header("content-type", "application/json")
        .body(Body::from(bytes.to_vec()))
        .expect("a request from bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's seeds, run as a plain test so the entry point never rots.
    #[tokio::test]
    async fn the_seed_bodies_parse_or_are_refused_with_a_4xx() {
        for seed in std::fs::read_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/seeds/request_bodies"
        ))
        .unwrap()
        {
            parse_every_body(&std::fs::read(seed.unwrap().path()).unwrap()).await;
        }
    }
}
