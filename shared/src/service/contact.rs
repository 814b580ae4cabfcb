//! "Contact Owner": a member writes to the license owner by email without
//! learning the owner's address; replies go straight to the member.

use crate::App;
use crate::domain::{Caller, InvitationStatus, LicenseId};
use crate::error::ApiError;
use crate::mail::OutgoingEmail;
use crate::store::Acquired;

pub const SUBJECT_MAX_CHARS: usize = 150;
pub const MESSAGE_MAX_CHARS: usize = 5_000;

/// Checks the subject and message lengths and characters.
pub fn validate(subject: &str, message: &str) -> Result<(), ApiError> {
    let subject_len = subject.chars().count();
    if subject.trim().is_empty() || subject_len > SUBJECT_MAX_CHARS {
        return Err(ApiError::invalid(format!(
            "subject must be 1 to {SUBJECT_MAX_CHARS} characters"
        )));
    }
    if subject.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "subject must not contain control characters",
        ));
    }
    let message_len = message.chars().count();
    if message.trim().is_empty() || message_len > MESSAGE_MAX_CHARS {
        return Err(ApiError::invalid(format!(
            "message must be 1 to {MESSAGE_MAX_CHARS} characters"
        )));
    }
    if message
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            "message must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(())
}

/// `code`: a code of the license, which lets someone who could not join
/// (code used up, no seats, license expired) write to the owner.
pub async fn contact_owner(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    subject: &str,
    message: &str,
    code: Option<&str>,
) -> Result<String, ApiError> {
    validate(subject, message)?;
    let license = app
        .store
        .license(license_id)
        .await?
        .ok_or(ApiError::LicenseNotFound)?;
    let is_member = app.store.seat(&caller.user_id, license_id).await?.is_some();
    let email = caller.verified_email();
    let is_invitee = match (is_member, &email) {
        (false, Ok(email)) => {
            let now = app.now();
            app.store
                .pending_invitations(email)
                .await?
                .iter()
                .any(|inv| {
                    inv.license_id == *license_id && inv.status_at(now) == InvitationStatus::Pending
                })
        }
        _ => false,
    };
    let holds_code = match code {
        Some(code) if !is_member && !is_invitee => {
            super::redeem::proves_license(app, caller, code, license_id).await?
        }
        _ => false,
    };
    if !is_member && !is_invitee && !holds_code {
        return Err(ApiError::LicenseNotFound);
    }
    // Replies go to this address, so it must be one the caller proved.
    let email = email?;
    // The owner's address bounced or complained: nothing is sent or counted.
    if super::mail_guard::is_suppressed(app, &license.owner.email).await? {
        return Err(ApiError::OwnerUnreachable);
    }
    let limits = &app.config.limits;
    let key = format!("contact#{}#{license_id}", caller.user_id);
    let now = app.now();
    let window = match app
        .store
        .limit_acquire(
            &key,
            limits.contact_max_messages,
            limits.contact_window_secs,
            now,
        )
        .await?
    {
        Acquired::Counted(window) => window,
        Acquired::Full(full) => {
            return Err(ApiError::TooManyMessages {
                retry_after_secs: full.retry_after(limits.contact_window_secs, now),
            });
        }
    };
    let outgoing = OutgoingEmail {
        from: app.config.sender_email.clone(),
        to: vec![license.owner.email.as_str().to_owned()],
        reply_to: vec![email.as_str().to_owned()],
        subject: format!("[{}] {}", license.name, subject.trim()),
        text: format!(
            "{sender} wrote to you about the license \"{name}\" ({organization}) with Contact Owner:\n\n\
             {message}\n\n\
             Reply to this email to answer {sender} directly; your address was not shown to them.\n",
            sender = email.as_str(),
            name = license.name,
            organization = license.organization,
        ),
        html: None,
    };
    match app.mailer.send(&outgoing).await {
        Ok(message_id) => {
            crate::metrics::count(crate::metrics::OWNER_MESSAGES_SENT, 1);
            tracing::info!(license_id = license_id.as_str(), user_id = %caller.user_id, "owner contacted");
            Ok(message_id)
        }
        Err(err) => {
            // Not the sender's fault: the message does not count.
            app.store.limit_release(&key, window).await?;
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_and_message_bounds() {
        assert!(validate("Hi", "Hello").is_ok());
        assert!(validate("", "Hello").is_err());
        assert!(validate("   ", "Hello").is_err());
        assert!(validate(&"s".repeat(150), "m").is_ok());
        assert!(validate(&"s".repeat(151), "m").is_err());
        assert!(validate("a\nb", "m").is_err());
        assert!(validate("a\u{7}b", "m").is_err());
        assert!(validate("s", "").is_err());
        assert!(validate("s", &"m".repeat(5_000)).is_ok());
        assert!(validate("s", &"é".repeat(5_000)).is_ok());
        assert!(validate("s", &"m".repeat(5_001)).is_err());
        assert!(validate("s", "line one\r\nline two\tend").is_ok());
        assert!(validate("s", "nul\u{0}").is_err());
    }
}
