//! The seat-claim algorithm, shared by code redemption and invite
//! acceptance. Read this file top to bottom to know how a seat is taken.
//!
//! 1. Read the license, the caller's seat on it, and the sharded seat
//!    counters (plus the code's use counters) in one round trip — for a
//!    code this container has seen before, in the same round trip as the
//!    code itself.
//! 2. Already a member? Answer with that seat: never a second one.
//! 3. Check the license (expiry, email domains), pick a seat counter shard
//!    with free capacity (weighted by what it has free) and, for a code, a
//!    use counter shard.
//! 4. Apply the claim atomically (one DynamoDB transaction: seat item with
//!    `attribute_not_exists`, counter `used < cap`, code use or invitation
//!    status). The per-user seat item is what makes retries, duplicates and
//!    code-plus-invite races take at most one seat.
//! 5. On a full shard, re-read with strong consistency and pick again; only
//!    a consistent read showing every shard full answers "no seats". On
//!    contention or throttling, back off with full jitter, a bounded number
//!    of times, then answer `503` with nothing written.

use std::time::Duration;

use crate::App;
use crate::domain::{
    Caller, CodeRecord, Counter, Email, Event, EventKind, InvitationRecord, InvitationStatus,
    License, LicenseId, LicenseRecord, LicenseSummary, Seat, SeatRecord,
};
use crate::error::{ApiError, StoreError};
use crate::store::{ClaimContext, ClaimError, ClaimPlan, ClaimVia, Rejection};

/// Attempts in all; each full shard found costs one, and every refusal
/// means another claim made progress, so this bound is never the limit
/// for a correct answer under honest contention.
const MAX_ATTEMPTS: u32 = 40;
/// Retries after `TransactionConflict` or throttling before answering 503.
const MAX_CONTENTION_RETRIES: u32 = 6;
const BACKOFF_BASE_MS: u64 = 10;
const BACKOFF_CAP_MS: u64 = 400;

/// What the caller is joining through.
pub(crate) enum Through<'a> {
    Code(&'a CodeRecord),
    Invitation(&'a InvitationRecord),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub license: License,
    pub seat: Seat,
    pub already_member: bool,
}

/// Why a claim was refused, with the license when the refusal is one its
/// owner could help with (no seats, code used up, license expired): the
/// claim has just read it, so nobody needs to read it again to say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: ApiError,
    pub license: Option<LicenseSummary>,
}

