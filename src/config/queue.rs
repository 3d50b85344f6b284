//! The queue settings a new concert starts with (an operator changes a running
//! concert's through the admin API), and how often this server admits.
//!
//! Reads `LINEUP_ADMIT_PER_SECOND`, `LINEUP_MAX_ACTIVE`, `LINEUP_MAX_WAITING`,
//! `LINEUP_ACTIVE_TTL`, `LINEUP_HOLD_TTL`, `LINEUP_IDLE_TIMEOUT`,
//! `LINEUP_ADMIT_SEAT_FACTOR`, `LINEUP_POLL_BUDGET`, `LINEUP_ADMIT_INTERVAL`,
//! `LINEUP_LINE_FACTS_TTL`.

use crate::queue::QueueSettings;
use anyhow::Context;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// Default admission rate of a new concert, users per second (all servers together).
    #[arg(long, env = "LINEUP_ADMIT_PER_SECOND", default_value_t = 100)]
    pub admit_per_second: u32,

    /// Default cap on admitted users of a new concert at one time.
    #[arg(long, env = "LINEUP_MAX_ACTIVE", default_value_t = 1000)]
    pub max_active: u32,

    /// Default cap on the line of a new concert (0 = no cap); beyond it a join gets 503 queue_full.
    #[arg(long, env = "LINEUP_MAX_WAITING", default_value_t = 0)]
    pub max_waiting: u32,

    /// Default time an admitted user may stay admitted.
    #[arg(long, env = "LINEUP_ACTIVE_TTL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub active_ttl: Duration,

    /// Default idle timeout of a new concert's line: a waiting person who has not
    /// polled for this long is dropped instead of admitted (whole seconds, 3 s or more).
    #[arg(long, env = "LINEUP_IDLE_TIMEOUT", default_value = "2m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// Default cap on admitted people without a reservation of a new concert, as a
    /// multiple of its free seats.
    #[arg(long, env = "LINEUP_ADMIT_SEAT_FACTOR", default_value_t = crate::queue::DEFAULT_ADMIT_SEAT_FACTOR)]
    pub admit_seat_factor: f64,

    /// Default poll budget of a new concert's line, polls per second for all servers together.
    #[arg(long, env = "LINEUP_POLL_BUDGET", default_value_t = crate::queue::DEFAULT_POLL_BUDGET_PER_SECOND)]
    pub poll_budget: u32,

    /// How often each server runs the admission script per concert.
    #[arg(long, env = "LINEUP_ADMIT_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub admit_interval: Duration,

    /// Default time a seat hold of a new concert lasts before it is released
    /// unpaid (whole seconds; an operator changes it per concert).
    #[arg(long, env = "LINEUP_HOLD_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub hold_ttl: Duration,

    /// How long after a concert's last date began its sale is retired: gone
    /// from every server's memory and its Redis keys deleted (its PostgreSQL
    /// records stay).
    #[arg(long, env = "LINEUP_RETIRE_AFTER", default_value = "1day", value_parser = humantime::parse_duration)]
    pub retire_after: Duration,
    /// How long this server reuses a concert's line facts (its settings, the
    /// measured admission rate, the line's length) for the estimates and poll
    /// intervals of joins and polls, instead of reading them from Redis each
    /// time; 0 reads them every time. Positions are always read, exact.
    #[arg(long, env = "LINEUP_LINE_FACTS_TTL", default_value = "250ms", value_parser = humantime::parse_duration)]
    pub line_facts_ttl: Duration,
}

impl QueueArgs {
    /// The settings a new concert starts with, each in range.
    pub fn defaults(&self) -> anyhow::Result<QueueSettings> {
        let seconds = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        super::nonzero("LINEUP_HOLD_TTL", self.hold_ttl)?;
        QueueSettings {
            admit_per_second: self.admit_per_second,
            max_active: self.max_active,
            max_waiting: self.max_waiting,
            active_ttl_seconds: seconds(self.active_ttl),
            // Holds count in whole seconds; a part second rounds up.
            hold_ttl_seconds: u32::try_from(self.hold_ttl.as_millis().div_ceil(1000))
                .unwrap_or(u32::MAX),
            paused: false,
            idle_timeout_seconds: seconds(self.idle_timeout),
            admit_seat_factor: self.admit_seat_factor,
            poll_budget_per_second: self.poll_budget,
        }
        .checked()
        .map_err(anyhow::Error::msg)
        .context("invalid queue defaults (LINEUP_ADMIT_PER_SECOND, LINEUP_MAX_ACTIVE, LINEUP_MAX_WAITING, LINEUP_ACTIVE_TTL, LINEUP_HOLD_TTL, LINEUP_IDLE_TIMEOUT, LINEUP_ADMIT_SEAT_FACTOR, LINEUP_POLL_BUDGET)")
    }

    pub fn admit_interval(&self) -> anyhow::Result<Duration> {
        super::nonzero("LINEUP_ADMIT_INTERVAL", self.admit_interval)
    }

    pub fn retire_after(&self) -> anyhow::Result<Duration> {
        super::nonzero("LINEUP_RETIRE_AFTER", self.retire_after)
    }

    /// At most 5 s: the facts feed estimates and poll intervals that clients
    /// act on, and a settings change must reach every server soon.
    pub fn line_facts_ttl(&self) -> anyhow::Result<Duration> {
        anyhow::ensure!(
            self.line_facts_ttl <= Duration::from_secs(5),
            "LINEUP_LINE_FACTS_TTL must be 5 s or less"
        );
        Ok(self.line_facts_ttl)
    }
}
