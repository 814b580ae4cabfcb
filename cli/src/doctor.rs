//! `seatctl doctor`: what a deploy needs, checked before it, and what a
//! deployed stack does, checked after it. Each check gives a verdict and,
//! when it is not fine, what to do; the report lists the fixes in the order
//! they unblock each other (credentials, then the stack, then sign-in, mail,
//! the table and the API).
//!
//! Before a deploy: `seatctl doctor --issuer URL --sender ADDRESS`.
//! After it: `seatctl doctor --stack NAME` (issuer, sender, table, secret and
//! API come from the stack).

use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use seat_invitations::store::{TableSchema, table_schema};

use crate::stack::{self, Stack, StackError};

/// SES's sandbox quota: 200 messages a day at 1 a second. An account with
/// production access has more (at least 50,000 a day in every region).
const SANDBOX_MAX_PER_DAY: f64 = 200.0;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// What to check; anything not given is taken from the stack, or skipped.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub stack: Option<String>,
    pub issuer: Option<String>,
    pub sender: Option<String>,
    pub table: Option<String>,
    pub secret_id: Option<String>,
    pub api_url: Option<String>,
}

/// The AWS clients the checks use. The SES client is its own, so a test can
/// stand in for what an emulator does not model (the account's quotas).
pub struct Clients {
    pub sdk: aws_config::SdkConfig,
    pub ses: aws_sdk_ses::Client,
}

impl Clients {
    pub fn new(sdk: aws_config::SdkConfig) -> Self {
        Self {
            ses: aws_sdk_ses::Client::new(&sdk),
            sdk,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    /// Not checked: nothing to check it against, or an earlier failure
    /// makes the answer meaningless.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do, for a warning or a failure.
    pub fix: Option<String>,
}

impl Finding {
    fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn skipped(check: &'static str, why: impl Into<String>) -> Self {
        Self {
            check,
            verdict: Verdict::Skipped,
            detail: why.into(),
            fix: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.verdict == Verdict::Fail)
    }

    pub fn verdict(&self, check: &str) -> Option<Verdict> {
        self.findings
            .iter()
            .find(|f| f.check == check)
            .map(|f| f.verdict)
    }

    /// One line per check, then the fixes in order: failures first, then
    /// warnings, each in the order of the checks.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let tag = match f.verdict {
                Verdict::Ok => "ok",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
                Verdict::Skipped => "skip",
            };
            out.push_str(&format!("{tag:<5} {:<14} {}\n", f.check, f.detail));
        }
        let fixes: Vec<&Finding> = [Verdict::Fail, Verdict::Warn]
            .iter()
            .flat_map(|v| self.findings.iter().filter(move |f| f.verdict == *v))
            .collect();
        if fixes.is_empty() {
            out.push_str("\nNothing to fix.\n");
        } else {
            out.push_str("\nTo fix, in order:\n");
            for (i, f) in fixes.iter().enumerate() {
                let fix = f.fix.as_deref().unwrap_or("");
                out.push_str(&format!("{:>2}. {}: {fix}\n", i + 1, f.check));
            }
        }
        out
    }
}

