use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7), so new rows land at the end of indexes.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

uuid_id!(
    /// A person who can join lines, hold seats and pay.
    UserId
);
uuid_id!(
    /// A concert: one sale, one line.
    ConcertId
);
uuid_id!(
    /// One date of a concert, with its own seats.
    ScheduleId
);
uuid_id!(
    /// A hold of 1 to 4 seats of one schedule, waiting to be paid.
    ReservationId
);
uuid_id!(
    /// A confirmed payment and its tickets.
    PaymentId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = ConcertId::new();
        assert_eq!(id.to_string().parse::<ConcertId>().unwrap(), id);
    }

    #[test]
    fn non_uuid_text_is_refused() {
        assert!("42".parse::<UserId>().is_err());
        assert!("../etc/passwd".parse::<UserId>().is_err());
    }
}
