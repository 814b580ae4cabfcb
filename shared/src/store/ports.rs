//! The storage ports, one trait per capability, and the values they trade
//! in. A function that needs one capability takes only that trait
//! (`&dyn Codes`, or `&(impl Codes + ?Sized)` to accept a `&dyn Store`
//! too); the application holds them all as [`super::Store`], whose
//! methods need no trait imports at call sites.

use async_trait::async_trait;

use crate::domain::{
    CodeId, CodeRecord, Counter, DeliveryState, Email, Event, InvitationId, InvitationRecord,
    InvitationStatus, JoinedVia, LicenseId, LicenseRecord, SeatRecord, SecretHash, Suppression,
    Timestamp, TurnedAway, TurnedAwayReason, UserId, Waits,
};
use crate::error::{StoreError, StoreResult};
use crate::store::{Page, Paging};

// ---- claims ----------------------------------------------------------------

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
    /// The new seat. `seat.shard` names the seat counter to increment;
    /// `seat.joined_via` and `seat.via_id` name the code or invitation the
    /// seat is claimed through.
    pub seat: SeatRecord,
    /// What else changes, by `seat.joined_via`.
    pub via: ClaimVia,
    /// The audit event, written in the same transaction.
    pub event: Event,
    /// A guessing-guard slot to give back in the same transaction (the
    /// attempt is not a guess once it takes a seat): its limit key and the
    /// window it was counted in. A window that moved on meanwhile refuses
    /// the claim as `Rejection::RefundMoved`.
    pub refund: Option<(String, LimitWindow)>,
    /// The idempotency token (at most 36 characters): the same plan sent
    /// again after an unknown outcome carries the same token, so DynamoDB
    /// answers with the first attempt's result instead of applying it twice.
    /// A different plan gets a different token.
    pub token: String,
    /// The claim was planned without reading the license: its rules
    /// (expiry at `seat.joined_at`, email domains of `seat.email`) are
    /// checked inside the transaction, on the copy the seat counter shard
    /// carries. A shard without that copy refuses, like a full one.
    pub rules_unchecked: bool,
}

/// The part of a claim that depends on how the seat is joined; its variants
/// are those of [`JoinedVia`], with what the store needs beyond the seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimVia {
    /// Count one use on use counter `use_shard` of the code `code_id` (the
    /// seat's `via_id`), refusing at its cap.
    Code { code_id: CodeId, use_shard: u16 },
    /// Move the invitation (stored under its token hash) from pending to
    /// accepted.
    Invite { token_hash: SecretHash },
}

impl ClaimVia {
    pub fn kind(&self) -> JoinedVia {
        match self {
            Self::Code { .. } => JoinedVia::Code,
            Self::Invite { .. } => JoinedVia::Invite,
        }
    }
}

impl ClaimPlan {
    /// A plan whose seat says one way of joining and whose `via` another,
    /// or another code, is a bug in the caller.
    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.via.kind() != self.seat.joined_via {
            return Err(StoreError::internal(
                "claim plan",
                "the seat's joinedVia and the plan's via differ",
            ));
        }
        match &self.via {
            ClaimVia::Code { code_id, .. } if *code_id != *self.seat.via_id => Err(
                StoreError::internal("claim plan", "the seat's viaId and the plan's code differ"),
            ),
            _ => Ok(()),
        }
    }
}

/// Why an atomic claim was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The user holds a seat on the license already.
    AlreadyMember,
    /// The chosen seat counter reached its cap (or, for a plan with
    /// `rules_unchecked`, the license's rules refused: the two are one
    /// condition on one item, so they read the same).
    SeatShardFull,
    /// The chosen code use counter reached its cap.
    UseShardFull,
    /// The invitation is no longer pending.
    InvitationNotPending,
    /// Another transaction touched the same items (`TransactionConflict`),
    /// or the write was throttled inside the transaction.
    Contended,
    /// The guard window of `ClaimPlan::refund` moved on (or is empty):
    /// there is nothing to give back, so the claim goes again without it.
    RefundMoved,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("claim rejected: {0:?}")]
    Rejected(Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`Claims::release_seat`] did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The seat is gone, its counter down by one, the event recorded.
    Released,
    /// There was no such seat (any more); nothing was written.
    AlreadyGone,
}

/// How long a member who left is remembered as having left: a repeated
/// leave within this time (a retry after an unknown outcome) answers like
/// the first, not "no such license".
pub const DEPARTURE_MEMORY_SECS: i64 = 24 * 3600;

