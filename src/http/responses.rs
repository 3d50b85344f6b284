//! The error rows of the OpenAPI document that many operations share, each
//! written once as a type: an operation lists it in `responses(..)` beside its
//! own rows. Only documentation: what is answered is decided by
//! [`crate::error::ErrorCode`] and `http::error`. Every row's body is
//! [`ErrorBody`]; a 429 or 503 says `Retry-After`.
#![expect(
    dead_code,
    reason = "only the OpenAPI derive reads these types; none is ever built"
)]

use super::error::ErrorBody;
use utoipa::IntoResponses;

/// 401 of the admin API.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "`missing_token`, `invalid_token` or `invalid_admin_token`"
)]
pub struct AdminTokenRefused(ErrorBody);

/// 401 of an operation that takes an access token.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "`missing_token`, `invalid_token` or `token_expired`: no access token, a forged one, a queue token or one past its exp"
)]
pub struct AccessTokenRefused(ErrorBody);

/// 401 of an operation that takes a queue token within its `exp`.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "`missing_token`, `invalid_token` or `token_expired`: no queue token, a forged one, an access token or one past its exp"
)]
pub struct QueueTokenRefused(ErrorBody);

/// 429 of the four abuse-limited actions (join, hold, charge, pay).
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "`rate_limited`, with `Retry-After`",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct RateLimited(ErrorBody);

/// 429 of the polled reads (status, seat map), limited per queue token.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "`rate_limited`: this queue token polled far faster than it is asked to (by default more than 5 at once or 1 a second sustained, each server counting on its own; see SECURITY.md), with `Retry-After`",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct PollLimited(ErrorBody);

/// 503 of an operation that reads Redis and PostgreSQL.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "`unavailable` (Redis or PostgreSQL) or `timeout`, with `Retry-After`",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct RedisOrPostgresDown(ErrorBody);

/// 503 of an operation that reads only Redis.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "`unavailable` (Redis) or `timeout`, with `Retry-After`",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct RedisDown(ErrorBody);

/// 503 of an operation that reads only PostgreSQL.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "`unavailable` (PostgreSQL) or `timeout`, with `Retry-After`",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct PostgresDown(ErrorBody);

/// 503 of joining the line, which may also find it full.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "`queue_full` (the line is at its cap), `unavailable` (Redis) or `timeout`, with `Retry-After`",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct QueueFullOrRedisDown(ErrorBody);

/// 503 of an operation served from memory: only the request timeout.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "`timeout`: the request took too long",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct TimedOut(ErrorBody);
