//! Which function serves which route, and the thin handlers:
//! parse → use case → response.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use super::admin::AdminRoute;
use super::extract::{caller, json_body, paging};
use super::response::{error_response, error_response_with_license, json_response, no_content};
use super::status::EdgeError;
use crate::App;
use crate::domain::Caller;
use crate::error::ApiError;
use crate::service::{Claimed, contact, invites, me, redeem};

/// A deployable unit. `All` serves every route (the devserver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    RedeemCode,
    AcceptInvite,
    ListInvitations,
    ContactOwner,
    /// Admin: licenses, codes, seats, audit trail.
    LicenseAdmin,
    /// Admin: invitations (the only admin function that sends email).
    InvitationAdmin,
    All,
}

/// A matched route with its path parameters.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Route<'a> {
    Redeem,
    PreviewInvite(&'a str),
    AcceptInvite(&'a str),
    DeclineInvite(&'a str),
    MyInvitations,
    AcceptMyInvitation(&'a str),
    DeclineMyInvitation(&'a str),
    LeaveLicense(&'a str),
    ContactOwner(&'a str),
    Admin(AdminRoute<'a>),
}

impl Route<'_> {
    fn owner(&self) -> Function {
        match self {
            Route::Redeem => Function::RedeemCode,
            Route::PreviewInvite(_)
            | Route::AcceptInvite(_)
            | Route::DeclineInvite(_)
            | Route::AcceptMyInvitation(_)
            | Route::DeclineMyInvitation(_) => Function::AcceptInvite,
            Route::MyInvitations | Route::LeaveLicense(_) => Function::ListInvitations,
            Route::ContactOwner(_) => Function::ContactOwner,
            Route::Admin(
                AdminRoute::CreateInvitations(_)
                | AdminRoute::ListInvitations(_)
                | AdminRoute::RevokeInvitation(..)
                | AdminRoute::ResendInvitation(..),
            ) => Function::InvitationAdmin,
            Route::Admin(_) => Function::LicenseAdmin,
        }
    }
}

/// A request that matches no route of the table: HTTP-level, before any
/// use case (`ROUTE_NOT_FOUND` 404, `METHOD_NOT_ALLOWED` 405).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("no such route")]
    NotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
}

impl RouteError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "ROUTE_NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
        }
    }

    /// A message that tells the user what to do next.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "There is no such API route; see the API reference.",
            Self::MethodNotAllowed => "This route does not accept that HTTP method.",
        }
    }
}

const MAX_SEGMENT_BYTES: usize = 200;

/// Matches method and path. Anything before the `v1` segment (an API
/// Gateway stage or a base path mapping) is ignored.
fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, RouteError> {
    use Method as M;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // No id of ours is this long, and DynamoDB keys have size limits: such a
    // path names nothing.
    if segments.iter().any(|s| s.len() > MAX_SEGMENT_BYTES) {
        return Err(RouteError::NotFound);
    }
    let v1 = segments
        .iter()
        .position(|s| *s == "v1")
        .ok_or(RouteError::NotFound)?;
    let candidates: Vec<(Method, Route)> = match segments[v1 + 1..] {
        ["redemptions"] => vec![(M::POST, Route::Redeem)],
        ["invites", token] => vec![(M::GET, Route::PreviewInvite(token))],
        ["invites", token, "accept"] => vec![(M::POST, Route::AcceptInvite(token))],
        ["invites", token, "decline"] => vec![(M::POST, Route::DeclineInvite(token))],
        ["me", "invitations"] => vec![(M::GET, Route::MyInvitations)],
        ["me", "invitations", id, "accept"] => vec![(M::POST, Route::AcceptMyInvitation(id))],
        ["me", "invitations", id, "decline"] => vec![(M::POST, Route::DeclineMyInvitation(id))],
        ["me", "licenses", id] => vec![(M::DELETE, Route::LeaveLicense(id))],
        ["licenses"] => vec![(M::GET, Route::Admin(AdminRoute::Licenses))],
        ["licenses", id] => vec![(M::GET, Route::Admin(AdminRoute::License(id)))],
        ["licenses", id, "contact-owner"] => vec![(M::POST, Route::ContactOwner(id))],
        ["licenses", id, "codes"] => vec![
            (M::POST, Route::Admin(AdminRoute::CreateCode(id))),
            (M::GET, Route::Admin(AdminRoute::ListCodes(id))),
        ],
        ["licenses", id, "codes", code] => {
            vec![(M::DELETE, Route::Admin(AdminRoute::RevokeCode(id, code)))]
        }
        ["licenses", id, "invitations"] => vec![
            (M::POST, Route::Admin(AdminRoute::CreateInvitations(id))),
            (M::GET, Route::Admin(AdminRoute::ListInvitations(id))),
        ],
        ["licenses", id, "invitations", inv] => vec![(
            M::DELETE,
            Route::Admin(AdminRoute::RevokeInvitation(id, inv)),
        )],
        ["licenses", id, "invitations", inv, "resend"] => {
            vec![(M::POST, Route::Admin(AdminRoute::ResendInvitation(id, inv)))]
        }
        ["licenses", id, "seats"] => vec![(M::GET, Route::Admin(AdminRoute::ListSeats(id)))],
        ["licenses", id, "seats", user] => {
            vec![(M::DELETE, Route::Admin(AdminRoute::RemoveSeat(id, user)))]
        }
        ["licenses", id, "events"] => vec![(M::GET, Route::Admin(AdminRoute::Events(id)))],
        _ => return Err(RouteError::NotFound),
    };
    candidates
        .into_iter()
        .find(|(allowed, _)| allowed == method)
        .map(|(_, found)| found)
        .ok_or(RouteError::MethodNotAllowed)
}

