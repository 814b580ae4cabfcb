//! A development sign-in provider, so the portal runs locally exactly as it
//! does against a real one: OIDC discovery, an authorize page with a small
//! form (email, name, email verified), the authorization-code exchange with
//! PKCE (S256 only), and sign-out. The tokens it issues are the HS256 tokens
//! the devserver's stand-in authorizer accepts. Development only: anyone can
//! sign in as anyone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::jwt::Authorizer;

pub const PREFIX: &str = "/_dev/oidc";
const CODE_TTL: Duration = Duration::from_secs(120);
const DEFAULT_SESSION_SECS: i64 = 3_600;

/// The issuer of the development sign-in provider on `port`.
pub fn issuer(port: u16) -> String {
    format!("http://127.0.0.1:{port}{PREFIX}")
}

pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub location: Option<String>,
    pub body: String,
    /// `Access-Control-Allow-Origin` for the page's own origin (the portal
    /// may be opened on `localhost` while the issuer says `127.0.0.1`).
    pub allow_origin: Option<String>,
}

impl Reply {
    fn json(value: serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            location: None,
            body: value.to_string(),
            allow_origin: None,
        }
    }

    fn error(status: u16, error: &str, description: &str) -> Self {
        Self {
            status,
            ..Self::json(json!({"error": error, "error_description": description}))
        }
    }

    fn redirect(location: String) -> Self {
        Self {
            status: 302,
            content_type: "text/plain; charset=utf-8",
            location: Some(location),
            body: String::new(),
            allow_origin: None,
        }
    }

    fn html(body: String) -> Self {
        Self {
            status: 200,
            content_type: "text/html; charset=utf-8",
            location: None,
            body,
            allow_origin: None,
        }
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    sub: String,
    email: String,
    name: Option<String>,
    verified: bool,
    session_secs: i64,
    issued: Instant,
}

pub struct Provider {
    port: u16,
    /// Users the seed names (owners, admins): their email signs in as their `sub`.
    known: HashMap<String, String>,
    grants: Mutex<HashMap<String, Grant>>,
}

impl Provider {
    pub fn new(port: u16, known: HashMap<String, String>) -> Self {
        Self {
            port,
            known,
            grants: Mutex::new(HashMap::new()),
        }
    }

    pub fn issuer(&self) -> String {
        issuer(self.port)
    }

    /// Local origins only: the portal on this port, by IP or by name.
    fn local_origin(&self, url: &str) -> Option<String> {
        [
            format!("http://127.0.0.1:{}", self.port),
            format!("http://localhost:{}", self.port),
        ]
        .into_iter()
        .find(|origin| url == origin || url.starts_with(&format!("{origin}/")))
    }

    pub fn handle(
        &self,
        authorizer: &Authorizer,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
        origin: Option<&str>,
    ) -> Reply {
        let rest = path.strip_prefix(PREFIX).unwrap_or("");
        let mut reply = match (method, rest) {
            ("GET", "/.well-known/openid-configuration") => self.discovery(),
            ("GET", "/authorize") => self.authorize_page(&form(query.unwrap_or("").as_bytes())),
            ("POST", "/authorize") => self.authorize(&form(body)),
            ("POST", "/token") => self.token(authorizer, &form(body)),
            ("GET", "/logout") => {
                let params = form(query.unwrap_or("").as_bytes());
                let back = params
                    .get("post_logout_redirect_uri")
                    .filter(|uri| self.local_origin(uri).is_some())
                    .cloned()
                    .unwrap_or_else(|| "/".to_owned());
                Reply::redirect(back)
            }
            ("OPTIONS", _) => Reply {
                status: 204,
                ..Reply::json(json!({}))
            },
            _ => Reply::error(404, "not_found", "no such endpoint"),
        };
        reply.allow_origin = origin.and_then(|o| self.local_origin(o));
        reply
    }

