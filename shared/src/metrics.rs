//! Operators' metrics as CloudWatch Embedded Metric Format: one JSON line
//! per invocation on stdout, which CloudWatch Logs turns into metrics
//! without an API call. Use cases count what happened ([`count`]) inside
//! the invocation's scope ([`scope`]); the Lambda loop writes the line
//! ([`emf_line`]). Outside a scope (the devserver, tests) counting does
//! nothing.
//!
//! Dimensions stay small on purpose: the function, and for refusals the
//! error code (a fixed set). No user or license id is ever a dimension;
//! per-license figures are the demand record's (`service::admin::demand`).
//! What each metric means, and the alarms on them: `docs/operations.md`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value, json};

/// A seat was claimed (a new one, not "already a member").
pub const SEATS_CLAIMED: &str = "SeatsClaimed";
/// A claim transaction met another (`TransactionConflict`) or throttling
/// and was tried again.
pub const CONFLICTS_RETRIED: &str = "ConflictsRetried";
/// A student was refused for want of seats or code uses.
pub const TURNED_AWAY: &str = "TurnedAway";
/// A Contact Owner message was handed to the mail service.
pub const OWNER_MESSAGES_SENT: &str = "OwnerMessagesSent";
/// Invitation emails the mail service took, and those it did not.
pub const INVITATIONS_SENT: &str = "InvitationsSent";
pub const INVITATIONS_FAILED: &str = "InvitationsFailed";
/// Invitation emails queued for the sender.
pub const INVITATIONS_QUEUED: &str = "InvitationsQueued";
/// Sends the mail service throttled (the sender tries them again later).
pub const INVITATIONS_THROTTLED: &str = "InvitationsThrottled";

/// What one invocation counted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Invocation {
    counts: BTreeMap<&'static str, u64>,
    error_code: Option<&'static str>,
}

impl Invocation {
    pub fn count_of(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    pub fn error_code(&self) -> Option<&'static str> {
        self.error_code
    }
}

tokio::task_local! {
    static CURRENT: RefCell<Invocation>;
}

/// Runs `f` as one invocation and returns what it counted.
pub async fn scope<F: Future>(f: F) -> (F::Output, Invocation) {
    CURRENT
        .scope(RefCell::new(Invocation::default()), async {
            let out = f.await;
            let counted = CURRENT.with(|c| c.take());
            (out, counted)
        })
        .await
}

/// Adds `n` to metric `name` of the current invocation, if there is one.
pub fn count(name: &'static str, n: u64) {
    let _ = CURRENT.try_with(|c| *c.borrow_mut().counts.entry(name).or_default() += n);
}

/// Notes the error code the invocation answered with.
pub fn error_code(code: &'static str) {
    let _ = CURRENT.try_with(|c| c.borrow_mut().error_code = Some(code));
}

