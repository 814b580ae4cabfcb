//! License administration: what the owner and admins of a license may do.
//! Anyone else gets `LICENSE_NOT_FOUND`, so existence is not revealed.

use chrono::TimeDelta;
use serde::Serialize;

use super::cursor;
use super::provision::{CodeOptions, InvitationOptions, add_code, add_invitation};
use crate::App;
use crate::domain::{
    Caller, CodeRecord, Email, Event, EventKind, Invitation, InvitationRecord, InvitationStatus,
    InviteCode, InviteToken, License, LicenseRecord, Role, Seat, Timestamp,
};
use crate::error::ApiError;
use crate::mail::OutgoingEmail;

pub const MAX_EMAILS_PER_CALL: usize = 100;
pub const DEFAULT_INVITE_DAYS: u32 = 14;
pub const MAX_INVITE_DAYS: u32 = 365;
pub const MAX_NOTE_CHARS: usize = 200;

/// The license, if `caller` owns or administers it.
pub async fn authorize(
    app: &App,
    caller: &Caller,
    license_id: &str,
) -> Result<LicenseRecord, ApiError> {
    match app.store.license(license_id).await? {
        Some(license) if license.role_of(&caller.user_id) != Role::Member => Ok(license),
        _ => Err(ApiError::LicenseNotFound),
    }
}

async fn seats_used(app: &App, license_id: &str) -> Result<u32, ApiError> {
    Ok(app
        .store
        .licenses_with_usage(&[license_id.to_owned()])
        .await?
        .first()
        .map_or(0, |(_, used)| *used))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminLicense {
    #[serde(flatten)]
    pub license: License,
    pub role: Role,
}

/// One page of an admin listing and the cursor of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The licenses the caller owns or administers (an admin's start page).
pub async fn my_licenses(
    app: &App,
    caller: &Caller,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<AdminLicense>, ApiError> {
    let after = cursor.map(|c| cursor::decode("licenses", c)).transpose()?;
    let page = app
        .store
        .administered_licenses(&caller.user_id, after.as_deref(), limit)
        .await?;
    let items = app
        .store
        .licenses_with_usage(&page.items)
        .await?
        .into_iter()
        .map(|(license, used)| AdminLicense {
            role: license.role_of(&caller.user_id),
            license: license.view(used),
        })
        .collect();
    Ok(Listing {
        items,
        next_cursor: page.next.map(|p| cursor::encode("licenses", &p)),
    })
}

pub async fn get_license(
    app: &App,
    caller: &Caller,
    license_id: &str,
) -> Result<AdminLicense, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    Ok(AdminLicense {
        role: license.role_of(&caller.user_id),
        license: license.view(seats_used(app, license_id).await?),
    })
}

// ---- codes ------------------------------------------------------------------

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
    pub code_id: String,
    pub max_uses: Option<u32>,
    pub expires_at: Option<Timestamp>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeView {
    pub code_id: String,
    pub last4: String,
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    pub note: Option<String>,
    pub created_at: Timestamp,
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
    license_id: &str,
    new: NewCode,
) -> Result<CreatedCode, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    if new.max_uses == Some(0) {
        return Err(ApiError::invalid("maxUses must be at least 1, or null"));
    }
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
            &license.license_id,
            &code,
            options.clone(),
            &caller.user_id,
            now,
        )
        .await
        {
            Ok(record) => {
                tracing::info!(license_id, code_id = %record.code_id, "code created");
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

pub async fn list_codes(
    app: &App,
    caller: &Caller,
    license_id: &str,
) -> Result<Vec<CodeView>, ApiError> {
    authorize(app, caller, license_id).await?;
    Ok(app
        .store
        .license_codes(license_id)
        .await?
        .into_iter()
        .map(|(code, uses)| code_view(code, uses))
        .collect())
}

/// Revokes a code; revoking it again is not an error.
pub async fn revoke_code(
    app: &App,
    caller: &Caller,
    license_id: &str,
    code_id: &str,
) -> Result<(), ApiError> {
    authorize(app, caller, license_id).await?;
    let code = app
        .store
        .code_by_id(license_id, code_id)
        .await?
        .ok_or(ApiError::CodeNotFound)?;
    let mut event = Event::new(
        license_id,
        EventKind::CodeRevoked,
        &caller.user_id,
        app.now(),
    );
    event.code_id = Some(code.code_id.clone());
    if app.store.revoke_code(&code, &event).await? {
        tracing::info!(license_id, code_id, "code revoked");
    }
    Ok(())
}

// ---- invitations --------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Delivery {
    Sent,
    Failed,
    AlreadyMember,
}

/// One address of a bulk invitation: the invitation (none for an address
/// that already holds a seat) and what happened to its email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationOutcome {
    pub invitation_id: Option<String>,
    pub license_id: String,
    pub status: Option<InvitationStatus>,
    pub email: String,
    pub expires_at: Option<Timestamp>,
    pub created_at: Option<Timestamp>,
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenLink {
    pub invitation: Invitation,
    pub url: String,
}

pub fn validate_days(days: Option<u32>) -> Result<u32, ApiError> {
    match days {
        None => Ok(DEFAULT_INVITE_DAYS),
        Some(d) if (1..=MAX_INVITE_DAYS).contains(&d) => Ok(d),
        Some(_) => Err(ApiError::invalid(format!(
            "expiresInDays must be from 1 to {MAX_INVITE_DAYS}"
        ))),
    }
}

/// Parses, normalises and de-duplicates the addresses of one call; any
/// invalid address, or more than 100, refuses the whole call.
pub fn parse_emails(raw: &[String]) -> Result<Vec<Email>, ApiError> {
    if raw.len() > MAX_EMAILS_PER_CALL {
        return Err(ApiError::invalid(format!(
            "at most {MAX_EMAILS_PER_CALL} addresses per call"
        )));
    }
    let mut emails: Vec<Email> = Vec::with_capacity(raw.len());
    for (i, address) in raw.iter().enumerate() {
        let email = Email::parse(address).ok_or_else(|| {
            ApiError::invalid(format!("emails[{i}] is not a valid email address"))
        })?;
        if !emails.contains(&email) {
            emails.push(email);
        }
    }
    Ok(emails)
}

/// `PORTAL_BASE_URL`, or when a deployment leaves it empty, the origin the
/// admin's request came in on (the portal is served on the API's domain).
fn invite_url(app: &App, caller: &Caller, token: &InviteToken) -> String {
    let base = match (app.config.portal_base_url.as_str(), &caller.site) {
        ("", Some(site)) => site.as_str(),
        (configured, _) => configured,
    };
    format!("{base}/invite/{}", token.expose())
}

/// An open, single-use invite link.
pub async fn create_link(
    app: &App,
    caller: &Caller,
    license_id: &str,
    days: Option<u32>,
) -> Result<OpenLink, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    let days = validate_days(days)?;
    let now = app.now();
    let token = InviteToken::generate();
    let options = InvitationOptions {
        expires_at: Some(now + TimeDelta::days(i64::from(days))),
        valid_days: Some(days),
        invited_by: caller.name.clone(),
        ..InvitationOptions::default()
    };
    let record = add_invitation(
        app.store.as_ref(),
        &license.license_id,
        &token,
        options,
        &caller.user_id,
        now,
    )
    .await?;
    Ok(OpenLink {
        invitation: record.view(now, None, true),
        url: invite_url(app, caller, &token),
    })
}