/// Runs every check that `target` gives something to check.
pub async fn run(clients: &Clients, mut target: Target) -> Report {
    let mut report = Report::default();
    let region = clients
        .sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();

    // 1. Credentials: without them, nothing else in AWS can be read.
    let aws_ok = match credentials(clients).await {
        Ok(detail) => {
            report.findings.push(Finding::ok("credentials", detail));
            true
        }
        Err(why) => {
            report.findings.push(Finding::fail(
                "credentials",
                why,
                "give seatctl AWS credentials and a region (AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, and AWS_REGION)",
            ));
            false
        }
    };
    let needs_aws = |check: &'static str| Finding::skipped(check, "needs working credentials");

    // 2. The stack: its status and outputs fill in what was not given.
    if let Some(name) = target.stack.clone() {
        if !aws_ok {
            report.findings.push(needs_aws("stack"));
        } else {
            let client = aws_sdk_cloudformation::Client::new(&clients.sdk);
            match stack::describe(&client, &name).await {
                Ok(found) => {
                    report.findings.push(stack_finding(&found));
                    fill_from_stack(&mut target, &found);
                }
                Err(StackError::Missing) => report.findings.push(Finding::fail(
                    "stack",
                    format!("no stack {name} in {region}"),
                    format!(
                        "deploy it (`sam deploy --guided --stack-name {name}`), or check the name \
                         and AWS_REGION"
                    ),
                )),
                Err(StackError::Unreadable(why)) => report.findings.push(Finding::fail(
                    "stack",
                    format!("stack {name} cannot be read: {why}"),
                    "allow cloudformation:DescribeStacks for these credentials",
                )),
            }
        }
    }

    // 3. Sign-in: API Gateway fetches the discovery document when it
    // creates the JWT authorizer.
    report.findings.push(match &target.issuer {
        None => Finding::skipped(
            "issuer",
            "no --issuer (and no stack): without one the stack creates a Cognito user pool",
        ),
        Some(issuer) => issuer_finding(issuer).await,
    });

    // 4. Mail: the sender's verification, then the account's quotas.
    match (&target.sender, aws_ok) {
        (None, _) => report
            .findings
            .push(Finding::skipped("ses-sender", "no --sender (and no stack)")),
        (Some(_), false) => report.findings.push(needs_aws("ses-sender")),
        (Some(sender), true) => report
            .findings
            .push(sender_finding(&clients.ses, sender, &region).await),
    }
    report.findings.push(if aws_ok {
        quota_finding(&clients.ses, &region).await
    } else {
        needs_aws("ses-account")
    });

    // 5. The table: existence, indexes, recovery, TTL, protection.
    match (&target.table, aws_ok) {
        (None, _) => report.findings.push(Finding::skipped(
            "table",
            "no --table (and no stack): the stack creates it",
        )),
        (Some(_), false) => report.findings.push(needs_aws("table")),
        (Some(table), true) => report
            .findings
            .extend(table_findings(&clients.sdk, table).await),
    }

    // 6. The hashing keys the functions read at start.
    match (&target.secret_id, aws_ok) {
        (None, _) => report.findings.push(Finding::skipped(
            "hash-keys",
            "no secret (and no stack): the stack generates it",
        )),
        (Some(_), false) => report.findings.push(needs_aws("hash-keys")),
        (Some(id), true) => report.findings.push(
            match seat_invitations::wiring::hash_keys(&clients.sdk, id).await {
                Ok(keys) => Finding::ok(
                    "hash-keys",
                    format!(
                        "{} key(s), current {}",
                        keys.keys().len(),
                        keys.current().id()
                    ),
                ),
                Err(why) => Finding::fail(
                    "hash-keys",
                    why,
                    "the functions refuse to start without their keys: restore the stack's \
                     HashKeysSecret (or redeploy), and allow secretsmanager:GetSecretValue",
                ),
            },
        ),
    }

    // 7. The API: a protected route without a token is 401.
    report.findings.push(match &target.api_url {
        None => Finding::skipped("api", "no --api-url (and no stack)"),
        Some(api) => api_finding(api).await,
    });
    report
}

async fn credentials(clients: &Clients) -> Result<String, String> {
    if clients.sdk.region().is_none() {
        return Err("no region: set AWS_REGION".into());
    }
    let sts = aws_sdk_sts::Client::new(&clients.sdk);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("GetCallerIdentity failed: {}", DisplayErrorContext(&e)))?;
    Ok(format!(
        "account {} as {}",
        me.account().unwrap_or("?"),
        me.arn().unwrap_or("?")
    ))
}

