//! The DynamoDB IAM actions each port's adapter calls, per capability.
//!
//! `template.yaml`'s function policies must grant every action of every
//! capability a function uses (on the table, or on the named index:
//! `${Table.Arn}/index/<name>`); a test checks the template against these
//! lists, so a new SDK call here means a new line there.
//!
//! `TransactWriteItems` is not an IAM action of its own: IAM checks each
//! write inside it as `PutItem`, `UpdateItem`, `DeleteItem` or
//! `ConditionCheckItem`. Every `Query` on an index needs the index's ARN.

use super::schema::{GSI_EMAIL, GSI_LICENSE, LSI_JOINED};

/// One IAM action on the table (`index: None`) or on one of its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub action: &'static str,
    pub index: Option<&'static str>,
}

const fn table(action: &'static str) -> Access {
    Access {
        action,
        index: None,
    }
}

const fn index(name: &'static str) -> Access {
    Access {
        action: "dynamodb:Query",
        index: Some(name),
    }
}

const GET: Access = table("dynamodb:GetItem");
const BATCH_GET: Access = table("dynamodb:BatchGetItem");
const PUT: Access = table("dynamodb:PutItem");
const UPDATE: Access = table("dynamodb:UpdateItem");
const DELETE: Access = table("dynamodb:DeleteItem");
const QUERY: Access = table("dynamodb:Query");

/// - `claim_context`: BatchGetItem (license, seat, counters).
/// - `claim`: TransactWriteItems of Put (seat, event) and Update (seat
///   counter; code use counter or invitation).
/// - `seat`: GetItem.
/// - `release_seat`: TransactWriteItems of Delete (seat), Update (counter),
///   Put (event).
pub const CLAIMS_ACTIONS: &[Access] = &[BATCH_GET, GET, PUT, UPDATE, DELETE];

/// - `code`: GetItem.
/// - `create_code`: TransactWriteItems of Put (code, counters, event).
/// - `license_codes`: Query on gsi2, BatchGetItem (use counters).
/// - `code_by_id`: Query on gsi2.
/// - `revoke_code`: TransactWriteItems of Update (code), Put (event).
pub const CODES_ACTIONS: &[Access] = &[GET, BATCH_GET, PUT, UPDATE, index(GSI_LICENSE)];

/// - `invitation`: GetItem.
/// - `create_invitation`: TransactWriteItems of Put (invitation, event).
/// - `pending_invitations`: Query on gsi1.
/// - `license_invitations`: Query on gsi2.
/// - `invitation_by_id`: Query on gsi2, then GetItem.
/// - `close_invitation`: TransactWriteItems of Update (invitation), Put
///   (event).
/// - `reissue_invitation`: TransactWriteItems of Delete (old invitation),
///   Put (new invitation, event).
pub const INVITATIONS_ACTIONS: &[Access] = &[
    GET,
    PUT,
    UPDATE,
    DELETE,
    index(GSI_EMAIL),
    index(GSI_LICENSE),
];

/// - `license`: GetItem.
/// - `licenses_with_usage`: BatchGetItem (licenses, seat counters).
/// - `create_license`: TransactWriteItems of Put (license, counters, admin
///   entries).
/// - `administered_licenses`: Query on the table (admin entries).
/// - `user_seats`: Query on lsi1.
/// - `license_seats`: Query on gsi2.
/// - `set_seats_total`: BatchGetItem (counters), TransactWriteItems of
///   Update (counters, license), Put (event).
pub const DIRECTORY_ACTIONS: &[Access] = &[
    GET,
    BATCH_GET,
    PUT,
    UPDATE,
    QUERY,
    index(LSI_JOINED),
    index(GSI_LICENSE),
];

/// - `events`: Query on the table (event partitions).
pub const AUDIT_ACTIONS: &[Access] = &[QUERY];

/// - `limit_window`: GetItem.
/// - `limit_hit`, `limit_acquire`: UpdateItem, PutItem (a new window).
/// - `limit_release`: UpdateItem.
pub const LIMITS_ACTIONS: &[Access] = &[GET, UPDATE, PUT];

/// Every capability by its trait's name.
pub const CAPABILITY_ACTIONS: &[(&str, &[Access])] = &[
    ("Claims", CLAIMS_ACTIONS),
    ("Codes", CODES_ACTIONS),
    ("Invitations", INVITATIONS_ACTIONS),
    ("Directory", DIRECTORY_ACTIONS),
    ("Audit", AUDIT_ACTIONS),
    ("Limits", LIMITS_ACTIONS),
];

/// `DynamoStore::ensure_table` (devserver, tests, `seatctl create-table`);
/// no Lambda function creates tables.
pub const TABLE_SETUP_ACTIONS: &[Access] = &[
    table("dynamodb:DescribeTable"),
    table("dynamodb:CreateTable"),
    table("dynamodb:UpdateTimeToLive"),
];
