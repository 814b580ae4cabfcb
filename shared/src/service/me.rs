//! "My Invitations" and leaving a license.

use std::collections::HashMap;

use serde::Serialize;

use crate::App;
use crate::domain::{
    Caller, Event, EventKind, InvitationStatus, LicenseId, MyLicense, PendingInvitation,
};
use crate::error::ApiError;
use crate::service::cursor;
use crate::store::{PagePosition, Paging};

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MyInvitations {
    pub licenses: Vec<MyLicense>,
    pub pending: Vec<PendingInvitation>,
    /// Opaque; pass back as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// One page of the caller's licenses, newest first. Pending invitations come
/// with the first page only (`after` is `None`).
pub async fn my_invitations(
    app: &App,
    caller: &Caller,
    limit: usize,
    after: Option<&PagePosition>,
) -> Result<MyInvitations, ApiError> {
    let page = app
        .store
        .user_seats(&caller.user_id, Paging::new(after, limit))
        .await?;
    let ids: Vec<LicenseId> = page.items.iter().map(|s| s.license_id.clone()).collect();
    let licenses: HashMap<LicenseId, _> = app
        .store
        .licenses_with_usage(&ids)
        .await?
        .into_iter()
        .map(|(license, used)| (license.license_id.clone(), (license, used)))
        .collect();
    let mine = page
        .items
        .iter()
        .filter_map(|seat| {
            let (license, used) = licenses.get(&seat.license_id)?;
            Some(MyLicense {
                license: license.view(*used),
                joined_at: seat.joined_at,
                joined_via: seat.joined_via,
                role: license.role_of(&caller.user_id),
            })
        })
        .collect();
    let pending = match (after, caller.verified_email()) {
        (None, Ok(email)) => pending_for(app, caller, email).await?,
        _ => Vec::new(),
    };
    Ok(MyInvitations {
        licenses: mine,
        pending,
        next_cursor: page.next.as_ref().map(encode_cursor),
    })
}

/// Pending, unexpired invitations to `email`, except for licenses the
/// caller already holds a seat on (joined another way meanwhile).
async fn pending_for(
    app: &App,
    caller: &Caller,
    email: &crate::domain::Email,
) -> Result<Vec<PendingInvitation>, ApiError> {
    let now = app.now();
    let mut invitations = Vec::new();
    for inv in app.store.pending_invitations(email).await? {
        if inv.status_at(now) == InvitationStatus::Pending
            && app
                .store
                .seat(&caller.user_id, &inv.license_id)
                .await?
                .is_none()
        {
            invitations.push(inv);
        }
    }
    let ids: Vec<LicenseId> = invitations.iter().map(|i| i.license_id.clone()).collect();
    let licenses: HashMap<LicenseId, _> = app
        .store
        .licenses_with_usage(&ids)
        .await?
        .into_iter()
        .map(|(license, _)| (license.license_id.clone(), license))
        .collect();
    Ok(invitations
        .iter()
        .filter_map(|inv| {
            let license = licenses.get(&inv.license_id)?;
            Some(PendingInvitation {
                invitation: inv.view(now, Some(email), false),
                license: license.summary(),
            })
        })
        .collect())
}

/// Gives up the caller's seat; the seat counter goes down in the same write.
/// Idempotent as far as a client can tell: repeating a leave that went
/// through (after a lost answer or a `503` with an unknown outcome)
/// answers the same, within `DEPARTURE_MEMORY_SECS`.
pub async fn leave(app: &App, caller: &Caller, license_id: &LicenseId) -> Result<(), ApiError> {
    let Some(seat) = app.store.seat(&caller.user_id, license_id).await? else {
        return match app
            .store
            .departed_at(&caller.user_id, license_id, app.now())
            .await?
        {
            Some(_) => Ok(()),
            None => Err(ApiError::LicenseNotFound),
        };
    };
    let mut event = Event::by(caller, license_id, EventKind::SeatReleased, app.now());
    event.user_id = Some(caller.user_id.clone());
    event.shard = seat.shard;
    // Gone meanwhile: freed by an admin, by a concurrent leave, or by this
    // leave's own transaction whose first answer was lost. Either way the
    // caller no longer holds it, which is what they asked for.
    let release = app.store.release_seat(&seat, &event).await?;
    app.claim_views.forget(license_id);
    tracing::info!(license_id = license_id.as_str(), user_id = %caller.user_id, ?release, "seat released");
    Ok(())
}

/// The listing's kind in its cursors ([`cursor`]); a cursor that is not
/// one of these is refused as `INVALID_REQUEST`.
const CURSOR_KIND: &str = "my-licenses";

pub fn encode_cursor(position: &PagePosition) -> String {
    cursor::encode(CURSOR_KIND, position)
}

pub fn decode_cursor(raw: &str) -> Result<PagePosition, ApiError> {
    cursor::decode(CURSOR_KIND, raw)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    #[test]
    fn cursors_round_trip() {
        let cursor = PagePosition::new("2026-09-01T08:00:00.000Z#lic-1");
        assert_eq!(decode_cursor(&encode_cursor(&cursor)).ok(), Some(cursor));
    }

    #[test]
    fn foreign_cursors_are_invalid_requests() {
        for raw in [
            "",
            "abc",
            "!!!",
            &URL_SAFE_NO_PAD.encode("{}"),
            &URL_SAFE_NO_PAD.encode(r#"{"v":2,"j":"2026-01-01T00:00:00Z","l":"x"}"#),
            // A position too long for a DynamoDB sort key, and a cursor
            // longer than any this API issues.
            &encode_cursor(&PagePosition::new("x".repeat(PagePosition::MAX_BYTES + 1))),
            &"A".repeat(cursor::MAX_LEN + 1),
        ] {
            assert_eq!(
                decode_cursor(raw).map_err(|e| e.code()).err(),
                Some("INVALID_REQUEST"),
                "{raw}"
            );
        }
    }
}
