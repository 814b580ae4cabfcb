//! Invitations of a license: email invitations in bulk, open links,
//! listing, revoke and resend.

use chrono::TimeDelta;
use serde::Serialize;

use super::{Listing, authorize, cursor};
use crate::App;
use crate::domain::{
    Caller, DeliveryState, Email, Event, EventKind, Invitation, InvitationId, InvitationRecord,
    InvitationStatus, InviteToken, LicenseId, LicenseRecord, Timestamp,
};
use crate::error::ApiError;
use crate::mail::{DeliveryJob, OutgoingEmail, templates};
use crate::service::mail_guard;
use crate::service::provision::{InvitationOptions, add_invitation};
use crate::store::{Paging, Transition};

pub const MAX_EMAILS_PER_CALL: usize = 100;
pub const DEFAULT_INVITE_DAYS: u32 = 14;
pub const MAX_INVITE_DAYS: u32 = 365;
/// What a resend of an invitation whose first mail is still queued is told
/// to wait (`RESEND_TOO_SOON`).
const FIRST_MAIL_WAIT_SECS: u64 = 60;
/// A first mail queued longer than this is stuck (the sender gives up
/// within minutes; its message may be in the dead-letter queue): a resend
/// takes over.
const QUEUED_STUCK_SECS: i64 = 3600;

