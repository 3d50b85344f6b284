use std::fmt;

/// An amount of won. Integer, never fractional; may be zero (a free seat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// A price or balance: 0 or more.
    pub fn parse(won: i64) -> Result<Self, String> {
        if won < 0 {
            return Err(format!("{won} is negative"));
        }
        Ok(Self(won))
    }

    pub fn won(self) -> i64 {
        self.0
    }

    /// Sum of prices; `None` on overflow, which no real seat map reaches.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} won", self.0)
    }
}

/// The smallest and largest single charge, a business policy set in configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChargePolicy {
    pub min: i64,
    pub max: i64,
}

/// A balance top-up that satisfies the [`ChargePolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChargeAmount(i64);

impl ChargeAmount {
    pub fn parse(won: i64, policy: ChargePolicy) -> Result<Self, String> {
        if won < policy.min || won > policy.max {
            return Err(format!(
                "amount must be an integer between {} and {} won",
                policy.min, policy.max
            ));
        }
        Ok(Self(won))
    }

    pub fn won(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ChargePolicy = ChargePolicy {
        min: 1_000,
        max: 10_000_000,
    };

    #[test]
    fn charges_inside_the_policy_are_accepted_at_both_ends() {
        assert_eq!(ChargeAmount::parse(1_000, POLICY).unwrap().won(), 1_000);
        assert_eq!(
            ChargeAmount::parse(10_000_000, POLICY).unwrap().won(),
            10_000_000
        );
    }

    #[test]
    fn charges_outside_the_policy_are_refused() {
        for won in [i64::MIN, -1, 0, 999, 10_000_001, i64::MAX] {
            assert!(ChargeAmount::parse(won, POLICY).is_err(), "{won}");
        }
    }

    #[test]
    fn money_is_never_negative() {
        assert!(Money::parse(-1).is_err());
        assert_eq!(Money::parse(0).unwrap(), Money::ZERO);
    }
}
