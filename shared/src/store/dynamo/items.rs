//! One serde struct per stored item, converted with `serde_dynamo`; each
//! item function adds the item's keys from [`super::keys`]. Enum values
//! (invitation status, join kind) go through serde everywhere, in items and
//! in update expressions alike ([`value`]).
//!
//! Reading ignores key attributes: records are rebuilt from the data alone.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Item;
use super::error::{decode_err, encode_err};
use super::keys::{self, Key};
use super::schema::{GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK, LSI1SK};
use super::tx::Expr;
use crate::domain::{
    CodeId, CodeRecord, Counter, DeliveryState, Email, Event, InvitationId, InvitationRecord,
    InvitationStatus, JoinedVia, LicenseId, LicenseRecord, Principal, SeatRecord, SecretHash,
    Suppression, SuppressionReason, Timestamp, UserId,
};
use crate::error::StoreResult;
use crate::store::LimitWindow;

/// The item: `value`'s attributes, its key and its index keys.
fn encode<T: Serialize>(
    what: &'static str,
    value: &T,
    key: &Key,
    index_keys: Vec<(&'static str, String)>,
) -> StoreResult<Item> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| encode_err(what, &e))?;
    item.extend(key.item());
    for (name, key) in index_keys {
        item.insert(name.to_owned(), AttributeValue::S(key));
    }
    Ok(item)
}

fn decode<T: DeserializeOwned>(what: &'static str, item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item).map_err(|e| decode_err(what, &e))
}

/// A value for an expression, serialized as in items.
pub(super) fn value<T: Serialize>(value: &T) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(value).map_err(|e| encode_err("encode value", &e))
}

/// A number for an expression.
pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

// ---- license and its admin entries --------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseItem {
    license_id: LicenseId,
    name: String,
    organization: String,
    product: String,
    seats_total: u32,
    expires_at: Option<Timestamp>,
    allowed_email_domains: Vec<String>,
    owner: Principal,
    admins: Vec<Principal>,
    created_at: Timestamp,
}

pub(super) fn license_item(l: &LicenseRecord) -> StoreResult<Item> {
    let item = LicenseItem {
        license_id: l.license_id.clone(),
        name: l.name.clone(),
        organization: l.organization.clone(),
        product: l.product.clone(),
        seats_total: l.seats_total,
        expires_at: l.expires_at,
        allowed_email_domains: l.allowed_email_domains.clone(),
        owner: l.owner.clone(),
        admins: l.admins.clone(),
        created_at: l.created_at,
    };
    encode(
        "encode license",
        &item,
        &keys::license(&l.license_id),
        vec![],
    )
}

pub(super) fn license_from(item: Item) -> StoreResult<LicenseRecord> {
    let i: LicenseItem = decode("decode license", item)?;
    Ok(LicenseRecord {
        license_id: i.license_id,
        name: i.name,
        organization: i.organization,
        product: i.product,
        seats_total: i.seats_total,
        expires_at: i.expires_at,
        allowed_email_domains: i.allowed_email_domains,
        owner: i.owner,
        admins: i.admins,
        created_at: i.created_at,
    })
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminItem {
    license_id: LicenseId,
}

pub(super) fn admin_item(user_id: &UserId, license_id: &LicenseId) -> StoreResult<Item> {
    let item = AdminItem {
        license_id: license_id.clone(),
    };
    encode(
        "encode admin entry",
        &item,
        &keys::admin(user_id, license_id),
        vec![],
    )
}

/// The license id of an admin entry.
pub(super) fn admin_from(item: Item) -> StoreResult<LicenseId> {
    decode::<AdminItem>("decode admin entry", item).map(|a| a.license_id)
}

// ---- counters --------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CounterItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cap: Option<u32>,
    used: u32,
    /// Seat counters: the license's rules, copied when it is created
    /// (they never change after), so that a claim that has not read the
    /// license checks them on the item its transaction updates anyway.
    /// `rules` marks a shard that has the copy ([`SHARD_RULES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rules: Option<u32>,
    /// The license's expiry in Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_ms: Option<i64>,
    /// The license's allowed email domains, normalised (`domain_rule`);
    /// absent when any domain may join.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    domains: Vec<String>,
}