impl Refusal {
    fn about(error: ApiError, license: &LicenseRecord) -> Self {
        Self {
            error,
            license: Some(license.summary()),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            license: None,
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

pub(crate) async fn claim_seat(
    app: &App,
    caller: &Caller,
    email: &Email,
    license_id: &LicenseId,
    through: Through<'_>,
    mut prefetched: Option<ClaimContext>,
) -> Result<Claimed, Refusal> {
    let user_id = &caller.user_id;
    let code_id = match &through {
        Through::Code(code) => Some(&code.code_id),
        Through::Invitation(_) => None,
    };
    let mut consistent = false;
    let mut contention = 0;
    for _ in 0..MAX_ATTEMPTS {
        let ctx = match prefetched.take() {
            // Read speculatively alongside the code (see redeem.rs).
            Some(ctx) => ctx,
            None => {
                app.store
                    .claim_context(license_id, user_id, code_id, consistent)
                    .await?
            }
        };
        let Some(license) = ctx.license else {
            return Err(match through {
                Through::Code(_) => ApiError::CodeNotFound,
                Through::Invitation(_) => ApiError::InviteNotFound,
            }
            .into());
        };
        let seats_used: u32 = ctx.seat_counters.iter().map(|c| c.used).sum();
        if let Some(seat) = ctx.seat {
            return Ok(Claimed {
                license: license.view(seats_used),
                seat: seat.view(),
                already_member: true,
            });
        }
        let now = app.now();
        if let Some(refusal) = license.refusal(email, now) {
            return Err(Refusal::about(refusal, &license));
        }
        let Some(shard) = pick_shard(&ctx.seat_counters) else {
            if consistent {
                return Err(Refusal::about(ApiError::NoSeatsAvailable, &license));
            }
            consistent = true;
            continue;
        };
        let via = match &through {
            Through::Code(code) => {
                // Unlimited codes count on the shard with the seat's index, so
                // two claims only ever collide on one pair of items.
                let uncapped = ctx.use_counters.iter().all(|c| c.cap.is_none());
                let use_shard = if uncapped && !ctx.use_counters.is_empty() {
                    Some(shard)
                } else {
                    pick_shard(&ctx.use_counters)
                };
                let Some(use_shard) = use_shard else {
                    if consistent {
                        return Err(Refusal::about(ApiError::CodeUsedUp, &license));
                    }
                    consistent = true;
                    continue;
                };
                ClaimVia::Code {
                    code_id: code.code_id.clone(),
                    use_shard,
                }
            }
            Through::Invitation(invitation) => ClaimVia::Invite {
                token_hash: invitation.token_hash.clone(),
            },
        };
        let joined_via = via.kind();
        let via_id = match &through {
            Through::Code(code) => code.code_id.to_string(),
            Through::Invitation(inv) => inv.invitation_id.to_string(),
        };
        let seat = SeatRecord {
            license_id: license.license_id.clone(),
            user_id: user_id.clone(),
            email: email.clone(),
            joined_at: now,
            joined_via,
            via_id,
            shard,
        };
        let mut event = Event::new(
            &license.license_id,
            EventKind::SeatClaimed,
            user_id.as_str(),
            now,
        );
        event.user_id = Some(user_id.clone());
        event.shard = shard;
        match &through {
            Through::Code(code) => event.code_id = Some(code.code_id.clone()),
            Through::Invitation(inv) => event.invitation_id = Some(inv.invitation_id.clone()),
        }
        let plan = ClaimPlan {
            seat: seat.clone(),
            via,
            event,
        };
        match app.store.claim(&plan).await {
            Ok(()) => {
                tracing::info!(license_id = %license.license_id, user_id = user_id.as_str(), shard, via = ?joined_via, "seat claimed");
                return Ok(Claimed {
                    license: license.view(seats_used + 1),
                    seat: seat.view(),
                    already_member: false,
                });
            }
            // The next read shows the seat (or, if it was freed meanwhile,
            // a fresh attempt is right).
            Err(ClaimError::Rejected(Rejection::AlreadyMember))
            | Err(ClaimError::Rejected(Rejection::SeatShardFull))
            | Err(ClaimError::Rejected(Rejection::UseShardFull)) => consistent = true,
            Err(ClaimError::Rejected(Rejection::InvitationNotPending)) => {
                return Err(invitation_gone(app, &through).await.into());
            }
            Err(ClaimError::Rejected(Rejection::Contended))
            | Err(ClaimError::Store(StoreError::Unavailable { .. })) => {
                contention += 1;
                if contention > MAX_CONTENTION_RETRIES {
                    tracing::warn!(
                        license_id = license_id.as_str(),
                        "claim gave up after contention retries"
                    );
                    return Err(ApiError::unavailable().into());
                }
                tokio::time::sleep(backoff(contention)).await;
            }
            Err(ClaimError::Store(other)) => return Err(other.into()),
        }
    }
    tracing::warn!(license_id = license_id.as_str(), "claim attempts exhausted");
    Err(ApiError::unavailable().into())
}

/// The invitation changed under us: say what it became.
async fn invitation_gone(app: &App, through: &Through<'_>) -> ApiError {
    let Through::Invitation(invitation) = through else {
        return ApiError::Internal;
    };
    match app.store.invitation(&invitation.token_hash).await {
        Ok(Some(current)) if current.status == InvitationStatus::Revoked => ApiError::InviteRevoked,
        Ok(Some(_)) => ApiError::InviteAlreadyUsed,
        Ok(None) => ApiError::InviteNotFound,
        Err(err) => err.into(),
    }
}

/// A shard with free capacity, chosen at random weighted by what it has
/// free, so concurrent claims spread over shards instead of colliding.
fn pick_shard(counters: &[Counter]) -> Option<u16> {
    let weights: Vec<u64> = counters
        .iter()
        .map(|c| u64::from(c.free().min(1 << 20)))
        .collect();
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut ticket = random_u64() % total;
    for (counter, weight) in counters.iter().zip(weights) {
        if ticket < weight {
            return Some(counter.index);
        }
        ticket -= weight;
    }
    None
}

/// Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)].
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_CAP_MS.min(BACKOFF_BASE_MS << attempt.min(10));
    Duration::from_millis(random_u64() % (ceiling + 1))
}

fn random_u64() -> u64 {
    // Jitter and shard choice need no secrecy, but getrandom is already here.
    getrandom::u64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(index: u16, cap: Option<u32>, used: u32) -> Counter {
        Counter { index, cap, used }
    }

    #[test]
    fn full_counters_are_never_picked() {
        let counters = [
            counter(0, Some(2), 2),
            counter(1, Some(3), 1),
            counter(2, Some(0), 0),
        ];
        for _ in 0..200 {
            assert_eq!(pick_shard(&counters), Some(1));
        }
    }

    #[test]
    fn no_capacity_means_no_pick() {
        assert_eq!(pick_shard(&[counter(0, Some(1), 1)]), None);
        assert_eq!(pick_shard(&[]), None);
    }

    #[test]
    fn uncapped_counters_are_all_candidates() {
        let counters: Vec<Counter> = (0..16).map(|i| counter(i, None, 1000)).collect();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            seen.extend(pick_shard(&counters));
        }
        assert_eq!(seen.len(), 16);
    }

    #[test]
    fn backoff_stays_under_its_cap() {
        for attempt in 0..20 {
            assert!(backoff(attempt) <= Duration::from_millis(BACKOFF_CAP_MS));
        }
    }
}
