//! The edge's request cycle: the one log line of a failed request.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::app::system_clock;
use crate::config::{Config, Profile};
use crate::error::MailError;
use crate::mail::{Mailer, OutgoingEmail};
use crate::seed::Seed;
use crate::store::MemoryStore;

struct RefusingMailer;

#[async_trait]
impl Mailer for RefusingMailer {
    async fn send(&self, _email: &OutgoingEmail) -> Result<String, MailError> {
        Err(MailError::unavailable("SendEmail", "Throttling"))
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const TOKEN: &str = "bob-invite-token-0123456789abcdefghijklmnopqrstu";

fn contact_owner_event() -> Request {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/licenses/lic-1/contact-owner",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example",
            "http": {
                "method": "POST",
                "path": "/v1/licenses/lic-1/contact-owner",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test"
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Sep/2026:08:00:00 +0000",
            "timeEpoch": 0,
            "authorizer": {"jwt": {"claims": {
                "sub": "bob", "email": "bob@demo.edu", "email_verified": "true"
            }, "scopes": null}}
        },
        "body": r#"{"subject":"Hello","message":"A question"}"#,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("event")
}

/// A mail service that refuses: the request ends in
/// `SERVICE_UNAVAILABLE`, logged once by the edge, by route pattern.
#[tokio::test]
async fn a_failed_request_is_logged_once_by_its_route() {
    let store = Arc::new(MemoryStore::new());
    let seed = Seed::parse(
        &serde_json::json!({"licenses": [{
            "licenseId": "lic-1", "name": "Campus", "organization": "Uni",
            "product": "ATLAS.ti", "seatsTotal": 3,
            "owner": {"sub": "owner-1", "email": "owner@demo.edu"},
            "invitations": [{"token": TOKEN, "email": "bob@demo.edu"}]
        }]})
        .to_string(),
    )
    .expect("seed");
    let app = App {
        store: store.clone(),
        mailer: Arc::new(RefusingMailer),
        queue: Arc::new(crate::mail::LocalQueue::default()),
        clock: system_clock(),
        config: Arc::new(Config::defaults(Profile::Local)),
        known_codes: Arc::default(),
        claim_views: Arc::default(),
    };
    seed.load(store.as_ref(), &app.config.hash_keys, app.now())
        .await
        .expect("load");
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let response = {
        let _guard = tracing::subscriber::set_default(subscriber);
        handle(&app, Function::ContactOwner, contact_owner_event()).await
    };
    assert_eq!(response.status().as_u16(), 503);
    let log = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["fields"]["message"] == "request failed")
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let fields = &lines[0]["fields"];
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(fields["function"], "contact-owner");
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["route"], "/v1/licenses/{licenseId}/contact-owner");
    assert_eq!(fields["status"], 503);
    assert_eq!(fields["code"], "SERVICE_UNAVAILABLE");
    assert!(!log.contains("bob@demo.edu"), "{log}");
}
