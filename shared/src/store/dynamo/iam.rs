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

use super::schema::{GSI_EMAIL, GSI_LICENSE, GSI_LOOKUP, LSI_JOINED};

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
///   counter; code use counter or invitation; the guard's refund).
/// - `seat`: GetItem.
/// - `release_seat`: TransactWriteItems of Delete (seat), Update (counter),
///   Put (event, departure).
/// - `departed_at`: GetItem.
pub const CLAIMS_ACTIONS: &[Access] = &[BATCH_GET, GET, PUT, UPDATE, DELETE];

/// - `code`: GetItem.
/// - `create_code`: TransactWriteItems of Put (code, counters, event).
/// - `license_codes`: Query on gsi2 (one page), BatchGetItem (that page's
///   use counters).
/// - `code_by_id`: Query on gsi2.
/// - `revoke_code`: TransactWriteItems of Update (code), Put (event).
pub const CODES_ACTIONS: &[Access] = &[GET, BATCH_GET, PUT, UPDATE, index(GSI_LICENSE)];

/// - `invitation`: GetItem.
/// - `create_invitation`: TransactWriteItems of Put (invitation, event).
/// - `pending_invitations`: Query on gsi1.
/// - `license_invitations`: Query on gsi2.
/// - `license_invitations_by_status`: Query on gsi3.
/// - `invitation_by_id`: Query on gsi2, then GetItem.
/// - `close_invitation`: TransactWriteItems of Update (invitation), Put
///   (event).
/// - `reissue_invitation`: TransactWriteItems of Delete (old invitation),
///   Put (new invitation, event).
/// - `claim_delivery`: TransactWriteItems of Delete (queued invitation),
///   Put (claimed invitation).
/// - `set_delivery`: TransactWriteItems of Update (invitation).
pub const INVITATIONS_ACTIONS: &[Access] = &[
    GET,
    PUT,
    UPDATE,
    DELETE,
    index(GSI_EMAIL),
    index(GSI_LICENSE),
    index(GSI_LOOKUP),
];

/// - `license`: GetItem.
/// - `licenses_with_usage`: BatchGetItem (licenses, seat counters).
/// - `create_license`: TransactWriteItems of Put (license, counters, admin
///   entries).
/// - `administered_licenses`: Query on the table (admin entries).
/// - `user_seats`: Query on lsi1.
/// - `members_among`: Query on gsi3 (one per address).
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
    index(GSI_LOOKUP),
];

/// - `events`: Query on the table (event partitions).
pub const AUDIT_ACTIONS: &[Access] = &[QUERY];

/// - `record_turned_away`: UpdateItem (two, side by side).
/// - `turned_away`: Query on the table (demand partitions).
/// - `seat_waits`, `seated_among`: BatchGetItem.
pub const DEMAND_ACTIONS: &[Access] = &[UPDATE, QUERY, BATCH_GET];

/// - `limit_acquire`: UpdateItem, PutItem (a new window).
/// - `limit_release`: UpdateItem.
pub const LIMITS_ACTIONS: &[Access] = &[UPDATE, PUT];

/// - `suppression`: GetItem.
/// - `suppress`: PutItem.
pub const SUPPRESSIONS_ACTIONS: &[Access] = &[GET, PUT];

/// Every capability by its trait's name.
pub const CAPABILITY_ACTIONS: &[(&str, &[Access])] = &[
    ("Claims", CLAIMS_ACTIONS),
    ("Codes", CODES_ACTIONS),
    ("Invitations", INVITATIONS_ACTIONS),
    ("Directory", DIRECTORY_ACTIONS),
    ("Audit", AUDIT_ACTIONS),
    ("Demand", DEMAND_ACTIONS),
    ("Limits", LIMITS_ACTIONS),
    ("Suppressions", SUPPRESSIONS_ACTIONS),
];

