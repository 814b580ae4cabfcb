//! Creating codes and invitations with their audit events: shared by the
//! admin use cases, the seed loader, the devserver demo and the tests.

use crate::domain::{
    CodeId, CodeRecord, DeliveryState, Email, Event, EventKind, HashKeys, InvitationId,
    InvitationRecord, InvitationStatus, InviteCode, InviteToken, LicenseId, Timestamp,
};
use crate::error::StoreResult;
use crate::store::{Codes, Invitations};

#[derive(Debug, Clone, Default)]
pub struct CodeOptions {
    pub max_uses: Option<u32>,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    pub note: Option<String>,
}

pub async fn add_code(
    store: &(impl Codes + ?Sized),
    keys: &HashKeys,
    license_id: &LicenseId,
    code: &InviteCode,
    options: CodeOptions,
    actor: &str,
    now: Timestamp,
) -> StoreResult<CodeRecord> {
    let record = CodeRecord {
        code_id: CodeId::time_ordered(now),
        code_hash: code.hash(keys),
        license_id: license_id.to_owned(),
        last4: code.last4().to_owned(),
        max_uses: options.max_uses,
        expires_at: options.expires_at,
        revoked: options.revoked,
        note: options.note,
        created_at: now,
    };
    let mut event = Event::new(license_id, EventKind::CodeCreated, actor, now);
    event.code_id = Some(record.code_id.clone());
    store.create_code(&record, &event).await?;
    Ok(record)
}

#[derive(Debug, Clone)]
pub struct InvitationOptions {
    pub email: Option<Email>,
    pub expires_at: Option<Timestamp>,
    pub valid_days: Option<u32>,
    pub status: InvitationStatus,
    pub invited_by: Option<String>,
    /// `Queued` for an email invitation the sender is to mail.
    pub delivery: Option<DeliveryState>,
}

impl Default for InvitationOptions {
    fn default() -> Self {
        Self {
            email: None,
            expires_at: None,
            valid_days: None,
            status: InvitationStatus::Pending,
            invited_by: None,
            delivery: None,
        }
    }
}

pub async fn add_invitation(
    store: &(impl Invitations + ?Sized),
    keys: &HashKeys,
    license_id: &LicenseId,
    token: &InviteToken,
    options: InvitationOptions,
    actor: &str,
    now: Timestamp,
) -> StoreResult<InvitationRecord> {
    let record = InvitationRecord {
        invitation_id: InvitationId::time_ordered(now),
        token_hash: token.hash(keys),
        license_id: license_id.to_owned(),
        email: options.email,
        status: options.status,
        expires_at: options.expires_at,
        created_at: now,
        valid_days: options.valid_days,
        invited_by: options.invited_by,
        delivery: options.delivery,
        delivery_at: options.delivery.map(|_| now),
    };
    let mut event = Event::new(license_id, EventKind::InvitationCreated, actor, now);
    event.invitation_id = Some(record.invitation_id.clone());
    store.create_invitation(&record, &event).await?;
    Ok(record)
}
