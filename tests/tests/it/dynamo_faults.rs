//! Failure paths the emulator never produces (it serialises requests), on
//! the real DynamoDB adapter with SDK-level fakes (`aws-smithy-mocks`):
//! `TransactionConflict`, throttling, and a write that succeeded although
//! its response was lost.

use std::sync::{Arc, Mutex};

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
use seat_invitations::error::Outcome;
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
    // The first attempt goes without reading (a code new to this
    // container); the context read alongside it serves the retry.
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
    assert_eq!(
        reads.num_calls(),
        1,
        "one read, alongside the first attempt"
    );
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
        matches!(result, Err(ApiError::ServiceUnavailable { retry_after_secs, outcome: Outcome::Unchanged }) if retry_after_secs > 0),
        "a throttled write was refused: nothing changed"
    );
    assert_eq!(writes.num_calls(), 28, "7 plans, each sent 4 times");
}

#[tokio::test]
async fn a_throttled_read_is_503_not_500() {
    let reads = mock!(Client::batch_get_item)
        .then_http_response(|| dynamo_error(400, "ThrottlingException", json!({})));
    let writes = mock!(Client::transact_write_items)
        .then_http_response(|| dynamo_error(400, "ThrottlingException", json!({})));
    let t = app_with(client!(reads, writes));
    let result = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE).await;
    assert!(
        matches!(result, Err(ApiError::ServiceUnavailable { .. })),
        "{result:?}"
    );
}

/// What the claim transactions sent: their tokens and the seat item.
#[derive(Default)]
struct Sent {
    tokens: Vec<String>,
    seat: Option<Item>,
}

/// A filter for `transact_write_items` that records every request in `sent`.
fn recording(
    sent: &Arc<Mutex<Sent>>,
) -> impl Fn(&aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput) -> bool
+ Send
+ Sync
+ 'static {
    let sent = Arc::clone(sent);
    move |input| {
        let mut sent = sent.lock().expect("lock");
        sent.tokens
            .push(input.client_request_token().unwrap_or("").to_owned());
        sent.seat = input
            .transact_items()
            .first()
            .and_then(|w| w.put())
            .map(|p| p.item().clone());
        true
    }
}

/// The claim context with the seat the transaction wrote, as DynamoDB would
/// show it once that write has landed.
fn context_with_written_seat(sent: &Arc<Mutex<Sent>>) -> BatchGetItemOutput {
    let seat = sent
        .lock()
        .expect("lock")
        .seat
        .clone()
        .expect("a seat was sent");
    let mut context = claim_context(false);
    let mut responses = context.responses.take().unwrap_or_default();
    responses.entry(TABLE.to_owned()).or_default().push(seat);
    BatchGetItemOutput::builder()
        .set_responses(Some(responses))
        .build()
}

#[tokio::test]
async fn a_lost_answer_is_resolved_by_resending_the_same_token() {
    // The transaction commits and its answer is lost (a 500); DynamoDB
    // answers the identical resend, same token, with the first success.
    let sent = Arc::new(Mutex::new(Sent::default()));
    let writes = mock!(Client::transact_write_items)
        .match_requests(recording(&sent))
        .sequence()
        .http_response(|| dynamo_error(500, "InternalServerError", json!({})))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let t = app_with(client!(endless_reads(), writes));
    let claimed = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE)
        .await
        .expect("claimed");
    assert!(!claimed.already_member, "this request took the seat");
    let tokens = sent.lock().expect("lock").tokens.clone();
    assert_eq!(tokens.len(), 2);
    assert!(!tokens[0].is_empty() && tokens[0].len() <= 36, "{tokens:?}");
    assert_eq!(tokens[0], tokens[1], "the resend carries the same token");
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_finds_its_own_seat_and_answers_201() {
    // An emulator that ignores tokens: the resend fails on the seat
    // condition, and the consistent re-read shows the seat this claim wrote.
    let sent = Arc::new(Mutex::new(Sent::default()));
    let writes = mock!(Client::transact_write_items)
        .match_requests(recording(&sent))
        .sequence()
        .http_response(|| dynamo_error(500, "InternalServerError", json!({})))
        .http_response(|| cancelled(&["ConditionalCheckFailed", "None", "None", "None", "None"]))
        .build();
    let seen = Arc::clone(&sent);
    let reads = mock!(Client::batch_get_item)
        .sequence()
        .output(|| claim_context(false))
        .output(move || context_with_written_seat(&seen))
        .build();
    let t = app_with(client!(reads, writes));
    let claimed = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE)
        .await
        .expect("answered");
    assert!(!claimed.already_member, "the seat is this request's own");
    assert_eq!(claimed.seat.user_id, "ann");
    assert_eq!(writes.num_calls(), 2);
}

