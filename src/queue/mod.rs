//! The line: joining, status, leaving, the admission loop and the queue settings.
//! The pre-queue's draw, which the admission loop makes at the opening, is
//! [`crate::fairness`]'s.

mod admission;
mod durability;
mod estimate;
mod line_cache;
mod polling;
mod service;
mod settings;

pub use admission::{AdmitOutcome, admit_tick, run_admission_loop};
pub use durability::{LiveSettings, SETTINGS_SYNC_INTERVAL, run_settings_sync};
pub use service::{QueueService, QueueStats, QueueTicket, TicketStatus};
pub use settings::{
    DEFAULT_ADMIT_SEAT_FACTOR, DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_POLL_BUDGET_PER_SECOND,
    QueueSettings, QueueSettingsChange,
};
