//! Middleware that guards every server: abuse limits per client address and
//! per queue token, and a bound on how long one request may take.

use super::extract::bearer_token;
use super::state::AppState;
use crate::abuse::{Action, Poll};
use crate::error::Error;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The client's address: the peer's, unless the peer is a trusted proxy, in
/// which case the nearest address in `X-Forwarded-For` that is not a trusted
/// proxy. An untrusted peer's header is ignored: anyone can write one.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop that is not an address ends what can be believed.
            Err(_) => break,
        }
    }
    client
}

/// The limited action of a routed request, if it is one.
fn action_of(method: &Method, path: &str) -> Option<Action> {
    if method != Method::POST {
        return None;
    }
    match path {
        "/api/v1/concerts/{concert_id}/queue" => Some(Action::Join),
        "/api/v1/reservations" => Some(Action::Reserve),
        "/api/v1/users/{user_id}/balance/charge" => Some(Action::Charge),
        "/api/v1/payments" => Some(Action::Pay),
        _ => None,
    }
}

/// Applies the per-address limit to join, reserve, charge and pay, before any
/// other work (auth included), so a flood of bad tokens is limited too.
pub async fn limit_by_address(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let action = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| action_of(request.method(), path.as_str()));
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let (Some(action), Some(peer)) = (action, peer) {
        let client = client_ip(peer, request.headers(), &state.trusted_proxies);
        if let Err(e) = state.abuse.check_address(action, client).await {
            return e.into_response();
        }
    }
    next.run(request).await
}

/// The polled read of a routed request, if it is one.
fn poll_of(method: &Method, path: &str) -> Option<Poll> {
    // HEAD runs the GET handler (axum drops the body): the same read of Redis.
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    match path {
        "/api/v1/queue/status" => Some(Poll::Status),
        "/api/v1/schedules/{schedule_id}/seats" => Some(Poll::SeatMap),
        _ => None,
    }
}

/// Applies the per-token limit to status polls and seat maps before the
/// handler asks Redis anything: a token polling far faster than it is asked
/// to costs a signature check and a hash lookup. A request without a valid
/// queue token within its `exp` goes on to the handler, which refuses it (or
/// answers `expired`) without Redis as before.
pub async fn limit_polls(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let poll = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| poll_of(request.method(), path.as_str()));
    let claims = poll.and_then(|_| {
        let token = bearer_token(request.headers()).ok()?;
        state.tokens.verify_queue(token).ok()
    });
    if let (Some(poll), Some(claims)) = (poll, claims)
        && let Err(e) = state.abuse.check_poll(poll, claims.cid, claims.sub)
    {
        return e.into_response();
    }
    next.run(request).await
}

/// Drops a client's `x-request-id` unless it is a plain id (1 to 64 letters,
/// digits, `-` or `_`): it is echoed in the response and written to the log,
/// where it must not carry anything else. A fresh id replaces it.
pub async fn sanitize_request_id(mut request: Request, next: Next) -> Response {
    let plain = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !plain {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

/// Answers 503 `timeout` for a request that takes longer than `limit`.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::Timeout.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &headers(&["1.2.3.4"]), &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client may put anything first; only what the proxies appended counts.
        let forwarded = headers(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &forwarded, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers(&[]), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers(&["garbage, 10.0.0.3"]), &trusted),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn only_status_polls_and_seat_maps_count_as_polls() {
        assert_eq!(
            poll_of(&Method::GET, "/api/v1/queue/status"),
            Some(Poll::Status)
        );
        assert_eq!(
            poll_of(&Method::GET, "/api/v1/schedules/{schedule_id}/seats"),
            Some(Poll::SeatMap)
        );
        assert_eq!(
            poll_of(&Method::HEAD, "/api/v1/queue/status"),
            Some(Poll::Status)
        );
        assert_eq!(poll_of(&Method::DELETE, "/api/v1/queue"), None);
        assert_eq!(poll_of(&Method::POST, "/api/v1/reservations"), None);
    }

    #[test]
    fn only_the_four_money_and_line_actions_are_limited() {
        assert_eq!(
            action_of(&Method::POST, "/api/v1/payments"),
            Some(Action::Pay)
        );
        assert_eq!(action_of(&Method::GET, "/api/v1/queue/status"), None);
        assert_eq!(action_of(&Method::POST, "/api/v1/users"), None);
    }
}
