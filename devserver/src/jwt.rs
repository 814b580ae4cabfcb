//! The stand-in for API Gateway's JWT authorizer: HS256 tokens signed with
//! `DEV_JWT_SECRET`, `exp` required, every other algorithm refused.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::Value;

pub const DEFAULT_SECRET: &str = "dev-secret";

pub struct Authorizer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Authorizer {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
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
        let exp = chrono::Utc::now().timestamp() + ttl_secs;
        let mut claims = serde_json::json!({
            "sub": sub,
            "email": email,
            "email_verified": email_verified,
            "iat": chrono::Utc::now().timestamp(),
            "exp": exp,
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
    /// string. `None` when the token is missing, forged, expired or not HS256.
    pub fn claims(&self, authorization: Option<&str>) -> Option<HashMap<String, String>> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        let data =
            jsonwebtoken::decode::<HashMap<String, Value>>(token, &self.decoding, &self.validation)
                .ok()?;
        Some(
            data.claims
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_with_string_claims() {
        let auth = Authorizer::new("s3cret");
        let token = auth.mint("u1", "a@b.edu", true, 60).expect("mint");
        let claims = auth
            .claims(Some(&format!("Bearer {token}")))
            .expect("valid");
        assert_eq!(claims.get("sub").map(String::as_str), Some("u1"));
        assert_eq!(
            claims.get("email_verified").map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn wrong_secret_expired_and_other_algorithms_are_refused() {
        let auth = Authorizer::new("s3cret");
        let other = Authorizer::new("other");
        let token = other.mint("u1", "a@b.edu", true, 60).expect("mint");
        assert!(auth.claims(Some(&format!("Bearer {token}"))).is_none());
        let expired = auth.mint("u1", "a@b.edu", true, -10).expect("mint");
        assert!(auth.claims(Some(&format!("Bearer {expired}"))).is_none());
        // alg "none": header {"alg":"none"}, no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(auth.claims(Some(&format!("Bearer {none}"))).is_none());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"sub": "u1", "exp": 9_999_999_999i64}),
            &EncodingKey::from_secret(b"s3cret"),
        )
        .expect("encode");
        assert!(auth.claims(Some(&format!("Bearer {hs512}"))).is_none());
        assert!(auth.claims(None).is_none());
        assert!(auth.claims(Some("Basic abc")).is_none());
    }
}
