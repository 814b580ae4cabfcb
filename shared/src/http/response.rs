//! JSON responses, their bodies, and the one error envelope. Every
//! response carries `Cache-Control: no-store`.

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::status::EdgeError;
use crate::domain::{Event, Invitation, License, LicenseSummary, Seat};
use crate::error::{ApiError, note_cause};
use crate::service::Claimed;
use crate::service::admin::{AdminLicense, CodeView, InvitationOutcome, Listing};

/// What a handler answers.
pub(super) type Reply = Result<Response<Body>, ApiError>;

/// 200 with one page of an admin listing; `body` names its items.
pub(super) fn listing<'a, T, B: Serialize>(
    page: &'a Listing<T>,
    body: impl FnOnce(&'a [T], Option<&'a str>) -> B,
) -> Reply {
    json(
        StatusCode::OK,
        &body(&page.items, page.next_cursor.as_deref()),
    )
}

/// A JSON response; a value that cannot be serialised is `INTERNAL_ERROR`
/// (its cause noted for the edge's log line).
pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_string(value) {
        Ok(text) => Ok(build(status, Body::Text(text))),
        Err(err) => {
            note_cause(&err);
            Err(ApiError::Internal)
        }
    }
}

/// [`json`], or the error envelope.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    json(status, value).unwrap_or_else(|err| error_response(&err))
}

/// The error envelope `{"error": {"code", "message"}}` with the error's
/// status (and `Retry-After` or `Allow` where it has one), for an [`EdgeError`], an
/// [`ApiError`] or a `RouteError`.
pub fn error_response<E: Clone + Into<EdgeError>>(err: &E) -> Response<Body> {
    envelope(&err.clone().into(), None)
}

/// The envelope with the license the error is about (a redemption the
/// license's owner could help with).
pub(super) fn error_response_with_license(
    err: &ApiError,
    license: &LicenseSummary,
) -> Response<Body> {
    envelope(&EdgeError::Api(err.clone()), Some(license))
}

fn envelope(err: &EdgeError, license: Option<&LicenseSummary>) -> Response<Body> {
    crate::metrics::error_code(err.code());
    let mut body = ErrorEnvelope {
        error: ErrorBody {
            code: err.code(),
            message: err.message(),
            outcome: match err {
                EdgeError::Api(api) => api.outcome(),
                EdgeError::Route(_) => None,
            },
            license,
        },
    };
    // Only the license could fail to serialise; the envelope goes without it.
    let text = serde_json::to_string(&body).unwrap_or_else(|_| {
        body.error.license = None;
        serde_json::to_string(&body).unwrap_or_default()
    });
    let mut response = build(err.status(), Body::Text(text));
    if let Some(secs) = err.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(methods) = err.allow() {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(methods));
    }
    response
}

pub(super) fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A seat claimed by a redemption or an accepted invitation: `201`, or `200`
/// for a caller who already held one.
pub(super) fn claimed(claimed: &Claimed) -> Reply {
    let status = if claimed.already_member {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json(
        status,
        &ClaimedBody {
            license: &claimed.license,
            seat: &claimed.seat,
            already_member: claimed.already_member,
        },
    )
}

fn build(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// The bodies built here, field for field in the order they are written.

/// `{"error": {"code", "message"[, "outcome"][, "license"]}}`; `outcome`
/// on every 503: `unchanged` or `unknown`.
#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<crate::error::Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<&'a LicenseSummary>,
}

/// A claimed seat: redemptions and accepted invitations.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimedBody<'a> {
    license: &'a License,
    seat: &'a Seat,
    already_member: bool,
}

/// 200 with a declined or resent invitation.
pub(super) fn invitation(invitation: &Invitation) -> Reply {
    json(StatusCode::OK, &InvitationBody { invitation })
}

/// A declined or resent invitation.
#[derive(Serialize)]
struct InvitationBody<'a> {
    pub invitation: &'a Invitation,
}

/// The outcome of each address of a bulk invitation.
#[derive(Serialize)]
pub(super) struct InvitationOutcomesBody<'a> {
    pub invitations: &'a [InvitationOutcome],
}

/// Contact Owner's accepted message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageIdBody<'a> {
    pub message_id: &'a str,
}

/// A page of an admin listing and the `nextCursor` of the next page (null
/// on the last), one struct per listing for the name of its items.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LicensesPage<'a> {
    pub licenses: &'a [AdminLicense],
    pub next_cursor: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InvitationsPage<'a> {
    pub invitations: &'a [Invitation],
    pub next_cursor: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CodesPage<'a> {
    pub codes: &'a [CodeView],
    pub next_cursor: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SeatsPage<'a> {
    pub seats: &'a [Seat],
    pub next_cursor: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventsPage<'a> {
    pub events: &'a [Event],
    pub next_cursor: Option<&'a str>,
}
