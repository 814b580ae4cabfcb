//! The one error type every use case returns: the catalogue of API errors
//! (codes, messages, `Retry-After` seconds). Their HTTP statuses are the
//! edge's (`crate::http::status_of`).
//!
//! Each variant is a stable, documented API error code (`docs/errors.md`).
//! Store and mail adapters report infrastructure trouble through
//! [`StoreError`] and [`MailError`]; use cases turn those into
//! `SERVICE_UNAVAILABLE` (transient) or `INTERNAL_ERROR` (a bug or a broken
//! deployment, logged with its cause).

mod cause;
pub use cause::{note_cause, with_cause_slot};

/// Seconds a client is told to wait after a transient backend failure.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("sign in to use this API")]
    Unauthenticated,
    #[error("unknown invite code")]
    CodeNotFound,
    #[error("invite code expired")]
    CodeExpired,
    #[error("invite code revoked")]
    CodeRevoked,
    #[error("invite code used up")]
    CodeUsedUp,
    #[error("license expired")]
    LicenseExpired,
    #[error("no seats available")]
    NoSeatsAvailable,
    #[error("email not verified")]
    EmailNotVerified,
    /// The token has no `email` claim at all (a Cognito access token, say):
    /// a deployment that sends the wrong token, not a user to verify.
    #[error("token without an email claim")]
    TokenWithoutEmail,
    #[error("email domain not allowed")]
    EmailDomainNotAllowed,
    #[error("too many failed attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("invitation not found")]
    InviteNotFound,
    #[error("invitation expired")]
    InviteExpired,
    #[error("invitation revoked")]
    InviteRevoked,
    #[error("invitation already used")]
    InviteAlreadyUsed,
    #[error("invitation is for another email")]
    InviteEmailMismatch,
    #[error("license not found")]
    LicenseNotFound,
    #[error("seat not found")]
    SeatNotFound,
    #[error("too many messages")]
    TooManyMessages { retry_after_secs: u64 },
    #[error("invitation mail quota exceeded")]
    InvitationQuotaExceeded { retry_after_secs: u64 },
    #[error("resent too soon")]
    ResendTooSoon { retry_after_secs: u64 },
    #[error("recipient suppressed")]
    RecipientSuppressed,
    #[error("owner unreachable")]
    OwnerUnreachable,
    /// A backing service failed transiently. `outcome` says whether the
    /// request is known to have changed nothing, or its effect could not
    /// be determined (a repeat is then still safe where the route says so).
    #[error("service unavailable")]
    ServiceUnavailable {
        retry_after_secs: u64,
        outcome: Outcome,
    },
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    /// A 503 that promises nothing was changed.
    pub fn unavailable() -> Self {
        Self::unavailable_with(Outcome::Unchanged)
    }

    /// A 503 whose request may or may not have taken effect.
    pub fn outcome_unknown() -> Self {
        Self::unavailable_with(Outcome::Unknown)
    }

    pub fn unavailable_with(outcome: Outcome) -> Self {
        Self::ServiceUnavailable {
            retry_after_secs: UNAVAILABLE_RETRY_AFTER_SECS,
            outcome,
        }
    }

    /// For a 503: what it promises about the request's effect.
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            Self::ServiceUnavailable { outcome, .. } => Some(*outcome),
            _ => None,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::CodeNotFound => "CODE_NOT_FOUND",
            Self::CodeExpired => "CODE_EXPIRED",
            Self::CodeRevoked => "CODE_REVOKED",
            Self::CodeUsedUp => "CODE_USED_UP",
            Self::LicenseExpired => "LICENSE_EXPIRED",
            Self::NoSeatsAvailable => "NO_SEATS_AVAILABLE",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::TokenWithoutEmail => "TOKEN_WITHOUT_EMAIL",
            Self::EmailDomainNotAllowed => "EMAIL_DOMAIN_NOT_ALLOWED",
            Self::TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            Self::InviteNotFound => "INVITE_NOT_FOUND",
            Self::InviteExpired => "INVITE_EXPIRED",
            Self::InviteRevoked => "INVITE_REVOKED",
            Self::InviteAlreadyUsed => "INVITE_ALREADY_USED",
            Self::InviteEmailMismatch => "INVITE_EMAIL_MISMATCH",
            Self::LicenseNotFound => "LICENSE_NOT_FOUND",
            Self::SeatNotFound => "SEAT_NOT_FOUND",
            Self::TooManyMessages { .. } => "TOO_MANY_MESSAGES",
            Self::InvitationQuotaExceeded { .. } => "INVITATION_QUOTA_EXCEEDED",
            Self::ResendTooSoon { .. } => "RESEND_TOO_SOON",
            Self::RecipientSuppressed => "RECIPIENT_SUPPRESSED",
            Self::OwnerUnreachable => "OWNER_UNREACHABLE",
            Self::ServiceUnavailable { .. } => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL_ERROR",
        }
    }

    /// Seconds for the `Retry-After` header, where the error has one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts { retry_after_secs }
            | Self::TooManyMessages { retry_after_secs }
            | Self::InvitationQuotaExceeded { retry_after_secs }
            | Self::ResendTooSoon { retry_after_secs }
            | Self::ServiceUnavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// A message that tells the user what to do next.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidRequest(detail) => format!("The request is not valid: {detail}."),
            Self::Unauthenticated => "Sign in, then try again.".into(),
            Self::CodeNotFound => {
                "This invite code does not exist. Check it for typos, or ask your license admin for a new one.".into()
            }
            Self::CodeExpired => "This invite code has expired. Ask your license admin for a new one.".into(),
            Self::CodeRevoked => "This invite code was revoked. Ask your license admin for a new one.".into(),
            Self::CodeUsedUp => {
                "This invite code has been used the maximum number of times. Ask your license admin for a new one.".into()
            }
            Self::LicenseExpired => "This license has expired. Contact your license admin.".into(),
            Self::NoSeatsAvailable => {
                "Every seat of this license is taken. Ask your license admin to free a seat or add seats.".into()
            }
            Self::EmailNotVerified => "Verify your email address with your sign-in provider, then try again.".into(),
            Self::TokenWithoutEmail => {
                "Your sign-in token carries no email address (the API needs an ID token, or an access token with the email and email_verified claims). Sign in again; if this persists, the portal's operator must change the token it sends.".into()
            }
            Self::EmailDomainNotAllowed => {
                "This license is limited to certain email domains. Sign in with your organization's address.".into()
            }
            Self::TooManyAttempts { retry_after_secs } => format!(
                "Too many failed redemptions. Wait {retry_after_secs} seconds, then check the code and try again."
            ),
            Self::InviteNotFound => {
                "This invitation link is not valid. It may have been replaced by a newer one; ask the sender.".into()
            }
            Self::InviteExpired => "This invitation has expired. Ask your license admin to resend it.".into(),
            Self::InviteRevoked => "This invitation was withdrawn. Contact your license admin.".into(),
            Self::InviteAlreadyUsed => {
                "This invitation is no longer open: it was already accepted or declined. Ask your license admin for a new one.".into()
            }
            Self::InviteEmailMismatch => {
                "This invitation was sent to a different email address. Sign in with that address.".into()
            }
            Self::LicenseNotFound => "No such license, or you have no access to it.".into(),
            Self::SeatNotFound => "That user holds no seat on this license.".into(),
            Self::TooManyMessages { retry_after_secs } => format!(
                "You have sent the maximum number of messages to this license's owner. Try again in {retry_after_secs} seconds."
            ),
            Self::InvitationQuotaExceeded { retry_after_secs } => format!(
                "This license has sent its maximum number of invitation emails for now. Try again in {retry_after_secs} seconds."
            ),
            Self::ResendTooSoon { retry_after_secs } => format!(
                "This invitation was emailed a moment ago. Resend it again in {retry_after_secs} seconds."
            ),
            Self::RecipientSuppressed => {
                "Mail to this address bounced or was reported as spam, so it is no longer sent. Ask the invitee for another address, or share an open link another way.".into()
            }
            Self::OwnerUnreachable => {
                "The license owner's address cannot receive mail at the moment. Contact them another way.".into()
            }
            Self::ServiceUnavailable {
                retry_after_secs,
                outcome: Outcome::Unchanged,
            } => format!(
                "The service is busy. Nothing was changed; try again in {retry_after_secs} seconds."
            ),
            Self::ServiceUnavailable {
                retry_after_secs,
                outcome: Outcome::Unknown,
            } => format!(
                "The service could not confirm whether your request took effect. Try again in {retry_after_secs} seconds: redeeming, accepting and leaving are safe to repeat and never take effect twice."
            ),
            Self::Internal => "Something went wrong on our side. Try again later.".into(),
        }
    }
}