/// Emails each address its own invite URL. An address that already holds a
/// seat is reported, not invited. An email that cannot be sent withdraws its
/// invitation, so nothing is recorded as sent that was not.
pub async fn invite_emails(
    app: &App,
    caller: &Caller,
    license_id: &str,
    emails: &[Email],
    days: Option<u32>,
) -> Result<Vec<InvitationOutcome>, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    let days = validate_days(days)?;
    let members = member_emails(app, license_id).await?;
    let mut outcomes = Vec::with_capacity(emails.len());
    for email in emails {
        let now = app.now();
        if members.contains(email) {
            outcomes.push(InvitationOutcome {
                invitation_id: None,
                license_id: license_id.to_owned(),
                status: None,
                email: email.as_str().to_owned(),
                expires_at: None,
                created_at: None,
                delivery: Delivery::AlreadyMember,
            });
            continue;
        }
        let token = InviteToken::generate();
        let options = InvitationOptions {
            email: Some(email.clone()),
            expires_at: Some(now + TimeDelta::days(i64::from(days))),
            valid_days: Some(days),
            status: InvitationStatus::Pending,
            invited_by: caller.name.clone(),
        };
        let mut record = add_invitation(
            app.store.as_ref(),
            license_id,
            &token,
            options,
            &caller.user_id,
            now,
        )
        .await?;
        let delivery = match app
            .mailer
            .send(&invitation_email(app, caller, &license, &record, &token))
            .await
        {
            Ok(_) => Delivery::Sent,
            Err(err) => {
                tracing::warn!(license_id, invitation_id = %record.invitation_id, error = %err, "invitation email not sent");
                let mut event = Event::new(
                    license_id,
                    EventKind::InvitationUndeliverable,
                    &caller.user_id,
                    now,
                );
                event.invitation_id = Some(record.invitation_id.clone());
                event.detail = Some("the invitation email could not be sent".into());
                if app
                    .store
                    .close_invitation(&record, InvitationStatus::Revoked, &event)
                    .await?
                {
                    record.status = InvitationStatus::Revoked;
                }
                Delivery::Failed
            }
        };
        outcomes.push(InvitationOutcome {
            invitation_id: Some(record.invitation_id.clone()),
            license_id: license_id.to_owned(),
            status: Some(record.status_at(now)),
            email: email.as_str().to_owned(),
            expires_at: record.expires_at,
            created_at: Some(record.created_at),
            delivery,
        });
    }
    Ok(outcomes)
}

