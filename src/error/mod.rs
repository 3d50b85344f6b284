//! The one error type of lineup's services, and every error code a client can
//! read, declared once.
//!
//! [`ErrorCode`] is the list of codes of the error body (`{"error": {"code",
//! "message"}}`), each with its HTTP status. [`Error`] is what services return:
//! a refusal named by its code (built through the named constants and
//! constructors below, each with its one message), a refusal that carries data
//! (the seats taken, the balance short), or an outage or a bug. `http::error`
//! turns an [`Error`] into its response; nothing else decides a status or
//! spells a code. Services never import axum, so the status is a plain number
//! here.

mod code;

pub use code::ErrorCode;

use crate::domain::{ReservationId, SeatNo};
use std::borrow::Cow;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a service call can fail with. Its `Display` is the message a client
/// reads, except for [`Error::Internal`], whose details only go to the log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A refusal its code says everything about; built with the named constants
    /// and constructors below.
    #[error("{message}")]
    Refused {
        code: ErrorCode,
        message: Cow<'static, str>,
    },

    /// `seat_not_found`: seats that the schedule does not have.
    #[error("seats {0:?} do not exist on this schedule")]
    SeatNotFound(Vec<SeatNo>),

    /// `seat_unavailable`: seats already sold or held.
    #[error("seats {0:?} are not available")]
    SeatUnavailable(Vec<SeatNo>),

    /// `reservation_exists`: one open reservation per user per concert.
    #[error("you already hold a reservation for this concert; pay or release it first")]
    ReservationExists(ReservationId),

    /// `insufficient_balance`.
    #[error("your balance of {balance} won does not cover {amount} won")]
    InsufficientBalance { balance: i64, amount: i64 },

    /// `amount_mismatch`: the amount paid differs from the reservation's.
    #[error("the reservation costs {expected} won, not {amount}")]
    AmountMismatch { amount: i64, expected: i64 },

    /// `rate_limited`: an abuse limit; try again after `retry_after`.
    #[error("too many requests; slow down and try again shortly")]
    RateLimited { retry_after: Duration },

    /// `timeout`: the request took longer than the request timeout.
    #[error("the request took too long; try again shortly")]
    Timeout,

    /// `queue_full`: the line is at its `max_waiting` cap.
    #[error("the line is full; try again shortly")]
    QueueFull { retry_after: Duration },

    /// `unavailable`: Redis or PostgreSQL does not answer; the cause is logged.
    #[error("the service is briefly unavailable; try again shortly")]
    Unavailable(#[source] anyhow::Error),

    /// `internal`: a bug; the details go to the log, never to the client.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl Error {
    /// The code of the error body this error is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Refused { code, .. } => *code,
            Error::SeatNotFound(_) => ErrorCode::SeatNotFound,
            Error::SeatUnavailable(_) => ErrorCode::SeatUnavailable,
            Error::ReservationExists(_) => ErrorCode::ReservationExists,
            Error::InsufficientBalance { .. } => ErrorCode::InsufficientBalance,
            Error::AmountMismatch { .. } => ErrorCode::AmountMismatch,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Timeout => ErrorCode::Timeout,
            Error::QueueFull { .. } => ErrorCode::QueueFull,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Malformed input or a broken policy: `code` (a 400 or a 413) with what
    /// exactly is wrong as the message.
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        debug_assert!(
            matches!(code.status(), 400 | 413),
            "{code} is not an input error"
        );
        Self::Refused {
            code,
            message: Cow::Owned(message.into()),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(anyhow::anyhow!(message.into()))
    }

    const fn refused(code: ErrorCode, message: &'static str) -> Self {
        Self::Refused {
            code,
            message: Cow::Borrowed(message),
        }
    }

    // 401
    pub const MISSING_TOKEN: Error = Error::refused(
        ErrorCode::MissingToken,
        "this request needs an Authorization: Bearer token",
    );
    pub const INVALID_TOKEN: Error = Error::refused(
        ErrorCode::InvalidToken,
        "the token is malformed, forged or of the wrong kind (the header reads: Bearer <token>)",
    );
    /// A JWT past its `exp`, of either kind. Not [`Error::TOKEN_REVOKED`].
    pub const TOKEN_PAST_EXP: Error =
        Error::refused(ErrorCode::TokenExpired, "the token has expired");
    pub const GATE_NO_ADMISSION: Error = Error::refused(
        ErrorCode::AdmissionRequired,
        "no admission: neither the admission cookie nor an Authorization: Bearer admission token",
    );
    pub const GATE_INVALID_ADMISSION: Error = Error::refused(
        ErrorCode::AdmissionRequired,
        "the admission token is malformed, forged, expired or of the wrong kind",
    );
    pub const GATE_OTHER_CONCERT: Error = Error::refused(
        ErrorCode::AdmissionRequired,
        "the admission is for another concert",
    );
    pub const GATE_ADMISSION_ENDED: Error = Error::refused(
        ErrorCode::AdmissionRequired,
        "the admission has ended (paid, expired, evicted, left or the sale closed)",
    );
    pub const INVALID_ADMIN_TOKEN: Error = Error::refused(
        ErrorCode::InvalidAdminToken,
        "the admin token is wrong, or the admin API is off (no LINEUP_ADMIN_TOKEN is set)",
    );

    // 403
    /// A queue token that Redis no longer has as current (see
    /// [`ErrorCode::TokenRevoked`]).
    pub const TOKEN_REVOKED: Error = Error::refused(
        ErrorCode::TokenRevoked,
        "this queue token is no longer valid; join the line again",
    );
    pub const NOT_ADMITTED: Error =
        Error::refused(ErrorCode::NotAdmitted, "you are still waiting in line");
    pub const NOT_YOURS: Error = Error::refused(
        ErrorCode::Forbidden,
        "this token may not access another user's data",
    );
    pub const WRONG_CONCERT: Error = Error::refused(
        ErrorCode::WrongConcert,
        "this queue token is for another concert",
    );

    // 400
    pub const RETURN_TO_NOT_ALLOWED: Error = Error::refused(
        ErrorCode::ReturnToNotAllowed,
        "return_to must be an absolute http(s) URL without user info on an origin of LINEUP_RETURN_TO_ORIGINS",
    );

    // 404
    pub const NO_SUCH_PATH: Error = Error::refused(ErrorCode::NotFound, "no such path");
    pub const CONCERT_NOT_FOUND: Error =
        Error::refused(ErrorCode::ConcertNotFound, "no concert has this id");
    pub const SCHEDULE_NOT_FOUND: Error =
        Error::refused(ErrorCode::ScheduleNotFound, "no schedule has this id");
    pub const RESERVATION_NOT_FOUND: Error = Error::refused(
        ErrorCode::ReservationNotFound,
        "no open reservation has this id; its hold may have expired",
    );
    pub const USER_NOT_FOUND: Error =
        Error::refused(ErrorCode::UserNotFound, "no user has this id");
    pub const NOT_IN_LINE: Error = Error::refused(
        ErrorCode::NotInLine,
        "this user is neither waiting nor admitted",
    );

    // 405
    pub const METHOD_NOT_ALLOWED: Error = Error::refused(
        ErrorCode::MethodNotAllowed,
        "this path does not take this method",
    );

    // 409
    pub const SALE_CLOSED: Error = Error::refused(ErrorCode::SaleClosed, "this sale is over");
    pub const SCHEDULE_CLOSED: Error = Error::refused(
        ErrorCode::ScheduleClosed,
        "this date has started; its seats are no longer sold",
    );
    pub const PAYMENT_IN_PROGRESS: Error = Error::refused(
        ErrorCode::PaymentInProgress,
        "this reservation is being paid",
    );
    pub const RESERVATION_IN_PROGRESS: Error = Error::refused(
        ErrorCode::ReservationInProgress,
        "the balance cannot be charged while you hold seats; pay or release them first",
    );
    pub const BALANCE_LIMIT: Error = Error::refused(
        ErrorCode::BalanceLimit,
        "this charge would take the balance beyond what it can hold",
    );

    // 422
    pub const IDEMPOTENCY_KEY_REUSED: Error = Error::refused(
        ErrorCode::IdempotencyKeyReused,
        "this Idempotency-Key was used for a different request",
    );
}

