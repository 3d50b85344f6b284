//! Money: the charge policy and how long a payment in progress holds its seats.
//!
//! Reads `LINEUP_PAYMENT_TIMEOUT`, `LINEUP_CHARGE_MIN`, `LINEUP_CHARGE_MAX`.

use crate::domain::ChargePolicy;
use anyhow::ensure;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct PaymentArgs {
    /// How long a payment in progress keeps its seats held, at least, while PostgreSQL commits.
    #[arg(long, env = "LINEUP_PAYMENT_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub payment_timeout: Duration,

    /// Smallest balance charge, in won.
    #[arg(long, env = "LINEUP_CHARGE_MIN", default_value_t = 1_000)]
    pub charge_min: i64,

    /// Largest balance charge, in won.
    #[arg(long, env = "LINEUP_CHARGE_MAX", default_value_t = 10_000_000)]
    pub charge_max: i64,
}

impl PaymentArgs {
    pub fn charge_policy(&self) -> anyhow::Result<ChargePolicy> {
        ensure!(
            self.charge_min >= 1 && self.charge_min <= self.charge_max,
            "LINEUP_CHARGE_MIN must be 1 or more and not above LINEUP_CHARGE_MAX"
        );
        Ok(ChargePolicy {
            min: self.charge_min,
            max: self.charge_max,
        })
    }

    pub fn payment_timeout(&self) -> anyhow::Result<Duration> {
        super::nonzero("LINEUP_PAYMENT_TIMEOUT", self.payment_timeout)
    }
}
