//! Failure paths the emulator never produces (it serialises requests), on
//! the real DynamoDB adapter with SDK-level fakes (`aws-smithy-mocks`):
//! `TransactionConflict`, throttling, and a write that succeeded although
//! its response was lost.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use integration_tests::{Backend, TestApp, user};
use seat_invitations::ApiError;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{HashKeys, InviteCode};
use seat_invitations::service::redeem;
use seat_invitations::store::DynamoStore;
use serde_json::{Value, json};

type Item = std::collections::HashMap<String, AttributeValue>;

const TABLE: &str = "faults";
const CODE: &str = "I-7KQ2-M9TX-4HCD";
const NOW: &str = "2026-09-01T08:00:00Z";

fn item(value: Value) -> Item {
    serde_dynamo::to_item(value).expect("item")
}

fn code_item() -> Item {
    let code = InviteCode::parse(CODE).expect("code");
    let hash = code.hash(&HashKeys::development());
    item(json!({
        "pk": format!("CODE#{}", hash.as_str()), "sk": "CODE",
        "codeId": "code_1", "codeHash": hash.as_str(), "licenseId": "lic-1",
        "last4": "4HCD", "maxUses": null, "expiresAt": null, "revoked": false,
        "note": null, "createdAt": NOW,
    }))
}

/// What the claim's BatchGetItem returns: license, counters, maybe the seat.
fn claim_context(with_seat: bool) -> BatchGetItemOutput {
    let mut items = vec![item(json!({
        "pk": "LIC#lic-1", "sk": "LICENSE", "licenseId": "lic-1", "name": "Campus",
        "organization": "Uni", "product": "ATLAS.ti", "seatsTotal": 32, "expiresAt": null,
        "allowedEmailDomains": [], "owner": {"sub": "owner-1", "email": "owner@demo.edu"},
        "admins": [], "createdAt": NOW,
    }))];
    for i in 0..16 {
        items.push(item(
            json!({"pk": format!("LIC#lic-1#SEATS#{i}"), "sk": "COUNTER", "cap": 2, "used": 0}),
        ));
        items.push(item(
            json!({"pk": format!("CODE#code_1#USES#{i}"), "sk": "COUNTER", "used": 0}),
        ));
    }
    if with_seat {
        items.push(item(json!({
            "pk": "USER#ann", "sk": "SEAT#lic-1", "licenseId": "lic-1", "userId": "ann",
            "email": "ann@demo.edu", "joinedAt": NOW, "joinedVia": "code", "viaId": "code_1",
            "shard": 3, "lsi1sk": format!("SEAT#{NOW}#lic-1"),
        })));
    }
    BatchGetItemOutput::builder()
        .responses(TABLE, items)
        .build()
}

fn dynamo_error(status: u16, kind: &str, extra: Value) -> HttpResponse {
    let mut body = json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": "simulated"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body.to_string()),
    )
}

fn cancelled(reasons: &[&str]) -> HttpResponse {
    let reasons: Vec<Value> = reasons.iter().map(|c| json!({"Code": c})).collect();
    dynamo_error(
        400,
        "TransactionCanceledException",
        json!({"CancellationReasons": reasons}),
    )
}

/// A BatchGetItem that always shows a free license and no seat.
fn endless_reads() -> aws_smithy_mocks::Rule {
    mock!(Client::batch_get_item)
        .sequence()
        .output(|| claim_context(false))
        .repeatedly()
        .build()
}

/// An app on the DynamoDB adapter whose client answers from `rules`.
fn app_with(client: Client) -> TestApp {
    let store = Arc::new(DynamoStore::new(client, TABLE));
    TestApp::on_store(
        Backend::DynamoDb,
        store,
        Config::defaults(Profile::Local),
        None,
    )
}