/// The version of the rules a seat counter shard carries.
pub(super) const SHARD_RULES: u32 = 1;

/// A fresh counter shard under `key` ([`keys::use_counter`]); `cap: None`
/// counts without a limit.
pub(super) fn counter_item(key: &Key, cap: Option<u32>) -> StoreResult<Item> {
    let counter = CounterItem {
        cap,
        used: 0,
        rules: None,
        expires_ms: None,
        domains: Vec::new(),
    };
    encode("encode counter", &counter, key, vec![])
}

/// The rules of `license` as its seat counter shards carry them: the
/// expiry in Unix milliseconds, and the allowed domains normalised.
pub(super) fn shard_rules(license: &LicenseRecord) -> (Option<i64>, Vec<String>) {
    (
        license.expires_at.map(|at| at.timestamp_millis()),
        license
            .allowed_email_domains
            .iter()
            .map(|d| crate::domain::domain_rule(d))
            .collect(),
    )
}

/// A fresh seat counter shard of `license` under `key`, with `cap` seats
/// and the license's rules.
pub(super) fn seat_counter_item(key: &Key, cap: u32, license: &LicenseRecord) -> StoreResult<Item> {
    let (expires_ms, domains) = shard_rules(license);
    let counter = CounterItem {
        cap: Some(cap),
        used: 0,
        rules: Some(SHARD_RULES),
        expires_ms,
        domains,
    };
    encode("encode counter", &counter, key, vec![])
}

/// The counter shards of one license or code that exist, taken out of
/// `found` (`key(i)` is shard `i`'s key). A license or code created with
/// fewer than `COUNTER_SHARDS` shards has fewer: the others are absent, not
/// full and not empty.
pub(super) fn counters_in(
    found: &mut std::collections::HashMap<keys::Key, Item>,
    key: impl Fn(u16) -> keys::Key,
) -> StoreResult<Vec<Counter>> {
    let mut counters = Vec::new();
    for index in 0..crate::domain::COUNTER_SHARDS {
        if let Some(item) = found.remove(&key(index)) {
            let c: CounterItem = decode("decode counter", item)?;
            counters.push(Counter {
                index,
                cap: c.cap,
                used: c.used,
            });
        }
    }
    Ok(counters)
}

// ---- codes -------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeItem {
    code_id: CodeId,
    code_hash: String,
    license_id: LicenseId,
    last4: String,
    max_uses: Option<u32>,
    expires_at: Option<Timestamp>,
    revoked: bool,
    note: Option<String>,
    created_at: Timestamp,
}

pub(super) fn code_item(c: &CodeRecord) -> StoreResult<Item> {
    let item = CodeItem {
        code_id: c.code_id.clone(),
        code_hash: c.code_hash.as_str().to_owned(),
        license_id: c.license_id.clone(),
        last4: c.last4.clone(),
        max_uses: c.max_uses,
        expires_at: c.expires_at,
        revoked: c.revoked,
        note: c.note.clone(),
        created_at: c.created_at,
    };
    let index_keys = vec![
        (GSI2PK, keys::codes_of(&c.license_id)),
        (GSI2SK, c.code_id.to_string()),
    ];
    encode("encode code", &item, &keys::code(&c.code_hash), index_keys)
}

pub(super) fn code_from(item: Item) -> StoreResult<CodeRecord> {
    let i: CodeItem = decode("decode code", item)?;
    Ok(CodeRecord {
        code_id: i.code_id,
        code_hash: SecretHash::from_stored(i.code_hash),
        license_id: i.license_id,
        last4: i.last4,
        max_uses: i.max_uses,
        expires_at: i.expires_at,
        revoked: i.revoked,
        note: i.note,
        created_at: i.created_at,
    })
}