#[tokio::test]
async fn a_seat_written_by_another_request_is_already_member() {
    // A concurrent duplicate took the seat first (another claim id).
    let reads = mock!(Client::batch_get_item)
        .sequence()
        .output(|| claim_context(false))
        .output(|| claim_context(true))
        .build();
    let writes = mock!(Client::transact_write_items).then_http_response(|| {
        cancelled(&["ConditionalCheckFailed", "None", "None", "None", "None"])
    });
    let t = app_with(client!(reads, writes));
    let claimed = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE)
        .await
        .expect("answered");
    assert!(claimed.already_member);
    assert_eq!(writes.num_calls(), 1);
}

#[tokio::test]
async fn an_outcome_that_stays_unknown_is_a_503_that_says_so() {
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| dynamo_error(500, "InternalServerError", json!({})))
        .repeatedly()
        .build();
    let t = app_with(client!(endless_reads(), writes));
    let result = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE).await;
    assert_eq!(
        result.err().and_then(|e| e.outcome()),
        Some(Outcome::Unknown),
        "never 'nothing was changed' after a write that may have landed"
    );
}

#[tokio::test]
async fn a_throttled_resend_after_a_lost_answer_is_still_unknown() {
    // The first send may have landed (a 500); every resend is throttled,
    // which says nothing about the first: never "nothing was changed".
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| dynamo_error(500, "InternalServerError", json!({})))
        .http_response(|| dynamo_error(400, "ThrottlingException", json!({})))
        .repeatedly()
        .build();
    let t = app_with(client!(endless_reads(), writes));
    let result = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE).await;
    assert_eq!(
        result.err().and_then(|e| e.outcome()),
        Some(Outcome::Unknown)
    );
}

/// Ann's seat on lic-1, as the leave reads it.
fn anns_seat() -> aws_smithy_mocks::Rule {
    mock!(Client::get_item)
        .match_requests(|r| {
            r.key()
                .and_then(|k| k.get("pk"))
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk == "USER#ann")
        })
        .then_output(|| {
            GetItemOutput::builder()
                .set_item(Some(item(json!({
                    "pk": "USER#ann", "sk": "SEAT#lic-1", "licenseId": "lic-1", "userId": "ann",
                    "email": "ann@demo.edu", "joinedAt": NOW, "joinedVia": "code",
                    "viaId": "code_1", "shard": 3,
                }))))
                .build()
        })
}

#[tokio::test]
async fn a_leave_whose_answer_was_lost_is_never_a_503_that_says_nothing_changed() {
    let seat = anns_seat();
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| dynamo_error(500, "InternalServerError", json!({})))
        .http_response(|| cancelled(&["None", "TransactionConflict", "None", "None"]))
        .build();
    let t = app_with(client!(seat, writes));
    let result =
        seat_invitations::service::me::leave(&t.app, &user("ann", "ann@demo.edu"), &"lic-1".into())
            .await;
    assert_eq!(
        result.err().and_then(|e| e.outcome()),
        Some(Outcome::Unknown)
    );
    assert_eq!(
        writes.num_calls(),
        2,
        "the conflict on the resend settles nothing"
    );
}

#[tokio::test]
async fn a_leave_whose_resend_finds_the_seat_gone_answers_204() {
    // The first send landed and its answer was lost; the resend (an
    // emulator that ignores tokens) fails on the seat condition: gone.
    let seat = anns_seat();
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| dynamo_error(500, "InternalServerError", json!({})))
        .http_response(|| cancelled(&["ConditionalCheckFailed", "None", "None", "None"]))
        .build();
    let t = app_with(client!(seat, writes));
    seat_invitations::service::me::leave(&t.app, &user("ann", "ann@demo.edu"), &"lic-1".into())
        .await
        .expect("left: 204");
}

#[tokio::test]
async fn a_5xx_without_an_error_code_is_a_503_not_a_500() {
    // A gateway or an overloaded emulator answers a page, not DynamoDB's
    // JSON: still the service failing, and the write may have landed.
    let writes = mock!(Client::transact_write_items)
        .sequence()
        .http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(502).expect("status"),
                SdkBody::from("<html>Bad Gateway</html>"),
            )
        })
        .repeatedly()
        .build();
    let t = app_with(client!(endless_reads(), writes));
    let result = redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), CODE).await;
    assert_eq!(
        result.err().and_then(|e| e.outcome()),
        Some(Outcome::Unknown)
    );
}
