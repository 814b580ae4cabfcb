//! [`Codes`] in memory.

use async_trait::async_trait;

use super::{MemoryStore, counters, newest_first};
use crate::domain::{CodeId, CodeRecord, Event, LicenseId, SecretHash};
use crate::error::{StoreError, StoreResult};
use crate::store::{Codes, Page, Paging, Revocation, use_caps};

#[async_trait]
impl Codes for MemoryStore {
    async fn code(&self, hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
        Ok(self.lock().codes.get(hash).cloned())
    }

    async fn create_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<()> {
        let mut state = self.lock();
        if state.codes.contains_key(&code.code_hash) {
            return Err(StoreError::AlreadyExists(code.code_id.to_string()));
        }
        state
            .use_counters
            .insert(code.code_id.clone(), counters(use_caps(code.max_uses)));
        state.codes.insert(code.code_hash.clone(), code.clone());
        state.events.push(event.clone());
        Ok(())
    }

    async fn license_codes(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<(CodeRecord, u32)>> {
        let state = self.lock();
        let codes = state
            .codes
            .values()
            .filter(|c| c.license_id == *license_id)
            .map(|c| {
                let uses = state
                    .use_counters
                    .get(&c.code_id)
                    .map_or(0, |cs| cs.iter().map(|u| u.used).sum());
                (c.code_id.to_string(), (c.clone(), uses))
            })
            .collect();
        Ok(newest_first(codes, paging))
    }

    async fn code_by_id(
        &self,
        license_id: &LicenseId,
        code_id: &CodeId,
    ) -> StoreResult<Option<CodeRecord>> {
        Ok(self
            .lock()
            .codes
            .values()
            .find(|c| c.license_id == *license_id && c.code_id == *code_id)
            .cloned())
    }

    async fn revoke_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<Revocation> {
        let mut state = self.lock();
        match state.codes.get_mut(&code.code_hash) {
            Some(stored) if !stored.revoked => {
                stored.revoked = true;
                state.events.push(event.clone());
                Ok(Revocation::Revoked)
            }
            _ => Ok(Revocation::AlreadyRevoked),
        }
    }
}
