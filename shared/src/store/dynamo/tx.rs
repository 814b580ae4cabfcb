//! Transactions, and the adapter's retry policies.
//!
//! # Who retries what
//!
//! Three layers retry, and never the same failure:
//!
//! 1. **The SDK**, on every single request except transactions.
//!    [`DynamoStore::from_sdk_config`] pins its configuration
//!    ([`sdk_retry_config`], over `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE`):
//!    standard mode, 3 attempts, full-jitter backoff from 50 ms (≤ 50 ms,
//!    then ≤ 100 ms), within the SDK's retry quota. Short pauses on
//!    purpose: a request waits at most a second or so here, and longer
//!    waits are the client's, told by `Retry-After`. It retries what it can
//!    classify from one response: throttling codes (`ThrottlingException`,
//!    `ProvisionedThroughputExceededException`, `RequestLimitExceeded`, …),
//!    5xx answers, timeouts and connection failures. What still fails comes
//!    back as `StoreError::Unavailable`, and **nothing here retries it
//!    again**. Since an earlier attempt of a write may have been applied
//!    unseen, a write that fails this way has an unknown outcome.
//! 2. **Transactions** ([`DynamoStore::transact`]) are sent with the SDK's
//!    retries off, always with a `ClientRequestToken` (the claim's own, or
//!    a fresh one per transaction), and resent here, identical and with the
//!    same token, after any transient failure: [`RESOLVE`], 4 attempts in
//!    all, full jitter from 25 ms (≤ 50, 100, 200 ms). So every attempt's
//!    answer is seen: after a 5xx, a timeout, a lost connection, an
//!    unreadable answer or `TransactionInProgress` the outcome is unknown,
//!    and it stays unknown until an answer settles it. DynamoDB answers a
//!    token it has applied within 10 minutes with that first success, and
//!    applies it otherwise; a failed condition settles it too (the callers
//!    then read what is there). A throttled or conflicting resend settles
//!    nothing. Only a transaction that never had an unknown attempt can
//!    fail with "nothing applied"; otherwise the failure says `unknown`,
//!    and callers say so (a 503 with `outcome: unknown`).
//! 3. **This module's [`RETRY`]**, for what is a normal (400) answer: a
//!    transaction cancelled because another transaction touched its items
//!    (`TransactionConflict`) or an item was throttled inside it
//!    (`ThrottlingError`, `ProvisionedThroughputExceeded`), and
//!    optimistic-concurrency races (a counter changed between read and
//!    write, a limit window replaced between update and put), and keys
//!    `BatchGetItem` left unprocessed. 5 attempts, full jitter: attempt *k*
//!    (k ≥ 1) waits a uniform delay in [0, min(200 ms, 10 ms · 2^k)]; at
//!    most 300 ms of sleep in all. Then `StoreError::Unavailable` (503 with
//!    `Retry-After`).
//!
//! Worst case for one store call: 5 attempts, each of which is sent up to
//! 3 (single requests, by the SDK) or 4 (transactions, by [`RESOLVE`])
//! times, so 20 requests (30 for `set_seats_total`, which reads before each
//! write) and about 300 ms + 5 × 350 ms ≈ 2 s of backoff, plus the requests
//! themselves.
//!
//! # Timeouts
//!
//! [`sdk_timeout_config`]: connect 1 s, each attempt 1.5 s, a whole
//! operation with the SDK's retries 3.5 s (against DynamoDB; against an
//! emulator on this machine the SDK's defaults: it may be slow, not lost); a transaction is not sent again
//! once [`RESOLVE_BUDGET`] (2 s) has passed since its first send, so one
//! `transact` call takes at most 2 s + 1.5 s. A timed-out write has an
//! unknown outcome. The claim algorithm starts no new plan after
//! `Config::claim_budget` (5 s in Lambda). A redemption's worst case is then
//! its first round trip (3.5 s), the claim's budget (5 s) and its last
//! transaction (3.5 s): 12 s, inside the functions' 15 s timeout
//! (`template.yaml`) and API Gateway's 29 s, so a request always ends with
//! one of our answers, never with the gateway's.
//!
//! Claims are the exception: `Claims::claim` sends its transaction once
//! (and resends it under [`RESOLVE`]) and reports contention as
//! `Rejected(Contended)`, because the claim algorithm (`service/claim.rs`)
//! retries with its own bounded, jittered backoff and re-reads the counters
//! before each attempt: at most 7 plans, each sent up to 4 times (28
//! requests), with at most 6 × 400 ms of the claim's own backoff and
//! 7 × 350 ms of [`RESOLVE`]'s: under 5 s, well inside API Gateway's 29 s.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::error::{Cancelled, build_err, classify_attempt};
use super::keys::Key;
use super::{DynamoStore, Item};
use crate::error::{StoreError, StoreResult};

