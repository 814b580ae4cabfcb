//! `devserver`: the whole API on `127.0.0.1:$PORT`, through the same handler
//! code the Lambda functions run, the license portal's pages, and a
//! development sign-in provider for them.
//!
//! - `devserver` serves (embedded store and outbox unless configured).
//! - `devserver token --sub S --email E [--unverified] [--ttl SECS]` prints
//!   a bearer token for the local JWT authorizer (`--name` adds a `name` claim).

mod event;
mod jwt;
mod oidc;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{InviteCode, InviteToken, LicenseId};
use seat_invitations::error::{ApiError, StoreError};
use seat_invitations::http::{
    Function, MAX_BODY_BYTES, RouteError, error_response, handle, loggable_path,
};
use seat_invitations::mail::Outbox;
use seat_invitations::seed::{SEED_ACTOR, Seed};
use seat_invitations::service::provision::{
    CodeOptions, InvitationOptions, add_code, add_invitation,
};
use tokio::net::TcpListener;

use crate::event::to_lambda_request;
use crate::jwt::Authorizer;

struct Server {
    app: seat_invitations::App,
    outbox: Option<Arc<Outbox>>,
    authorizer: Authorizer,
    portal: portal::Portal,
    sign_in: oidc::Provider,
    requests: AtomicU64,
    /// `/_dev/demo.env`: the demo's tokens, code and URLs as shell exports.
    demo_env: std::sync::OnceLock<String>,
}

type Reply = Response<Full<Bytes>>;

#[tokio::main]
async fn main() {
    seat_invitations::lambda::init_tracing(seat_invitations::lambda::LogFormat::Text);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match (args.first().map(String::as_str), port()) {
        (Some("--help" | "-h" | "help"), _) => {
            println!(
                "usage: devserver            serve the API, the license portal and a development sign-in\n\
                 \x20      devserver token …    print a bearer token (devserver token --help)\n\n\
                 Configuration comes from the environment (see the README); PORT (default 3000),\n\
                 SEED_FILE, STORE, MAILER, DEV_JWT_SECRET, DEV_JWT_ISSUER, DEV_JWT_AUDIENCE,\n\
                 PORTAL_ASSETS_DIR among others."
            );
            Ok(())
        }
        (_, Err(message)) => Err(message),
        (Some("token"), Ok(port)) => {
            print_token(&Authorizer::new(&jwt::Settings::from_env(port)), &args[1..])
        }
        (Some(other), _) => Err(format!("unknown argument {other:?}; try --help")),
        (None, Ok(port)) => serve(port).await,
    };
    if let Err(message) = result {
        eprintln!("devserver: {message}");
        std::process::exit(1);
    }
}

const TOKEN_USAGE: &str = "usage: devserver token --sub SUB --email EMAIL [--name NAME] [--unverified] [--ttl SECS]\n\n\
  Prints a bearer token the devserver accepts: HS256, signed with DEV_JWT_SECRET, its\n\
  iss and aud those the devserver checks (DEV_JWT_ISSUER, default the development sign-in\n\
  on PORT; DEV_JWT_AUDIENCE, default OIDC_CLIENT_ID or `portal`): give it the server's.\n\
  --sub SUB        the user id (the `sub` claim)\n\
  --email EMAIL    the `email` claim, verified unless --unverified\n\
  --name NAME      a display name (shown to invitees as the inviter)\n\
  --unverified     email_verified = false\n\
  --ttl SECS       lifetime in seconds (default 86400)";

fn print_token(authorizer: &Authorizer, args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| matches!(a.as_str(), "--help" | "-h")) {
        println!("{TOKEN_USAGE}");
        return Ok(());
    }
    let mut sub = None;
    let mut email = None;
    let mut name = None;
    let mut verified = true;
    let mut ttl = 86_400;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sub" => sub = it.next().cloned(),
            "--email" => email = it.next().cloned(),
            "--name" => name = it.next().cloned(),
            "--unverified" => verified = false,
            "--ttl" => {
                ttl = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--ttl takes a number of seconds")?;
            }
            other => return Err(format!("unknown option {other:?}\n{TOKEN_USAGE}")),
        }
    }
    let (Some(sub), Some(email)) = (sub, email) else {
        return Err(format!("token needs --sub and --email\n{TOKEN_USAGE}"));
    };
    println!(
        "{}",
        authorizer.mint_named(&sub, &email, name.as_deref(), verified, ttl)?
    );
    Ok(())
}

