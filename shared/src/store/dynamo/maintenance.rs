//! Operator work on the table that no port covers and no Lambda function
//! runs (`seatctl` and the tests call these; they need `Scan`,
//! `UpdateItem` and `BatchWriteItem`, see [`super::iam::MAINTENANCE_ACTIONS`]):
//!
//! - [`DynamoStore::backfill_lookup_keys`]: gives invitations and seats
//!   written before gsi3 existed their gsi3 keys (the migration to the
//!   layout where admin listings read one page);
//! - [`DynamoStore::copy_rules_to_seat_shards`]: gives the seat counter
//!   shards of licenses created before shards carried the license's rules
//!   their copy (until then a code new to a container costs its first claim
//!   one more round trip: the shard refuses, and the claim reads the
//!   license);
//! - [`DynamoStore::widen_counters`]: gives licenses and codes made with
//!   16 counter shards the rest of `COUNTER_SHARDS` (until then their
//!   claims spread over 16 shards only, and conflict sooner);
//! - [`DynamoStore::import_unchecked`]: writes seats and invitations in
//!   bulk, 25 per `BatchWriteItem`, without counters, events or conditions
//!   (for load tests on an emulator or a scratch table).

use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use super::DynamoStore;
use super::error::{build_err, classify, condition_failed};
use super::items::{
    SHARD_RULES, code_from, counter_item, counters_in, invitation_from, invitation_item,
    invitation_lookup_keys, license_from, n, seat_counter_item, seat_from, seat_item,
    seat_lookup_keys, shard_rules, value,
};
use super::keys::{self, Key};
use super::schema::{GSI3PK, SK};
use super::tx::{Attempt, Expr, RETRY, Tx, TxFailure};
use crate::domain::{COUNTER_SHARDS, Counter, InvitationRecord, LicenseRecord, SeatRecord};
use crate::error::StoreResult;
use crate::store::{Directory, resplit_capacity};

/// What [`DynamoStore::widen_counters`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Widened {
    /// Codes that got the rest of their use counter shards.
    pub codes: usize,
    /// Licenses that got the rest of their seat counter shards.
    pub licenses: usize,
    /// Codes and licenses left as they were after every attempt failed (a
    /// license under heavy claims, say): run the command again.
    pub skipped: Vec<String>,
}

impl Widened {
    fn skip(&mut self, id: &str, err: &crate::error::StoreError) {
        tracing::warn!(id, error = %err, "not widened");
        self.skipped.push(id.to_owned());
    }
}

/// What [`DynamoStore::widen`] widens.
#[derive(Clone, Copy)]
enum Widening<'a> {
    Code(&'a crate::domain::CodeRecord),
    License(&'a crate::domain::LicenseId),
}

impl Widening<'_> {
    fn op(self) -> &'static str {
        match self {
            Self::Code(_) => "TransactWriteItems widen code",
            Self::License(_) => "TransactWriteItems widen license",
        }
    }

    /// Counter shard `i`'s key.
    fn shard(self, i: u16) -> Key {
        match self {
            Self::Code(code) => keys::use_counter(&code.code_id, i),
            Self::License(id) => keys::seat_counter(id, i),
        }
    }
}

/// The most writes one `BatchWriteItem` may carry.
const BATCH_WRITE_MAX: usize = 25;

/// What [`DynamoStore::backfill_lookup_keys`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    /// Items read by the scan (every item of the table).
    pub scanned: usize,
    pub invitations: usize,
    pub seats: usize,
    /// Items that changed or went away between the scan and the update (a
    /// change by the current code writes the keys itself).
    pub skipped: usize,
}

/// A conditional backfill update: `true` if applied, `false` if the item
/// had changed or gone (its condition failed).
fn conditionally_updated<O, E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    op: &'static str,
    result: Result<
        O,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> StoreResult<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(err) if condition_failed(&err) => Ok(false),
        Err(err) => Err(classify(op, &err)),
    }
}

/// What [`DynamoStore::copy_rules_to_seat_shards`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardRules {
    /// Licenses found by the scan.
    pub licenses: usize,
    /// Seat counter shards that got their copy of the rules.
    pub shards: usize,
}