/// The SDK's timeouts, per request (see the module doc): DynamoDB answers
/// in milliseconds, so an attempt that takes seconds is lost.
pub(super) fn sdk_timeout_config() -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
    aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_millis(3500))
        .build()
}

/// Whether `endpoint` is an emulator on this machine (then the SDK's own
/// timeouts apply, not [`sdk_timeout_config`]).
pub(super) fn is_local(endpoint: Option<&str>) -> bool {
    endpoint.is_some_and(|url| {
        let host = url.split("://").nth(1).unwrap_or(url);
        ["127.0.0.1", "localhost", "[::1]", "host.docker.internal"]
            .iter()
            .any(|local| host.starts_with(local))
    })
}

/// How long [`DynamoStore::transact`] keeps sending one transaction again.
pub(super) const RESOLVE_BUDGET: Duration = Duration::from_secs(2);

/// The SDK's own retries, per request (see the module doc).
pub(super) fn sdk_retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(1))
}

/// Bounded retries with full-jitter exponential backoff.
pub(super) struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

/// The adapter's retry policy for contention (see the module doc).
pub(super) const RETRY: RetryPolicy = RetryPolicy {
    attempts: 5,
    base: Duration::from_millis(10),
    cap: Duration::from_millis(200),
};

/// Resends of a transaction after a transient failure, same token (see
/// the module doc).
pub(super) const RESOLVE: RetryPolicy = RetryPolicy {
    attempts: 4,
    base: Duration::from_millis(25),
    cap: Duration::from_millis(400),
};

