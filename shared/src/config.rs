//! Configuration from environment variables (names and defaults in the
//! README). A value that cannot be meant is refused at start, naming the
//! variable, rather than read as a default.

use std::collections::HashMap;

use crate::domain::HashKeys;

/// Why the configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be {expected}, not {value:?}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The embedded store inside a deployed function: every container would
    /// hold its own seats, and lose them when it stops.
    #[error("STORE=memory is for local runs; a deployed Lambda function must use STORE=dynamodb")]
    MemoryStoreInLambda,
    /// The built-in development key inside a deployed function: anyone who
    /// can read this source could hash every code.
    #[error(
        "a deployed Lambda function needs a hashing key: set HASH_KEYS_SECRET_ID (Secrets Manager) or HASH_KEYS"
    )]
    DevelopmentKeyInLambda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    DynamoDb,
}

/// Which root certificates the AWS clients trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRoots {
    /// The system's store (`seatctl`, the devserver: a machine behind a
    /// TLS-inspecting proxy trusts that proxy's root there).
    System,
    /// Amazon Trust Services' roots only, built in: every AWS endpoint
    /// chains to them, and nothing is read from disk at start.
    Amazon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailerKind {
    Outbox,
    Ses,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Redemptions per account and window answered with a counted failure.
    pub redeem_max_failures: u32,
    /// The same per source address (IPv4, or IPv6 /64); 0 turns it off.
    pub redeem_max_failures_per_source: u32,
    pub redeem_window_secs: u64,
    pub contact_max_messages: u32,
    pub contact_window_secs: u64,
    /// Invitation emails (created or resent) per license per window.
    pub invitation_mail_quota: u32,
    pub invitation_mail_window_secs: u64,
    /// Seconds between two resends of one invitation.
    pub resend_cooldown_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            redeem_max_failures: 10,
            redeem_max_failures_per_source: 300,
            redeem_window_secs: 900,
            contact_max_messages: 5,
            contact_window_secs: 86_400,
            invitation_mail_quota: 500,
            invitation_mail_window_secs: 86_400,
            resend_cooldown_secs: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub store: StoreKind,
    pub table_name: String,
    pub create_table: bool,
    pub mailer: MailerKind,
    pub sender_email: String,
    pub portal_base_url: String,
    /// `OUTBOX_FILE`: with the outbox mailer, also append mail to this file.
    pub outbox_file: Option<String>,
    /// `SES_CONFIGURATION_SET`: the SES configuration set every send names
    /// (bounce and complaint suppression, event publishing); none if unset.
    pub ses_configuration_set: Option<String>,
    pub limits: Limits,
    /// The keys codes and tokens are hashed with (`HASH_KEYS`, or read from
    /// Secrets Manager at start when `hash_keys_secret_id` is set).
    pub hash_keys: HashKeys,
    /// `HASH_KEYS_SECRET_ID`: the Secrets Manager secret holding the keys.
    pub hash_keys_secret_id: Option<String>,
    /// No new claim attempt starts after this (`service::claim`): 5 s in
    /// Lambda, where the arithmetic of `store/dynamo/tx.rs` ("Timeouts")
    /// keeps every request inside the function's timeout. None locally:
    /// the emulator answers one request at a time, a crowd of concurrent
    /// claims queues for seconds, and no function timeout cuts it short.
    pub claim_budget: Option<std::time::Duration>,
    /// Against an emulator on this machine, check at start that the table
    /// exists and say how to create it if not: a dev-loop aid. Off inside
    /// a Lambda execution environment (`AWS_LAMBDA_INITIALIZATION_TYPE`)
    /// unless it is `sam local` (`AWS_SAM_LOCAL`), so a harness that
    /// mimics Lambda measures the init AWS would see (none is ever sent
    /// against AWS: its endpoints are not local).
    pub check_table: bool,
    /// Amazon's roots in Lambda, the system's locally.
    pub tls_roots: TlsRoots,
    /// `INVITATION_QUEUE_URL`: the SQS queue invitation mail waits in for
    /// the `invitation-sender` function. None: an in-process queue, which
    /// the devserver's worker drains (and a local Lambda loop drains
    /// before it answers).
    pub invitation_queue_url: Option<String>,
    /// `SES_MAX_ATTEMPTS`: attempts per SES send, the SDK's retries
    /// included (1 to 10). The invitation sender sets 1, so that a
    /// throttled answer is known to be about the one send made.
    pub ses_max_attempts: u32,
}

