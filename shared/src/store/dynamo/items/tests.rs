//! The stored item formats, attribute by attribute: what is in existing
//! tables must keep reading back, and new items must look the same.

use serde_json::{Value, json};

use super::*;
use crate::domain::{EventKind, InvitationStatus};

const AT: &str = "2026-09-01T08:00:00Z";

fn at() -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(AT)
        .expect("a timestamp")
        .to_utc()
}

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("an address")
}

fn as_json(item: Item) -> Value {
    serde_dynamo::from_item(item).expect("an item")
}

fn invitation(status: InvitationStatus) -> InvitationRecord {
    InvitationRecord {
        invitation_id: "inv_1".into(),
        token_hash: SecretHash::from_stored("ab12".into()),
        license_id: "l1".into(),
        email: Some(email("bob@demo.edu")),
        status,
        expires_at: None,
        created_at: at(),
        valid_days: Some(14),
        invited_by: None,
        delivery: None,
        delivery_at: None,
    }
}

#[test]
fn a_pending_invitation_is_in_both_indexes() {
    let item = invitation_item(&invitation(InvitationStatus::Pending)).expect("encoded");
    assert_eq!(
        as_json(item.clone()),
        json!({
            "pk": "INV#ab12", "sk": "INVITATION",
            "invitationId": "inv_1", "tokenHash": "ab12", "licenseId": "l1",
            "email": "bob@demo.edu", "status": "pending", "expiresAt": null,
            "createdAt": AT, "validDays": 14,
            "gsi1pk": "EMAIL#bob@demo.edu", "gsi1sk": "inv_1",
            "gsi2pk": "INVS#l1", "gsi2sk": "inv_1",
            "gsi3pk": "INVS#l1#pending", "gsi3sk": "~#inv_1",
        })
    );
    assert_eq!(
        invitation_from(item).expect("decoded"),
        invitation(InvitationStatus::Pending)
    );
}

#[test]
fn a_closed_invitation_leaves_the_pending_index() {
    let item = invitation_item(&invitation(InvitationStatus::Revoked)).expect("encoded");
    assert!(!item.contains_key("gsi1pk") && !item.contains_key("gsi1sk"));
    let (update, _) =
        leave_pending(&"l1".into(), &"inv_1".into(), InvitationStatus::Revoked).expect("an update");
    assert_eq!(
        update,
        "SET #status = :to, gsi3pk = :gsi3pk, gsi3sk = :gsi3sk REMOVE gsi1pk, gsi1sk"
    );
    let item = as_json(item);
    assert_eq!(item["status"], "revoked");
    assert_eq!(
        (&item["gsi3pk"], &item["gsi3sk"]),
        (&json!("INVS#l1#revoked"), &json!("inv_1"))
    );
    assert_eq!(
        value(&InvitationStatus::Accepted).ok(),
        Some(AttributeValue::S("accepted".into()))
    );
}

#[test]
fn a_seat_carries_its_join_time_keys() {
    let seat = SeatRecord {
        license_id: "l1".into(),
        user_id: "ann".into(),
        email: email("ann@demo.edu"),
        joined_at: at(),
        joined_via: JoinedVia::Code,
        via_id: "code_1".into(),
        shard: 3,
        claim_id: Some("c0ffee".into()),
    };
    let item = seat_item(&seat).expect("encoded");
    assert_eq!(
        as_json(item.clone()),
        json!({
            "pk": "USER#ann", "sk": "SEAT#l1",
            "licenseId": "l1", "userId": "ann", "email": "ann@demo.edu",
            "joinedAt": AT, "joinedVia": "code", "viaId": "code_1", "shard": 3,
            "claimId": "c0ffee", "lsi1sk": "SEAT#2026-09-01T08:00:00.000Z#l1",
            "gsi2pk": "SEATS#l1#3", "gsi2sk": "2026-09-01T08:00:00.000Z#ann",
            "gsi3pk": "MEMBER#l1#ann@demo.edu", "gsi3sk": "ann",
        })
    );
    assert_eq!(seat_from(item).expect("decoded"), seat);
}

#[test]
fn codes_counters_events_and_windows_keep_their_formats() {
    let code = CodeRecord {
        code_id: "code_1".into(),
        code_hash: SecretHash::from_stored("ab12".into()),
        license_id: "l1".into(),
        last4: "4HCD".into(),
        max_uses: None,
        expires_at: None,
        revoked: false,
        note: None,
        created_at: at(),
    };
    assert_eq!(
        as_json(code_item(&code).expect("encoded")),
        json!({
            "pk": "CODE#ab12", "sk": "CODE", "codeId": "code_1", "codeHash": "ab12",
            "licenseId": "l1", "last4": "4HCD", "maxUses": null, "expiresAt": null,
            "revoked": false, "note": null, "createdAt": AT,
            "gsi2pk": "CODES#l1", "gsi2sk": "code_1",
        })
    );
    assert_eq!(
        as_json(counter_item(&keys::use_counter(&"code_1".into(), 2), None).expect("encoded")),
        json!({"pk": "CODE#code_1#USES#2", "sk": "COUNTER", "used": 0})
    );
    assert_eq!(
        as_json(counter_item(&keys::seat_counter(&"l1".into(), 2), Some(4)).expect("encoded")),
        json!({"pk": "LIC#l1#SEATS#2", "sk": "COUNTER", "cap": 4, "used": 0})
    );
    let mut event = Event::new(&"l1".into(), EventKind::SeatClaimed, "ann", at());
    event.event_id = "evt_1".into();
    event.shard = 5;
    assert_eq!(
        as_json(event_item(&event).expect("encoded")),
        json!({
            "pk": "EVENTS#l1#5", "sk": "evt_1", "eventId": "evt_1", "licenseId": "l1",
            "at": AT, "type": "seatClaimed", "actor": "ann", "userId": null,
            "codeId": null, "invitationId": null, "detail": null,
        })
    );
    assert_eq!(
        as_json(limit_item("redeem#ann", 100, 400).expect("encoded")),
        json!({"pk": "LIMIT#redeem#ann", "sk": "LIMIT", "start": 100, "count": 1, "ttl": 400})
    );
    assert_eq!(
        as_json(admin_item(&"ann".into(), &"l1".into()).expect("encoded")),
        json!({"pk": "USER#ann", "sk": "ADMIN#l1", "licenseId": "l1"})
    );
}

#[test]
fn a_suppression_stores_only_the_address_hash() {
    let suppression = Suppression {
        address: email("bob@demo.edu").hash(),
        reason: SuppressionReason::Complaint,
        at: at(),
    };
    let hash = suppression.address.as_str().to_owned();
    let item = suppression_item(&suppression).expect("encoded");
    assert_eq!(
        as_json(item.clone()),
        json!({
            "pk": format!("SUPPRESSED#{hash}"), "sk": "SUPPRESSED",
            "address": hash, "reason": "complaint", "at": AT,
        })
    );
    assert_eq!(suppression_from(item).expect("decoded"), suppression);
}
