//! The license portal: which paths are pages and which are assets, and the
//! headers they go out with.
//!
//! Every page path answers the same HTML shell (`web/index.html`), never
//! cached, with the page configuration (vendor, brand, sign-in provider)
//! filled in and a strict Content-Security-Policy. Everything else under
//! `web/` is embedded at build time and served under
//! `/assets/<version>/`, where `<version>` is a hash of all files: those
//! responses are immutable. The pages call the API with the bearer token
//! of the sign-in provider, so the API's JWT authorizer stays the only gate.

mod config;

use std::path::PathBuf;

use http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderValue, Method, Response, StatusCode};

pub use config::{ApiToken, PortalConfig};

struct Asset {
    path: &'static str,
    body: &'static [u8],
    gzip: &'static [u8],
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The hash that names the immutable asset folder of this build.
pub const ASSET_VERSION: &str = include_str!(concat!(env!("OUT_DIR"), "/version.txt"));

const SHELL: &str = "index.html";

/// Paths the portal answers; everything else belongs to the API.
pub fn is_portal_path(path: &str) -> bool {
    page(path) || path.starts_with("/assets/")
}

/// The page routes (also declared, unauthenticated, in `template.yaml`).
pub const PAGE_ROUTES: &[&str] = &[
    "/",
    "/activate",
    "/invite/{token}",
    "/manage",
    "/manage/{licenseId}",
    "/auth/callback",
    "/auth/signed-out",
];

fn page(path: &str) -> bool {
    match path {
        "/" | "/activate" | "/manage" | "/auth/callback" | "/auth/signed-out" => true,
        _ => ["/invite/", "/manage/"].iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
        }),
    }
}

pub struct Portal {
    config: PortalConfig,
    csp: HeaderValue,
    /// The filled-in shell of the embedded build, made once at start (in
    /// live mode it is read and filled per request, so edits show).
    shell: Option<Vec<u8>>,
}

impl Portal {
    pub fn new(config: PortalConfig) -> Self {
        let csp = HeaderValue::from_str(&config.content_security_policy())
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        let mut portal = Self {
            config,
            csp,
            shell: None,
        };
        if portal.config.assets_dir.is_none() {
            portal.shell = portal.fill_shell();
        }
        portal
    }

    /// `index.html` with the asset path, vendor and page config filled in.
    fn fill_shell(&self) -> Option<Vec<u8>> {
        let template = self.file(SHELL)?;
        let html = String::from_utf8_lossy(&template)
            .replace("{{ASSETS}}", &self.assets_base())
            .replace("{{VENDOR}}", &escape_html(&self.config.vendor_name))
            .replace("{{CONFIG}}", &self.config.page_json(&self.assets_base()));
        Some(html.into_bytes())
    }

    pub fn config(&self) -> &PortalConfig {
        &self.config
    }

    /// The response for a portal path, `None` for any other path.
    /// `accepts_gzip`: the request's `Accept-Encoding` allows gzip.
    pub fn respond(
        &self,
        method: &Method,
        path: &str,
        accepts_gzip: bool,
    ) -> Option<Response<Vec<u8>>> {
        if !is_portal_path(path) {
            return None;
        }
        if method != Method::GET && method != Method::HEAD {
            return Some(plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed."));
        }
        let mut response = if page(path) {
            self.shell()
        } else {
            self.asset(path, accepts_gzip)
        };
        if method == Method::HEAD {
            response.body_mut().clear();
        }
        Some(response)
    }

    fn shell(&self) -> Response<Vec<u8>> {
        let Some(html) = self.shell.clone().or_else(|| self.fill_shell()) else {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "The portal is missing.");
        };
        let mut response = Response::new(html);
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(CONTENT_SECURITY_POLICY, self.csp.clone());
        secure(headers);
        response
    }

