//! "Activate Product": redeem an invite code for a seat.
//!
//! On the hot path (a code this container has redeemed before) a redemption
//! is two round trips:
//!
//! 1. the guard's slots taken while the code is read (and the claim
//!    context, unless this container read it within the last second:
//!    `claim_views.rs`);
//! 2. the claim transaction, which also gives the account's slot back, while
//!    the source address's slot is given back beside it.
//!
//! The source slot is not put in the transaction: every student behind a
//! campus NAT shares it, and one item in every claim's transaction would
//! make all their claims conflict with each other. For a code that turned
//! out live it is given back before the claim's end is known, so a code
//! used up meanwhile (a counted failure) keeps only the account's slot.

use super::claim::{Claimed, GuardSlot, Refusal, Through, claim_seat};
use crate::App;
use crate::domain::{Caller, CodeRecord, Email, InviteCode, LicenseId};
use crate::error::ApiError;
use crate::store::Acquired;

/// The failed-redemption guard: one slot per account, and one per source
/// address, taken atomically *before* the code is looked at. Under any
/// concurrency at most `REDEEM_MAX_FAILURES` redemptions per account (and
/// `REDEEM_MAX_FAILURES_PER_SOURCE` per address) are answered with a
/// counted failure in a window: the rest are refused before their code
/// is even evaluated. A slot is given back when the attempt turns out not
/// to be a guess (a success, a full license, an unavailable store).
struct Guard {
    /// The caller's account slot.
    account: Option<GuardSlot>,
    /// The source address's slot.
    source: Option<GuardSlot>,
}

fn guard_keys(app: &App, caller: &Caller) -> Vec<(String, u32)> {
    let limits = &app.config.limits;
    let mut keys = vec![(
        format!("redeem#{}", caller.user_id),
        limits.redeem_max_failures,
    )];
    if let Some(source) = &caller.source
        && limits.redeem_max_failures_per_source > 0
    {
        keys.push((
            format!("redeem-src#{source}"),
            limits.redeem_max_failures_per_source,
        ));
    }
    keys
}

impl Guard {
    async fn take(app: &App, caller: &Caller) -> Result<Self, ApiError> {
        let window_secs = app.config.limits.redeem_window_secs;
        let now = app.now();
        let keys = guard_keys(app, caller);
        async fn acquire(
            app: &App,
            slot: Option<&(String, u32)>,
            window_secs: u64,
            now: crate::domain::Timestamp,
        ) -> Option<crate::error::StoreResult<Acquired>> {
            let (key, max) = slot?;
            Some(app.store.limit_acquire(key, *max, window_secs, now).await)
        }
        // One round trip: the account's slot and the address's together.
        let (first, second) = tokio::join!(
            acquire(app, keys.first(), window_secs, now),
            acquire(app, keys.get(1), window_secs, now)
        );
        let mut guard = Self {
            account: None,
            source: None,
        };
        let mut refusal: Option<ApiError> = None;
        let slots = [&mut guard.account, &mut guard.source];
        for ((result, (key, _)), slot) in
            [first, second].into_iter().flatten().zip(&keys).zip(slots)
        {
            match result {
                Ok(Acquired::Counted(window)) => *slot = Some((key.clone(), window)),
                Ok(Acquired::Full(window)) => {
                    let retry_after_secs = window.retry_after(window_secs, now);
                    let longer = match &refusal {
                        Some(ApiError::TooManyAttempts {
                            retry_after_secs: r,
                        }) => *r >= retry_after_secs,
                        _ => false,
                    };
                    if !longer {
                        refusal = Some(ApiError::TooManyAttempts { retry_after_secs });
                    }
                }
                // Whatever became of the slot, the redemption itself has
                // not been tried: as far as the caller can tell, nothing
                // changed.
                Err(err) => {
                    let err = match ApiError::from(err) {
                        ApiError::ServiceUnavailable { .. } => ApiError::unavailable(),
                        other => other,
                    };
                    refusal = refusal.or(Some(err));
                }
            }
        }
        match refusal {
            Some(err) => {
                guard.give_back(app).await;
                Err(err)
            }
            None => Ok(guard),
        }
    }

    /// Gives the slots back: the attempt was not a counted failure. Not
    /// being able to only makes the window stricter, never looser.
    async fn give_back(self, app: &App) {
        tokio::join!(
            give_back_slot(app, self.account),
            give_back_slot(app, self.source)
        );
    }

    /// Settles the guard for an attempt's outcome: a guess keeps its slots.
    async fn settle(self, app: &App, caller: &Caller, outcome: Option<&ApiError>) {
        match outcome {
            Some(err) if counts_as_failure(err) => {
                tracing::info!(user_id = %caller.user_id, code = err.code(), "redemption failed");
            }
            _ => self.give_back(app).await,
        }
    }
}

/// Gives one guard slot back. Not being able to only makes the window
/// stricter, never looser.
async fn give_back_slot(app: &App, slot: Option<GuardSlot>) {
    if let Some((key, window)) = slot
        && let Err(err) = app.store.limit_release(&key, window).await
    {
        tracing::warn!(error = %err, "redemption guard slot not given back");
    }
}

