//! What a handler takes from a request: the caller (from the API Gateway
//! HTTP API JWT authorizer's claims; nothing else, no header, is trusted),
//! the JSON body (at most 64 KiB), paging (`limit`, `cursor`), other query
//! parameters and path parameters. Anything malformed is `INVALID_REQUEST`
//! (or `UNAUTHENTICATED` for the caller).

use std::collections::HashMap;

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
    let mut caller = caller_from_claims(claims, site)?;
    caller.source = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref().and_then(source),
        _ => None,
    };
    Ok(caller)
}

/// The caller from the claims as API Gateway hands them over: every value
/// a string, whatever it was in the token (`true` arrives as `"true"`, an
/// array `["a","b"]` as `"[a b]"`, a number as its digits).
///
/// - `sub` is the user id, verbatim (never trimmed): up to 256 bytes, not
///   blank, no `#` (it is part of keys), no control character; otherwise
///   `UNAUTHENTICATED`.
/// - `email` counts only as a plain address ([`Email::parse`], which
///   refuses the brackets and spaces of a flattened array; a number has no
///   `@`), and it is verified only if `email_verified` is exactly `"true"`.
fn caller_from_claims(
    claims: &HashMap<String, String>,
    site: Option<String>,
) -> Result<Caller, ApiError> {
    let user_id = claims
        .get("sub")
        .map(String::as_str)
        .filter(|s| {
            !s.trim().is_empty()
                && s.len() <= 256
                && !s.contains('#')
                && !s.chars().any(char::is_control)
        })
        .ok_or(ApiError::Unauthenticated)?;
    let email = claims
        .get("email")
        .filter(|e| !e.trim_start().starts_with('['))
        .and_then(|e| Email::parse(e));
    let email_verified = claims.get("email_verified").map(String::as_str) == Some("true");
    Ok(Caller {
        user_id: user_id.into(),
        email,
        email_verified,
        email_claimed: claims.contains_key("email"),
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
        source: None,
    })
}

/// The guard's key for a source address: an IPv4 address as is; an IPv6
/// address by its /64 network. Anything else is no address.
fn source(raw: &str) -> Option<String> {
    match raw.trim().parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some(v4.to_string()),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(v4.to_string()),
            None => {
                let s = v6.segments();
                Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
            }
        },
    }
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn caller_of(pairs: &[(&str, &str)]) -> Result<Caller, ApiError> {
        caller_from_claims(&claims(pairs), None)
    }

    #[test]
    fn sub_is_taken_verbatim_and_refused_with_control_characters() {
        let caller = caller_of(&[("sub", " alice ")]).expect("a caller");
        assert_eq!(caller.user_id.as_str(), " alice ");
        for sub in [
            "", "  ", "a#b", "a\0", "\0", "a\nb", "a\tb", "a\u{7f}", "a\u{85}",
        ] {
            assert_eq!(
                caller_of(&[("sub", sub)]).err(),
                Some(ApiError::Unauthenticated),
                "{sub:?}"
            );
        }
        let long = "s".repeat(257);
        assert_eq!(
            caller_of(&[("sub", &long)]).err(),
            Some(ApiError::Unauthenticated)
        );
        assert_eq!(caller_of(&[]).err(), Some(ApiError::Unauthenticated));
    }

    #[test]
    fn only_a_plain_email_claim_marked_exactly_true_is_verified() {
        let verified = caller_of(&[
            ("sub", "u"),
            ("email", "Ann@Uni.edu"),
            ("email_verified", "true"),
        ])
        .expect("a caller");
        assert_eq!(
            verified.verified_email().map(Email::as_str).ok(),
            Some("ann@uni.edu")
        );
        // Arrays as API Gateway flattens them, numbers, objects.
        for email in [
            "[ann@uni.edu]",
            "[ann@uni.edu bob@uni.edu]",
            "[\"ann@uni.edu\"]",
            "42",
            "map[a:ann@uni.edu]",
            "Ann <ann@uni.edu>",
        ] {
            let caller = caller_of(&[("sub", "u"), ("email", email), ("email_verified", "true")])
                .expect("a caller");
            assert_eq!(caller.email, None, "{email:?}");
            assert!(caller.verified_email().is_err(), "{email:?}");
        }
        for flag in [
            "True", "TRUE", " true", "true ", "1", "yes", "[true]", "false", "",
        ] {
            let caller = caller_of(&[
                ("sub", "u"),
                ("email", "ann@uni.edu"),
                ("email_verified", flag),
            ])
            .expect("a caller");
            assert!(caller.verified_email().is_err(), "{flag:?}");
        }
    }

    /// A claim map: the claims the edge reads, with values that matter and
    /// arbitrary ones, and a few other claims.
    fn claim_map() -> impl Strategy<Value = HashMap<String, String>> {
        let value = prop_oneof![
            any::<String>(),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "[a-z]{1,8}@[a-z]{1,8}\\.edu",
            "\\[[a-z]{1,8}@[a-z]{1,8}\\.edu( [a-z]{1,8}@[a-z]{1,8}\\.edu)?\\]",
            "[0-9]{1,6}",
            "[ -~]{0,20}",
        ];
        let key = prop_oneof![
            Just("sub".to_owned()),
            Just("email".to_owned()),
            Just("email_verified".to_owned()),
            Just("name".to_owned()),
            any::<String>(),
        ];
        prop::collection::hash_map(key, value, 0..6)
    }

    proptest! {
        #[test]
        fn arbitrary_claims_never_panic_and_verify_only_a_true_string_email(claims in claim_map()) {
            match caller_from_claims(&claims, None) {
                Err(err) => prop_assert_eq!(err, ApiError::Unauthenticated),
                Ok(caller) => {
                    let sub = claims.get("sub").expect("a caller has a sub");
                    prop_assert_eq!(caller.user_id.as_str(), sub.as_str());
                    prop_assert!(!sub.chars().any(char::is_control));
                    if let Ok(email) = caller.verified_email() {
                        let claim = claims.get("email").expect("an email claim");
                        prop_assert_eq!(claims.get("email_verified").map(String::as_str), Some("true"));
                        let inner = claim.trim();
                        prop_assert!(!inner.starts_with('['));
                        prop_assert!(!inner.chars().any(char::is_whitespace));
                        let parsed = Email::parse(claim);
                        prop_assert_eq!(parsed.as_ref(), Some(email));
                    }
                }
            }
        }

        #[test]
        fn a_control_character_in_sub_is_refused(
            before in "[a-z0-9-]{0,8}",
            // Every control character there is: C0, DEL and C1.
            control in prop_oneof![0u32..0x20, Just(0x7f), 0x80u32..0xa0]
                .prop_map(|c| char::from_u32(c).unwrap_or('\0')),
            after in "[a-z0-9-]{0,8}",
        ) {
            let sub = format!("{before}{control}{after}");
            prop_assert_eq!(caller_of(&[("sub", &sub)]).err(), Some(ApiError::Unauthenticated));
        }
    }

    #[test]
    fn sources_are_addresses_and_ipv6_counts_by_network() {
        assert_eq!(source("192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(source("::ffff:192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(
            source("2001:db8:1:2:aaaa::1").as_deref(),
            source("2001:db8:1:2:bbbb::9").as_deref()
        );
        assert_eq!(
            source("2001:db8:1:2::1").as_deref(),
            Some("2001:db8:1:2::/64")
        );
        for bad in ["", "192.0.2.1/32", "redeem#x", "999.0.0.1", "localhost"] {
            assert_eq!(source(bad), None, "{bad}");
        }
    }
}