/// realworld-axum-sqlx's `on_constraint`: a violation of one named constraint
/// becomes an API error in one line at the query; any other database error
/// converts as usual (outage or bug).
pub trait ResultExt<T> {
    fn on_constraint(
        self,
        name: &str,
        to_error: impl FnOnce(Box<dyn sqlx::error::DatabaseError>) -> Error,
    ) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(
        self,
        name: &str,
        to_error: impl FnOnce(Box<dyn sqlx::error::DatabaseError>) -> Error,
    ) -> Result<T> {
        self.map_err(|e| match e {
            sqlx::Error::Database(db) if db.constraint() == Some(name) => to_error(db),
            e => e.into(),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_answers_the_code_of_its_kind() {
        assert_eq!(Error::TOKEN_PAST_EXP.code(), ErrorCode::TokenExpired);
        assert_eq!(Error::TOKEN_REVOKED.code(), ErrorCode::TokenRevoked);
        assert_eq!(Error::TOKEN_PAST_EXP.code().status(), 401);
        assert_eq!(Error::TOKEN_REVOKED.code().status(), 403);
        assert_eq!(
            Error::SeatUnavailable(vec![]).code(),
            ErrorCode::SeatUnavailable
        );
        let invalid = Error::invalid(ErrorCode::InvalidSeats, "seat 0 does not exist");
        assert_eq!(invalid.code(), ErrorCode::InvalidSeats);
        assert_eq!(invalid.to_string(), "seat 0 does not exist");
    }

    /// A database error as PostgreSQL reports a broken constraint.
    #[derive(Debug)]
    struct Violation(&'static str);

    impl std::fmt::Display for Violation {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "violates {}", self.0)
        }
    }

    impl std::error::Error for Violation {}

    impl sqlx::error::DatabaseError for Violation {
        fn message(&self) -> &str {
            "duplicate key value violates unique constraint"
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn constraint(&self) -> Option<&str> {
            Some(self.0)
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::UniqueViolation
        }
    }

    #[test]
    fn only_the_named_constraint_becomes_the_given_error() {
        let broken = |name| Err::<(), _>(sqlx::Error::Database(Box::new(Violation(name))));
        let named = broken("payments_reservation_id_key")
            .on_constraint("payments_reservation_id_key", |_| {
                Error::PAYMENT_IN_PROGRESS
            })
            .unwrap_err();
        assert!(matches!(named.code(), ErrorCode::PaymentInProgress));
        let other = broken("payments_pkey")
            .on_constraint("payments_reservation_id_key", |_| {
                Error::PAYMENT_IN_PROGRESS
            })
            .unwrap_err();
        assert!(matches!(other, Error::Internal(_)));
        assert_eq!(
            Ok::<_, sqlx::Error>(7)
                .on_constraint("any", |_| Error::PAYMENT_IN_PROGRESS)
                .unwrap(),
            7
        );
    }
}
