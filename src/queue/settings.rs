use serde::{Deserialize, Serialize};

/// How one concert's line is admitted and held. Live in Redis (`cfg` hash) so
/// every server sees an operator's change at once; also kept in PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueSettings {
    /// Users admitted per second, all servers together.
    pub admit_per_second: u32,
    /// Most users admitted at one time.
    pub max_active: u32,
    /// Most users waiting (0 = no cap).
    pub max_waiting: u32,
    /// How long an admission lasts.
    pub active_ttl_seconds: u32,
    /// How long a seat hold lasts unpaid.
    pub hold_ttl_seconds: u32,
    /// Admission stopped by an operator.
    pub paused: bool,
    /// A waiting person who has not polled for this long is dropped from the line
    /// (their ticket reads `expired`) instead of being admitted: people who closed
    /// their tab do not take admission slots. Polls are asked for at most a third
    /// of it apart.
    pub idle_timeout_seconds: u32,
    /// Admitted people without a reservation are kept at or below the free seats
    /// (neither sold nor held) times this factor: more shoppers than that would
    /// mostly find nothing left. 0 < factor <= 100.
    pub admit_seat_factor: f64,
    /// The polls per second the whole line of this concert may cause, all servers
    /// together: `poll_after_ms` grows with position to stay under it.
    pub poll_budget_per_second: u32,
}

/// Defaults of the fairness settings (the others come from the command line).
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u32 = 120;
pub const DEFAULT_ADMIT_SEAT_FACTOR: f64 = 2.0;
pub const DEFAULT_POLL_BUDGET_PER_SECOND: u32 = 20_000;

/// Upper bounds that keep a typo from admitting a whole stadium at once.
pub const MAX_ADMIT_PER_SECOND: u32 = 100_000;
pub const MAX_ACTIVE: u32 = 1_000_000;
pub const MAX_ACTIVE_TTL_SECONDS: u32 = 24 * 3600;
pub const MAX_HOLD_TTL_SECONDS: u32 = 3600;
/// The longest cap on a line: what PostgreSQL's `integer` column holds.
pub const MAX_WAITING: u32 = i32::MAX as u32;
/// At least three seconds, so that a poll every second keeps anyone in line.
pub const MIN_IDLE_TIMEOUT_SECONDS: u32 = 3;
pub const MAX_IDLE_TIMEOUT_SECONDS: u32 = 24 * 3600;
pub const MAX_ADMIT_SEAT_FACTOR: f64 = 100.0;
pub const MAX_POLL_BUDGET_PER_SECOND: u32 = 10_000_000;

impl QueueSettings {
    /// These settings, if every one is in range.
    pub fn checked(self) -> Result<Self, String> {
        if !(1..=MAX_ADMIT_PER_SECOND).contains(&self.admit_per_second) {
            return Err(format!(
                "admit_per_second must be between 1 and {MAX_ADMIT_PER_SECOND}"
            ));
        }
        if !(1..=MAX_ACTIVE).contains(&self.max_active) {
            return Err(format!("max_active must be between 1 and {MAX_ACTIVE}"));
        }
        if self.max_waiting > MAX_WAITING {
            return Err(format!(
                "max_waiting must be between 0 (no cap) and {MAX_WAITING}"
            ));
        }
        if !(1..=MAX_ACTIVE_TTL_SECONDS).contains(&self.active_ttl_seconds) {
            return Err(format!(
                "active_ttl_seconds must be between 1 and {MAX_ACTIVE_TTL_SECONDS}"
            ));
        }
        if !(1..=MAX_HOLD_TTL_SECONDS).contains(&self.hold_ttl_seconds) {
            return Err(format!(
                "hold_ttl_seconds must be between 1 and {MAX_HOLD_TTL_SECONDS}"
            ));
        }
        if !(MIN_IDLE_TIMEOUT_SECONDS..=MAX_IDLE_TIMEOUT_SECONDS)
            .contains(&self.idle_timeout_seconds)
        {
            return Err(format!(
                "idle_timeout_seconds must be between {MIN_IDLE_TIMEOUT_SECONDS} and {MAX_IDLE_TIMEOUT_SECONDS}"
            ));
        }
        if !(self.admit_seat_factor > 0.0 && self.admit_seat_factor <= MAX_ADMIT_SEAT_FACTOR) {
            return Err(format!(
                "admit_seat_factor must be above 0 and at most {MAX_ADMIT_SEAT_FACTOR}"
            ));
        }
        if !(1..=MAX_POLL_BUDGET_PER_SECOND).contains(&self.poll_budget_per_second) {
            return Err(format!(
                "poll_budget_per_second must be between 1 and {MAX_POLL_BUDGET_PER_SECOND}"
            ));
        }
        Ok(self)
    }