/// `PORT`, default 3000: where the devserver listens, and part of its
/// sign-in provider's issuer.
fn port() -> Result<u16, String> {
    std::env::var("PORT")
        .ok()
        .map(|p| {
            p.parse()
                .map_err(|_| format!("PORT must be a port number, not {p:?}"))
        })
        .transpose()
        .map(|port| port.unwrap_or(3000))
}

async fn serve(port: u16) -> Result<(), String> {
    let authorizer = Authorizer::new(&jwt::Settings::from_env(port));
    let mut config = Config::from_env(Profile::Local).map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{port}");
    // Invite URLs in the outbox's mail open this devserver's portal.
    if std::env::var("PORTAL_BASE_URL").is_err() {
        config.portal_base_url = base.clone();
    }
    let seed = match std::env::var("SEED_FILE").ok().filter(|s| !s.is_empty()) {
        Some(path) => {
            let seed = Seed::read(&path)?;
            Some((path, seed))
        }
        None => None,
    };
    // Bind first: nothing secret is printed for a server that cannot start.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        format!("cannot listen on {addr}: {e} (is another devserver running? set PORT)")
    })?;
    let seed_users = match &seed {
        Some((_, seed)) => seed_users(seed),
        None => seed_users(&demo_seed()?),
    };
    let sign_in = oidc::Provider::new(port, seed_users);
    let portal_config = portal::PortalConfig::from_env(Some(&sign_in.issuer()))?;
    let parts = seat_invitations::wiring::build(config).await?;
    // The invitation sender: without an SQS queue (INVITATION_QUEUE_URL),
    // a worker here mails what the API queued, as the deployed sender
    // would (tries a throttled send again after 1 s, 2 s, 4 s, ...).
    if let Some(queue) = parts.local_queue.clone() {
        let app = parts.app.clone();
        tokio::spawn(async move {
            loop {
                queue.arrived().await;
                seat_invitations::service::delivery::drain(
                    &app,
                    &queue,
                    seat_invitations::service::delivery::wait_before_retry,
                )
                .await;
            }
        });
    }
    let server = Arc::new(Server {
        app: parts.app,
        outbox: parts.outbox,
        authorizer,
        portal: portal::Portal::new(portal_config),
        sign_in,
        requests: AtomicU64::new(0),
        demo_env: std::sync::OnceLock::new(),
    });
    match seed {
        Some((path, seed)) => {
            seed.load(
                server.app.store.as_ref(),
                &server.app.config.hash_keys,
                server.app.now(),
            )
            .await
            .map_err(|e| e.to_string())?;
            server.remember_demo(&base, &seeded_demo(&seed))?;
            println!("Loaded seed file {path}.\n\nOpen the license portal: {base}/");
        }
        None => demo(&server, &base).await?,
    }
    println!("Serving the API and the license portal on http://{addr} (Ctrl-C stops).");
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted.map_err(|e| e.to_string())?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.respond(req).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection closed");
            }
        });
    }
}

/// Owners and admins named in a seed sign in through the development
/// provider as their seeded `sub`, so their licenses are theirs.
fn seed_users(seed: &Seed) -> std::collections::HashMap<String, String> {
    seed.licenses
        .iter()
        .flat_map(|l| std::iter::once(&l.owner).chain(&l.admins))
        .map(|p| (p.email.as_str().to_owned(), p.sub.to_string()))
        .collect()
}

fn demo_seed() -> Result<Seed, String> {
    Seed::parse(
        r#"{"licenses": [{
            "licenseId": "lic-demo", "name": "ATLAS.ti Campus", "organization": "Demo University",
            "product": "ATLAS.ti", "seatsTotal": 5, "expiresAt": null, "allowedEmailDomains": [],
            "owner": {"sub": "owner-1", "email": "owner@demo.edu"}, "admins": []
        }]}"#,
    )
    .map_err(|e| e.to_string())
}

/// What `/_dev/demo.env` hands a shell: a license, a code and an invite
/// URL to try, and who the student and the owner are.
struct Demo {
    license_id: String,
    code: Option<String>,
    invite_token: Option<String>,
    owner: (String, String),
}

