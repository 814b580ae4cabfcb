//! The embedded store: one mutex over plain maps, so every operation is
//! trivially atomic. The local server's default and the reference the
//! DynamoDB adapter is compared with.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    ClaimContext, ClaimError, ClaimPlan, ClaimVia, KeyPage, LimitWindow, Page, Rejection,
    SeatCursor, Store, resplit_capacity, seat_position, use_caps,
};
use crate::domain::{
    CodeRecord, Counter, Email, Event, InvitationRecord, InvitationStatus, LicenseRecord,
    SeatRecord, SecretHash, Timestamp, split_capacity,
};
use crate::error::StoreError;

#[derive(Default)]
struct State {
    licenses: HashMap<String, LicenseRecord>,
    /// Seat counters by license id, then code use counters by code id.
    seat_counters: HashMap<String, Vec<Counter>>,
    use_counters: HashMap<String, Vec<Counter>>,
    codes: HashMap<SecretHash, CodeRecord>,
    invitations: HashMap<SecretHash, InvitationRecord>,
    /// Seats by (user id, license id).
    seats: BTreeMap<(String, String), SeatRecord>,
    limits: HashMap<String, LimitWindow>,
    events: Vec<Event>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change
        // (every mutation is checked before it writes), so poison is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn counters(caps: impl IntoIterator<Item = Option<u32>>) -> Vec<Counter> {
    caps.into_iter()
        .zip(0u16..)
        .map(|(cap, index)| Counter {
            index,
            cap,
            used: 0,
        })
        .collect()
}

/// The items after `after` in descending key order, `limit` at a time.
fn key_page<T: Clone>(
    mut items: Vec<(String, T)>,
    after: Option<&str>,
    limit: usize,
) -> KeyPage<T> {
    items.sort_by(|a, b| b.0.cmp(&a.0));
    let rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(key, _)| after.is_none_or(|after| key.as_str() < after))
        .collect();
    let next = (rest.len() > limit).then(|| rest[limit - 1].0.clone());
    KeyPage {
        items: rest.into_iter().take(limit).map(|(_, item)| item).collect(),
        next,
    }
}

fn seats_used(state: &State, license_id: &str) -> u32 {
    state
        .seat_counters
        .get(license_id)
        .map_or(0, |cs| cs.iter().map(|c| c.used).sum())
}

#[async_trait]
impl Store for MemoryStore {
    async fn code(&self, hash: &SecretHash) -> Result<Option<CodeRecord>, StoreError> {
        Ok(self.lock().codes.get(hash).cloned())
    }

    async fn invitation(&self, hash: &SecretHash) -> Result<Option<InvitationRecord>, StoreError> {
        Ok(self.lock().invitations.get(hash).cloned())
    }

    async fn license(&self, license_id: &str) -> Result<Option<LicenseRecord>, StoreError> {
        Ok(self.lock().licenses.get(license_id).cloned())
    }