/// What caused a store or mail failure: a sanitized description (an error
/// code, a failure kind), never item values, addresses, codes or tokens.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a failed request is known to have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Nothing was written: a read, a refused or throttled request, or a
    /// write whose outcome was resolved as not applied.
    Unchanged,
    /// A write was sent and its answer was lost (a 5xx, a timeout, a
    /// dropped connection): it may have been applied.
    Unknown,
}

/// Infrastructure failure of a store adapter. `operation` names what was
/// being done (e.g. `"GetItem code"`); the cause is the error's `source`,
/// and is in its message too (it is sanitized), so logging the error alone
/// says everything.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, contention that outlasted retries: safe to
    /// retry. `outcome` says whether a write may have been applied.
    #[error("store temporarily unavailable: {operation}: {source}")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: Cause,
        outcome: Outcome,
    },
    /// A create found the item already there (the id it was created with).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// Anything else: misconfiguration, malformed data, a bug.
    #[error("store failure: {operation}: {source}")]
    Internal {
        operation: &'static str,
        #[source]
        source: Cause,
    },
}

/// The `unavailable` and `internal` constructors of an adapter error: both
/// adapters' errors have the same two variants of an operation and a cause.
macro_rules! adapter_error_constructors {
    ($error:ident) => {
        impl $error {
            /// Failed, and known to have changed nothing.
            pub fn unavailable(operation: &'static str, source: impl Into<Cause>) -> Self {
                Self::Unavailable {
                    operation,
                    source: source.into(),
                    outcome: Outcome::Unchanged,
                }
            }

            /// Failed after the request was sent: it may have been applied.
            pub fn outcome_unknown(operation: &'static str, source: impl Into<Cause>) -> Self {
                Self::Unavailable {
                    operation,
                    source: source.into(),
                    outcome: Outcome::Unknown,
                }
            }

            /// The same failure, with an unknown outcome: something sent
            /// earlier for the same request may have been applied.
            pub fn into_unknown(self) -> Self {
                match self {
                    Self::Unavailable {
                        operation, source, ..
                    } => Self::Unavailable {
                        operation,
                        source,
                        outcome: Outcome::Unknown,
                    },
                    other => other,
                }
            }

            /// Whether this failure may have left a write applied.
            pub fn outcome_is_unknown(&self) -> bool {
                matches!(
                    self,
                    Self::Unavailable {
                        outcome: Outcome::Unknown,
                        ..
                    }
                )
            }

            pub fn internal(operation: &'static str, source: impl Into<Cause>) -> Self {
                Self::Internal {
                    operation,
                    source: source.into(),
                }
            }
        }
    };
}