// ---- invitations -----------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvitationItem {
    invitation_id: InvitationId,
    token_hash: String,
    license_id: LicenseId,
    email: Option<Email>,
    status: InvitationStatus,
    expires_at: Option<Timestamp>,
    created_at: Timestamp,
    #[serde(default)]
    valid_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    invited_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivery: Option<DeliveryState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivery_at: Option<Timestamp>,
}

/// The update that moves an invitation from pending to `status`, with its
/// names and values (`#status` for the attribute): it leaves the
/// pending-by-email index (gsi1) and moves to `status`'s gsi3 partition in
/// the same write. The caller adds its condition's values.
pub(super) fn leave_pending(
    license_id: &LicenseId,
    invitation_id: &InvitationId,
    status: InvitationStatus,
) -> StoreResult<(String, Expr)> {
    let update = format!(
        "SET #status = :to, {GSI3PK} = :gsi3pk, {GSI3SK} = :gsi3sk REMOVE {GSI1PK}, {GSI1SK}"
    );
    let expr = Expr::default()
        .name("#status", "status")
        .value(":to", value(&status)?)
        .value(
            ":gsi3pk",
            AttributeValue::S(keys::invitations_in(license_id, status)),
        )
        .value(
            ":gsi3sk",
            AttributeValue::S(keys::invitation_in_status(status, None, invitation_id)),
        );
    Ok((update, expr))
}

