//! Seat holds and reservations, all in Redis: a hold is a `SET NX PX` key per
//! seat naming its reservation, taken for 1 to 4 seats at once by one script.
//! Also the seat map and seat availability, which read the holds and the copy of
//! the sold seats that Redis keeps, and the reservation's side of a payment
//! (claimed, ended or handed back: `payment/` asks, this module writes).
//! PostgreSQL is read here only for the sold seats; never written.

mod model;
mod payment;
mod seats;
mod service;

pub use model::{Reservation, SeatMap, SeatStatus, SeatView, StoredReservation};
pub use payment::PaymentOutcome;
pub(crate) use payment::until_it_lands;
pub use seats::{SeatCounts, load_sold};
pub use service::ReservationService;
