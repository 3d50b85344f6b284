//! The line: joining, status, leaving, the admission loop and the queue settings.

mod admission;
mod service;
mod settings;

pub use admission::{AdmitOutcome, admit_tick, run_admission_loop};
pub use service::{QueueService, QueueStats, QueueTicket, TicketStatus};
pub use settings::{QueueSettings, QueueSettingsChange};
