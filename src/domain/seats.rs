use std::fmt;

/// The most seats one reservation may hold.
pub const MAX_SEATS_PER_RESERVATION: usize = 4;

/// The highest seat number: what PostgreSQL's `integer` seat columns hold.
pub const MAX_SEAT_NO: u32 = i32::MAX as u32;

/// A seat number within one schedule: 1 to [`MAX_SEAT_NO`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatNo(u32);

impl SeatNo {
    pub fn parse(n: i64) -> Result<Self, String> {
        if n < 1 || n > i64::from(MAX_SEAT_NO) {
            return Err(format!(
                "seat number {n} is out of range (1 to {MAX_SEAT_NO})"
            ));
        }
        Ok(Self(n as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Seat numbers as plain integers, for Redis arguments and JSON.
pub fn seat_numbers(seats: &[SeatNo]) -> Vec<u32> {
    seats.iter().map(|seat| seat.get()).collect()
}

impl fmt::Display for SeatNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The seats of one reservation: 1 to 4 distinct seat numbers, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatSelection(Vec<SeatNo>);

impl SeatSelection {
    pub fn parse(numbers: &[i64]) -> Result<Self, String> {
        if numbers.is_empty() || numbers.len() > MAX_SEATS_PER_RESERVATION {
            return Err(format!(
                "seat_nos must list 1 to {MAX_SEATS_PER_RESERVATION} seats"
            ));
        }
        let mut seats = numbers
            .iter()
            .map(|&n| SeatNo::parse(n))
            .collect::<Result<Vec<_>, _>>()?;
        seats.sort_unstable();
        if seats.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err("seat_nos must not repeat a seat".into());
        }
        Ok(Self(seats))
    }

    pub fn seats(&self) -> &[SeatNo] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_is_sorted() {
        let selection = SeatSelection::parse(&[8, 7, 3]).unwrap();
        let numbers: Vec<u32> = selection.seats().iter().map(|s| s.get()).collect();
        assert_eq!(numbers, [3, 7, 8]);
    }

    #[test]
    fn empty_oversized_repeated_and_out_of_range_selections_are_refused() {
        for bad in [
            &[][..],
            &[1, 2, 3, 4, 5],
            &[7, 7],
            &[0],
            &[-3],
            &[i64::from(MAX_SEAT_NO) + 1],
            &[i64::from(u32::MAX)],
        ] {
            assert!(SeatSelection::parse(bad).is_err(), "{bad:?}");
        }
    }
}
