//! [`Audit`] in memory.

use async_trait::async_trait;

use super::{MemoryStore, newest_first};
use crate::domain::{Event, LicenseId};
use crate::error::StoreResult;
use crate::store::{Audit, Page, Paging};

#[async_trait]
impl Audit for MemoryStore {
    async fn events(&self, license_id: &LicenseId, paging: Paging<'_>) -> StoreResult<Page<Event>> {
        let state = self.lock();
        let items = state
            .events
            .iter()
            .filter(|e| e.license_id == *license_id)
            .map(|e| (e.event_id.clone(), e.clone()))
            .collect();
        Ok(newest_first(items, paging))
    }
}