/// The whole request cycle of one function. Never fails: every error is a
/// response with the error envelope.
pub async fn handle(app: &App, function: Function, req: Request) -> Response<Body> {
    match dispatch(app, function, &req).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    }
}

async fn dispatch(
    app: &App,
    function: Function,
    req: &Request,
) -> Result<Response<Body>, EdgeError> {
    let path = req.uri().path().to_owned();
    let route = route(req.method(), &path)?;
    if function != Function::All && route.owner() != function {
        return Err(RouteError::NotFound.into());
    }
    let caller = caller(req)?;
    Ok(serve(app, &caller, route, req).await?)
}

async fn serve(
    app: &App,
    caller: &Caller,
    route: Route<'_>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    match route {
        Route::Redeem => {
            #[derive(Deserialize)]
            struct Body {
                code: String,
            }
            let body: Body = json_body(req)?;
            match redeem::redeem(app, caller, &body.code).await {
                Ok(claimed) => Ok(claimed_response(&claimed)),
                // Where the owner can help, the page may offer to write to them.
                Err(
                    err @ (ApiError::CodeUsedUp
                    | ApiError::NoSeatsAvailable
                    | ApiError::LicenseExpired),
                ) => Ok(match redeem::license_of_code(app, &body.code).await {
                    Some(license) => error_response_with_license(&err, &license),
                    None => error_response(&err),
                }),
                Err(err) => Err(err),
            }
        }
        Route::PreviewInvite(token) => {
            let preview = invites::preview(app, caller, token).await?;
            Ok(json_response(StatusCode::OK, &preview))
        }
        Route::AcceptInvite(token) => {
            let claimed = invites::accept(app, caller, token).await?;
            Ok(claimed_response(&claimed))
        }
        Route::AcceptMyInvitation(id) => {
            let claimed = invites::accept_mine(app, caller, id).await?;
            Ok(claimed_response(&claimed))
        }
        Route::DeclineMyInvitation(id) => {
            let invitation = invites::decline_mine(app, caller, id).await?;
            Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({ "invitation": invitation }),
            ))
        }
        Route::DeclineInvite(token) => {
            let invitation = invites::decline(app, caller, token).await?;
            Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({ "invitation": invitation }),
            ))
        }
        Route::MyInvitations => {
            let paging = paging(req)?;
            let cursor = paging
                .cursor
                .as_deref()
                .map(me::decode_cursor)
                .transpose()?;
            let page = me::my_invitations(app, caller, paging.limit, cursor.as_ref()).await?;
            Ok(json_response(StatusCode::OK, &page))
        }
        Route::LeaveLicense(license_id) => {
            me::leave(app, caller, license_id).await?;
            Ok(no_content())
        }
        Route::ContactOwner(license_id) => {
            #[derive(Deserialize)]
            struct Body {
                subject: String,
                message: String,
                /// A code of the license, from someone who could not join.
                #[serde(default)]
                code: Option<String>,
            }
            let body: Body = json_body(req)?;
            let message_id = contact::contact_owner(
                app,
                caller,
                license_id,
                &body.subject,
                &body.message,
                body.code.as_deref(),
            )
            .await?;
            Ok(json_response(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "messageId": message_id }),
            ))
        }
        Route::Admin(admin) => super::admin::dispatch(app, caller, admin, req).await,
    }
}

fn claimed_response(claimed: &Claimed) -> Response<Body> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out<'a> {
        license: &'a crate::domain::License,
        seat: &'a crate::domain::Seat,
        already_member: bool,
    }
    let status = if claimed.already_member {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json_response(
        status,
        &Out {
            license: &claimed.license,
            seat: &claimed.seat,
            already_member: claimed.already_member,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_or_without_a_stage_prefix() {
        assert_eq!(route(&Method::POST, "/v1/redemptions"), Ok(Route::Redeem));
        assert_eq!(
            route(&Method::POST, "/prod/v1/redemptions"),
            Ok(Route::Redeem)
        );
        assert_eq!(
            route(&Method::POST, "/v1/invites/abc/accept"),
            Ok(Route::AcceptInvite("abc"))
        );
        assert_eq!(
            route(&Method::DELETE, "/v1/me/licenses/l1/"),
            Ok(Route::LeaveLicense("l1"))
        );
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert_eq!(
            route(&Method::GET, "/v1/nothing"),
            Err(RouteError::NotFound)
        );
        assert_eq!(route(&Method::GET, "/"), Err(RouteError::NotFound));
        assert_eq!(
            route(&Method::GET, "/v1/redemptions"),
            Err(RouteError::MethodNotAllowed)
        );
        assert_eq!(
            route(&Method::PUT, "/v1/me/invitations"),
            Err(RouteError::MethodNotAllowed)
        );
    }
}
