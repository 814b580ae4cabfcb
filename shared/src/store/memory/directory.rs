//! [`Directory`] in memory.

use async_trait::async_trait;

use super::{MemoryStore, counters, joined_position, newest_first, seats_used};
use crate::domain::{Email, Event, LicenseId, LicenseRecord, SeatRecord, UserId, split_capacity};
use crate::error::{StoreError, StoreResult};
use crate::store::{Directory, Page, Paging, SeatsChange, resplit_capacity};

impl MemoryStore {
    /// A page of seats, newest first: `id` keeps a seat by the id that
    /// follows its join time in its position.
    fn seats_page(
        &self,
        paging: Paging<'_>,
        id: impl Fn(&SeatRecord) -> Option<&str>,
    ) -> Page<SeatRecord> {
        let state = self.lock();
        let seats = state
            .seats
            .values()
            .filter_map(|s| Some((joined_position(s.joined_at, id(s)?), s.clone())))
            .collect();
        newest_first(seats, paging)
    }
}

#[async_trait]
impl Directory for MemoryStore {
    async fn license(&self, license_id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
        Ok(self.lock().licenses.get(license_id).cloned())
    }

    async fn licenses_with_usage(
        &self,
        license_ids: &[LicenseId],
    ) -> StoreResult<Vec<(LicenseRecord, u32)>> {
        let state = self.lock();
        Ok(license_ids
            .iter()
            .filter_map(|id| state.licenses.get(id))
            .map(|l| (l.clone(), seats_used(&state, &l.license_id)))
            .collect())
    }

    async fn create_license(&self, license: &LicenseRecord) -> StoreResult<()> {
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
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<LicenseId>> {
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
        paging: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>> {
        Ok(self.seats_page(paging, |s| {
            (s.user_id == *user_id).then_some(s.license_id.as_str())
        }))
    }

    async fn members_among(
        &self,
        license_id: &LicenseId,
        emails: &[Email],
    ) -> StoreResult<Vec<Email>> {
        let state = self.lock();
        Ok(emails
            .iter()
            .filter(|e| {
                state
                    .seats
                    .values()
                    .any(|s| s.license_id == *license_id && s.email == **e)
            })
            .cloned()
            .collect())
    }

    async fn license_seats(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>> {
        Ok(self.seats_page(paging, |s| {
            (s.license_id == *license_id).then_some(s.user_id.as_str())
        }))
    }

    async fn set_seats_total(
        &self,
        license_id: &LicenseId,
        total: u32,
        event: &Event,
    ) -> StoreResult<SeatsChange> {
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