    fn asset(&self, path: &str, accepts_gzip: bool) -> Response<Vec<u8>> {
        let Some(rest) = path.strip_prefix("/assets/") else {
            return plain(StatusCode::NOT_FOUND, "Not found.");
        };
        let Some((version, file)) = rest.split_once('/') else {
            return plain(StatusCode::NOT_FOUND, "Not found.");
        };
        if file == SHELL || file.split('/').any(|s| s.is_empty() || s.starts_with('.')) {
            return plain(StatusCode::NOT_FOUND, "Not found.");
        }
        let live = self.config.assets_dir.is_some();
        if version != self.version() {
            return plain(StatusCode::NOT_FOUND, "Not found.");
        }
        let (body, gzipped) = if live {
            match self.file(file) {
                Some(body) => (body, false),
                None => return plain(StatusCode::NOT_FOUND, "Not found."),
            }
        } else {
            match ASSETS.iter().find(|a| a.path == file) {
                Some(a) if accepts_gzip => (a.gzip.to_vec(), true),
                Some(a) => (a.body.to_vec(), false),
                None => return plain(StatusCode::NOT_FOUND, "Not found."),
            }
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(file)));
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static(if live {
                "no-cache"
            } else {
                "public, max-age=31536000, immutable"
            }),
        );
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        if gzipped {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        secure(headers);
        response
    }

    fn version(&self) -> &str {
        if self.config.assets_dir.is_some() {
            "live"
        } else {
            ASSET_VERSION
        }
    }

    fn assets_base(&self) -> String {
        format!("/assets/{}", self.version())
    }

    /// A file of `web/`: from disk in live mode, else the embedded copy.
    fn file(&self, rel: &str) -> Option<Vec<u8>> {
        match &self.config.assets_dir {
            Some(dir) => read_under(dir, rel),
            None => ASSETS
                .iter()
                .find(|a| a.path == rel)
                .map(|a| a.body.to_vec()),
        }
    }
}

fn read_under(dir: &std::path::Path, rel: &str) -> Option<Vec<u8>> {
    if rel
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return None;
    }
    let path: PathBuf = dir.join(rel);
    std::fs::read(path).ok()
}

fn secure(headers: &mut http::HeaderMap) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Invite URLs carry secrets: never send them on as a referrer.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

fn plain(status: StatusCode, text: &'static str) -> Response<Vec<u8>> {
    let mut response = Response::new(text.as_bytes().to_vec());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(headers);
    response
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// Text made safe to place in HTML (content or a quoted attribute).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of the error catalogue has its sentence in the pages:
    /// a new code does not reach people as the server's raw message.
    #[test]
    fn the_pages_word_every_error_code() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let catalogue = std::fs::read_to_string(dir.join("../docs/errors.md")).expect("errors.md");
        let messages = std::fs::read_to_string(dir.join("web/messages.js")).expect("messages.js");
        let codes: Vec<&str> = catalogue
            .lines()
            .filter_map(|line| line.strip_prefix("| [`")?.split('`').next())
            .collect();
        assert!(codes.len() > 20, "the catalogue's table: {codes:?}");
        let missing: Vec<&&str> = codes
            .iter()
            .filter(|code| !messages.contains(&format!("  {code}:")))
            .collect();
        assert!(missing.is_empty(), "not in messages.js: {missing:?}");
    }

    fn portal() -> Portal {
        Portal::new(PortalConfig::for_tests())
    }

    #[test]
    fn pages_get_the_shell_uncached_with_a_strict_policy() {
        let portal = portal();
        for path in [
            "/",
            "/activate",
            "/invite/abc",
            "/manage",
            "/manage/lic-1",
            "/auth/callback",
        ] {
            let response = portal.respond(&Method::GET, path, true).expect(path);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
            let csp = response.headers()[CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("ascii");
            assert!(csp.contains("script-src 'self'"), "{csp}");
            assert!(!csp.contains("unsafe"), "{csp}");
            let html = String::from_utf8(response.into_body()).expect("utf8");
            assert!(html.contains(&format!("/assets/{ASSET_VERSION}/app.js")));
            assert!(!html.contains("{{"), "unfilled placeholder");
        }
    }

    #[test]
    fn assets_are_immutable_and_gzipped_when_accepted() {
        let portal = portal();
        let path = format!("/assets/{ASSET_VERSION}/app.js");
        let zipped = portal.respond(&Method::GET, &path, true).expect("asset");
        assert_eq!(zipped.status(), StatusCode::OK);
        assert_eq!(
            zipped.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(zipped.headers()[CONTENT_ENCODING], "gzip");
        let plain = portal.respond(&Method::GET, &path, false).expect("asset");
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        assert!(plain.body().len() > zipped.body().len());
    }

    #[test]
    fn unknown_or_stale_assets_and_the_shell_itself_are_not_found() {
        let portal = portal();
        for path in [
            "/assets/0000/app.js".to_owned(),
            format!("/assets/{ASSET_VERSION}/nope.js"),
            format!("/assets/{ASSET_VERSION}/index.html"),
            format!("/assets/{ASSET_VERSION}/../Cargo.toml"),
            "/assets/".to_owned(),
        ] {
            let response = portal.respond(&Method::GET, &path, true).expect(&path);
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn api_paths_are_not_the_portals() {
        for path in [
            "/v1/redemptions",
            "/invite/",
            "/invite/a/b",
            "/activate/x",
            "/manage/",
            "/manage/a/b",
        ] {
            assert!(!is_portal_path(path), "{path}");
        }
        assert!(
            portal()
                .respond(&Method::POST, "/activate", true)
                .is_some_and(|r| r.status() == StatusCode::METHOD_NOT_ALLOWED)
        );
    }
}