/// Every port method with the actions it calls, for policies finer than a
/// whole capability: a function that never frees a seat needs no
/// `DeleteItem`. Each capability's list above is the union of its methods'.
pub const METHOD_ACTIONS: &[(&str, &[Access])] = &[
    // Claims
    ("claim_context", &[BATCH_GET]),
    ("claim", &[PUT, UPDATE]),
    ("seat", &[GET]),
    ("release_seat", &[DELETE, UPDATE, PUT]),
    ("departed_at", &[GET]),
    // Codes
    ("code", &[GET]),
    ("create_code", &[PUT]),
    ("license_codes", &[index(GSI_LICENSE), BATCH_GET]),
    ("code_by_id", &[index(GSI_LICENSE), GET]),
    ("revoke_code", &[UPDATE, PUT]),
    // Invitations
    ("invitation", &[GET]),
    ("create_invitation", &[PUT]),
    ("pending_invitations", &[index(GSI_EMAIL)]),
    ("license_invitations", &[index(GSI_LICENSE)]),
    ("license_invitations_by_status", &[index(GSI_LOOKUP)]),
    ("invitation_by_id", &[index(GSI_LICENSE), GET]),
    ("close_invitation", &[UPDATE, PUT]),
    ("reissue_invitation", &[DELETE, PUT]),
    ("claim_delivery", &[DELETE, PUT]),
    ("set_delivery", &[UPDATE]),
    // Directory
    ("license", &[GET]),
    ("licenses_with_usage", &[BATCH_GET]),
    ("create_license", &[PUT]),
    ("administered_licenses", &[QUERY]),
    ("user_seats", &[index(LSI_JOINED)]),
    ("members_among", &[index(GSI_LOOKUP)]),
    ("license_seats", &[index(GSI_LICENSE)]),
    ("set_seats_total", &[BATCH_GET, UPDATE, PUT]),
    // Audit
    ("events", &[QUERY]),
    // Demand
    ("record_turned_away", &[UPDATE]),
    ("turned_away", &[QUERY]),
    ("seat_waits", &[BATCH_GET]),
    ("seated_among", &[BATCH_GET]),
    // Limits
    ("limit_acquire", &[UPDATE, PUT]),
    ("limit_release", &[UPDATE]),
    // Suppressions
    ("suppression", &[GET]),
    ("suppress", &[PUT]),
];

/// The actions of the port methods `methods`, each once.
pub fn actions_of(methods: &[&str]) -> Vec<Access> {
    let mut all: Vec<Access> = Vec::new();
    for method in methods {
        let (_, accesses) = METHOD_ACTIONS
            .iter()
            .find(|(name, _)| name == method)
            .unwrap_or_else(|| panic!("no port method {method:?}"));
        for access in *accesses {
            if !all.contains(access) {
                all.push(*access);
            }
        }
    }
    all
}

/// The table partition-key prefixes (`dynamodb:LeadingKeys`) each port
/// method reads or writes by key on the table itself (GetItem, BatchGetItem,
/// the writes inside TransactWriteItems, Query on the table). Index queries
/// are not listed: their grants name the index ARN. A function's table
/// statement may be limited to the union of its methods' prefixes
/// ([`leading_keys_of`]); the key formats are in `keys.rs`.
pub const METHOD_PARTITIONS: &[(&str, &[&str])] = &[
    // Claims: license + seat counters (LIC#), the seat (USER#), code use
    // counters (CODE#), the invitation taken (INV#), the event (EVENTS#).
    ("claim_context", &["LIC#", "USER#", "CODE#"]),
    // The guard refund a claim may carry is `limit_release`'s write (LIMIT#),
    // and only a function that may call `limit_release` passes one.
    ("claim", &["USER#", "EVENTS#", "LIC#", "CODE#", "INV#"]),
    ("seat", &["USER#"]),
    ("release_seat", &["USER#", "LIC#", "EVENTS#"]),
    ("departed_at", &["USER#"]),
    // Codes
    ("code", &["CODE#"]),
    ("create_code", &["CODE#", "EVENTS#"]),
    ("license_codes", &["CODE#"]),
    ("code_by_id", &["CODE#"]),
    ("revoke_code", &["CODE#", "EVENTS#"]),
    // Invitations
    ("invitation", &["INV#"]),
    ("create_invitation", &["INV#", "EVENTS#"]),
    ("pending_invitations", &[]),
    ("license_invitations", &[]),
    ("license_invitations_by_status", &[]),
    ("invitation_by_id", &["INV#"]),
    ("close_invitation", &["INV#", "EVENTS#"]),
    ("reissue_invitation", &["INV#", "EVENTS#"]),
    ("claim_delivery", &["INV#"]),
    ("set_delivery", &["INV#"]),
    // Directory
    ("license", &["LIC#"]),
    ("licenses_with_usage", &["LIC#"]),
    ("create_license", &["LIC#", "USER#"]),
    ("administered_licenses", &["USER#"]),
    ("user_seats", &[]),
    ("license_seats", &[]),
    ("members_among", &[]),
    ("set_seats_total", &["LIC#", "EVENTS#"]),
    // Audit
    ("events", &["EVENTS#"]),
    // Demand: the student's partition; the seat counter shards (LIC#); seats (USER#).
    ("record_turned_away", &["DEMAND#"]),
    ("turned_away", &["DEMAND#"]),
    ("seat_waits", &["LIC#"]),
    ("seated_among", &["USER#"]),
    // Limits
    ("limit_acquire", &["LIMIT#"]),
    ("limit_release", &["LIMIT#"]),
    // Suppressions
    ("suppression", &["SUPPRESSED#"]),
    ("suppress", &["SUPPRESSED#"]),
];

