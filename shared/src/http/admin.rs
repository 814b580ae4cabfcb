//! Thin handlers of the admin routes: parse → use case → response.

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::extract::{optional_json_body, paging, query};
use super::response::{json_response, no_content};
use crate::App;
use crate::domain::{Caller, InvitationStatus};
use crate::error::ApiError;
use crate::service::admin;

/// An admin route with its path parameters (license id first).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum AdminRoute<'a> {
    Licenses,
    License(&'a str),
    CreateCode(&'a str),
    ListCodes(&'a str),
    RevokeCode(&'a str, &'a str),
    CreateInvitations(&'a str),
    ListInvitations(&'a str),
    RevokeInvitation(&'a str, &'a str),
    ResendInvitation(&'a str, &'a str),
    ListSeats(&'a str),
    RemoveSeat(&'a str, &'a str),
    Events(&'a str),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCodeBody {
    #[serde(default)]
    max_uses: Option<i64>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InvitationsBody {
    #[serde(default)]
    emails: Option<Vec<String>>,
    #[serde(default)]
    expires_in_days: Option<i64>,
}

fn small_number(value: Option<i64>, field: &str) -> Result<Option<u32>, ApiError> {
    value
        .map(|v| {
            u32::try_from(v).map_err(|_| ApiError::invalid(format!("{field} is out of range")))
        })
        .transpose()
}

pub(super) async fn dispatch(
    app: &App,
    caller: &Caller,
    route: AdminRoute<'_>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let ok = |value: serde_json::Value| Ok(json_response(StatusCode::OK, &value));
    match route {
        AdminRoute::Licenses => {
            let paging = paging(req)?;
            let page =
                admin::my_licenses(app, caller, paging.limit, paging.cursor.as_deref()).await?;
            ok(serde_json::json!({"licenses": page.items, "nextCursor": page.next_cursor}))
        }
        AdminRoute::License(id) => Ok(json_response(
            StatusCode::OK,
            &admin::get_license(app, caller, id).await?,
        )),
        AdminRoute::CreateCode(id) => {
            let body: NewCodeBody = optional_json_body(req)?;
            let max_uses = match body.max_uses {
                Some(n) if n < 1 => {
                    return Err(ApiError::invalid("maxUses must be at least 1, or null"));
                }
                other => small_number(other, "maxUses")?,
            };
            let new = admin::NewCode {
                max_uses,
                expires_at: body.expires_at,
                note: body.note,
            };
            let created = admin::create_code(app, caller, id, new).await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        AdminRoute::ListCodes(id) => {
            ok(serde_json::json!({"codes": admin::list_codes(app, caller, id).await?}))
        }
        AdminRoute::RevokeCode(id, code_id) => {
            admin::revoke_code(app, caller, id, code_id).await?;
            Ok(no_content())
        }
        AdminRoute::CreateInvitations(id) => {
            let body: InvitationsBody = optional_json_body(req)?;
            let days = match body.expires_in_days {
                Some(d) if d < 1 => {
                    return Err(ApiError::invalid("expiresInDays must be at least 1"));
                }
                other => small_number(other, "expiresInDays")?,
            };
            let emails = body.emails.unwrap_or_default();
            if emails.is_empty() {
                let link = admin::create_link(app, caller, id, days).await?;
                return Ok(json_response(StatusCode::CREATED, &link));
            }
            let emails = admin::parse_emails(&emails)?;
            let outcomes = admin::invite_emails(app, caller, id, &emails, days).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &serde_json::json!({ "invitations": outcomes }),
            ))
        }
        AdminRoute::ListInvitations(id) => {
            let paging = paging(req)?;
            let status = match query(req, "status") {
                None => None,
                Some(raw) => Some(
                    serde_json::from_value::<InvitationStatus>(serde_json::Value::String(raw))
                        .map_err(|_| {
                            ApiError::invalid(
                                "status must be pending, accepted, declined, revoked or expired",
                            )
                        })?,
                ),
            };
            let page = admin::list_invitations(
                app,
                caller,
                id,
                status,
                paging.limit,
                paging.cursor.as_deref(),
            )
            .await?;
            ok(serde_json::json!({"invitations": page.items, "nextCursor": page.next_cursor}))
        }
        AdminRoute::RevokeInvitation(id, inv) => {
            admin::revoke_invitation(app, caller, id, inv).await?;
            Ok(no_content())
        }
        AdminRoute::ResendInvitation(id, inv) => {
            let invitation = admin::resend_invitation(app, caller, id, inv).await?;
            ok(serde_json::json!({ "invitation": invitation }))
        }
        AdminRoute::ListSeats(id) => {
            let paging = paging(req)?;
            let page =
                admin::list_seats(app, caller, id, paging.limit, paging.cursor.as_deref()).await?;
            ok(serde_json::json!({"seats": page.items, "nextCursor": page.next_cursor}))
        }
        AdminRoute::RemoveSeat(id, user) => {
            admin::remove_seat(app, caller, id, user).await?;
            Ok(no_content())
        }
        AdminRoute::Events(id) => {
            let paging = paging(req)?;
            let page =
                admin::events(app, caller, id, paging.limit, paging.cursor.as_deref()).await?;
            ok(serde_json::json!({"events": page.items, "nextCursor": page.next_cursor}))
        }
    }
}
