//! Every key string of every item, for the table and its indexes: the one
//! place both writes and reads build them. The formats are the stored data;
//! changing one orphans what is already in the table (the tests below pin
//! them).
//!
//! | item               | pk / sk                                   | index keys |
//! |--------------------|-------------------------------------------|------------|
//! | license            | `LIC#<licenseId>` / `LICENSE`             |            |
//! | seat counter shard | `LIC#<licenseId>#SEATS#<i>` / `COUNTER`   |            |
//! | code               | `CODE#<sha256>` / `CODE`                  | gsi2 `CODES#<licenseId>` / `<codeId>` |
//! | code use shard     | `CODE#<codeId>#USES#<i>` / `COUNTER`      |            |
//! | invitation         | `INV#<sha256>` / `INVITATION`             | gsi1 `EMAIL#<email>` / `<invitationId>` while pending; gsi2 `INVS#<licenseId>` / `<invitationId>`; gsi3 `INVS#<licenseId>#<status>` / `<expiresAt>#<invitationId>` while pending (`~#<invitationId>` without expiry), `<invitationId>` after |
//! | seat               | `USER#<sub>` / `SEAT#<licenseId>`         | lsi1 `SEAT#<joinedAt>#<licenseId>`; gsi2 `SEATS#<licenseId>#<shard>` / `<joinedAt>#<sub>`; gsi3 `MEMBER#<licenseId>#<email>` / `<sub>` |
//! | admin entry        | `USER#<sub>` / `ADMIN#<licenseId>`        |            |
//! | departure          | `USER#<sub>` / `LEFT#<licenseId>`         | TTL on `ttl` |
//! | audit event        | `EVENTS#<licenseId>#<shard>` / `<eventId>`|            |
//! | limit window       | `LIMIT#<key>` / `LIMIT`                   | TTL on `ttl` |
//! | turned away        | `DEMAND#<licenseId>#<s>` / `USER#<sub>`   | TTL on `ttl` |
//! | refusals of a day  | `DEMAND#<licenseId>#<s>` / `DAY#<date>`   | TTL on `ttl` |
//! | suppressed address | `SUPPRESSED#<sha256>` / `SUPPRESSED`      |            |
//!
//! Ids of codes, invitations and events sort by creation time, and join
//! times are fixed-width, so these sort keys give newest-first listings.
//! A pending invitation's gsi3 sort key starts with its expiry, so "pending"
//! (expiry after now) and "expired" (at or before now) are two key ranges of
//! one partition, latest expiry first.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::SecondsFormat;

use super::Item;
use super::schema::{PK, SK};
use crate::domain::{
    CodeId, Email, InvitationId, InvitationStatus, LicenseId, SecretHash, Timestamp, UserId,
};

/// The primary key of one item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Self { pk, sk: sk.into() }
    }

    /// The key as the SDK takes it.
    pub fn item(&self) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }

    /// The key of an item the SDK returned.
    pub fn of(item: &Item) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Some(Self::new(text(PK)?, text(SK)?))
    }
}

pub(super) fn license(license_id: &LicenseId) -> Key {
    Key::new(format!("LIC#{license_id}"), "LICENSE")
}

pub(super) fn seat_counter(license_id: &LicenseId, shard: u16) -> Key {
    Key::new(format!("LIC#{license_id}#SEATS#{shard}"), "COUNTER")
}

pub(super) fn code(hash: &SecretHash) -> Key {
    Key::new(format!("CODE#{}", hash.as_str()), "CODE")
}

pub(super) fn use_counter(code_id: &CodeId, shard: u16) -> Key {
    Key::new(format!("CODE#{code_id}#USES#{shard}"), "COUNTER")
}

pub(super) fn invitation(hash: &SecretHash) -> Key {
    Key::new(format!("INV#{}", hash.as_str()), "INVITATION")
}

/// Demand shards per license: a student's records and their day's count
/// share a partition, chosen by the student (`docs/capacity.md`, "Demand").
pub(super) const DEMAND_SHARDS: u16 = 8;

/// The demand partition of `license_id` that `user_id`'s refusals go to.
pub(super) fn demand_partition(license_id: &LicenseId, shard: u16) -> String {
    format!("DEMAND#{license_id}#{shard}")
}