/// Looks a code up under every accepted hashing key (the current one
/// first; the others only during a key rotation).
async fn find_code(app: &App, code: &InviteCode) -> Result<Option<CodeRecord>, ApiError> {
    for hash in code.hashes(&app.config.hash_keys) {
        if let Some(record) = app.store.code(&hash).await? {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// Whether `raw_code` is a live (not revoked) code of `license_id`: what a
/// non-member shows to write to the owner of a license they could not
/// join. A wrong code counts as a failed redemption, so this is no way
/// around the guessing limit.
pub async fn proves_license(
    app: &App,
    caller: &Caller,
    raw_code: &str,
    license_id: &LicenseId,
) -> Result<bool, ApiError> {
    let guard = Guard::take(app, caller).await?;
    let record = match InviteCode::parse(raw_code) {
        Some(code) => find_code(app, &code).await,
        None => Ok(None),
    };
    let outcome = match &record {
        Ok(record)
            if record
                .as_ref()
                .is_some_and(|r| r.license_id == *license_id && !r.revoked) =>
        {
            None
        }
        Ok(_) => Some(ApiError::CodeNotFound),
        Err(err) => Some(err.clone()),
    };
    guard.settle(app, caller, outcome.as_ref()).await;
    Ok(record?.is_some_and(|r| r.license_id == *license_id && !r.revoked))
}

pub async fn redeem(app: &App, caller: &Caller, raw_code: &str) -> Result<Claimed, ApiError> {
    redeem_explained(app, caller, raw_code)
        .await
        .map_err(|refusal| refusal.error)
}

/// As [`redeem`], with the license a refusal is about when its owner could
/// help (no seats, code used up, license expired), for the error envelope.
pub async fn redeem_explained(
    app: &App,
    caller: &Caller,
    raw_code: &str,
) -> Result<Claimed, Refusal> {
    let email = caller.verified_email()?;
    let code = InviteCode::parse(raw_code);
    let keys = &app.config.hash_keys;
    let known = code
        .as_ref()
        .and_then(|c| c.hashes(keys).iter().find_map(|h| app.known_codes.get(h)));
    // One round trip: the guard's slots, the code and, for a code seen
    // before, the claim context of its license. Nothing read is used
    // unless the guard let the attempt through.
    let (guard, record, prefetched) = tokio::join!(
        Guard::take(app, caller),
        async {
            match &code {
                Some(code) => find_code(app, code).await,
                None => Ok(None),
            }
        },
        async {
            let (license_id, code_id, capped) = known.as_ref()?;
            let counted = capped.then_some(code_id);
            if app.claim_views.is_fresh(license_id, counted) {
                // Read within the last second: the claim needs no read.
                return None;
            }
            Some(
                app.store
                    .claim_context(license_id, &caller.user_id, counted, false)
                    .await,
            )
        }
    );
    let mut guard = guard?;
    let result = match record {
        Ok(Some(record)) => {
            app.known_codes.remember(&record);
            // A speculative read that failed, or was for another code, is
            // simply done again.
            let same_code = known.as_ref().is_some_and(|(license_id, code_id, _)| {
                *license_id == record.license_id && *code_id == record.code_id
            });
            let prefetched = prefetched.and_then(Result::ok).filter(|_| same_code);
            redeem_code(app, caller, email, &record, prefetched, &mut guard).await
        }
        Ok(None) => Err(ApiError::CodeNotFound.into()),
        Err(err) => Err(err.into()),
    };
    guard
        .settle(app, caller, result.as_ref().err().map(|r| &r.error))
        .await;
    result
}

/// Guessing shows up as these; a full license or a domain rule does not.
fn counts_as_failure(err: &ApiError) -> bool {
    matches!(
        err,
        ApiError::CodeNotFound
            | ApiError::CodeExpired
            | ApiError::CodeRevoked
            | ApiError::CodeUsedUp
    )
}

async fn redeem_code(
    app: &App,
    caller: &Caller,
    email: &Email,
    record: &CodeRecord,
    prefetched: Option<crate::store::ClaimContext>,
    guard: &mut Guard,
) -> Result<Claimed, Refusal> {
    let refusal = if record.revoked {
        Some(ApiError::CodeRevoked)
    } else if record.expires_at.is_some_and(|at| at <= app.now()) {
        Some(ApiError::CodeExpired)
    } else {
        None
    };
    match refusal {
        // A member typing an old code of their own license still has a seat.
        Some(refusal) => match existing_membership(app, caller, &record.license_id).await? {
            Some(claimed) => Ok(claimed),
            None => Err(refusal.into()),
        },
        // A live code: not a guess. The account's slot goes back inside
        // the claim's transaction, the address's beside it.
        None => {
            let (claimed, ()) = tokio::join!(
                claim_seat(
                    app,
                    caller,
                    email,
                    &record.license_id,
                    Through::Code(record),
                    prefetched,
                    &mut guard.account,
                ),
                give_back_slot(app, guard.source.take())
            );
            claimed
        }
    }
}

async fn existing_membership(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
) -> Result<Option<Claimed>, ApiError> {
    let Some(seat) = app.store.seat(&caller.user_id, license_id).await? else {
        return Ok(None);
    };
    let licenses = app
        .store
        .licenses_with_usage(std::slice::from_ref(license_id))
        .await?;
    Ok(licenses.into_iter().next().map(|(license, used)| Claimed {
        license: license.view(used),
        seat: seat.view(),
        already_member: true,
    }))
}