    fn discovery(&self) -> Reply {
        let issuer = self.issuer();
        Reply::json(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "end_session_endpoint": format!("{issuer}/logout"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["HS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }))
    }

    /// Checks what the portal sent before showing the form, so a broken
    /// client shows its error here instead of after the form.
    fn check_request(&self, params: &HashMap<String, String>) -> Result<(), String> {
        if params.get("response_type").map(String::as_str) != Some("code") {
            return Err("response_type must be code".into());
        }
        if params.get("client_id").is_none_or(|c| c.is_empty()) {
            return Err("client_id is missing".into());
        }
        match params.get("redirect_uri") {
            Some(uri) if self.local_origin(uri).is_some() => {}
            _ => return Err("redirect_uri must be a page of this devserver".into()),
        }
        if params.get("code_challenge_method").map(String::as_str) != Some("S256")
            || params.get("code_challenge").is_none_or(|c| c.len() < 43)
        {
            return Err("PKCE with code_challenge_method S256 is required".into());
        }
        Ok(())
    }

    fn authorize_page(&self, params: &HashMap<String, String>) -> Reply {
        if let Err(problem) = self.check_request(params) {
            return refused(&problem);
        }
        let hidden: String = [
            "response_type",
            "client_id",
            "redirect_uri",
            "code_challenge",
            "code_challenge_method",
            "state",
            "nonce",
        ]
        .iter()
        .filter_map(|k| params.get(*k).map(|v| (k, v)))
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{k}" value="{}">"#,
                portal::escape_html(v)
            )
        })
        .collect();
        let email = params
            .get("login_hint")
            .map(|e| portal::escape_html(e))
            .unwrap_or_default();
        let body = format!(
            r#"<p class="note">Development sign-in: no password. Sign in as any address.</p>
<form method="post" action="{PREFIX}/authorize">{hidden}
<label for="email">Email address</label>
<input id="email" name="email" type="email" required autocomplete="email" value="{email}" autofocus>
<label for="name">Name <span class="opt">(optional)</span></label>
<input id="name" name="name" type="text" autocomplete="name" maxlength="100">
<div class="check"><input id="email_verified" name="email_verified" type="checkbox" value="true" checked>
<label for="email_verified">Email address verified</label></div>
<label for="session_secs">Session length in seconds</label>
<input id="session_secs" name="session_secs" type="number" min="1" max="86400" value="{DEFAULT_SESSION_SECS}">
<button id="sign-in-submit" type="submit">Sign in</button>
</form>"#
        );
        Reply::html(page("Sign in", &body))
    }