fn stack_finding(found: &Stack) -> Finding {
    let missing: Vec<&str> = stack::REQUIRED_OUTPUTS
        .iter()
        .copied()
        .filter(|k| found.output(k).is_none())
        .collect();
    let status = found.status.as_str();
    let reason = found
        .status_reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let events = format!(
        "read the first failed event: `aws cloudformation describe-stack-events --stack-name {}`",
        found.name
    );
    if status == "ROLLBACK_COMPLETE" {
        return Finding::fail(
            "stack",
            format!("{}: {status}{reason}: its first create failed", found.name),
            format!(
                "{events}, fix it, then `sam delete --stack-name {}` and deploy again (nothing \
                 was kept: the table is RetainExceptOnCreate)",
                found.name
            ),
        );
    }
    if status == "ROLLBACK_FAILED" {
        return Finding::fail(
            "stack",
            format!(
                "{}: {status}{reason}: its first create failed, and so did the clean-up",
                found.name
            ),
            format!(
                "{events}; delete what the events name as not deleted, then `sam delete \
                 --stack-name {}` and deploy again",
                found.name
            ),
        );
    }
    if status.ends_with("_FAILED") || status.starts_with("DELETE") {
        return Finding::fail(
            "stack",
            format!("{}: {status}{reason}", found.name),
            format!("{events}, then fix and deploy again"),
        );
    }
    if status.ends_with("_IN_PROGRESS") {
        return Finding::warn(
            "stack",
            format!("{}: {status}", found.name),
            "wait for the deploy to finish, then run the doctor again",
        );
    }
    if status == "UPDATE_ROLLBACK_COMPLETE" {
        return Finding::warn(
            "stack",
            format!(
                "{}: {status}: the last update was rolled back; the previous version runs",
                found.name
            ),
            format!("{events}, fix it and deploy again"),
        );
    }
    if !missing.is_empty() {
        return Finding::fail(
            "stack",
            format!(
                "{}: {status}, but without the output(s) {}",
                found.name,
                missing.join(", ")
            ),
            "deploy this version of template.yaml (`sam build && sam deploy`)",
        );
    }
    Finding::ok(
        "stack",
        format!("{}: {status}, {} outputs", found.name, found.outputs.len()),
    )
}

fn fill_from_stack(target: &mut Target, found: &Stack) {
    let from = |given: &mut Option<String>, value: Option<&str>| {
        if given.is_none() {
            *given = value.map(str::to_owned);
        }
    };
    from(&mut target.table, found.output(stack::TABLE_OUTPUT));
    from(&mut target.secret_id, found.output(stack::SECRET_OUTPUT));
    from(&mut target.api_url, found.output(stack::API_OUTPUT));
    from(&mut target.issuer, found.output(stack::ISSUER_OUTPUT));
    from(&mut target.sender, found.parameter(stack::SENDER_PARAMETER));
}

async fn issuer_finding(issuer: &str) -> Finding {
    let fix_issuer = "API Gateway fetches this document when it creates the authorizer, so the \
                      deploy fails without it: correct JwtIssuer (exactly the `iss` of your \
                      tokens), or leave it empty to have the stack create a Cognito user pool";
    let base = issuer.trim_end_matches('/');
    let url = format!("{base}/.well-known/openid-configuration");
    let local = url::is_local(base);
    if !base.starts_with("https://") && !local {
        return Finding::fail(
            "issuer",
            format!("{issuer} is not an https:// URL"),
            fix_issuer,
        );
    }
    let (status, body) = match http_get(&url).await {
        Ok(answer) => answer,
        Err(why) => return Finding::fail("issuer", format!("{url}: {why}"), fix_issuer),
    };
    if status != 200 {
        return Finding::fail("issuer", format!("{url} answered {status}"), fix_issuer);
    }
    let doc: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(doc) => doc,
        Err(_) => {
            return Finding::fail(
                "issuer",
                format!("{url} is not a JSON discovery document"),
                fix_issuer,
            );
        }
    };
    let named = doc["issuer"].as_str().unwrap_or_default();
    if named != issuer {
        return Finding::fail(
            "issuer",
            format!("the discovery document names the issuer {named:?}, not {issuer:?}"),
            format!(
                "set JwtIssuer to {named:?} exactly (tokens carry it as `iss`, and the authorizer \
                 compares them character for character)"
            ),
        );
    }
    if doc["jwks_uri"].as_str().is_none_or(str::is_empty) {
        return Finding::fail(
            "issuer",
            format!("{url} has no jwks_uri"),
            "the provider must publish its signing keys (jwks_uri)",
        );
    }
    if local {
        return Finding::warn(
            "issuer",
            format!("{issuer}: discovery document ok, but a local address"),
            "API Gateway reaches only a public https:// issuer",
        );
    }
    Finding::ok("issuer", format!("{issuer}: discovery document ok"))
}