    /// A copy with the fields of `change` that are set.
    pub fn apply(self, change: &QueueSettingsChange) -> Result<Self, String> {
        QueueSettings {
            admit_per_second: change.admit_per_second.unwrap_or(self.admit_per_second),
            max_active: change.max_active.unwrap_or(self.max_active),
            max_waiting: change.max_waiting.unwrap_or(self.max_waiting),
            active_ttl_seconds: change.active_ttl_seconds.unwrap_or(self.active_ttl_seconds),
            hold_ttl_seconds: change.hold_ttl_seconds.unwrap_or(self.hold_ttl_seconds),
            paused: change.paused.unwrap_or(self.paused),
            idle_timeout_seconds: change
                .idle_timeout_seconds
                .unwrap_or(self.idle_timeout_seconds),
            admit_seat_factor: change.admit_seat_factor.unwrap_or(self.admit_seat_factor),
            poll_budget_per_second: change
                .poll_budget_per_second
                .unwrap_or(self.poll_budget_per_second),
        }
        .checked()
    }

    /// The fields and values of the Redis `cfg` hash; the scripts read these names.
    pub fn to_redis_fields(self) -> [(&'static str, String); 9] {
        [
            ("admit_per_second", self.admit_per_second.to_string()),
            ("max_active", self.max_active.to_string()),
            ("max_waiting", self.max_waiting.to_string()),
            (
                "active_ttl_ms",
                (u64::from(self.active_ttl_seconds) * 1000).to_string(),
            ),
            (
                "hold_ttl_ms",
                (u64::from(self.hold_ttl_seconds) * 1000).to_string(),
            ),
            ("paused", u8::from(self.paused).to_string()),
            (
                "idle_timeout_ms",
                (u64::from(self.idle_timeout_seconds) * 1000).to_string(),
            ),
            ("admit_seat_factor", self.admit_seat_factor.to_string()),
            (
                "poll_budget_per_second",
                self.poll_budget_per_second.to_string(),
            ),
        ]
    }

    /// Settings from the Redis `cfg` hash, each missing field taken from `fallback`.
    pub fn from_redis_fields(fields: &[(String, String)], fallback: Self) -> Self {
        let mut settings = fallback;
        let seconds = |ms: &str| ms.parse::<u64>().ok().map(|ms| (ms / 1000) as u32);
        for (name, value) in fields {
            match name.as_str() {
                "admit_per_second" => set_parsed(&mut settings.admit_per_second, value),
                "max_active" => set_parsed(&mut settings.max_active, value),
                "max_waiting" => set_parsed(&mut settings.max_waiting, value),
                "active_ttl_ms" => {
                    if let Some(s) = seconds(value) {
                        settings.active_ttl_seconds = s;
                    }
                }
                "hold_ttl_ms" => {
                    if let Some(s) = seconds(value) {
                        settings.hold_ttl_seconds = s;
                    }
                }
                "paused" => settings.paused = value == "1",
                "idle_timeout_ms" => {
                    if let Some(s) = seconds(value) {
                        settings.idle_timeout_seconds = s;
                    }
                }
                "admit_seat_factor" => {
                    if let Ok(factor) = value.parse() {
                        settings.admit_seat_factor = factor;
                    }
                }
                "poll_budget_per_second" => set_parsed(&mut settings.poll_budget_per_second, value),
                _ => {}
            }
        }
        settings
    }
}

fn set_parsed(field: &mut u32, value: &str) {
    if let Ok(parsed) = value.parse() {
        *field = parsed;
    }
}

/// An operator's change: any subset of the settings.
// Serialized by `lineup admin set`, with the unset fields left out.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSettingsChange {
    #[schema(minimum = 1, maximum = 100_000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admit_per_second: Option<u32>,
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_active: Option<u32>,
    /// 0 = no cap.
    #[schema(maximum = 2_147_483_647)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_waiting: Option<u32>,
    #[schema(minimum = 1, maximum = 86_400)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_ttl_seconds: Option<u32>,
    #[schema(minimum = 1, maximum = 3_600)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_ttl_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[schema(minimum = 3, maximum = 86_400)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<u32>,
    /// Above 0, at most 100.
    #[schema(exclusive_minimum = 0, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admit_seat_factor: Option<f64>,
    #[schema(minimum = 1, maximum = 10_000_000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_budget_per_second: Option<u32>,
}

