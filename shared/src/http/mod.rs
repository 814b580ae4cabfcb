//! The HTTP edge shared by every Lambda function and the devserver.
//!
//! - `router`: the route table (method, path, endpoint, owning function);
//! - `extract`: the caller, JSON bodies, paging, query and path parameters;
//! - `handlers`: one module per function, each handler thin: extract →
//!   use case → response;
//! - `response`: the JSON bodies and the one error envelope;
//! - `status`: the HTTP status of each error.
//!
//! [`handle`] runs one request through them.

mod extract;
mod handlers;
pub mod permissions;
mod response;
mod router;
mod status;
#[cfg(test)]
mod tests;

pub use extract::{MAX_BODY_BYTES, caller, json_body};
pub use response::{error_response, json_response};
pub use router::{Allowed, Function, RouteError, loggable_path, routes};
pub use status::{EdgeError, status_of};

use lambda_http::{Body, Request, Response};

use crate::App;
use crate::error::{ApiError, with_cause_slot};

/// The whole request cycle of one function: route (404, 405), caller (401),
/// then the handler. Never fails: every error is a response with the error
/// envelope. A request that ends in `INTERNAL_ERROR` or
/// `SERVICE_UNAVAILABLE` is logged here, once, with its cause.
pub async fn handle(app: &App, function: Function, req: Request) -> Response<Body> {
    let (route, path) = match router::find(function, req.method(), req.uri().path()) {
        Ok(found) => found,
        Err(err) => return error_response(&err),
    };
    let (outcome, cause) = with_cause_slot(async {
        let caller = caller(&req)?;
        handlers::dispatch(app, route.endpoint, &path, &caller, &req).await
    })
    .await;
    match outcome {
        Ok(response) => response,
        Err(err) => {
            log_failure(route, &err, cause.as_deref());
            error_response(&err)
        }
    }
}

/// The one log line of a request that failed on our side. It names the
/// route by its pattern (`/v1/invites/{token}`), never the path, which may
/// hold a token; neither does it hold the caller or the body.
fn log_failure(route: &router::Route, err: &ApiError, cause: Option<&str>) {
    let (function, method, route, status, code) = (
        route.function.name(),
        route.method.as_str(),
        route.path,
        status_of(err).as_u16(),
        err.code(),
    );
    // The same line at the level of the failure (a level must be a constant).
    macro_rules! request_failed {
        ($level:ident) => {
            tracing::$level!(
                function,
                method,
                route,
                status,
                code,
                cause,
                "request failed"
            )
        };
    }
    match err {
        ApiError::Internal => request_failed!(error),
        ApiError::ServiceUnavailable { .. } => request_failed!(warn),
        _ => {}
    }
}
