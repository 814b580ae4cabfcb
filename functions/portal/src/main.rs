//! Lambda function `portal`: the license portal's pages and assets on the
//! same HTTP API as the API, without authorization (they are public files;
//! the pages call the API with the sign-in provider's token).

use lambda_http::http::header::ACCEPT_ENCODING;
use lambda_http::{Body, Error, Request, Response, service_fn};
use portal::{Portal, PortalConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The functions' one log switch (Lambda's application log level, else
    // RUST_LOG) and JSON lines with a timestamp, which Lambda's level
    // filter needs to keep an error line when the level is WARN.
    seat_invitations::lambda::init_tracing(seat_invitations::lambda::LogFormat::Json);
    let portal = std::sync::Arc::new(Portal::new(PortalConfig::from_env(None)?));
    lambda_http::run_concurrent(service_fn(move |req: Request| {
        let portal = portal.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(&portal, &req)) }
    }))
    .await
}

fn respond(portal: &Portal, req: &Request) -> Response<Body> {
    let gzip = req
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let response = portal
        .respond(req.method(), req.uri().path(), gzip)
        .unwrap_or_else(|| {
            let mut not_found = lambda_http::http::Response::new(b"Not found.".to_vec());
            *not_found.status_mut() = lambda_http::http::StatusCode::NOT_FOUND;
            not_found
        });
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::Binary(body))
}
