//! The invitation sender: takes a queued email invitation, makes its URL's
//! token, mails it at most once, and records what happened, whatever the
//! queue does (it may deliver a job twice, to two senders at once, or
//! again after a sender stopped).
//!
//! One attempt, [`deliver`]:
//! 1. Read the invitation. Anything but `Queued` is settled: nothing to do
//!    (a `Sending` one older than [`SENDING_LEASE_SECS`] was left by a
//!    sender that stopped mid-send, and becomes `Unknown`: it may have gone
//!    out, so it is never sent again).
//! 2. Withdrawn meanwhile (revoked, expired): `NotSent`.
//! 3. Claim it: one conditional write replaces the queued invitation with
//!    one under a fresh token, `Sending`. Only one claim can win.
//! 4. Mail it (the SES client makes one attempt, so its answer is about
//!    this send) and record `Sent`; throttled: back to `Queued`, tried
//!    again later, and given up after [`MAX_ATTEMPTS`]; refused: `Failed`
//!    and withdrawn; no answer: `Unknown`.
//!
//! A mail that is not sent gives back its quota unit and the address's
//! bulk-invitation slot, so the admin can invite the address again.

use chrono::TimeDelta;

use crate::App;
use crate::domain::{
    DeliveryState, Event, EventKind, InvitationRecord, InvitationStatus, InviteToken,
};
use crate::error::{ApiError, MailError};
use crate::mail::{DeliveryJob, LocalQueue};
use crate::service::admin::invitation_email;
use crate::service::mail_guard;
use crate::store::Transition;

/// Attempts per job, the first included (the template's queue moves a
/// message to its dead-letter queue after as many receives).
pub const MAX_ATTEMPTS: u32 = 8;
/// How long a sender may hold an invitation between claiming it and
/// recording SES's answer (well above the sender's timeout).
pub const SENDING_LEASE_SECS: i64 = 300;
/// Who the sender's audit events name.
const ACTOR: &str = "invitation-sender";

/// What an attempt settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// SES took the mail.
    Sent,
    /// Not sent, and never will be (`Failed` or `NotSent` recorded).
    NotSent(DeliveryState),
    /// May have gone out; recorded `Unknown`, not sent again.
    Unknown,
    /// Another attempt settled it already, or there is nothing to mail.
    Nothing,
}

/// Why an attempt must be tried again later (the job stays queued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Later {
    Throttled,
    /// Another sender holds it, within its lease.
    Held,
    /// Not readable yet (an index lags a new or reissued invitation).
    NotReadable,
    /// The store or the mail service failed; nothing was sent.
    Unavailable(String),
}

impl From<ApiError> for Later {
    fn from(err: ApiError) -> Self {
        Later::Unavailable(err.to_string())
    }
}

impl From<crate::error::StoreError> for Later {
    fn from(err: crate::error::StoreError) -> Self {
        Later::Unavailable(err.to_string())
    }
}

