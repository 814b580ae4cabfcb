//! The deployed stack, as `seatctl` reads it: its status, outputs and
//! parameters from CloudFormation, so that nobody copies a generated table
//! name or secret ARN by hand.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The stack's outputs `seatctl` and the doctor read.
pub const TABLE_OUTPUT: &str = "TableName";
pub const SECRET_OUTPUT: &str = "HashKeysSecret";
pub const API_OUTPUT: &str = "ApiUrl";
pub const PORTAL_OUTPUT: &str = "PortalUrl";
pub const ISSUER_OUTPUT: &str = "OidcIssuer";
/// Every output a working stack has, whatever its sign-in option.
pub const REQUIRED_OUTPUTS: [&str; 5] = [
    API_OUTPUT,
    PORTAL_OUTPUT,
    TABLE_OUTPUT,
    SECRET_OUTPUT,
    ISSUER_OUTPUT,
];
/// The stack parameter naming the SES sender.
pub const SENDER_PARAMETER: &str = "SenderEmail";

/// A stack as DescribeStacks describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

/// Why a stack could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackError {
    /// No stack of that name in the account and region.
    Missing,
    /// Anything else (credentials, network, permissions).
    Unreadable(String),
}

impl std::fmt::Display for StackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("no such stack in this account and region"),
            Self::Unreadable(why) => f.write_str(why),
        }
    }
}

pub async fn describe(client: &Client, name: &str) -> Result<Stack, StackError> {
    let out = client
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            // CloudFormation answers a missing stack with a ValidationError
            // that says "does not exist".
            let missing = e.code() == Some("ValidationError")
                && e.message().is_some_and(|m| m.contains("does not exist"));
            if missing {
                StackError::Missing
            } else {
                StackError::Unreadable(DisplayErrorContext(&e).to_string())
            }
        })?;
    let stack = out.stacks().first().ok_or(StackError::Missing)?.to_owned();
    Ok(Stack {
        name: stack.stack_name().unwrap_or(name).to_owned(),
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason().map(str::to_owned),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
        parameters: stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
    })
}

impl Stack {
    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The output `key`, or a message that says which stack lacks it.
    pub fn require(&self, key: &str) -> Result<&str, String> {
        self.output(key).ok_or_else(|| {
            format!(
                "stack {} has no {key} output (status {}): deploy this version of template.yaml",
                self.name, self.status
            )
        })
    }
}