async fn sender_finding(ses: &aws_sdk_ses::Client, sender: &str, region: &str) -> Finding {
    let domain = sender.rsplit_once('@').map(|(_, d)| d).unwrap_or(sender);
    let verify = format!(
        "verify it in SES in {region}: `aws ses verify-email-identity --email-address {sender} \
         --region {region}` and click the link in the mail (or verify the domain {domain})"
    );
    let attrs = match ses
        .get_identity_verification_attributes()
        .identities(sender)
        .identities(domain)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            return Finding::fail(
                "ses-sender",
                format!("cannot read SES identities: {}", DisplayErrorContext(&e)),
                "allow ses:GetIdentityVerificationAttributes for these credentials",
            );
        }
    };
    let status = |identity: &str| {
        attrs
            .verification_attributes()
            .get(identity)
            .map(|a| a.verification_status().as_str().to_owned())
    };
    match (status(sender).as_deref(), status(domain).as_deref()) {
        (Some("Success"), _) => Finding::ok("ses-sender", format!("{sender} is verified")),
        (_, Some("Success")) => Finding::ok(
            "ses-sender",
            format!("{sender}: its domain {domain} is verified"),
        ),
        (Some("Pending"), _) | (_, Some("Pending")) => Finding::fail(
            "ses-sender",
            format!("{sender}: verification pending"),
            format!("click the link SES mailed to {sender}"),
        ),
        (s, d) => Finding::fail(
            "ses-sender",
            format!(
                "{sender} is not verified ({}): SES refuses to send from it",
                s.or(d).unwrap_or("never requested")
            ),
            verify,
        ),
    }
}

async fn quota_finding(ses: &aws_sdk_ses::Client, region: &str) -> Finding {
    match ses.get_send_quota().send().await {
        Err(e) => Finding::fail(
            "ses-account",
            format!("cannot read the SES quota: {}", DisplayErrorContext(&e)),
            "allow ses:GetSendQuota for these credentials",
        ),
        Ok(q) if q.max24_hour_send() <= SANDBOX_MAX_PER_DAY => Finding::warn(
            "ses-account",
            format!(
                "the sandbox's quota in {region}: {} a day, {} a second, {} sent in 24 h; mail \
                 reaches only verified addresses",
                q.max24_hour_send(),
                q.max_send_rate(),
                q.sent_last24_hours()
            ),
            format!(
                "request SES production access in {region} (SES console, Account dashboard) \
                 before inviting students; until then invitations to unverified addresses fail"
            ),
        ),
        Ok(q) => Finding::ok(
            "ses-account",
            format!(
                "production quota: {} a day, {} a second, {} sent in 24 h",
                q.max24_hour_send(),
                q.max_send_rate(),
                q.sent_last24_hours()
            ),
        ),
    }
}

