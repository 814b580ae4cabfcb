//! `seatctl doctor` against the emulator: a stack (CloudFormation), its
//! table (DynamoDB), its hashing keys (Secrets Manager), the SES sender,
//! and a local issuer and API. SES's account quota is the one thing the
//! emulator cannot set (it always reports the sandbox's), so the good
//! setup fakes SES's answers with aws-smithy-mocks.

use std::collections::HashMap;

use aws_sdk_ses::operation::get_identity_verification_attributes::GetIdentityVerificationAttributesOutput;
use aws_sdk_ses::operation::get_send_quota::GetSendQuotaOutput;
use aws_sdk_ses::types::{IdentityVerificationAttributes, VerificationStatus};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use seat_invitations::domain::random_id;
use seat_invitations::store::DynamoStore;
use seatctl::doctor::{self, Clients, Report, Target, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn sdk() -> aws_config::SdkConfig {
    integration_tests::emulator_sdk_config().await
}

/// The doctor's report on `target`, printed (the test's output shows it).
async fn diagnose(clients: &Clients, target: Target) -> (Report, String) {
    let report = doctor::run(clients, target).await;
    let text = report.render();
    println!("{text}");
    (report, text)
}

/// A local HTTP server: its base URL, and a listener to hand to [`answer`].
async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, base)
}

/// Answers `path -> (status, JSON body)`, 404 otherwise.
fn answer(listener: tokio::net::TcpListener, routes: HashMap<String, (u16, String)>) {
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = routes.get(&path).cloned().unwrap_or((404, "{}".into()));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
}

/// An issuer at `{base}/oidc` whose discovery document names `named`.
async fn issuer(named: Option<&str>) -> String {
    let (listener, base) = bind().await;
    let issuer = format!("{base}/oidc");
    let doc = serde_json::json!({"issuer": named.unwrap_or(&issuer), "jwks_uri": format!("{issuer}/jwks")});
    answer(
        listener,
        HashMap::from([(
            "/oidc/.well-known/openid-configuration".to_owned(),
            (200, doc.to_string()),
        )]),
    );
    issuer
}

/// An API whose `/v1/me/invitations` answers `status` without a token.
async fn api(status: u16) -> String {
    let (listener, base) = bind().await;
    answer(
        listener,
        HashMap::from([("/v1/me/invitations".to_owned(), (status, "{}".to_owned()))]),
    );
    base
}

/// A stack in the emulator whose outputs name `outputs` (CloudFormation
/// keeps parameters and outputs; the one resource is a placeholder).
async fn stack(sdk: &aws_config::SdkConfig, sender: &str, outputs: &[(&str, &str)]) -> String {
    let name = random_id("seats").to_lowercase().replace('_', "-");
    let outputs: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::json!({ "Value": v })))
        .collect();
    let template = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"SenderEmail": {"Type": "String"}, "JwtIssuer": {"Type": "String", "Default": ""}},
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    });
    aws_sdk_cloudformation::Client::new(sdk)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("SenderEmail")
                .parameter_value(sender)
                .build(),
        )
        .send()
        .await
        .expect("create the stack in the emulator");
    name
}

fn verdicts(report: &Report) -> Vec<(&'static str, Verdict)> {
    report
        .findings
        .iter()
        .map(|f| (f.check, f.verdict))
        .collect()
}

/// SES as it answers an account with production access and a verified
/// sender (what the emulator cannot be made to say).
fn production_ses(sender: &str) -> aws_sdk_ses::Client {
    let sender = sender.to_owned();
    let quota = mock!(aws_sdk_ses::Client::get_send_quota).then_output(|| {
        GetSendQuotaOutput::builder()
            .max24_hour_send(50_000.0)
            .max_send_rate(14.0)
            .sent_last24_hours(12.0)
            .build()
    });
    let identities =
        mock!(aws_sdk_ses::Client::get_identity_verification_attributes).then_output(move || {
            GetIdentityVerificationAttributesOutput::builder()
                .verification_attributes(
                    sender.clone(),
                    IdentityVerificationAttributes::builder()
                        .verification_status(VerificationStatus::Success)
                        .build()
                        .expect("attributes"),
                )
                .build()
                .expect("output")
        });
    mock_client!(aws_sdk_ses, RuleMode::MatchAny, &[&quota, &identities])
}

