//! The one error type of lineup's services. `http::error` maps each variant to a
//! status code and the JSON error body of DESIGN.md; nothing else decides that.

use crate::domain::{ReservationId, SeatNo};
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed or breaks a policy (amount, seat count...).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },

    /// 401: no token, a forged or unreadable one, or a token of the wrong kind.
    #[error("{message}")]
    Unauthenticated {
        code: &'static str,
        message: &'static str,
    },

    /// 403: an authentic token that may not do this.
    #[error("{message}")]
    Forbidden {
        code: &'static str,
        message: &'static str,
    },

    /// 404: an unknown id.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },

    /// 404 `seat_not_found`: seats that the schedule does not have.
    #[error("seats {0:?} do not exist on this schedule")]
    SeatNotFound(Vec<SeatNo>),

    /// 409 `seat_unavailable`: seats already sold or held.
    #[error("seats {0:?} are not available")]
    SeatUnavailable(Vec<SeatNo>),

    /// 409 `reservation_exists`: one open reservation per user per concert.
    #[error("an open reservation already exists")]
    ReservationExists(ReservationId),

    /// 409: any other state conflict.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },

    /// 422: well-formed but inconsistent (other than an amount mismatch).
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: &'static str,
    },

    /// 402 `insufficient_balance`.
    #[error("balance {balance} is less than {amount}")]
    InsufficientBalance { balance: i64, amount: i64 },

    /// 422 `amount_mismatch`: the amount paid differs from the reservation's.
    #[error("amount {amount} differs from the reservation's {expected}")]
    AmountMismatch { amount: i64, expected: i64 },

    /// 429 `rate_limited`: an abuse limit; try again after `retry_after`.
    #[error("too many requests")]
    RateLimited { retry_after: Duration },

    /// 503 `timeout`: the request took longer than the request timeout.
    #[error("the request took too long")]
    Timeout,

    /// 503 `queue_full`: the line is at its `max_waiting` cap.
    #[error("the line is full")]
    QueueFull { retry_after: Duration },

    /// 503 `unavailable`: Redis or PostgreSQL does not answer.
    #[error("a dependency is unavailable")]
    Unavailable(#[source] anyhow::Error),

    /// 500: a bug; the details go to the log, never to the client.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl Error {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    /// Whether this error carries the given code.
    pub fn is_code(&self, wanted: &str) -> bool {
        match self {
            Error::Invalid { code, .. } | Error::NotFound { code, .. } => *code == wanted,
            Error::Unauthenticated { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Conflict { code, .. }
            | Error::Unprocessable { code, .. } => *code == wanted,
            _ => false,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(anyhow::anyhow!(message.into()))
    }

    pub const TOKEN_EXPIRED: Error = Error::Forbidden {
        code: "token_expired",
        message: "this queue token is no longer valid; join the line again",
    };
    pub const NOT_ADMITTED: Error = Error::Forbidden {
        code: "not_admitted",
        message: "you are still waiting in line",
    };
    pub const NOT_YOURS: Error = Error::Forbidden {
        code: "forbidden",
        message: "this token may not access another user's data",
    };
    pub const WRONG_CONCERT: Error = Error::Forbidden {
        code: "wrong_concert",
        message: "this queue token is for another concert",
    };
    pub const SALE_CLOSED: Error = Error::Conflict {
        code: "sale_closed",
        message: "this sale is over",
    };
    pub const PAYMENT_IN_PROGRESS: Error = Error::Conflict {
        code: "payment_in_progress",
        message: "this reservation is being paid",
    };
}

/// Redis errors: an unreachable or overloaded server is an outage (503), anything
/// else (a script bug, a wrong type) is ours (500).
impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        let outage = e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_unrecoverable_error()
            || matches!(
                e.kind(),
                redis::ErrorKind::Server(
                    redis::ServerErrorKind::BusyLoading
                        | redis::ServerErrorKind::TryAgain
                        | redis::ServerErrorKind::ClusterDown
                        | redis::ServerErrorKind::MasterDown
                        | redis::ServerErrorKind::ReadOnly
                )
            );
        if outage {
            Error::Unavailable(anyhow::Error::new(e).context("Redis is unavailable"))
        } else {
            Error::Internal(anyhow::Error::new(e).context("Redis command failed"))
        }
    }
}

/// PostgreSQL errors: pool exhaustion, lost connections and server shutdown are
/// outages (503); constraint violations the services did not expect are bugs (500).
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        let outage = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            // The other end answered outside the protocol: a connection cut
            // while being set up (during TLS negotiation, sqlx reads the cut
            // as an unexpected answer to its SSLRequest) or a broken proxy.
            sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // 08: connection exception; 57P: operator intervention (shutdown);
                // 53: insufficient resources; 57014: statement_timeout cancelled
                // it; 25P03: idle_in_transaction_session_timeout ended the session.
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "57014"
                    || code == "25P03"
            }),
            _ => false,
        };
        if outage {
            Error::Unavailable(anyhow::Error::new(e).context("PostgreSQL is unavailable"))
        } else {
            Error::Internal(anyhow::Error::new(e).context("PostgreSQL query failed"))
        }
    }
}