/// One attempt at `job`; `attempt` counts from 1.
pub async fn deliver(app: &App, job: &DeliveryJob, attempt: u32) -> Result<Settled, Later> {
    let last = attempt >= MAX_ATTEMPTS;
    let Some(record) = app
        .store
        .invitation_by_id(&job.license_id, &job.invitation_id)
        .await?
    else {
        return if last {
            tracing::warn!(invitation_id = %job.invitation_id, "queued invitation never readable");
            Ok(Settled::Nothing)
        } else {
            Err(Later::NotReadable)
        };
    };
    let now = app.now();
    match record.delivery {
        Some(DeliveryState::Queued) => {}
        Some(DeliveryState::Sending) => {
            let held_since = record.delivery_at.unwrap_or(record.created_at);
            if now - held_since < TimeDelta::seconds(SENDING_LEASE_SECS) {
                return Err(Later::Held);
            }
            let changed = app
                .store
                .set_delivery(&record, DeliveryState::Sending, DeliveryState::Unknown, now)
                .await?;
            return Ok(match changed {
                Transition::Done => {
                    tracing::warn!(invitation_id = %record.invitation_id, "a sender stopped mid-send: outcome unknown");
                    Settled::Unknown
                }
                Transition::NotPending => Settled::Nothing,
            });
        }
        // A withdrawal an earlier attempt recorded but could not finish.
        Some(state @ (DeliveryState::Failed | DeliveryState::NotSent))
            if record.status == InvitationStatus::Pending =>
        {
            withdraw(
                app,
                job,
                &record,
                withdrawal(&job.license_id, &record, state, now),
            )
            .await?;
            return Ok(Settled::NotSent(state));
        }
        _ => return Ok(Settled::Nothing),
    }
    // Withdrawn meanwhile (revoked, expired), or its license is gone.
    let license = match record.status_at(now) {
        InvitationStatus::Pending => app.store.license(&job.license_id).await?,
        _ => None,
    };
    let Some(license) = license else {
        return not_sent(
            app,
            job,
            &record,
            DeliveryState::Queued,
            DeliveryState::NotSent,
        )
        .await;
    };

    // The claim: one conditional write, a fresh token and expiry.
    let token = InviteToken::generate();
    let days = record
        .valid_days
        .unwrap_or(super::admin::DEFAULT_INVITE_DAYS);
    let claimed = InvitationRecord {
        token_hash: token.hash(&app.config.hash_keys),
        expires_at: Some(now + TimeDelta::days(i64::from(days))),
        delivery: Some(DeliveryState::Sending),
        delivery_at: Some(now),
        ..record.clone()
    };
    if app.store.claim_delivery(&record, &claimed).await? == Transition::NotPending {
        // Taken by another sender, or withdrawn since it was read.
        return Err(Later::Held);
    }

    let email = invitation_email(app, job.site.as_deref(), &license, &claimed, &token);
    match app.mailer.send(&email).await {
        Ok(_) => {
            crate::metrics::count(crate::metrics::INVITATIONS_SENT, 1);
            settle(app, &claimed, DeliveryState::Sent).await?;
            tracing::info!(invitation_id = %claimed.invitation_id, attempt, "invitation mailed");
            Ok(Settled::Sent)
        }
        Err(MailError::Throttled { .. }) if !last => {
            crate::metrics::count(crate::metrics::INVITATIONS_THROTTLED, 1);
            // Not sent: queued again, under the token nobody received.
            settle(app, &claimed, DeliveryState::Queued).await?;
            Err(Later::Throttled)
        }
        Err(err @ MailError::Deferred { .. }) if !last => {
            // Sending paused, or the deployment's SES set-up refused it: not
            // sent; the alarms and the dead-letter queue tell the operator.
            tracing::warn!(invitation_id = %claimed.invitation_id, attempt, error = %err, "invitation mail deferred");
            settle(app, &claimed, DeliveryState::Queued).await?;
            Err(Later::Unavailable(err.to_string()))
        }
        Err(err) if err.outcome_is_unknown() => {
            tracing::warn!(invitation_id = %claimed.invitation_id, error = %err, "invitation mail outcome unknown");
            settle(app, &claimed, DeliveryState::Unknown).await?;
            Ok(Settled::Unknown)
        }
        Err(err) => {
            // Refused, or still throttled on the last attempt: not sent.
            crate::metrics::count(crate::metrics::INVITATIONS_FAILED, 1);
            tracing::warn!(invitation_id = %claimed.invitation_id, attempt, error = %err, "invitation email not sent");
            not_sent(
                app,
                job,
                &claimed,
                DeliveryState::Sending,
                DeliveryState::Failed,
            )
            .await
        }
    }
}

/// Records `to` on an invitation this attempt holds (`Sending`). Only a
/// sender that outlived its lease can find it changed: said in the log.
async fn settle(app: &App, claimed: &InvitationRecord, to: DeliveryState) -> Result<(), Later> {
    let at = app.now();
    if app
        .store
        .set_delivery(claimed, DeliveryState::Sending, to, at)
        .await?
        == Transition::NotPending
    {
        tracing::warn!(invitation_id = %claimed.invitation_id, ?to, "delivery changed while this sender held it (lease exceeded)");
    }
    Ok(())
}

/// Records `to` (from `from`), then withdraws the invitation.
async fn not_sent(
    app: &App,
    job: &DeliveryJob,
    record: &InvitationRecord,
    from: DeliveryState,
    to: DeliveryState,
) -> Result<Settled, Later> {
    let now = app.now();
    if app.store.set_delivery(record, from, to, now).await? == Transition::NotPending {
        return Ok(Settled::Nothing);
    }
    withdraw(
        app,
        job,
        record,
        withdrawal(&job.license_id, record, to, now),
    )
    .await?;
    Ok(Settled::NotSent(to))
}

