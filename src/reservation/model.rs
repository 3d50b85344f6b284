use crate::domain::{ConcertId, Money, ReservationId, ScheduleId, SeatNo, UserId, seat_numbers};
use crate::error::{Error, Result};
use crate::store::scripts::ReservationSeats;
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// A reservation as its holder sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reservation {
    pub reservation_id: ReservationId,
    pub concert_id: ConcertId,
    pub schedule_id: ScheduleId,
    pub seat_nos: Vec<u32>,
    pub amount: i64,
    /// Always `held`: a paid reservation ends and becomes a payment.
    #[schema(value_type = String, example = "held")]
    pub status: &'static str,
    /// The concert's hold time from the hold, cut short at the admission's
    /// deadline (`active_ttl_seconds + hold_ttl_seconds` after admission):
    /// holding again gains no time.
    pub held_until: DateTime<Utc>,
}

/// A reservation as Redis keeps it (the `res:<id>` hash).
#[derive(Clone, Debug)]
pub struct StoredReservation {
    pub id: ReservationId,
    pub user: UserId,
    pub concert: ConcertId,
    pub schedule: ScheduleId,
    pub seats: Vec<SeatNo>,
    pub amount: Money,
    pub paying: bool,
    /// When a payment's claim lapses (`paying` only; none for a claim made
    /// before claims lapsed): its attempt has had its payment timeout.
    pub claim_until: Option<DateTime<Utc>>,
    pub held_until: DateTime<Utc>,
}

impl StoredReservation {
    /// Reads the hash; `None` when it is empty (the reservation ended).
    pub fn from_hash(id: ReservationId, fields: HashMap<String, String>) -> Result<Option<Self>> {
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| Error::internal(format!("reservation {id} has no {name}")))
        };
        let corrupt =
            |name: &str| Error::internal(format!("reservation {id} has a corrupt {name}"));
        let seats = get("seat_nos")?
            .split(',')
            .map(|n| n.parse::<i64>().ok().and_then(|n| SeatNo::parse(n).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| corrupt("seat_nos"))?;
        let held_until_ms: i64 = get("held_until_ms")?
            .parse()
            .map_err(|_| corrupt("held_until_ms"))?;
        Ok(Some(Self {
            id,
            user: get("user_id")?.parse().map_err(|_| corrupt("user_id"))?,
            concert: get("concert_id")?
                .parse()
                .map_err(|_| corrupt("concert_id"))?,
            schedule: get("schedule_id")?
                .parse()
                .map_err(|_| corrupt("schedule_id"))?,
            seats,
            amount: get("amount")?
                .parse::<i64>()
                .ok()
                .and_then(|a| Money::parse(a).ok())
                .ok_or_else(|| corrupt("amount"))?,
            paying: get("status")? == "paying",
            claim_until: fields
                .get("claim_until_ms")
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
            held_until: Utc
                .timestamp_millis_opt(held_until_ms)
                .single()
                .ok_or_else(|| corrupt("held_until_ms"))?,
        }))
    }

    /// Whether a payment's claim has lapsed by `now` (see pay_begin.lua): its
    /// attempt has had its time, and another attempt may take it over.
    pub fn claim_lapsed(&self, now: DateTime<Utc>) -> bool {
        self.paying && self.claim_until.is_some_and(|until| until <= now)
    }

    /// What the scripts that end it are told: which date, which seats.
    pub(crate) fn held_seats(&self) -> ReservationSeats<'_> {
        ReservationSeats {
            id: self.id,
            schedule: self.schedule,
            seats: &self.seats,
        }
    }

    pub fn view(&self) -> Reservation {
        Reservation {
            reservation_id: self.id,
            concert_id: self.concert,
            schedule_id: self.schedule,
            seat_nos: seat_numbers(&self.seats),
            amount: self.amount.won(),
            status: "held",
            held_until: self.held_until,
        }
    }
}

/// One seat of a seat map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatStatus {
    Available,
    Held,
    Sold,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SeatView {
    pub seat_no: u32,
    pub price: i64,
    pub status: SeatStatus,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SeatMap {
    pub schedule_id: ScheduleId,
    pub seats: Vec<SeatView>,
}
