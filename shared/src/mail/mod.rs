//! The mail port and its adapters: an in-process outbox (local default)
//! and Amazon SES; the emails themselves in [`templates`]; the queue the
//! invitation sender reads ([`queue`]: SQS, or in-process).

mod outbox;
pub mod queue;
mod ses;
mod sqs;
pub mod templates;

pub use outbox::Outbox;
pub use queue::{DeliveryJob, DeliveryQueue, EnqueueError, LocalQueue};
pub use ses::{
    SesMailer, sdk_retry_config as ses_retry_config, sdk_timeout_config as ses_timeout_config,
    suppressions_in_event,
};
pub use sqs::SqsQueue;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::MailError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingEmail {
    pub from: String,
    pub to: Vec<String>,
    pub reply_to: Vec<String>,
    pub subject: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends the email; returns the mail service's message id.
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError>;
}