/// Where defaults differ: the local server embeds everything, a Lambda
/// function talks to DynamoDB and SES unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Local,
    Lambda,
}

impl Config {
    pub fn defaults(profile: Profile) -> Self {
        let lambda = profile == Profile::Lambda;
        Self {
            store: if lambda {
                StoreKind::DynamoDb
            } else {
                StoreKind::Memory
            },
            table_name: "seat-invitations".into(),
            create_table: false,
            mailer: if lambda {
                MailerKind::Ses
            } else {
                MailerKind::Outbox
            },
            sender_email: "no-reply@seats.example".into(),
            // In Lambda, empty: invite URLs use the domain the request came
            // in on, where the portal is served.
            portal_base_url: if lambda {
                String::new()
            } else {
                "http://localhost:3000".into()
            },
            outbox_file: None,
            ses_configuration_set: None,
            limits: Limits::default(),
            hash_keys: HashKeys::development(),
            hash_keys_secret_id: None,
            claim_budget: lambda.then_some(std::time::Duration::from_secs(5)),
            check_table: true,
            tls_roots: if lambda {
                TlsRoots::Amazon
            } else {
                TlsRoots::System
            },
            invitation_queue_url: None,
            ses_max_attempts: 3,
        }
    }

    pub fn from_env(profile: Profile) -> Result<Self, ConfigError> {
        Self::from_vars(profile, &std::env::vars().collect())
    }

