//! "Activate Product": redeem an invite code for a seat.
//!
//! On the hot path (a code this container has redeemed before) a redemption
//! is two round trips: the failure limit, the code and the claim context
//! read together, then the claim transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use super::claim::{Claimed, Route, claim_seat};
use crate::App;
use crate::domain::{Caller, CodeRecord, Email, InviteCode, SecretHash};
use crate::error::ApiError;

const CODE_ROUTES_MAX: usize = 10_000;

/// Which license and code id a code hash belongs to. That never changes
/// once a code exists, so remembering it is always safe; everything that
/// can change (revocation, expiry, counters, seats) is still read fresh.
#[derive(Default)]
pub struct CodeRoutes {
    routes: Mutex<HashMap<SecretHash, (String, String)>>,
}

impl CodeRoutes {
    fn get(&self, hash: &SecretHash) -> Option<(String, String)> {
        self.lock().get(hash).cloned()
    }

    fn remember(&self, record: &CodeRecord) {
        let mut routes = self.lock();
        if routes.len() >= CODE_ROUTES_MAX {
            routes.clear();
        }
        routes.insert(
            record.code_hash.clone(),
            (record.license_id.clone(), record.code_id.clone()),
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SecretHash, (String, String)>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn limit_key(user_id: &str) -> String {
    format!("redeem#{user_id}")
}

pub async fn redeem(app: &App, caller: &Caller, raw_code: &str) -> Result<Claimed, ApiError> {
    let email = caller.verified_email()?;
    let limits = &app.config.limits;
    let key = limit_key(&caller.user_id);
    let now = app.now();
    let code = InviteCode::parse(raw_code);
    let known = code.as_ref().and_then(|c| app.code_routes.get(&c.hash()));
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
    if let Some(window) = window?
        && window.is_open(limits.redeem_window_secs, now)
        && window.count >= limits.redeem_max_failures
    {
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: window.retry_after(limits.redeem_window_secs, now),
        });
    }
    let result = match record? {
        Some(record) => {
            app.code_routes.remember(&record);
            // A speculative read that failed, or was for another code, is
            // simply done again.
            let same_code = known.as_ref().is_some_and(|(license_id, code_id)| {
                *license_id == record.license_id && *code_id == record.code_id
            });
            let prefetched = prefetched.and_then(Result::ok).filter(|_| same_code);
            redeem_code(app, caller, email, &record, prefetched).await
        }
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
    prefetched: Option<crate::store::ClaimContext>,
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
        None => {
            claim_seat(
                app,
                caller,
                email,
                &record.license_id,
                Route::Code(record),
                prefetched,
            )
            .await
        }
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
