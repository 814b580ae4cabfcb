//! What stands between a use case and the mailer, in one place: addresses
//! the mail provider reported as bouncing or complaining are not mailed
//! again; a license sends at most `INVITATION_MAIL_QUOTA` invitation emails
//! per window; one invitation is resent at most once per
//! `RESEND_COOLDOWN_SECS`. The counts are `Limits` windows, taken before a
//! send and given back when the mail service refuses it, so mail that was
//! not sent is never counted and never reported as sent.

use crate::App;
use crate::domain::{Email, InvitationId, LicenseId};
use crate::error::ApiError;
use crate::store::{Acquired, LimitWindow};

/// Whether mail to `email` is suppressed (it bounced or complained).
pub(crate) async fn is_suppressed(app: &App, email: &Email) -> Result<bool, ApiError> {
    Ok(app.store.suppression(&email.hash()).await?.is_some())
}

/// One counted unit of a limit, to give back if the mail is not sent.
#[must_use]
pub(crate) struct Taken {
    key: String,
    window: LimitWindow,
}

impl Taken {
    /// Gives the unit back: the mail was not sent.
    pub(crate) async fn give_back(self, app: &App) -> Result<(), ApiError> {
        app.store.limit_release(&self.key, self.window).await?;
        Ok(())
    }

    /// When its window opened: what the sender needs to give it back later.
    pub(crate) fn window_start(&self) -> i64 {
        self.window.start
    }
}

/// Gives back a unit taken in the window that opened at `start` (by
/// another process: the API took it, the sender gives it back).
pub(crate) async fn give_back_later(app: &App, key: &str, start: i64) -> Result<(), ApiError> {
    let window = LimitWindow { start, count: 0 };
    app.store.limit_release(key, window).await?;
    Ok(())
}

/// The key of a license's invitation-mail quota.
pub(crate) fn invitation_mail_key(license_id: &LicenseId) -> String {
    format!("invitation-mail#{license_id}")
}

/// The key of one address's invitation slot on a license (see
/// [`address_slot`]).
pub(crate) fn address_key(license_id: &LicenseId, email: &Email) -> String {
    format!("invite-address#{license_id}#{}", email.hash().as_str())
}

/// One bulk invitation per address and license per window
/// ([`ADDRESS_WINDOW_SECS`]), taken atomically: a retried or doubled bulk
/// call finds the slot taken and mails nobody twice. `None`: taken.
pub(crate) async fn address_slot(
    app: &App,
    license_id: &LicenseId,
    email: &Email,
) -> Result<Option<Taken>, ApiError> {
    Ok(
        take(app, address_key(license_id, email), 1, ADDRESS_WINDOW_SECS)
            .await?
            .ok(),
    )
}

/// How long one address cannot be invited again to the same license by a
/// bulk call (unless its invitation fails: then the slot is given back).
pub const ADDRESS_WINDOW_SECS: u64 = 24 * 3600;

/// Counts one event under `key`, or the seconds until its window closes.
async fn take(
    app: &App,
    key: String,
    max: u32,
    window_secs: u64,
) -> Result<Result<Taken, u64>, ApiError> {
    let now = app.now();
    Ok(
        match app.store.limit_acquire(&key, max, window_secs, now).await? {
            Acquired::Counted(window) => Ok(Taken { key, window }),
            Acquired::Full(full) => Err(full.retry_after(window_secs, now)),
        },
    )
}

/// One invitation email of the license's quota; `Err(seconds)` while the
/// quota is used up.
pub(crate) async fn invitation_mail(
    app: &App,
    license_id: &LicenseId,
) -> Result<Result<Taken, u64>, ApiError> {
    let limits = &app.config.limits;
    take(
        app,
        invitation_mail_key(license_id),
        limits.invitation_mail_quota,
        limits.invitation_mail_window_secs,
    )
    .await
}

/// The one resend of an invitation its cooldown allows, or
/// `RESEND_TOO_SOON`.
pub(crate) async fn resend_slot(
    app: &App,
    license_id: &LicenseId,
    invitation_id: &InvitationId,
) -> Result<Taken, ApiError> {
    let cooldown = app.config.limits.resend_cooldown_secs;
    take(
        app,
        format!("resend#{license_id}#{invitation_id}"),
        1,
        cooldown,
    )
    .await?
    .map_err(|retry_after_secs| ApiError::ResendTooSoon { retry_after_secs })
}
