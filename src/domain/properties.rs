//! Property tests of the parsers: whatever the input, a parser accepts exactly
//! what its rule says and never panics.

use super::*;
use crate::idempotency::IdempotencyKey;
use crate::queue::QueueSettings;
use proptest::prelude::*;
use std::collections::BTreeSet;

proptest! {
    #[test]
    fn a_seat_selection_is_accepted_exactly_when_the_rule_allows(numbers in prop::collection::vec(any::<i64>(), 0..8)) {
        let distinct: BTreeSet<i64> = numbers.iter().copied().collect();
        let allowed = (1..=MAX_SEATS_PER_RESERVATION).contains(&numbers.len())
            && distinct.len() == numbers.len()
            && numbers.iter().all(|n| (1..=i64::from(MAX_SEAT_NO)).contains(n));
        match SeatSelection::parse(&numbers) {
            Ok(selection) => {
                prop_assert!(allowed);
                let got: Vec<i64> = selection.seats().iter().map(|s| i64::from(s.get())).collect();
                prop_assert_eq!(got, distinct.into_iter().collect::<Vec<_>>());
            }
            Err(_) => prop_assert!(!allowed),
        }
    }

    #[test]
    fn small_seat_selections_in_range_are_accepted(set in prop::collection::btree_set(1i64..100_000, 1..=4)) {
        let numbers: Vec<i64> = set.iter().rev().copied().collect();
        prop_assert!(SeatSelection::parse(&numbers).is_ok());
    }

    #[test]
    fn a_charge_is_accepted_exactly_inside_the_policy(won in any::<i64>(), min in 1i64..100_000, span in 0i64..10_000_000) {
        let policy = ChargePolicy { min, max: min + span };
        let parsed = ChargeAmount::parse(won, policy);
        prop_assert_eq!(parsed.is_ok(), (policy.min..=policy.max).contains(&won));
        if let Ok(amount) = parsed {
            prop_assert_eq!(amount.won(), won);
        }
    }

    #[test]
    fn money_is_accepted_exactly_when_not_negative(won in any::<i64>()) {
        prop_assert_eq!(Money::parse(won).is_ok(), won >= 0);
    }

    #[test]
    fn ids_parse_only_uuids_and_round_trip(text in ".{0,40}", raw in any::<u128>()) {
        prop_assert_eq!(text.parse::<ConcertId>().is_ok(), uuid::Uuid::parse_str(&text).is_ok());
        let id = ScheduleId::from_uuid(uuid::Uuid::from_u128(raw));
        prop_assert_eq!(id.to_string().parse::<ScheduleId>().unwrap(), id);
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_of_bounded_length(text in "\\PC{0,300}") {
        let allowed = (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        prop_assert_eq!(IdempotencyKey::parse(&text).is_ok(), allowed);
    }

    #[test]
    fn queue_settings_are_accepted_exactly_in_range(
        rate in any::<u32>(), max_active in any::<u32>(), max_waiting in any::<u32>(),
        ttl in any::<u32>(), hold in any::<u32>(), paused in any::<bool>()
    ) {
        let allowed = (1..=100_000).contains(&rate) && (1..=1_000_000).contains(&max_active)
            && (1..=86_400).contains(&ttl) && (1..=3_600).contains(&hold)
            && max_waiting <= i32::MAX as u32;
        let settings = QueueSettings {
            admit_per_second: rate,
            max_active,
            max_waiting,
            active_ttl_seconds: ttl,
            hold_ttl_seconds: hold,
            paused,
            idle_timeout_seconds: crate::queue::DEFAULT_IDLE_TIMEOUT_SECONDS,
            admit_seat_factor: crate::queue::DEFAULT_ADMIT_SEAT_FACTOR,
            poll_budget_per_second: crate::queue::DEFAULT_POLL_BUDGET_PER_SECOND,
        };
        prop_assert_eq!(settings.checked().is_ok(), allowed);
    }
}