    fn authorize(&self, params: &HashMap<String, String>) -> Reply {
        if let Err(problem) = self.check_request(params) {
            return refused(&problem);
        }
        let Some(email) = params
            .get("email")
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| e.contains('@') && e.len() <= 254 && !e.chars().any(char::is_whitespace))
        else {
            return Reply {
                status: 400,
                ..Reply::html(page(
                    "Sign in",
                    "<p>Enter an email address. <a href=\"javascript:history.back()\">Back</a></p>",
                ))
            };
        };
        let sub = self
            .known
            .get(&email)
            .cloned()
            .unwrap_or_else(|| sub_for(&email));
        let code = random_token();
        let grant = Grant {
            client_id: params["client_id"].clone(),
            redirect_uri: params["redirect_uri"].clone(),
            challenge: params["code_challenge"].clone(),
            nonce: params.get("nonce").cloned(),
            sub,
            email,
            name: params
                .get("name")
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            verified: params.get("email_verified").map(String::as_str) == Some("true"),
            session_secs: params
                .get("session_secs")
                .and_then(|s| s.parse().ok())
                .filter(|s| (1..=86_400).contains(s))
                .unwrap_or(DEFAULT_SESSION_SECS),
            issued: Instant::now(),
        };
        let redirect = &grant.redirect_uri;
        let separator = if redirect.contains('?') { '&' } else { '?' };
        let mut location = format!("{redirect}{separator}code={code}");
        if let Some(state) = params.get("state") {
            location.push_str("&state=");
            location.push_str(&encode(state));
        }
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        grants.retain(|_, g| g.issued.elapsed() < CODE_TTL);
        grants.insert(code, grant);
        Reply::redirect(location)
    }

    fn token(&self, authorizer: &Authorizer, params: &HashMap<String, String>) -> Reply {
        if params.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Reply::error(400, "unsupported_grant_type", "only authorization_code");
        }
        let grant = params.get("code").and_then(|code| {
            self.grants
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(code)
        });
        let Some(grant) = grant.filter(|g| g.issued.elapsed() < CODE_TTL) else {
            return Reply::error(400, "invalid_grant", "unknown, used or expired code");
        };
        let verifier_ok = params.get("code_verifier").is_some_and(|v| {
            URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == grant.challenge
        });
        if !verifier_ok {
            return Reply::error(400, "invalid_grant", "code_verifier does not match");
        }
        if params.get("redirect_uri") != Some(&grant.redirect_uri)
            || params.get("client_id") != Some(&grant.client_id)
        {
            return Reply::error(400, "invalid_grant", "redirect_uri or client_id differ");
        }
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": self.issuer(),
            "aud": grant.client_id,
            "sub": grant.sub,
            "email": grant.email,
            "email_verified": grant.verified,
            "iat": now,
            "nbf": now,
            "auth_time": now,
            "exp": now + grant.session_secs,
        });
        if let Some(name) = &grant.name {
            claims["name"] = json!(name);
        }
        let mut id_claims = claims.clone();
        id_claims["token_use"] = json!("id");
        if let Some(nonce) = &grant.nonce {
            id_claims["nonce"] = json!(nonce);
        }
        // The access token is shaped like a Cognito user pool's: the client
        // as `client_id`, not `aud`, its scopes, and no email or name, so
        // a portal configured to send it meets what it would in AWS
        // (`TOKEN_WITHOUT_EMAIL` wherever the API needs the address).
        let access_claims = json!({
            "iss": self.issuer(),
            "client_id": grant.client_id,
            "sub": grant.sub,
            "token_use": "access",
            "scope": "openid email profile",
            "username": grant.sub,
            "iat": now,
            "nbf": now,
            "auth_time": now,
            "exp": now + grant.session_secs,
        });
        let (Ok(id_token), Ok(access_token)) =
            (authorizer.sign(&id_claims), authorizer.sign(&access_claims))
        else {
            return Reply::error(500, "server_error", "could not sign");
        };
        Reply::json(json!({
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": grant.session_secs,
            "scope": "openid email profile",
        }))
    }
}

/// What the log says of a sign-in path: the endpoint it names, or
/// `/_dev/oidc/…` for any other.
pub fn route_of(path: &str) -> &'static str {
    const ENDPOINTS: [&str; 4] = [
        "/_dev/oidc/.well-known/openid-configuration",
        "/_dev/oidc/authorize",
        "/_dev/oidc/token",
        "/_dev/oidc/logout",
    ];
    ENDPOINTS
        .into_iter()
        .find(|e| *e == path)
        .unwrap_or("/_dev/oidc/…")
}

fn refused(problem: &str) -> Reply {
    Reply {
        status: 400,
        ..Reply::html(page(
            "Sign-in request refused",
            &format!("<p>{}</p>", portal::escape_html(problem)),
        ))
    }
}