/// What one attempt came to.
pub(super) enum Attempt<T, S = ()> {
    Done(T),
    /// Contention: worth another attempt after a pause, carrying on with
    /// this state. Says what happened.
    Again(S, &'static str),
}

impl<T> Attempt<T> {
    /// Another attempt, nothing carried over.
    pub fn again(why: &'static str) -> Self {
        Self::Again((), why)
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt` (1 for the first retry): uniform
    /// in [0, min(cap, base · 2^attempt)].
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.cap.min(self.base.saturating_mul(1 << attempt.min(16)));
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(getrandom::u64().unwrap_or(0) % (millis + 1))
    }

    /// Runs `attempt` until it is done, fails, or the attempts run out
    /// (`Unavailable`).
    pub async fn run<T, Fut>(
        &self,
        op: &'static str,
        mut attempt: impl FnMut() -> Fut,
    ) -> StoreResult<T>
    where
        Fut: Future<Output = StoreResult<Attempt<T>>>,
    {
        self.run_with(op, (), |()| attempt()).await
    }

    /// [`Self::run`], each attempt carrying on from the state the last
    /// one left (`Attempt::Again(state, _)`).
    pub async fn run_with<S, T, Fut>(
        &self,
        op: &'static str,
        mut state: S,
        mut attempt: impl FnMut(S) -> Fut,
    ) -> StoreResult<T>
    where
        Fut: Future<Output = StoreResult<Attempt<T, S>>>,
    {
        let mut last = "contention";
        for n in 0..self.attempts {
            if n > 0 {
                tokio::time::sleep(self.backoff(n)).await;
            }
            match attempt(state).await? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Again(next, why) => (state, last) = (next, why),
            }
        }
        Err(StoreError::unavailable(
            op,
            format!("{last} outlasted {} attempts", self.attempts),
        ))
    }
}

/// A condition with the names and values its expressions use.
#[derive(Default, Clone)]
pub(super) struct Expr {
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

impl Expr {
    pub fn name(mut self, placeholder: &'static str, attribute: &'static str) -> Self {
        self.names.push((placeholder, attribute));
        self
    }

    pub fn value(mut self, placeholder: &'static str, value: AttributeValue) -> Self {
        self.values.push((placeholder, value));
        self
    }

    pub fn names(&self) -> &[(&'static str, &'static str)] {
        &self.names
    }

    pub fn values(&self) -> &[(&'static str, AttributeValue)] {
        &self.values
    }

    /// The names as a request's `ExpressionAttributeNames` (none when there
    /// are none: DynamoDB refuses an empty map).
    fn name_map(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| {
            self.names
                .iter()
                .map(|(p, n)| ((*p).to_owned(), (*n).to_owned()))
                .collect()
        })
    }

    /// The values as a request's `ExpressionAttributeValues` (none when
    /// there are none).
    fn value_map(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| {
            self.values
                .iter()
                .map(|(p, v)| ((*p).to_owned(), v.clone()))
                .collect()
        })
    }
}

/// The writes of one `TransactWriteItems`, in order (cancellation reasons
/// come back in this order).
#[derive(Default)]
pub(super) struct Tx {
    writes: Vec<TransactWriteItem>,
    error: Option<StoreError>,
    /// The `ClientRequestToken`, for a transaction whose unknown outcome
    /// is resolved by sending it again.
    token: Option<String>,
}

/// The condition of a create: the item is not there yet.
const ABSENT: &str = "attribute_not_exists(pk)";

impl Tx {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends the transaction with this idempotency token (at most 36
    /// characters), and resends it with the same token after an unknown
    /// outcome ([`RESOLVE`]).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The writes, or the first error met while building them.
    pub fn into_writes(self) -> StoreResult<Vec<TransactWriteItem>> {
        match self.error {
            Some(err) => Err(err),
            None => Ok(self.writes),
        }
    }

    /// Puts an item whatever is there.
    pub fn put(self, table: &str, item: Item) -> Self {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .build();
        self.push(put.map(|p| TransactWriteItem::builder().put(p).build()))
    }

    fn push(
        mut self,
        write: Result<TransactWriteItem, aws_sdk_dynamodb::error::BuildError>,
    ) -> Self {
        match write {
            Ok(write) => self.writes.push(write),
            Err(err) => {
                self.error.get_or_insert(build_err(err));
            }
        }
        self
    }

    /// Puts an item that must not exist yet.
    pub fn create(self, table: &str, item: Item) -> Self {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(ABSENT)
            .build();
        self.push(put.map(|p| TransactWriteItem::builder().put(p).build()))
    }

    /// Updates `key` with `update` if `condition` holds.
    pub fn update(self, table: &str, key: &Key, update: &str, condition: &str, e: Expr) -> Self {
        let builder = Update::builder()
            .table_name(table)
            .set_key(Some(key.item()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(e.name_map())
            .set_expression_attribute_values(e.value_map());
        let update = builder.build();
        self.push(update.map(|u| TransactWriteItem::builder().update(u).build()))
    }

    /// Writes nothing to `key`, but holds the transaction to `condition`
    /// on it (`ConditionCheck`).
    pub fn check(self, table: &str, key: &Key, condition: &str, e: Expr) -> Self {
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key.item()))
            .condition_expression(condition)
            .set_expression_attribute_names(e.name_map())
            .set_expression_attribute_values(e.value_map())
            .build();
        self.push(check.map(|c| TransactWriteItem::builder().condition_check(c).build()))
    }

    /// Deletes `key` if `condition` holds.
    pub fn delete(self, table: &str, key: &Key, condition: &str, e: Expr) -> Self {
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key.item()))
            .condition_expression(condition)
            .set_expression_attribute_names(e.name_map())
            .set_expression_attribute_values(e.value_map())
            .build();
        self.push(delete.map(|d| TransactWriteItem::builder().delete(d).build()))
    }
}

/// How a transaction ended when it did not succeed.
pub(super) enum TxFailure {
    Cancelled(Cancelled),
    Store(StoreError),
}

/// Which failed conditions mean "the state changed first" (answered as not
/// done); any other failed condition is unexpected.
#[derive(Clone, Copy)]
pub(super) enum Guard {
    AnyWrite,
    FirstWrite,
}

impl DynamoStore {
    /// Sends `tx`, with its token (or a fresh one), and again with the
    /// same token after a transient failure, under [`RESOLVE`]: the SDK's
    /// own retries are off for transactions, so every attempt's answer is
    /// seen here, and an outcome once unknown stays unknown until an answer
    /// settles it (success, or a failed condition).
    pub(super) async fn transact(&self, op: &'static str, tx: Tx) -> Result<(), TxFailure> {
        if let Some(err) = tx.error {
            return Err(TxFailure::Store(err));
        }
        let token = tx.token.unwrap_or_else(|| crate::domain::random_id("tx"));
        let mut unknown = false;
        let mut attempt = 0;
        let started = std::time::Instant::now();
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(tx.writes.clone()))
                .client_request_token(&token)
                .customize()
                .config_override(
                    aws_sdk_dynamodb::config::Builder::default()
                        .retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            let failure = match result {
                Ok(_) => return Ok(()),
                Err(err) => match Cancelled::of(&err) {
                    Some(cancelled) => TxFailure::Cancelled(cancelled),
                    None => TxFailure::Store(classify_attempt(op, &err)),
                },
            };
            match failure {
                TxFailure::Store(err @ StoreError::Unavailable { .. })
                    if attempt < RESOLVE.attempts && started.elapsed() < RESOLVE_BUDGET =>
                {
                    unknown |= err.outcome_is_unknown();
                    tracing::warn!(operation = op, error = %err, attempt, unknown, "sending the same transaction again");
                    tokio::time::sleep(RESOLVE.backoff(attempt)).await;
                }
                TxFailure::Store(err) if unknown => {
                    return Err(TxFailure::Store(err.into_unknown()));
                }
                // A conflict or throttling inside the resend says nothing
                // about the attempt whose answer was lost.
                TxFailure::Cancelled(c) if unknown && !c.any_failed() => {
                    return Err(TxFailure::Store(StoreError::outcome_unknown(
                        op,
                        format!("resend cancelled: {:?}", c.reasons),
                    )));
                }
                other => return Err(other),
            }
        }
    }

    /// Puts every item, each only if absent, all or nothing; `AlreadyExists`
    /// (with `id`) if one was there.
    pub(super) async fn create_all(
        &self,
        op: &'static str,
        items: Vec<Item>,
        id: &str,
    ) -> StoreResult<()> {
        let tx = items
            .into_iter()
            .fold(Tx::new(), |tx, item| tx.create(&self.table, item));
        match self.transact(op, tx).await {
            Ok(()) => Ok(()),
            Err(TxFailure::Cancelled(c)) if c.any_failed() => {
                Err(StoreError::AlreadyExists(id.to_owned()))
            }
            Err(TxFailure::Cancelled(c)) => Err(StoreError::unavailable(
                op,
                format!("transaction cancelled: {:?}", c.reasons),
            )),
            Err(TxFailure::Store(err)) => Err(err),
        }
    }

    /// Runs a transaction whose conditions guard a state change: `true` when
    /// applied, `false` when a `guard` condition failed; contention is
    /// retried under [`RETRY`].
    pub(super) async fn transact_guarded(
        &self,
        op: &'static str,
        guard: Guard,
        build: impl Fn() -> Tx,
    ) -> StoreResult<bool> {
        let build = &build;
        RETRY
            .run(op, || async move {
                match self.transact(op, build()).await {
                    Ok(()) => Ok(Attempt::Done(true)),
                    Err(TxFailure::Cancelled(c)) => {
                        let refused = match guard {
                            Guard::AnyWrite => c.any_failed(),
                            Guard::FirstWrite => c.failed(0),
                        };
                        if refused {
                            Ok(Attempt::Done(false))
                        } else if c.contended() {
                            Ok(Attempt::again("transaction conflicts"))
                        } else {
                            Err(c.unexpected(op))
                        }
                    }
                    Err(TxFailure::Store(err)) => Err(err),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulators_on_this_machine_are_local() {
        assert!(is_local(Some("http://127.0.0.1:4567")));
        assert!(is_local(Some("http://localhost:8000/")));
        assert!(!is_local(Some("https://dynamodb.eu-west-1.amazonaws.com")));
        assert!(!is_local(None));
    }

    #[test]
    fn backoff_is_jittered_under_its_ceiling() {
        for attempt in 1..RETRY.attempts {
            let ceiling = RETRY.cap.min(RETRY.base * (1 << attempt));
            for _ in 0..50 {
                assert!(RETRY.backoff(attempt) <= ceiling);
            }
        }
        assert!(RETRY.backoff(40) <= RETRY.cap);
        let total: Duration = (1..RETRY.attempts)
            .map(|a| RETRY.cap.min(RETRY.base * (1 << a)))
            .sum();
        assert_eq!(total, Duration::from_millis(300), "as the module doc says");
    }
}