    async fn claim_context(
        &self,
        license_id: &str,
        user_id: &str,
        code_id: Option<&str>,
        _consistent: bool,
    ) -> Result<ClaimContext, StoreError> {
        let state = self.lock();
        Ok(ClaimContext {
            license: state.licenses.get(license_id).cloned(),
            seat: state
                .seats
                .get(&(user_id.to_owned(), license_id.to_owned()))
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
            .ok_or_else(|| StoreError::Internal("no such seat counter".into()))?;
        if seat_counter.free() == 0 {
            return Err(ClaimError::Rejected(Rejection::SeatShardFull));
        }
        match &plan.via {
            ClaimVia::Code { code_id, shard } => {
                let counter = state
                    .use_counters
                    .get(code_id)
                    .and_then(|cs| cs.get(usize::from(*shard)))
                    .ok_or_else(|| StoreError::Internal("no such use counter".into()))?;
                if counter.free() == 0 {
                    return Err(ClaimError::Rejected(Rejection::UseShardFull));
                }
                if let Some(c) = state
                    .use_counters
                    .get_mut(code_id)
                    .and_then(|cs| cs.get_mut(usize::from(*shard)))
                {
                    c.used += 1;
                }
            }
            ClaimVia::Invitation { token_hash } => {
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
        state.seats.insert(seat_key, seat.clone());
        state.events.push(plan.event.clone());
        Ok(())
    }

    async fn seat(
        &self,
        user_id: &str,
        license_id: &str,
    ) -> Result<Option<SeatRecord>, StoreError> {
        Ok(self
            .lock()
            .seats
            .get(&(user_id.to_owned(), license_id.to_owned()))
            .cloned())
    }

    async fn release_seat(&self, seat: &SeatRecord, event: &Event) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let key = (seat.user_id.clone(), seat.license_id.clone());
        let Some(removed) = state.seats.remove(&key) else {
            return Ok(false);
        };
        if let Some(c) = state
            .seat_counters
            .get_mut(&removed.license_id)
            .and_then(|cs| cs.get_mut(usize::from(removed.shard)))
        {
            c.used = c.used.saturating_sub(1);
        }
        state.events.push(event.clone());
        Ok(true)
    }

    async fn user_seats(
        &self,
        user_id: &str,
        after: Option<&SeatCursor>,
        limit: usize,
    ) -> Result<Page<SeatRecord>, StoreError> {
        let state = self.lock();
        let mut seats: Vec<SeatRecord> = state
            .seats
            .values()
            .filter(|s| s.user_id == user_id)
            .cloned()
            .collect();
        seats.sort_by(|a, b| (b.joined_at, &b.license_id).cmp(&(a.joined_at, &a.license_id)));
        let start = after.map_or(0, |cursor| {
            seats
                .iter()
                .position(|s| (s.joined_at, &s.license_id) < (cursor.joined_at, &cursor.license_id))
                .unwrap_or(seats.len())
        });
        let items: Vec<SeatRecord> = seats.iter().skip(start).take(limit).cloned().collect();
        let next = (start + items.len() < seats.len())
            .then(|| items.last())
            .flatten()
            .map(SeatCursor::after);
        Ok(Page { items, next })
    }

    async fn licenses_with_usage(
        &self,
        license_ids: &[String],
    ) -> Result<Vec<(LicenseRecord, u32)>, StoreError> {
        let state = self.lock();
        Ok(license_ids
            .iter()
            .filter_map(|id| state.licenses.get(id))
            .map(|l| (l.clone(), seats_used(&state, &l.license_id)))
            .collect())
    }

    async fn pending_invitations(
        &self,
        email: &Email,
    ) -> Result<Vec<InvitationRecord>, StoreError> {
        let state = self.lock();
        let mut found: Vec<InvitationRecord> = state
            .invitations
            .values()
            .filter(|i| i.status == InvitationStatus::Pending && i.email.as_ref() == Some(email))
            .cloned()
            .collect();
        found.sort_by_key(|inv| std::cmp::Reverse(inv.created_at));
        Ok(found)
    }

    async fn limit_window(&self, key: &str) -> Result<Option<LimitWindow>, StoreError> {
        Ok(self.lock().limits.get(key).copied())
    }

    async fn limit_hit(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<LimitWindow, StoreError> {
        let mut state = self.lock();
        let window = match state.limits.get(key) {
            Some(w) if w.is_open(window_secs, now) => LimitWindow {
                start: w.start,
                count: w.count + 1,
            },
            _ => LimitWindow {
                start: now.timestamp(),
                count: 1,
            },
        };
        state.limits.insert(key.to_owned(), window);
        Ok(window)
    }

    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<Result<LimitWindow, LimitWindow>, StoreError> {
        let mut state = self.lock();
        let window = match state.limits.get(key) {
            Some(w) if w.is_open(window_secs, now) && w.count >= max => return Ok(Err(*w)),
            Some(w) if w.is_open(window_secs, now) => LimitWindow {
                start: w.start,
                count: w.count + 1,
            },
            _ => LimitWindow {
                start: now.timestamp(),
                count: 1,
            },
        };
        state.limits.insert(key.to_owned(), window);
        Ok(Ok(window))
    }

    async fn limit_release(&self, key: &str, window: LimitWindow) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(w) = state.limits.get_mut(key)
            && w.start == window.start
        {
            w.count = w.count.saturating_sub(1);
        }
        Ok(())
    }

    async fn create_license(&self, license: &LicenseRecord) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.licenses.contains_key(&license.license_id) {
            return Err(StoreError::AlreadyExists(license.license_id.clone()));
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

    async fn create_code(&self, code: &CodeRecord, event: &Event) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.codes.contains_key(&code.code_hash) {
            return Err(StoreError::AlreadyExists(code.code_id.clone()));
        }
        state
            .use_counters
            .insert(code.code_id.clone(), counters(use_caps(code.max_uses)));
        state.codes.insert(code.code_hash.clone(), code.clone());
        state.events.push(event.clone());
        Ok(())
    }

    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &Event,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.invitations.contains_key(&invitation.token_hash) {
            return Err(StoreError::AlreadyExists(invitation.invitation_id.clone()));
        }
        state
            .invitations
            .insert(invitation.token_hash.clone(), invitation.clone());
        state.events.push(event.clone());
        Ok(())
    }

    async fn administered_licenses(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<String>, StoreError> {
        let state = self.lock();
        let mut ids: Vec<String> = state
            .licenses
            .values()
            .filter(|l| l.owner.sub == user_id || l.admins.iter().any(|a| a.sub == user_id))
            .map(|l| l.license_id.clone())
            .filter(|id| after.is_none_or(|after| id.as_str() > after))
            .collect();
        ids.sort();
        let next = (ids.len() > limit).then(|| ids[limit - 1].clone());
        ids.truncate(limit);
        Ok(KeyPage { items: ids, next })
    }

    async fn license_codes(&self, license_id: &str) -> Result<Vec<(CodeRecord, u32)>, StoreError> {
        let state = self.lock();
        let mut codes: Vec<(CodeRecord, u32)> = state
            .codes
            .values()
            .filter(|c| c.license_id == license_id)
            .map(|c| {
                let uses = state
                    .use_counters
                    .get(&c.code_id)
                    .map_or(0, |cs| cs.iter().map(|u| u.used).sum());
                (c.clone(), uses)
            })
            .collect();
        codes.sort_by(|a, b| b.0.code_id.cmp(&a.0.code_id));
        Ok(codes)
    }

    async fn code_by_id(
        &self,
        license_id: &str,
        code_id: &str,
    ) -> Result<Option<CodeRecord>, StoreError> {
        Ok(self
            .lock()
            .codes
            .values()
            .find(|c| c.license_id == license_id && c.code_id == code_id)
            .cloned())
    }

    async fn revoke_code(&self, code: &CodeRecord, event: &Event) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.codes.get_mut(&code.code_hash) {
            Some(stored) if !stored.revoked => {
                stored.revoked = true;
                state.events.push(event.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn license_invitations(
        &self,
        license_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<InvitationRecord>, StoreError> {
        let state = self.lock();
        let items = state
            .invitations
            .values()
            .filter(|i| i.license_id == license_id)
            .map(|i| (i.invitation_id.clone(), i.clone()))
            .collect();
        Ok(key_page(items, after, limit))
    }

    async fn invitation_by_id(
        &self,
        license_id: &str,
        invitation_id: &str,
    ) -> Result<Option<InvitationRecord>, StoreError> {
        Ok(self
            .lock()
            .invitations
            .values()
            .find(|i| i.license_id == license_id && i.invitation_id == invitation_id)
            .cloned())
    }

    async fn close_invitation(
        &self,
        invitation: &InvitationRecord,
        status: InvitationStatus,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.invitations.get_mut(&invitation.token_hash) {
            Some(stored) if stored.status == InvitationStatus::Pending => {
                stored.status = status;
                state.events.push(event.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        fresh: &InvitationRecord,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let pending = state
            .invitations
            .get(&old.token_hash)
            .is_some_and(|i| i.status == InvitationStatus::Pending);
        if !pending || state.invitations.contains_key(&fresh.token_hash) {
            return Ok(false);
        }
        state.invitations.remove(&old.token_hash);
        state
            .invitations
            .insert(fresh.token_hash.clone(), fresh.clone());
        state.events.push(event.clone());
        Ok(true)
    }

    async fn license_seats(
        &self,
        license_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<SeatRecord>, StoreError> {
        let state = self.lock();
        let items = state
            .seats
            .values()
            .filter(|s| s.license_id == license_id)
            .map(|s| (seat_position(s), s.clone()))
            .collect();
        Ok(key_page(items, after, limit))
    }

    async fn events(
        &self,
        license_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<Event>, StoreError> {
        let state = self.lock();
        let items = state
            .events
            .iter()
            .filter(|e| e.license_id == license_id)
            .map(|e| (e.event_id.clone(), e.clone()))
            .collect();
        Ok(key_page(items, before, limit))
    }

    async fn set_seats_total(
        &self,
        license_id: &str,
        total: u32,
        event: &Event,
    ) -> Result<Result<(), u32>, StoreError> {
        let mut state = self.lock();
        let counters = state
            .seat_counters
            .get(license_id)
            .cloned()
            .ok_or_else(|| StoreError::Internal("no seat counters".into()))?;
        let Some(caps) = resplit_capacity(&counters, total) else {
            return Ok(Err(counters.iter().map(|c| c.used).sum()));
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
        Ok(Ok(()))
    }
}
