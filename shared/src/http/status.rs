//! The HTTP status of each API error: the one place where the error
//! catalogue (`crate::error::ApiError`) meets HTTP.

use http::StatusCode;

use crate::error::ApiError;

pub fn status_of(err: &ApiError) -> StatusCode {
    match err {
        ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
        ApiError::RouteNotFound
        | ApiError::CodeNotFound
        | ApiError::InviteNotFound
        | ApiError::LicenseNotFound
        | ApiError::SeatNotFound => StatusCode::NOT_FOUND,
        ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ApiError::CodeExpired | ApiError::CodeRevoked | ApiError::LicenseExpired => {
            StatusCode::GONE
        }
        ApiError::InviteExpired | ApiError::InviteRevoked => StatusCode::GONE,
        ApiError::CodeUsedUp | ApiError::NoSeatsAvailable | ApiError::InviteAlreadyUsed => {
            StatusCode::CONFLICT
        }
        ApiError::EmailNotVerified
        | ApiError::EmailDomainNotAllowed
        | ApiError::InviteEmailMismatch => StatusCode::FORBIDDEN,
        ApiError::TooManyAttempts { .. } | ApiError::TooManyMessages { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ApiError::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
