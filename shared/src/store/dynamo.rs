//! The DynamoDB adapter: one table, items converted with `serde_dynamo`,
//! every multi-item change a `TransactWriteItems`. SDK types stay in here.
//!
//! | item               | pk                         | sk           | indexes |
//! |--------------------|----------------------------|--------------|---------|
//! | license            | `LIC#<licenseId>`          | `LICENSE`    |         |
//! | seat counter shard | `LIC#<licenseId>#SEATS#<i>`| `COUNTER`    |         |
//! | code               | `CODE#<sha256>`            | `CODE`       |         |
//! | code use shard     | `CODE#<codeId>#USES#<i>`   | `COUNTER`    |         |
//! | code               | (gsi2)                     |              | gsi2 `CODES#<licenseId>` / `<codeId>` |
//! | invitation         | `INV#<sha256>`             | `INVITATION` | gsi1 `EMAIL#<email>` while pending; gsi2 `INVS#<licenseId>` / `<invitationId>` |
//! | seat               | `USER#<sub>`               | `SEAT#<licenseId>` | lsi1 `SEAT#<joinedAt>#<licenseId>`; gsi2 `SEATS#<licenseId>#<shard>` / `<joinedAt>#<sub>` |
//! | admin entry        | `USER#<sub>`               | `ADMIN#<licenseId>` |         |
//! | audit event        | `EVENTS#<licenseId>#<shard>` | `<eventId>` |         |
//! | limit window       | `LIMIT#<key>`              | `LIMIT`      | TTL on `ttl` |
//!
//! Ids of codes, invitations and events sort by creation time, so their
//! sort keys give newest-first listings. Seat and event keys carry the
//! seat shard, so a hot license spreads those writes (and their index
//! entries) over 16 partitions; listings merge the 16.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, LocalSecondaryIndex, Projection, ProjectionType,
    Put, ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    TimeToLiveSpecification, TransactWriteItem, Update,
};
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};

use super::{
    ClaimContext, ClaimError, ClaimPlan, ClaimVia, KeyPage, LimitWindow, Page, Rejection,
    SeatCursor, Store, resplit_capacity, seat_position, use_caps,
};
use crate::domain::{
    COUNTER_SHARDS, CodeRecord, Counter, Email, Event, InvitationRecord, InvitationStatus,
    JoinedVia, LicenseRecord, Principal, SeatRecord, SecretHash, Timestamp, split_capacity,
};
use crate::error::StoreError;

type Item = HashMap<String, AttributeValue>;

const GSI_EMAIL: &str = "gsi1";
const GSI_LICENSE: &str = "gsi2";
const LSI_JOINED: &str = "lsi1";
const BATCH_GET_MAX_KEYS: usize = 100;
const UNPROCESSED_RETRIES: u32 = 5;

pub struct DynamoStore {
    client: Client,
    table: String,
}

// ---- keys ------------------------------------------------------------------

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn license_key(license_id: &str) -> Item {
    key(format!("LIC#{license_id}"), "LICENSE")
}

fn seat_counter_key(license_id: &str, index: u16) -> Item {
    key(format!("LIC#{license_id}#SEATS#{index}"), "COUNTER")
}

fn use_counter_key(code_id: &str, index: u16) -> Item {
    key(format!("CODE#{code_id}#USES#{index}"), "COUNTER")
}

fn code_key(hash: &SecretHash) -> Item {
    key(format!("CODE#{}", hash.as_str()), "CODE")
}

fn invitation_key(hash: &SecretHash) -> Item {
    key(format!("INV#{}", hash.as_str()), "INVITATION")
}

fn seat_key(user_id: &str, license_id: &str) -> Item {
    key(format!("USER#{user_id}"), &format!("SEAT#{license_id}"))
}

fn admin_key(user_id: &str, license_id: &str) -> Item {
    key(format!("USER#{user_id}"), &format!("ADMIN#{license_id}"))
}

fn event_key(event: &Event) -> Item {
    key(
        format!("EVENTS#{}#{}", event.license_id, event.shard),
        &event.event_id,
    )
}

fn limit_key(limit: &str) -> Item {
    key(format!("LIMIT#{limit}"), "LIMIT")
}

