//! The storage port: what the use cases need from a database, in domain
//! terms. Two adapters implement it, [`MemoryStore`] (embedded default) and
//! [`DynamoStore`]; the contract tests in `tests/` hold both to the same
//! behaviour.

mod dynamo;
mod memory;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

use async_trait::async_trait;

use crate::domain::{
    CodeRecord, Counter, Email, Event, InvitationRecord, InvitationStatus, LicenseRecord,
    SeatRecord, SecretHash, Timestamp,
};
use crate::error::StoreError;

/// Everything a claim decision needs about one license, read in one go.
#[derive(Debug, Clone, Default)]
pub struct ClaimContext {
    pub license: Option<LicenseRecord>,
    /// The caller's existing seat on the license, if any.
    pub seat: Option<SeatRecord>,
    pub seat_counters: Vec<Counter>,
    /// The code's use counters, when the claim goes through a code.
    pub use_counters: Vec<Counter>,
}

/// What a claim changes, all or nothing.
#[derive(Debug, Clone)]
pub struct ClaimPlan {
    /// The new seat; `seat.shard` names the seat counter to increment.
    pub seat: SeatRecord,
    pub via: ClaimVia,
    /// The audit event, written in the same transaction.
    pub event: Event,
}

#[derive(Debug, Clone)]
pub enum ClaimVia {
    /// Increment use counter `shard` of the code, refusing at its cap.
    Code { code_id: String, shard: u16 },
    /// Move the invitation from pending to accepted.
    Invitation { token_hash: SecretHash },
}

/// Why an atomic claim was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The user holds a seat on the license already.
    AlreadyMember,
    /// The chosen seat counter reached its cap.
    SeatShardFull,
    /// The chosen code use counter reached its cap.
    UseShardFull,
    /// The invitation is no longer pending.
    InvitationNotPending,
    /// Another transaction touched the same items (`TransactionConflict`).
    Contended,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("claim rejected: {0:?}")]
    Rejected(Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A rate-limit window: it opens at the first event and lasts a fixed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitWindow {
    /// Unix seconds of the first event in the window.
    pub start: i64,
    pub count: u32,
}

impl LimitWindow {
    pub fn is_open(&self, window_secs: u64, now: Timestamp) -> bool {
        now.timestamp() < self.end(window_secs)
    }

    pub fn end(&self, window_secs: u64) -> i64 {
        self.start
            .saturating_add(i64::try_from(window_secs).unwrap_or(i64::MAX))
    }

    pub fn retry_after(&self, window_secs: u64, now: Timestamp) -> u64 {
        u64::try_from(self.end(window_secs) - now.timestamp())
            .unwrap_or(0)
            .max(1)
    }
}

/// Position after the last seat of a page of "My Invitations".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatCursor {
    pub joined_at: Timestamp,
    pub license_id: String,
}

