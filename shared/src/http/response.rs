//! JSON responses and the one error envelope.

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::status::EdgeError;
use crate::error::ApiError;
use crate::service::Claimed;

pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => build(status, Body::Text(text)),
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            error_response(&ApiError::Internal)
        }
    }
}

/// The error envelope `{"error": {"code", "message"}}` with the error's
/// status (and `Retry-After` where it has one), for an [`EdgeError`], an
/// [`ApiError`] or a `RouteError`.
pub fn error_response<E: Clone + Into<EdgeError>>(err: &E) -> Response<Body> {
    let err: EdgeError = err.clone().into();
    envelope(
        &err,
        serde_json::json!({"code": err.code(), "message": err.message()}),
    )
}

/// The envelope with the license the error is about (a redemption the
/// license's owner could help with).
pub(super) fn error_response_with_license(
    err: &ApiError,
    license: &crate::domain::LicenseSummary,
) -> Response<Body> {
    envelope(
        &EdgeError::Api(err.clone()),
        serde_json::json!({"code": err.code(), "message": err.message(), "license": license}),
    )
}

fn envelope(err: &EdgeError, error: serde_json::Value) -> Response<Body> {
    let body = serde_json::json!({ "error": error });
    let mut response = build(err.status(), Body::Text(body.to_string()));
    if let Some(secs) = err.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

pub(super) fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A seat claimed by a redemption or an accepted invitation: `201`, or `200`
/// for a caller who already held one.
pub(super) fn claimed(claimed: &Claimed) -> Response<Body> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out<'a> {
        license: &'a crate::domain::License,
        seat: &'a crate::domain::Seat,
        already_member: bool,
    }
    let status = if claimed.already_member {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    json_response(
        status,
        &Out {
            license: &claimed.license,
            seat: &claimed.seat,
            already_member: claimed.already_member,
        },
    )
}

fn build(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
