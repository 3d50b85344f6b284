//! `lua/admit.lua`: one admission tick of one concert.

use super::{AdmissionKeys, Call, Reply, call};
use crate::domain::ScheduleId;
use crate::error::Result;
use redis::aio::ConnectionLike;

/// The settings the tick falls back on when `cfg` lacks them: the concert's
/// stored settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdmitDefaults {
    pub admit_per_second: u32,
    pub max_active: u32,
    pub active_ttl_ms: u64,
    pub paused: bool,
    pub idle_timeout_ms: u64,
    pub admit_seat_factor: f64,
    pub poll_budget_per_second: u32,
    /// With `active_ttl_ms`, the admission's deadline: admitted people's time
    /// ends at most `active_ttl_ms + hold_ttl_ms` after they were admitted.
    pub hold_ttl_ms: u64,
}

/// A date on sale and its number of seats: the tick counts its free ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateSeats {
    pub schedule: ScheduleId,
    pub total_seats: usize,
}

pub struct AdmitArgs<'a> {
    pub defaults: AdmitDefaults,
    pub dates: &'a [DateSeats],
}

/// What one admit tick did for one concert, and the settings it ran with.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AdmitOutcome {
    pub admitted: u64,
    pub expired_dropped: u64,
    pub waiting: u64,
    pub active: u64,
    pub admit_per_second: f64,
    pub max_active: u64,
    pub paused: bool,
    /// Waiting people dropped for not polling within the idle timeout.
    pub idle_dropped: u64,
    /// Seats of the dates on sale neither sold nor held (`None` while a date's
    /// sold seats were being reloaded from PostgreSQL).
    pub free_seats: Option<u64>,
    /// No seat is free: nobody is admitted, waiting tickets read `sold_out`.
    pub sold_out: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AdmitReply {
    /// Nothing happens until the pre-queue's draw is made.
    Undrawn,
    /// The tick ran; the dates whose sold seats Redis has lost are to be
    /// loaded (nobody was admitted then).
    Ticked {
        outcome: AdmitOutcome,
        unloaded: Vec<ScheduleId>,
    },
}

impl AdmitReply {
    /// `{admitted, expired_dropped, waiting, active, admit_per_second, max_active,
    /// paused, idle_dropped, free_seats (-1 unknown), sold_out, {unloaded dates, 1-based}}`.
    fn parse(mut reply: Reply, dates: &[DateSeats]) -> Result<Self> {
        // `undrawn` is the one string a tick answers; a number starts an outcome.
        let first = reply.next_string()?;
        if first == "undrawn" {
            reply.finish()?;
            return Ok(Self::Undrawn);
        }
        let admitted = first.parse().map_err(|_| reply.unknown(&first))?;
        let outcome = AdmitOutcome {
            admitted,
            expired_dropped: reply.next_u64()?,
            waiting: reply.next_u64()?,
            active: reply.next_u64()?,
            admit_per_second: reply.next_f64()?,
            max_active: reply.next_u64()?,
            paused: reply.next_flag()?,
            idle_dropped: reply.next_u64()?,
            free_seats: u64::try_from(reply.next_i64()?).ok(),
            sold_out: reply.next_flag()?,
        };
        let unloaded = reply
            .next_list()?
            .rest(Reply::next_u64)?
            .into_iter()
            .map(|index| {
                let date = usize::try_from(index).ok().and_then(|i| i.checked_sub(1));
                date.and_then(|i| dates.get(i))
                    .map(|date| date.schedule)
                    .ok_or_else(|| reply.malformed(format!("date {index} was not passed")))
            })
            .collect::<Result<_>>()?;
        reply.finish()?;
        Ok(Self::Ticked { outcome, unloaded })
    }
}

/// Runs one tick over the concert's dates on sale.
pub async fn admit(
    conn: &mut impl ConnectionLike,
    keys: &AdmissionKeys,
    args: AdmitArgs<'_>,
) -> Result<AdmitReply> {
    let concert = &keys.concert;
    let mut call: Call = call!(admit);
    keys.admission(&mut call);
    call.key(concert.cfg())
        .key(concert.bucket())
        .key(concert.user_res())
        .key(concert.idle())
        .key(concert.line_stats())
        .key(concert.draw())
        .key(concert.drawn())
        .key(concert.holders())
        .key(concert.deadlines());
    for date in args.dates {
        call.key(concert.sold(date.schedule))
            .key(concert.sold_loaded(date.schedule))
            .key(concert.held(date.schedule));
    }
    let defaults = args.defaults;
    call.arg(defaults.admit_per_second)
        .arg(defaults.max_active)
        .arg(defaults.active_ttl_ms)
        .arg(u8::from(defaults.paused))
        .arg(defaults.idle_timeout_ms)
        .arg(defaults.admit_seat_factor)
        .arg(defaults.poll_budget_per_second)
        .arg(defaults.hold_ttl_ms);
    for date in args.dates {
        call.arg(date.total_seats);
    }
    // A re-sent tick is a later tick of the same token bucket.
    call.idempotent();
    AdmitReply::parse(call.run(conn).await?, args.dates)
}

#[cfg(test)]
mod tests {
    use super::super::reply::wire::*;
    use super::*;

    fn outcome(free: i64, unloaded: &[i64]) -> redis::Value {
        list([
            i(5),
            i(1),
            i(40),
            i(12),
            i(100),
            i(1000),
            i(0),
            i(2),
            i(free),
            i(0),
            list(unloaded.iter().map(|n| i(*n))),
        ])
    }

    fn dates() -> [DateSeats; 2] {
        [ScheduleId::new(), ScheduleId::new()].map(|schedule| DateSeats {
            schedule,
            total_seats: 50,
        })
    }

    #[test]
    fn a_tick_reads_as_its_outcome_and_the_dates_to_reload() {
        let dates = dates();
        let parse = |value| AdmitReply::parse(Reply::new("admit", value), &dates);
        assert_eq!(parse(list([s("undrawn")])).unwrap(), AdmitReply::Undrawn);
        let AdmitReply::Ticked {
            outcome: o,
            unloaded,
        } = parse(outcome(30, &[])).unwrap()
        else {
            panic!("not a tick")
        };
        assert_eq!(
            o,
            AdmitOutcome {
                admitted: 5,
                expired_dropped: 1,
                waiting: 40,
                active: 12,
                admit_per_second: 100.0,
                max_active: 1000,
                paused: false,
                idle_dropped: 2,
                free_seats: Some(30),
                sold_out: false,
            }
        );
        assert!(unloaded.is_empty());
        let AdmitReply::Ticked {
            outcome: o,
            unloaded,
        } = parse(outcome(-1, &[2])).unwrap()
        else {
            panic!("not a tick")
        };
        assert_eq!(o.free_seats, None);
        assert_eq!(unloaded, [dates[1].schedule]);
    }

    #[test]
    fn an_unknown_word_or_a_date_not_passed_is_a_parse_error() {
        let dates = dates();
        let parse = |value| AdmitReply::parse(Reply::new("admit", value), &dates);
        assert!(error_text(parse(list([s("drawn")]))).contains("\"drawn\""));
        assert!(error_text(parse(outcome(-1, &[3]))).contains("date 3"));
        assert!(error_text(parse(outcome(-1, &[0]))).contains("date 0"));
    }
}
