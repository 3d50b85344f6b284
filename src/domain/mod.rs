//! Pure types with parse-don't-validate constructors: ids, money, seat
//! numbers, operators' texts. Nothing here does I/O.

mod ids;
mod money;
mod seats;
mod text;

pub use ids::{ConcertId, PaymentId, ReservationId, ScheduleId, UserId};
pub use money::{ChargeAmount, ChargePolicy, Money};
pub use seats::{MAX_SEAT_NO, MAX_SEATS_PER_RESERVATION, SeatNo, SeatSelection, seat_numbers};
pub use text::Label;

#[cfg(test)]
mod properties;
