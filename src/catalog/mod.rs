//! Concerts, their dates (schedules) and seat prices: written once by an operator,
//! read on every request. PostgreSQL holds them; every server serves them from an
//! in-memory snapshot that is reloaded when it changes.

mod model;
mod store;

pub use model::{CatalogSnapshot, Concert, NewConcert, NewSchedule, Schedule};
pub use store::Catalog;
