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
mod response;
mod router;
mod status;

pub use extract::{MAX_BODY_BYTES, caller, json_body};
pub use response::{error_response, json_response};
pub use router::{Function, RouteError, routes};
pub use status::{EdgeError, status_of};

use lambda_http::{Body, Request, Response};

use crate::App;

/// The whole request cycle of one function: route (404, 405), caller (401),
/// then the handler. Never fails: every error is a response with the error
/// envelope.
pub async fn handle(app: &App, function: Function, req: Request) -> Response<Body> {
    match serve(app, function, &req).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    }
}

async fn serve(app: &App, function: Function, req: &Request) -> Result<Response<Body>, EdgeError> {
    let (route, path) = router::find(function, req.method(), req.uri().path())?;
    let caller = caller(req)?;
    Ok(handlers::dispatch(app, route.endpoint, &path, &caller, req).await?)
}