async fn table_findings(sdk: &aws_config::SdkConfig, table: &str) -> Vec<Finding> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let described = match client.describe_table().table_name(table).send().await {
        Ok(out) => out,
        Err(e) if e.code() == Some("ResourceNotFoundException") => {
            return vec![Finding::fail(
                "table",
                format!("no table {table}"),
                "deploy the stack, or name its table: `seatctl --stack NAME` reads it from the \
                 stack (the default seat-invitations is not the stack's table)",
            )];
        }
        Err(e) => {
            return vec![Finding::fail(
                "table",
                format!("{table} cannot be read: {}", DisplayErrorContext(&e)),
                "allow dynamodb:DescribeTable for these credentials",
            )];
        }
    };
    let Some(desc) = described.table() else {
        return vec![Finding::fail(
            "table",
            format!("{table}: no description"),
            "check the table in the console",
        )];
    };
    let mut findings = Vec::new();
    let status = desc
        .table_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let have: Vec<&str> = desc
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .chain(
            desc.local_secondary_indexes()
                .iter()
                .filter_map(|i| i.index_name()),
        )
        .collect();
    let schema: TableSchema = table_schema();
    let missing: Vec<&str> = schema
        .global_indexes
        .iter()
        .chain(&schema.local_indexes)
        .map(|i| i.name)
        .filter(|n| !have.contains(n))
        .collect();
    findings.push(if !missing.is_empty() {
        Finding::fail(
            "table",
            format!(
                "{table}: {status}, without the index(es) {}",
                missing.join(", ")
            ),
            "deploy this version of template.yaml (it adds them); a table made by hand: \
             `seatctl create-table` makes one with every index",
        )
    } else if status != "ACTIVE" {
        Finding::warn(
            "table",
            format!("{table}: {status}"),
            "wait until the table is ACTIVE",
        )
    } else {
        Finding::ok("table", format!("{table}: ACTIVE, {} indexes", have.len()))
    });
    if desc.deletion_protection_enabled() != Some(true) {
        findings.push(Finding::warn(
            "table-protect",
            format!("{table}: deletion protection off"),
            "deploy with DeletionProtection=true (the default) unless you mean to tear down",
        ));
    } else {
        findings.push(Finding::ok("table-protect", "deletion protection on"));
    }
    findings.push(
        match client
            .describe_continuous_backups()
            .table_name(table)
            .send()
            .await
        {
            Ok(out) => {
                let pitr = out
                    .continuous_backups_description()
                    .and_then(|d| d.point_in_time_recovery_description())
                    .and_then(|p| p.point_in_time_recovery_status())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                if pitr == "ENABLED" {
                    Finding::ok("table-pitr", "point-in-time recovery on")
                } else {
                    Finding::warn(
                        "table-pitr",
                        format!("point-in-time recovery {}", pitr.to_lowercase()),
                        format!(
                            "turn it on: `aws dynamodb update-continuous-backups --table-name \
                             {table} --point-in-time-recovery-specification \
                             PointInTimeRecoveryEnabled=true` (the template does)"
                        ),
                    )
                }
            }
            Err(e) => Finding::fail(
                "table-pitr",
                format!("cannot read backups: {}", DisplayErrorContext(&e)),
                "allow dynamodb:DescribeContinuousBackups",
            ),
        },
    );
    findings.push(
        match client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
        {
            Ok(out) => {
                let ttl = out.time_to_live_description();
                let on = ttl
                    .and_then(|t| t.time_to_live_status())
                    .is_some_and(|s| matches!(s.as_str(), "ENABLED" | "ENABLING"));
                let attribute = ttl.and_then(|t| t.attribute_name()).unwrap_or_default();
                if on && attribute == schema.ttl_attribute {
                    Finding::ok("table-ttl", format!("TTL on `{attribute}`"))
                } else {
                    Finding::warn(
                        "table-ttl",
                        format!(
                            "TTL is not on `{}`: limit windows and demand records are never \
                             deleted",
                            schema.ttl_attribute
                        ),
                        format!(
                            "`aws dynamodb update-time-to-live --table-name {table} \
                             --time-to-live-specification Enabled=true,AttributeName={}`",
                            schema.ttl_attribute
                        ),
                    )
                }
            }
            Err(e) => Finding::fail(
                "table-ttl",
                format!("cannot read TTL: {}", DisplayErrorContext(&e)),
                "allow dynamodb:DescribeTimeToLive",
            ),
        },
    );
    findings
}

