//! "Activate Product": redeem an invite code for a seat.

use super::claim::{Claimed, Route, claim_seat};
use crate::App;
use crate::domain::{Caller, InviteCode};
use crate::error::ApiError;

fn limit_key(user_id: &str) -> String {
    format!("redeem#{user_id}")
}

pub async fn redeem(app: &App, caller: &Caller, raw_code: &str) -> Result<Claimed, ApiError> {
    let email = caller.verified_email()?;
    let limits = &app.config.limits;
    let key = limit_key(&caller.user_id);
    let now = app.now();
    if let Some(window) = app.store.limit_window(&key).await?
        && window.is_open(limits.redeem_window_secs, now)
        && window.count >= limits.redeem_max_failures
    {
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: window.retry_after(limits.redeem_window_secs, now),
        });
    }
    let result = redeem_unlimited(app, caller, email, raw_code).await;
    if let Err(err) = &result
        && counts_as_failure(err)
    {
        app.store
            .limit_hit(&key, limits.redeem_window_secs, now)
            .await?;
        tracing::info!(user_id = %caller.user_id, code = err.code(), "redemption failed");
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

async fn redeem_unlimited(
    app: &App,
    caller: &Caller,
    email: &crate::domain::Email,
    raw_code: &str,
) -> Result<Claimed, ApiError> {
    let code = InviteCode::parse(raw_code).ok_or(ApiError::CodeNotFound)?;
    let record = app
        .store
        .code(&code.hash())
        .await?
        .ok_or(ApiError::CodeNotFound)?;
    if record.revoked {
        return Err(ApiError::CodeRevoked);
    }
    if record.expires_at.is_some_and(|at| at <= app.now()) {
        return Err(ApiError::CodeExpired);
    }
    claim_seat(
        app,
        caller,
        email,
        &record.license_id.clone(),
        Route::Code(&record),
    )
    .await
}
