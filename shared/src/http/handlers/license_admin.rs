//! Function `license-admin`: the admin routes of licenses, codes, seats and
//! the audit trail.

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

use crate::App;
use crate::domain::{Caller, CodeId, LicenseId, UserId};
use crate::http::extract::{Paging, optional_json_body, paging, whole_number};
use crate::http::response::{
    CodesPage, EventsPage, LicensesPage, Reply, SeatsPage, json, listing, no_content,
};
use crate::service::admin;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCodeBody {
    #[serde(default, deserialize_with = "whole_number")]
    max_uses: Option<i64>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    note: Option<String>,
}

/// GET /v1/licenses
pub(super) async fn licenses(app: &App, caller: &Caller, req: &Request) -> Reply {
    let Paging { limit, cursor } = paging(req)?;
    let page = admin::my_licenses(app, caller, limit, cursor.as_deref()).await?;
    listing(&page, |licenses, next_cursor| LicensesPage {
        licenses,
        next_cursor,
    })
}

/// GET /v1/licenses/{licenseId}
pub(super) async fn license(app: &App, caller: &Caller, license_id: &LicenseId) -> Reply {
    let license = admin::get_license(app, caller, license_id).await?;
    json(StatusCode::OK, &license)
}

/// GET /v1/licenses/{licenseId}/demand
pub(super) async fn demand(app: &App, caller: &Caller, license_id: &LicenseId) -> Reply {
    let view = admin::demand(app, caller, license_id).await?;
    json(StatusCode::OK, &view)
}

/// POST /v1/licenses/{licenseId}/codes
pub(super) async fn create_code(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    req: &Request,
) -> Reply {
    let body: NewCodeBody = optional_json_body(req)?;
    // Before the admin check, like the body itself.
    let new = admin::NewCode {
        max_uses: admin::validate_max_uses(body.max_uses)?,
        expires_at: body.expires_at,
        note: body.note,
    };
    let created = admin::create_code(app, caller, license_id, new).await?;
    json(StatusCode::CREATED, &created)
}

/// GET /v1/licenses/{licenseId}/codes
pub(super) async fn list_codes(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    req: &Request,
) -> Reply {
    let Paging { limit, cursor } = paging(req)?;
    let page = admin::list_codes(app, caller, license_id, limit, cursor.as_deref()).await?;
    listing(&page, |codes, next_cursor| CodesPage { codes, next_cursor })
}

/// DELETE /v1/licenses/{licenseId}/codes/{codeId}
pub(super) async fn revoke_code(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    code_id: &CodeId,
) -> Reply {
    admin::revoke_code(app, caller, license_id, code_id).await?;
    Ok(no_content())
}

/// GET /v1/licenses/{licenseId}/seats
pub(super) async fn list_seats(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    req: &Request,
) -> Reply {
    let Paging { limit, cursor } = paging(req)?;
    let page = admin::list_seats(app, caller, license_id, limit, cursor.as_deref()).await?;
    listing(&page, |seats, next_cursor| SeatsPage { seats, next_cursor })
}

/// DELETE /v1/licenses/{licenseId}/seats/{userId}
pub(super) async fn remove_seat(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    user_id: &UserId,
) -> Reply {
    admin::remove_seat(app, caller, license_id, user_id).await?;
    Ok(no_content())
}

/// GET /v1/licenses/{licenseId}/events
pub(super) async fn events(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    req: &Request,
) -> Reply {
    let Paging { limit, cursor } = paging(req)?;
    let page = admin::events(app, caller, license_id, limit, cursor.as_deref()).await?;
    listing(&page, |events, next_cursor| EventsPage {
        events,
        next_cursor,
    })
}
