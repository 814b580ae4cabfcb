//! What a handler takes from a request: the caller (from the API Gateway
//! HTTP API JWT authorizer's claims; nothing else, no header, is trusted),
//! the JSON body (at most 64 KiB), paging (`limit`, `cursor`), other query
//! parameters and path parameters. Anything malformed is `INVALID_REQUEST`
//! (or `UNAUTHENTICATED` for the caller).

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::domain::{Caller, Email};
use crate::error::{ApiError, note_cause};
use crate::service::me::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// The caller, from the authorizer's claims.
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
        user_id: user_id.into(),
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

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON object body, required.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("a JSON object body is required"));
    }
    parse_object(bytes)
}

/// A JSON object body on a route whose fields are all optional: no body
/// (or an empty one) reads as `{}`. Any other body must be a JSON object:
/// one of only whitespace is not valid JSON, and is refused like any other.
pub(super) fn optional_json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req)?;
    if bytes.is_empty() {
        serde_json::from_str("{}").map_err(|e| ApiError::invalid(e.to_string()))
    } else {
        parse_object(bytes)
    }
}

fn body_bytes(req: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid("the body exceeds 64 KiB"));
    }
    Ok(bytes)
}

fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::invalid("the body is not valid JSON"))?;
    if !value.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid(e.to_string()))
}

/// An optional integer field of a request body, read as JSON Schema reads
/// `integer`: `248` and `248.0` alike (any number with a zero fractional
/// part). A number beyond the range of `i64` saturates to its end, so range
/// checks refuse it with their own message; a fraction, or anything but a
/// number or null, is refused.
pub(super) fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    use serde::de::{Error, Unexpected};
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    if number.as_u64().is_some() {
        return Ok(Some(i64::MAX));
    }
    match number.as_f64() {
        // `as` saturates at the ends of `i64`.
        Some(f) if f.is_finite() && f.fract() == 0.0 => Ok(Some(f as i64)),
        Some(f) => Err(D::Error::invalid_value(Unexpected::Float(f), &"an integer")),
        None => Err(D::Error::custom("expected an integer")),
    }
}

/// The `limit` (1–100, default 50) and `cursor` query parameters of a
/// listing. The cursor is opaque here: each listing decodes its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Paging {
    pub limit: usize,
    pub cursor: Option<String>,
}

pub(super) fn paging(req: &Request) -> Result<Paging, ApiError> {
    let query = req.query_string_parameters();
    let limit = match query.first("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => whole_query_number(raw)
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| ApiError::invalid("limit must be an integer from 1 to 100"))?,
    };
    Ok(Paging {
        limit,
        cursor: query.first("cursor").map(str::to_owned),
    })
}

/// A whole non-negative number in a query string: `50`, or `50.0` as JSON
/// Schema's `integer` allows (digits, then optionally a point and zeros).
fn whole_query_number(raw: &str) -> Option<usize> {
    let (digits, zeros) = raw.split_once('.').unwrap_or((raw, "0"));
    let all = |s: &str, f: fn(u8) -> bool| !s.is_empty() && s.bytes().all(f);
    if !all(digits, |b| b.is_ascii_digit()) || !all(zeros, |b| b == b'0') {
        return None;
    }
    digits.parse().ok()
}

/// A query parameter, if present.
pub(super) fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters().first(name).map(str::to_owned)
}

/// The parameters of the matched route's path, by their names in the route
/// table (`{licenseId}` → `licenseId`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct PathParams<'p> {
    found: Vec<(&'static str, &'p str)>,
}

impl<'p> PathParams<'p> {
    pub(super) fn push(&mut self, name: &'static str, value: &'p str) {
        self.found.push((name, value));
    }

    /// The parameter `name`. The route table and the handlers agree on the
    /// names, so a missing one is a bug: `INTERNAL_ERROR`.
    pub(super) fn get(&self, name: &str) -> Result<&'p str, ApiError> {
        self.found
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                note_cause(&MissingPathParameter(name.to_owned()));
                ApiError::Internal
            })
    }

    /// The parameter `name` as a typed id (`LicenseId`, …), converted as
    /// given: a path's id is only ever looked up, and one that names
    /// nothing finds nothing.
    pub(super) fn id<Id: From<&'p str>>(&self, name: &str) -> Result<Id, ApiError> {
        self.get(name).map(Id::from)
    }

    #[cfg(test)]
    pub(super) fn values(&self) -> impl Iterator<Item = &'p str> + '_ {
        self.found.iter().map(|(_, value)| *value)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the matched route has no path parameter `{0}`")]
struct MissingPathParameter(String);