/// The EMF line of one invocation of `function`: `Requests`, `Latency`
/// (ms), `Errors5xx` and `Unavailable` (the 503s) plus every count, by
/// `Function`; and, when it answered an error, `Refusals` by `Function` and
/// `ErrorCode`. The line also carries `level` and an RFC 3339 `timestamp`,
/// which Lambda's log-level filter reads (`lambda::run` passes a level its
/// filter lets through).
pub fn emf_line(
    namespace: &str,
    function: &str,
    invocation: &Invocation,
    latency: Duration,
    status: u16,
    at: chrono::DateTime<chrono::Utc>,
    level: &str,
) -> String {
    let timestamp_ms = at.timestamp_millis();
    let mut root = Map::new();
    root.insert("level".into(), json!(level));
    root.insert(
        "timestamp".into(),
        json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    let mut metrics = vec![
        json!({"Name": "Requests", "Unit": "Count"}),
        json!({"Name": "Latency", "Unit": "Milliseconds"}),
        json!({"Name": "Errors5xx", "Unit": "Count"}),
        json!({"Name": "Unavailable", "Unit": "Count"}),
    ];
    root.insert("Function".into(), json!(function));
    root.insert("Requests".into(), json!(1));
    let ms = (latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    root.insert("Latency".into(), json!(ms));
    root.insert("Errors5xx".into(), json!(u8::from(status >= 500)));
    root.insert("Unavailable".into(), json!(u8::from(status == 503)));
    for (name, n) in &invocation.counts {
        metrics.push(json!({"Name": name, "Unit": "Count"}));
        root.insert((*name).into(), json!(n));
    }
    let mut directives = vec![json!({
        "Namespace": namespace,
        "Dimensions": [["Function"]],
        "Metrics": metrics,
    })];
    if let Some(code) = invocation.error_code {
        root.insert("ErrorCode".into(), json!(code));
        root.insert("Refusals".into(), json!(1));
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [["Function", "ErrorCode"]],
            "Metrics": [{"Name": "Refusals", "Unit": "Count"}],
        }));
    }
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
    );
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_belong_to_their_invocation_only() {
        count(SEATS_CLAIMED, 1); // outside any scope: nothing
        let ((), inside) = scope(async {
            count(CONFLICTS_RETRIED, 1);
            count(CONFLICTS_RETRIED, 2);
            error_code("SERVICE_UNAVAILABLE");
        })
        .await;
        assert_eq!(inside.count_of(CONFLICTS_RETRIED), 3);
        assert_eq!(inside.count_of(SEATS_CLAIMED), 0);
        assert_eq!(inside.error_code(), Some("SERVICE_UNAVAILABLE"));
        let ((), next) = scope(async {}).await;
        assert_eq!(next, Invocation::default());
    }

    #[test]
    fn a_claim_is_one_line_with_its_counts_by_function() {
        let mut inv = Invocation::default();
        inv.counts.insert(SEATS_CLAIMED, 1);
        inv.counts.insert(CONFLICTS_RETRIED, 2);
        let line = emf_line(
            "SeatInvitations/prod",
            "redeem-code",
            &inv,
            Duration::from_micros(12_345),
            201,
            chrono::DateTime::from_timestamp_millis(1_790_000_000_123).expect("time"),
            "INFO",
        );
        assert!(!line.contains('\n'));
        let expected = json!({
            "_aws": {
                "Timestamp": 1_790_000_000_123_i64,
                "CloudWatchMetrics": [{
                    "Namespace": "SeatInvitations/prod",
                    "Dimensions": [["Function"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "Errors5xx", "Unit": "Count"},
                        {"Name": "Unavailable", "Unit": "Count"},
                        {"Name": "ConflictsRetried", "Unit": "Count"},
                        {"Name": "SeatsClaimed", "Unit": "Count"}
                    ]
                }]
            },
            "level": "INFO",
            "timestamp": "2026-09-21T14:13:20.123Z",
            "Function": "redeem-code",
            "Requests": 1,
            "Latency": 12.345,
            "Errors5xx": 0,
            "Unavailable": 0,
            "ConflictsRetried": 2,
            "SeatsClaimed": 1
        });
        assert_eq!(
            serde_json::from_str::<Value>(&line).expect("json"),
            expected
        );
    }

    #[test]
    fn a_refusal_adds_its_code_as_a_second_dimension_set() {
        let inv = Invocation {
            error_code: Some("SERVICE_UNAVAILABLE"),
            ..Invocation::default()
        };
        let line = emf_line(
            "N",
            "redeem-code",
            &inv,
            Duration::ZERO,
            503,
            chrono::DateTime::UNIX_EPOCH,
            "WARN",
        );
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["Unavailable"], 1);
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["Errors5xx"], 1);
        assert_eq!(v["ErrorCode"], "SERVICE_UNAVAILABLE");
        assert_eq!(v["Refusals"], 1);
        let directives = v["_aws"]["CloudWatchMetrics"].as_array().expect("array");
        assert_eq!(directives.len(), 2);
        assert_eq!(
            directives[1]["Dimensions"],
            json!([["Function", "ErrorCode"]])
        );
        assert_eq!(
            directives[1]["Metrics"],
            json!([{"Name": "Refusals", "Unit": "Count"}])
        );
        // Nothing about the caller or the license.
        for key in v.as_object().expect("object").keys() {
            assert!(
                [
                    "_aws",
                    "level",
                    "timestamp",
                    "Function",
                    "Requests",
                    "Latency",
                    "Errors5xx",
                    "Unavailable",
                    "ErrorCode",
                    "Refusals"
                ]
                .contains(&key.as_str()),
                "{key}"
            );
        }
    }
}