    /// Reads the variables from a map, so tests need not touch the process
    /// environment.
    pub fn from_vars(
        profile: Profile,
        vars: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self::defaults(profile);
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let invalid =
            |name: &'static str, value: &str, expected: &'static str| ConfigError::Invalid {
                name,
                value: value.to_owned(),
                expected,
            };
        if let Some(v) = get("STORE") {
            config.store = match v.to_ascii_lowercase().as_str() {
                "memory" => StoreKind::Memory,
                "dynamodb" => StoreKind::DynamoDb,
                _ => return Err(invalid("STORE", v, "memory or dynamodb")),
            };
        }
        // Lambda sets AWS_LAMBDA_INITIALIZATION_TYPE in every execution
        // environment; local emulators (cargo lambda watch, the smoke test)
        // do not, and may use the embedded store.
        if profile == Profile::Lambda
            && config.store == StoreKind::Memory
            && get("AWS_LAMBDA_INITIALIZATION_TYPE").is_some()
        {
            return Err(ConfigError::MemoryStoreInLambda);
        }
        if let Some(v) = get("HASH_KEYS") {
            config.hash_keys = HashKeys::parse(v).map_err(|_| ConfigError::Invalid {
                name: "HASH_KEYS",
                // The value is a secret: never echoed.
                value: "<redacted>".into(),
                expected: "a JSON object like {\"current\":\"k1\",\"k1\":\"<at least 32 characters>\"}",
            })?;
        }
        config.hash_keys_secret_id = get("HASH_KEYS_SECRET_ID").map(str::to_owned);
        config.check_table = profile == Profile::Local
            || get("AWS_LAMBDA_INITIALIZATION_TYPE").is_none()
            || get("AWS_SAM_LOCAL").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if profile == Profile::Lambda
            && get("AWS_LAMBDA_INITIALIZATION_TYPE").is_some()
            && config.hash_keys_secret_id.is_none()
            && config.hash_keys.is_development()
        {
            return Err(ConfigError::DevelopmentKeyInLambda);
        }
        if let Some(v) = get("MAILER") {
            config.mailer = match v.to_ascii_lowercase().as_str() {
                "outbox" => MailerKind::Outbox,
                "ses" => MailerKind::Ses,
                _ => return Err(invalid("MAILER", v, "outbox or ses")),
            };
        }
        if let Some(v) = get("TABLE_NAME") {
            config.table_name = v.to_owned();
        }
        if let Some(v) = get("CREATE_TABLE") {
            config.create_table = match v.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid("CREATE_TABLE", v, "true or false")),
            };
        }
        if let Some(v) = get("SENDER_EMAIL") {
            config.sender_email = v.to_owned();
        }
        config.outbox_file = get("OUTBOX_FILE").map(str::to_owned);
        if let Some(v) = get("SES_MAX_ATTEMPTS") {
            config.ses_max_attempts = match v.trim().parse::<u32>() {
                Ok(n @ 1..=10) => n,
                _ => return Err(invalid("SES_MAX_ATTEMPTS", v, "a number from 1 to 10")),
            };
        }
        config.invitation_queue_url = get("INVITATION_QUEUE_URL")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        if let Some(v) = get("SES_CONFIGURATION_SET") {
            // SES names: letters, digits, `_` and `-`, at most 64.
            let valid = v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(invalid(
                    "SES_CONFIGURATION_SET",
                    v,
                    "an SES configuration set name (letters, digits, _ and -, at most 64)",
                ));
            }
            config.ses_configuration_set = Some(v.to_owned());
        }
        if let Some(v) = get("PORTAL_BASE_URL") {
            config.portal_base_url = v.trim_end_matches('/').to_owned();
        }
        let number = |name: &'static str, value: &str| -> Result<u64, ConfigError> {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(name, value, "a positive integer"))
        };
        let count = |name: &'static str, value: &str| -> Result<u32, ConfigError> {
            u32::try_from(number(name, value)?)
                .map_err(|_| invalid(name, value, "a positive integer below 2^32"))
        };
        let limits = &mut config.limits;
        if let Some(v) = get("REDEEM_MAX_FAILURES") {
            limits.redeem_max_failures = count("REDEEM_MAX_FAILURES", v)?;
        }
        if let Some(v) = get("REDEEM_MAX_FAILURES_PER_SOURCE") {
            limits.redeem_max_failures_per_source = match v {
                "0" => 0,
                v => count("REDEEM_MAX_FAILURES_PER_SOURCE", v)?,
            };
        }
        if let Some(v) = get("REDEEM_FAILURE_WINDOW_SECS") {
            limits.redeem_window_secs = number("REDEEM_FAILURE_WINDOW_SECS", v)?;
        }
        if let Some(v) = get("CONTACT_MAX_MESSAGES") {
            limits.contact_max_messages = count("CONTACT_MAX_MESSAGES", v)?;
        }
        if let Some(v) = get("CONTACT_WINDOW_SECS") {
            limits.contact_window_secs = number("CONTACT_WINDOW_SECS", v)?;
        }
        if let Some(v) = get("INVITATION_MAIL_QUOTA") {
            limits.invitation_mail_quota = count("INVITATION_MAIL_QUOTA", v)?;
        }
        if let Some(v) = get("INVITATION_MAIL_WINDOW_SECS") {
            limits.invitation_mail_window_secs = number("INVITATION_MAIL_WINDOW_SECS", v)?;
        }
        if let Some(v) = get("RESEND_COOLDOWN_SECS") {
            limits.resend_cooldown_secs = number("RESEND_COOLDOWN_SECS", v)?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn local_defaults_embed_everything() {
        let config = Config::from_vars(Profile::Local, &vars(&[])).expect("defaults");
        assert_eq!(config.store, StoreKind::Memory);
        assert_eq!(config.mailer, MailerKind::Outbox);
        assert_eq!(config.limits, Limits::default());
    }

    #[test]
    fn lambda_defaults_use_aws() {
        let config = Config::from_vars(Profile::Lambda, &vars(&[])).expect("defaults");
        assert_eq!(config.store, StoreKind::DynamoDb);
        assert_eq!(config.mailer, MailerKind::Ses);
    }

    #[test]
    fn the_local_table_check_is_skipped_only_in_a_lambda_environment() {
        let key = (
            "HASH_KEYS",
            r#"{"current":"k1","k1":"0123456789abcdef0123456789abcdef"}"#,
        );
        let in_lambda = ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
        let check = |profile, pairs: &[(&str, &str)]| {
            Config::from_vars(profile, &vars(pairs))
                .expect("valid")
                .check_table
        };
        assert!(check(Profile::Local, &[in_lambda]));
        // cargo lambda watch, the smoke test: no Lambda environment.
        assert!(check(Profile::Lambda, &[key]));
        assert!(!check(Profile::Lambda, &[key, in_lambda]));
        assert!(check(
            Profile::Lambda,
            &[key, in_lambda, ("AWS_SAM_LOCAL", "true")]
        ));
    }

    #[test]
    fn variables_override_defaults() {
        let config = Config::from_vars(
            Profile::Local,
            &vars(&[
                ("STORE", "dynamodb"),
                ("TABLE_NAME", "t1"),
                ("CREATE_TABLE", "true"),
                ("PORTAL_BASE_URL", "https://portal.example/"),
                ("REDEEM_MAX_FAILURES", "3"),
                ("CONTACT_WINDOW_SECS", "60"),
                ("INVITATION_MAIL_QUOTA", "20"),
                ("INVITATION_MAIL_WINDOW_SECS", "3600"),
                ("RESEND_COOLDOWN_SECS", "30"),
                ("SES_CONFIGURATION_SET", "seat-invitations-mail"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.store, StoreKind::DynamoDb);
        assert_eq!(config.table_name, "t1");
        assert!(config.create_table);
        assert_eq!(config.portal_base_url, "https://portal.example");
        assert_eq!(config.limits.redeem_max_failures, 3);
        assert_eq!(config.limits.contact_window_secs, 60);
        assert_eq!(config.limits.invitation_mail_quota, 20);
        assert_eq!(config.limits.invitation_mail_window_secs, 3600);
        assert_eq!(config.limits.resend_cooldown_secs, 30);
        assert_eq!(
            config.ses_configuration_set.as_deref(),
            Some("seat-invitations-mail")
        );
    }

    #[test]
    fn a_typo_is_refused_by_name_not_read_as_a_default() {
        let err = Config::from_vars(Profile::Local, &vars(&[("CREATE_TABLE", "ture")]));
        assert_eq!(
            err.map_err(|e| e.to_string()).err().as_deref(),
            Some("CREATE_TABLE must be true or false, not \"ture\"")
        );
        let lambda = vars(&[
            ("STORE", "memory"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ]);
        assert_eq!(
            Config::from_vars(Profile::Lambda, &lambda).err(),
            Some(ConfigError::MemoryStoreInLambda)
        );
        let no_key = vars(&[
            ("STORE", "dynamodb"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ]);
        assert_eq!(
            Config::from_vars(Profile::Lambda, &no_key).err(),
            Some(ConfigError::DevelopmentKeyInLambda)
        );
        let bad_key = Config::from_vars(
            Profile::Local,
            &vars(&[("HASH_KEYS", r#"{"current":"k1","k1":"c2VjcmV0"}"#)]),
        );
        let shown = bad_key.map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(shown.starts_with("HASH_KEYS must be"), "{shown}");
        assert!(
            !shown.contains("c2VjcmV0"),
            "a key is never echoed: {shown}"
        );
        // Local emulators of the Lambda runtime may embed the store.
        let emulated = Config::from_vars(Profile::Lambda, &vars(&[("STORE", "memory")]));
        assert_eq!(emulated.map(|c| c.store).ok(), Some(StoreKind::Memory));
    }

    #[test]
    fn bad_values_are_reported() {
        assert!(Config::from_vars(Profile::Local, &vars(&[("STORE", "postgres")])).is_err());
        assert!(Config::from_vars(Profile::Local, &vars(&[("SES_MAX_ATTEMPTS", "0")])).is_err());
        assert_eq!(
            Config::from_vars(Profile::Lambda, &vars(&[("SES_MAX_ATTEMPTS", "1")]))
                .map(|c| c.ses_max_attempts),
            Ok(1)
        );
        assert!(Config::from_vars(Profile::Local, &vars(&[("REDEEM_MAX_FAILURES", "0")])).is_err());
        assert!(
            Config::from_vars(Profile::Local, &vars(&[("CONTACT_WINDOW_SECS", "soon")])).is_err()
        );
        for (name, value) in [
            ("INVITATION_MAIL_QUOTA", "0"),
            ("INVITATION_MAIL_QUOTA", "-5"),
            ("INVITATION_MAIL_WINDOW_SECS", "1d"),
            ("RESEND_COOLDOWN_SECS", "0"),
            ("SES_CONFIGURATION_SET", "has space"),
            ("SES_CONFIGURATION_SET", "a/b"),
        ] {
            assert!(
                Config::from_vars(Profile::Local, &vars(&[(name, value)])).is_err(),
                "{name}={value}"
            );
        }
    }
}
