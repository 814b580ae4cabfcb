//! [`Suppressions`] in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::{SecretHash, Suppression};
use crate::error::StoreResult;
use crate::store::Suppressions;

#[async_trait]
impl Suppressions for MemoryStore {
    async fn suppression(&self, address: &SecretHash) -> StoreResult<Option<Suppression>> {
        Ok(self.lock().suppressions.get(address).cloned())
    }

    async fn suppress(&self, suppression: &Suppression) -> StoreResult<()> {
        self.lock()
            .suppressions
            .insert(suppression.address.clone(), suppression.clone());
        Ok(())
    }
}
