//! The Rust side of `lua/_lib.lua`: the keys and the answers several scripts
//! share, read in one place each.

use super::reply::Reply;
use crate::domain::{ConcertId, ReservationId, ScheduleId, SeatNo};
use crate::error::{Error, Result};
use crate::store::{ConcertKeys, Keys};

/// The keys of one concert's line, for every script of that concert. `wait`,
/// `active` and `jti` are what `admission_state` in `_lib.lua` reads: join,
/// status, leave, evict, hold, pay_begin, seat_map and admit take them first,
/// in that order. Made once per request; the other keys (a date's sold seats,
/// a reservation, a seat's hold) are named from it on demand.
#[derive(Clone, Debug)]
pub struct AdmissionKeys {
    pub(super) wait: String,
    pub(super) active: String,
    pub(super) jti: String,
    pub(super) concert: ConcertKeys,
}

impl AdmissionKeys {
    pub fn new(keys: &Keys, concert: ConcertId) -> Self {
        let concert = keys.concert(concert);
        Self {
            wait: concert.wait(),
            active: concert.active(),
            jti: concert.jti(),
            concert,
        }
    }

    /// Pushes `wait`, `active`, `jti`: KEYS 1 to 3 of the admission scripts.
    pub(super) fn admission(&self, call: &mut super::Call) {
        call.key(&self.wait).key(&self.active).key(&self.jti);
    }

    /// Pushes one hold key per seat, in the seats' order (the scripts pair
    /// them with the seat numbers they get in ARGV).
    pub(super) fn holds(&self, call: &mut super::Call, schedule: ScheduleId, seats: &[SeatNo]) {
        for seat in seats {
            call.key(self.concert.hold(schedule, *seat));
        }
    }
}

/// Why a queue token may not act now, as `admission_state` in `_lib.lua`
/// answers when the token is not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAdmitted {
    /// Still in line.
    Waiting,
    /// Left, paid, evicted, dropped as idle or superseded by a later join.
    Expired,
}

impl NotAdmitted {
    /// `waiting` or `expired`, else `None`.
    pub(super) fn from_state(state: &str) -> Option<Self> {
        match state {
            "waiting" => Some(Self::Waiting),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// The one mapping of a refused token to the client's error.
impl From<NotAdmitted> for Error {
    fn from(refused: NotAdmitted) -> Self {
        match refused {
            NotAdmitted::Waiting => Error::NOT_ADMITTED,
            NotAdmitted::Expired => Error::TOKEN_REVOKED,
        }
    }
}

/// Why a reservation may not be released or paid, as `reservation_refusal` in
/// `_lib.lua` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationRefusal {
    /// It has ended (paid, released, or its hold expired).
    NotFound,
    /// It is another user's.
    Forbidden,
    /// A payment of it is being decided.
    PaymentInProgress,
}

impl ReservationRefusal {
    pub(super) fn from_state(state: &str) -> Option<Self> {
        match state {
            "not_found" => Some(Self::NotFound),
            "forbidden" => Some(Self::Forbidden),
            "payment_in_progress" => Some(Self::PaymentInProgress),
            _ => None,
        }
    }
}

/// What the line scripts fall back on for settings the concert's `cfg` hash
/// lacks (an operator has not changed them): the concert's stored settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineDefaults {
    pub admit_per_second: u32,
    pub idle_timeout_ms: u64,
    pub poll_budget_per_second: u32,
}

impl LineDefaults {
    pub(super) fn push(&self, call: &mut super::Call) {
        call.arg(self.admit_per_second)
            .arg(self.idle_timeout_ms)
            .arg(self.poll_budget_per_second);
    }
}

/// What join and status say of the whole line (`line_facts` in `_lib.lua`):
/// the estimate and the poll interval are computed from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineFacts {
    pub admit_per_second: u32,
    /// The concert's idle timeout: polls are asked for at most a third of it apart.
    pub idle_timeout_ms: u64,
    pub poll_budget_per_second: u32,
    /// The measured admission rate's numerator and denominator (see `lua/admit.lua`).
    pub rate_admitted: f64,
    pub rate_seconds: f64,
    /// People in line.
    pub waiting: u64,
}

impl LineFacts {
    pub(super) fn read(reply: &mut Reply) -> Result<Self> {
        Ok(Self {
            admit_per_second: reply.next_u32()?,
            idle_timeout_ms: reply.next_u64()?,
            poll_budget_per_second: reply.next_u32()?,
            rate_admitted: reply.next_f64()?,
            rate_seconds: reply.next_f64()?,
            waiting: reply.next_u64()?,
        })
    }
}

/// Line facts this server read a moment ago (see `LINEUP_LINE_FACTS_TTL`): a
/// join or poll that passes them gets a reply without them, and the idle
/// bucket width they give goes with it (see `note_poll` in `_lib.lua`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CachedLine {
    pub facts: LineFacts,
    /// The idle timeout in force for the line the facts describe.
    pub idle_in_force_ms: u64,
}

impl CachedLine {
    /// ARGV: the idle bucket width in ms; 0 (no cache) asks the script for the facts.
    pub(super) fn push(cached: Option<&Self>, call: &mut super::Call) {
        call.arg(cached.map_or(0, |c| idle_bucket_width_ms(c.idle_in_force_ms)));
    }

    /// The facts: the cached ones, or those the reply carries.
    pub(super) fn facts(cached: Option<&Self>, reply: &mut Reply) -> Result<LineFacts> {
        match cached {
            Some(cached) => Ok(cached.facts),
            None => LineFacts::read(reply),
        }
    }
}

/// The idle buckets' width for an idle timeout in force: the largest power of
/// two ms at most a quarter of it (`idle_bucket_width_ms` in `_lib.lua`).
pub fn idle_bucket_width_ms(idle_in_force_ms: u64) -> u64 {
    let quarter = (idle_in_force_ms / 4).max(1);
    1 << quarter.ilog2()
}

/// A reservation as the scripts that end it need it: whose, which date, which
/// seats (their hold keys and seat numbers go in the same order).
#[derive(Clone, Copy, Debug)]
pub struct ReservationSeats<'a> {
    pub id: ReservationId,
    pub schedule: ScheduleId,
    pub seats: &'a [SeatNo],
}

/// One payment attempt: `pay_begin` claims the reservation with it, a re-send
/// of the claim is recognised by it, and only `pay_abort` with the same id
/// hands the reservation back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentAttempt(uuid::Uuid);

impl PaymentAttempt {
    /// A new attempt's id.
    pub fn fresh() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl std::fmt::Display for PaymentAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_buckets_are_at_most_a_quarter_of_the_idle_timeout() {
        assert_eq!(idle_bucket_width_ms(3_000), 512);
        assert_eq!(idle_bucket_width_ms(120_000), 16_384);
        assert_eq!(idle_bucket_width_ms(300_000), 65_536);
        assert_eq!(idle_bucket_width_ms(4), 1);
        for idle in [3_000, 9_999, 120_000, 86_400_000] {
            let width = idle_bucket_width_ms(idle);
            assert!(width * 4 <= idle && width * 8 > idle, "{idle}: {width}");
        }
    }
}