macro_rules! client {
    ($($rule:expr),* $(,)?) => {{
        // The guessing guard's slot: taken (count 1) and given back.
        let guard_slot = mock!(Client::update_item)
            .match_requests(|r| r.key().and_then(|k| k.get("pk")).and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("LIMIT#")))
            .then_output(|| UpdateItemOutput::builder().set_attributes(Some(item(json!({
                "pk": "LIMIT#redeem#ann", "sk": "LIMIT", "start": 1_788_000_000_i64, "count": 1, "ttl": 1_788_000_900_i64,
            })))).build());
        let code = mock!(Client::get_item)
            .match_requests(|r| r.key().and_then(|k| k.get("pk")).and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("CODE#")))
            .then_output(|| GetItemOutput::builder().set_item(Some(code_item())).build());
        mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &[&guard_slot, &code, $(&$rule),*],
            |c| c.retry_config(RetryConfig::disabled())
        )
    }};
}

#[tokio::test]
async fn a_transaction_conflict_is_retried_and_then_succeeds() {
    let reads = mock!(Client::batch_get_item)
        .sequence()
        .output(|| claim_context(false))
        .times(2)
        .build();
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| cancelled(&["None", "TransactionConflict", "None"]))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let t = app_with(client!(reads, writes));
    let claimed = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE)
        .await
        .expect("claimed");
    assert!(!claimed.already_member);
    assert_eq!(writes.num_calls(), 2);
    assert_eq!(reads.num_calls(), 2);
}

#[tokio::test]
async fn persistent_conflicts_end_in_503_after_bounded_retries() {
    let reads = endless_reads();
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| cancelled(&["None", "TransactionConflict", "None"]))
        .repeatedly()
        .build();
    let t = app_with(client!(reads, writes));
    let result = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE).await;
    assert_eq!(
        result.err().map(|e| (e.code(), e.retry_after().is_some())),
        Some(("SERVICE_UNAVAILABLE", true))
    );
    assert_eq!(writes.num_calls(), 7, "one try and six retries");
}

#[tokio::test]
async fn throttling_ends_in_503_with_retry_after() {
    let reads = endless_reads();
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| dynamo_error(400, "ProvisionedThroughputExceededException", json!({})))
        .repeatedly()
        .build();
    let t = app_with(client!(reads, writes));
    let result = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE).await;
    assert!(
        matches!(result, Err(ApiError::ServiceUnavailable { retry_after_secs }) if retry_after_secs > 0)
    );
    assert_eq!(writes.num_calls(), 7);
}

#[tokio::test]
async fn a_throttled_read_is_503_not_500() {
    let reads = mock!(Client::batch_get_item)
        .then_http_response(|| dynamo_error(400, "ThrottlingException", json!({})));
    let t = app_with(client!(reads));
    let result = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE).await;
    assert!(
        matches!(result, Err(ApiError::ServiceUnavailable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_write_whose_response_was_lost_is_reported_as_the_existing_seat() {
    // The first transaction is applied but its response is lost (a 500 after
    // the write); the retry's read finds the seat and no second one is taken.
    let reads = mock!(Client::batch_get_item)
        .sequence()
        .output(|| claim_context(false))
        .output(|| claim_context(true))
        .build();
    let writes = mock!(Client::transact_write_items)
        .then_http_response(|| dynamo_error(500, "InternalServerError", json!({})));
    let t = app_with(client!(reads, writes));
    let claimed = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE)
        .await
        .expect("answered");
    assert!(claimed.already_member);
    assert_eq!(claimed.seat.user_id, "ann");
    assert_eq!(writes.num_calls(), 1);
}

#[tokio::test]
async fn a_retry_refused_by_the_seat_condition_reads_back_the_seat() {
    // Lost response, then a stale (eventually consistent) read without the
    // seat, then the retried transaction fails on the seat condition: the
    // claim must re-read consistently and answer with the one seat.
    let reads = mock!(Client::batch_get_item)
        .sequence()
        .output(|| claim_context(false))
        .output(|| claim_context(false))
        .output(|| claim_context(true))
        .build();
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| dynamo_error(500, "InternalServerError", json!({})))
        .http_response(|| cancelled(&["ConditionalCheckFailed", "None", "None"]))
        .build();
    let t = app_with(client!(reads, writes));
    let claimed = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE)
        .await
        .expect("answered");
    assert!(claimed.already_member);
    assert_eq!(writes.num_calls(), 2);
    assert_eq!(reads.num_calls(), 3);
}
