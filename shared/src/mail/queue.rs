//! The queue between the API and the invitation sender. The API records an
//! email invitation `Queued` and puts a [`DeliveryJob`] here; the sender
//! (`service::delivery`) takes it, mails it and records what happened.
//! Adapters: Amazon SQS (deployed; the `invitation-sender` function reads
//! it) and an in-process queue (devserver, tests, local Lambda loops).

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::domain::{InvitationId, LicenseId};
use crate::error::MailError;

/// One invitation to mail. No secret: the sender makes the URL's token
/// when it takes the invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryJob {
    pub license_id: LicenseId,
    pub invitation_id: InvitationId,
    /// The `https://` origin the admin's request came in on: the base of
    /// the invite URL when `PORTAL_BASE_URL` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The start (Unix seconds) of the invitation-mail quota window the
    /// mail was counted in, to give it back if the mail is not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_window_start: Option<i64>,
    /// The start of the address's bulk-invitation window on the license,
    /// to reopen it if the mail is not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_window_start: Option<i64>,
}

#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Queues every job, or fails having queued none it reports: on an
    /// error the caller withdraws the invitations of the jobs it names.
    async fn enqueue(&self, jobs: &[DeliveryJob]) -> Result<(), EnqueueError>;

    /// Hides a received job (by the queue's receipt for it) for `wait`
    /// before it is delivered again: the sender's backoff. Best effort: if
    /// it fails, the queue's own visibility timeout applies. The in-process
    /// queue has no receipts; its drain waits itself.
    async fn hide(&self, _receipt: &str, _wait: std::time::Duration) {}
}

/// Which jobs were not queued, and why.
#[derive(Debug)]
pub struct EnqueueError {
    pub failed: Vec<DeliveryJob>,
    pub cause: MailError,
}

/// The in-process queue: jobs wait in memory until something drains them
/// (the devserver's worker, a test, or the request itself in a local
/// Lambda loop).
#[derive(Default)]
pub struct LocalQueue {
    /// Each job with its attempt number (from 1).
    jobs: Mutex<VecDeque<(DeliveryJob, u32)>>,
    arrived: Notify,
}

impl LocalQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(DeliveryJob, u32)>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes every waiting job, with its attempt number.
    pub fn take_all(&self) -> Vec<(DeliveryJob, u32)> {
        self.lock().drain(..).collect()
    }

    /// Puts a job back at the end, for its attempt `attempt`.
    pub fn put_back(&self, job: DeliveryJob, attempt: u32) {
        self.lock().push_back((job, attempt));
        self.arrived.notify_one();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until a job is queued (returns at once if one waits).
    pub async fn arrived(&self) {
        if self.is_empty() {
            self.arrived.notified().await;
        }
    }
}

#[async_trait]
impl DeliveryQueue for LocalQueue {
    async fn enqueue(&self, jobs: &[DeliveryJob]) -> Result<(), EnqueueError> {
        self.lock().extend(jobs.iter().map(|job| (job.clone(), 1)));
        self.arrived.notify_one();
        Ok(())
    }
}
