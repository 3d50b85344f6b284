//! Pure types with parse-don't-validate constructors. Nothing here does I/O.

mod ids;
mod money;
mod seats;

pub use ids::{ConcertId, PaymentId, ReservationId, ScheduleId, UserId};
pub use money::{ChargeAmount, ChargePolicy, Money};
pub use seats::{MAX_SEAT_NO, MAX_SEATS_PER_RESERVATION, SeatNo, SeatSelection, seat_numbers};

#[cfg(test)]
mod properties;
