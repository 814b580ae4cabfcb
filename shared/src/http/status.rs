//! Errors as the edge answers them: [`EdgeError`] (no such route, or the
//! use case's [`ApiError`]) and the HTTP status of each, the one place where
//! the error catalogue meets HTTP.

use http::StatusCode;

use super::router::RouteError;
use crate::error::ApiError;

/// Why a request ends in an error response: the router found no route for
/// it, or the use case (or reading the request) refused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl EdgeError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Route(err) => err.code(),
            Self::Api(err) => err.code(),
        }
    }

    /// A message that tells the user what to do next.
    pub fn message(&self) -> String {
        match self {
            Self::Route(err) => err.message().to_owned(),
            Self::Api(err) => err.message(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Route(RouteError::NotFound) => StatusCode::NOT_FOUND,
            Self::Route(RouteError::MethodNotAllowed(_)) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Api(err) => status_of(err),
        }
    }

    /// The `Allow` header of a `METHOD_NOT_ALLOWED`: the methods the path
    /// accepts.
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            Self::Route(RouteError::MethodNotAllowed(allowed)) => Some(allowed.header_value()),
            _ => None,
        }
    }

    /// Seconds for the `Retry-After` header, where the error has one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Route(_) => None,
            Self::Api(err) => err.retry_after(),
        }
    }
}

/// The HTTP status of an API error.
pub fn status_of(err: &ApiError) -> StatusCode {
    match err {
        ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
        ApiError::CodeNotFound
        | ApiError::InviteNotFound
        | ApiError::LicenseNotFound
        | ApiError::SeatNotFound => StatusCode::NOT_FOUND,
        ApiError::CodeExpired | ApiError::CodeRevoked | ApiError::LicenseExpired => {
            StatusCode::GONE
        }
        ApiError::InviteExpired | ApiError::InviteRevoked => StatusCode::GONE,
        ApiError::CodeUsedUp
        | ApiError::NoSeatsAvailable
        | ApiError::InviteAlreadyUsed
        | ApiError::RecipientSuppressed
        | ApiError::OwnerUnreachable => StatusCode::CONFLICT,
        ApiError::EmailNotVerified
        | ApiError::TokenWithoutEmail
        | ApiError::EmailDomainNotAllowed
        | ApiError::InviteEmailMismatch => StatusCode::FORBIDDEN,
        ApiError::TooManyAttempts { .. }
        | ApiError::TooManyMessages { .. }
        | ApiError::InvitationQuotaExceeded { .. }
        | ApiError::ResendTooSoon { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
