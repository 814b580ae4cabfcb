//! License administration: what the owner and admins of a license may do.
//! Anyone else gets `LICENSE_NOT_FOUND`, so existence is not revealed.
//!
//! One module per subdomain: [`licenses`] (this file), [`codes`],
//! [`invitations`], [`seats`], [`audit`] and [`demand`]; the invitation email is in
//! `crate::mail::templates`.

mod audit;
mod codes;
mod demand;
mod invitations;
mod seats;

pub use audit::events;
pub use codes::{
    CodeView, CreatedCode, MAX_NOTE_CHARS, NewCode, create_code, list_codes, revoke_code,
    validate_max_uses,
};
pub use demand::{DEMAND_DAYS, DemandDay, DemandView, RECENT_DAYS, TimeToSeat, demand};
pub(crate) use invitations::invitation_email;
pub use invitations::{
    DEFAULT_INVITE_DAYS, Delivery, InvitationOutcome, MAX_EMAILS_PER_CALL, MAX_INVITE_DAYS,
    OpenLink, create_link, invite_emails, list_invitations, parse_emails, resend_invitation,
    revoke_invitation, validate_days, validate_requested_days,
};
pub use seats::{list_seats, remove_seat};

use serde::Serialize;

use super::cursor;
use crate::App;
use crate::domain::{Caller, License, LicenseId, LicenseRecord, Role};
use crate::error::ApiError;
use crate::store::Paging;

/// The license, if `caller` owns or administers it.
pub async fn authorize(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
) -> Result<LicenseRecord, ApiError> {
    match app.store.license(license_id).await? {
        Some(license) if license.role_of(&caller.user_id) != Role::Member => Ok(license),
        _ => Err(ApiError::LicenseNotFound),
    }
}

async fn seats_used(app: &App, license_id: &LicenseId) -> Result<u32, ApiError> {
    Ok(app
        .store
        .licenses_with_usage(std::slice::from_ref(license_id))
        .await?
        .first()
        .map_or(0, |(_, used)| *used))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminLicense {
    #[serde(flatten)]
    pub license: License,
    pub role: Role,
    /// The owner, then the admins (one license's page only, not listings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admins: Option<Vec<LicenseAdmin>>,
}

/// Someone who manages a license, as its admins see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseAdmin {
    pub email: crate::domain::Email,
    pub role: Role,
}

/// One page of an admin listing and the cursor of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The licenses the caller owns or administers (an admin's start page).
pub async fn my_licenses(
    app: &App,
    caller: &Caller,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<AdminLicense>, ApiError> {
    let after = cursor.map(|c| cursor::decode("licenses", c)).transpose()?;
    let page = app
        .store
        .administered_licenses(&caller.user_id, Paging::new(after.as_ref(), limit))
        .await?;
    let items = app
        .store
        .licenses_with_usage(&page.items)
        .await?
        .into_iter()
        .map(|(license, used)| AdminLicense {
            role: license.role_of(&caller.user_id),
            license: license.view(used),
            admins: None,
        })
        .collect();
    Ok(Listing {
        items,
        next_cursor: page.next.map(|p| cursor::encode("licenses", &p)),
    })
}

pub async fn get_license(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
) -> Result<AdminLicense, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    let admins = std::iter::once(LicenseAdmin {
        email: license.owner.email.clone(),
        role: Role::Owner,
    })
    .chain(license.admins.iter().map(|admin| LicenseAdmin {
        email: admin.email.clone(),
        role: Role::Admin,
    }))
    .collect();
    Ok(AdminLicense {
        role: license.role_of(&caller.user_id),
        license: license.view(seats_used(app, license_id).await?),
        admins: Some(admins),
    })
}
