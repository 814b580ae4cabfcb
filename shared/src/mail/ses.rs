//! Amazon SES (v1 `SendEmail`) adapter. Every refusal or throttle is
//! reported as `Unavailable`: none of them is the member's fault. A message
//! that cannot be built is `Internal` (a bug).

use async_trait::async_trait;
use aws_sdk_ses::Client;
use aws_sdk_ses::error::ProvideErrorMetadata;
use aws_sdk_ses::types::{Body, Content, Destination, Message};

use serde::Deserialize;

use super::{Mailer, OutgoingEmail};
use crate::domain::{Email, SuppressionReason};
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
        // One attempt: its answer is about this very send.
        let single_attempt = self
            .client
            .config()
            .retry_config()
            .is_some_and(|r| r.max_attempts() == 1);
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
                let code = err.as_service_error().and_then(ProvideErrorMetadata::code);
                match code {
                    // With one attempt a throttled answer means this very
                    // send was refused; after the SDK's retries, an earlier
                    // attempt may have sent it.
                    Some(code) if THROTTLED_CODES.contains(&code) && single_attempt => {
                        MailError::Throttled {
                            operation: "SES SendEmail",
                        }
                    }
                    Some(code) if DEFERRED_CODES.contains(&code) => MailError::Deferred {
                        operation: "SES SendEmail",
                        code: code.to_owned(),
                    },
                    // Refused: not sent.
                    Some(code)
                        if !UNKNOWN_OUTCOME_CODES.contains(&code)
                            && !THROTTLED_CODES.contains(&code) =>
                    {
                        MailError::unavailable("SES SendEmail", code.to_owned())
                    }
                    // Failed inside SES, or no answer at all: it may have
                    // been sent.
                    code => MailError::outcome_unknown(
                        "SES SendEmail",
                        code.unwrap_or("no service response").to_owned(),
                    ),
                }
            })?;
        Ok(output.message_id().to_owned())
    }
}

/// The SES client's timeouts: connect 1 s, each attempt 3 s, a send with
/// the SDK's retries 6 s. A send that times out may have gone out.
pub fn sdk_timeout_config() -> aws_sdk_ses::config::timeout::TimeoutConfig {
    aws_sdk_ses::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_secs(3))
        .operation_timeout(std::time::Duration::from_secs(6))
        .build()
}

/// The SES client's retries: the SDK's standard ones, or with
/// `SES_MAX_ATTEMPTS=1` (the invitation sender's) none. With one attempt
/// every answer is about the one send that was made, so a throttled send is
/// known not to have gone out (the sender tries it again later), and a mail
/// that may have gone out is never sent twice by the SDK either.
pub fn sdk_retry_config(max_attempts: u32) -> aws_sdk_ses::config::retry::RetryConfig {
    aws_sdk_ses::config::retry::RetryConfig::standard().with_max_attempts(max_attempts.max(1))
}

/// SES's answers for a send it refused for a reason that is not the
/// message's: sending paused, or the deployment's set-up.
const DEFERRED_CODES: &[&str] = &[
    "AccountSendingPausedException",
    "ConfigurationSetSendingPausedException",
    "ConfigurationSetDoesNotExist",
    "AccessDenied",
    "AccessDeniedException",
];

/// SES's answers for a send over the account's rate.
const THROTTLED_CODES: &[&str] = &["Throttling", "ThrottlingException"];

/// SES error codes after which the message may have been sent.
const UNKNOWN_OUTCOME_CODES: &[&str] = &["InternalFailure", "ServiceUnavailable", "RequestTimeout"];

// ---- bounce and complaint events -------------------------------------------

/// An SES event as its configuration set publishes it (`eventType`), or an
/// identity notification (`notificationType`): only what suppression needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    event_type: Option<String>,
    notification_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// The addresses an SES event (the JSON an SNS message carries) says must
/// not be mailed again: every recipient of a permanent bounce or of a
/// complaint. Transient bounces (a full mailbox) and other events (sends,
/// deliveries) name none. A recipient that is no valid address is skipped;
/// a message that is not an SES event is an error (its text is not
/// quoted: it carries addresses).
pub fn suppressions_in_event(message: &str) -> Result<Vec<(Email, SuppressionReason)>, String> {
    let event: SesEvent = serde_json::from_str(message).map_err(|e| {
        format!(
            "not an SES event (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let kind = event
        .event_type
        .or(event.notification_type)
        .unwrap_or_default();
    let (reason, recipients) = match (kind.as_str(), event.bounce, event.complaint) {
        ("Bounce", Some(bounce), _) if bounce.bounce_type == "Permanent" => {
            (SuppressionReason::Bounce, bounce.bounced_recipients)
        }
        ("Complaint", _, Some(complaint)) => (
            SuppressionReason::Complaint,
            complaint.complained_recipients,
        ),
        _ => return Ok(Vec::new()),
    };
    Ok(recipients
        .iter()
        .filter_map(|r| Email::parse(strip_display_name(&r.email_address)))
        .map(|email| (email, reason))
        .collect())
}

/// `Ann <ann@x.example>` → `ann@x.example` (SES may quote recipients so).
fn strip_display_name(address: &str) -> &str {
    match (address.rfind('<'), address.rfind('>')) {
        (Some(start), Some(end)) if start < end => &address[start + 1..end],
        _ => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_bounces_and_complaints_name_their_recipients() {
        let bounce = r#"{"eventType":"Bounce","bounce":{"bounceType":"Permanent",
            "bounceSubType":"General","bouncedRecipients":[{"emailAddress":"Bob@Uni.example"},
            {"emailAddress":"Cy <cy@uni.example>"},{"emailAddress":"not an address"}]},
            "mail":{"messageId":"m1"}}"#;
        let found = suppressions_in_event(bounce).expect("an event");
        let addresses: Vec<(&str, SuppressionReason)> =
            found.iter().map(|(e, r)| (e.as_str(), *r)).collect();
        assert_eq!(
            addresses,
            [
                ("bob@uni.example", SuppressionReason::Bounce),
                ("cy@uni.example", SuppressionReason::Bounce)
            ]
        );
        let complaint = r#"{"notificationType":"Complaint","complaint":{
            "complainedRecipients":[{"emailAddress":"ann@uni.example"}]}}"#;
        let found = suppressions_in_event(complaint).expect("an event");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, SuppressionReason::Complaint);
    }

    #[test]
    fn transient_bounces_and_other_events_suppress_nothing() {
        let transient = r#"{"eventType":"Bounce","bounce":{"bounceType":"Transient",
            "bouncedRecipients":[{"emailAddress":"bob@uni.example"}]}}"#;
        assert_eq!(suppressions_in_event(transient).map(|v| v.len()), Ok(0));
        let delivery = r#"{"eventType":"Delivery","delivery":{"recipients":["bob@uni.example"]}}"#;
        assert_eq!(suppressions_in_event(delivery).map(|v| v.len()), Ok(0));
        let garbage = suppressions_in_event("bob@uni.example").expect_err("not JSON");
        assert!(!garbage.contains("bob"), "{garbage}");
    }
}
