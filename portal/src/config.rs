//! What a deployment says about its portal: the vendor's name, logo and
//! colour, and the sign-in provider. Read from the environment; a bad value
//! stops the start with a message that names the variable.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

/// Which of the provider's tokens the pages send as `Authorization: Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiToken {
    /// The ID token: carries `email` and `email_verified` (Cognito's access
    /// token carries neither); its audience is the client id.
    IdToken,
    AccessToken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalConfig {
    pub vendor_name: String,
    /// Same-origin path or `data:image/…`; `None`: the built-in logo.
    pub logo_url: Option<String>,
    pub brand_color: String,
    pub oidc_issuer: String,
    pub oidc_client_id: String,
    pub oidc_scope: String,
    pub api_token: ApiToken,
    /// For providers whose discovery document has no `end_session_endpoint`
    /// (Cognito's `/logout`).
    pub end_session_url: Option<String>,
    /// Origins besides the issuer's that sign-in talks to (a token endpoint
    /// on another host), for the Content-Security-Policy.
    pub connect_origins: Vec<String>,
    /// Development only: serve `web/` from this folder, uncached, so page
    /// edits show on reload without a rebuild.
    pub assets_dir: Option<PathBuf>,
}

const DEFAULT_VENDOR: &str = "License Portal";
const DEFAULT_BRAND: &str = "#1d4ed8";
const DEFAULT_SCOPE: &str = "openid email profile";

impl PortalConfig {
    /// From the process environment. `default_issuer`: the issuer to use
    /// when `OIDC_ISSUER` is unset (the devserver's own), else it is required.
    pub fn from_env(default_issuer: Option<&str>) -> Result<Self, String> {
        Self::from_vars(&std::env::vars().collect(), default_issuer)
    }

