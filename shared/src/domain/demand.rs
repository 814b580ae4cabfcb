//! Demand: the students a license turned away (no seat left, or the code
//! used up) and how long students waited for a seat, for the license's
//! admins. How it is recorded without a hot key is in `docs/capacity.md`
//! ("Demand").

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::{SeatRecord, Timestamp, UserId};

/// A refusal that more seats, or more uses of the code, would have avoided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnedAwayReason {
    /// `NO_SEATS_AVAILABLE`.
    NoSeats,
    /// `CODE_USED_UP`.
    CodeUsedUp,
}

impl TurnedAwayReason {
    /// The stored name (also the attribute the day's count is kept in).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSeats => "noSeats",
            Self::CodeUsedUp => "codeUsedUp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "noSeats" => Some(Self::NoSeats),
            "codeUsedUp" => Some(Self::CodeUsedUp),
            _ => None,
        }
    }
}

/// How long a refusal is kept after it (both stores; DynamoDB's TTL).
pub const TURNED_AWAY_KEPT_DAYS: i64 = 31;

/// One student turned away: the first and latest refusal kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnedAwayStudent {
    pub user_id: UserId,
    pub first: Timestamp,
    pub last: Timestamp,
    /// Refused attempts since the record began (it lapses 31 days after the
    /// latest).
    pub attempts: u32,
    /// Why the latest attempt was refused.
    pub reason: TurnedAwayReason,
}

/// Refused attempts on one UTC day, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayAttempts {
    pub no_seats: u32,
    pub code_used_up: u32,
}

impl DayAttempts {
    pub fn add(&mut self, reason: TurnedAwayReason, n: u32) {
        match reason {
            TurnedAwayReason::NoSeats => self.no_seats += n,
            TurnedAwayReason::CodeUsedUp => self.code_used_up += n,
        }
    }

    pub fn total(&self) -> u32 {
        self.no_seats + self.code_used_up
    }
}

/// What a store recorded about a license's refusals since some moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnedAway {
    pub students: Vec<TurnedAwayStudent>,
    pub days: BTreeMap<NaiveDate, DayAttempts>,
}

/// How long a student waited for a seat: from the creation of the code or
/// invitation they joined with to the claim. The upper bounds, in seconds,
/// of the histogram's buckets; the last is open.
pub const WAIT_BUCKETS: [(&str, i64); 5] = [
    ("withinHour", 3_600),
    ("withinDay", 86_400),
    ("withinWeek", 7 * 86_400),
    ("withinMonth", 30 * 86_400),
    ("longer", i64::MAX),
];

/// A time-to-seat histogram, in [`WAIT_BUCKETS`] order.
pub type Waits = [u32; WAIT_BUCKETS.len()];

/// The bucket of a wait of `secs` seconds.
pub fn wait_bucket(secs: i64) -> usize {
    WAIT_BUCKETS
        .iter()
        .position(|(_, bound)| secs < *bound)
        .unwrap_or(WAIT_BUCKETS.len() - 1)
}

/// The creation time inside a time-ordered id (`code_0192f3a4b5c6_…`,
/// `inv_…`: 12 hex digits of Unix milliseconds after the prefix).
pub fn id_created_at(id: &str) -> Option<Timestamp> {
    let (_, rest) = id.split_once('_')?;
    let hex = rest.get(..12)?;
    if rest.as_bytes().get(12) != Some(&b'_') {
        return None;
    }
    let millis = i64::from_str_radix(hex, 16).ok()?;
    Utc.timestamp_millis_opt(millis).single()
}

impl SeatRecord {
    /// The histogram bucket of this seat's wait, when the code or invitation
    /// it came through carries its creation time (ids made by this service
    /// do) and that is not after the claim.
    pub fn wait_bucket(&self) -> Option<usize> {
        let created = id_created_at(&self.via_id)?;
        let secs = (self.joined_at - created).num_seconds();
        (secs >= 0).then(|| wait_bucket(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time_ordered_id;

    #[test]
    fn waits_fall_into_their_buckets() {
        assert_eq!(wait_bucket(0), 0);
        assert_eq!(wait_bucket(3_599), 0);
        assert_eq!(wait_bucket(3_600), 1);
        assert_eq!(wait_bucket(86_400 * 6), 2);
        assert_eq!(wait_bucket(86_400 * 29), 3);
        assert_eq!(wait_bucket(86_400 * 400), 4);
    }

    #[test]
    fn the_creation_time_is_read_back_from_a_time_ordered_id() {
        let at = Utc
            .with_ymd_and_hms(2026, 9, 1, 8, 0, 0)
            .single()
            .expect("time");
        assert_eq!(id_created_at(&time_ordered_id("code", at)), Some(at));
        assert_eq!(id_created_at(&time_ordered_id("inv", at)), Some(at));
        for not_one in [
            "",
            "code",
            "code_",
            "code_zz",
            "code_0192f3a4b5c6",
            "inv_3fJxQ",
        ] {
            assert_eq!(id_created_at(not_one), None, "{not_one}");
        }
    }
}