async fn api_finding(api: &str) -> Finding {
    let url = format!("{}/v1/me/invitations", api.trim_end_matches('/'));
    match http_get(&url).await {
        Ok((401, _)) => Finding::ok("api", format!("{url} answers 401 without a token")),
        Ok((status, _)) => Finding::fail(
            "api",
            format!("{url} answers {status} without a token, not 401"),
            if status == 404 {
                "the URL is not this stack's API: use its ApiUrl output"
            } else {
                "every /v1/ route must have the JWT authorizer: deploy this version of \
                 template.yaml"
            },
        ),
        Err(why) => Finding::fail(
            "api",
            format!("{url}: {why}"),
            "check the ApiUrl output and that the stack's deploy finished",
        ),
    }
}

/// A GET with a timeout: the status and the body (at most 1 MiB).
async fn http_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    use http_body_util::{BodyExt, Empty, Limited};
    use hyper::body::Bytes;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(https);
    let uri: hyper::Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
    let request = async {
        let response = client.get(uri).await.map_err(|e| {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why = format!("{why}: {s}");
                source = s.source();
            }
            why
        })?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), 1 << 20)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes()
            .to_vec();
        Ok((status, body))
    };
    tokio::time::timeout(HTTP_TIMEOUT, request)
        .await
        .map_err(|_| format!("no answer in {} s", HTTP_TIMEOUT.as_secs()))?
}

mod url {
    /// `http://127.0.0.1…` and `http://localhost…`: a local test issuer.
    pub fn is_local(base: &str) -> bool {
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .unwrap_or("");
        let host = rest.split(['/', ':']).next().unwrap_or("");
        matches!(host, "127.0.0.1" | "localhost" | "[::1]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixes_come_failures_first_in_the_order_of_the_checks() {
        let report = Report {
            findings: vec![
                Finding::ok("credentials", "account 1"),
                Finding::warn("ses-account", "sandbox", "request production access"),
                Finding::fail("issuer", "404", "correct JwtIssuer"),
                Finding::skipped("hash-keys", "no secret"),
                Finding::fail("api", "200", "add the authorizer"),
            ],
        };
        let text = report.render();
        let fixes = text.split("To fix, in order:\n").nth(1).expect("fixes");
        assert_eq!(
            fixes.lines().collect::<Vec<_>>(),
            [
                " 1. issuer: correct JwtIssuer",
                " 2. api: add the authorizer",
                " 3. ses-account: request production access",
            ]
        );
        assert!(report.failed());
        assert!(text.starts_with("ok    credentials    account 1\n"));
    }

    #[test]
    fn a_rolled_back_first_create_says_to_delete_and_deploy_again() {
        let mut stack = Stack {
            name: "seats".into(),
            status: "ROLLBACK_COMPLETE".into(),
            status_reason: None,
            outputs: Default::default(),
            parameters: Default::default(),
        };
        let finding = stack_finding(&stack);
        assert_eq!(finding.verdict, Verdict::Fail);
        assert!(
            finding
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("sam delete"))
        );
        stack.status = "CREATE_COMPLETE".into();
        assert_eq!(stack_finding(&stack).verdict, Verdict::Fail, "no outputs");
        for key in stack::REQUIRED_OUTPUTS {
            stack.outputs.insert(key.into(), format!("{key}-value"));
        }
        assert_eq!(stack_finding(&stack).verdict, Verdict::Ok);
        stack.status = "UPDATE_IN_PROGRESS".into();
        assert_eq!(stack_finding(&stack).verdict, Verdict::Warn);
    }

    #[test]
    fn only_loopback_issuers_count_as_local() {
        assert!(url::is_local("http://127.0.0.1:3000/_dev/oidc"));
        assert!(url::is_local("http://localhost"));
        assert!(!url::is_local("http://127.0.0.1.evil.example"));
        assert!(!url::is_local(
            "https://cognito-idp.us-east-1.amazonaws.com/x"
        ));
    }
}
