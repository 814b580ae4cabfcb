//! The embedded store: one mutex over plain maps, so every operation is
//! trivially atomic. The local server's default and the reference the
//! DynamoDB adapter is compared with. One file per port, as there.

mod audit;
mod claims;
mod codes;
mod demand;
mod directory;
mod invitations;
mod limits;
mod suppressions;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::SecondsFormat;

use super::{LimitWindow, Page, Paging};
use crate::domain::{
    CodeId, CodeRecord, Counter, Event, InvitationRecord, LicenseId, LicenseRecord, SeatRecord,
    SecretHash, Suppression, Timestamp, UserId,
};

#[derive(Default)]
struct State {
    licenses: HashMap<LicenseId, LicenseRecord>,
    /// Seat counters by license id, then code use counters by code id.
    seat_counters: HashMap<LicenseId, Vec<Counter>>,
    use_counters: HashMap<CodeId, Vec<Counter>>,
    codes: HashMap<SecretHash, CodeRecord>,
    invitations: HashMap<SecretHash, InvitationRecord>,
    /// Seats by (user id, license id).
    seats: BTreeMap<(UserId, LicenseId), SeatRecord>,
    limits: HashMap<String, LimitWindow>,
    /// When each (user, license) seat was last given up.
    departures: HashMap<(UserId, LicenseId), Timestamp>,
    suppressions: HashMap<SecretHash, Suppression>,
    events: Vec<Event>,
    /// Demand: the students turned away, refused attempts per UTC day, and
    /// each license's time-to-seat histogram.
    turned_away: HashMap<(LicenseId, UserId), crate::domain::TurnedAwayStudent>,
    refused_days: HashMap<(LicenseId, chrono::NaiveDate), crate::domain::DayAttempts>,
    waits: HashMap<LicenseId, crate::domain::Waits>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change
        // (every mutation is checked before it writes), so poison is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn counters(caps: impl IntoIterator<Item = Option<u32>>) -> Vec<Counter> {
    caps.into_iter()
        .zip(0u16..)
        .map(|(cap, index)| Counter {
            index,
            cap,
            used: 0,
        })
        .collect()
}

fn seats_used(state: &State, license_id: &LicenseId) -> u32 {
    state
        .seat_counters
        .get(license_id)
        .map_or(0, |cs| cs.iter().map(|c| c.used).sum())
}

/// Fixed-width (sortable) form of a time.
fn sortable(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `<joinedAt>#<id>`: sorts seats by join time, then by `id`.
fn joined_position(joined_at: Timestamp, id: &str) -> String {
    format!("{}#{id}", sortable(joined_at))
}

/// The items after `after` in descending position order, `limit` at a time.
fn newest_first<T>(mut items: Vec<(String, T)>, Paging { after, limit }: Paging<'_>) -> Page<T> {
    items.sort_by(|a, b| b.0.cmp(&a.0));
    items.retain(|(position, _)| after.is_none_or(|after| position.as_str() < after.as_str()));
    items.truncate(limit + 1);
    let page = Page::from_lookahead(items, limit, |(position, _)| position.clone());
    Page {
        items: page.items.into_iter().map(|(_, item)| item).collect(),
        next: page.next,
    }
}