/// The partition a student's refusals of `license_id` are written to (for
/// models of the table's load, such as the tests' contention simulator).
pub fn turned_away_partition(license_id: &LicenseId, user_id: &UserId) -> String {
    demand_partition(license_id, demand_shard(user_id))
}

/// Which demand shard a student's refusals are counted on (FNV-1a of the
/// user id: stable, spread evenly).
pub(super) fn demand_shard(user_id: &UserId) -> u16 {
    let hash = user_id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    u16::try_from(hash % u64::from(DEMAND_SHARDS)).unwrap_or(0)
}

/// A student's refusal record on a license.
pub(super) fn demand_student(license_id: &LicenseId, user_id: &UserId) -> Key {
    Key::new(
        demand_partition(license_id, demand_shard(user_id)),
        format!("{USER_SK_PREFIX}{user_id}"),
    )
}

/// The refused attempts of one UTC day counted on `shard`.
pub(super) fn demand_day(license_id: &LicenseId, shard: u16, day: chrono::NaiveDate) -> Key {
    Key::new(
        demand_partition(license_id, shard),
        format!("{DAY_SK_PREFIX}{day}"),
    )
}

pub(super) const USER_SK_PREFIX: &str = "USER#";
pub(super) const DAY_SK_PREFIX: &str = "DAY#";

pub(super) fn seat(user_id: &UserId, license_id: &LicenseId) -> Key {
    Key::new(user(user_id), format!("{SEAT_PREFIX}{license_id}"))
}

/// Where a member's last departure from a license is noted.
pub(super) fn departure(user_id: &UserId, license_id: &LicenseId) -> Key {
    Key::new(user(user_id), format!("LEFT#{license_id}"))
}

pub(super) fn admin(user_id: &UserId, license_id: &LicenseId) -> Key {
    Key::new(user(user_id), format!("{ADMIN_PREFIX}{license_id}"))
}

pub(super) fn event(license_id: &LicenseId, shard: u16, event_id: &str) -> Key {
    Key::new(events(license_id, shard), event_id)
}

pub(super) fn limit(key: &str) -> Key {
    Key::new(format!("LIMIT#{key}"), "LIMIT")
}

/// An address that is not mailed, by [`crate::domain::Email::hash`].
pub(super) fn suppression(address: &SecretHash) -> Key {
    Key::new(format!("SUPPRESSED#{}", address.as_str()), "SUPPRESSED")
}

// ---- partitions that are queried ---------------------------------------

/// The partition of a user's seats and admin entries.
pub(super) fn user(user_id: &UserId) -> String {
    format!("USER#{user_id}")
}

/// Sort-key prefix of a user's admin entries.
pub(super) const ADMIN_PREFIX: &str = "ADMIN#";
/// Sort-key prefix of a user's seats, in `sk` and in `lsi1sk`.
pub(super) const SEAT_PREFIX: &str = "SEAT#";

/// One shard of a license's audit trail (table `pk`).
/// Seat shard `shard` lists on partition `shard % LISTING_SHARDS`.
pub(super) fn events(license_id: &LicenseId, shard: u16) -> String {
    let shard = shard % crate::domain::LISTING_SHARDS;
    format!("EVENTS#{license_id}#{shard}")
}

/// gsi1 partition: pending invitations to an address.
pub(super) fn pending_for(email: &Email) -> String {
    format!("EMAIL#{}", email.as_str())
}

/// gsi2 partition: a license's codes (sort key: code id).
pub(super) fn codes_of(license_id: &LicenseId) -> String {
    format!("CODES#{license_id}")
}

/// gsi2 partition: a license's invitations (sort key: invitation id).
pub(super) fn invitations_of(license_id: &LicenseId) -> String {
    format!("INVS#{license_id}")
}

/// gsi2 partition: one shard of a license's seats.
pub(super) fn seats_of(license_id: &LicenseId, shard: u16) -> String {
    let shard = shard % crate::domain::LISTING_SHARDS;
    format!("SEATS#{license_id}#{shard}")
}

