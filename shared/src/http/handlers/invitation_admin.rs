//! Function `invitation-admin`: the admin routes of invitations (the only
//! admin function that sends email).

use http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

use crate::App;
use crate::domain::{Caller, InvitationId, InvitationStatus, LicenseId};
use crate::error::ApiError;
use crate::http::extract::{Paging, optional_json_body, paging, query, whole_number};
use crate::http::response::{
    self, InvitationOutcomesBody, InvitationsPage, Reply, json, listing, no_content,
};
use crate::service::admin;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InvitationsBody {
    #[serde(default)]
    emails: Option<Vec<String>>,
    #[serde(default, deserialize_with = "whole_number")]
    expires_in_days: Option<i64>,
}

/// POST /v1/licenses/{licenseId}/invitations: email invitations, or an open
/// link when there are no addresses.
pub(super) async fn create(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    req: &Request,
) -> Reply {
    let body: InvitationsBody = optional_json_body(req)?;
    // Before the admin check, like the body itself.
    let days = admin::validate_requested_days(body.expires_in_days)?;
    let emails = body.emails.unwrap_or_default();
    if emails.is_empty() {
        let link = admin::create_link(app, caller, license_id, days).await?;
        return json(StatusCode::CREATED, &link);
    }
    let emails = admin::parse_emails(&emails)?;
    let outcomes = admin::invite_emails(app, caller, license_id, &emails, days).await?;
    json(
        StatusCode::CREATED,
        &InvitationOutcomesBody {
            invitations: &outcomes,
        },
    )
}

/// GET /v1/licenses/{licenseId}/invitations
pub(super) async fn list(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    req: &Request,
) -> Reply {
    let Paging { limit, cursor } = paging(req)?;
    let status = match query(req, "status") {
        None => None,
        Some(raw) => Some(
            serde_json::from_value::<InvitationStatus>(serde_json::Value::String(raw)).map_err(
                |_| {
                    ApiError::invalid(
                        "status must be pending, accepted, declined, revoked or expired",
                    )
                },
            )?,
        ),
    };
    let page =
        admin::list_invitations(app, caller, license_id, status, limit, cursor.as_deref()).await?;
    listing(&page, |invitations, next_cursor| InvitationsPage {
        invitations,
        next_cursor,
    })
}

/// DELETE /v1/licenses/{licenseId}/invitations/{invitationId}
pub(super) async fn revoke(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    invitation_id: &InvitationId,
) -> Reply {
    admin::revoke_invitation(app, caller, license_id, invitation_id).await?;
    Ok(no_content())
}

/// POST /v1/licenses/{licenseId}/invitations/{invitationId}/resend
pub(super) async fn resend(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    invitation_id: &InvitationId,
) -> Reply {
    response::invitation(&admin::resend_invitation(app, caller, license_id, invitation_id).await?)
}