#[async_trait]
pub trait Claims: Send + Sync {
    /// The license, the user's seat on it, its seat counters and (with
    /// `code_id`) the code's use counters. `consistent` asks for strongly
    /// consistent reads (used to confirm "full" before saying so).
    async fn claim_context(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        code_id: Option<&CodeId>,
        consistent: bool,
    ) -> StoreResult<ClaimContext>;

    /// Applies a claim atomically: seat created, seat counter incremented,
    /// code use counted or invitation accepted; or nothing at all. One
    /// attempt: contention is `Rejected(Contended)`, for the caller to retry.
    async fn claim(&self, plan: &ClaimPlan) -> Result<(), ClaimError>;

    async fn seat(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
    ) -> StoreResult<Option<SeatRecord>>;

    /// Deletes the seat, decrements its counter, records `event` and notes
    /// the departure (for [`Claims::departed_at`]) atomically. An unknown
    /// outcome is resolved by sending the same transaction again.
    async fn release_seat(&self, seat: &SeatRecord, event: &Event) -> StoreResult<Release>;

    /// When the user last gave up a seat on the license, if within
    /// [`DEPARTURE_MEMORY_SECS`] of `now`.
    async fn departed_at(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>>;
}

// ---- codes -----------------------------------------------------------------

/// What [`Codes::revoke_code`] did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    /// It was revoked before; nothing was written.
    AlreadyRevoked,
}

#[async_trait]
pub trait Codes: Send + Sync {
    async fn code(&self, hash: &SecretHash) -> StoreResult<Option<CodeRecord>>;

    /// Creates a code with its use counters, and its event.
    async fn create_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<()>;

    /// One page of a license's codes with their uses, newest first. Reads
    /// the page's codes and their use counters, whatever else the license
    /// holds.
    async fn license_codes(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<(CodeRecord, u32)>>;

    async fn code_by_id(
        &self,
        license_id: &LicenseId,
        code_id: &CodeId,
    ) -> StoreResult<Option<CodeRecord>>;

    /// Marks the code revoked and records `event`.
    async fn revoke_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<Revocation>;
}

// ---- invitations -----------------------------------------------------------

/// What a change that only applies to a pending invitation did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Done,
    /// The invitation was no longer pending; nothing was written.
    NotPending,
}

#[async_trait]
pub trait Invitations: Send + Sync {
    async fn invitation(&self, hash: &SecretHash) -> StoreResult<Option<InvitationRecord>>;

    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<()>;

    /// Invitations addressed to `email` that are stored as pending.
    async fn pending_invitations(&self, email: &Email) -> StoreResult<Vec<InvitationRecord>>;

    /// Invitations of a license, newest first (ids sort by time).
    async fn license_invitations(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>>;

    /// One page of the invitations of a license whose status at `now` is
    /// `status`, read from the invitations of that status alone (a page
    /// reads a page, however many others the license holds). Accepted,
    /// declined and revoked ones come newest first; pending and expired
    /// ones by expiry, latest first (pending ones that never expire before
    /// all others, newest first). The listing lags a moment behind status
    /// changes: an item may show a status it just left.
    async fn license_invitations_by_status(
        &self,
        license_id: &LicenseId,
        status: InvitationStatus,
        now: Timestamp,
        paging: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>>;

    async fn invitation_by_id(
        &self,
        license_id: &LicenseId,
        invitation_id: &InvitationId,
    ) -> StoreResult<Option<InvitationRecord>>;

    /// Moves a pending invitation to `status` (declined or revoked) and
    /// records `event`.
    async fn close_invitation(
        &self,
        invitation: &InvitationRecord,
        status: InvitationStatus,
        event: &Event,
    ) -> StoreResult<Transition>;

    /// Replaces a pending invitation with `fresh` (same id, new token and
    /// expiry): the old token stops working in the same write.
    async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        fresh: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<Transition>;

    /// The sender's claim on a queued invitation: replaces `queued` with
    /// `fresh` (its new token, delivery `Sending`) only while it is stored
    /// pending and `Queued`. However often the queue delivers one message,
    /// and however many senders take it at once, one claim wins: the mail
    /// goes out at most once.
    async fn claim_delivery(
        &self,
        queued: &InvitationRecord,
        fresh: &InvitationRecord,
    ) -> StoreResult<Transition>;

    /// Sets the delivery of the invitation stored as `invitation` (by its
    /// token hash) from `from` to `to`, at `at`; `NotPending` when it is not
    /// `from` (or gone).
    async fn set_delivery(
        &self,
        invitation: &InvitationRecord,
        from: DeliveryState,
        to: DeliveryState,
        at: Timestamp,
    ) -> StoreResult<Transition>;
}

// ---- directory -------------------------------------------------------------

/// What [`Directory::set_seats_total`] did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatsChange {
    Changed,
    /// The total asked for is below the seats in use (this many); nothing
    /// was written.
    BelowSeatsInUse(u32),
}

#[async_trait]
pub trait Directory: Send + Sync {
    async fn license(&self, license_id: &LicenseId) -> StoreResult<Option<LicenseRecord>>;

