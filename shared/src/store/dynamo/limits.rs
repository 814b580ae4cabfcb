//! [`Limits`] on DynamoDB: one item per window key, counted with
//! conditional `UpdateItem`s, which also open the first window of a key
//! (one request for a new key or an open window); a closed window is
//! replaced by a conditional `PutItem` (and expires by TTL). Two writers
//! replacing a window at once is a race retried under the one retry policy.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::DynamoStore;
use super::error::{classify, condition_failed};
use super::items::{limit_item, n, window_from};
use super::keys;
use super::tx::{Attempt, Expr, RETRY};
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
    /// The `UpdateItem` that counts one event in the window of `key`, or
    /// opens the key's first window at `now` with it (returning the window
    /// after it), without its condition: `:cutoff` is the start of a window
    /// that has closed by `now`.
    fn count_in_window(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> UpdateItemFluentBuilder {
        let start = now.timestamp();
        let end = start.saturating_add(i64::try_from(window_secs).unwrap_or(i64::MAX));
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::limit(key).item()))
            .update_expression(
                "SET #count = if_not_exists(#count, :zero) + :one, \
                 #start = if_not_exists(#start, :now), #ttl = if_not_exists(#ttl, :end)",
            )
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#start", "start")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(start))
            .expression_attribute_values(":end", n(end))
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
            .condition_expression(
                "attribute_not_exists(pk) OR (#start > :cutoff AND #count < :max)",
            )
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

/// Taking back one event counted in `window`: the update, its condition
/// (the same window, not empty) and their names and values. Sent alone
/// by `limit_release`, and inside a claim's transaction as its refund.
pub(super) fn give_back(window: &LimitWindow) -> (&'static str, &'static str, Expr) {
    (
        "SET #count = #count - :one",
        "#start = :start AND #count > :zero",
        Expr::default()
            .name("#count", "count")
            .name("#start", "start")
            .value(":one", n(1))
            .value(":zero", n(0))
            .value(":start", n(window.start)),
    )
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
        let (update, condition, expr) = give_back(&window);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::limit(key).item()))
            .update_expression(update)
            .condition_expression(condition);
        for (placeholder, name) in expr.names() {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in expr.values() {
            request = request.expression_attribute_values(*placeholder, value.clone());
        }
        let result = request.send().await;
        match result {
            // A window that moved on or is empty has nothing to take back.
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(classify("UpdateItem limit release", &err)),
        }
    }
}
