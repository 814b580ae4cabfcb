//! The HTTP edge shared by every Lambda function and the devserver:
//! identity from the authorizer context, JSON in and out, the error
//! envelope, and the routing table that says which function owns a route.

mod admin;
mod extract;
mod response;
mod routes;
mod status;

pub use extract::{MAX_BODY_BYTES, caller, json_body};
pub use response::{error_response, json_response};
pub use routes::{Function, RouteError, handle};
pub use status::{EdgeError, status_of};
