//! The caller, from the API Gateway HTTP API JWT authorizer's claims.
//! Nothing else (no header) is trusted.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::domain::{Caller, Email};
use crate::error::ApiError;

pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let site = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .domain_name
            .as_deref()
            .filter(|d| {
                !d.is_empty()
                    && d.len() <= 253
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            })
            .map(|d| format!("https://{d}")),
        _ => None,
    };
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
    .ok_or(ApiError::Unauthenticated)?;
    let user_id = claims
        .get("sub")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && s.len() <= 256 && !s.contains('#'))
        .ok_or(ApiError::Unauthenticated)?;
    // API Gateway passes every claim as a string: `"true"`, not `true`.
    let email_verified = claims
        .get("email_verified")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    Ok(Caller {
        user_id: user_id.to_owned(),
        email: claims.get("email").and_then(|e| Email::parse(e)),
        email_verified,
        name: claims
            .get("name")
            .map(|n| {
                n.trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(100)
                    .collect::<String>()
            })
            .filter(|n| !n.is_empty()),
        site,
    })
}
