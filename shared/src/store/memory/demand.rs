//! [`Demand`] in memory: what the DynamoDB adapter keeps in sharded items,
//! kept here in maps, with the same 31-day lapse.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::Duration;

use super::MemoryStore;
use crate::domain::{
    LicenseId, TURNED_AWAY_KEPT_DAYS, Timestamp, TurnedAway, TurnedAwayReason, TurnedAwayStudent,
    UserId, Waits,
};
use crate::error::StoreResult;
use crate::store::Demand;

#[async_trait]
impl Demand for MemoryStore {
    async fn record_turned_away(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        reason: TurnedAwayReason,
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut state = self.lock();
        let key = (license_id.clone(), user_id.clone());
        let lapsed = state
            .turned_away
            .get(&key)
            .is_some_and(|s| s.last + Duration::days(TURNED_AWAY_KEPT_DAYS) <= at);
        if lapsed {
            state.turned_away.remove(&key);
        }
        let student = state
            .turned_away
            .entry(key)
            .or_insert_with(|| TurnedAwayStudent {
                user_id: user_id.clone(),
                first: at,
                last: at,
                attempts: 0,
                reason,
            });
        student.last = student.last.max(at);
        student.attempts += 1;
        student.reason = reason;
        state
            .refused_days
            .entry((license_id.clone(), at.date_naive()))
            .or_default()
            .add(reason, 1);
        Ok(())
    }

    async fn turned_away(
        &self,
        license_id: &LicenseId,
        since: Timestamp,
    ) -> StoreResult<TurnedAway> {
        let state = self.lock();
        let students = state
            .turned_away
            .iter()
            .filter(|((l, _), s)| l == license_id && s.last >= since)
            .map(|(_, s)| s.clone())
            .collect();
        let days = state
            .refused_days
            .iter()
            .filter(|((l, day), _)| l == license_id && *day >= since.date_naive())
            .map(|((_, day), n)| (*day, *n))
            .collect();
        Ok(TurnedAway { students, days })
    }

    async fn seat_waits(&self, license_id: &LicenseId) -> StoreResult<Waits> {
        Ok(self
            .lock()
            .waits
            .get(license_id)
            .copied()
            .unwrap_or_default())
    }

    async fn seated_among(
        &self,
        license_id: &LicenseId,
        users: &[UserId],
    ) -> StoreResult<HashSet<UserId>> {
        let state = self.lock();
        Ok(users
            .iter()
            .filter(|u| {
                state
                    .seats
                    .contains_key(&((*u).clone(), license_id.clone()))
            })
            .cloned()
            .collect())
    }
}
