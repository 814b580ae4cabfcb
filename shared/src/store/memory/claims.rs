//! [`Claims`] in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::{CodeId, Event, InvitationStatus, LicenseId, SeatRecord, Timestamp, UserId};
use crate::error::{StoreError, StoreResult};
use crate::store::{
    ClaimContext, ClaimError, ClaimPlan, ClaimVia, Claims, DEPARTURE_MEMORY_SECS, Rejection,
    Release,
};

#[async_trait]
impl Claims for MemoryStore {
    async fn claim_context(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        code_id: Option<&CodeId>,
        _consistent: bool,
    ) -> StoreResult<ClaimContext> {
        let state = self.lock();
        Ok(ClaimContext {
            license: state.licenses.get(license_id).cloned(),
            seat: state
                .seats
                .get(&(user_id.clone(), license_id.clone()))
                .cloned(),
            seat_counters: state
                .seat_counters
                .get(license_id)
                .cloned()
                .unwrap_or_default(),
            use_counters: code_id
                .and_then(|id| state.use_counters.get(id).cloned())
                .unwrap_or_default(),
        })
    }

    async fn claim(&self, plan: &ClaimPlan) -> Result<(), ClaimError> {
        plan.check()?;
        let mut state = self.lock();
        let seat = &plan.seat;
        let seat_key = (seat.user_id.clone(), seat.license_id.clone());
        if state.seats.contains_key(&seat_key) {
            return Err(ClaimError::Rejected(Rejection::AlreadyMember));
        }
        let seat_counter = state
            .seat_counters
            .get(&seat.license_id)
            .and_then(|cs| cs.get(usize::from(seat.shard)))
            .ok_or_else(|| StoreError::internal("claim", "no such seat counter"))?;
        if seat_counter.free() == 0 {
            return Err(ClaimError::Rejected(Rejection::SeatShardFull));
        }
        // As DynamoDB's shard condition, which carries the license's rules.
        if plan.rules_unchecked
            && state
                .licenses
                .get(&seat.license_id)
                .is_none_or(|license| license.refusal(&seat.email, seat.joined_at).is_some())
        {
            return Err(ClaimError::Rejected(Rejection::SeatShardFull));
        }
        // As DynamoDB's condition: the same window, with a slot to give back.
        if let Some((key, window)) = &plan.refund {
            let open = state
                .limits
                .get(key)
                .is_some_and(|w| w.start == window.start && w.count > 0);
            if !open {
                return Err(ClaimError::Rejected(Rejection::RefundMoved));
            }
        }
        match &plan.via {
            ClaimVia::Code { code_id, use_shard } => {
                let counter = state
                    .use_counters
                    .get(code_id)
                    .and_then(|cs| cs.get(usize::from(*use_shard)))
                    .ok_or_else(|| StoreError::internal("claim", "no such use counter"))?;
                if counter.free() == 0 {
                    return Err(ClaimError::Rejected(Rejection::UseShardFull));
                }
                if let Some(c) = state
                    .use_counters
                    .get_mut(code_id)
                    .and_then(|cs| cs.get_mut(usize::from(*use_shard)))
                {
                    c.used += 1;
                }
            }
            ClaimVia::Invite { token_hash } => {
                let invitation = state
                    .invitations
                    .get_mut(token_hash)
                    .filter(|inv| inv.status == InvitationStatus::Pending)
                    .ok_or(ClaimError::Rejected(Rejection::InvitationNotPending))?;
                invitation.status = InvitationStatus::Accepted;
            }
        }
        if let Some(c) = state
            .seat_counters
            .get_mut(&seat.license_id)
            .and_then(|cs| cs.get_mut(usize::from(seat.shard)))
        {
            c.used += 1;
        }
        if let Some(bucket) = seat.wait_bucket() {
            state.waits.entry(seat.license_id.clone()).or_default()[bucket] += 1;
        }
        if let Some((key, _)) = &plan.refund
            && let Some(w) = state.limits.get_mut(key)
        {
            w.count -= 1;
        }
        state.seats.insert(seat_key, seat.clone());
        state.events.push(plan.event.clone());
        Ok(())
    }

    async fn seat(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
    ) -> StoreResult<Option<SeatRecord>> {
        Ok(self
            .lock()
            .seats
            .get(&(user_id.clone(), license_id.clone()))
            .cloned())
    }

    async fn release_seat(&self, seat: &SeatRecord, event: &Event) -> StoreResult<Release> {
        let mut state = self.lock();
        let key = (seat.user_id.clone(), seat.license_id.clone());
        let Some(removed) = state.seats.remove(&key) else {
            return Ok(Release::AlreadyGone);
        };
        if let Some(c) = state
            .seat_counters
            .get_mut(&removed.license_id)
            .and_then(|cs| cs.get_mut(usize::from(removed.shard)))
        {
            c.used = c.used.saturating_sub(1);
        }
        state.events.push(event.clone());
        state.departures.insert(key, event.at);
        Ok(Release::Released)
    }

    async fn departed_at(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        Ok(self
            .lock()
            .departures
            .get(&(user_id.clone(), license_id.clone()))
            .copied()
            .filter(|at| (now - *at).num_seconds() < DEPARTURE_MEMORY_SECS))
    }
}
