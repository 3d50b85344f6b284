use crate::domain::{ConcertId, Label, Money, ScheduleId, SeatNo};
use crate::queue::QueueSettings;
use chrono::{DateTime, Datelike, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A concert as the catalog serves it.
#[derive(Clone, Debug)]
pub struct Concert {
    pub id: ConcertId,
    pub title: String,
    pub venue: String,
    pub opens_at: DateTime<Utc>,
    /// Settings as stored in PostgreSQL: the fallback when Redis lost its copy.
    pub stored_settings: QueueSettings,
    /// When an operator closed the sale: no joins, admissions or holds after it.
    pub closed_at: Option<DateTime<Utc>>,
    /// Its schedules, earliest first.
    pub schedules: Vec<ScheduleId>,
}

/// One date of a concert and its seat map.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub id: ScheduleId,
    pub concert_id: ConcertId,
    pub starts_at: DateTime<Utc>,
    pub prices: BTreeMap<SeatNo, Money>,
}

impl Schedule {
    pub fn total_seats(&self) -> usize {
        self.prices.len()
    }

    pub fn has_started(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now
    }
}

/// The live catalog at one moment; replaced as a whole when it changes.
#[derive(Clone, Debug, Default)]
pub struct CatalogSnapshot {
    /// Earliest opening first.
    pub concerts: Vec<Arc<Concert>>,
    pub concerts_by_id: HashMap<ConcertId, Arc<Concert>>,
    pub schedules: HashMap<ScheduleId, Arc<Schedule>>,
}

impl CatalogSnapshot {
    pub fn concert(&self, id: ConcertId) -> Option<&Arc<Concert>> {
        self.concerts_by_id.get(&id)
    }

    pub fn schedule(&self, id: ScheduleId) -> Option<&Arc<Schedule>> {
        self.schedules.get(&id)
    }

    /// This snapshot with the concerts and dates of `more` added (or replaced).
    pub fn with(&self, more: CatalogSnapshot) -> CatalogSnapshot {
        let mut merged = self.clone();
        merged
            .concerts
            .retain(|c| !more.concerts_by_id.contains_key(&c.id));
        merged.concerts.extend(more.concerts);
        merged
            .concerts
            .sort_by_key(|c| (c.opens_at, c.id.as_uuid()));
        merged.concerts_by_id.extend(more.concerts_by_id);
        merged.schedules.extend(more.schedules);
        merged
    }

    /// Whether the concert's sale is open for joining now: not closed, and a
    /// date still ahead.
    pub fn on_sale(&self, concert: &Concert, now: DateTime<Utc>) -> bool {
        concert.closed_at.is_none() && self.schedules_of(concert).any(|s| !s.has_started(now))
    }

    pub fn schedules_of(&self, concert: &Concert) -> impl Iterator<Item = &Arc<Schedule>> {
        concert
            .schedules
            .iter()
            .filter_map(|id| self.schedules.get(id))
    }
}

/// A concert an operator creates, checked.
#[derive(Clone, Debug)]
pub struct NewConcert {
    pub title: String,
    pub venue: String,
    pub opens_at: DateTime<Utc>,
    pub schedules: Vec<NewSchedule>,
}

#[derive(Clone, Debug)]
pub struct NewSchedule {
    pub starts_at: DateTime<Utc>,
    pub seats: Vec<(SeatNo, Money)>,
}

/// One date as an operator sends it: its start and its (seat number, price) pairs.
pub type RawSchedule = (DateTime<Utc>, Vec<(i64, i64)>);

/// Limits on one concert, so one request cannot fill the database.
pub const MAX_SCHEDULES: usize = 100;
pub const MAX_SEATS_PER_SCHEDULE: usize = 100_000;
pub const MAX_PRICE: i64 = 100_000_000;
/// Longest title or venue, in characters (the schema's CHECK agrees).
pub const MAX_TEXT_CHARS: usize = 200;

