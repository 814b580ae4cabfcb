//! "Activate Product": redeem an invite code for a seat.

use super::claim::{Claimed, Route, claim_seat};
use crate::App;
use crate::domain::{Caller, CodeRecord, Email, InviteCode};
use crate::error::ApiError;

fn limit_key(user_id: &str) -> String {
    format!("redeem#{user_id}")
}

pub async fn redeem(app: &App, caller: &Caller, raw_code: &str) -> Result<Claimed, ApiError> {
    let email = caller.verified_email()?;
    let limits = &app.config.limits;
    let key = limit_key(&caller.user_id);
    let now = app.now();
    let code = InviteCode::parse(raw_code);
    // The limit and the code are independent reads: one round trip for both.
    let (window, record) = tokio::join!(app.store.limit_window(&key), async {
        match &code {
            Some(code) => app.store.code(&code.hash()).await,
            None => Ok(None),
        }
    });
    if let Some(window) = window?
        && window.is_open(limits.redeem_window_secs, now)
        && window.count >= limits.redeem_max_failures
    {
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: window.retry_after(limits.redeem_window_secs, now),
        });
    }
    let result = match record? {
        Some(record) => redeem_code(app, caller, email, &record).await,
        None => Err(ApiError::CodeNotFound),
    };
    if let Err(err) = &result
        && counts_as_failure(err)
    {
        // Not being able to count must not hide the answer the user needs.
        if let Err(store_err) = app
            .store
            .limit_hit(&key, limits.redeem_window_secs, now)
            .await
        {
            tracing::warn!(error = %store_err, "failed redemption not counted");
        }
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

async fn redeem_code(
    app: &App,
    caller: &Caller,
    email: &Email,
    record: &CodeRecord,
) -> Result<Claimed, ApiError> {
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
            None => Err(refusal),
        },
        None => claim_seat(app, caller, email, &record.license_id, Route::Code(record)).await,
    }
}

async fn existing_membership(
    app: &App,
    caller: &Caller,
    license_id: &str,
) -> Result<Option<Claimed>, ApiError> {
    let Some(seat) = app.store.seat(&caller.user_id, license_id).await? else {
        return Ok(None);
    };
    let licenses = app
        .store
        .licenses_with_usage(&[license_id.to_owned()])
        .await?;
    Ok(licenses.into_iter().next().map(|(license, used)| Claimed {
        license: license.view(used),
        seat: seat.view(),
        already_member: true,
    }))
}