/// The first license of a seed file, its first code and invitation.
fn seeded_demo(seed: &Seed) -> Demo {
    let first = seed.licenses.first();
    Demo {
        license_id: first.map(|l| l.license_id.clone()).unwrap_or_default(),
        code: first.and_then(|l| l.codes.first()).map(|c| c.code.clone()),
        invite_token: first
            .and_then(|l| l.invitations.first())
            .map(|i| i.token.clone()),
        owner: first.map_or_else(
            || ("owner-1".to_owned(), "owner@demo.edu".to_owned()),
            |l| (l.owner.sub.to_string(), l.owner.email.as_str().to_owned()),
        ),
    }
}

/// With no seed file: a demo license with a fresh code and open invite link,
/// and everything a newcomer needs to try it.
async fn demo(server: &Server, base: &str) -> Result<(), String> {
    let now = server.app.now();
    let store = server.app.store.as_ref();
    let keys = &server.app.config.hash_keys;
    let seed = demo_seed()?;
    match seed.load(store, keys, now).await {
        Ok(()) | Err(seat_invitations::seed::SeedError::Store(StoreError::AlreadyExists(_))) => {}
        Err(err) => return Err(err.to_string()),
    }
    let license_id = LicenseId::from("lic-demo");
    let code = InviteCode::generate();
    let options = CodeOptions {
        note: Some("devserver demo".into()),
        ..CodeOptions::default()
    };
    add_code(store, keys, &license_id, &code, options, SEED_ACTOR, now)
        .await
        .map_err(|e| e.to_string())?;
    let token = InviteToken::generate();
    add_invitation(
        store,
        keys,
        &license_id,
        &token,
        InvitationOptions::default(),
        SEED_ACTOR,
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    let student = server
        .authorizer
        .mint("student-1", "student@demo.edu", true, 86_400)?;
    let owner = server.authorizer.mint_named(
        "owner-1",
        "owner@demo.edu",
        Some("Dana Admin"),
        true,
        86_400,
    )?;
    println!(
        "\nDemo license \"ATLAS.ti Campus\" (lic-demo, 5 seats) is ready.\n\
         \nOpen it in a browser; sign in with any address (owner@demo.edu is the license owner):\n\
         \n  license portal:  {base}/\
         \n  invite URL:      {base}/invite/{token}\
         \n  invite code:     {code}   (type it into Activate Product: {base}/activate)\n\
         \nOr call the API with curl:\n\
         \n  student token:   {student}\
         \n  owner token:     {owner}\n\
         \n  curl -s -X POST {base}/v1/redemptions \\\n    -H 'Authorization: Bearer {student}' \\\n    -H 'Content-Type: application/json' \\\n    -d '{{\"code\": \"{code}\"}}'\n\
         \n  curl -s {base}/v1/me/invitations -H 'Authorization: Bearer {student}'\n\
         \nMore tokens: cargo run --bin devserver -- token --sub alice --email alice@demo.edu\n",
        code = code.formatted(),
        token = token.expose(),
    );
    server.remember_demo(
        base,
        &Demo {
            license_id: "lic-demo".into(),
            code: Some(code.formatted()),
            invite_token: Some(token.expose().to_owned()),
            owner: ("owner-1".into(), "owner@demo.edu".into()),
        },
    )?;
    Ok(())
}

impl Server {
    /// Shell exports of the demo, so documented commands need no pasting:
    /// `eval "$(curl -s http://127.0.0.1:3000/_dev/demo.env)"`.
    fn remember_demo(&self, base: &str, demo: &Demo) -> Result<(), String> {
        let student = self
            .authorizer
            .mint("student-1", "student@demo.edu", true, 86_400)?;
        let (sub, email) = &demo.owner;
        let owner = self
            .authorizer
            .mint_named(sub, email, Some("Dana Admin"), true, 86_400)?;
        let mut env = format!(
            "export API={base}\nexport TOKEN={student}\nexport OWNER_TOKEN={owner}\nexport LICENSE={}\n",
            demo.license_id
        );
        if let Some(code) = &demo.code {
            env.push_str(&format!("export CODE={code}\n"));
        }
        if let Some(token) = &demo.invite_token {
            env.push_str(&format!(
                "export INVITE_URL={base}/invite/{token}\nexport INVITE_TOKEN={token}\n"
            ));
        }
        let _ = self.demo_env.set(env);
        Ok(())
    }

    async fn respond(&self, req: Request<Incoming>) -> Reply {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        if path == "/_dev/outbox" {
            return self.outbox_reply();
        }
        if path == "/_dev/demo.env" {
            let mut reply = Response::new(Full::new(Bytes::from(
                self.demo_env.get().cloned().unwrap_or_default(),
            )));
            reply.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return reply;
        }
        let accepts_gzip = parts
            .headers
            .get(hyper::header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("gzip"));
        if let Some(page) = self.portal.respond(&parts.method, &path, accepts_gzip) {
            let status = page.status().as_u16();
            tracing::info!(method = %parts.method, path = %portal_route(&path, status), status, "portal");
            let (head, bytes) = page.into_parts();
            return Response::from_parts(head, Full::new(Bytes::from(bytes)));
        }
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return convert(error_response(&ApiError::invalid(
                    "the body exceeds 64 KiB",
                )));
            }
        };
        if path.starts_with(oidc::PREFIX) {
            let origin = parts
                .headers
                .get(hyper::header::ORIGIN)
                .and_then(|v| v.to_str().ok());
            let reply = self.sign_in.handle(
                &self.authorizer,
                parts.method.as_str(),
                &path,
                parts.uri.query(),
                &body,
                origin,
            );
            tracing::info!(method = %parts.method, path = oidc::route_of(&path), status = reply.status, "sign-in");
            return sign_in_reply(reply);
        }
        let authorization = parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let incoming = event::Incoming {
            method: parts.method.as_str(),
            path: &path,
            query: parts.uri.query(),
            headers: parts
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: &body,
            claims: self.authorizer.claims(authorization),
            request_id: format!("dev-{}", self.requests.fetch_add(1, Ordering::Relaxed)),
        };
        let response = match to_lambda_request(&incoming) {
            Ok(request) => handle(&self.app, Function::All, request).await,
            Err(err) => {
                tracing::warn!(error = %err, "request could not be turned into an API Gateway event");
                error_response(&ApiError::invalid("the request could not be read"))
            }
        };
        tracing::info!(method = %parts.method, path = %loggable_path(&path), status = response.status().as_u16(), "request");
        convert(response)
    }

    fn outbox_reply(&self) -> Reply {
        let Some(outbox) = &self.outbox else {
            return convert(error_response(&RouteError::NotFound));
        };
        let body = serde_json::json!({ "messages": outbox.messages() });
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        response
    }
}

