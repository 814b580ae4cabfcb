//! The SES adapter against the SES emulator: a sent message carries the
//! member's address as Reply-To, and a refusal is a 503 that is not counted.

use std::io::{Read, Write};
use std::sync::Arc;

use integration_tests::{Backend, TestApp, user};
use seat_invitations::ApiError;
use seat_invitations::config::{Config, Profile};
use seat_invitations::mail::{Mailer, OutgoingEmail, SesMailer};
use seat_invitations::service::{contact, redeem};

fn ses_endpoint() -> String {
    std::env::var("TEST_SES_ENDPOINT").unwrap_or_else(|_| {
        panic!("TEST_SES_ENDPOINT is not set: run the tests with ./scripts/test.sh, which starts the SES emulator")
    })
}

fn ses_client() -> aws_sdk_ses::Client {
    let config = aws_sdk_ses::Config::builder()
        .behavior_version_latest()
        .http_client(seat_invitations::wiring::http_client())
        .endpoint_url(ses_endpoint())
        .region(aws_sdk_ses::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ses::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    aws_sdk_ses::Client::from_conf(config)
}

/// Messages the emulator accepted (`GET /moto-api/data.json`).
fn sent_messages() -> Vec<serde_json::Value> {
    let endpoint = ses_endpoint();
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect to SES emulator");
    write!(
        stream,
        "GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let data: serde_json::Value = serde_json::from_str(body).expect("moto data json");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .or_else(|| {
            data["ses"]["Message"]
                .as_object()
                .map(|m| m.values().cloned().collect())
        })
        .unwrap_or_default()
}

fn unique_sender(tag: &str) -> String {
    format!(
        "licenses-{tag}-{}@vendor.example",
        seat_invitations::domain::random_id("s").to_lowercase()
    )
}

#[tokio::test]
async fn a_verified_sender_delivers_to_the_owner() {
    let client = ses_client();
    let sender = unique_sender("ok");
    client
        .verify_email_identity()
        .email_address(&sender)
        .send()
        .await
        .expect("verify sender");
    let mailer = SesMailer::new(client);
    let email = OutgoingEmail {
        from: sender.clone(),
        to: vec!["owner@demo.edu".into()],
        reply_to: vec!["ann@demo.edu".into()],
        subject: "[Campus] Renewal ✓".into(),
        text: "Hello from Ann".into(),
        html: None,
    };
    let id = mailer.send(&email).await.expect("sent");
    assert!(!id.is_empty());
    let message = sent_messages()
        .into_iter()
        .find(|m| m["source"] == sender.as_str())
        .expect("the emulator recorded the message");
    assert_eq!(message["destinations"]["ToAddresses"][0], "owner@demo.edu");
    assert_eq!(message["subject"], "[Campus] Renewal ✓");
}

#[tokio::test]
async fn an_unverified_sender_is_unavailable_and_leaks_no_address() {
    let mailer = SesMailer::new(ses_client());
    let err = mailer
        .send(&OutgoingEmail {
            from: unique_sender("unverified"),
            to: vec!["owner@demo.edu".into()],
            reply_to: vec!["ann@demo.edu".into()],
            subject: "s".into(),
            text: "t".into(),
            html: None,
        })
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("MessageRejected"), "{text}");
    assert!(
        !text.contains("owner@demo.edu") && !text.contains("vendor.example"),
        "{text}"
    );
}

#[tokio::test]
async fn contact_owner_over_ses_refused_then_sent() {
    let client = ses_client();
    let mut config = Config::defaults(Profile::Local);
    config.sender_email = unique_sender("contact");
    config.limits.contact_max_messages = 1;
    let mailer: Arc<dyn Mailer> = Arc::new(SesMailer::new(client.clone()));
    let t = TestApp::with(Backend::Memory, config.clone(), Some(mailer)).await;
    let license = t.license(3).await;
    let code = t.code(&license.license_id, None).await;
    let ann = user("ann", "ann@demo.edu");
    redeem::redeem(&t.app, &ann, &code.formatted())
        .await
        .expect("member");

    // Sender not verified yet: SES refuses, the member gets a 503 and keeps her quota.
    let refused =
        contact::contact_owner(&t.app, &ann, &license.license_id, "Hi", "Hello", None).await;
    assert!(
        matches!(refused, Err(ApiError::ServiceUnavailable { .. })),
        "{refused:?}"
    );
    client
        .verify_email_identity()
        .email_address(&config.sender_email)
        .send()
        .await
        .expect("verify");
    contact::contact_owner(&t.app, &ann, &license.license_id, "Hi", "Hello", None)
        .await
        .expect("sent");
    assert!(matches!(
        contact::contact_owner(&t.app, &ann, &license.license_id, "Hi", "Again", None).await,
        Err(ApiError::TooManyMessages { .. })
    ));
    let sent: Vec<_> = sent_messages()
        .into_iter()
        .filter(|m| m["source"] == config.sender_email.as_str())
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["destinations"]["ToAddresses"][0], "owner@demo.edu");
}

#[tokio::test]
async fn the_request_carries_the_member_as_reply_to_both_parts_and_the_configuration_set() {
    use aws_sdk_ses::operation::send_email::SendEmailOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    // The emulator does not keep Reply-To, so the wire request is checked here.
    let rule = mock!(aws_sdk_ses::Client::send_email)
        .match_requests(|r| {
            r.reply_to_addresses() == ["ann@demo.edu".to_owned()]
                && r.source() == Some("licenses@vendor.example")
                && r.configuration_set_name() == Some("seat-mail")
                && r.destination().map(|d| d.to_addresses())
                    == Some(&["owner@demo.edu".to_owned()][..])
                && r.message().and_then(|m| m.body()).is_some_and(|b| {
                    b.text().map(|t| t.data()) == Some("plain")
                        && b.html().map(|h| h.data()) == Some("<p>html</p>")
                })
        })
        .then_output(|| {
            SendEmailOutput::builder()
                .message_id("mid-1")
                .build()
                .expect("output")
        });
    let client = mock_client!(aws_sdk_ses, RuleMode::MatchAny, &[&rule]);
    let id = SesMailer::new(client)
        .with_configuration_set(Some("seat-mail".into()))
        .send(&OutgoingEmail {
            from: "licenses@vendor.example".into(),
            to: vec!["owner@demo.edu".into()],
            reply_to: vec!["ann@demo.edu".into()],
            subject: "s".into(),
            text: "plain".into(),
            html: Some("<p>html</p>".into()),
        })
        .await
        .expect("matched the expected request");
    assert_eq!(id, "mid-1");
    assert_eq!(rule.num_calls(), 1);
}