adapter_error_constructors!(StoreError);

/// What a store port returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// Failure of a mail adapter; the cause is the error's `source`, and in its
/// message (sanitized: an error code, never an address).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Refused or throttled by the mail service; not the sender's fault.
    /// `outcome` says whether the message may have been sent.
    #[error("mail service unavailable: {operation}: {source}")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: Cause,
        outcome: Outcome,
    },
    /// The mail service refused the send for its rate: not sent; the same
    /// mail may be tried again later.
    #[error("mail service throttled: {operation}")]
    Throttled { operation: &'static str },
    /// The mail service refused the send for a reason that is not the
    /// message's (sending paused, the deployment's set-up: permissions, a
    /// missing configuration set): not sent; worth trying later.
    #[error("mail service deferred the send: {operation}: {code}")]
    Deferred {
        operation: &'static str,
        code: String,
    },
    /// The message could not even be built: a bug.
    #[error("mail failure: {operation}: {source}")]
    Internal {
        operation: &'static str,
        #[source]
        source: Cause,
    },
}

adapter_error_constructors!(MailError);

/// Transient trouble is `SERVICE_UNAVAILABLE`, anything else
/// `INTERNAL_ERROR`. Nothing is logged here: the HTTP edge logs the error
/// with its cause, once.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        note_cause(&err);
        match err {
            StoreError::Unavailable { outcome, .. } => ApiError::unavailable_with(outcome),
            StoreError::AlreadyExists(_) | StoreError::Internal { .. } => ApiError::Internal,
        }
    }
}

/// A refusing or throttling mail service is `SERVICE_UNAVAILABLE`; a
/// message that cannot be built is a bug, `INTERNAL_ERROR`. Not logged here.
impl From<MailError> for ApiError {
    fn from(err: MailError) -> Self {
        note_cause(&err);
        match err {
            MailError::Unavailable { outcome, .. } => ApiError::unavailable_with(outcome),
            MailError::Throttled { .. } | MailError::Deferred { .. } => {
                ApiError::unavailable_with(Outcome::Unchanged)
            }
            MailError::Internal { .. } => ApiError::Internal,
        }
    }
}
