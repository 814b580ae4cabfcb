//! Invite codes of a license: create (the full code is shown once), list
//! with uses, revoke.

use serde::Serialize;

use super::{Listing, authorize, cursor};
use crate::App;
use crate::domain::{
    Caller, CodeId, CodeRecord, Event, EventKind, InviteCode, LicenseId, Timestamp,
};
use crate::error::ApiError;
use crate::service::provision::{CodeOptions, add_code};
use crate::store::{Paging, Revocation};

pub const MAX_NOTE_CHARS: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct NewCode {
    pub max_uses: Option<u32>,
    pub expires_at: Option<Timestamp>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedCode {
    /// The full code: shown here only, never again.
    pub code: String,
    pub code_id: CodeId,
    pub max_uses: Option<u32>,
    pub expires_at: Option<Timestamp>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeView {
    pub code_id: CodeId,
    pub last4: String,
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

/// `maxUses` of a new code as a request gives it: at least 1, or null (no
/// limit). The HTTP edge checks it before the admin check (docs/errors.md,
/// "Which error wins"); [`create_code`] keeps the check for direct callers.
pub fn validate_max_uses(requested: Option<i64>) -> Result<Option<u32>, ApiError> {
    match requested {
        Some(n) if n < 1 => Err(ApiError::invalid("maxUses must be at least 1, or null")),
        other => other
            .map(|n| u32::try_from(n).map_err(|_| ApiError::invalid("maxUses is out of range")))
            .transpose(),
    }
}

fn validate_note(note: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(note) = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "note must be at most {MAX_NOTE_CHARS} characters without control characters"
        )));
    }
    Ok(Some(note))
}

pub async fn create_code(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    new: NewCode,
) -> Result<CreatedCode, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    validate_max_uses(new.max_uses.map(i64::from))?;
    let now = app.now();
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid("expiresAt must be in the future"));
    }
    let note = validate_note(new.note)?;
    let options = CodeOptions {
        max_uses: new.max_uses,
        expires_at: new.expires_at,
        revoked: false,
        note,
    };
    // A 60-bit collision is astronomically unlikely; retry once anyway.
    for _ in 0..2 {
        let code = InviteCode::generate();
        match add_code(
            app.store.as_ref(),
            &app.config.hash_keys,
            &license.license_id,
            &code,
            options.clone(),
            caller.user_id.as_str(),
            now,
        )
        .await
        {
            Ok(record) => {
                tracing::info!(license_id = license_id.as_str(), code_id = %record.code_id, "code created");
                return Ok(CreatedCode {
                    code: code.formatted(),
                    code_id: record.code_id,
                    max_uses: record.max_uses,
                    expires_at: record.expires_at,
                    note: record.note,
                });
            }
            Err(crate::error::StoreError::AlreadyExists(_)) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Internal)
}

fn code_view(code: CodeRecord, uses: u32) -> CodeView {
    CodeView {
        code_id: code.code_id,
        last4: code.last4,
        max_uses: code.max_uses,
        uses,
        expires_at: code.expires_at,
        revoked: code.revoked,
        note: code.note,
        created_at: code.created_at,
    }
}

/// One page of the license's codes, newest first, with their uses.
pub async fn list_codes(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<CodeView>, ApiError> {
    authorize(app, caller, license_id).await?;
    let after = cursor.map(|c| cursor::decode("codes", c)).transpose()?;
    let page = app
        .store
        .license_codes(license_id, Paging::new(after.as_ref(), limit))
        .await?;
    Ok(Listing {
        items: page
            .items
            .into_iter()
            .map(|(code, uses)| code_view(code, uses))
            .collect(),
        next_cursor: page.next.map(|p| cursor::encode("codes", &p)),
    })
}

/// Revokes a code; revoking it again is not an error.
pub async fn revoke_code(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    code_id: &CodeId,
) -> Result<(), ApiError> {
    authorize(app, caller, license_id).await?;
    let code = app
        .store
        .code_by_id(license_id, code_id)
        .await?
        .ok_or(ApiError::CodeNotFound)?;
    let mut event = Event::by(caller, license_id, EventKind::CodeRevoked, app.now());
    event.code_id = Some(code.code_id.clone());
    if app.store.revoke_code(&code, &event).await? == Revocation::Revoked {
        tracing::info!(
            license_id = license_id.as_str(),
            code_id = code_id.as_str(),
            "code revoked"
        );
    }
    Ok(())
}
