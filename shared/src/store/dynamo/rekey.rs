//! Operator tools for the hashing keys (`seatctl keys`): how many stored
//! codes and invitations each key made, and the one-time migration of the
//! unkeyed hashes earlier versions stored. Not on any request path.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::error::{build_err, classify, condition_failed};
use super::{DynamoStore, Item};
use crate::domain::{HashKeys, SecretHash};
use crate::error::StoreResult;

/// The item kinds whose partition key is a secret's hash (by key prefix
/// and sort key; a code's use counters share the prefix, not the sort
/// key), with the attribute that repeats the hash.
const HASHED: [(&str, &str, &str); 2] = [
    ("CODE#", "CODE", "codeHash"),
    ("INV#", "INVITATION", "tokenHash"),
];

/// Stored hashes by key id (`"unkeyed"` for an earlier version's).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HashCensus {
    pub codes: BTreeMap<String, u64>,
    pub invitations: BTreeMap<String, u64>,
}

/// What a migration did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rekeyed {
    pub codes: u64,
    pub invitations: u64,
    /// Items changed by someone else meanwhile; run again.
    pub skipped: u64,
}

fn hashed_kind(item: &Item) -> Option<usize> {
    let pk = item.get("pk")?.as_s().ok()?;
    let sk = item.get("sk")?.as_s().ok()?;
    HASHED
        .iter()
        .position(|(prefix, kind, _)| pk.starts_with(prefix) && sk == kind)
}

impl DynamoStore {
    /// Every item whose key is a secret's hash (a Scan: for operators,
    /// never on a request path).
    async fn scan_hashed(
        &self,
        mut each: impl AsyncFnMut(usize, Item) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let filter = |scan: ScanFluentBuilder| {
            scan.filter_expression("sk IN (:code, :inv)")
                .expression_attribute_values(":code", AttributeValue::S(HASHED[0].1.into()))
                .expression_attribute_values(":inv", AttributeValue::S(HASHED[1].1.into()))
                .consistent_read(true)
        };
        self.scan_pages("Scan hashed items", filter, async |page| {
            for item in page.items.unwrap_or_default() {
                if let Some(kind) = hashed_kind(&item) {
                    each(kind, item).await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// How many stored codes and invitations each hashing key made: a key
    /// may be dropped from the secret once nothing counts under it.
    pub async fn hash_census(&self) -> StoreResult<HashCensus> {
        let mut census = HashCensus::default();
        self.scan_hashed(async |kind, item| {
            let hash = item
                .get(HASHED[kind].2)
                .and_then(|v| v.as_s().ok())
                .map(|s| SecretHash::from_stored(s.clone()));
            let id = hash
                .as_ref()
                .and_then(|h| h.key_id().map(str::to_owned))
                .unwrap_or_else(|| "unkeyed".into());
            let counts = if kind == 0 {
                &mut census.codes
            } else {
                &mut census.invitations
            };
            *counts.entry(id).or_default() += 1;
            Ok(())
        })
        .await?;
        Ok(census)
    }

    /// Moves every item stored under an unkeyed hash (earlier versions) to
    /// its keyed hash under the current key, in one transaction per item
    /// (the new item, and the old one deleted only if unchanged). Safe to
    /// run again; codes and invite URLs keep working throughout.
    pub async fn rekey_legacy_hashes(&self, keys: &HashKeys) -> StoreResult<Rekeyed> {
        let mut done = Rekeyed::default();
        self.scan_hashed(async |kind, item| {
            let (prefix, _, attribute) = HASHED[kind];
            let Some(old) = item.get(attribute).and_then(|v| v.as_s().ok()).cloned() else {
                return Ok(());
            };
            let Some(new) = keys.rekey_legacy(&SecretHash::from_stored(old.clone())) else {
                return Ok(());
            };
            let mut moved = item.clone();
            moved.insert(
                "pk".into(),
                AttributeValue::S(format!("{prefix}{}", new.as_str())),
            );
            moved.insert(attribute.into(), AttributeValue::S(new.as_str().to_owned()));
            let key: Item = ["pk", "sk"]
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), item.get(*k)?.clone())))
                .collect();
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(moved))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(build_err)?;
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .condition_expression("#hash = :old")
                .expression_attribute_names("#hash", attribute)
                .expression_attribute_values(":old", AttributeValue::S(old))
                .build()
                .map_err(build_err)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .send()
                .await;
            match result {
                Ok(_) if kind == 0 => done.codes += 1,
                Ok(_) => done.invitations += 1,
                Err(err)
                    if condition_failed(&err)
                        || err
                            .as_service_error()
                            .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                {
                    done.skipped += 1;
                }
                Err(err) => return Err(classify("TransactWriteItems rekey", &err)),
            }
            Ok(())
        })
        .await?;
        Ok(done)
    }
}
