//! Amazon SES (v1 `SendEmail`) adapter. Every refusal or throttle is
//! reported as `Unavailable`: none of them is the member's fault. A message
//! that cannot be built is `Internal` (a bug).

use async_trait::async_trait;
use aws_sdk_ses::Client;
use aws_sdk_ses::error::ProvideErrorMetadata;
use aws_sdk_ses::types::{Body, Content, Destination, Message};

use super::{Mailer, OutgoingEmail};
use crate::error::MailError;

pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            configuration_set: None,
        }
    }

    /// Every send names this configuration set (`SES_CONFIGURATION_SET`):
    /// SES then suppresses addresses that bounced or complained and
    /// publishes those events (template.yaml's `MailConfigurationSet`).
    #[must_use]
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }
}

fn content(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::internal("SES message content", e))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        let mut body = Body::builder().text(content(&email.text)?);
        if let Some(html) = &email.html {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(body.build())
            .build();
        let destination = Destination::builder()
            .set_to_addresses(Some(email.to.clone()))
            .build();
        let output = self
            .client
            .send_email()
            .source(&email.from)
            .destination(destination)
            .set_reply_to_addresses(Some(email.reply_to.clone()))
            .message(message)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|err| {
                // Only the error code: SES messages can quote addresses.
                let code = err
                    .as_service_error()
                    .and_then(ProvideErrorMetadata::code)
                    .unwrap_or("no service response");
                MailError::unavailable("SES SendEmail", code.to_owned())
            })?;
        Ok(output.message_id().to_owned())
    }
}
