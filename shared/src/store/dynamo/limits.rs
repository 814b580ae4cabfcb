//! [`Limits`] on DynamoDB: one item per window key, counted with
//! conditional `UpdateItem`s; a closed window is replaced by a
//! conditional `PutItem` (and expires by TTL). Two writers replacing a
//! window at once is a race retried under the one retry policy.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::DynamoStore;
use super::error::{classify, condition_failed};
use super::items::{limit_item, n, window_from};
use super::keys;
use super::tx::{Attempt, RETRY};
use crate::domain::Timestamp;
use crate::error::{StoreError, StoreResult};
use crate::store::{Acquired, LimitWindow, Limits};

const RACED: &str = "limit window replaced meanwhile";

/// A window that started at or before this second has closed.
fn cutoff(window_secs: u64, now: Timestamp) -> i64 {
    now.timestamp()
        .saturating_sub(i64::try_from(window_secs).unwrap_or(i64::MAX))
}

fn returned(window: Option<LimitWindow>) -> StoreResult<LimitWindow> {
    window.ok_or_else(|| StoreError::internal("UpdateItem limit", "returned nothing"))
}

impl DynamoStore {
    /// The `UpdateItem` that counts one event in the window of `key`
    /// (returning the window after it), without its condition: `:cutoff`
    /// is the start of a window that has closed by `now`.
    fn count_in_window(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::limit(key).item()))
            .update_expression("SET #count = #count + :one")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#start", "start")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cutoff", n(cutoff(window_secs, now)))
            .return_values(ReturnValue::AllNew)
    }

    /// Opens a new window with one event, unless an open one appeared
    /// meanwhile (`None`).
    async fn put_new_window(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> StoreResult<Option<LimitWindow>> {
        let start = now.timestamp();
        let end = start.saturating_add(i64::try_from(window_secs).unwrap_or(i64::MAX));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(limit_item(key, start, end)?))
            .condition_expression("attribute_not_exists(pk) OR #start <= :cutoff")
            .expression_attribute_names("#start", "start")
            .expression_attribute_values(":cutoff", n(cutoff(window_secs, now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(LimitWindow { start, count: 1 })),
            Err(err) if condition_failed(&err) => Ok(None),
            Err(err) => Err(classify("PutItem limit", &err)),
        }
    }

    async fn try_limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> StoreResult<Attempt<Acquired>> {
        let result = self
            .count_in_window(key, window_secs, now)
            .condition_expression("attribute_exists(pk) AND #start > :cutoff AND #count < :max")
            .expression_attribute_values(":max", n(max))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let window = returned(window_from(output.attributes)?)?;
                Ok(Attempt::Done(Acquired::Counted(window)))
            }
            Err(err) if condition_failed(&err) => {
                let old = match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(e)) => {
                        window_from(e.item.clone())?
                    }
                    _ => None,
                };
                if let Some(old) = old
                    && old.is_open(window_secs, now)
                {
                    return Ok(Attempt::Done(Acquired::Full(old)));
                }
                Ok(match self.put_new_window(key, window_secs, now).await? {
                    Some(window) => Attempt::Done(Acquired::Counted(window)),
                    None => Attempt::again(RACED),
                })
            }
            Err(err) => Err(classify("UpdateItem limit", &err)),
        }
    }
}

#[async_trait]
impl Limits for DynamoStore {
    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> StoreResult<Acquired> {
        RETRY
            .run("UpdateItem limit", || {
                self.try_limit_acquire(key, max, window_secs, now)
            })
            .await
    }

    async fn limit_release(&self, key: &str, window: LimitWindow) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::limit(key).item()))
            .update_expression("SET #count = #count - :one")
            .condition_expression("#start = :start AND #count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#start", "start")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":start", n(window.start))
            .send()
            .await;
        match result {
            // A window that moved on or is empty has nothing to take back.
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(classify("UpdateItem limit release", &err)),
        }
    }
}