/// The invitations' and seats' sort keys, as the scan filters them.
const INVITATION_SK: &str = "INVITATION";
/// A license's sort key.
const LICENSE_SK: &str = "LICENSE";

impl DynamoStore {
    /// Sets the gsi3 keys on every invitation and seat that lacks them;
    /// idempotent, safe to run while the service runs (each update is
    /// conditional on the item being as it was read), and to run again.
    /// Run it once after deploying the version that writes gsi3 keys:
    /// until then, older invitations are missing from the status-filtered
    /// invitation list and older seats from the "already a member" check.
    pub async fn backfill_lookup_keys(&self) -> StoreResult<Backfill> {
        let mut done = Backfill::default();
        let filter = |scan: ScanFluentBuilder| {
            scan.filter_expression(
                "attribute_not_exists(#gsi3pk) AND (#sk = :inv OR begins_with(#sk, :seat))",
            )
            .expression_attribute_names("#gsi3pk", GSI3PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":inv", AttributeValue::S(INVITATION_SK.into()))
            .expression_attribute_values(":seat", AttributeValue::S(keys::SEAT_PREFIX.to_owned()))
        };
        self.scan_pages("Scan backfill", filter, async |output| {
            done.scanned += usize::try_from(output.scanned_count).unwrap_or(0);
            for item in output.items.unwrap_or_default() {
                let Some(key) = Key::of(&item) else { continue };
                let updated = if key.sk == INVITATION_SK {
                    let invitation = invitation_from(item)?;
                    let keys = invitation_lookup_keys(&invitation);
                    let status = Expr::default()
                        .name("#status", "status")
                        .value(":status", value(&invitation.status)?);
                    let set = self
                        .set_lookup_keys(&key, keys, "#status = :status", status)
                        .await?;
                    done.invitations += usize::from(set);
                    set
                } else {
                    let seat = seat_from(item)?;
                    let set = self
                        .set_lookup_keys(&key, seat_lookup_keys(&seat), "", Expr::default())
                        .await?;
                    done.seats += usize::from(set);
                    set
                };
                done.skipped += usize::from(!updated);
            }
            Ok(())
        })
        .await?;
        Ok(done)
    }