#[tokio::test]
async fn a_good_stack_passes_with_only_the_local_issuer_warned() {
    let sdk = sdk().await;
    let table = random_id("doctor").to_lowercase();
    DynamoStore::from_sdk_config(&sdk, &table)
        .ensure_table()
        .await
        .expect("table");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    dynamodb
        .update_continuous_backups()
        .table_name(&table)
        .point_in_time_recovery_specification(
            aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .expect("pitr"),
        )
        .send()
        .await
        .expect("PITR on");
    dynamodb
        .update_table()
        .table_name(&table)
        .deletion_protection_enabled(true)
        .send()
        .await
        .expect("deletion protection on");
    let secret = integration_tests::emulator_hash_keys_secret(&sdk, "k1").await;

    let api = api(401).await;
    let issuer = issuer(None).await;

    let sender = "licenses@vendor.example";
    let name = stack(
        &sdk,
        sender,
        &[
            ("ApiUrl", &api),
            ("PortalUrl", &api),
            ("TableName", &table),
            ("HashKeysSecret", &secret),
            ("OidcIssuer", &issuer),
        ],
    )
    .await;
    let clients = Clients {
        ses: production_ses(sender),
        sdk,
    };
    let (report, text) = diagnose(
        &clients,
        Target {
            stack: Some(name),
            ..Target::default()
        },
    )
    .await;
    assert_eq!(
        verdicts(&report),
        [
            ("credentials", Verdict::Ok),
            ("stack", Verdict::Ok),
            ("issuer", Verdict::Warn),
            ("ses-sender", Verdict::Ok),
            ("ses-account", Verdict::Ok),
            ("table", Verdict::Ok),
            ("table-protect", Verdict::Ok),
            ("table-pitr", Verdict::Ok),
            ("table-ttl", Verdict::Ok),
            ("hash-keys", Verdict::Ok),
            ("api", Verdict::Ok),
        ],
        "{text}"
    );
    assert!(!report.failed());
}

/// Everything wrong at once, in the emulator as it is: the stack's issuer
/// names another issuer, the sender was never verified, the account is in
/// the sandbox, the table lacks recovery and protection, the secret is
/// gone and the API answers without a token. Every fix is listed, failures
/// first, in the order of the checks.
#[tokio::test]
async fn a_broken_setup_gets_every_fix_in_order() {
    let sdk = sdk().await;
    let table = random_id("doctor").to_lowercase();
    DynamoStore::from_sdk_config(&sdk, &table)
        .ensure_table()
        .await
        .expect("table");
    let api = api(200).await;
    let issuer = issuer(Some("https://somewhere.else.example")).await;
    let name = stack(
        &sdk,
        "never-verified@vendor.example",
        &[
            ("ApiUrl", &api),
            ("PortalUrl", &api),
            ("TableName", &table),
            (
                "HashKeysSecret",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone",
            ),
            ("OidcIssuer", &issuer),
        ],
    )
    .await;
    let (report, text) = diagnose(
        &Clients::new(sdk),
        Target {
            stack: Some(name),
            ..Target::default()
        },
    )
    .await;
    assert_eq!(
        verdicts(&report),
        [
            ("credentials", Verdict::Ok),
            ("stack", Verdict::Ok),
            ("issuer", Verdict::Fail),
            ("ses-sender", Verdict::Fail),
            ("ses-account", Verdict::Warn),
            ("table", Verdict::Ok),
            ("table-protect", Verdict::Warn),
            ("table-pitr", Verdict::Warn),
            ("table-ttl", Verdict::Ok),
            ("hash-keys", Verdict::Fail),
            ("api", Verdict::Fail),
        ],
        "{text}"
    );
    assert!(report.failed());
    let fixes: Vec<&str> = text
        .split("To fix, in order:\n")
        .nth(1)
        .expect("fixes")
        .lines()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        fixes,
        [
            " 1. issuer",
            " 2. ses-sender",
            " 3. hash-keys",
            " 4. api",
            " 5. ses-account",
            " 6. table-protect",
            " 7. table-pitr",
        ]
    );
    assert!(text.contains("set JwtIssuer to \"https://somewhere.else.example\""));
}

/// Before a deploy there is no stack: the doctor checks what it is given,
/// says which stack is missing, and skips what it cannot know yet.
#[tokio::test]
async fn before_a_deploy_the_issuer_and_sender_are_checked_and_a_missing_stack_named() {
    let sdk = sdk().await;
    let sender = format!("{}@vendor.example", random_id("sender").to_lowercase());
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(&sender)
        .send()
        .await
        .expect("verify in the emulator");
    let issuer = issuer(None).await;
    let (report, text) = diagnose(
        &Clients::new(sdk),
        Target {
            stack: Some("not-deployed-yet".into()),
            issuer: Some(issuer),
            sender: Some(sender),
            ..Target::default()
        },
    )
    .await;
    assert_eq!(
        verdicts(&report),
        [
            ("credentials", Verdict::Ok),
            ("stack", Verdict::Fail),
            ("issuer", Verdict::Warn),
            ("ses-sender", Verdict::Ok),
            ("ses-account", Verdict::Warn),
            ("table", Verdict::Skipped),
            ("hash-keys", Verdict::Skipped),
            ("api", Verdict::Skipped),
        ],
        "{text}"
    );
    assert!(text.contains("sam deploy --guided --stack-name not-deployed-yet"));
}
