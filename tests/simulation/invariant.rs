//! The properties a run checks, and a finding that one broke.

use std::time::Duration;

/// The properties the run checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    NoServerError,
    DocumentedErrors,
    HostileRefused,
    PositionNeverGrows,
    MaxActive,
    ShopperCap,
    BoundedAdmission,
    NoStuckPaying,
    SoldAgrees,
    Money,
    PaidIsRecorded,
    ReplaysSame,
}

impl Invariant {
    pub fn describe(self) -> &'static str {
        match self {
            Invariant::NoServerError => "no request is answered 500",
            Invariant::DocumentedErrors => {
                "every error answer is an error body the API documents for its operation and status"
            }
            Invariant::HostileRefused => {
                "no request with another's ids, a bad token, a bad amount or seat, or a reused key succeeds"
            }
            Invariant::PositionNeverGrows => {
                "a waiting person's position never grows (0 only before the pre-queue's draw)"
            }
            Invariant::MaxActive => "admitted people never exceed max_active",
            Invariant::ShopperCap => {
                "admitted people without a reservation stay within max(1, floor(free seats x admit_seat_factor)) when anyone is admitted"
            }
            Invariant::BoundedAdmission => {
                "an admission ends within active_ttl + hold_ttl + payment_timeout of its start (issue 13, item 1's example rule)"
            }
            Invariant::NoStuckPaying => {
                "no reservation stays `paying` once no payment of it is in flight and the faults have healed, past the payment timeout"
            }
            Invariant::SoldAgrees => {
                "Redis's sold seats are PostgreSQL's tickets (a subset while payments settle, equal once faults heal)"
            }
            Invariant::Money => {
                "every balance equals its ledger, none is negative, no seat is sold twice (assert_money_invariants)"
            }
            Invariant::PaidIsRecorded => {
                "every payment a client was told succeeded (201) is in PostgreSQL as told"
            }
            Invariant::ReplaysSame => {
                "every 201 of a keyed payment (and 200 of a keyed charge) replays the same"
            }
        }
    }
}

/// An invariant found broken: when, what, and the tags of the history lines
/// that show it.
#[derive(Clone, Debug)]
pub struct Violation {
    pub invariant: Invariant,
    pub at: Duration,
    pub detail: String,
    pub tags: Vec<String>,
}