/// The sender's audit event for an invitation withdrawn as `state`.
fn withdrawal(
    license_id: &crate::domain::LicenseId,
    record: &InvitationRecord,
    state: DeliveryState,
    at: crate::domain::Timestamp,
) -> Event {
    let mut event = Event::new(license_id, EventKind::InvitationUndeliverable, ACTOR, at);
    event.invitation_id = Some(record.invitation_id.clone());
    event.detail = Some(match state {
        DeliveryState::Failed => "the invitation email could not be sent".into(),
        _ => "the invitation was withdrawn before its email was sent".into(),
    });
    event
}

/// Withdraws an invitation whose mail was not sent (its delivery already
/// says so): revokes it if still pending, with `event`, then gives back its
/// quota unit and its address slot. In that order, and only once: a retry
/// after a failure here finds it still pending and finishes; one after it
/// was revoked does nothing more.
pub(crate) async fn withdraw(
    app: &App,
    job: &DeliveryJob,
    record: &InvitationRecord,
    event: Event,
) -> Result<(), ApiError> {
    if record.status == InvitationStatus::Pending
        && app
            .store
            .close_invitation(record, InvitationStatus::Revoked, &event)
            .await?
            == Transition::NotPending
    {
        // Revoked (or accepted) meanwhile by someone else: they did it.
        return Ok(());
    }
    if let Some(start) = job.quota_window_start {
        mail_guard::give_back_later(
            app,
            &mail_guard::invitation_mail_key(&job.license_id),
            start,
        )
        .await?;
    }
    if let (Some(start), Some(email)) = (job.address_window_start, &record.email) {
        mail_guard::give_back_later(app, &mail_guard::address_key(&job.license_id, email), start)
            .await?;
    }
    Ok(())
}

/// What draining a local queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drained {
    pub sent: usize,
    pub not_sent: usize,
    pub unknown: usize,
    /// Attempts that were tried again later.
    pub retried: usize,
}

/// Runs the in-process queue until it is empty: each job as the SQS sender
/// would, a job to be tried again put back with its next attempt number
/// after `pause(why, attempt)` (the devserver waits [`wait_before_retry`];
/// tests do not wait).
pub async fn drain(
    app: &App,
    queue: &LocalQueue,
    pause: impl Fn(&Later, u32) -> std::time::Duration,
) -> Drained {
    let mut report = Drained::default();
    loop {
        let batch = queue.take_all();
        if batch.is_empty() {
            return report;
        }
        for (job, attempt) in batch {
            match deliver(app, &job, attempt).await {
                Ok(Settled::Sent) => report.sent += 1,
                Ok(Settled::NotSent(_)) => report.not_sent += 1,
                Ok(Settled::Unknown) => report.unknown += 1,
                Ok(Settled::Nothing) => {}
                Err(later) => {
                    report.retried += 1;
                    tracing::debug!(invitation_id = %job.invitation_id, attempt, ?later, "delivery later");
                    let wait = pause(&later, attempt);
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    queue.put_back(job, attempt + 1);
                }
            }
        }
    }
}

/// How long a job waits before its next attempt, after attempt `attempt`
/// answered `later`: a throttled (or failed) send backs off 2 s, 4 s, 8 s …
/// up to 5 minutes (the eighth and last attempt comes about 4 minutes after
/// the first); an invitation another sender holds is looked at again in
/// 30 s, one not readable yet in 5 s.
pub fn wait_before_retry(later: &Later, attempt: u32) -> std::time::Duration {
    use std::time::Duration;
    match later {
        Later::NotReadable => Duration::from_secs(5),
        Later::Held => Duration::from_secs(30),
        Later::Throttled | Later::Unavailable(_) => {
            Duration::from_secs(2u64 << attempt.saturating_sub(1).min(8))
                .min(Duration::from_secs(300))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_sends_back_off_doubling_to_five_minutes() {
        let secs: Vec<u64> = (1..=MAX_ATTEMPTS)
            .map(|a| wait_before_retry(&Later::Throttled, a).as_secs())
            .collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 128, 256]);
        assert_eq!(wait_before_retry(&Later::Throttled, 20).as_secs(), 300);
        assert_eq!(wait_before_retry(&Later::Held, 1).as_secs(), 30);
    }
}