    pub fn from_vars(
        vars: &HashMap<String, String>,
        default_issuer: Option<&str>,
    ) -> Result<Self, String> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let vendor_name = get("PORTAL_VENDOR_NAME")
            .unwrap_or(DEFAULT_VENDOR)
            .to_owned();
        if vendor_name.chars().count() > 80 || vendor_name.chars().any(char::is_control) {
            return Err("PORTAL_VENDOR_NAME must be at most 80 printable characters".into());
        }
        let logo_url = get("PORTAL_LOGO_URL").map(str::to_owned);
        if let Some(url) = &logo_url
            && !((url.starts_with('/') && !url.starts_with("//")) || url.starts_with("data:image/"))
        {
            return Err(format!(
                "PORTAL_LOGO_URL must be a path on this site (/…) or a data:image/ URL, not {url:?}"
            ));
        }
        let brand_color = get("PORTAL_BRAND_COLOR")
            .unwrap_or(DEFAULT_BRAND)
            .to_ascii_lowercase();
        if !(brand_color.len() == 7
            && brand_color.starts_with('#')
            && brand_color[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!(
                "PORTAL_BRAND_COLOR must be a colour like #1d4ed8, not {brand_color:?}"
            ));
        }
        let oidc_issuer = match get("OIDC_ISSUER").or(default_issuer) {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None => {
                return Err("OIDC_ISSUER (the sign-in provider's issuer URL) is required".into());
            }
        };
        origin_of(&oidc_issuer)
            .ok_or_else(|| format!("OIDC_ISSUER must be an http(s) URL, not {oidc_issuer:?}"))?;
        let oidc_client_id = match get("OIDC_CLIENT_ID") {
            Some(id) => id.to_owned(),
            None if default_issuer.is_some() => "portal".to_owned(),
            None => return Err("OIDC_CLIENT_ID (the portal's public client id) is required".into()),
        };
        if oidc_client_id.len() > 200 || !oidc_client_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("OIDC_CLIENT_ID must be up to 200 visible ASCII characters".into());
        }
        let oidc_scope = get("OIDC_SCOPE").unwrap_or(DEFAULT_SCOPE).to_owned();
        let api_token = match get("PORTAL_API_TOKEN").unwrap_or("id_token") {
            "id_token" => ApiToken::IdToken,
            "access_token" => ApiToken::AccessToken,
            other => {
                return Err(format!(
                    "PORTAL_API_TOKEN must be id_token or access_token, not {other:?}"
                ));
            }
        };
        let end_session_url = get("OIDC_END_SESSION_URL").map(str::to_owned);
        if let Some(url) = &end_session_url {
            origin_of(url).ok_or_else(|| {
                format!("OIDC_END_SESSION_URL must be an http(s) URL, not {url:?}")
            })?;
        }
        let mut connect_origins = Vec::new();
        for raw in get("PORTAL_CONNECT_ORIGINS")
            .unwrap_or("")
            .split([' ', ','])
            .filter(|s| !s.is_empty())
        {
            let origin = origin_of(raw).filter(|o| o == raw.trim_end_matches('/'));
            match origin {
                Some(origin) => connect_origins.push(origin),
                None => {
                    return Err(format!(
                        "PORTAL_CONNECT_ORIGINS takes origins like https://auth.example.com, not {raw:?}"
                    ));
                }
            }
        }
        let assets_dir = get("PORTAL_ASSETS_DIR").map(PathBuf::from);
        Ok(Self {
            vendor_name,
            logo_url,
            brand_color,
            oidc_issuer,
            oidc_client_id,
            oidc_scope,
            api_token,
            end_session_url,
            connect_origins,
            assets_dir,
        })
    }

    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        Self::from_vars(&HashMap::new(), Some("http://127.0.0.1:3000/_dev/oidc")).expect("defaults")
    }

    /// Every origin sign-in talks to besides this site.
    fn sign_in_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = origin_of(&self.oidc_issuer).into_iter().collect();
        if let Some(url) = &self.end_session_url {
            origins.extend(origin_of(url));
        }
        for origin in &self.connect_origins {
            if !origins.contains(origin) {
                origins.push(origin.clone());
            }
        }
        origins.dedup();
        origins
    }

    pub fn content_security_policy(&self) -> String {
        let others = self.sign_in_origins().join(" ");
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self' {others}; form-action 'self'; \
             base-uri 'none'; frame-ancestors 'none'; manifest-src 'self'"
        )
    }

    /// The JSON the shell carries in `<script id="portal-config">`, safe to
    /// place inside HTML.
    pub fn page_json(&self, assets_base: &str) -> String {
        let json = serde_json::json!({
            "vendorName": self.vendor_name,
            "logoUrl": self.logo_url.clone().unwrap_or_else(|| format!("{assets_base}/logo.svg")),
            "brandColor": self.brand_color,
            "apiBase": "",
            "oidc": {
                "authority": self.oidc_issuer,
                "clientId": self.oidc_client_id,
                "scope": self.oidc_scope,
                "apiToken": self.api_token,
                "endSessionEndpoint": self.end_session_url,
            },
        });
        json.to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    }
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid.then(|| format!("{scheme}://{}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_deployment_names_its_provider_and_may_brand_the_portal() {
        let config = PortalConfig::from_vars(
            &vars(&[
                (
                    "OIDC_ISSUER",
                    "https://cognito-idp.eu-central-1.amazonaws.com/pool_1/",
                ),
                ("OIDC_CLIENT_ID", "abc123"),
                ("PORTAL_VENDOR_NAME", "ATLAS.ti"),
                ("PORTAL_BRAND_COLOR", "#0A7A3E"),
                (
                    "PORTAL_CONNECT_ORIGINS",
                    "https://login.example.auth.eu-central-1.amazoncognito.com",
                ),
            ]),
            None,
        )
        .expect("valid");
        assert_eq!(
            config.oidc_issuer,
            "https://cognito-idp.eu-central-1.amazonaws.com/pool_1"
        );
        assert_eq!(config.brand_color, "#0a7a3e");
        let csp = config.content_security_policy();
        assert!(csp.contains(
            "connect-src 'self' https://cognito-idp.eu-central-1.amazonaws.com https://login.example.auth.eu-central-1.amazoncognito.com;"
        ), "{csp}");
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let issuer = ("OIDC_ISSUER", "https://id.example");
        let client = ("OIDC_CLIENT_ID", "c");
        for (bad, name) in [
            (vec![client], "OIDC_ISSUER"),
            (vec![issuer], "OIDC_CLIENT_ID"),
            (
                vec![issuer, client, ("PORTAL_BRAND_COLOR", "red")],
                "PORTAL_BRAND_COLOR",
            ),
            (
                vec![
                    issuer,
                    client,
                    ("PORTAL_LOGO_URL", "https://cdn.example/l.png"),
                ],
                "PORTAL_LOGO_URL",
            ),
            (
                vec![issuer, client, ("PORTAL_API_TOKEN", "both")],
                "PORTAL_API_TOKEN",
            ),
            (
                vec![
                    issuer,
                    client,
                    ("PORTAL_CONNECT_ORIGINS", "https://a.example/path"),
                ],
                "PORTAL_CONNECT_ORIGINS",
            ),
            (
                vec![
                    issuer,
                    client,
                    ("PORTAL_CONNECT_ORIGINS", "'unsafe-inline'"),
                ],
                "PORTAL_CONNECT_ORIGINS",
            ),
            (vec![("OIDC_ISSUER", "ftp://x"), client], "OIDC_ISSUER"),
        ] {
            let err = PortalConfig::from_vars(&vars(&bad), None).expect_err(name);
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn the_page_config_cannot_break_out_of_its_script_element() {
        let config = PortalConfig::from_vars(
            &vars(&[("PORTAL_VENDOR_NAME", "</script><script>alert(1)</script>")]),
            Some("http://127.0.0.1:3000/_dev/oidc"),
        )
        .expect("valid");
        let json = config.page_json("/assets/x");
        assert!(!json.contains('<') && !json.contains('>'), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(back["vendorName"], "</script><script>alert(1)</script>");
    }
}