/// Every member's address (reads the whole seat list of the license).
async fn member_emails(app: &App, license_id: &str) -> Result<Vec<Email>, ApiError> {
    let mut emails = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .store
            .license_seats(license_id, after.as_deref(), 100)
            .await?;
        emails.extend(page.items.into_iter().map(|s| s.email));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(emails),
        }
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The invitee's email: plain text and HTML, the inviter's name but never
/// the inviter's address.
fn invitation_email(
    app: &App,
    caller: &Caller,
    license: &LicenseRecord,
    invitation: &InvitationRecord,
    token: &InviteToken,
) -> OutgoingEmail {
    let inviter = caller
        .name
        .clone()
        .unwrap_or_else(|| "Your license administrator".to_owned());
    let url = invite_url(app, caller, token);
    let expiry = invitation.expires_at.map_or_else(
        || "It does not expire.".to_owned(),
        |at| format!("It expires on {}.", at.format("%B %-d, %Y")),
    );
    let to = invitation.email.as_ref().map(|e| e.as_str().to_owned());
    OutgoingEmail {
        from: app.config.sender_email.clone(),
        to: to.into_iter().collect(),
        reply_to: Vec::new(),
        subject: format!(
            "{inviter} invited you to {} ({})",
            license.name, license.organization
        ),
        text: format!(
            "{inviter} invited you to join the license \"{name}\" of {organization} for {product}.\n\n\
             Open this link and sign in to accept:\n{url}\n\n{expiry}\n\n\
             If you did not expect this invitation, ignore this email.\n",
            name = license.name,
            organization = license.organization,
            product = license.product,
        ),
        html: Some(format!(
            "<p>{inviter} invited you to join the license <strong>{name}</strong> of {organization} for {product}.</p>\
             <p><a href=\"{url}\">Accept the invitation</a></p><p>{expiry}</p>\
             <p>If you did not expect this invitation, ignore this email.</p>",
            inviter = escape_html(&inviter),
            name = escape_html(&license.name),
            organization = escape_html(&license.organization),
            product = escape_html(&license.product),
            url = escape_html(&url),
            expiry = escape_html(&expiry),
        )),
    }
}