/// Whether the invitation's first mail is still with the sender: queued
/// within the hour, or being sent within the sender's lease.
fn first_mail_on_its_way(invitation: &InvitationRecord, now: Timestamp) -> bool {
    let since = invitation.delivery_at.unwrap_or(invitation.created_at);
    match invitation.delivery {
        Some(DeliveryState::Queued) => now - since < TimeDelta::seconds(QUEUED_STUCK_SECS),
        Some(DeliveryState::Sending) => {
            now - since < TimeDelta::seconds(crate::service::delivery::SENDING_LEASE_SECS)
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Delivery {
    /// Invited: recorded, and its mail queued for the sender (the
    /// invitation's `delivery` then says what became of it).
    Queued,
    /// Not invited again: the address has a pending invitation to this
    /// license, or was invited by a bulk call within the last 24 hours (a
    /// retried call). Nothing is mailed; `invitationId` names the earlier
    /// invitation when it can be read.
    AlreadyInvited,
    /// The mail could not be queued: the invitation was withdrawn and
    /// nothing was sent.
    Failed,
    AlreadyMember,
    /// The address bounced or complained before: not invited, not mailed.
    Suppressed,
    /// The license's invitation-mail quota is used up: not invited, not
    /// mailed (`INVITATION_QUOTA_EXCEEDED`; `retryAfter` says when).
    QuotaExceeded,
}

/// One address of a bulk invitation: the invitation (none for an address
/// that already holds a seat, is suppressed or is beyond the quota) and
/// what happened to its email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationOutcome {
    pub invitation_id: Option<InvitationId>,
    pub license_id: LicenseId,
    pub status: Option<InvitationStatus>,
    pub email: String,
    pub expires_at: Option<Timestamp>,
    pub created_at: Option<Timestamp>,
    pub delivery: Delivery,
    /// Seconds until the quota allows mail again, for `quotaExceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl InvitationOutcome {
    fn of(record: &InvitationRecord, now: Timestamp, delivery: Delivery) -> Self {
        Self {
            invitation_id: Some(record.invitation_id.clone()),
            license_id: record.license_id.clone(),
            status: Some(record.status_at(now)),
            email: record
                .email
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            expires_at: record.expires_at,
            created_at: Some(record.created_at),
            delivery,
            retry_after: None,
        }
    }

    /// An address that was not invited.
    fn not_invited(license_id: &LicenseId, email: &Email, delivery: Delivery) -> Self {
        Self {
            invitation_id: None,
            license_id: license_id.clone(),
            status: None,
            email: email.as_str().to_owned(),
            expires_at: None,
            created_at: None,
            delivery,
            retry_after: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenLink {
    pub invitation: Invitation,
    pub url: String,
}

/// `expiresInDays` as a request gives it, checked before the admin check
/// (docs/errors.md, "Which error wins"): at least 1. The upper bound,
/// [`MAX_INVITE_DAYS`], is checked by the use case ([`validate_days`]),
/// after it.
pub fn validate_requested_days(requested: Option<i64>) -> Result<Option<u32>, ApiError> {
    match requested {
        Some(d) if d < 1 => Err(ApiError::invalid("expiresInDays must be at least 1")),
        other => other
            .map(|d| {
                u32::try_from(d).map_err(|_| ApiError::invalid("expiresInDays is out of range"))
            })
            .transpose(),
    }
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
/// admin's request came in on (`site`; the portal is served on the API's
/// domain).
pub(crate) fn invite_url(app: &App, site: Option<&str>, token: &InviteToken) -> String {
    let base = match (app.config.portal_base_url.as_str(), site) {
        ("", Some(site)) => site,
        (configured, _) => configured,
    };
    format!("{base}/invite/{}", token.expose())
}

/// The invitee's email, with the inviter's display name and a fresh URL.
pub(crate) fn invitation_email(
    app: &App,
    site: Option<&str>,
    license: &LicenseRecord,
    invitation: &InvitationRecord,
    token: &InviteToken,
) -> OutgoingEmail {
    templates::invitation_email(
        &app.config.sender_email,
        invitation.invited_by.as_deref(),
        license,
        invitation,
        &invite_url(app, site, token),
    )
}

/// An open, single-use invite link.
pub async fn create_link(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
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
        &app.config.hash_keys,
        &license.license_id,
        &token,
        options,
        caller.user_id.as_str(),
        now,
    )
    .await?;
    Ok(OpenLink {
        invitation: record.view(now, None, true),
        url: invite_url(app, caller.site.as_deref(), &token),
    })
}

/// Invites each address with its own invite URL, mailed by the sender
/// (`service::delivery`): the invitations are recorded `Queued` and the
/// call answers at once. An address that already holds a seat, is
/// suppressed (it bounced or complained), or already has a pending
/// invitation to the license (or one from a bulk call in the last 24
/// hours: a retried call) is reported, not invited. Each mail takes one
/// unit of the license's invitation-mail quota; the addresses beyond it are
/// reported `quotaExceeded`, and when that leaves nothing invited the whole
/// call is `INVITATION_QUOTA_EXCEEDED`. A mail that cannot be queued
/// withdraws its invitation and gives its quota back.
pub async fn invite_emails(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    emails: &[Email],
    days: Option<u32>,
) -> Result<Vec<InvitationOutcome>, ApiError> {
    authorize(app, caller, license_id).await?;
    let days = validate_days(days)?;
    let members = app.store.members_among(license_id, emails).await?;
    let mut outcomes = Vec::with_capacity(emails.len());
    let mut jobs = Vec::new();
    let recorded = record_each(
        app,
        caller,
        license_id,
        emails,
        days,
        &members,
        &mut outcomes,
        &mut jobs,
    )
    .await;
    // What was recorded is queued even if recording stopped halfway (a
    // store failure): no invitation is left `queued` with nothing queued.
    queue_mail(app, caller, license_id, jobs, &mut outcomes).await?;
    if let Some(retry_after_secs) = recorded?
        && outcomes.iter().all(|o| o.invitation_id.is_none())
    {
        // Nothing was invited: the call as a whole is refused.
        return Err(ApiError::InvitationQuotaExceeded { retry_after_secs });
    }
    Ok(outcomes)
}

/// A recorded invitation whose mail is to be queued (the job names the
/// limit windows it took units of).
struct Recorded {
    job: DeliveryJob,
    record: InvitationRecord,
}

/// Records each address's invitation (or says why not), in order; the
/// seconds until the quota allows mail again if it refused some.
#[allow(clippy::too_many_arguments)]
async fn record_each(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    emails: &[Email],
    days: u32,
    members: &[Email],
    outcomes: &mut Vec<InvitationOutcome>,
    jobs: &mut Vec<Recorded>,
) -> Result<Option<u64>, ApiError> {
    // Once the quota refuses, it refuses the rest of the call too.
    let mut quota_full: Option<u64> = None;
    for email in emails {
        if members.contains(email) {
            outcomes.push(InvitationOutcome::not_invited(
                license_id,
                email,
                Delivery::AlreadyMember,
            ));
            continue;
        }
        if mail_guard::is_suppressed(app, email).await? {
            outcomes.push(InvitationOutcome::not_invited(
                license_id,
                email,
                Delivery::Suppressed,
            ));
            continue;
        }
        let now = app.now();
        let pending = app
            .store
            .pending_invitations(email)
            .await?
            .into_iter()
            .find(|i| i.license_id == *license_id && i.status_at(now) == InvitationStatus::Pending);
        if let Some(earlier) = pending {
            outcomes.push(InvitationOutcome::of(
                &earlier,
                now,
                Delivery::AlreadyInvited,
            ));
            continue;
        }
        let Some(slot) = mail_guard::address_slot(app, license_id, email).await? else {
            // Invited moments ago (the index may not show it yet).
            outcomes.push(InvitationOutcome::not_invited(
                license_id,
                email,
                Delivery::AlreadyInvited,
            ));
            continue;
        };
        let quota = match quota_full {
            Some(retry_after) => Err(retry_after),
            None => match mail_guard::invitation_mail(app, license_id).await {
                Ok(quota) => quota,
                Err(err) => {
                    let _ = slot.give_back(app).await;
                    return Err(err);
                }
            },
        };
        let quota = match quota {
            Ok(taken) => taken,
            Err(retry_after) => {
                slot.give_back(app).await?;
                quota_full = Some(retry_after);
                let mut outcome =
                    InvitationOutcome::not_invited(license_id, email, Delivery::QuotaExceeded);
                outcome.retry_after = Some(retry_after);
                outcomes.push(outcome);
                continue;
            }
        };
        // A token nobody learns: the sender replaces it with the one it
        // mails, so the queue carries no secret.
        let placeholder = InviteToken::generate();
        let options = InvitationOptions {
            email: Some(email.clone()),
            expires_at: Some(now + TimeDelta::days(i64::from(days))),
            valid_days: Some(days),
            status: InvitationStatus::Pending,
            invited_by: caller.name.clone(),
            delivery: Some(DeliveryState::Queued),
        };
        let record = match add_invitation(
            app.store.as_ref(),
            &app.config.hash_keys,
            license_id,
            &placeholder,
            options,
            caller.user_id.as_str(),
            now,
        )
        .await
        {
            Ok(record) => record,
            Err(err) => {
                // Not recorded (or unknown: then a pending invitation no
                // mail will reach, which the admin can resend): the units
                // go back so the address can be invited again.
                let _ = quota.give_back(app).await;
                let _ = slot.give_back(app).await;
                return Err(err.into());
            }
        };
        let job = DeliveryJob {
            license_id: license_id.clone(),
            invitation_id: record.invitation_id.clone(),
            site: caller.site.clone(),
            quota_window_start: Some(quota.window_start()),
            address_window_start: Some(slot.window_start()),
        };
        outcomes.push(InvitationOutcome::of(&record, now, Delivery::Queued));
        jobs.push(Recorded { job, record });
    }
    Ok(quota_full)
}

/// Queues the recorded invitations' mail. A job that could not be queued
/// is withdrawn, unless the sender already took it (the batch did reach the
/// queue): `Queued` → `NotSent` is the one write that decides.
async fn queue_mail(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    jobs: Vec<Recorded>,
    outcomes: &mut [InvitationOutcome],
) -> Result<(), ApiError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let queued: Vec<DeliveryJob> = jobs.iter().map(|r| r.job.clone()).collect();
    let Err(refused) = app.queue.enqueue(&queued).await else {
        crate::metrics::count(crate::metrics::INVITATIONS_QUEUED, queued.len() as u64);
        return Ok(());
    };
    tracing::warn!(license_id = license_id.as_str(), jobs = refused.failed.len(), error = %refused.cause, "invitation mail not queued");
    for Recorded { job, record } in jobs {
        if !refused.failed.contains(&job) {
            continue;
        }
        let now = app.now();
        let withdrawn = app
            .store
            .set_delivery(&record, DeliveryState::Queued, DeliveryState::NotSent, now)
            .await?;
        if withdrawn == Transition::NotPending {
            // The sender has it: the batch reached the queue after all.
            continue;
        }
        let mut event = Event::by(caller, license_id, EventKind::InvitationUndeliverable, now);
        event.invitation_id = Some(record.invitation_id.clone());
        event.detail = Some("the invitation email could not be queued".into());
        crate::service::delivery::withdraw(app, &job, &record, event).await?;
        if let Some(outcome) = outcomes
            .iter_mut()
            .find(|o| o.invitation_id.as_ref() == Some(&record.invitation_id))
        {
            outcome.status = Some(InvitationStatus::Revoked);
            outcome.delivery = Delivery::Failed;
        }
    }
    Ok(())
}

/// One page of the license's invitations: all of them newest first, or
/// those with `status`, read from that status alone (the store's order:
/// pending and expired ones by expiry). Each cursor belongs to its filter.
pub async fn list_invitations(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    status: Option<InvitationStatus>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listing<Invitation>, ApiError> {
    authorize(app, caller, license_id).await?;
    let now = app.now();
    let kind = match status {
        None => "invitations".to_owned(),
        Some(s) => format!("invitations:{s:?}"),
    };
    let after = cursor.map(|c| cursor::decode(&kind, c)).transpose()?;
    let paging = Paging::new(after.as_ref(), limit);
    let page = match status {
        None => app.store.license_invitations(license_id, paging).await?,
        Some(s) => {
            app.store
                .license_invitations_by_status(license_id, s, now, paging)
                .await?
        }
    };
    // The index may lag a status change by a moment: leave out what it
    // shows in a status it has left (the page may then be short).
    Ok(Listing {
        items: page
            .items
            .into_iter()
            .filter(|inv| status.is_none_or(|s| inv.status_at(now) == s))
            .map(|inv| inv.view(now, None, true))
            .collect(),
        next_cursor: page.next.map(|p| cursor::encode(&kind, &p)),
    })
}

pub async fn revoke_invitation(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    invitation_id: &InvitationId,
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
    let mut event = Event::by(caller, license_id, EventKind::InvitationRevoked, app.now());
    event.invitation_id = Some(invitation.invitation_id.clone());
    if app
        .store
        .close_invitation(&invitation, InvitationStatus::Revoked, &event)
        .await?
        == Transition::NotPending
    {
        // Another admin may have revoked it a moment ago: that is success.
        // Or the sender (or a resend) gave it a new token meanwhile: then it
        // is under that one, still pending, and revoked there.
        let now = app
            .store
            .invitation_by_id(license_id, invitation_id)
            .await?;
        match now {
            Some(i) if i.status == InvitationStatus::Revoked => {}
            Some(i)
                if i.status == InvitationStatus::Pending
                    && i.token_hash != invitation.token_hash
                    && app
                        .store
                        .close_invitation(&i, InvitationStatus::Revoked, &event)
                        .await?
                        == Transition::Done => {}
            _ => return Err(ApiError::InviteAlreadyUsed),
        }
    }
    tracing::info!(
        license_id = license_id.as_str(),
        invitation_id = invitation_id.as_str(),
        "invitation revoked"
    );
    Ok(())
}

/// Emails a fresh URL: the old one stops working and the expiry restarts.
/// Not to a suppressed address (`RECIPIENT_SUPPRESSED`), at most once per
/// cooldown (`RESEND_TOO_SOON`), and within the license's invitation-mail
/// quota (`INVITATION_QUOTA_EXCEEDED`); a mail that is not sent counts
/// against neither.
pub async fn resend_invitation(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    invitation_id: &InvitationId,
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
    let Some(address) = &old.email else {
        return Err(ApiError::invalid(
            "an open link has no address to resend to; create a new link",
        ));
    };
    if mail_guard::is_suppressed(app, address).await? {
        return Err(ApiError::RecipientSuppressed);
    }
    if first_mail_on_its_way(&old, app.now()) {
        // A resend now would mail twice.
        return Err(ApiError::ResendTooSoon {
            retry_after_secs: FIRST_MAIL_WAIT_SECS,
        });
    }
    let slot = mail_guard::resend_slot(app, license_id, invitation_id).await?;
    let quota = match mail_guard::invitation_mail(app, license_id).await? {
        Ok(taken) => taken,
        Err(retry_after_secs) => {
            slot.give_back(app).await?;
            return Err(ApiError::InvitationQuotaExceeded { retry_after_secs });
        }
    };
    let now = app.now();
    let days = old.valid_days.unwrap_or(DEFAULT_INVITE_DAYS);
    let token = InviteToken::generate();
    let fresh = InvitationRecord {
        token_hash: token.hash(&app.config.hash_keys),
        expires_at: Some(now + TimeDelta::days(i64::from(days))),
        valid_days: Some(days),
        // Recorded only once the mail below is sent.
        delivery: Some(DeliveryState::Sent),
        delivery_at: Some(now),
        ..old.clone()
    };
    let mut event = Event::by(caller, license_id, EventKind::InvitationResent, now);
    event.invitation_id = Some(old.invitation_id.clone());
    // Mail first: if it cannot be sent, nothing changed and the old URL
    // still works. (Should the invitation be accepted in between, the new
    // URL in that email finds it used.)
    if let Err(err) = app
        .mailer
        .send(&invitation_email(
            app,
            caller.site.as_deref(),
            &license,
            &fresh,
            &token,
        ))
        .await
    {
        crate::metrics::count(crate::metrics::INVITATIONS_FAILED, 1);
        quota.give_back(app).await?;
        slot.give_back(app).await?;
        return Err(err.into());
    }
    crate::metrics::count(crate::metrics::INVITATIONS_SENT, 1);
    if app.store.reissue_invitation(&old, &fresh, &event).await? == Transition::NotPending {
        return Err(ApiError::InviteAlreadyUsed);
    }
    tracing::info!(
        license_id = license_id.as_str(),
        invitation_id = invitation_id.as_str(),
        "invitation resent"
    );
    Ok(fresh.view(now, None, true))
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
    fn invite_days_are_bounded() {
        assert_eq!(validate_days(None).ok(), Some(DEFAULT_INVITE_DAYS));
        assert!(validate_days(Some(0)).is_err());
        assert!(validate_days(Some(366)).is_err());
    }
}
