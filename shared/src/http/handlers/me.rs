//! Function `list-invitations`: My Invitations and leaving a license.

use http::StatusCode;
use lambda_http::Request;

use crate::App;
use crate::domain::{Caller, LicenseId};
use crate::http::extract::paging;
use crate::http::response::{Reply, json, no_content};
use crate::service::me;

/// GET /v1/me/invitations
pub(super) async fn my_invitations(app: &App, caller: &Caller, req: &Request) -> Reply {
    let paging = paging(req)?;
    let cursor = paging
        .cursor
        .as_deref()
        .map(me::decode_cursor)
        .transpose()?;
    let page = me::my_invitations(app, caller, paging.limit, cursor.as_ref()).await?;
    json(StatusCode::OK, &page)
}

/// DELETE /v1/me/licenses/{licenseId}
pub(super) async fn leave(app: &App, caller: &Caller, license_id: &LicenseId) -> Reply {
    me::leave(app, caller, license_id).await?;
    Ok(no_content())
}
