//! [`ErrorCode`]: every code of the error body, declared once with its status
//! and its wire name. Adding a code here fails the tests until the README's
//! error-code table and the OpenAPI document name it.

/// Declares [`ErrorCode`]: each variant with its status and its wire name.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($status:literal, $wire:literal), )*) => {
        /// Every code of the error body, with the status it is answered with.
        /// The README's error-code table and the OpenAPI document are checked
        /// against this list by a test (`http::openapi`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &[ErrorCode] = &[$( ErrorCode::$variant, )*];

            /// What the error body's `code` reads: stable, snake_case.
            pub const fn wire_name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                }
            }

            /// The HTTP status a refusal with this code is answered with.
            pub const fn status(self) -> u16 {
                match self {
                    $( ErrorCode::$variant => $status, )*
                }
            }
        }
    };
}

error_codes! {
    /// The body is not JSON.
    InvalidJson = (400, "invalid_json"),
    /// The body is JSON of the wrong shape (a missing or unknown field, a wrong type).
    InvalidBody = (400, "invalid_body"),
    /// A body without `Content-Type: application/json`.
    InvalidContentType = (400, "invalid_content_type"),
    /// A path parameter that is not a UUID.
    InvalidId = (400, "invalid_id"),
    /// A malformed query string.
    InvalidQuery = (400, "invalid_query"),
    /// Seat numbers out of range, repeated, none or more than four.
    InvalidSeats = (400, "invalid_seats"),
    /// An amount that is not an integer number of won, or outside the charge policy.
    InvalidAmount = (400, "invalid_amount"),
    /// A new concert that breaks a rule (empty title, no dates, a seat twice...).
    InvalidConcert = (400, "invalid_concert"),
    /// A queue setting out of range.
    InvalidSettings = (400, "invalid_settings"),
    /// An `Idempotency-Key` header that is not 1 to 255 visible ASCII characters.
    InvalidIdempotencyKey = (400, "invalid_idempotency_key"),
    /// A `return_to` URL whose origin is not on `LINEUP_RETURN_TO_ORIGINS`,
    /// or that is not a plain absolute http(s) URL.
    ReturnToNotAllowed = (400, "return_to_not_allowed"),
    /// The redirect-to-HTTPS listener got no usable `Host` header.
    InvalidHost = (400, "invalid_host"),
    /// No `Authorization: Bearer` header.
    MissingToken = (401, "missing_token"),
    /// A malformed, forged or wrong-kind token.
    InvalidToken = (401, "invalid_token"),
    /// An authentic token (access or queue) past its `exp`.
    TokenExpired = (401, "token_expired"),
    /// The gate found no live admission to the concert: no admission cookie or
    /// bearer token, a forged, expired or other-concert one, or an admission
    /// that has ended (the message says which).
    AdmissionRequired = (401, "admission_required"),
    /// Not one of the admin tokens, or the admin API is switched off.
    InvalidAdminToken = (401, "invalid_admin_token"),
    /// The balance does not cover the payment.
    InsufficientBalance = (402, "insufficient_balance"),
    /// Another user's data.
    Forbidden = (403, "forbidden"),
    /// The queue token is still waiting in line.
    NotAdmitted = (403, "not_admitted"),
    /// The queue token is for another concert.
    WrongConcert = (403, "wrong_concert"),
    /// An authentic queue token within its `exp` that is no longer current: a
    /// re-join superseded it, or payment, leaving, eviction, the end of its
    /// admission or the close of the sale ended it.
    TokenRevoked = (403, "token_revoked"),
    /// No route has this path.
    NotFound = (404, "not_found"),
    ConcertNotFound = (404, "concert_not_found"),
    ScheduleNotFound = (404, "schedule_not_found"),
    /// Unknown, paid, released or expired.
    ReservationNotFound = (404, "reservation_not_found"),
    UserNotFound = (404, "user_not_found"),
    /// Seats the date does not have.
    SeatNotFound = (404, "seat_not_found"),
    /// The user is neither waiting nor admitted (admin eviction).
    NotInLine = (404, "not_in_line"),
    /// The route exists, not with this method.
    MethodNotAllowed = (405, "method_not_allowed"),
    /// Seats sold or held already.
    SeatUnavailable = (409, "seat_unavailable"),
    /// One open reservation per user per concert.
    ReservationExists = (409, "reservation_exists"),
    /// A charge while the user holds seats.
    ReservationInProgress = (409, "reservation_in_progress"),
    /// A payment of this reservation is under way.
    PaymentInProgress = (409, "payment_in_progress"),
    /// The sale was closed or every date has started.
    SaleClosed = (409, "sale_closed"),
    /// This date has started.
    ScheduleClosed = (409, "schedule_closed"),
    /// A charge that would overflow the balance.
    BalanceLimit = (409, "balance_limit"),
    /// A body over the limit.
    BodyTooLarge = (413, "body_too_large"),
    /// The amount paid differs from the reservation's.
    AmountMismatch = (422, "amount_mismatch"),
    /// An `Idempotency-Key` used before with another request.
    IdempotencyKeyReused = (422, "idempotency_key_reused"),
    /// An abuse limit; `Retry-After` says when to come back.
    RateLimited = (429, "rate_limited"),
    /// A bug; the details go to the log.
    Internal = (500, "internal"),
    /// The request took longer than the request timeout.
    Timeout = (503, "timeout"),
    /// The line is at its `max_waiting` cap.
    QueueFull = (503, "queue_full"),
    /// Redis or PostgreSQL does not answer.
    Unavailable = (503, "unavailable"),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_has_one_snake_case_wire_name_and_an_error_status() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.wire_name();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert!((400..600).contains(&code.status()), "{name}");
        }
    }
}