impl QueueSettingsChange {
    /// The `cfg` fields this change sets, with their values in `updated`:
    /// only those are written, so two changes of different settings made at
    /// once on two servers both stay (a server that wrote back every setting
    /// as it had read them would put the other change's setting back).
    pub fn redis_fields(&self, updated: QueueSettings) -> Vec<(&'static str, String)> {
        // In the order of `QueueSettings::to_redis_fields`.
        let set = [
            self.admit_per_second.is_some(),
            self.max_active.is_some(),
            self.max_waiting.is_some(),
            self.active_ttl_seconds.is_some(),
            self.hold_ttl_seconds.is_some(),
            self.paused.is_some(),
            self.idle_timeout_seconds.is_some(),
            self.admit_seat_factor.is_some(),
            self.poll_budget_per_second.is_some(),
        ];
        updated
            .to_redis_fields()
            .into_iter()
            .zip(set)
            .filter_map(|(field, set)| set.then_some(field))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_writes_only_the_fields_it_names() {
        let change = QueueSettingsChange {
            paused: Some(true),
            hold_ttl_seconds: Some(60),
            ..QueueSettingsChange::default()
        };
        let updated = QueueSettings {
            paused: true,
            hold_ttl_seconds: 60,
            ..defaults()
        };
        assert_eq!(
            change.redis_fields(updated),
            [
                ("hold_ttl_ms", "60000".to_owned()),
                ("paused", "1".to_owned())
            ]
        );
        assert!(
            QueueSettingsChange::default()
                .redis_fields(updated)
                .is_empty()
        );
    }

    fn settings(
        rate: u32,
        max_active: u32,
        max_waiting: u32,
        active_ttl: u32,
        paused: bool,
    ) -> QueueSettings {
        QueueSettings {
            admit_per_second: rate,
            max_active,
            max_waiting,
            active_ttl_seconds: active_ttl,
            hold_ttl_seconds: 300,
            paused,
            idle_timeout_seconds: 120,
            admit_seat_factor: 2.0,
            poll_budget_per_second: 20_000,
        }
    }

    fn defaults() -> QueueSettings {
        settings(100, 1000, 0, 600, false)
    }

    #[test]
    fn a_change_sets_only_its_fields() {
        let change = QueueSettingsChange {
            admit_per_second: Some(5),
            paused: Some(true),
            ..Default::default()
        };
        let changed = defaults().apply(&change).unwrap();
        assert_eq!(changed.admit_per_second, 5);
        assert!(changed.paused);
        assert_eq!(changed.max_active, 1000);
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        for change in [
            QueueSettingsChange {
                admit_per_second: Some(0),
                ..Default::default()
            },
            QueueSettingsChange {
                max_active: Some(0),
                ..Default::default()
            },
            QueueSettingsChange {
                active_ttl_seconds: Some(0),
                ..Default::default()
            },
            QueueSettingsChange {
                hold_ttl_seconds: Some(3601),
                ..Default::default()
            },
            QueueSettingsChange {
                idle_timeout_seconds: Some(2),
                ..Default::default()
            },
            QueueSettingsChange {
                admit_seat_factor: Some(0.0),
                ..Default::default()
            },
            QueueSettingsChange {
                admit_seat_factor: Some(f64::NAN),
                ..Default::default()
            },
            QueueSettingsChange {
                poll_budget_per_second: Some(0),
                ..Default::default()
            },
        ] {
            assert!(defaults().apply(&change).is_err(), "{change:?}");
        }
    }

    #[test]
    fn settings_round_trip_through_redis_fields() {
        let settings = QueueSettings {
            hold_ttl_seconds: 45,
            idle_timeout_seconds: 30,
            admit_seat_factor: 1.5,
            poll_budget_per_second: 500,
            ..settings(7, 30, 500, 90, true)
        };
        let fields: Vec<(String, String)> = settings
            .to_redis_fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            QueueSettings::from_redis_fields(&fields, defaults()),
            settings
        );
        assert_eq!(
            QueueSettings::from_redis_fields(&[], defaults()),
            defaults()
        );
    }
}
