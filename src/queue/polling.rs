//! Polling that scales with admissions, not with the crowd: `poll_after_ms` grows
//! with position so that the whole line of a concert polls at most
//! `poll_budget_per_second` times a second (all servers together), while the
//! people next in line poll every second.
//!
//! The rule, for a line of `n` people and a budget of `B` polls a second:
//!
//! - the ceiling `C` is a third of the idle timeout, stretched to `2n / B`
//!   seconds when the line is so long that everyone polling every `idle / 3`
//!   would alone spend more than half the budget; the admit script stretches
//!   the idle timeout to `3C` in step (`max(idle, 6n / B)`), so people who poll
//!   as asked are never dropped as idle;
//! - the first `k` people poll every second, and person `p > k` every `p / k`
//!   seconds, up to `C`: the line advances on them about as fast as they look;
//! - `k` is the largest with a total rate
//!   `min(n, k) + k (H(min(n, kC)) - H(k)) + max(0, n - kC) / C <= B`
//!   (`H` the harmonic numbers), found by bisection.

/// The head of the line polls this often.
pub const HEAD_POLL_MS: u64 = 1_000;

/// The most seconds apart a waiting person is asked to poll, and the idle
/// timeout in force for a line of `waiting` people (both in ms): `C` and `3C`
/// of the module doc, never below the configured idle timeout and its third.
pub fn ceiling_and_idle_ms(waiting: u64, budget: u32, idle_timeout_ms: u64) -> (u64, u64) {
    let budget = u64::from(budget.max(1));
    let stretched = (2_000 * waiting).div_ceil(budget);
    let ceiling = (idle_timeout_ms / 3).max(stretched).max(HEAD_POLL_MS);
    (ceiling, idle_timeout_ms.max(3 * ceiling))
}

/// `H(b) - H(a)` for a <= b, close enough for counting polls.
fn harmonic_between(a: f64, b: f64) -> f64 {
    ((b + 0.5) / (a + 0.5)).ln().max(0.0)
}

/// The polls per second of a line of `n` when the first `k` poll every second and
/// the rest every `p / k` seconds up to `ceiling_s`.
fn line_rate(n: f64, k: f64, ceiling_s: f64) -> f64 {
    let head = n.min(k);
    let growing_end = n.min(k * ceiling_s);
    let growing = if growing_end > k {
        k * harmonic_between(k, growing_end)
    } else {
        0.0
    };
    let tail = (n - k * ceiling_s).max(0.0) / ceiling_s;
    head + growing + tail
}

/// How many at the head of a line of `waiting` poll every second (`k`).
pub fn head_size(waiting: u64, budget: u32, idle_timeout_ms: u64) -> u64 {
    let budget_f = f64::from(budget.max(1));
    if waiting as f64 <= budget_f {
        return waiting.max(1);
    }
    let (ceiling_ms, _) = ceiling_and_idle_ms(waiting, budget, idle_timeout_ms);
    let (n, ceiling_s) = (waiting as f64, ceiling_ms as f64 / 1000.0);
    let (mut fits, mut too_many) = (1u64, waiting);
    while too_many - fits > 1 {
        let middle = fits + (too_many - fits) / 2;
        if line_rate(n, middle as f64, ceiling_s) <= budget_f {
            fits = middle;
        } else {
            too_many = middle;
        }
    }
    fits
}

/// When the person at `position` (1-based) of a line of `waiting` should poll again.
pub fn poll_after_ms(position: u64, waiting: u64, budget: u32, idle_timeout_ms: u64) -> u64 {
    let waiting = waiting.max(position);
    let (ceiling, _) = ceiling_and_idle_ms(waiting, budget, idle_timeout_ms);
    let head = head_size(waiting, budget, idle_timeout_ms);
    (HEAD_POLL_MS * position)
        .div_ceil(head)
        .clamp(HEAD_POLL_MS, ceiling)
}