impl SeatCursor {
    pub fn after(seat: &SeatRecord) -> Self {
        Self {
            joined_at: seat.joined_at,
            license_id: seat.license_id.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<SeatCursor>,
}

/// A page of an admin listing; `next` is the store's position string
/// (an id, or `<joinedAt>#<userId>` for seats) to pass back as `after`.
#[derive(Debug, Clone)]
pub struct KeyPage<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Where a seat sorts in a license's seat list (newest first).
pub fn seat_position(seat: &SeatRecord) -> String {
    format!(
        "{}#{}",
        seat.joined_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        seat.user_id
    )
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn code(&self, hash: &SecretHash) -> Result<Option<CodeRecord>, StoreError>;
    async fn invitation(&self, hash: &SecretHash) -> Result<Option<InvitationRecord>, StoreError>;
    async fn license(&self, license_id: &str) -> Result<Option<LicenseRecord>, StoreError>;

    /// The license, the user's seat on it, its seat counters and (with
    /// `code_id`) the code's use counters. `consistent` asks for strongly
    /// consistent reads (used to confirm "full" before saying so).
    async fn claim_context(
        &self,
        license_id: &str,
        user_id: &str,
        code_id: Option<&str>,
        consistent: bool,
    ) -> Result<ClaimContext, StoreError>;

    /// Applies a claim atomically: seat created, seat counter incremented,
    /// code use counted or invitation accepted; or nothing at all.
    async fn claim(&self, plan: &ClaimPlan) -> Result<(), ClaimError>;

    async fn seat(&self, user_id: &str, license_id: &str)
    -> Result<Option<SeatRecord>, StoreError>;

    /// Deletes the seat, decrements its counter and records `event`
    /// atomically; `false` if the seat was already gone.
    async fn release_seat(&self, seat: &SeatRecord, event: &Event) -> Result<bool, StoreError>;

    /// The user's seats, newest first, `limit` at a time.
    async fn user_seats(
        &self,
        user_id: &str,
        after: Option<&SeatCursor>,
        limit: usize,
    ) -> Result<Page<SeatRecord>, StoreError>;

    /// Licenses by id with their seats in use; unknown ids are left out.
    async fn licenses_with_usage(
        &self,
        license_ids: &[String],
    ) -> Result<Vec<(LicenseRecord, u32)>, StoreError>;

    /// Invitations addressed to `email` that are stored as pending.
    async fn pending_invitations(&self, email: &Email)
    -> Result<Vec<InvitationRecord>, StoreError>;

    async fn limit_window(&self, key: &str) -> Result<Option<LimitWindow>, StoreError>;

    /// Counts one event: in the open window, or in a new one opened now.
    async fn limit_hit(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<LimitWindow, StoreError>;

    /// Counts one event only while the window holds fewer than `max`;
    /// otherwise returns the full window.
    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<Result<LimitWindow, LimitWindow>, StoreError>;

    /// Takes back one event counted by `limit_acquire` in `window`.
    async fn limit_release(&self, key: &str, window: LimitWindow) -> Result<(), StoreError>;

    /// Creates a license with its seat counters and its owner's and admins'
    /// entries; `AlreadyExists` if the id is taken.
    async fn create_license(&self, license: &LicenseRecord) -> Result<(), StoreError>;
    /// Creates a code with its use counters, and its event.
    async fn create_code(&self, code: &CodeRecord, event: &Event) -> Result<(), StoreError>;
    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &Event,
    ) -> Result<(), StoreError>;

    // ---- license administration -------------------------------------------

    /// Ids of the licenses `user_id` owns or administers, in id order.
    async fn administered_licenses(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<String>, StoreError>;

    /// Every code of a license with its uses, newest first.
    async fn license_codes(&self, license_id: &str) -> Result<Vec<(CodeRecord, u32)>, StoreError>;

    async fn code_by_id(
        &self,
        license_id: &str,
        code_id: &str,
    ) -> Result<Option<CodeRecord>, StoreError>;

    /// Marks the code revoked and records `event`; `false` if it already was.
    async fn revoke_code(&self, code: &CodeRecord, event: &Event) -> Result<bool, StoreError>;

    /// Invitations of a license, newest first (ids sort by time), after `after`.
    async fn license_invitations(
        &self,
        license_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<InvitationRecord>, StoreError>;

    async fn invitation_by_id(
        &self,
        license_id: &str,
        invitation_id: &str,
    ) -> Result<Option<InvitationRecord>, StoreError>;

    /// Moves a pending invitation to `status` (declined or revoked) and
    /// records `event`; `false` if it was no longer pending.
    async fn close_invitation(
        &self,
        invitation: &InvitationRecord,
        status: InvitationStatus,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// Replaces a pending invitation with `fresh` (same id, new token and
    /// expiry): the old token stops working in the same write. `false` if
    /// the invitation was no longer pending.
    async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        fresh: &InvitationRecord,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// Seats of a license, newest first, after a [`seat_position`].
    async fn license_seats(
        &self,
        license_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<SeatRecord>, StoreError>;

    /// The audit trail, newest first, events older than `before` (an event id).
    async fn events(
        &self,
        license_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<KeyPage<Event>, StoreError>;

    /// Sets `seatsTotal`, re-splitting the counter caps so no shard is below
    /// its seats in use. `Err(used)` when `total` is below the seats in use.
    async fn set_seats_total(
        &self,
        license_id: &str,
        total: u32,
        event: &Event,
    ) -> Result<Result<(), u32>, StoreError>;
}

/// New caps for the seat counters: at least each shard's `used`, summing to
/// `total`, the rest spread evenly. `None` when `total` is below the seats in use.
pub fn resplit_capacity(counters: &[Counter], total: u32) -> Option<Vec<u32>> {
    let used: u32 = counters.iter().map(|c| c.used).sum();
    let spare = total.checked_sub(used)?;
    let n = u32::try_from(counters.len()).ok().filter(|n| *n > 0)?;
    Some(
        counters
            .iter()
            .zip(0u32..)
            .map(|(c, i)| c.used + spare / n + u32::from(i < spare % n))
            .collect(),
    )
}

/// The caps of a code's use counters: split `max_uses`, or unlimited.
pub(crate) fn use_caps(max_uses: Option<u32>) -> Vec<Option<u32>> {
    match max_uses {
        Some(max) => crate::domain::split_capacity(max)
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None; usize::from(crate::domain::COUNTER_SHARDS)],
    }
}