/// Sortable (fixed-width) form of a join time, for the `lsi1` sort key.
fn joined_sort_key(joined_at: Timestamp, license_id: &str) -> String {
    format!(
        "SEAT#{}#{license_id}",
        joined_at.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

// ---- items -----------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseItem {
    license_id: String,
    name: String,
    organization: String,
    product: String,
    seats_total: u32,
    expires_at: Option<Timestamp>,
    allowed_email_domains: Vec<String>,
    owner: Principal,
    admins: Vec<Principal>,
    created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CounterItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cap: Option<u32>,
    used: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeItem {
    code_id: String,
    code_hash: String,
    license_id: String,
    last4: String,
    max_uses: Option<u32>,
    expires_at: Option<Timestamp>,
    revoked: bool,
    note: Option<String>,
    created_at: Timestamp,
    /// Index keys: written, never needed when reading back.
    #[serde(default)]
    gsi2pk: String,
    #[serde(default)]
    gsi2sk: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvitationItem {
    invitation_id: String,
    token_hash: String,
    license_id: String,
    email: Option<Email>,
    status: InvitationStatus,
    expires_at: Option<Timestamp>,
    created_at: Timestamp,
    /// Set only while pending and bound to an email: a sparse index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(default)]
    valid_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    invited_by: Option<String>,
    /// Index keys: written, never needed when reading back.
    #[serde(default)]
    gsi2pk: String,
    #[serde(default)]
    gsi2sk: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeatItem {
    license_id: String,
    user_id: String,
    email: Email,
    joined_at: Timestamp,
    joined_via: JoinedVia,
    via_id: String,
    shard: u16,
    #[serde(default)]
    lsi1sk: String,
    /// Index keys: written, never needed when reading back.
    #[serde(default)]
    gsi2pk: String,
    #[serde(default)]
    gsi2sk: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminItem {
    license_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LimitItem {
    start: i64,
    count: u32,
    ttl: i64,
}

fn to_item<T: Serialize>(value: &T, key: Item) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Internal(format!("encode: {e}")))?;
    item.extend(key);
    Ok(item)
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Internal(format!("decode: {e}")))
}

impl From<LicenseItem> for LicenseRecord {
    fn from(i: LicenseItem) -> Self {
        LicenseRecord {
            license_id: i.license_id,
            name: i.name,
            organization: i.organization,
            product: i.product,
            seats_total: i.seats_total,
            expires_at: i.expires_at,
            allowed_email_domains: i.allowed_email_domains,
            owner: i.owner,
            admins: i.admins,
            created_at: i.created_at,
        }
    }
}

impl From<CodeItem> for CodeRecord {
    fn from(i: CodeItem) -> Self {
        CodeRecord {
            code_id: i.code_id,
            code_hash: SecretHash::from_stored(i.code_hash),
            license_id: i.license_id,
            last4: i.last4,
            max_uses: i.max_uses,
            expires_at: i.expires_at,
            revoked: i.revoked,
            note: i.note,
            created_at: i.created_at,
        }
    }
}

impl From<InvitationItem> for InvitationRecord {
    fn from(i: InvitationItem) -> Self {
        InvitationRecord {
            invitation_id: i.invitation_id,
            token_hash: SecretHash::from_stored(i.token_hash),
            license_id: i.license_id,
            email: i.email,
            status: i.status,
            expires_at: i.expires_at,
            created_at: i.created_at,
            valid_days: i.valid_days,
            invited_by: i.invited_by,
        }
    }
}

impl From<SeatItem> for SeatRecord {
    fn from(i: SeatItem) -> Self {
        SeatRecord {
            license_id: i.license_id,
            user_id: i.user_id,
            email: i.email,
            joined_at: i.joined_at,
            joined_via: i.joined_via,
            via_id: i.via_id,
            shard: i.shard,
        }
    }
}

fn event_item(event: &Event) -> Result<Item, StoreError> {
    to_item(event, event_key(event))
}

fn code_item(code: &CodeRecord) -> Result<Item, StoreError> {
    to_item(
        &CodeItem {
            code_id: code.code_id.clone(),
            code_hash: code.code_hash.as_str().to_owned(),
            license_id: code.license_id.clone(),
            last4: code.last4.clone(),
            max_uses: code.max_uses,
            expires_at: code.expires_at,
            revoked: code.revoked,
            note: code.note.clone(),
            created_at: code.created_at,
            gsi2pk: format!("CODES#{}", code.license_id),
            gsi2sk: code.code_id.clone(),
        },
        code_key(&code.code_hash),
    )
}

fn invitation_item(invitation: &InvitationRecord) -> Result<Item, StoreError> {
    let pending_email = invitation
        .email
        .as_ref()
        .filter(|_| invitation.status == InvitationStatus::Pending);
    to_item(
        &InvitationItem {
            invitation_id: invitation.invitation_id.clone(),
            token_hash: invitation.token_hash.as_str().to_owned(),
            license_id: invitation.license_id.clone(),
            email: invitation.email.clone(),
            status: invitation.status,
            expires_at: invitation.expires_at,
            created_at: invitation.created_at,
            gsi1pk: pending_email.map(|e| format!("EMAIL#{}", e.as_str())),
            gsi1sk: pending_email.map(|_| invitation.invitation_id.clone()),
            valid_days: invitation.valid_days,
            invited_by: invitation.invited_by.clone(),
            gsi2pk: format!("INVS#{}", invitation.license_id),
            gsi2sk: invitation.invitation_id.clone(),
        },
        invitation_key(&invitation.token_hash),
    )
}

fn seat_item(seat: &SeatRecord) -> Result<Item, StoreError> {
    to_item(
        &SeatItem {
            license_id: seat.license_id.clone(),
            user_id: seat.user_id.clone(),
            email: seat.email.clone(),
            joined_at: seat.joined_at,
            joined_via: seat.joined_via,
            via_id: seat.via_id.clone(),
            shard: seat.shard,
            lsi1sk: joined_sort_key(seat.joined_at, &seat.license_id),
            gsi2pk: format!("SEATS#{}#{}", seat.license_id, seat.shard),
            gsi2sk: seat_position(seat),
        },
        seat_key(&seat.user_id, &seat.license_id),
    )
}

// ---- errors ----------------------------------------------------------------

fn build_err(err: BuildError) -> StoreError {
    StoreError::Internal(format!("request build: {err}"))
}

/// Codes of errors that are worth retrying later; anything else is a bug or
/// a misconfiguration. Messages are not kept: they can quote item values.
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

fn classify<E: ProvideErrorMetadata, R>(op: &str, err: &SdkError<E, R>) -> StoreError {
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            if TRANSIENT_CODES.contains(&code) {
                StoreError::Unavailable(format!("{op}: {code}"))
            } else {
                StoreError::Internal(format!("{op}: {code}"))
            }
        }
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!("{op}: timeout")),
        SdkError::DispatchFailure(_) => StoreError::Unavailable(format!("{op}: dispatch failure")),
        SdkError::ResponseError(_) => StoreError::Unavailable(format!("{op}: unreadable response")),
        _ => StoreError::Internal(format!("{op}: request construction failed")),
    }
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// The cancellation reason codes of a cancelled transaction, by item.
fn cancellation_codes(
    err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Vec<String>> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// Maps a cancelled claim to the rejection the algorithm acts on. A failed
/// seat condition wins: a retried claim whose first attempt was written
/// must read as "already a member".
fn claim_rejection(codes: &[String]) -> Option<Rejection> {
    let failed = |i: usize| codes.get(i).is_some_and(|c| c == "ConditionalCheckFailed");
    if failed(0) {
        return Some(Rejection::AlreadyMember);
    }
    if codes.iter().any(|c| {
        matches!(
            c.as_str(),
            "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
        )
    }) {
        return Some(Rejection::Contended);
    }
    if failed(1) {
        return Some(Rejection::SeatShardFull);
    }
    None
}

fn counter_from(index: u16, item: Option<Item>) -> Result<Counter, StoreError> {
    let item =
        item.ok_or_else(|| StoreError::Internal(format!("missing counter shard {index}")))?;
    let c: CounterItem = from_item(item)?;
    Ok(Counter {
        index,
        cap: c.cap,
        used: c.used,
    })
}

fn pk_of(item: &Item) -> Option<&str> {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

impl DynamoStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    /// Creates the table (on-demand, `gsi1`, `lsi1`, TTL on `ttl`) if it is
    /// missing. For local use and tests; production tables come from SAM.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(err) => return Err(classify("DescribeTable", &err)),
        }
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let schema = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_err)
        };
        let gsi = |name: &str, pk: &str, sk: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(schema(pk, KeyType::Hash)?)
                .key_schema(schema(sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)
        };
        let all = Projection::builder()
            .projection_type(ProjectionType::All)
            .build();
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("gsi1pk")?)
            .attribute_definitions(attr("gsi1sk")?)
            .attribute_definitions(attr("lsi1sk")?)
            .attribute_definitions(attr("gsi2pk")?)
            .attribute_definitions(attr("gsi2sk")?)
            .key_schema(schema("pk", KeyType::Hash)?)
            .key_schema(schema("sk", KeyType::Range)?)
            .global_secondary_indexes(gsi(GSI_EMAIL, "gsi1pk", "gsi1sk")?)
            .global_secondary_indexes(gsi(GSI_LICENSE, "gsi2pk", "gsi2sk")?)
            .local_secondary_indexes(
                LocalSecondaryIndex::builder()
                    .index_name(LSI_JOINED)
                    .key_schema(schema("pk", KeyType::Hash)?)
                    .key_schema(schema("lsi1sk", KeyType::Range)?)
                    .projection(all)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Another process created it first.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(err) => return Err(classify("CreateTable", &err)),
        }
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| classify("DescribeTable", &e))?;
            let active = described
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| s.as_str() == "ACTIVE");
            if active {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTimeToLive", &e))?;
        Ok(())
    }

    async fn get(&self, op: &str, key: Item, consistent: bool) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify(op, &e))?;
        Ok(output.item)
    }

    /// BatchGetItem over any number of keys, retrying unprocessed keys with
    /// backoff; items are returned by their `pk`.
    async fn batch_get(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_MAX_KEYS) {
            let mut pending = chunk.to_vec();
            for attempt in 0..=UNPROCESSED_RETRIES {
                if pending.is_empty() {
                    break;
                }
                if attempt == UNPROCESSED_RETRIES {
                    return Err(StoreError::Unavailable(
                        "BatchGetItem: keys left unprocessed".into(),
                    ));
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
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
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(pk) = pk_of(&item) {
                        found.insert(pk.to_owned(), item);
                    }
                }
                pending = output
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
        Ok(found)
    }

    async fn transact(
        &self,
        op: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), TransactFailure> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| match cancellation_codes(&err) {
                Some(codes) => TransactFailure::Cancelled(codes),
                None => TransactFailure::Store(classify(op, &err)),
            })
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .build()
                    .map_err(build_err)?,
            )
            .build())
    }

    /// Puts every item, each only if absent, all or nothing.
    async fn create_all(&self, op: &str, items: Vec<Item>, id: &str) -> Result<(), StoreError> {
        let writes = items
            .into_iter()
            .map(|item| self.put(item, "attribute_not_exists(pk)"))
            .collect::<Result<Vec<_>, _>>()?;
        match self.transact(op, writes).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes))
                if codes.iter().any(|c| c == "ConditionalCheckFailed") =>
            {
                Err(StoreError::AlreadyExists(id.to_owned()))
            }
            Err(TransactFailure::Cancelled(codes)) => Err(StoreError::Unavailable(format!(
                "{op} cancelled: {codes:?}"
            ))),
            Err(TransactFailure::Store(err)) => Err(err),
        }
    }

    /// Runs a transaction whose conditions only guard a state change:
    /// `Ok(false)` when a condition failed, retried on conflicts.
    async fn transact_guarded(
        &self,
        op: &str,
        build: impl Fn() -> Result<Vec<TransactWriteItem>, StoreError>,
    ) -> Result<bool, StoreError> {
        for attempt in 0..4u32 {
            match self.transact(op, build()?).await {
                Ok(()) => return Ok(true),
                Err(TransactFailure::Cancelled(codes)) => {
                    if codes.iter().any(|c| c == "ConditionalCheckFailed") {
                        return Ok(false);
                    }
                    if !codes.iter().any(|c| c == "TransactionConflict") {
                        return Err(StoreError::Internal(format!("{op} cancelled: {codes:?}")));
                    }
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                Err(TransactFailure::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Unavailable(format!(
            "{op}: transaction conflicts"
        )))
    }

    fn update(
        &self,
        key: Item,
        expression: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression(condition);
        for (name, value) in names {
            update = update.expression_attribute_names(*name, *value);
        }
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(build_err)?)
            .build())
    }

    /// Queries one partition of an index (or the table) newest first, at
    /// most `limit` items whose sort key meets `sk`.
    async fn query_desc(
        &self,
        index: Option<&str>,
        (pk_name, pk): (&str, String),
        sk_name: &str,
        sk: SortKey<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        let condition = match sk {
            SortKey::Any => format!("{pk_name} = :pk"),
            SortKey::Before(before) => {
                values.insert(":sk".into(), s(before));
                format!("{pk_name} = :pk AND {sk_name} < :sk")
            }
            SortKey::Equals(exact) => {
                values.insert(":sk".into(), s(exact));
                format!("{pk_name} = :pk AND {sk_name} = :sk")
            }
        };
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(&condition)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query", &e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if items.len() < limit => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// One partition of the `gsi2` index (a license's codes or invitations).
    async fn by_license(
        &self,
        pk: String,
        sk: SortKey<'_>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_desc(Some(GSI_LICENSE), ("gsi2pk", pk), "gsi2sk", sk, limit)
            .await
    }

    /// Merges the 16 shard partitions of a sharded listing into one
    /// newest-first page: each shard's first `limit + 1` items below
    /// `before` hold the global first `limit + 1`.
    async fn merged_shards<T>(
        &self,
        index: Option<&str>,
        pk_of_shard: impl Fn(u16) -> (&'static str, String),
        sk_name: &str,
        before: Option<&str>,
        limit: usize,
        decode: impl Fn(Item) -> Result<(String, T), StoreError>,
    ) -> Result<KeyPage<T>, StoreError> {
        let mut all = Vec::new();
        for shard in 0..COUNTER_SHARDS {
            for item in self
                .query_desc(
                    index,
                    pk_of_shard(shard),
                    sk_name,
                    SortKey::before(before),
                    limit + 1,
                )
                .await?
            {
                all.push(decode(item)?);
            }
        }
        all.sort_by(|a, b| b.0.cmp(&a.0));
        all.truncate(limit + 1);
        let next = (all.len() > limit).then(|| all[limit - 1].0.clone());
        all.truncate(limit);
        Ok(KeyPage {
            items: all.into_iter().map(|(_, item)| item).collect(),
            next,
        })
    }

    async fn counters(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Counter>, StoreError> {
        let n = keys.len();
        let mut found = self.batch_get(keys.clone(), consistent).await?;
        keys.iter()
            .zip(0u16..)
            .map(|(key, index)| counter_from(index, pk_of(key).and_then(|pk| found.remove(pk))))
            .take(n)
            .collect()
    }

    /// `used + 1` on a counter; `condition` may use `#used` and `#cap`.
    fn increment(&self, key: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        self.update(
            key,
            "SET #used = #used + :one",
            condition,
            &[("#used", "used"), ("#cap", "cap")],
            vec![(":one", n(1))],
        )
    }

    async fn put_new_window(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<Option<LimitWindow>, StoreError> {
        let start = now.timestamp();
        let item = LimitItem {
            start,
            count: 1,
            ttl: start.saturating_add(i64::try_from(window_secs).unwrap_or(i64::MAX)),
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item, limit_key(key))?))
            .condition_expression("attribute_not_exists(pk) OR #start <= :cutoff")
            .expression_attribute_names("#start", "start")
            .expression_attribute_values(":cutoff", n(cutoff(window_secs, now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(LimitWindow { start, count: 1 })),
            Err(err) if is_conditional_failure(&err) => Ok(None),
            Err(err) => Err(classify("PutItem", &err)),
        }
    }
}

/// A condition on the sort key of a query.
#[derive(Clone, Copy)]
enum SortKey<'a> {
    Any,
    Before(&'a str),
    Equals(&'a str),
}

impl<'a> SortKey<'a> {
    fn before(key: Option<&'a str>) -> Self {
        key.map_or(SortKey::Any, SortKey::Before)
    }
}

enum TransactFailure {
    Cancelled(Vec<String>),
    Store(StoreError),
}

/// A window that started at or before this second has closed.
fn cutoff(window_secs: u64, now: Timestamp) -> i64 {
    now.timestamp()
        .saturating_sub(i64::try_from(window_secs).unwrap_or(i64::MAX))
}

fn window_from(item: Option<Item>) -> Result<Option<LimitWindow>, StoreError> {
    item.map(|item| {
        from_item::<LimitItem>(item).map(|l| LimitWindow {
            start: l.start,
            count: l.count,
        })
    })
    .transpose()
}

#[async_trait]
impl Store for DynamoStore {
    async fn code(&self, hash: &SecretHash) -> Result<Option<CodeRecord>, StoreError> {
        self.get("GetItem code", code_key(hash), true)
            .await?
            .map(|item| from_item::<CodeItem>(item).map(Into::into))
            .transpose()
    }

    async fn invitation(&self, hash: &SecretHash) -> Result<Option<InvitationRecord>, StoreError> {
        self.get("GetItem invitation", invitation_key(hash), true)
            .await?
            .map(|item| from_item::<InvitationItem>(item).map(Into::into))
            .transpose()
    }

    async fn license(&self, license_id: &str) -> Result<Option<LicenseRecord>, StoreError> {
        self.get("GetItem license", license_key(license_id), true)
            .await?
            .map(|item| from_item::<LicenseItem>(item).map(Into::into))
            .transpose()
    }

    async fn claim_context(
        &self,
        license_id: &str,
        user_id: &str,
        code_id: Option<&str>,
        consistent: bool,
    ) -> Result<ClaimContext, StoreError> {
        let mut keys = vec![license_key(license_id), seat_key(user_id, license_id)];
        keys.extend((0..COUNTER_SHARDS).map(|i| seat_counter_key(license_id, i)));
        if let Some(code_id) = code_id {
            keys.extend((0..COUNTER_SHARDS).map(|i| use_counter_key(code_id, i)));
        }
        let mut found = self.batch_get(keys, consistent).await?;
        let mut take = |key: Item| pk_of(&key).and_then(|pk| found.remove(pk));
        let Some(license) = take(license_key(license_id)) else {
            return Ok(ClaimContext::default());
        };
        let license: LicenseRecord = from_item::<LicenseItem>(license)?.into();
        let seat = take(seat_key(user_id, license_id))
            .map(|item| from_item::<SeatItem>(item).map(Into::into))
            .transpose()?;
        let seat_counters = (0..COUNTER_SHARDS)
            .map(|i| counter_from(i, take(seat_counter_key(license_id, i))))
            .collect::<Result<Vec<_>, _>>()?;
        let use_counters = match code_id {
            Some(code_id) => (0..COUNTER_SHARDS)
                .map(|i| counter_from(i, take(use_counter_key(code_id, i))))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        Ok(ClaimContext {
            license: Some(license),
            seat,
            seat_counters,
            use_counters,
        })
    }

    async fn claim(&self, plan: &ClaimPlan) -> Result<(), ClaimError> {
        let seat = &plan.seat;
        let mut writes = vec![
            self.put(seat_item(seat)?, "attribute_not_exists(pk)")?,
            self.increment(
                seat_counter_key(&seat.license_id, seat.shard),
                "attribute_exists(pk) AND #used < #cap",
            )?,
        ];
        match &plan.via {
            ClaimVia::Code { code_id, shard } => writes.push(self.increment(
                use_counter_key(code_id, *shard),
                "attribute_exists(pk) AND (attribute_not_exists(#cap) OR #used < #cap)",
            )?),
            ClaimVia::Invitation { token_hash } => writes.push(self.update(
                invitation_key(token_hash),
                "SET #status = :accepted REMOVE gsi1pk, gsi1sk",
                "#status = :pending",
                &[("#status", "status")],
                vec![(":accepted", s("accepted")), (":pending", s("pending"))],
            )?),
        }
        writes.push(self.put(event_item(&plan.event)?, "attribute_not_exists(pk)")?);
        match self.transact("TransactWriteItems claim", writes).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes)) => {
                let rejection = claim_rejection(&codes).or_else(|| {
                    let third_failed = codes.get(2).is_some_and(|c| c == "ConditionalCheckFailed");
                    third_failed.then_some(match plan.via {
                        ClaimVia::Code { .. } => Rejection::UseShardFull,
                        ClaimVia::Invitation { .. } => Rejection::InvitationNotPending,
                    })
                });
                match rejection {
                    Some(rejection) => Err(ClaimError::Rejected(rejection)),
                    None => Err(ClaimError::Store(StoreError::Internal(format!(
                        "claim cancelled: {codes:?}"
                    )))),
                }
            }
            Err(TransactFailure::Store(err)) => Err(ClaimError::Store(err)),
        }
    }

    async fn seat(
        &self,
        user_id: &str,
        license_id: &str,
    ) -> Result<Option<SeatRecord>, StoreError> {
        self.get("GetItem seat", seat_key(user_id, license_id), true)
            .await?
            .map(|item| from_item::<SeatItem>(item).map(Into::into))
            .transpose()
    }

    async fn release_seat(&self, seat: &SeatRecord, event: &Event) -> Result<bool, StoreError> {
        for attempt in 0..4u32 {
            let writes = vec![
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(seat_key(&seat.user_id, &seat.license_id)))
                            .condition_expression("attribute_exists(pk) AND #shard = :shard")
                            .expression_attribute_names("#shard", "shard")
                            .expression_attribute_values(":shard", n(seat.shard))
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
                self.update(
                    seat_counter_key(&seat.license_id, seat.shard),
                    "SET #used = #used - :one",
                    "#used > :zero",
                    &[("#used", "used")],
                    vec![(":one", n(1)), (":zero", n(0))],
                )?,
                self.put(event_item(event)?, "attribute_not_exists(pk)")?,
            ];
            match self.transact("TransactWriteItems release", writes).await {
                Ok(()) => return Ok(true),
                Err(TransactFailure::Cancelled(codes)) => {
                    if codes.first().is_some_and(|c| c == "ConditionalCheckFailed") {
                        return Ok(false);
                    }
                    if !codes.iter().any(|c| c == "TransactionConflict") {
                        return Err(StoreError::Internal(format!(
                            "release cancelled: {codes:?}"
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                Err(TransactFailure::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Unavailable(
            "release: transaction conflicts".into(),
        ))
    }

    async fn user_seats(
        &self,
        user_id: &str,
        after: Option<&SeatCursor>,
        limit: usize,
    ) -> Result<Page<SeatRecord>, StoreError> {
        let start_key = after.map(|c| {
            let mut k = seat_key(user_id, &c.license_id);
            k.insert(
                "lsi1sk".into(),
                s(joined_sort_key(c.joined_at, &c.license_id)),
            );
            k
        });
        // One extra item tells whether another page exists.
        let wanted = limit + 1;
        let mut items = Vec::with_capacity(wanted);
        let mut exclusive_start = start_key;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(LSI_JOINED)
                .key_condition_expression("pk = :pk AND begins_with(lsi1sk, :seat)")
                .expression_attribute_values(":pk", s(format!("USER#{user_id}")))
                .expression_attribute_values(":seat", s("SEAT#"))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(i32::try_from(wanted - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(exclusive_start.take())
                .send()
                .await
                .map_err(|e| classify("Query seats", &e))?;
            for item in output.items.unwrap_or_default() {
                items.push(SeatRecord::from(from_item::<SeatItem>(item)?));
            }
            match output.last_evaluated_key {
                Some(key) if items.len() < wanted => exclusive_start = Some(key),
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more.then(|| items.last()).flatten().map(SeatCursor::after);
        Ok(Page { items, next })
    }

    async fn licenses_with_usage(
        &self,
        license_ids: &[String],
    ) -> Result<Vec<(LicenseRecord, u32)>, StoreError> {
        let mut ids: Vec<&String> = license_ids.iter().collect();
        ids.sort();
        ids.dedup();
        let keys = ids
            .iter()
            .flat_map(|id| {
                std::iter::once(license_key(id))
                    .chain((0..COUNTER_SHARDS).map(|i| seat_counter_key(id, i)))
            })
            .collect();
        let found = self.batch_get(keys, false).await?;
        let mut out = Vec::new();
        for id in license_ids {
            let Some(item) = found.get(&format!("LIC#{id}")) else {
                continue;
            };
            let license: LicenseRecord = from_item::<LicenseItem>(item.clone())?.into();
            let mut used = 0;
            for i in 0..COUNTER_SHARDS {
                let item = found.get(&format!("LIC#{id}#SEATS#{i}")).cloned();
                used += counter_from(i, item)?.used;
            }
            out.push((license, used));
        }
        Ok(out)
    }

    async fn pending_invitations(
        &self,
        email: &Email,
    ) -> Result<Vec<InvitationRecord>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI_EMAIL)
                .key_condition_expression("gsi1pk = :email")
                .expression_attribute_values(":email", s(format!("EMAIL#{}", email.as_str())))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query invitations", &e))?;
            for item in output.items.unwrap_or_default() {
                let inv: InvitationRecord = from_item::<InvitationItem>(item)?.into();
                if inv.status == InvitationStatus::Pending {
                    found.push(inv);
                }
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        Ok(found)
    }

    async fn limit_window(&self, key: &str) -> Result<Option<LimitWindow>, StoreError> {
        window_from(self.get("GetItem limit", limit_key(key), true).await?)
    }

    async fn limit_hit(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<LimitWindow, StoreError> {
        for _ in 0..4 {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(limit_key(key)))
                .update_expression("SET #count = #count + :one")
                .condition_expression("attribute_exists(pk) AND #start > :cutoff")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#start", "start")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cutoff", n(cutoff(window_secs, now)))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match result {
                Ok(output) => {
                    return window_from(output.attributes)?.ok_or_else(|| {
                        StoreError::Internal("UpdateItem limit returned nothing".into())
                    });
                }
                Err(err) if is_conditional_failure(&err) => {
                    if let Some(window) = self.put_new_window(key, window_secs, now).await? {
                        return Ok(window);
                    }
                }
                Err(err) => return Err(classify("UpdateItem limit", &err)),
            }
        }
        Err(StoreError::Unavailable("limit window contended".into()))
    }

    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<Result<LimitWindow, LimitWindow>, StoreError> {
        for _ in 0..4 {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(limit_key(key)))
                .update_expression("SET #count = #count + :one")
                .condition_expression("attribute_exists(pk) AND #start > :cutoff AND #count < :max")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#start", "start")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(max))
                .expression_attribute_values(":cutoff", n(cutoff(window_secs, now)))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(output) => {
                    let window = window_from(output.attributes)?.ok_or_else(|| {
                        StoreError::Internal("UpdateItem limit returned nothing".into())
                    })?;
                    return Ok(Ok(window));
                }
                Err(err) if is_conditional_failure(&err) => {
                    let old = match err.as_service_error() {
                        Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(e)) => {
                            window_from(e.item.clone())?
                        }
                        _ => None,
                    };
                    if let Some(old) = old
                        && old.is_open(window_secs, now)
                    {
                        return Ok(Err(old));
                    }
                    if let Some(window) = self.put_new_window(key, window_secs, now).await? {
                        return Ok(Ok(window));
                    }
                }
                Err(err) => return Err(classify("UpdateItem limit", &err)),
            }
        }
        Err(StoreError::Unavailable("limit window contended".into()))
    }

    async fn limit_release(&self, key: &str, window: LimitWindow) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(limit_key(key)))
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
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(classify("UpdateItem limit release", &err)),
        }
    }

    async fn create_license(&self, license: &LicenseRecord) -> Result<(), StoreError> {
        let id = &license.license_id;
        let mut items = vec![to_item(
            &LicenseItem {
                license_id: id.clone(),
                name: license.name.clone(),
                organization: license.organization.clone(),
                product: license.product.clone(),
                seats_total: license.seats_total,
                expires_at: license.expires_at,
                allowed_email_domains: license.allowed_email_domains.clone(),
                owner: license.owner.clone(),
                admins: license.admins.clone(),
                created_at: license.created_at,
            },
            license_key(id),
        )?];
        for (i, cap) in (0..COUNTER_SHARDS).zip(split_capacity(license.seats_total)) {
            items.push(to_item(
                &CounterItem {
                    cap: Some(cap),
                    used: 0,
                },
                seat_counter_key(id, i),
            )?);
        }
        let mut subs: Vec<&str> = std::iter::once(&license.owner)
            .chain(&license.admins)
            .map(|p| p.sub.as_str())
            .collect();
        subs.sort_unstable();
        subs.dedup();
        for sub in subs {
            items.push(to_item(
                &AdminItem {
                    license_id: id.clone(),
                },
                admin_key(sub, id),
            )?);
        }
        self.create_all("TransactWriteItems create license", items, id)
            .await
    }

    async fn create_code(&self, code: &CodeRecord, event: &Event) -> Result<(), StoreError> {
        let mut items = vec![code_item(code)?, event_item(event)?];
        for (i, cap) in (0..COUNTER_SHARDS).zip(use_caps(code.max_uses)) {
            items.push(to_item(
                &CounterItem { cap, used: 0 },
                use_counter_key(&code.code_id, i),
            )?);
        }
        self.create_all("TransactWriteItems create code", items, &code.code_id)
            .await
    }

    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &Event,
    ) -> Result<(), StoreError> {
        let items = vec![invitation_item(invitation)?, event_item(event)?];
        self.create_all(
            "TransactWriteItems create invitation",
            items,
            &invitation.invitation_id,
        )
        .await
    }

    async fn administered_licenses(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<String>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :admin)")
            .expression_attribute_values(":pk", s(format!("USER#{user_id}")))
            .expression_attribute_values(":admin", s("ADMIN#"))
            .set_exclusive_start_key(after.map(|a| admin_key(user_id, a)))
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("Query admin entries", &e))?;
        let mut ids = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<AdminItem>(item).map(|a| a.license_id))
            .collect::<Result<Vec<_>, _>>()?;
        let next = (ids.len() > limit).then(|| ids[limit - 1].clone());
        ids.truncate(limit);
        Ok(KeyPage { items: ids, next })
    }

    async fn license_codes(&self, license_id: &str) -> Result<Vec<(CodeRecord, u32)>, StoreError> {
        let items = self
            .by_license(format!("CODES#{license_id}"), SortKey::Any, usize::MAX >> 1)
            .await?;
        let mut codes = Vec::with_capacity(items.len());
        for item in items {
            let code: CodeRecord = from_item::<CodeItem>(item)?.into();
            let keys = (0..COUNTER_SHARDS)
                .map(|i| use_counter_key(&code.code_id, i))
                .collect();
            let uses = self
                .counters(keys, false)
                .await?
                .iter()
                .map(|c| c.used)
                .sum();
            codes.push((code, uses));
        }
        Ok(codes)
    }

    async fn code_by_id(
        &self,
        license_id: &str,
        code_id: &str,
    ) -> Result<Option<CodeRecord>, StoreError> {
        let items = self
            .by_license(format!("CODES#{license_id}"), SortKey::Equals(code_id), 1)
            .await?;
        items
            .into_iter()
            .next()
            .map(|item| from_item::<CodeItem>(item).map(CodeRecord::from))
            .transpose()
    }

    async fn revoke_code(&self, code: &CodeRecord, event: &Event) -> Result<bool, StoreError> {
        self.transact_guarded("TransactWriteItems revoke code", || {
            Ok(vec![
                self.update(
                    code_key(&code.code_hash),
                    "SET revoked = :yes",
                    "attribute_exists(pk) AND revoked = :no",
                    &[],
                    vec![
                        (":yes", AttributeValue::Bool(true)),
                        (":no", AttributeValue::Bool(false)),
                    ],
                )?,
                self.put(event_item(event)?, "attribute_not_exists(pk)")?,
            ])
        })
        .await
    }

    async fn license_invitations(
        &self,
        license_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<InvitationRecord>, StoreError> {
        let mut items = self
            .by_license(
                format!("INVS#{license_id}"),
                SortKey::before(after),
                limit + 1,
            )
            .await?
            .into_iter()
            .map(|item| from_item::<InvitationItem>(item).map(InvitationRecord::from))
            .collect::<Result<Vec<_>, _>>()?;
        let next = (items.len() > limit).then(|| items[limit - 1].invitation_id.clone());
        items.truncate(limit);
        Ok(KeyPage { items, next })
    }

    async fn invitation_by_id(
        &self,
        license_id: &str,
        invitation_id: &str,
    ) -> Result<Option<InvitationRecord>, StoreError> {
        let items = self
            .by_license(
                format!("INVS#{license_id}"),
                SortKey::Equals(invitation_id),
                1,
            )
            .await?;
        let Some(item) = items.into_iter().next() else {
            return Ok(None);
        };
        let found: InvitationRecord = from_item::<InvitationItem>(item)?.into();
        // The index lags; the item itself is the truth.
        self.invitation(&found.token_hash).await
    }

    async fn close_invitation(
        &self,
        invitation: &InvitationRecord,
        status: InvitationStatus,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let status = match status {
            InvitationStatus::Declined => "declined",
            InvitationStatus::Revoked => "revoked",
            other => {
                return Err(StoreError::Internal(format!(
                    "cannot close an invitation as {other:?}"
                )));
            }
        };
        self.transact_guarded("TransactWriteItems close invitation", || {
            Ok(vec![
                self.update(
                    invitation_key(&invitation.token_hash),
                    "SET #status = :closed REMOVE gsi1pk, gsi1sk",
                    "#status = :pending",
                    &[("#status", "status")],
                    vec![(":closed", s(status)), (":pending", s("pending"))],
                )?,
                self.put(event_item(event)?, "attribute_not_exists(pk)")?,
            ])
        })
        .await
    }

    async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        fresh: &InvitationRecord,
        event: &Event,
    ) -> Result<bool, StoreError> {
        self.transact_guarded("TransactWriteItems reissue invitation", || {
            Ok(vec![
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(invitation_key(&old.token_hash)))
                            .condition_expression("#status = :pending")
                            .expression_attribute_names("#status", "status")
                            .expression_attribute_values(":pending", s("pending"))
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
                self.put(invitation_item(fresh)?, "attribute_not_exists(pk)")?,
                self.put(event_item(event)?, "attribute_not_exists(pk)")?,
            ])
        })
        .await
    }

    async fn license_seats(
        &self,
        license_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<SeatRecord>, StoreError> {
        self.merged_shards(
            Some(GSI_LICENSE),
            |shard| ("gsi2pk", format!("SEATS#{license_id}#{shard}")),
            "gsi2sk",
            after,
            limit,
            |item| {
                let seat: SeatRecord = from_item::<SeatItem>(item)?.into();
                Ok((seat_position(&seat), seat))
            },
        )
        .await
    }

    async fn events(
        &self,
        license_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<Event>, StoreError> {
        self.merged_shards(
            None,
            |shard| ("pk", format!("EVENTS#{license_id}#{shard}")),
            "sk",
            before,
            limit,
            |item| {
                let event: Event = from_item(item)?;
                Ok((event.event_id.clone(), event))
            },
        )
        .await
    }

    async fn set_seats_total(
        &self,
        license_id: &str,
        total: u32,
        event: &Event,
    ) -> Result<Result<(), u32>, StoreError> {
        for attempt in 0..5u32 {
            let keys = (0..COUNTER_SHARDS)
                .map(|i| seat_counter_key(license_id, i))
                .collect();
            let counters = self.counters(keys, true).await?;
            let Some(caps) = resplit_capacity(&counters, total) else {
                return Ok(Err(counters.iter().map(|c| c.used).sum()));
            };
            // A claim between the read and this write can only make a shard
            // fail `used <= cap`; then read again.
            let mut writes = Vec::with_capacity(caps.len() + 2);
            for (i, cap) in (0..COUNTER_SHARDS).zip(&caps) {
                writes.push(self.update(
                    seat_counter_key(license_id, i),
                    "SET #cap = :cap",
                    "#used <= :cap",
                    &[("#cap", "cap"), ("#used", "used")],
                    vec![(":cap", n(cap))],
                )?);
            }
            writes.push(self.update(
                license_key(license_id),
                "SET seatsTotal = :total",
                "attribute_exists(pk)",
                &[],
                vec![(":total", n(total))],
            )?);
            writes.push(self.put(event_item(event)?, "attribute_not_exists(pk)")?);
            match self.transact("TransactWriteItems set seats", writes).await {
                Ok(()) => return Ok(Ok(())),
                Err(TransactFailure::Cancelled(codes)) => {
                    let counter_raced = codes
                        .iter()
                        .take(usize::from(COUNTER_SHARDS))
                        .any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict");
                    if !counter_raced {
                        return Err(StoreError::Internal(format!(
                            "set seats cancelled: {codes:?}"
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                Err(TransactFailure::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Unavailable("set seats: contended".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn a_failed_seat_condition_reads_as_already_member() {
        assert_eq!(
            claim_rejection(&codes(&[
                "ConditionalCheckFailed",
                "ConditionalCheckFailed",
                "None"
            ])),
            Some(Rejection::AlreadyMember)
        );
    }

    #[test]
    fn conflicts_are_contention_and_full_shards_are_reported() {
        assert_eq!(
            claim_rejection(&codes(&["None", "TransactionConflict", "None"])),
            Some(Rejection::Contended)
        );
        assert_eq!(
            claim_rejection(&codes(&["None", "ConditionalCheckFailed", "None"])),
            Some(Rejection::SeatShardFull)
        );
        assert_eq!(
            claim_rejection(&codes(&["None", "None", "ConditionalCheckFailed"])),
            None
        );
    }

    #[test]
    fn join_sort_keys_order_by_time() {
        let early =
            chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").map(|t| t.to_utc());
        let late =
            chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00.5Z").map(|t| t.to_utc());
        let (Ok(early), Ok(late)) = (early, late) else {
            panic!("valid timestamps");
        };
        assert!(joined_sort_key(early, "b") < joined_sort_key(late, "a"));
    }
}
