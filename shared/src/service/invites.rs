//! Invite URLs: preview, accept, decline.

use serde::Serialize;

use super::claim::{Claimed, Route, claim_seat};
use crate::App;
use crate::domain::{
    Caller, Event, EventKind, Invitation, InvitationRecord, InvitationStatus, InviteToken,
    LicenseRecord, LicenseSummary,
};
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub invitation: Invitation,
    pub license: LicenseSummary,
}

async fn find(app: &App, raw_token: &str) -> Result<(InvitationRecord, LicenseRecord), ApiError> {
    let token = InviteToken::parse(raw_token).ok_or(ApiError::InviteNotFound)?;
    let invitation = app
        .store
        .invitation(&token.hash())
        .await?
        .ok_or(ApiError::InviteNotFound)?;
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
    Ok(Preview {
        invitation: view_for(app, caller, &invitation, &license),
        license: license.summary(),
    })
}

pub async fn accept(app: &App, caller: &Caller, raw_token: &str) -> Result<Claimed, ApiError> {
    let (invitation, license) = find(app, raw_token).await?;
    let email = caller.verified_email()?;
    match invitation.status_at(app.now()) {
        InvitationStatus::Pending => {}
        // Someone following their own link again gets their seat back, not an error.
        _ if app
            .store
            .seat(&caller.user_id, &license.license_id)
            .await?
            .is_some() =>
        {
            return claim_seat(
                app,
                caller,
                email,
                &license.license_id,
                Route::Invitation(&invitation),
                None,
            )
            .await;
        }
        InvitationStatus::Expired => return Err(ApiError::InviteExpired),
        InvitationStatus::Revoked => return Err(ApiError::InviteRevoked),
        InvitationStatus::Accepted | InvitationStatus::Declined => {
            return Err(ApiError::InviteAlreadyUsed);
        }
    }
    if invitation
        .email
        .as_ref()
        .is_some_and(|bound| bound != email)
    {
        return Err(ApiError::InviteEmailMismatch);
    }
    claim_seat(
        app,
        caller,
        email,
        &license.license_id,
        Route::Invitation(&invitation),
        None,
    )
    .await
}

pub async fn decline(app: &App, caller: &Caller, raw_token: &str) -> Result<Invitation, ApiError> {
    let (invitation, license) = find(app, raw_token).await?;
    if let Some(bound) = &invitation.email
        && caller.verified_email()? != bound
    {
        return Err(ApiError::InviteEmailMismatch);
    }
    let mut event = Event::new(
        &license.license_id,
        EventKind::InvitationDeclined,
        &caller.user_id,
        app.now(),
    );
    event.invitation_id = Some(invitation.invitation_id.clone());
    if invitation.status_at(app.now()) != InvitationStatus::Pending
        || !app
            .store
            .close_invitation(&invitation, InvitationStatus::Declined, &event)
            .await?
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
