//! [`Invitations`] in memory.

use async_trait::async_trait;

use super::{MemoryStore, newest_first, sortable};
use crate::domain::{
    DeliveryState, Email, Event, InvitationId, InvitationRecord, InvitationStatus, LicenseId,
    SecretHash, Timestamp,
};
use crate::error::{StoreError, StoreResult};
use crate::store::{Invitations, Page, Paging, Transition};

#[async_trait]
impl Invitations for MemoryStore {
    async fn invitation(&self, hash: &SecretHash) -> StoreResult<Option<InvitationRecord>> {
        Ok(self.lock().invitations.get(hash).cloned())
    }

    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<()> {
        let mut state = self.lock();
        if state.invitations.contains_key(&invitation.token_hash) {
            return Err(StoreError::AlreadyExists(
                invitation.invitation_id.to_string(),
            ));
        }
        state
            .invitations
            .insert(invitation.token_hash.clone(), invitation.clone());
        state.events.push(event.clone());
        Ok(())
    }

    async fn pending_invitations(&self, email: &Email) -> StoreResult<Vec<InvitationRecord>> {
        let state = self.lock();
        let mut found: Vec<InvitationRecord> = state
            .invitations
            .values()
            .filter(|i| i.status == InvitationStatus::Pending && i.email.as_ref() == Some(email))
            .cloned()
            .collect();
        found.sort_by_key(|inv| std::cmp::Reverse(inv.created_at));
        Ok(found)
    }

    async fn license_invitations(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>> {
        let state = self.lock();
        let items = state
            .invitations
            .values()
            .filter(|i| i.license_id == *license_id)
            .map(|i| (i.invitation_id.to_string(), i.clone()))
            .collect();
        Ok(newest_first(items, paging))
    }

    async fn license_invitations_by_status(
        &self,
        license_id: &LicenseId,
        status: InvitationStatus,
        now: Timestamp,
        paging: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>> {
        let state = self.lock();
        let items = state
            .invitations
            .values()
            .filter(|i| i.license_id == *license_id && i.status_at(now) == status)
            .map(|i| (status_position(i), i.clone()))
            .collect();
        Ok(newest_first(items, paging))
    }

    async fn invitation_by_id(
        &self,
        license_id: &LicenseId,
        invitation_id: &InvitationId,
    ) -> StoreResult<Option<InvitationRecord>> {
        Ok(self
            .lock()
            .invitations
            .values()
            .find(|i| i.license_id == *license_id && i.invitation_id == *invitation_id)
            .cloned())
    }

    async fn close_invitation(
        &self,
        invitation: &InvitationRecord,
        status: InvitationStatus,
        event: &Event,
    ) -> StoreResult<Transition> {
        let mut state = self.lock();
        match state.invitations.get_mut(&invitation.token_hash) {
            Some(stored) if stored.status == InvitationStatus::Pending => {
                stored.status = status;
                state.events.push(event.clone());
                Ok(Transition::Done)
            }
            _ => Ok(Transition::NotPending),
        }
    }

    async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        fresh: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<Transition> {
        let mut state = self.lock();
        let pending = state
            .invitations
            .get(&old.token_hash)
            .is_some_and(|i| i.status == InvitationStatus::Pending);
        if !pending || state.invitations.contains_key(&fresh.token_hash) {
            return Ok(Transition::NotPending);
        }
        state.invitations.remove(&old.token_hash);
        state
            .invitations
            .insert(fresh.token_hash.clone(), fresh.clone());
        state.events.push(event.clone());
        Ok(Transition::Done)
    }

    async fn claim_delivery(
        &self,
        queued: &InvitationRecord,
        fresh: &InvitationRecord,
    ) -> StoreResult<Transition> {
        let mut state = self.lock();
        let claimable = state.invitations.get(&queued.token_hash).is_some_and(|i| {
            i.status == InvitationStatus::Pending && i.delivery == Some(DeliveryState::Queued)
        });
        if !claimable || state.invitations.contains_key(&fresh.token_hash) {
            return Ok(Transition::NotPending);
        }
        state.invitations.remove(&queued.token_hash);
        state
            .invitations
            .insert(fresh.token_hash.clone(), fresh.clone());
        Ok(Transition::Done)
    }

    async fn set_delivery(
        &self,
        invitation: &InvitationRecord,
        from: DeliveryState,
        to: DeliveryState,
        at: Timestamp,
    ) -> StoreResult<Transition> {
        let mut state = self.lock();
        match state.invitations.get_mut(&invitation.token_hash) {
            Some(stored) if stored.delivery == Some(from) => {
                stored.delivery = Some(to);
                stored.delivery_at = Some(at);
                Ok(Transition::Done)
            }
            _ => Ok(Transition::NotPending),
        }
    }
}

/// The order of a status listing, as the DynamoDB adapter keeps it: pending
/// (and expired) by expiry then id, never-expiring last (`~`); others by id.
fn status_position(i: &InvitationRecord) -> String {
    match i.status {
        InvitationStatus::Pending => format!(
            "{}#{}",
            i.expires_at.map_or_else(|| "~".to_owned(), sortable),
            i.invitation_id
        ),
        _ => i.invitation_id.to_string(),
    }
}
