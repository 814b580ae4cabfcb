//! The stand-in for API Gateway's JWT authorizer, checking what an HTTP
//! API JWT authorizer checks: the signature (HS256 with `DEV_JWT_SECRET`;
//! every other algorithm refused), `iss` exactly the configured issuer,
//! `aud` holding the configured audience (or, without `aud`, `client_id`
//! being it), `exp` after now, `nbf` and `iat`, if present, not after now.
//! Then it hands the claims on as API Gateway does: every value a string.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::Value;

pub const DEFAULT_SECRET: &str = "dev-secret";

/// The audience when neither `DEV_JWT_AUDIENCE` nor `OIDC_CLIENT_ID` names
/// one: the portal's client id on the development sign-in provider.
pub const DEFAULT_AUDIENCE: &str = "portal";

/// The authorizer's configuration, as API Gateway's has it: a secret
/// (HS256 here, a JWKS there), one issuer, one audience.
pub struct Settings {
    pub secret: String,
    pub issuer: String,
    pub audience: String,
}

impl Settings {
    /// `DEV_JWT_SECRET`, `DEV_JWT_ISSUER` (default: the development
    /// sign-in provider's issuer on `port`) and `DEV_JWT_AUDIENCE`
    /// (default: `OIDC_CLIENT_ID`, else the portal's client id there).
    pub fn from_env(port: u16) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            secret: var("DEV_JWT_SECRET").unwrap_or_else(|| DEFAULT_SECRET.into()),
            issuer: var("DEV_JWT_ISSUER").unwrap_or_else(|| crate::oidc::issuer(port)),
            audience: var("DEV_JWT_AUDIENCE")
                .or_else(|| var("OIDC_CLIENT_ID"))
                .unwrap_or_else(|| DEFAULT_AUDIENCE.into()),
        }
    }
}

pub struct Authorizer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl Authorizer {
    pub fn new(settings: &Settings) -> Self {
        let secret = settings.secret.as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        // `aud`, or `client_id` without it, is checked in `claims`.
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }
    }

    /// A token for `sub` and `email`, valid for `ttl_secs`.
    pub fn mint(
        &self,
        sub: &str,
        email: &str,
        email_verified: bool,
        ttl_secs: i64,
    ) -> Result<String, String> {
        self.mint_named(sub, email, None, email_verified, ttl_secs)
    }

    /// As [`Self::mint`], with a `name` claim (shown to invitees).
    pub fn mint_named(
        &self,
        sub: &str,
        email: &str,
        name: Option<&str>,
        email_verified: bool,
        ttl_secs: i64,
    ) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let mut claims = serde_json::json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "email": email,
            "email_verified": email_verified,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_secs,
        });
        if let Some(name) = name {
            claims["name"] = serde_json::Value::String(name.to_owned());
        }
        self.sign(&claims)
    }

    /// Signs arbitrary claims (the development sign-in provider's tokens).
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| e.to_string())
    }

    /// The claims as API Gateway hands them to a function: every value a
    /// string, an array as `[a b]`. `None` when the token is missing,
    /// forged, not HS256, of another issuer or audience, expired or not
    /// yet valid.
    pub fn claims(&self, authorization: Option<&str>) -> Option<HashMap<String, String>> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        let claims =
            jsonwebtoken::decode::<HashMap<String, Value>>(token, &self.decoding, &self.validation)
                .ok()?
                .claims;
        self.as_api_gateway_would(&claims, chrono::Utc::now().timestamp())
            .then(|| claims.into_iter().map(|(k, v)| (k, flatten(v))).collect())
    }

    /// The checks of an HTTP API JWT authorizer beyond the signature: `iss`
    /// one string, the issuer; `aud` the audience or a list holding it, or
    /// without `aud`, `client_id` the audience; `exp` after `now`; `nbf` and
    /// `iat` numbers not after it.
    fn as_api_gateway_would(&self, claims: &HashMap<String, Value>, now: i64) -> bool {
        let audience = self.audience.as_str();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            Some(_) => false,
            None => claims.get("client_id").and_then(Value::as_str) == Some(audience),
        };
        let time = |name: &str| claims.get(name).map(Value::as_i64);
        let iss_ok = claims.get("iss").and_then(Value::as_str) == Some(self.issuer.as_str());
        let exp_ok = matches!(time("exp"), Some(Some(exp)) if exp > now);
        let not_after_now = |name: &str| match time(name) {
            None => true,
            Some(t) => t.is_some_and(|t| t <= now),
        };
        iss_ok && aud_ok && exp_ok && not_after_now("nbf") && not_after_now("iat")
    }
}

