//! SDK errors as [`StoreError`]s, and the one test for "a condition
//! failed", in a single request or inside a cancelled transaction.
//!
//! Causes keep error codes and failure kinds only: DynamoDB messages can
//! quote item values (addresses, hashes), so they are never kept.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use crate::error::StoreError;

/// Codes of errors that are worth retrying later; anything else is a bug or
/// a misconfiguration.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
    "LimitExceededException",
];

/// Cancellation reasons that mean "another writer or the capacity got in
/// the way", not "the data said no": worth another attempt.
const CONTENDED_REASONS: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

/// Whether an error code says a condition expression failed: the code of a
/// single request's error (`ConditionalCheckFailedException`) or a
/// cancellation reason of one item of a transaction (`ConditionalCheckFailed`).
pub(super) fn is_condition_failure(code: &str) -> bool {
    matches!(
        code,
        "ConditionalCheckFailedException" | "ConditionalCheckFailed"
    )
}

/// Whether a single request failed on its condition expression.
pub(super) fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(is_condition_failure)
}

/// Codes of transient errors after which a write may still have been
/// applied: the service failed while handling it, or the same
/// idempotency token is still being applied.
const MAYBE_APPLIED_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Whether `op` (named as `"<Operation> <what>"`) writes.
fn is_write(op: &str) -> bool {
    matches!(
        op.split(' ').next(),
        Some("PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem")
    )
}

/// A failed request, after the SDK's own retries, as a [`StoreError`]:
/// transient failures are `Unavailable`. A write's outcome is then unknown
/// whatever its last attempt said: an earlier attempt may have been
/// applied and its answer lost (a throttled retry of a write that landed
/// looks just like a throttled write). Transactions, whose attempts are
/// all ours, use [`classify_attempt`].
pub(super) fn classify<E: ProvideErrorMetadata>(
    op: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> StoreError {
    match classify_attempt(op, err) {
        StoreError::Unavailable {
            operation, source, ..
        } if is_write(op) => StoreError::Unavailable {
            operation,
            source,
            outcome: crate::error::Outcome::Unknown,
        },
        other => other,
    }
}

/// One attempt's failure as a [`StoreError`]: transient failures are
/// `Unavailable`, with an unknown outcome when `op` writes and the request
/// may have reached DynamoDB (a 5xx, a timeout, a lost connection or an
/// unreadable answer); throttling and conflicts are refusals, nothing
/// applied.
pub(super) fn classify_attempt<E: ProvideErrorMetadata>(
    op: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> StoreError {
    let (transient, maybe_applied, cause) = match err {
        SdkError::ServiceError(service) => {
            // A 5xx is the service failing, whatever its body says (a
            // proxy's page carries no error code): transient, and a write
            // may have been applied.
            let server_error = service.raw().status().is_server_error();
            let code = service
                .err()
                .code()
                .map_or_else(|| format!("HTTP {}", service.raw().status()), str::to_owned);
            (
                server_error || TRANSIENT_CODES.contains(&code.as_str()),
                server_error || MAYBE_APPLIED_CODES.contains(&code.as_str()),
                code,
            )
        }
        SdkError::TimeoutError(_) => (true, true, "timeout".to_owned()),
        SdkError::DispatchFailure(_) => (true, true, "dispatch failure".to_owned()),
        SdkError::ResponseError(_) => (true, true, "unreadable response".to_owned()),
        _ => (false, false, "request construction failed".to_owned()),
    };
    match (transient, maybe_applied && is_write(op)) {
        (true, true) => StoreError::outcome_unknown(op, cause),
        (true, false) => StoreError::unavailable(op, cause),
        (false, _) => StoreError::internal(op, cause),
    }
}

pub(super) fn build_err(err: BuildError) -> StoreError {
    StoreError::internal("build request", err)
}

/// An item that does not decode: malformed data or a bug. Quoted parts of
/// the message (values) are left out.
pub(super) fn decode_err(what: &'static str, err: &serde_dynamo::Error) -> StoreError {
    StoreError::internal(what, redact_quoted(&err.to_string()))
}

pub(super) fn encode_err(what: &'static str, err: &serde_dynamo::Error) -> StoreError {
    StoreError::internal(what, redact_quoted(&err.to_string()))
}

/// `invalid type: string "a@b.c"` → `invalid type: string "…"`.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        out.push_str(if i % 2 == 1 { "…" } else { part });
    }
    out
}

/// Why a transaction was cancelled: one reason code per item, in the order
/// the items were written (`None` for an item that was fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cancelled {
    pub reasons: Vec<String>,
}

impl Cancelled {
    pub fn of<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Self> {
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Some(Self {
                reasons: cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_owned())
                    .collect(),
            }),
            _ => None,
        }
    }

    /// Whether the condition of item `index` failed.
    pub fn failed(&self, index: usize) -> bool {
        self.reasons
            .get(index)
            .is_some_and(|code| is_condition_failure(code))
    }

    pub fn any_failed(&self) -> bool {
        self.reasons.iter().any(|code| is_condition_failure(code))
    }

    /// Whether some item met another transaction or throttling: worth
    /// another attempt.
    pub fn contended(&self) -> bool {
        self.reasons
            .iter()
            .any(|code| CONTENDED_REASONS.contains(&code.as_str()))
    }

    /// A cancellation the caller did not expect: a bug or a broken table.
    pub fn unexpected(&self, op: &'static str) -> StoreError {
        StoreError::internal(op, format!("transaction cancelled: {:?}", self.reasons))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_failures_are_recognised_in_both_spellings() {
        assert!(is_condition_failure("ConditionalCheckFailedException"));
        assert!(is_condition_failure("ConditionalCheckFailed"));
        assert!(!is_condition_failure("TransactionConflict"));
        let cancelled = Cancelled {
            reasons: vec!["None".into(), "ConditionalCheckFailed".into()],
        };
        assert!(cancelled.failed(1) && !cancelled.failed(0) && cancelled.any_failed());
        assert!(!cancelled.contended());
    }

    #[test]
    fn only_writes_can_have_an_unknown_outcome() {
        for op in [
            "TransactWriteItems claim",
            "UpdateItem limit",
            "PutItem limit",
        ] {
            assert!(is_write(op), "{op}");
        }
        for op in [
            "GetItem code",
            "BatchGetItem",
            "Query seats",
            "Scan backfill",
        ] {
            assert!(!is_write(op), "{op}");
        }
    }

    #[test]
    fn quoted_values_never_reach_the_cause() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "ann@demo.edu", expected u32"#),
            r#"invalid type: string "…", expected u32"#
        );
        assert_eq!(redact_quoted("missing field `pk`"), "missing field `pk`");
    }
}
