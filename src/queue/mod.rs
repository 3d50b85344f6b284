//! The line: joining, status, leaving, the admission loop and the queue settings.

mod admission;
mod draw;
mod estimate;
mod polling;
mod service;
mod settings;

pub use admission::{AdmitOutcome, admit_tick, run_admission_loop};
pub use draw::{draw_prequeue, fairness_report};
pub use service::{QueueService, QueueStats, QueueTicket, TicketStatus};
pub use settings::{
    DEFAULT_ADMIT_SEAT_FACTOR, DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_POLL_BUDGET_PER_SECOND,
    QueueSettings, QueueSettingsChange,
};