/// The stored name of a status, as in the `status` attribute.
fn status_name(status: InvitationStatus) -> &'static str {
    match status {
        InvitationStatus::Pending => "pending",
        InvitationStatus::Accepted => "accepted",
        InvitationStatus::Declined => "declined",
        InvitationStatus::Revoked => "revoked",
        InvitationStatus::Expired => "expired",
    }
}

/// gsi3 partition: a license's invitations stored with `status` (never
/// `expired`, which is a range of the pending partition).
pub(super) fn invitations_in(license_id: &LicenseId, status: InvitationStatus) -> String {
    format!("INVS#{license_id}#{}", status_name(status))
}

/// gsi3 partition: the seat (at most one per user; an address may have
/// more than one user) of `email` on a license.
pub(super) fn member(license_id: &LicenseId, email: &Email) -> String {
    format!("MEMBER#{license_id}#{}", email.as_str())
}

// ---- sort keys that are page positions -----------------------------------

/// The expiry part of a pending invitation's gsi3 sort key when it never
/// expires: sorts after every timestamp.
const NEVER: &str = "~";

/// gsi3 sort key of an invitation in its status partition: expiry first
/// while pending, the id alone after.
pub(super) fn invitation_in_status(
    status: InvitationStatus,
    expires_at: Option<Timestamp>,
    invitation_id: &InvitationId,
) -> String {
    match status {
        InvitationStatus::Pending => format!(
            "{}#{invitation_id}",
            expires_at.map_or_else(|| NEVER.to_owned(), sortable)
        ),
        _ => invitation_id.to_string(),
    }
}

/// The gsi3 sort key between the pending invitations that have expired at
/// `now` (below) and those that have not (above): above every key that
/// expires at `now` itself, below every key that expires later.
pub(super) fn expiry_boundary(now: Timestamp) -> String {
    format!("{}#{NEVER}", sortable(now))
}

