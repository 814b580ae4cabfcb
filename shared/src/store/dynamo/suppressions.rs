//! [`Suppressions`] on DynamoDB: one item per suppressed address hash,
//! written with an unconditional `PutItem` (the latest report wins).

use async_trait::async_trait;

use super::DynamoStore;
use super::error::classify;
use super::items::{suppression_from, suppression_item};
use super::keys;
use crate::domain::{SecretHash, Suppression};
use crate::error::StoreResult;
use crate::store::Suppressions;

#[async_trait]
impl Suppressions for DynamoStore {
    async fn suppression(&self, address: &SecretHash) -> StoreResult<Option<Suppression>> {
        self.get("GetItem suppression", &keys::suppression(address), false)
            .await?
            .map(suppression_from)
            .transpose()
    }

    async fn suppress(&self, suppression: &Suppression) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(suppression_item(suppression)?))
            .send()
            .await
            .map_err(|err| classify("PutItem suppression", &err))?;
        Ok(())
    }
}