/// The years a date may fall in: four digits, as RFC 3339 writes them (JSON
/// parses signed years of five and six digits too, some of them before what
/// PostgreSQL's `timestamptz` holds).
const DATE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

fn storable_date(field: &str, date: DateTime<Utc>) -> Result<(), String> {
    if DATE_YEARS.contains(&date.year()) {
        Ok(())
    } else {
        Err(format!("{field} must fall in the years 1 to 9999"))
    }
}

impl NewConcert {
    /// Checks an operator's concert: a title and a venue (one line each, see
    /// [`Label`]), 1 to 100 schedules, 1 to 100,000 seats each with distinct
    /// numbers of 1 or more and prices from 0 to 100,000,000 won.
    pub fn parse(
        title: &str,
        venue: &str,
        opens_at: DateTime<Utc>,
        schedules: Vec<RawSchedule>,
    ) -> Result<Self, String> {
        let title = Label::parse("title", title, MAX_TEXT_CHARS)?;
        let venue = Label::parse("venue", venue, MAX_TEXT_CHARS)?;
        storable_date("opens_at", opens_at)?;
        if schedules.is_empty() || schedules.len() > MAX_SCHEDULES {
            return Err(format!("schedules must list 1 to {MAX_SCHEDULES} dates"));
        }
        let mut parsed = Vec::with_capacity(schedules.len());
        for (index, (starts_at, seats)) in schedules.into_iter().enumerate() {
            storable_date(&format!("schedules[{index}].starts_at"), starts_at)?;
            if seats.is_empty() || seats.len() > MAX_SEATS_PER_SCHEDULE {
                return Err(format!(
                    "schedules[{index}].seats must list 1 to {MAX_SEATS_PER_SCHEDULE} seats"
                ));
            }
            let mut checked = BTreeMap::new();
            for (seat_no, price) in seats {
                let seat =
                    SeatNo::parse(seat_no).map_err(|e| format!("schedules[{index}]: {e}"))?;
                if !(0..=MAX_PRICE).contains(&price) {
                    return Err(format!(
                        "schedules[{index}]: price of seat {seat} must be 0 to {MAX_PRICE} won"
                    ));
                }
                let price = Money::parse(price).map_err(|e| format!("schedules[{index}]: {e}"))?;
                if checked.insert(seat, price).is_some() {
                    return Err(format!("schedules[{index}]: seat {seat} is listed twice"));
                }
            }
            parsed.push(NewSchedule {
                starts_at,
                seats: checked.into_iter().collect(),
            });
        }
        Ok(Self {
            title: title.into_string(),
            venue: venue.into_string(),
            opens_at,
            schedules: parsed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn a_well_formed_concert_is_accepted() {
        let concert = NewConcert::parse(
            " Night ",
            "Hall",
            now(),
            vec![(now(), vec![(2, 50_000), (1, 30_000)])],
        )
        .unwrap();
        assert_eq!(concert.title, "Night");
        let seats: Vec<u32> = concert.schedules[0]
            .seats
            .iter()
            .map(|(s, _)| s.get())
            .collect();
        assert_eq!(seats, [1, 2]);
    }

    #[test]
    fn malformed_concerts_are_refused() {
        let seats = || vec![(1, 1000)];
        for (title, venue, schedules) in [
            ("", "Hall", vec![(now(), seats())]),
            ("Night", " ", vec![(now(), seats())]),
            ("Night", "Hall", vec![]),
            ("Night", "Hall", vec![(now(), vec![])]),
            ("Night", "Hall", vec![(now(), vec![(0, 1000)])]),
            ("Night", "Hall", vec![(now(), vec![(1, -1)])]),
            ("Night", "Hall", vec![(now(), vec![(1, 1000), (1, 2000)])]),
            ("Night", "Hall", vec![(now(), vec![(1, MAX_PRICE + 1)])]),
        ] {
            assert!(
                NewConcert::parse(title, venue, now(), schedules.clone()).is_err(),
                "{title:?} {venue:?} {schedules:?}"
            );
        }
    }
}
