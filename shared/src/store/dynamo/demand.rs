//! [`Demand`] on DynamoDB. A refusal is two `UpdateItem`s in one round
//! trip, both in the refused student's demand partition (one of
//! `keys::DEMAND_SHARDS` per license, chosen by the student): the student's
//! record (latest refusal, attempts) and that day's count. No transaction,
//! so no conflict; the partition a full license's refusals go to is spread
//! by student, so no hot key (the arithmetic is in `docs/capacity.md`,
//! "Demand"). Everything lapses by TTL 31 days after the refusal. Reading
//! is one query per demand partition. The time-to-seat histogram lives on
//! the seat counter shards, written by the claim's own transaction.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, NaiveDate};

use super::DynamoStore;
use super::Item;
use super::claims::WAIT_ATTRIBUTES;
use super::error::classify;
use super::items::n;
use super::keys::{self, DAY_SK_PREFIX, DEMAND_SHARDS, Key, USER_SK_PREFIX};
use super::query::Query;
use crate::domain::{
    COUNTER_SHARDS, DayAttempts, LicenseId, TURNED_AWAY_KEPT_DAYS, Timestamp, TurnedAway,
    TurnedAwayReason, TurnedAwayStudent, UserId, Waits,
};
use crate::error::{StoreError, StoreResult};
use crate::store::Demand;

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn count(item: &Item, name: &str) -> u32 {
    number(item, name)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

fn student_from(user_id: &str, item: &Item) -> StoreResult<TurnedAwayStudent> {
    let bad = |what: &str| StoreError::internal("decode demand", format!("{what} of {user_id}"));
    let time = |name: &str| {
        number(item, name)
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| bad(name))
    };
    Ok(TurnedAwayStudent {
        user_id: user_id.into(),
        first: time("first")?,
        last: time("last")?,
        attempts: count(item, "attempts"),
        reason: item
            .get("reason")
            .and_then(|v| v.as_s().ok())
            .and_then(|s| TurnedAwayReason::parse(s))
            .ok_or_else(|| bad("reason"))?,
    })
}

#[async_trait]
impl Demand for DynamoStore {
    async fn record_turned_away(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        reason: TurnedAwayReason,
        at: Timestamp,
    ) -> StoreResult<()> {
        let ttl = n((at + Duration::days(TURNED_AWAY_KEPT_DAYS)).timestamp());
        let student = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::demand_student(license_id, user_id).item()))
            .update_expression(
                "SET #first = if_not_exists(#first, :now), #last = :now, #reason = :reason, \
                 #ttl = :ttl ADD #attempts :one",
            )
            .expression_attribute_names("#first", "first")
            .expression_attribute_names("#last", "last")
            .expression_attribute_names("#reason", "reason")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_values(":now", n(at.timestamp()))
            .expression_attribute_values(":reason", AttributeValue::S(reason.as_str().into()))
            .expression_attribute_values(":ttl", ttl.clone())
            .expression_attribute_values(":one", n(1))
            .send();
        let day = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(
                keys::demand_day(license_id, keys::demand_shard(user_id), at.date_naive()).item(),
            ))
            .update_expression("SET #ttl = :ttl ADD #reason :one")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#reason", reason.as_str())
            .expression_attribute_values(":ttl", ttl)
            .expression_attribute_values(":one", n(1))
            .send();
        let (student, day) = tokio::join!(student, day);
        student.map_err(|e| classify("UpdateItem turned away", &e))?;
        day.map_err(|e| classify("UpdateItem refusals of a day", &e))?;
        Ok(())
    }

    async fn turned_away(
        &self,
        license_id: &LicenseId,
        since: Timestamp,
    ) -> StoreResult<TurnedAway> {
        let shards = (0..DEMAND_SHARDS).map(|shard| {
            self.query(
                "Query demand",
                Query::table(keys::demand_partition(license_id, shard)).oldest_first(),
                None,
            )
        });
        let mut found = TurnedAway::default();
        let mut days: BTreeMap<NaiveDate, DayAttempts> = BTreeMap::new();
        // Side by side: one round trip for every partition.
        for items in futures_util::future::join_all(shards).await {
            for item in items? {
                let Some(key) = Key::of(&item) else { continue };
                if let Some(user_id) = key.sk.strip_prefix(USER_SK_PREFIX) {
                    let student = student_from(user_id, &item)?;
                    if student.last >= since {
                        found.students.push(student);
                    }
                } else if let Some(day) = key.sk.strip_prefix(DAY_SK_PREFIX) {
                    let Ok(day) = day.parse::<NaiveDate>() else {
                        continue;
                    };
                    if day >= since.date_naive() {
                        let counts = days.entry(day).or_default();
                        for reason in [TurnedAwayReason::NoSeats, TurnedAwayReason::CodeUsedUp] {
                            counts.add(reason, count(&item, reason.as_str()));
                        }
                    }
                }
            }
        }
        found.days = days;
        Ok(found)
    }

    async fn seat_waits(&self, license_id: &LicenseId) -> StoreResult<Waits> {
        // A license with fewer shards has fewer items: the rest read as none.
        let keys: Vec<Key> = (0..COUNTER_SHARDS)
            .map(|i| keys::seat_counter(license_id, i))
            .collect();
        let mut waits = Waits::default();
        for item in self.batch_get(&keys, false).await?.values() {
            for (bucket, name) in WAIT_ATTRIBUTES.iter().enumerate() {
                waits[bucket] += count(item, name);
            }
        }
        Ok(waits)
    }

    async fn seated_among(
        &self,
        license_id: &LicenseId,
        users: &[UserId],
    ) -> StoreResult<HashSet<UserId>> {
        let keys: Vec<Key> = users.iter().map(|u| keys::seat(u, license_id)).collect();
        let found = self.batch_get(&keys, false).await?;
        Ok(users
            .iter()
            .zip(&keys)
            .filter(|(_, key)| found.contains_key(key))
            .map(|(user, _)| user.clone())
            .collect())
    }
}