fn sign_in_reply(reply: oidc::Reply) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(reply.content_type),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    let values = [
        (hyper::header::LOCATION, reply.location),
        (
            hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            reply.allow_origin,
        ),
    ];
    for (name, value) in values {
        if let Some(value) = value.and_then(|v| hyper::header::HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    response
}

/// What the log says of a portal path: its page route, so an invite token
/// never reaches the log (`/invite/{token}`); an asset by its path only if
/// it was served (any other path under `/assets/` is `/assets/…`).
fn portal_route(path: &str, status: u16) -> &str {
    if path.starts_with("/invite/") {
        "/invite/{token}"
    } else if portal::PAGE_ROUTES.contains(&path) || status == 200 || status == 304 {
        path
    } else {
        "/assets/…"
    }
}

fn convert(response: lambda_http::Response<lambda_http::Body>) -> Reply {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    let mut reply = Response::from_parts(parts, Full::new(bytes));
    if reply.status() == StatusCode::NO_CONTENT {
        *reply.body_mut() = Full::new(Bytes::new());
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_paths_are_logged_by_their_page_route() {
        let token = "tok-0123456789abcdefghijklmnopqrstuv";
        assert_eq!(
            portal_route(&format!("/invite/{token}"), 200),
            "/invite/{token}"
        );
        assert_eq!(portal_route("/activate", 200), "/activate");
        assert_eq!(portal_route("/assets/v1/app.js", 200), "/assets/v1/app.js");
        assert_eq!(
            portal_route(&format!("/assets/x/invite/{token}"), 404),
            "/assets/…"
        );
    }
}
