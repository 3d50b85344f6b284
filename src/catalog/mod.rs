//! Concerts, their dates (schedules) and seat prices: written once by an operator,
//! read on every request. PostgreSQL holds them; every server serves them from an
//! in-memory snapshot of the live concerts that is reloaded when it changes;
//! finished sales are retired (`retire.rs`).

mod model;
mod retire;
mod store;

pub use model::{CatalogSnapshot, Concert, NewConcert, NewSchedule, Schedule};
pub use retire::{retire_finished, run_retirement, sweep_interval};
pub use store::Catalog;
