//! "Activate Product": redeem an invite code for a seat.
//!
//! On the hot path (a code this container has redeemed before) a redemption
//! is two round trips: the failure limit, the code and the claim context
//! read together, then the claim transaction.

use super::claim::{Claimed, Refusal, Through, claim_seat};
use crate::App;
use crate::domain::{Caller, CodeRecord, Email, InviteCode, LicenseId, UserId};
use crate::error::ApiError;

fn limit_key(user_id: &UserId) -> String {
    format!("redeem#{user_id}")
}

/// Refuses with `TOO_MANY_ATTEMPTS` while the caller's failed-redemption
/// window is full.
fn check_attempts(app: &App, window: Option<crate::store::LimitWindow>) -> Result<(), ApiError> {
    let limits = &app.config.limits;
    let now = app.now();
    match window {
        Some(window)
            if window.is_open(limits.redeem_window_secs, now)
                && window.count >= limits.redeem_max_failures =>
        {
            Err(ApiError::TooManyAttempts {
                retry_after_secs: window.retry_after(limits.redeem_window_secs, now),
            })
        }
        _ => Ok(()),
    }
}

/// Counts one failed attempt; not being able to count must not hide the
/// answer the user needs.
async fn count_failure(app: &App, caller: &Caller, err: &ApiError) {
    let limits = &app.config.limits;
    if let Err(store_err) = app
        .store
        .limit_hit(
            &limit_key(&caller.user_id),
            limits.redeem_window_secs,
            app.now(),
        )
        .await
    {
        tracing::warn!(error = %store_err, "failed redemption not counted");
    }
    tracing::info!(user_id = %caller.user_id, code = err.code(), "redemption failed");
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
    check_attempts(
        app,
        app.store.limit_window(&limit_key(&caller.user_id)).await?,
    )?;
    let record = match InviteCode::parse(raw_code) {
        Some(code) => app.store.code(&code.hash()).await?,
        None => None,
    };
    let proves = record.is_some_and(|r| r.license_id == *license_id && !r.revoked);
    if !proves {
        count_failure(app, caller, &ApiError::CodeNotFound).await;
    }
    Ok(proves)
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
    let key = limit_key(&caller.user_id);
    let code = InviteCode::parse(raw_code);
    let known = code.as_ref().and_then(|c| app.known_codes.get(&c.hash()));
    // Independent reads, one round trip: the limit, the code and, for a
    // code seen before, the claim context of its license.
    let (window, record, prefetched) = tokio::join!(
        app.store.limit_window(&key),
        async {
            match &code {
                Some(code) => app.store.code(&code.hash()).await,
                None => Ok(None),
            }
        },
        async {
            match &known {
                Some((license_id, code_id)) => Some(
                    app.store
                        .claim_context(license_id, &caller.user_id, Some(code_id), false)
                        .await,
                ),
                None => None,
            }
        }
    );
    check_attempts(app, window?)?;
    let result = match record? {
        Some(record) => {
            app.known_codes.remember(&record);
            // A speculative read that failed, or was for another code, is
            // simply done again.
            let same_code = known.as_ref().is_some_and(|(license_id, code_id)| {
                *license_id == record.license_id && *code_id == record.code_id
            });
            let prefetched = prefetched.and_then(Result::ok).filter(|_| same_code);
            redeem_code(app, caller, email, &record, prefetched).await
        }
        None => Err(ApiError::CodeNotFound.into()),
    };
    if let Err(refusal) = &result
        && counts_as_failure(&refusal.error)
    {
        count_failure(app, caller, &refusal.error).await;
    }
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
        None => {
            claim_seat(
                app,
                caller,
                email,
                &record.license_id,
                Through::Code(record),
                prefetched,
            )
            .await
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