/// An invitation's gsi3 keys, for its stored status.
pub(super) fn invitation_lookup_keys(inv: &InvitationRecord) -> [(&'static str, String); 2] {
    [
        (GSI3PK, keys::invitations_in(&inv.license_id, inv.status)),
        (
            GSI3SK,
            keys::invitation_in_status(inv.status, inv.expires_at, &inv.invitation_id),
        ),
    ]
}

/// A seat's gsi3 keys.
pub(super) fn seat_lookup_keys(s: &SeatRecord) -> [(&'static str, String); 2] {
    [
        (GSI3PK, keys::member(&s.license_id, &s.email)),
        (GSI3SK, s.user_id.to_string()),
    ]
}

pub(super) fn invitation_item(inv: &InvitationRecord) -> StoreResult<Item> {
    let item = InvitationItem {
        invitation_id: inv.invitation_id.clone(),
        token_hash: inv.token_hash.as_str().to_owned(),
        license_id: inv.license_id.clone(),
        email: inv.email.clone(),
        status: inv.status,
        expires_at: inv.expires_at,
        created_at: inv.created_at,
        valid_days: inv.valid_days,
        invited_by: inv.invited_by.clone(),
        delivery: inv.delivery,
        delivery_at: inv.delivery_at,
    };
    let mut index_keys = vec![
        (GSI2PK, keys::invitations_of(&inv.license_id)),
        (GSI2SK, inv.invitation_id.to_string()),
    ];
    index_keys.extend(invitation_lookup_keys(inv));
    if let Some(email) = inv
        .email
        .as_ref()
        .filter(|_| inv.status == InvitationStatus::Pending)
    {
        index_keys.push((GSI1PK, keys::pending_for(email)));
        index_keys.push((GSI1SK, inv.invitation_id.to_string()));
    }
    let key = keys::invitation(&inv.token_hash);
    encode("encode invitation", &item, &key, index_keys)
}

pub(super) fn invitation_from(item: Item) -> StoreResult<InvitationRecord> {
    let i: InvitationItem = decode("decode invitation", item)?;
    Ok(InvitationRecord {
        invitation_id: i.invitation_id,
        token_hash: SecretHash::from_stored(i.token_hash),
        license_id: i.license_id,
        email: i.email,
        status: i.status,
        expires_at: i.expires_at,
        created_at: i.created_at,
        valid_days: i.valid_days,
        invited_by: i.invited_by,
        delivery: i.delivery,
        delivery_at: i.delivery_at,
    })
}

// ---- seats -------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeatItem {
    license_id: LicenseId,
    user_id: UserId,
    email: Email,
    joined_at: Timestamp,
    joined_via: JoinedVia,
    via_id: String,
    shard: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_id: Option<String>,
}

pub(super) fn seat_item(s: &SeatRecord) -> StoreResult<Item> {
    let item = SeatItem {
        license_id: s.license_id.clone(),
        user_id: s.user_id.clone(),
        email: s.email.clone(),
        joined_at: s.joined_at,
        joined_via: s.joined_via,
        via_id: s.via_id.clone(),
        shard: s.shard,
        claim_id: s.claim_id.clone(),
    };
    let mut index_keys = vec![
        (
            LSI1SK,
            keys::joined(&keys::seat_of_user(s.joined_at, &s.license_id)),
        ),
        (GSI2PK, keys::seats_of(&s.license_id, s.shard)),
        (GSI2SK, keys::seat_in_license(s.joined_at, &s.user_id)),
    ];
    index_keys.extend(seat_lookup_keys(s));
    let key = keys::seat(&s.user_id, &s.license_id);
    encode("encode seat", &item, &key, index_keys)
}

pub(super) fn seat_from(item: Item) -> StoreResult<SeatRecord> {
    let i: SeatItem = decode("decode seat", item)?;
    Ok(SeatRecord {
        license_id: i.license_id,
        user_id: i.user_id,
        email: i.email,
        joined_at: i.joined_at,
        joined_via: i.joined_via,
        via_id: i.via_id,
        shard: i.shard,
        claim_id: i.claim_id,
    })
}

// ---- audit events and limit windows --------------------------------------------

pub(super) fn event_item(e: &Event) -> StoreResult<Item> {
    let key = keys::event(&e.license_id, e.shard, &e.event_id);
    encode("encode event", e, &key, vec![])
}

pub(super) fn event_from(item: Item) -> StoreResult<Event> {
    decode("decode event", item)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DepartureItem {
    left_at: Timestamp,
    /// Unix seconds when it is forgotten: DynamoDB's TTL deletes it later.
    ttl: i64,
}

/// The note that `user_id` gave up their seat on `license_id` at `at`.
pub(super) fn departure_item(
    user_id: &UserId,
    license_id: &LicenseId,
    at: Timestamp,
) -> StoreResult<Item> {
    let item = DepartureItem {
        left_at: at,
        ttl: at
            .timestamp()
            .saturating_add(crate::store::DEPARTURE_MEMORY_SECS),
    };
    encode(
        "encode departure",
        &item,
        &keys::departure(user_id, license_id),
        vec![],
    )
}

pub(super) fn departed_at_from(item: Item) -> StoreResult<Timestamp> {
    decode::<DepartureItem>("decode departure", item).map(|d| d.left_at)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LimitItem {
    start: i64,
    count: u32,
    /// Unix seconds when the window closes: DynamoDB's TTL deletes it later.
    ttl: i64,
}

/// A window opened at `start` with one event, expiring at `end`.
pub(super) fn limit_item(key: &str, start: i64, end: i64) -> StoreResult<Item> {
    let item = LimitItem {
        start,
        count: 1,
        ttl: end,
    };
    encode("encode limit window", &item, &keys::limit(key), vec![])
}

pub(super) fn window_from(item: Option<Item>) -> StoreResult<Option<LimitWindow>> {
    item.map(|item| {
        decode::<LimitItem>("decode limit window", item).map(|l| LimitWindow {
            start: l.start,
            count: l.count,
        })
    })
    .transpose()
}

// ---- suppressed addresses ----------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuppressionItem {
    /// The address's hash, never the address.
    address: String,
    reason: SuppressionReason,
    at: Timestamp,
}

pub(super) fn suppression_item(s: &Suppression) -> StoreResult<Item> {
    let item = SuppressionItem {
        address: s.address.as_str().to_owned(),
        reason: s.reason,
        at: s.at,
    };
    let key = keys::suppression(&s.address);
    encode("encode suppression", &item, &key, vec![])
}

pub(super) fn suppression_from(item: Item) -> StoreResult<Suppression> {
    decode::<SuppressionItem>("decode suppression", item).map(|s| Suppression {
        address: SecretHash::from_stored(s.address),
        reason: s.reason,
        at: s.at,
    })
}

#[cfg(test)]
mod tests;
