//! Honest waits: the expected wait and its 90th percentile from the admission
//! rate actually measured over about the last minute (kept in Redis by the
//! admit script), not from the setting.

/// The measured rate counts once this much time of demand has been seen since
/// the first admission; before, the setting stands in.
const MIN_MEASURED_SECONDS: f64 = 1.0;
/// A measured rate never reads below this (one admission an hour), so that a
/// stalled line (paused, everyone admitted still shopping) gives a long but
/// finite estimate.
const MIN_RATE: f64 = 1.0 / 3600.0;
/// The standard normal's 90th percentile.
const Z90: f64 = 1.281_551_565_545;

/// The admissions per second to estimate with: the measured rate
/// (`admitted / seconds`, both exponentially weighted, see `lua/admit.lua`) once
/// there is one, else the setting.
pub fn admission_rate(admit_per_second: u32, rate_admitted: f64, rate_seconds: f64) -> f64 {
    if rate_admitted > 0.0 && rate_seconds >= MIN_MEASURED_SECONDS {
        (rate_admitted / rate_seconds).max(MIN_RATE)
    } else {
        f64::from(admit_per_second.max(1))
    }
}

/// The expected wait of the person at `position` and its 90th percentile, in
/// whole seconds (rounded up). Admissions are modelled as a Poisson stream at
/// `rate`, so the time until `position` more admissions is Gamma(position, rate):
/// its mean is position / rate, and its 90th percentile comes from the
/// Wilson–Hilferty approximation, k (1 - 1/(9k) + z sqrt(1/(9k)))^3 / rate, within
/// 1.5 % of the exact quantile from k = 1 on (and closer as k grows).
pub fn wait_seconds(position: u64, rate: f64) -> (u64, u64) {
    if position == 0 {
        return (0, 0);
    }
    let k = position as f64;
    let mean = k / rate;
    let spread = 1.0 / (9.0 * k);
    let p90 = k * (1.0 - spread + Z90 * spread.sqrt()).powi(3) / rate;
    (mean.ceil() as u64, p90.ceil().max(mean.ceil()) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_stands_in_until_a_rate_is_measured() {
        assert_eq!(admission_rate(100, 0.0, 0.0), 100.0);
        assert_eq!(admission_rate(100, 1.0, 0.2), 100.0);
        assert_eq!(admission_rate(100, 30.0, 10.0), 3.0);
        // A stalled line: long, finite.
        assert_eq!(admission_rate(100, 1e-9, 60.0), MIN_RATE);
    }

    #[test]
    fn waits_scale_with_position_and_the_p90_lies_above_the_mean() {
        assert_eq!(wait_seconds(0, 10.0), (0, 0));
        assert_eq!(wait_seconds(100, 10.0).0, 10);
        for position in [1, 2, 10, 1_000, 1_000_000] {
            let (mean, p90) = wait_seconds(position, 2.0);
            assert!(p90 >= mean, "{position}: {mean} {p90}");
        }
        // One admission at one a second: the exponential's 90th percentile, ln 10 = 2.303 s.
        assert_eq!(wait_seconds(1, 1.0), (1, 3));
        // 10,000 at 100/s: 100 s, the p90 about 1.28 standard deviations (1 s) later.
        assert_eq!(wait_seconds(10_000, 100.0), (100, 102));
    }

    /// The Wilson–Hilferty percentile against the exact Gamma(k) 90th percentiles
    /// for k = 1, 5, 20 (2.3026, 7.9936, 25.9025, by bisection of the Erlang CDF).
    #[test]
    fn the_p90_matches_the_gamma_quantile() {
        for (k, exact) in [(1u64, std::f64::consts::LN_10), (5, 7.9936), (20, 25.9025)] {
            let kf = k as f64;
            let spread = 1.0 / (9.0 * kf);
            let approx = kf * (1.0 - spread + Z90 * spread.sqrt()).powi(3);
            assert!(
                (approx - exact).abs() / exact < 0.015,
                "k={k}: {approx} vs {exact}"
            );
        }
    }
}
