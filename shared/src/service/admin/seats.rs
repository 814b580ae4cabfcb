//! Seats of a license: the list, and freeing a member's seat.

use super::{Listing, authorize, cursor};
use crate::App;
use crate::domain::{Caller, Event, EventKind, LicenseId, Seat, UserId};
use crate::error::ApiError;
use crate::store::{Paging, Release};

pub async fn list_seats(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<Seat>, ApiError> {
    authorize(app, caller, license_id).await?;
    let after = cursor.map(|c| cursor::decode("seats", c)).transpose()?;
    let page = app
        .store
        .license_seats(license_id, Paging::new(after.as_ref(), limit))
        .await?;
    Ok(Listing {
        items: page.items.iter().map(|s| s.view()).collect(),
        next_cursor: page.next.map(|p| cursor::encode("seats", &p)),
    })
}

/// Frees a member's seat, atomically with the seat count.
pub async fn remove_seat(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    user_id: &UserId,
) -> Result<(), ApiError> {
    authorize(app, caller, license_id).await?;
    let seat = app
        .store
        .seat(user_id, license_id)
        .await?
        .ok_or(ApiError::SeatNotFound)?;
    let mut event = Event::by(caller, license_id, EventKind::SeatRemoved, app.now());
    event.user_id = Some(user_id.clone());
    event.shard = seat.shard;
    let release = app.store.release_seat(&seat, &event).await?;
    app.claim_views.forget(license_id);
    if release == Release::AlreadyGone {
        return Err(ApiError::SeatNotFound);
    }
    tracing::info!(
        license_id = license_id.as_str(),
        user_id = user_id.as_str(),
        "seat removed by admin"
    );
    Ok(())
}
