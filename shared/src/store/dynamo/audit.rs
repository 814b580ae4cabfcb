//! [`Audit`] on DynamoDB: a license's events, sharded like its seats
//! (`EVENTS#<licenseId>#<shard>`), merged newest first.

use async_trait::async_trait;

use super::DynamoStore;
use super::items::event_from;
use super::keys;
use super::query::{Query, SortKey};
use crate::domain::{Event, LicenseId};
use crate::error::StoreResult;
use crate::store::{Audit, Page, PagePosition, Paging};

#[async_trait]
impl Audit for DynamoStore {
    async fn events(
        &self,
        license_id: &LicenseId,
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<Event>> {
        let shard = |i| {
            Query::table(keys::events(license_id, i))
                .below_or(after.map(PagePosition::as_str), SortKey::Any)
        };
        self.merged_page("Query events", shard, limit, event_from, |e| {
            e.event_id.clone()
        })
        .await
    }
}
