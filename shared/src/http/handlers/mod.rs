//! The handlers, one module per Lambda function, each thin: extract →
//! use case → response. [`dispatch`] picks the handler of the matched
//! endpoint and hands it the path parameters it names.

mod contact;
mod invitation_admin;
mod invites;
mod license_admin;
mod me;
mod redeem;

use lambda_http::Request;

use super::extract::PathParams;
use super::response::Reply;
use super::router::Endpoint;
use crate::App;
use crate::domain::Caller;

pub(super) async fn dispatch(
    app: &App,
    endpoint: Endpoint,
    path: &PathParams<'_>,
    caller: &Caller,
    req: &Request,
) -> Reply {
    use Endpoint as E;
    match endpoint {
        E::Redeem => redeem::redeem(app, caller, req).await,
        E::PreviewInvite => invites::preview(app, caller, path.get("token")?).await,
        E::AcceptInvite => invites::accept(app, caller, path.get("token")?).await,
        E::DeclineInvite => invites::decline(app, caller, path.get("token")?).await,
        E::AcceptMyInvitation => invites::accept_mine(app, caller, &path.id("invitationId")?).await,
        E::DeclineMyInvitation => {
            invites::decline_mine(app, caller, &path.id("invitationId")?).await
        }
        E::MyInvitations => me::my_invitations(app, caller, req).await,
        E::LeaveLicense => me::leave(app, caller, &path.id("licenseId")?).await,
        E::ContactOwner => contact::contact_owner(app, caller, &path.id("licenseId")?, req).await,
        E::Licenses => license_admin::licenses(app, caller, req).await,
        E::License => license_admin::license(app, caller, &path.id("licenseId")?).await,
        E::CreateCode => license_admin::create_code(app, caller, &path.id("licenseId")?, req).await,
        E::ListCodes => license_admin::list_codes(app, caller, &path.id("licenseId")?, req).await,
        E::RevokeCode => {
            let (license_id, code_id) = (path.id("licenseId")?, path.id("codeId")?);
            license_admin::revoke_code(app, caller, &license_id, &code_id).await
        }
        E::ListSeats => license_admin::list_seats(app, caller, &path.id("licenseId")?, req).await,
        E::RemoveSeat => {
            let (license_id, user_id) = (path.id("licenseId")?, path.id("userId")?);
            license_admin::remove_seat(app, caller, &license_id, &user_id).await
        }
        E::Events => license_admin::events(app, caller, &path.id("licenseId")?, req).await,
        E::Demand => license_admin::demand(app, caller, &path.id("licenseId")?).await,
        E::CreateInvitations => {
            invitation_admin::create(app, caller, &path.id("licenseId")?, req).await
        }
        E::ListInvitations => {
            invitation_admin::list(app, caller, &path.id("licenseId")?, req).await
        }
        E::RevokeInvitation => {
            let (license_id, id) = (path.id("licenseId")?, path.id("invitationId")?);
            invitation_admin::revoke(app, caller, &license_id, &id).await
        }
        E::ResendInvitation => {
            let (license_id, id) = (path.id("licenseId")?, path.id("invitationId")?);
            invitation_admin::resend(app, caller, &license_id, &id).await
        }
    }
}
