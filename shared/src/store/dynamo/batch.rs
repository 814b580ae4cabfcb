//! Reads by key: `GetItem`, and `BatchGetItem` over any number of keys
//! (100 per request, unprocessed keys retried under the one retry policy).

use std::collections::HashMap;
use std::hash::Hash;

use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::error::{build_err, classify};
use super::items::counters_in;
use super::keys::Key;
use super::tx::{Attempt, RETRY};
use super::{DynamoStore, Item};
use crate::domain::{COUNTER_SHARDS, Counter};
use crate::error::StoreResult;

/// The most keys one `BatchGetItem` request may carry.
const BATCH_GET_MAX_KEYS: usize = 100;

impl DynamoStore {
    pub(super) async fn get(
        &self,
        op: &'static str,
        key: &Key,
        consistent: bool,
    ) -> StoreResult<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify(op, &e))?;
        Ok(output.item)
    }

    /// The items found under `keys`, by key; missing items are left out.
    /// Requests of 100 keys each, side by side: one round trip however many
    /// keys.
    pub(super) async fn batch_get(
        &self,
        keys: &[Key],
        consistent: bool,
    ) -> StoreResult<HashMap<Key, Item>> {
        let chunks = keys
            .chunks(BATCH_GET_MAX_KEYS)
            .map(|chunk| self.batch_get_chunk(chunk, consistent));
        let mut found = HashMap::with_capacity(keys.len());
        for part in futures_util::future::try_join_all(chunks).await? {
            found.extend(part);
        }
        Ok(found)
    }

    /// One `BatchGetItem` of at most 100 keys, with its unprocessed keys
    /// retried under the one retry policy.
    async fn batch_get_chunk(
        &self,
        chunk: &[Key],
        consistent: bool,
    ) -> StoreResult<HashMap<Key, Item>> {
        let pending: Vec<Item> = chunk.iter().map(Key::item).collect();
        RETRY
            .run_with(
                "BatchGetItem",
                (pending, HashMap::with_capacity(chunk.len())),
                |(pending, mut found)| async move {
                    let request = KeysAndAttributes::builder()
                        .set_keys(Some(pending))
                        .consistent_read(consistent)
                        .build()
                        .map_err(build_err)?;
                    let output = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, request)
                        .send()
                        .await
                        .map_err(|e| classify("BatchGetItem", &e))?;
                    let responses = output.responses.unwrap_or_default().remove(&self.table);
                    for item in responses.unwrap_or_default() {
                        if let Some(key) = Key::of(&item) {
                            found.insert(key, item);
                        }
                    }
                    let pending = output
                        .unprocessed_keys
                        .unwrap_or_default()
                        .remove(&self.table)
                        .map(|k| k.keys)
                        .unwrap_or_default();
                    Ok(if pending.is_empty() {
                        Attempt::Done(found)
                    } else {
                        Attempt::Again((pending, found), "keys left unprocessed")
                    })
                },
            )
            .await
    }

    /// The counters of several sharded counters in as few requests as the
    /// keys allow: `shard_keys(owner, i)` is shard `i` of `owner` (a license
    /// or a code); those that exist (see [`counters_in`]).
    pub(super) async fn counters_of<'a, Id: Eq + Hash + ?Sized>(
        &self,
        owners: &[&'a Id],
        shard_keys: impl Fn(&Id, u16) -> Key,
        consistent: bool,
    ) -> StoreResult<HashMap<&'a Id, Vec<Counter>>> {
        let keys: Vec<Key> = owners
            .iter()
            .flat_map(|owner| (0..COUNTER_SHARDS).map(|i| shard_keys(owner, i)))
            .collect();
        let mut found = self.batch_get(&keys, consistent).await?;
        let mut counters = HashMap::with_capacity(owners.len());
        for owner in owners {
            let shards = counters_in(&mut found, |i| shard_keys(owner, i))?;
            counters.insert(*owner, shards);
        }
        Ok(counters)
    }
}
