//! The settings the servers of a run start with, and the bounds the checks
//! derive from them: one place, so the servers and the checkers cannot
//! disagree.

use std::time::Duration;

/// What the servers are started with, and what the checks derive their
/// bounds from: short, so that a run of seconds sees holds and admissions
/// end many times.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub admit_per_second: u32,
    pub max_active: u32,
    pub active_ttl: Duration,
    pub hold_ttl: Duration,
    pub payment_timeout: Duration,
    pub idle_timeout: Duration,
    pub admit_seat_factor: f64,
    pub request_timeout: Duration,
    pub redis_timeout: Duration,
    pub database_timeout: Duration,
}

pub const TIMING: Timing = Timing {
    admit_per_second: 4,
    max_active: 6,
    active_ttl: Duration::from_secs(4),
    hold_ttl: Duration::from_secs(8),
    payment_timeout: Duration::from_secs(1),
    idle_timeout: Duration::from_secs(3),
    admit_seat_factor: 1.0,
    request_timeout: Duration::from_secs(6),
    redis_timeout: Duration::from_millis(500),
    database_timeout: Duration::from_secs(1),
};

impl Timing {
    /// The `lineup serve` arguments that set these.
    pub fn args(&self) -> Vec<String> {
        let secs = |d: Duration| format!("{}ms", d.as_millis());
        [
            ("--admit-interval", "50ms".to_owned()),
            ("--admit-per-second", self.admit_per_second.to_string()),
            ("--max-active", self.max_active.to_string()),
            ("--active-ttl", secs(self.active_ttl)),
            ("--hold-ttl", secs(self.hold_ttl)),
            ("--payment-timeout", secs(self.payment_timeout)),
            ("--idle-timeout", secs(self.idle_timeout)),
            ("--admit-seat-factor", self.admit_seat_factor.to_string()),
            ("--request-timeout", secs(self.request_timeout)),
            ("--redis-timeout", secs(self.redis_timeout)),
            ("--database-timeout", secs(self.database_timeout)),
            ("--database-statement-timeout", "2s".to_owned()),
            // A few connections each: the PostgreSQL of a test machine is
            // shared (100 connections by default) with other suites.
            ("--database-max-connections", "8".to_owned()),
        ]
        .into_iter()
        .flat_map(|(name, value)| [name.to_owned(), value])
        .collect()
    }

    /// The longest a Redis update that lineup retries in the background
    /// (`pay_finish`) may still be pending once its dependency is healthy:
    /// its backoff tops out at 5 s.
    pub const FINISH_BACKOFF: Duration = Duration::from_millis(5500);
}