/// A stable user id for an address nobody seeded.
fn sub_for(email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("dev-{hex}")
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("OS randomness");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn form(raw: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(raw).into_owned().collect()
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · development sign-in</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1f2328}}
main{{max-width:24rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:12px;box-shadow:0 1px 3px #0002}}
h1{{font-size:1.4rem;margin:0 0 .5rem}} label{{display:block;margin-top:1rem;font-weight:600}}
input[type=email],input[type=text],input[type=number]{{width:100%;box-sizing:border-box;padding:.6rem;font:inherit;border:1px solid #8c959f;border-radius:6px}}
.check{{display:flex;gap:.5rem;align-items:center;margin-top:1rem}} .check label{{margin:0;font-weight:400}}
button{{margin-top:1.5rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:6px;cursor:pointer}}
.note{{background:#fff8c5;padding:.5rem .75rem;border-radius:6px;font-size:.9rem}} .opt{{font-weight:400;color:#57606a}}
</style></head><body><main><h1>{title}</h1>{body}</main></body></html>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_authorizer() -> Authorizer {
        Authorizer::new(&crate::jwt::Settings {
            secret: "s".into(),
            issuer: issuer(3000),
            audience: "portal".into(),
        })
    }

    fn provider() -> Provider {
        Provider::new(
            3000,
            HashMap::from([("owner@demo.edu".into(), "owner-1".into())]),
        )
    }

    fn authorize_params(challenge: &str) -> HashMap<String, String> {
        HashMap::from([
            ("response_type".into(), "code".into()),
            ("client_id".into(), "portal".into()),
            (
                "redirect_uri".into(),
                "http://127.0.0.1:3000/auth/callback".into(),
            ),
            ("code_challenge".into(), challenge.into()),
            ("code_challenge_method".into(), "S256".into()),
            ("state".into(), "abc;/invite/t1".into()),
            ("email".into(), "Owner@Demo.edu".into()),
            ("email_verified".into(), "true".into()),
        ])
    }

    #[test]
    fn the_code_exchange_needs_the_right_verifier_once() {
        let provider = provider();
        let authorizer = test_authorizer();
        let verifier = "v".repeat(50);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let reply = provider.authorize(&authorize_params(&challenge));
        let location = reply.location.expect("redirect");
        assert!(location.starts_with("http://127.0.0.1:3000/auth/callback?code="));
        assert!(
            location.ends_with("&state=abc%3B%2Finvite%2Ft1"),
            "{location}"
        );
        let code = location
            .split("code=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .expect("code");
        let mut exchange = HashMap::from([
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code.to_owned()),
            (
                "redirect_uri".into(),
                "http://127.0.0.1:3000/auth/callback".into(),
            ),
            ("client_id".into(), "portal".into()),
            ("code_verifier".into(), "w".repeat(50)),
        ]);
        assert_eq!(provider.token(&authorizer, &exchange).status, 400);
        // A refused exchange used the code up, as a real provider does.
        let reply = provider.authorize(&authorize_params(&challenge));
        let location = reply.location.expect("redirect");
        let code = location
            .split("code=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .expect("code");
        exchange.insert("code".into(), code.to_owned());
        exchange.insert("code_verifier".into(), verifier);
        let ok = provider.token(&authorizer, &exchange);
        assert_eq!(ok.status, 200, "{}", ok.body);
        let tokens: serde_json::Value = serde_json::from_str(&ok.body).expect("json");
        let bearer = format!("Bearer {}", tokens["id_token"].as_str().expect("id token"));
        let claims = authorizer
            .claims(Some(&bearer))
            .expect("the devserver accepts it");
        assert_eq!(claims["sub"], "owner-1");
        assert_eq!(claims["email"], "owner@demo.edu");
        assert_eq!(
            provider.token(&authorizer, &exchange).status,
            400,
            "codes are single-use"
        );
    }

    #[test]
    fn foreign_redirects_and_plain_pkce_are_refused() {
        let provider = provider();
        let mut params = authorize_params(&"c".repeat(43));
        params.insert("redirect_uri".into(), "https://evil.example/cb".into());
        assert_eq!(provider.authorize(&params).status, 400);
        let mut params = authorize_params(&"c".repeat(43));
        params.insert("code_challenge_method".into(), "plain".into());
        assert_eq!(provider.authorize_page(&params).status, 400);
        let back = provider.handle(
            &test_authorizer(),
            "GET",
            "/_dev/oidc/logout",
            Some("post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"),
            b"",
            None,
        );
        assert_eq!(back.location.as_deref(), Some("/"));
    }
}
