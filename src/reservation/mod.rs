//! Seat holds and reservations, all in Redis: a hold is a `SET NX PX` key per
//! seat naming its reservation, taken for 1 to 4 seats at once by one script.
//! Also the seat map and seat availability, which read the holds and the copy of
//! the sold seats that Redis keeps.

mod model;
mod service;

pub use model::{Reservation, SeatMap, SeatStatus, SeatView, StoredReservation};
pub use service::{ReservationService, SeatCounts, load_sold};
