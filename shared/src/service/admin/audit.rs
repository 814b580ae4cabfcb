//! A license's audit trail, newest first.

use super::{Listing, authorize, cursor};
use crate::App;
use crate::domain::{Caller, Event, LicenseId};
use crate::error::ApiError;
use crate::store::Paging;

pub async fn events(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<Event>, ApiError> {
    authorize(app, caller, license_id).await?;
    let before = cursor.map(|c| cursor::decode("events", c)).transpose()?;
    let page = app
        .store
        .events(license_id, Paging::new(before.as_ref(), limit))
        .await?;
    Ok(Listing {
        items: page.items,
        next_cursor: page.next.map(|p| cursor::encode("events", &p)),
    })
}
