//! Function `accept-invite`: the invite URL (preview, accept, decline by
//! token) and My Invitations' accept and decline by invitation id.

use http::StatusCode;

use crate::App;
use crate::domain::{Caller, InvitationId};
use crate::http::response::{self, Reply, claimed, json};
use crate::service::invites;

/// GET /v1/invites/{token}
pub(super) async fn preview(app: &App, caller: &Caller, token: &str) -> Reply {
    let preview = invites::preview(app, caller, token).await?;
    json(StatusCode::OK, &preview)
}

/// POST /v1/invites/{token}/accept
pub(super) async fn accept(app: &App, caller: &Caller, token: &str) -> Reply {
    claimed(&invites::accept(app, caller, token).await?)
}

/// POST /v1/invites/{token}/decline
pub(super) async fn decline(app: &App, caller: &Caller, token: &str) -> Reply {
    response::invitation(&invites::decline(app, caller, token).await?)
}

/// POST /v1/me/invitations/{invitationId}/accept
pub(super) async fn accept_mine(app: &App, caller: &Caller, invitation_id: &InvitationId) -> Reply {
    claimed(&invites::accept_mine(app, caller, invitation_id).await?)
}

/// POST /v1/me/invitations/{invitationId}/decline
pub(super) async fn decline_mine(
    app: &App,
    caller: &Caller,
    invitation_id: &InvitationId,
) -> Reply {
    response::invitation(&invites::decline_mine(app, caller, invitation_id).await?)
}
