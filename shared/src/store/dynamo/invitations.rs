//! [`Invitations`] on DynamoDB: by token hash (table), pending by email
//! (gsi1), by license (gsi2).

use async_trait::async_trait;

use super::DynamoStore;
use super::items::{event_item, invitation_from, invitation_item, leave_pending, value};
use super::keys;
use super::query::{Query, SortKey};
use super::schema::{GSI_EMAIL, GSI_LICENSE, GSI1PK, GSI1SK, GSI2PK, GSI2SK};
use super::tx::{Expr, Guard, Tx};
use crate::domain::{
    Email, Event, InvitationId, InvitationRecord, InvitationStatus, LicenseId, SecretHash,
};
use crate::error::{StoreError, StoreResult};
use crate::store::{Invitations, Page, PagePosition, Paging, Transition};

fn invitations_of(license_id: &LicenseId) -> Query {
    Query::index(
        GSI_LICENSE,
        (GSI2PK, GSI2SK),
        keys::invitations_of(license_id),
    )
}

fn transition(done: bool) -> Transition {
    if done {
        Transition::Done
    } else {
        Transition::NotPending
    }
}

/// `#status = :pending`, with its name and value.
fn pending() -> StoreResult<Expr> {
    Ok(Expr::default()
        .name("#status", "status")
        .value(":pending", value(&InvitationStatus::Pending)?))
}

#[async_trait]
impl Invitations for DynamoStore {
    async fn invitation(&self, hash: &SecretHash) -> StoreResult<Option<InvitationRecord>> {
        self.get("GetItem invitation", &keys::invitation(hash), true)
            .await?
            .map(invitation_from)
            .transpose()
    }

    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<()> {
        let items = vec![invitation_item(invitation)?, event_item(event)?];
        self.create_all(
            "TransactWriteItems create invitation",
            items,
            invitation.invitation_id.as_str(),
        )
        .await
    }

    async fn pending_invitations(&self, email: &Email) -> StoreResult<Vec<InvitationRecord>> {
        let query = Query::index(GSI_EMAIL, (GSI1PK, GSI1SK), keys::pending_for(email));
        let mut found = Vec::new();
        for item in self.query("Query invitations", query, None).await? {
            let invitation = invitation_from(item)?;
            // The index lags: an invitation may have left pending already.
            if invitation.status == InvitationStatus::Pending {
                found.push(invitation);
            }
        }
        Ok(found)
    }

    async fn license_invitations(
        &self,
        license_id: &LicenseId,
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>> {
        let query =
            invitations_of(license_id).below_or(after.map(PagePosition::as_str), SortKey::Any);
        self.query_page("Query invitations", query, limit, invitation_from, |i| {
            i.invitation_id.to_string()
        })
        .await
    }

    async fn invitation_by_id(
        &self,
        license_id: &LicenseId,
        invitation_id: &InvitationId,
    ) -> StoreResult<Option<InvitationRecord>> {
        let query = invitations_of(license_id).sort_key(SortKey::Equals(invitation_id.to_string()));
        let Some(item) = self
            .query("Query invitation", query, Some(1))
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        // The index lags; the item itself is the truth.
        self.invitation(&invitation_from(item)?.token_hash).await
    }

    async fn close_invitation(
        &self,
        invitation: &InvitationRecord,
        status: InvitationStatus,
        event: &Event,
    ) -> StoreResult<Transition> {
        if !matches!(
            status,
            InvitationStatus::Declined | InvitationStatus::Revoked
        ) {
            return Err(StoreError::internal(
                "close invitation",
                format!("cannot close an invitation as {status:?}"),
            ));
        }
        let update = leave_pending(":closed");
        let expr = pending()?.value(":closed", value(&status)?);
        let event = event_item(event)?;
        let done = self
            .transact_guarded(
                "TransactWriteItems close invitation",
                Guard::AnyWrite,
                || {
                    Tx::new()
                        .update(
                            &self.table,
                            &keys::invitation(&invitation.token_hash),
                            &update,
                            "#status = :pending",
                            expr.clone(),
                        )
                        .create(&self.table, event.clone())
                },
            )
            .await?;
        Ok(transition(done))
    }

    async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        fresh: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<Transition> {
        let expr = pending()?;
        let (fresh, event) = (invitation_item(fresh)?, event_item(event)?);
        let done = self
            .transact_guarded(
                "TransactWriteItems reissue invitation",
                Guard::AnyWrite,
                || {
                    Tx::new()
                        .delete(
                            &self.table,
                            &keys::invitation(&old.token_hash),
                            "#status = :pending",
                            expr.clone(),
                        )
                        .create(&self.table, fresh.clone())
                        .create(&self.table, event.clone())
                },
            )
            .await?;
        Ok(transition(done))
    }
}
