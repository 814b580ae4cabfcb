//! [`Directory`] in memory.

use async_trait::async_trait;

use super::{MemoryStore, counters, joined_position, newest_first, seats_used};
use crate::domain::{Event, LicenseId, LicenseRecord, SeatRecord, UserId, split_capacity};
use crate::error::StoreError;
use crate::store::{Directory, Page, PagePosition, SeatsChange, resplit_capacity};

#[async_trait]
impl Directory for MemoryStore {
    async fn license(&self, license_id: &LicenseId) -> Result<Option<LicenseRecord>, StoreError> {
        Ok(self.lock().licenses.get(license_id).cloned())
    }

    async fn licenses_with_usage(
        &self,
        license_ids: &[LicenseId],
    ) -> Result<Vec<(LicenseRecord, u32)>, StoreError> {
        let state = self.lock();
        Ok(license_ids
            .iter()
            .filter_map(|id| state.licenses.get(id))
            .map(|l| (l.clone(), seats_used(&state, &l.license_id)))
            .collect())
    }

    async fn create_license(&self, license: &LicenseRecord) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.licenses.contains_key(&license.license_id) {
            return Err(StoreError::AlreadyExists(license.license_id.to_string()));
        }
        state.seat_counters.insert(
            license.license_id.clone(),
            counters(split_capacity(license.seats_total).into_iter().map(Some)),
        );
        state
            .licenses
            .insert(license.license_id.clone(), license.clone());
        Ok(())
    }

    async fn administered_licenses(
        &self,
        user_id: &UserId,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<LicenseId>, StoreError> {
        let state = self.lock();
        let mut ids: Vec<LicenseId> = state
            .licenses
            .values()
            .filter(|l| l.owner.sub == *user_id || l.admins.iter().any(|a| a.sub == *user_id))
            .map(|l| l.license_id.clone())
            .filter(|id| after.is_none_or(|after| id.as_str() > after.as_str()))
            .collect();
        ids.sort();
        ids.truncate(limit + 1);
        Ok(Page::from_lookahead(ids, limit, LicenseId::to_string))
    }

    async fn user_seats(
        &self,
        user_id: &UserId,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<SeatRecord>, StoreError> {
        let state = self.lock();
        let seats = state
            .seats
            .values()
            .filter(|s| s.user_id == *user_id)
            .map(|s| {
                (
                    joined_position(s.joined_at, s.license_id.as_str()),
                    s.clone(),
                )
            })
            .collect();
        Ok(newest_first(seats, after, limit))
    }

    async fn license_seats(
        &self,
        license_id: &LicenseId,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<SeatRecord>, StoreError> {
        let state = self.lock();
        let seats = state
            .seats
            .values()
            .filter(|s| s.license_id == *license_id)
            .map(|s| (joined_position(s.joined_at, s.user_id.as_str()), s.clone()))
            .collect();
        Ok(newest_first(seats, after, limit))
    }

    async fn set_seats_total(
        &self,
        license_id: &LicenseId,
        total: u32,
        event: &Event,
    ) -> Result<SeatsChange, StoreError> {
        let mut state = self.lock();
        let counters = state
            .seat_counters
            .get(license_id)
            .cloned()
            .ok_or_else(|| StoreError::internal("set seats total", "no seat counters"))?;
        let Some(caps) = resplit_capacity(&counters, total) else {
            return Ok(SeatsChange::BelowSeatsInUse(
                counters.iter().map(|c| c.used).sum(),
            ));
        };
        if let Some(cs) = state.seat_counters.get_mut(license_id) {
            for (c, cap) in cs.iter_mut().zip(caps) {
                c.cap = Some(cap);
            }
        }
        if let Some(license) = state.licenses.get_mut(license_id) {
            license.seats_total = total;
        }
        state.events.push(event.clone());
        Ok(SeatsChange::Changed)
    }
}