    /// Sets gsi3 keys on an item that still exists without them and meets
    /// `condition` (with `expr`); `false` if it did not.
    async fn set_lookup_keys(
        &self,
        key: &Key,
        lookup: [(&'static str, String); 2],
        condition: &str,
        expr: Expr,
    ) -> StoreResult<bool> {
        let [(pk_name, pk), (sk_name, sk)] = lookup;
        let mut full = "attribute_exists(pk) AND attribute_not_exists(#gsi3pk)".to_owned();
        if !condition.is_empty() {
            full.push_str(" AND ");
            full.push_str(condition);
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .update_expression("SET #gsi3pk = :gsi3pk, #gsi3sk = :gsi3sk")
            .condition_expression(full)
            .expression_attribute_names("#gsi3pk", pk_name)
            .expression_attribute_names("#gsi3sk", sk_name)
            .expression_attribute_values(":gsi3pk", AttributeValue::S(pk))
            .expression_attribute_values(":gsi3sk", AttributeValue::S(sk));
        for (placeholder, name) in expr.names() {
            update = update.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in expr.values() {
            update = update.expression_attribute_values(*placeholder, value.clone());
        }
        conditionally_updated("UpdateItem backfill", update.send().await)
    }

    /// Copies each license's rules (expiry, allowed email domains) to those
    /// of its seat counter shards that lack them; idempotent and safe while
    /// the service runs (a license's rules never change once created).
    pub async fn copy_rules_to_seat_shards(&self) -> StoreResult<ShardRules> {
        let mut done = ShardRules::default();
        let filter = |scan: ScanFluentBuilder| {
            scan.filter_expression("#sk = :license")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":license", AttributeValue::S(LICENSE_SK.into()))
        };
        self.scan_pages("Scan licenses", filter, async |output| {
            for item in output.items.unwrap_or_default() {
                let license = license_from(item)?;
                done.licenses += 1;
                // One read of the shards, then a write to those without.
                let keys: Vec<Key> = (0..COUNTER_SHARDS)
                    .map(|i| keys::seat_counter(&license.license_id, i))
                    .collect();
                let found = self.batch_get(&keys, false).await?;
                for (shard, key) in (0..COUNTER_SHARDS).zip(&keys) {
                    if found
                        .get(key)
                        .is_some_and(|item| !item.contains_key("rules"))
                    {
                        done.shards += usize::from(self.copy_rules_to(&license, shard).await?);
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(done)
    }

    /// Gives every license and code made with fewer than `COUNTER_SHARDS`
    /// counter shards the rest, and spreads what is left of its capacity
    /// over all of them (a license's free seats; a use-limited code's
    /// unused uses; an uncapped code's shards are uncapped). Codes first,
    /// so a seat on a new shard always finds its code's use shard of the
    /// same index. Idempotent, and safe while the service runs: each
    /// license's or code's change is one transaction that holds only if no
    /// shard moved past its new cap, no new shard exists yet and the
    /// license's seats are those it read (else it reads again and
    /// retries). One that still fails is skipped and named; the rest go on.
    pub async fn widen_counters(&self) -> StoreResult<Widened> {
        let mut done = Widened::default();
        let codes = |scan: ScanFluentBuilder| {
            scan.filter_expression("#sk = :code")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":code", AttributeValue::S("CODE".into()))
        };
        self.scan_pages("Scan codes", codes, async |output| {
            for item in output.items.unwrap_or_default() {
                let code = code_from(item)?;
                match self.widen(Widening::Code(&code)).await {
                    Ok(widened) => done.codes += usize::from(widened),
                    Err(err) => done.skip(code.code_id.as_str(), &err),
                }
            }
            Ok(())
        })
        .await?;
        let licenses = |scan: ScanFluentBuilder| {
            scan.filter_expression("#sk = :license")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":license", AttributeValue::S(LICENSE_SK.into()))
        };
        self.scan_pages("Scan licenses", licenses, async |output| {
            for item in output.items.unwrap_or_default() {
                let license = license_from(item)?;
                match self.widen(Widening::License(&license.license_id)).await {
                    Ok(widened) => done.licenses += usize::from(widened),
                    Err(err) => done.skip(license.license_id.as_str(), &err),
                }
            }
            Ok(())
        })
        .await?;
        Ok(done)
    }

    /// Widens one code's or license's counters to `COUNTER_SHARDS` shards,
    /// what is left of its capacity spread over them; `false` if it had
    /// them all (or is gone).
    async fn widen(&self, what: Widening<'_>) -> StoreResult<bool> {
        let (op, key) = (what.op(), |i| what.shard(i));
        RETRY
            .run(op, || async {
                // A license's seats are read again at each attempt, and
                // must still be the same when the transaction applies (a
                // seat change meanwhile re-splits what it read).
                let (total, license) = match what {
                    Widening::Code(code) => (code.max_uses, None),
                    Widening::License(id) => match self.license(id).await? {
                        Some(license) => (Some(license.seats_total), Some(license)),
                        None => return Ok(Attempt::Done(false)),
                    },
                };
                let keys: Vec<Key> = (0..COUNTER_SHARDS).map(&key).collect();
                let mut found = self.batch_get(&keys, true).await?;
                let existing = counters_in(&mut found, key)?;
                if existing.len() == usize::from(COUNTER_SHARDS) || existing.is_empty() {
                    return Ok(Attempt::Done(false));
                }
                // Every shard, the missing ones empty.
                let all: Vec<Counter> = (0..COUNTER_SHARDS)
                    .map(|index| {
                        existing
                            .iter()
                            .find(|c| c.index == index)
                            .copied()
                            .unwrap_or(Counter {
                                index,
                                cap: Some(0),
                                used: 0,
                            })
                    })
                    .collect();
                let caps: Vec<Option<u32>> = match total {
                    // Never below what is in use.
                    Some(total) => {
                        let used: u32 = all.iter().map(|c| c.used).sum();
                        resplit_capacity(&all, total.max(used))
                            .unwrap_or_default()
                            .into_iter()
                            .map(Some)
                            .collect()
                    }
                    None => vec![None; all.len()],
                };
                let mut tx = Tx::new();
                for (counter, cap) in all.iter().zip(caps) {
                    let key = key(counter.index);
                    if existing.iter().any(|c| c.index == counter.index) {
                        if let Some(cap) = cap {
                            tx = super::directory::set_cap(tx, &self.table, &key, cap);
                        }
                    } else {
                        let item = match &license {
                            Some(license) => seat_counter_item(&key, cap.unwrap_or(0), license)?,
                            None => counter_item(&key, cap)?,
                        };
                        tx = tx.create(&self.table, item);
                    }
                }
                if let Some(license) = &license {
                    tx = tx.check(
                        &self.table,
                        &keys::license(&license.license_id),
                        "#total = :total",
                        Expr::default()
                            .name("#total", "seatsTotal")
                            .value(":total", n(license.seats_total)),
                    );
                }
                match self.transact(op, tx).await {
                    Ok(()) => Ok(Attempt::Done(true)),
                    Err(TxFailure::Cancelled(_)) => {
                        Ok(Attempt::again("counters or seats moved meanwhile"))
                    }
                    Err(TxFailure::Store(err)) => Err(err),
                }
            })
            .await
    }

    /// Gives seat counter `shard` of `license` the license's rules, if it
    /// exists without them; `false` if it did not.
    async fn copy_rules_to(&self, license: &LicenseRecord, shard: u16) -> StoreResult<bool> {
        let (expires_ms, domains) = shard_rules(license);
        let mut set = vec!["#rules = :rules"];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::seat_counter(&license.license_id, shard).item()))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#rules)")
            .expression_attribute_names("#rules", "rules")
            .expression_attribute_values(":rules", n(SHARD_RULES));
        if let Some(expires_ms) = expires_ms {
            set.push("#expires = :expires");
            request = request
                .expression_attribute_names("#expires", "expiresMs")
                .expression_attribute_values(":expires", n(expires_ms));
        }
        if !domains.is_empty() {
            set.push("#domains = :domains");
            request = request
                .expression_attribute_names("#domains", "domains")
                .expression_attribute_values(
                    ":domains",
                    AttributeValue::L(domains.into_iter().map(AttributeValue::S).collect()),
                );
        }
        let result = request
            .update_expression(format!("SET {}", set.join(", ")))
            .send()
            .await;
        conditionally_updated("UpdateItem shard rules", result)
    }

    /// Puts seats and invitations as they are, 25 per `BatchWriteItem`
    /// (unprocessed items retried under the one retry policy): no counters,
    /// no events, no conditions. Returns the number of requests sent.
    pub async fn import_unchecked(
        &self,
        seats: &[SeatRecord],
        invitations: &[InvitationRecord],
    ) -> StoreResult<usize> {
        let mut items = Vec::with_capacity(seats.len() + invitations.len());
        for seat in seats {
            items.push(seat_item(seat)?);
        }
        for invitation in invitations {
            items.push(invitation_item(invitation)?);
        }
        let mut requests = 0;
        for chunk in items.chunks(BATCH_WRITE_MAX) {
            let writes = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(build_err)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            requests = RETRY
                .run_with(
                    "BatchWriteItem",
                    (writes, requests),
                    |(writes, requests)| async move {
                        let output = self
                            .client
                            .batch_write_item()
                            .request_items(&self.table, writes)
                            .send()
                            .await
                            .map_err(|e| classify("BatchWriteItem", &e))?;
                        let left = output
                            .unprocessed_items
                            .unwrap_or_default()
                            .remove(&self.table)
                            .unwrap_or_default();
                        Ok(if left.is_empty() {
                            Attempt::Done(requests + 1)
                        } else {
                            Attempt::Again((left, requests + 1), "items left unprocessed")
                        })
                    },
                )
                .await?;
        }
        Ok(requests)
    }
}
