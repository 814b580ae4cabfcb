//! API Gateway HTTP API (v2) events, built from the recorded fixtures and
//! parsed by `lambda_http` exactly as in Lambda.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

const JWT_FIXTURE: &str = include_str!("../fixtures/apigw-v2-jwt-authorizer.json");
const NO_AUTH_FIXTURE: &str = include_str!("../fixtures/apigw-v2-no-authorizer.json");
const COGNITO_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E";
const COGNITO_CLIENT: &str = "4q2lhd5mtp5kq0h1o1bqv3d9ea";

pub struct Event {
    value: Value,
}

impl Event {
    /// An event with the JWT authorizer context, for `sub` and `email`
    /// (verified, passed as the string `"true"` the way API Gateway does).
    pub fn signed_in(method: &str, path: &str, sub: &str, email: &str) -> Self {
        let mut value: Value = serde_json::from_str(JWT_FIXTURE).expect("fixture parses");
        value["requestContext"]["authorizer"]["jwt"]["claims"] = json!({
            "sub": sub,
            "email": email,
            "email_verified": "true",
            "iss": "https://issuer.example",
            "aud": "seat-invitations",
        });
        Self::route(value, method, path)
    }

    /// A Cognito user pool's ID token, its claims exactly as API
    /// Gateway's JWT authorizer hands them over: every value a string,
    /// `aud` the app client, `token_use` `id`, no scopes.
    pub fn cognito_id_token(method: &str, path: &str, sub: &str, email: &str) -> Self {
        let mut value: Value = serde_json::from_str(JWT_FIXTURE).expect("fixture parses");
        value["requestContext"]["authorizer"]["jwt"] = json!({
            "claims": {
                "sub": sub,
                "email_verified": "true",
                "iss": COGNITO_ISSUER,
                "cognito:username": sub,
                "origin_jti": "6f1c1a0e-54f5-4b4f-9a53-0d1b2b3c4d5e",
                "aud": COGNITO_CLIENT,
                "event_id": "0d9d7d0e-1a8b-4c4e-8f5b-2a3b4c5d6e7f",
                "token_use": "id",
                "auth_time": "1764547200",
                "name": "Ann Student",
                "exp": "1764550800",
                "iat": "1764547200",
                "jti": "a3c1d1e2-6b7a-4f8e-9c0d-1e2f3a4b5c6d",
                "email": email,
            },
            "scopes": null,
        });
        Self::route(value, method, path)
    }

    /// A Cognito user pool's access token as API Gateway passes it: the
    /// same user, but `client_id` instead of `aud` (which API Gateway
    /// accepts as the audience), `scope`, `username`, and no `email` or
    /// `email_verified` claim at all.
    pub fn cognito_access_token(method: &str, path: &str, sub: &str) -> Self {
        let mut value: Value = serde_json::from_str(JWT_FIXTURE).expect("fixture parses");
        value["requestContext"]["authorizer"]["jwt"] = json!({
            "claims": {
                "sub": sub,
                "iss": COGNITO_ISSUER,
                "client_id": COGNITO_CLIENT,
                "origin_jti": "6f1c1a0e-54f5-4b4f-9a53-0d1b2b3c4d5e",
                "event_id": "0d9d7d0e-1a8b-4c4e-8f5b-2a3b4c5d6e7f",
                "token_use": "access",
                "scope": "openid email profile",
                "auth_time": "1764547200",
                "exp": "1764550800",
                "iat": "1764547200",
                "jti": "b4d2e2f3-7c8b-4a9f-8d1e-2f3a4b5c6d7e",
                "username": sub,
            },
            "scopes": ["openid", "email", "profile"],
        });
        Self::route(value, method, path)
    }

    /// An event that reached the function without an authorizer.
    pub fn anonymous(method: &str, path: &str) -> Self {
        let value: Value = serde_json::from_str(NO_AUTH_FIXTURE).expect("fixture parses");
        Self::route(value, method, path)
    }

    fn route(mut value: Value, method: &str, path: &str) -> Self {
        let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
        value["rawPath"] = json!(raw_path);
        value["requestContext"]["http"]["method"] = json!(method);
        value["requestContext"]["http"]["path"] = json!(raw_path);
        value["rawQueryString"] = json!(query);
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), json!(v))
            })
            .collect();
        value["queryStringParameters"] = if params.is_empty() {
            Value::Null
        } else {
            Value::Object(params)
        };
        value["pathParameters"] = Value::Null;
        value["body"] = Value::Null;
        value["isBase64Encoded"] = json!(false);
        Self { value }
    }

    /// The domain the request came in on (`requestContext.domainName`).
    pub fn domain_name(mut self, domain: &str) -> Self {
        self.value["requestContext"]["domainName"] = json!(domain);
        self
    }

    pub fn claim(mut self, name: &str, value: &str) -> Self {
        self.value["requestContext"]["authorizer"]["jwt"]["claims"][name] = json!(value);
        self
    }

    pub fn without_claim(mut self, name: &str) -> Self {
        if let Some(claims) =
            self.value["requestContext"]["authorizer"]["jwt"]["claims"].as_object_mut()
        {
            claims.remove(name);
        }
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.value["body"] = json!(body);
        self
    }

    pub fn base64_body(mut self, body: &[u8]) -> Self {
        use base64::Engine;
        self.value["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        self.value["isBase64Encoded"] = json!(true);
        self
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.value.to_string()).expect("event parses")
    }
}

/// Status and JSON body of a response.
pub fn read(response: &Response<Body>) -> (u16, Value) {
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (response.status().as_u16(), body)
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}