/// Fixed-width (sortable) form of a join time.
fn sortable(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// gsi2 sort key of a seat in its license's seat list, and the page
/// position of `license_seats`: `<joinedAt>#<sub>`.
pub(super) fn seat_in_license(joined_at: Timestamp, user_id: &UserId) -> String {
    format!("{}#{user_id}", sortable(joined_at))
}

/// Page position of `user_seats`: `<joinedAt>#<licenseId>`.
pub(super) fn seat_of_user(joined_at: Timestamp, license_id: &LicenseId) -> String {
    format!("{}#{license_id}", sortable(joined_at))
}

/// lsi1 sort key of a seat at page position `position` (of
/// [`seat_of_user`]): `SEAT#<joinedAt>#<licenseId>`.
pub(super) fn joined(position: &str) -> String {
    format!("{SEAT_PREFIX}{position}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(raw)
            .expect("a timestamp")
            .to_utc()
    }

    fn pair(key: Key) -> (String, String) {
        (key.pk, key.sk)
    }

    /// A cursor's position reaches a sort key (or a start key) of these
    /// shapes; at its longest, behind the longest user id, it still fits
    /// DynamoDB's 1,024 bytes.
    #[test]
    fn the_longest_page_position_fits_in_a_sort_key() {
        const SORT_KEY_MAX_BYTES: usize = 1_024;
        let position = "p".repeat(crate::store::PagePosition::MAX_BYTES);
        let user = UserId::from("u".repeat(256).as_str());
        let admin_entry = admin(&user, &LicenseId::from(position.as_str()));
        for key in [joined(&position), admin_entry.sk, position.clone()] {
            assert!(key.len() <= SORT_KEY_MAX_BYTES, "{} bytes", key.len());
        }
    }

    fn both(pk: &str, sk: &str) -> (String, String) {
        (pk.to_owned(), sk.to_owned())
    }

    #[test]
    fn item_keys_are_the_stored_formats() {
        let hash = SecretHash::from_stored("ab12".into());
        assert_eq!(pair(license(&"l1".into())), both("LIC#l1", "LICENSE"));
        assert_eq!(
            pair(seat_counter(&"l1".into(), 7)),
            both("LIC#l1#SEATS#7", "COUNTER")
        );
        assert_eq!(pair(code(&hash)), both("CODE#ab12", "CODE"));
        assert_eq!(
            pair(use_counter(&"code_1".into(), 0)),
            both("CODE#code_1#USES#0", "COUNTER")
        );
        assert_eq!(pair(invitation(&hash)), both("INV#ab12", "INVITATION"));
        assert_eq!(
            pair(seat(&"u1".into(), &"l1".into())),
            both("USER#u1", "SEAT#l1")
        );
        assert_eq!(
            pair(admin(&"u1".into(), &"l1".into())),
            both("USER#u1", "ADMIN#l1")
        );
        assert_eq!(
            pair(event(&"l1".into(), 3, "evt_1")),
            both("EVENTS#l1#3", "evt_1")
        );
        assert_eq!(pair(limit("redeem#u1")), both("LIMIT#redeem#u1", "LIMIT"));
        assert_eq!(
            pair(suppression(&hash)),
            both("SUPPRESSED#ab12", "SUPPRESSED")
        );
    }

    #[test]
    fn index_keys_are_the_stored_formats() {
        let email = Email::parse("Ann@Demo.edu").expect("an address");
        assert_eq!(user(&"u1".into()), "USER#u1");
        assert_eq!((ADMIN_PREFIX, SEAT_PREFIX), ("ADMIN#", "SEAT#"));
        assert_eq!(events(&"l1".into(), 15), "EVENTS#l1#15");
        assert_eq!(pending_for(&email), "EMAIL#ann@demo.edu");
        assert_eq!(codes_of(&"l1".into()), "CODES#l1");
        assert_eq!(invitations_of(&"l1".into()), "INVS#l1");
        assert_eq!(seats_of(&"l1".into(), 2), "SEATS#l1#2");
        let joined_at = at("2026-09-01T08:00:00Z");
        assert_eq!(
            seat_in_license(joined_at, &"u1".into()),
            "2026-09-01T08:00:00.000Z#u1"
        );
        assert_eq!(
            joined(&seat_of_user(joined_at, &"l1".into())),
            "SEAT#2026-09-01T08:00:00.000Z#l1"
        );
    }

    #[test]
    fn lookup_keys_are_the_stored_formats() {
        let email = Email::parse("Ann@Demo.edu").expect("an address");
        let id = InvitationId::from("inv_1");
        let expires = at("2026-09-15T08:00:00Z");
        assert_eq!(
            invitations_in(&"l1".into(), InvitationStatus::Pending),
            "INVS#l1#pending"
        );
        assert_eq!(
            invitations_in(&"l1".into(), InvitationStatus::Revoked),
            "INVS#l1#revoked"
        );
        assert_eq!(member(&"l1".into(), &email), "MEMBER#l1#ann@demo.edu");
        assert_eq!(
            invitation_in_status(InvitationStatus::Pending, Some(expires), &id),
            "2026-09-15T08:00:00.000Z#inv_1"
        );
        assert_eq!(
            invitation_in_status(InvitationStatus::Pending, None, &id),
            "~#inv_1"
        );
        assert_eq!(
            invitation_in_status(InvitationStatus::Accepted, Some(expires), &id),
            "inv_1"
        );
    }

    #[test]
    fn the_expiry_boundary_splits_pending_from_expired() {
        let now = at("2026-09-15T08:00:00Z");
        let key = |at: Option<Timestamp>, id: &str| {
            invitation_in_status(InvitationStatus::Pending, at, &InvitationId::from(id))
        };
        let boundary = expiry_boundary(now);
        // Expires at now: expired, as `status_at` says.
        assert!(key(Some(now), "inv_zzzz") < boundary);
        assert!(key(Some(now - chrono::TimeDelta::days(1)), "inv_a") < boundary);
        assert!(key(Some(now + chrono::TimeDelta::milliseconds(1)), "inv_a") > boundary);
        assert!(key(None, "inv_a") > boundary);
    }

    #[test]
    fn join_sort_keys_order_by_time() {
        let (early, late) = (at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00.5Z"));
        assert!(
            joined(&seat_of_user(early, &"b".into())) < joined(&seat_of_user(late, &"a".into()))
        );
        assert!(seat_in_license(early, &"b".into()) < seat_in_license(late, &"a".into()));
    }

    #[test]
    fn keys_round_trip_through_items() {
        let key = seat(&"u1".into(), &"l1".into());
        assert_eq!(Key::of(&key.item()), Some(key));
    }
}