    /// Licenses by id with their seats in use; unknown ids are left out.
    async fn licenses_with_usage(
        &self,
        license_ids: &[LicenseId],
    ) -> StoreResult<Vec<(LicenseRecord, u32)>>;

    /// Creates a license with its seat counters and its owner's and admins'
    /// entries; `AlreadyExists` if the id is taken.
    async fn create_license(&self, license: &LicenseRecord) -> StoreResult<()>;

    /// Ids of the licenses `user_id` owns or administers, in id order.
    async fn administered_licenses(
        &self,
        user_id: &UserId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<LicenseId>>;

    /// The user's seats, newest first.
    async fn user_seats(
        &self,
        user_id: &UserId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>>;

    /// Which of `emails` hold a seat on the license, in the order given:
    /// one lookup per address, whatever the license's size. May lag a
    /// moment behind a seat just claimed or freed.
    async fn members_among(
        &self,
        license_id: &LicenseId,
        emails: &[Email],
    ) -> StoreResult<Vec<Email>>;

    /// Seats of a license, newest first.
    async fn license_seats(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>>;

    /// Sets `seatsTotal`, re-splitting the counter caps so no shard is below
    /// its seats in use, and records `event`.
    async fn set_seats_total(
        &self,
        license_id: &LicenseId,
        total: u32,
        event: &Event,
    ) -> StoreResult<SeatsChange>;
}

// ---- audit -----------------------------------------------------------------

#[async_trait]
pub trait Audit: Send + Sync {
    /// The audit trail, newest first.
    async fn events(&self, license_id: &LicenseId, paging: Paging<'_>) -> StoreResult<Page<Event>>;
}

// ---- demand ----------------------------------------------------------------

/// Who a license turned away, and how long its students waited for a seat
/// (for its admins; `docs/capacity.md`, "Demand").
#[async_trait]
pub trait Demand: Send + Sync {
    /// `user_id` was turned away from `license_id` for `reason` at `at`:
    /// one more refused attempt on that UTC day, and the student's latest
    /// refusal. Both lapse 31 days later.
    async fn record_turned_away(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        reason: TurnedAwayReason,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// What was recorded since `since`: the students whose latest refusal
    /// is at or after it, and the refused attempts of each UTC day from
    /// `since`'s day on (days without any are left out).
    async fn turned_away(
        &self,
        license_id: &LicenseId,
        since: Timestamp,
    ) -> StoreResult<TurnedAway>;

    /// The time-to-seat histogram of the license's claims so far.
    async fn seat_waits(&self, license_id: &LicenseId) -> StoreResult<Waits>;

    /// Which of `users` hold a seat on `license_id` now.
    async fn seated_among(
        &self,
        license_id: &LicenseId,
        users: &[UserId],
    ) -> StoreResult<std::collections::HashSet<UserId>>;
}

// ---- limits ----------------------------------------------------------------

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

/// What [`Limits::limit_acquire`] did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// The event was counted in this window.
    Counted(LimitWindow),
    /// The open window is full; nothing was counted.
    Full(LimitWindow),
}

#[async_trait]
pub trait Limits: Send + Sync {
    /// Counts one event in the open window of `key` (or opens a new one),
    /// unless the open window already holds `max`: atomic under any
    /// concurrency, so `max` is never exceeded.
    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> StoreResult<Acquired>;

    /// Takes back one event counted by `limit_acquire` in `window`.
    async fn limit_release(&self, key: &str, window: LimitWindow) -> StoreResult<()>;
}

// ---- suppressions ----------------------------------------------------------

/// Addresses the mail provider reported as bouncing or complaining, by
/// hash ([`crate::domain::Email::hash`]): every send path asks first.
#[async_trait]
pub trait Suppressions: Send + Sync {
    /// The suppression of the address with hash `address`, if any.
    async fn suppression(&self, address: &SecretHash) -> StoreResult<Option<Suppression>>;

    /// Records a suppression; a later report replaces an earlier one.
    async fn suppress(&self, suppression: &Suppression) -> StoreResult<()>;
}
