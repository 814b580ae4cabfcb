//! Configuration from environment variables (names and defaults in API.md).

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    DynamoDb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailerKind {
    Outbox,
    Ses,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub redeem_max_failures: u32,
    pub redeem_window_secs: u64,
    pub contact_max_messages: u32,
    pub contact_window_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            redeem_max_failures: 10,
            redeem_window_secs: 900,
            contact_max_messages: 5,
            contact_window_secs: 86_400,
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
    pub limits: Limits,
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
            limits: Limits::default(),
        }
    }

    pub fn from_env(profile: Profile) -> Result<Self, String> {
        Self::from_vars(profile, &std::env::vars().collect())
    }

    /// Reads the variables from a map, so tests need not touch the process
    /// environment.
    pub fn from_vars(profile: Profile, vars: &HashMap<String, String>) -> Result<Self, String> {
        let mut config = Self::defaults(profile);
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(v) = get("STORE") {
            config.store = match v.to_ascii_lowercase().as_str() {
                "memory" => StoreKind::Memory,
                "dynamodb" => StoreKind::DynamoDb,
                other => return Err(format!("STORE must be memory or dynamodb, not {other:?}")),
            };
        }
        if let Some(v) = get("MAILER") {
            config.mailer = match v.to_ascii_lowercase().as_str() {
                "outbox" => MailerKind::Outbox,
                "ses" => MailerKind::Ses,
                other => return Err(format!("MAILER must be outbox or ses, not {other:?}")),
            };
        }
        if let Some(v) = get("TABLE_NAME") {
            config.table_name = v.to_owned();
        }
        if let Some(v) = get("CREATE_TABLE") {
            config.create_table = matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes");
        }
        if let Some(v) = get("SENDER_EMAIL") {
            config.sender_email = v.to_owned();
        }
        if let Some(v) = get("PORTAL_BASE_URL") {
            config.portal_base_url = v.trim_end_matches('/').to_owned();
        }
        let number = |name: &str, value: &str| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} must be a positive integer, not {value:?}"))
        };
        let limits = &mut config.limits;
        if let Some(v) = get("REDEEM_MAX_FAILURES") {
            limits.redeem_max_failures =
                u32::try_from(number("REDEEM_MAX_FAILURES", v)?).map_err(|e| e.to_string())?;
        }
        if let Some(v) = get("REDEEM_FAILURE_WINDOW_SECS") {
            limits.redeem_window_secs = number("REDEEM_FAILURE_WINDOW_SECS", v)?;
        }
        if let Some(v) = get("CONTACT_MAX_MESSAGES") {
            limits.contact_max_messages =
                u32::try_from(number("CONTACT_MAX_MESSAGES", v)?).map_err(|e| e.to_string())?;
        }
        if let Some(v) = get("CONTACT_WINDOW_SECS") {
            limits.contact_window_secs = number("CONTACT_WINDOW_SECS", v)?;
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
            ]),
        )
        .expect("valid");
        assert_eq!(config.store, StoreKind::DynamoDb);
        assert_eq!(config.table_name, "t1");
        assert!(config.create_table);
        assert_eq!(config.portal_base_url, "https://portal.example");
        assert_eq!(config.limits.redeem_max_failures, 3);
        assert_eq!(config.limits.contact_window_secs, 60);
    }

    #[test]
    fn bad_values_are_reported() {
        assert!(Config::from_vars(Profile::Local, &vars(&[("STORE", "postgres")])).is_err());
        assert!(Config::from_vars(Profile::Local, &vars(&[("REDEEM_MAX_FAILURES", "0")])).is_err());
        assert!(
            Config::from_vars(Profile::Local, &vars(&[("CONTACT_WINDOW_SECS", "soon")])).is_err()
        );
    }
}
