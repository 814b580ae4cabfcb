//! Invite URLs: preview, accept, decline.
//!
//! A preview never changes anything (mail scanners open every link); it
//! tells the invite page what Accept would answer, from the same checks
//! Accept makes.

use serde::Serialize;

use super::claim::{Claimed, Through, claim_seat};
use crate::App;
use crate::domain::{
    Caller, Event, EventKind, Invitation, InvitationId, InvitationRecord, InvitationStatus,
    InviteToken, JoinedVia, License, LicenseRecord,
};
use crate::error::ApiError;
use crate::store::Transition;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub invitation: Invitation,
    pub license: License,
    /// The inviter's display name; never an address.
    pub invited_by: Option<String>,
    pub viewer: Viewer,
}

/// The caller's side of an invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewer {
    /// The caller's own address, as their sign-in provider gave it.
    pub email: Option<String>,
    pub email_verified: bool,
    /// Holds a seat on the license.
    pub member: bool,
    pub joined_via: Option<JoinedVia>,
    /// Holds the seat through this very invitation.
    pub accepted_this: bool,
    /// The error code Accept would answer now; `None`: Accept succeeds (or,
    /// for a member, answers `alreadyMember`).
    pub blocker: Option<&'static str>,
}

/// An invitation and its license.
type Found = (InvitationRecord, LicenseRecord);

async fn find(app: &App, raw_token: &str) -> Result<Found, ApiError> {
    let token = InviteToken::parse(raw_token).ok_or(ApiError::InviteNotFound)?;
    // Under every accepted hashing key (more than one only while keys are
    // rotated).
    let mut invitation = None;
    for hash in token.hashes(&app.config.hash_keys) {
        invitation = app.store.invitation(&hash).await?;
        if invitation.is_some() {
            break;
        }
    }
    let invitation = invitation.ok_or(ApiError::InviteNotFound)?;
    let license = app
        .store
        .license(&invitation.license_id)
        .await?
        .ok_or(ApiError::InviteNotFound)?;
    Ok((invitation, license))
}

/// The invitation as `caller` may see it: the invitee's address in full only
/// to the invitee (verified) and to the license's admins.
fn view_for(
    app: &App,
    caller: &Caller,
    invitation: &InvitationRecord,
    license: &LicenseRecord,
) -> Invitation {
    let viewer = caller.verified_email().ok();
    let is_admin = license.role_of(&caller.user_id) != crate::domain::Role::Member;
    invitation.view(app.now(), viewer, is_admin)
}

pub async fn preview(app: &App, caller: &Caller, raw_token: &str) -> Result<Preview, ApiError> {
    let (invitation, license) = find(app, raw_token).await?;
    let ctx = app
        .store
        .claim_context(&license.license_id, &caller.user_id, None, false)
        .await?;
    let seats_used: u32 = ctx.seat_counters.iter().map(|c| c.used).sum();
    let seats_free: u32 = ctx.seat_counters.iter().map(|c| c.free()).sum();
    let now = app.now();
    // The order of `accept` and `claim_seat`: a member gets their seat
    // back from any invitation of the license not bound to someone else.
    let member = ctx.seat.is_some();
    let blocker = match caller.verified_email() {
        Err(err) => Some(err),
        Ok(email) => match invitation.refusal(email, now) {
            Some(ApiError::InviteEmailMismatch) => Some(ApiError::InviteEmailMismatch),
            Some(_) | None if member => None,
            Some(refusal) => Some(refusal),
            None => license
                .refusal(email, now)
                .or((seats_free == 0).then_some(ApiError::NoSeatsAvailable)),
        },
    };
    Ok(Preview {
        invitation: view_for(app, caller, &invitation, &license),
        license: license.view(seats_used),
        invited_by: invitation.invited_by.clone(),
        viewer: Viewer {
            email: caller.email.as_ref().map(|e| e.as_str().to_owned()),
            email_verified: caller.email_verified,
            member,
            joined_via: ctx.seat.as_ref().map(|s| s.joined_via),
            accepted_this: ctx
                .seat
                .as_ref()
                .is_some_and(|s| s.via_id == invitation.invitation_id.as_str()),
            blocker: blocker.map(|err| err.code()),
        },
    })
}

/// One of the caller's own pending email invitations, by id (the "My
/// Invitations" list shows them without their URLs, whose tokens are only
/// stored hashed).
async fn find_mine(
    app: &App,
    caller: &Caller,
    invitation_id: &InvitationId,
) -> Result<Found, ApiError> {
    let email = caller.verified_email()?;
    let invitation = app
        .store
        .pending_invitations(email)
        .await?
        .into_iter()
        .find(|inv| inv.invitation_id == *invitation_id)
        .ok_or(ApiError::InviteNotFound)?;
    let license = app
        .store
        .license(&invitation.license_id)
        .await?
        .ok_or(ApiError::InviteNotFound)?;
    Ok((invitation, license))
}

pub async fn accept(app: &App, caller: &Caller, raw_token: &str) -> Result<Claimed, ApiError> {
    accept_found(app, caller, find(app, raw_token).await?).await
}

/// Accepts one of the caller's pending email invitations from "My Invitations".
pub async fn accept_mine(
    app: &App,
    caller: &Caller,
    invitation_id: &InvitationId,
) -> Result<Claimed, ApiError> {
    accept_found(app, caller, find_mine(app, caller, invitation_id).await?).await
}

async fn accept_found(
    app: &App,
    caller: &Caller,
    (invitation, license): Found,
) -> Result<Claimed, ApiError> {
    let email = caller.verified_email()?;
    if let Some(refusal) = invitation.refusal(email, app.now()) {
        let member = app
            .store
            .seat(&caller.user_id, &license.license_id)
            .await?
            .is_some();
        // Someone following their own link again gets their seat back, not
        // an error; a pending invitation bound to another address stays theirs.
        if !member || refusal == ApiError::InviteEmailMismatch {
            return Err(refusal);
        }
    }
    claim_seat(
        app,
        caller,
        email,
        &license.license_id,
        Through::Invitation(&invitation),
        None,
        &mut None,
    )
    .await
    .map_err(|refusal| refusal.error)
}

pub async fn decline(app: &App, caller: &Caller, raw_token: &str) -> Result<Invitation, ApiError> {
    decline_found(app, caller, find(app, raw_token).await?).await
}

/// Declines one of the caller's pending email invitations from "My Invitations".
pub async fn decline_mine(
    app: &App,
    caller: &Caller,
    invitation_id: &InvitationId,
) -> Result<Invitation, ApiError> {
    decline_found(app, caller, find_mine(app, caller, invitation_id).await?).await
}

async fn decline_found(
    app: &App,
    caller: &Caller,
    (invitation, license): Found,
) -> Result<Invitation, ApiError> {
    if let Some(bound) = &invitation.email
        && caller.verified_email()? != bound
    {
        return Err(ApiError::InviteEmailMismatch);
    }
    let mut event = Event::by(
        caller,
        &license.license_id,
        EventKind::InvitationDeclined,
        app.now(),
    );
    event.invitation_id = Some(invitation.invitation_id.clone());
    if invitation.status_at(app.now()) != InvitationStatus::Pending
        || app
            .store
            .close_invitation(&invitation, InvitationStatus::Declined, &event)
            .await?
            == Transition::NotPending
    {
        return Err(ApiError::InviteAlreadyUsed);
    }
    tracing::info!(invitation_id = %invitation.invitation_id, "invitation declined");
    let declined = InvitationRecord {
        status: InvitationStatus::Declined,
        ..invitation
    };
    Ok(view_for(app, caller, &declined, &license))
}
