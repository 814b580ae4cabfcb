//! [`Invitations`] on DynamoDB: by token hash (table), pending by email
//! (gsi1), by license (gsi2), by license and status (gsi3).

use async_trait::async_trait;

use super::DynamoStore;
use super::items::{event_item, invitation_from, invitation_item, leave_pending, value};
use super::keys;
use super::query::{Query, SortKey};
use super::schema::{
    GSI_EMAIL, GSI_LICENSE, GSI_LOOKUP, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK,
};
use super::tx::{Expr, Guard, Tx};
use crate::domain::{
    DeliveryState, Email, Event, InvitationId, InvitationRecord, InvitationStatus, LicenseId,
    SecretHash, Timestamp,
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

/// The gsi3 partition of a license's invitations stored as `stored`.
fn invitations_in(license_id: &LicenseId, stored: InvitationStatus) -> Query {
    Query::index(
        GSI_LOOKUP,
        (GSI3PK, GSI3SK),
        keys::invitations_in(license_id, stored),
    )
}

/// An invitation's position in its status listing: its gsi3 sort key.
fn status_position(inv: &InvitationRecord) -> String {
    keys::invitation_in_status(inv.status, inv.expires_at, &inv.invitation_id)
}

fn empty<T>() -> Page<T> {
    Page {
        items: Vec::new(),
        next: None,
    }
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

    /// One query on one gsi3 partition. Pending and expired invitations
    /// share the pending partition, split at [`keys::expiry_boundary`].
    async fn license_invitations_by_status(
        &self,
        license_id: &LicenseId,
        status: InvitationStatus,
        now: Timestamp,
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>> {
        const OP: &str = "Query invitations by status";
        let after = after.map(PagePosition::as_str);
        let boundary = keys::expiry_boundary(now);
        let query = match status {
            InvitationStatus::Pending => {
                let pending = invitations_in(license_id, InvitationStatus::Pending);
                match after {
                    None => pending.sort_key(SortKey::Above(boundary)),
                    // Nothing still pending sorts below the boundary.
                    Some(after) if after <= boundary.as_str() => return Ok(empty()),
                    // BETWEEN includes `after`, which the last page held:
                    // one more item, and that one dropped.
                    Some(after) => {
                        let query = pending.sort_key(SortKey::Between(boundary, after.to_owned()));
                        let items = self
                            .query(OP, query, Some(limit + 2))
                            .await?
                            .into_iter()
                            .map(invitation_from)
                            .filter(|i| {
                                i.as_ref().map_or(true, |inv| status_position(inv) != after)
                            })
                            .take(limit + 1)
                            .collect::<Result<Vec<_>, _>>()?;
                        return Ok(Page::from_lookahead(items, limit, status_position));
                    }
                }
            }
            InvitationStatus::Expired => {
                let below = after
                    .filter(|a| *a < boundary.as_str())
                    .unwrap_or(&boundary);
                invitations_in(license_id, InvitationStatus::Pending)
                    .sort_key(SortKey::Below(below.to_owned()))
            }
            stored => invitations_in(license_id, stored).below_or(after, SortKey::Any),
        };
        self.query_page(OP, query, limit, invitation_from, status_position)
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
        let (update, expr) =
            leave_pending(&invitation.license_id, &invitation.invitation_id, status)?;
        let expr = expr.value(":pending", value(&InvitationStatus::Pending)?);
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

    async fn claim_delivery(
        &self,
        queued: &InvitationRecord,
        fresh: &InvitationRecord,
    ) -> StoreResult<Transition> {
        let expr = pending()?
            .name("#delivery", "delivery")
            .value(":queued", value(&DeliveryState::Queued)?);
        let fresh = invitation_item(fresh)?;
        let done = self
            .transact_guarded(
                "TransactWriteItems claim invitation delivery",
                Guard::AnyWrite,
                || {
                    Tx::new()
                        .delete(
                            &self.table,
                            &keys::invitation(&queued.token_hash),
                            "#status = :pending AND #delivery = :queued",
                            expr.clone(),
                        )
                        .create(&self.table, fresh.clone())
                },
            )
            .await?;
        Ok(transition(done))
    }

    async fn set_delivery(
        &self,
        invitation: &InvitationRecord,
        from: DeliveryState,
        to: DeliveryState,
        at: Timestamp,
    ) -> StoreResult<Transition> {
        let expr = Expr::default()
            .name("#delivery", "delivery")
            .name("#deliveryAt", "deliveryAt")
            .value(":from", value(&from)?)
            .value(":to", value(&to)?)
            .value(":at", value(&at)?);
        let done = self
            .transact_guarded(
                "TransactWriteItems invitation delivery",
                Guard::AnyWrite,
                || {
                    Tx::new().update(
                        &self.table,
                        &keys::invitation(&invitation.token_hash),
                        "SET #delivery = :to, #deliveryAt = :at",
                        "#delivery = :from",
                        expr.clone(),
                    )
                },
            )
            .await?;
        Ok(transition(done))
    }
}
