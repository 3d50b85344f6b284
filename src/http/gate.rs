//! Admissions other sites can check: the key set (`/.well-known/jwks.json`),
//! the admission token and its cookie (`POST /api/v1/queue/admission`), and
//! the gate reverse proxies ask (`GET /api/v1/gate/{concert_id}`).

use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, QueueToken, bearer_token};
use super::responses::{QueueTokenRefused, RedisDown, TimedOut};
use super::state::AppState;
use crate::domain::{ConcertId, UserId};
use crate::error::Error;
use crate::gate::CookieSettings;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long verifiers may keep the key set. A rotation publishes the next key
/// at least this long before it signs (docs/OPERATIONS.md).
pub const JWKS_MAX_AGE_SECS: u64 = 300;

/// The gate's answer headers: who is admitted, to which concert.
pub const USER_HEADER: &str = "x-lineup-user";
pub const CONCERT_HEADER: &str = "x-lineup-concert";

/// Routes behind the per-address limit (the admission is asked for by browsers).
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/queue/admission", post(admission))
}

/// Routes outside it: the gate is asked by a proxy on every request it
/// forwards (one address for all its users), the key set by backends.
pub fn unlimited_router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/v1/gate/{concert_id}", get(gate))
}

/// The public keys queue and admission tokens are verified with (RFC 7517):
/// Ed25519 (`kty: OKP`, `alg: EdDSA`), each named by its RFC 7638 thumbprint,
/// the signing key first. During a rotation it lists the next key before it
/// signs and the previous one until its last token has expired.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "admission",
    responses(
        (status = 200, description = "The JWK Set", content_type = "application/jwk-set+json", body = JwkSet,
         headers(("Cache-Control" = String, description = "`public, max-age=300`: refetch at most every five minutes, and on an unknown `kid`"))),
        TimedOut,
    )
)]
pub(super) async fn jwks(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json".to_owned()),
            (
                header::CACHE_CONTROL,
                format!("public, max-age={JWKS_MAX_AGE_SECS}"),
            ),
        ],
        state.tokens.jwks().to_owned(),
    )
        .into_response()
}

/// A JWK Set (documentation only; the body is built by `tokens`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Jwk {
    /// `OKP`
    pub kty: String,
    /// `Ed25519`
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// Its RFC 7638 thumbprint, the `kid` of the tokens it signs.
    pub kid: String,
    /// `sig`
    #[serde(rename = "use")]
    #[schema(rename = "use")]
    pub use_: String,
    /// `EdDSA`
    pub alg: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionRequest {
    /// Where to send the person once the cookie is set: an absolute http(s)
    /// URL on an origin of `LINEUP_RETURN_TO_ORIGINS`.
    #[schema(max_length = 2048, example = "https://shop.example/concerts/7")]
    pub return_to: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdmissionResponse {
    /// An EdDSA JWT (`typ: admission`) with `sub` (the user), `cid` (the
    /// concert), `jti` (the place in line), `iss`, `aud` and `exp` (the
    /// admission's end as it stands now). The same token is set as the cookie.
    pub admission_token: String,
    pub expires_at: DateTime<Utc>,
    /// `return_to` as checked and normalised: send the person there.
    pub return_to: Option<String>,
}

/// An admitted queue token's admission token, set as the admission cookie
/// (`Secure; HttpOnly; SameSite=Lax`, named and scoped by settings), and the
/// `return_to` URL checked against the allow-list. Ask again to renew it: its
/// `exp` is the admission's end when it was issued.
#[utoipa::path(
    post,
    path = "/api/v1/queue/admission",
    tag = "admission",
    security(("queue_token" = [])),
    request_body = AdmissionRequest,
    responses(
        (status = 200, description = "The admission token, also set as a cookie", body = AdmissionResponse,
         headers(("Set-Cookie" = String, description = "`<LINEUP_ADMISSION_COOKIE>=<token>; Path=..; Max-Age=..; Secure; HttpOnly; SameSite=Lax[; Domain=..]`"))),
        (status = 400, description = "`return_to_not_allowed`: not an absolute http(s) URL on an allowed origin; `invalid_json`, `invalid_body`, `invalid_content_type`", body = ErrorBody),
        QueueTokenRefused,
        (status = 403, description = "`not_admitted`: still waiting; `token_revoked`: the admission has ended", body = ErrorBody),
        RedisDown,
    )
)]
pub(super) async fn admission(
    State(state): State<AppState>,
    QueueToken(claims): QueueToken,
    ApiJson(request): ApiJson<AdmissionRequest>,
) -> Result<Response, Error> {
    let issued = state
        .gate
        .admit(&claims, request.return_to.as_deref())
        .await?;
    let cookie = state
        .gate
        .cookie()
        .set(&issued.token, issued.max_age.as_secs().max(1));
    let body = AdmissionResponse {
        expires_at: DateTime::from_timestamp(i64::try_from(issued.expires_at).unwrap_or(0), 0)
            .unwrap_or_default(),
        admission_token: issued.token,
        return_to: issued.return_to,
    };
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|_| Error::internal("the admission cookie is not a header value"))?;
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(body),
    )
        .into_response())
}

/// For reverse proxies (nginx `auth_request`, Envoy `ext_authz`, Traefik
/// `forwardAuth`): 204 when the request carries a live admission to this
/// concert, in the admission cookie or an `Authorization: Bearer` admission
/// token (either will do: the protected site's own `Authorization`, which the
/// proxy forwards, does not hide the cookie), 401 otherwise. Never reads PostgreSQL: the token is checked in
/// memory and the admission against the line in Redis; a yes may be
/// remembered for `LINEUP_GATE_CACHE` (1 s at most), so an ended admission is
/// refused within a second.
#[utoipa::path(
    get,
    path = "/api/v1/gate/{concert_id}",
    tag = "admission",
    security((), ("admission_token" = [])),
    params(("concert_id" = ConcertId, Path, description = "The protected concert")),
    responses(
        (status = 204, description = "Admitted",
         headers(
            ("X-Lineup-User" = UserId, description = "The admitted person"),
            ("X-Lineup-Concert" = ConcertId, description = "The concert"),
         )),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        (status = 401, description = "`admission_required`: no admission, a forged, expired or other-concert one, or one that has ended", body = ErrorBody),
        RedisDown,
    )
)]
pub(super) async fn gate(
    State(state): State<AppState>,
    ApiPath(concert): ApiPath<ConcertId>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let tokens = admission_tokens(&headers, state.gate.cookie());
    let admitted = state.gate.check(&tokens, concert).await?;
    let value = |id: String| HeaderValue::from_str(&id).expect("a UUID is a header value");
    Ok((
        StatusCode::NO_CONTENT,
        [
            (
                HeaderName::from_static(USER_HEADER),
                value(admitted.user.to_string()),
            ),
            (
                HeaderName::from_static(CONCERT_HEADER),
                value(admitted.concert.to_string()),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// The most admission tokens one request may have checked: a stale cookie
/// or two beside the live one, and a bearer header's.
const MAX_CANDIDATES: usize = 4;

/// The admission tokens a request carries: the admission cookies', then a
/// bearer header's. A cookie beside another `Authorization` (the protected
/// site's own Basic or bearer credentials, which the proxy forwards) still
/// counts, and so does a live cookie sent after a stale one of the same name.
fn admission_tokens<'a>(headers: &'a HeaderMap, cookie: &CookieSettings) -> Vec<&'a str> {
    let mut tokens: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| cookie.find(value))
        .take(MAX_CANDIDATES - 1)
        .collect();
    tokens.extend(bearer_token(headers).ok());
    tokens
}
