//! The demo concert of `make run`: 3 dates x 50 seats, on sale at once.

use crate::catalog::{Catalog, NewConcert};
use crate::domain::ConcertId;
use crate::queue::QueueSettings;
use chrono::{Duration, Timelike, Utc};
use uuid::Uuid;

/// A fixed id, so seeding twice is harmless and the README's examples stay valid.
pub const DEMO_CONCERT_ID: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_d3e0);

/// Creates the demo concert unless it exists. Its dates are 30, 31 and 32 days
/// after the first seeding, 19:00 UTC; its sale opened an hour before seeding.
pub async fn seed(catalog: &Catalog, settings: QueueSettings) -> anyhow::Result<ConcertId> {
    let id = ConcertId::from_uuid(DEMO_CONCERT_ID);
    let now = Utc::now();
    let evening = now
        .with_hour(19)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let schedules = (30..33)
        .map(|days| {
            let seats = (1..=50)
                .map(|seat: i64| {
                    // Front rows cost more: 150,000 for 1-10, 90,000 for 11-30, 30,000 for 31-50.
                    let price = match seat {
                        1..=10 => 150_000,
                        11..=30 => 90_000,
                        _ => 30_000,
                    };
                    (seat, price)
                })
                .collect();
            (evening + Duration::days(days), seats)
        })
        .collect();
    let concert = NewConcert::parse(
        "lineup demo night",
        "Olympic Hall, Seoul",
        now - Duration::hours(1),
        schedules,
    )
    .map_err(anyhow::Error::msg)?;
    if catalog.insert(id, &concert, settings).await? {
        tracing::info!(concert_id = %id, "demo concert seeded");
    }
    Ok(id)
}