pub async fn list_invitations(
    app: &App,
    caller: &Caller,
    license_id: &str,
    status: Option<InvitationStatus>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<Invitation>, ApiError> {
    authorize(app, caller, license_id).await?;
    let now = app.now();
    let mut after = cursor
        .map(|c| cursor::decode("invitations", c))
        .transpose()?;
    let mut items = Vec::new();
    // Filtering by status may skip items: keep reading until the page is full.
    loop {
        let page = app
            .store
            .license_invitations(license_id, after.as_deref(), limit - items.len())
            .await?;
        for inv in page.items {
            after = Some(inv.invitation_id.clone());
            if status.is_none_or(|s| inv.status_at(now) == s) {
                items.push(inv.view(now, None, true));
            }
        }
        if items.len() >= limit || page.next.is_none() {
            let more = page.next.is_some();
            return Ok(Listing {
                items,
                next_cursor: after
                    .filter(|_| more)
                    .map(|p| cursor::encode("invitations", &p)),
            });
        }
    }
}

pub async fn revoke_invitation(
    app: &App,
    caller: &Caller,
    license_id: &str,
    invitation_id: &str,
) -> Result<(), ApiError> {
    authorize(app, caller, license_id).await?;
    let invitation = app
        .store
        .invitation_by_id(license_id, invitation_id)
        .await?
        .ok_or(ApiError::InviteNotFound)?;
    match invitation.status {
        InvitationStatus::Revoked => return Ok(()),
        InvitationStatus::Pending => {}
        _ => return Err(ApiError::InviteAlreadyUsed),
    }
    let mut event = Event::new(
        license_id,
        EventKind::InvitationRevoked,
        &caller.user_id,
        app.now(),
    );
    event.invitation_id = Some(invitation.invitation_id.clone());
    if !app
        .store
        .close_invitation(&invitation, InvitationStatus::Revoked, &event)
        .await?
    {
        // Another admin may have revoked it a moment ago: that is success.
        let now_status = app
            .store
            .invitation(&invitation.token_hash)
            .await?
            .map(|i| i.status);
        if now_status != Some(InvitationStatus::Revoked) {
            return Err(ApiError::InviteAlreadyUsed);
        }
    }
    tracing::info!(license_id, invitation_id, "invitation revoked");
    Ok(())
}

/// Emails a fresh URL: the old one stops working and the expiry restarts.
pub async fn resend_invitation(
    app: &App,
    caller: &Caller,
    license_id: &str,
    invitation_id: &str,
) -> Result<Invitation, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    let old = app
        .store
        .invitation_by_id(license_id, invitation_id)
        .await?
        .ok_or(ApiError::InviteNotFound)?;
    match old.status {
        InvitationStatus::Pending => {}
        InvitationStatus::Revoked => return Err(ApiError::InviteRevoked),
        _ => return Err(ApiError::InviteAlreadyUsed),
    }
    if old.email.is_none() {
        return Err(ApiError::invalid(
            "an open link has no address to resend to; create a new link",
        ));
    }
    let now = app.now();
    let days = old.valid_days.unwrap_or(DEFAULT_INVITE_DAYS);
    let token = InviteToken::generate();
    let fresh = InvitationRecord {
        token_hash: token.hash(),
        expires_at: Some(now + TimeDelta::days(i64::from(days))),
        valid_days: Some(days),
        ..old.clone()
    };
    let mut event = Event::new(
        license_id,
        EventKind::InvitationResent,
        &caller.user_id,
        now,
    );
    event.invitation_id = Some(old.invitation_id.clone());
    // Mail first: if it cannot be sent, nothing changed and the old URL
    // still works. (Should the invitation be accepted in between, the new
    // URL in that email finds it used.)
    app.mailer
        .send(&invitation_email(app, caller, &license, &fresh, &token))
        .await?;
    if !app.store.reissue_invitation(&old, &fresh, &event).await? {
        return Err(ApiError::InviteAlreadyUsed);
    }
    tracing::info!(license_id, invitation_id, "invitation resent");
    Ok(fresh.view(now, None, true))
}

// ---- seats and audit trail ------------------------------------------------------

pub async fn list_seats(
    app: &App,
    caller: &Caller,
    license_id: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<Seat>, ApiError> {
    authorize(app, caller, license_id).await?;
    let after = cursor.map(|c| cursor::decode("seats", c)).transpose()?;
    let page = app
        .store
        .license_seats(license_id, after.as_deref(), limit)
        .await?;
    Ok(Listing {
        items: page.items.iter().map(|s| s.view()).collect(),
        next_cursor: page.next.map(|p| cursor::encode("seats", &p)),
    })
}

/// Frees a member's seat, atomically with the seat count.
pub async fn remove_seat(
    app: &App,
    caller: &Caller,
    license_id: &str,
    user_id: &str,
) -> Result<(), ApiError> {
    authorize(app, caller, license_id).await?;
    let seat = app
        .store
        .seat(user_id, license_id)
        .await?
        .ok_or(ApiError::SeatNotFound)?;
    let mut event = Event::new(
        license_id,
        EventKind::SeatRemoved,
        &caller.user_id,
        app.now(),
    );
    event.user_id = Some(user_id.to_owned());
    event.shard = seat.shard;
    if !app.store.release_seat(&seat, &event).await? {
        return Err(ApiError::SeatNotFound);
    }
    tracing::info!(license_id, user_id, "seat removed by admin");
    Ok(())
}

pub async fn events(
    app: &App,
    caller: &Caller,
    license_id: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<Event>, ApiError> {
    authorize(app, caller, license_id).await?;
    let before = cursor.map(|c| cursor::decode("events", c)).transpose()?;
    let page = app
        .store
        .events(license_id, before.as_deref(), limit)
        .await?;
    Ok(Listing {
        items: page.items,
        next_cursor: page.next.map(|p| cursor::encode("events", &p)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_addresses_are_normalised_deduplicated_and_bounded() {
        let raw = vec![
            " Bob@Uni.edu".to_owned(),
            "bob@uni.edu".to_owned(),
            "ann@uni.edu".to_owned(),
        ];
        let emails = parse_emails(&raw).expect("valid");
        assert_eq!(emails.len(), 2);
        assert!(parse_emails(&["nope".to_owned()]).is_err());
        assert!(parse_emails(&vec!["a@b.edu".to_owned(); 101]).is_err());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
    }

    #[test]
    fn invite_days_are_bounded() {
        assert_eq!(validate_days(None).ok(), Some(DEFAULT_INVITE_DAYS));
        assert!(validate_days(Some(0)).is_err());
        assert!(validate_days(Some(366)).is_err());
    }
}