/// A claim's value as API Gateway passes it on: a string as it is, an
/// array as its items in brackets, space-separated (`[a b]`), anything
/// else as its JSON (`true`, `42`).
fn flatten(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Array(items) => {
            let items: Vec<String> = items.into_iter().map(flatten).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "http://127.0.0.1:3000/_dev/oidc";

    fn authorizer(secret: &str) -> Authorizer {
        Authorizer::new(&Settings {
            secret: secret.into(),
            issuer: ISSUER.into(),
            audience: "portal".into(),
        })
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    /// A token signed right, with these claims.
    fn signed(auth: &Authorizer, claims: Value) -> String {
        auth.sign(&claims).expect("sign")
    }

    fn good_claims() -> Value {
        let now = chrono::Utc::now().timestamp();
        serde_json::json!({
            "iss": ISSUER, "aud": "portal", "sub": "u1", "email": "a@b.edu",
            "email_verified": true, "iat": now, "nbf": now, "exp": now + 60,
        })
    }

    fn with(changes: &[(&str, Value)]) -> Value {
        let mut claims = good_claims();
        for (name, value) in changes {
            if value.is_null() {
                claims.as_object_mut().expect("object").remove(*name);
            } else {
                claims[*name] = value.clone();
            }
        }
        claims
    }

    #[test]
    fn minted_tokens_verify_with_string_claims() {
        let auth = authorizer("s3cret");
        let token = auth.mint("u1", "a@b.edu", true, 60).expect("mint");
        let claims = auth.claims(Some(&bearer(&token))).expect("valid");
        assert_eq!(claims.get("sub").map(String::as_str), Some("u1"));
        assert_eq!(claims.get("iss").map(String::as_str), Some(ISSUER));
        assert_eq!(claims.get("aud").map(String::as_str), Some("portal"));
        assert_eq!(
            claims.get("email_verified").map(String::as_str),
            Some("true")
        );
        assert!(claims.contains_key("nbf"));
    }

    #[test]
    fn wrong_secret_expired_and_other_algorithms_are_refused() {
        let auth = authorizer("s3cret");
        let other = authorizer("other");
        let token = other.mint("u1", "a@b.edu", true, 60).expect("mint");
        assert!(auth.claims(Some(&bearer(&token))).is_none());
        let expired = auth.mint("u1", "a@b.edu", true, -10).expect("mint");
        assert!(auth.claims(Some(&bearer(&expired))).is_none());
        // alg "none": header {"alg":"none"}, no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(auth.claims(Some(&bearer(none))).is_none());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &good_claims(),
            &EncodingKey::from_secret(b"s3cret"),
        )
        .expect("encode");
        assert!(auth.claims(Some(&bearer(&hs512))).is_none());
        assert!(auth.claims(None).is_none());
        assert!(auth.claims(Some("Basic abc")).is_none());
    }

    #[test]
    fn issuer_audience_and_times_are_checked_as_api_gateway_does() {
        let auth = authorizer("s3cret");
        let now = chrono::Utc::now().timestamp();
        let accepted = |claims: Value| auth.claims(Some(&bearer(&signed(&auth, claims)))).is_some();
        assert!(accepted(good_claims()));
        // The audience in a list, or as client_id when there is no aud.
        assert!(accepted(with(&[(
            "aud",
            serde_json::json!(["other", "portal"])
        )])));
        assert!(accepted(with(&[
            ("aud", Value::Null),
            ("client_id", "portal".into())
        ])));
        // nbf and iat are optional.
        assert!(accepted(with(&[
            ("nbf", Value::Null),
            ("iat", Value::Null)
        ])));
        for (why, claims) in [
            (
                "another issuer",
                with(&[("iss", "https://evil.example".into())]),
            ),
            (
                "an issuer with a trailing slash",
                with(&[("iss", format!("{ISSUER}/").into())]),
            ),
            (
                "the issuer in a list",
                with(&[("iss", serde_json::json!([ISSUER]))]),
            ),
            ("no issuer", with(&[("iss", Value::Null)])),
            ("another audience", with(&[("aud", "other".into())])),
            (
                "a list without the audience",
                with(&[("aud", serde_json::json!(["a", "b"]))]),
            ),
            ("no audience", with(&[("aud", Value::Null)])),
            (
                "aud wrong, client_id right",
                with(&[("aud", "other".into()), ("client_id", "portal".into())]),
            ),
            ("not yet valid", with(&[("nbf", (now + 60).into())])),
            ("issued in the future", with(&[("iat", (now + 60).into())])),
            ("nbf not a number", with(&[("nbf", "soon".into())])),
            ("no exp", with(&[("exp", Value::Null)])),
            ("exp now", with(&[("exp", now.into())])),
            ("no sub", with(&[("sub", Value::Null)])),
        ] {
            assert!(!accepted(claims), "{why}");
        }
    }

    #[test]
    fn claims_are_flattened_to_strings_as_api_gateway_does() {
        let auth = authorizer("s3cret");
        let token = signed(
            &auth,
            with(&[
                ("email", serde_json::json!(["x@evil.example", "a@b.edu"])),
                ("groups", serde_json::json!(["a", "b"])),
                ("n", 42.into()),
            ]),
        );
        let claims = auth.claims(Some(&bearer(&token))).expect("valid");
        assert_eq!(claims["email"], "[x@evil.example a@b.edu]");
        assert_eq!(claims["groups"], "[a b]");
        assert_eq!(claims["n"], "42");
        assert_eq!(claims["email_verified"], "true");
    }
}