/// When someone in the pre-queue (position unknown until the opening's draw)
/// should poll again: at the ceiling `C`, or soon after the opening if that comes
/// first, spread over `waiting / budget` seconds by `spread_key` (any number
/// fixed per person) so that the pre-queue does not poll all at once.
pub fn prequeue_poll_after_ms(
    spread_key: u64,
    opens_in_ms: u64,
    waiting: u64,
    budget: u32,
    idle_timeout_ms: u64,
) -> u64 {
    let (ceiling, _) = ceiling_and_idle_ms(waiting, budget, idle_timeout_ms);
    let spread_ms = (1_000 * waiting)
        .div_ceil(u64::from(budget.max(1)))
        .max(1_000);
    (opens_in_ms + spread_key % spread_ms).clamp(HEAD_POLL_MS, ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: u32 = 20_000;
    const IDLE_MS: u64 = 120_000;

    /// The polls per second of a whole line when everyone polls as asked: the
    /// sum over every position of 1 / its interval.
    fn total_rate(waiting: u64, budget: u32, idle_ms: u64) -> f64 {
        (1..=waiting)
            .map(|p| 1000.0 / poll_after_ms(p, waiting, budget, idle_ms) as f64)
            .sum()
    }

    #[test]
    fn a_short_line_polls_every_second() {
        for p in [1, 50, 100] {
            assert_eq!(poll_after_ms(p, 100, BUDGET, IDLE_MS), 1_000);
        }
        assert!((total_rate(100, BUDGET, IDLE_MS) - 100.0).abs() < 1e-9);
    }

    /// The figures of docs/BENCHMARKS.md ("Poll budget"): print them with
    /// `cargo test --lib poll_rates -- --nocapture`.
    #[test]
    fn poll_rates_of_long_lines_stay_under_the_budget() {
        for waiting in [10_000u64, 100_000, 1_000_000] {
            let rate = total_rate(waiting, BUDGET, IDLE_MS);
            let head = head_size(waiting, BUDGET, IDLE_MS);
            let (ceiling, idle) = ceiling_and_idle_ms(waiting, BUDGET, IDLE_MS);
            let last = poll_after_ms(waiting, waiting, BUDGET, IDLE_MS);
            println!(
                "line of {waiting}: {rate:.0} polls/s, first {head} every second, the last every {last} ms, idle timeout {idle} ms"
            );
            assert!(rate <= f64::from(BUDGET), "{waiting}: {rate} polls/s");
            assert_eq!(poll_after_ms(1, waiting, BUDGET, IDLE_MS), HEAD_POLL_MS);
            assert!(last <= ceiling && ceiling <= idle / 3);
            // The budget is used, not wasted: at least half of it.
            assert!(rate >= f64::from(BUDGET) / 2.0, "{waiting}: {rate} polls/s");
        }
    }

    #[test]
    fn intervals_grow_with_position_and_never_pass_a_third_of_the_idle_timeout() {
        for (waiting, idle_ms) in [(50_000u64, IDLE_MS), (300_000, IDLE_MS), (5_000, 3_000)] {
            let (ceiling, idle) = ceiling_and_idle_ms(waiting, BUDGET, idle_ms);
            assert_eq!(
                idle, idle_ms,
                "a line under budget x idle / 6 keeps its idle timeout"
            );
            let mut before = 0;
            for p in (1..=waiting).step_by(97) {
                let poll = poll_after_ms(p, waiting, BUDGET, idle_ms);
                assert!(poll >= before && poll <= ceiling && poll <= idle_ms / 3);
                before = poll;
            }
        }
    }

    #[test]
    fn the_pre_queue_polls_at_the_ceiling_or_spread_just_after_the_opening() {
        // Opening in an hour: the ceiling, a third of the idle timeout.
        assert_eq!(
            prequeue_poll_after_ms(7, 3_600_000, 100, BUDGET, IDLE_MS),
            40_000
        );
        // Opening in 5 s, 100,000 waiting at 20,000/s: between 5 s and 10 s, spread by person.
        let polls: Vec<u64> = (0..1_000u64)
            .map(|key| prequeue_poll_after_ms(key * 7_919, 5_000, 100_000, BUDGET, IDLE_MS))
            .collect();
        assert!(polls.iter().all(|p| (5_000..10_000).contains(p)));
        assert!(polls.iter().max().unwrap() - polls.iter().min().unwrap() > 4_000);
        // Already open (waiting for the draw): within a second.
        assert_eq!(
            prequeue_poll_after_ms(123_456, 0, 10, BUDGET, IDLE_MS),
            1_000
        );
    }

    #[test]
    fn a_huge_line_stretches_the_idle_timeout_to_stay_in_budget() {
        let (ceiling, idle) = ceiling_and_idle_ms(1_000_000, BUDGET, IDLE_MS);
        assert_eq!(ceiling, 100_000);
        assert_eq!(idle, 300_000);
        // A small budget for a line of 100,000: still kept.
        assert!(total_rate(100_000, 500, IDLE_MS) <= 500.0);
    }
}