/// The partition-key prefixes the port methods `methods` touch on the
/// table, each once, sorted.
pub fn leading_keys_of(methods: &[&str]) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    for method in methods {
        let (_, prefixes) = METHOD_PARTITIONS
            .iter()
            .find(|(name, _)| name == method)
            .unwrap_or_else(|| panic!("no partition list for port method {method:?}"));
        for prefix in *prefixes {
            if !all.contains(prefix) {
                all.push(prefix);
            }
        }
    }
    all.sort_unstable();
    all
}

/// `DynamoStore::ensure_table` (devserver, tests, `seatctl create-table`);
/// no Lambda function creates tables.
pub const TABLE_SETUP_ACTIONS: &[Access] = &[
    table("dynamodb:DescribeTable"),
    table("dynamodb:CreateTable"),
    table("dynamodb:UpdateTimeToLive"),
];

/// `DynamoStore::backfill_lookup_keys` (`seatctl backfill-lookup-keys`) and
/// `DynamoStore::import_unchecked` (load tests); no Lambda function runs
/// them.
pub const MAINTENANCE_ACTIONS: &[Access] = &[
    table("dynamodb:Scan"),
    table("dynamodb:UpdateItem"),
    table("dynamodb:BatchWriteItem"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_with_table_access_names_its_partitions() {
        for (method, accesses) in METHOD_ACTIONS {
            let on_table = accesses.iter().any(|a| a.index.is_none());
            let partitions = leading_keys_of(&[method]);
            assert_eq!(
                on_table,
                !partitions.is_empty(),
                "{method}: table access and partition prefixes disagree"
            );
        }
        assert_eq!(METHOD_ACTIONS.len(), METHOD_PARTITIONS.len());
    }

    #[test]
    fn each_capability_is_the_union_of_its_methods() {
        let groups: &[(&[Access], &[&str])] = &[
            (
                CLAIMS_ACTIONS,
                &[
                    "claim_context",
                    "claim",
                    "seat",
                    "release_seat",
                    "departed_at",
                ],
            ),
            (
                CODES_ACTIONS,
                &[
                    "code",
                    "create_code",
                    "license_codes",
                    "code_by_id",
                    "revoke_code",
                ],
            ),
            (
                INVITATIONS_ACTIONS,
                &[
                    "invitation",
                    "create_invitation",
                    "pending_invitations",
                    "license_invitations",
                    "license_invitations_by_status",
                    "invitation_by_id",
                    "close_invitation",
                    "reissue_invitation",
                    "claim_delivery",
                    "set_delivery",
                ],
            ),
            (
                DIRECTORY_ACTIONS,
                &[
                    "license",
                    "licenses_with_usage",
                    "create_license",
                    "administered_licenses",
                    "user_seats",
                    "members_among",
                    "license_seats",
                    "set_seats_total",
                ],
            ),
            (AUDIT_ACTIONS, &["events"]),
            (
                DEMAND_ACTIONS,
                &[
                    "record_turned_away",
                    "turned_away",
                    "seat_waits",
                    "seated_among",
                ],
            ),
            (LIMITS_ACTIONS, &["limit_acquire", "limit_release"]),
            (SUPPRESSIONS_ACTIONS, &["suppression", "suppress"]),
        ];
        for (capability, methods) in groups {
            let mut union = actions_of(methods);
            let mut listed = capability.to_vec();
            let key = |a: &Access| (a.action, a.index);
            union.sort_by_key(key);
            listed.sort_by_key(key);
            assert_eq!(union, listed, "{methods:?}");
        }
        assert_eq!(METHOD_ACTIONS.len(), 37, "every port method is listed");
    }
}
