//! The devserver binary as a newcomer runs it: started with a seed file on
//! a free port, a token minted with `devserver token`, then plain HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_devserver");

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start(envs: &[(&str, &str)]) -> (Server, Vec<String>) {
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .env("PORT", port.to_string())
        .env_remove("STORE")
        .env_remove("MAILER")
        .env_remove("SEED_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("devserver starts");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server { child, port };
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let ready = line.starts_with("Serving the API");
        lines.push(line);
        if ready || Instant::now() > deadline {
            break;
        }
    }
    assert!(
        lines.iter().any(|l| l.starts_with("Serving the API")),
        "devserver did not start: {lines:?}"
    );
    (server, lines)
}

fn token(sub: &str, email: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "--sub", sub, "--email", email])
        .output()
        .expect("token command");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// One HTTP/1.1 request; returns status, headers (lower-cased) and body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String, serde_json::Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_lowercase(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn a_seeded_server_serves_the_member_journey() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed.json");
    let (server, _) = start(&[("SEED_FILE", seed)]);
    let port = server.port;
    let ann = token("ann", "Ann@Demo.edu");

    let (status, _, body) = request(
        port,
        "POST",
        "/v1/redemptions",
        Some(&ann),
        Some(r#"{"code":"i 7kq2 m9tx 4hcd"}"#),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seat"]["email"], "ann@demo.edu");

    let (status, _, body) = request(port, "GET", "/v1/me/invitations?limit=10", Some(&ann), None);
    assert_eq!(status, 200);
    assert_eq!(body["licenses"][0]["licenseId"], "lic-demo");

    let bob = token("bob", "bob@demo.edu");
    let (status, _, body) = request(port, "GET", "/v1/me/invitations", Some(&bob), None);
    assert_eq!(status, 200);
    assert_eq!(body["pending"][0]["license"]["name"], "ATLAS.ti Campus");
    let (status, _, _) = request(
        port,
        "POST",
        "/v1/invites/bob-invite-token-0123456789abcdefghijklmnopqrstu/accept",
        Some(&bob),
        None,
    );
    assert_eq!(status, 201);

    let (status, _, body) = request(
        port,
        "POST",
        "/v1/licenses/lic-demo/contact-owner",
        Some(&ann),
        Some(r#"{"subject":"Hello","message":"Thanks!"}"#),
    );
    assert_eq!(status, 202, "{body}");
    let (status, _, outbox) = request(port, "GET", "/_dev/outbox", None, None);
    assert_eq!(status, 200);
    assert_eq!(outbox["messages"][0]["to"][0], "owner@demo.edu");
    assert_eq!(outbox["messages"][0]["replyTo"][0], "ann@demo.edu");

    let (status, _, _) = request(port, "DELETE", "/v1/me/licenses/lic-demo", Some(&ann), None);
    assert_eq!(status, 204);
}

#[test]
fn bad_tokens_and_oversized_bodies_are_4xx() {
    let (server, _) = start(&[]);
    let port = server.port;
    let (status, _, body) = request(port, "GET", "/v1/me/invitations", Some("not.a.jwt"), None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let (status, _, _) = request(port, "GET", "/v1/me/invitations", None, None);
    assert_eq!(status, 401);
    let expired = Command::new(BIN)
        .args([
            "token",
            "--sub",
            "ann",
            "--email",
            "ann@demo.edu",
            "--ttl",
            "-60",
        ])
        .output()
        .expect("token");
    let expired = String::from_utf8(expired.stdout).expect("utf8");
    let (status, _, _) = request(
        port,
        "GET",
        "/v1/me/invitations",
        Some(expired.trim()),
        None,
    );
    assert_eq!(status, 401);
    let ann = token("ann", "ann@demo.edu");
    let huge = format!(r#"{{"code":"{}"}}"#, "A".repeat(100_000));
    let (status, _, body) = request(port, "POST", "/v1/redemptions", Some(&ann), Some(&huge));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("INVALID_REQUEST"))
    );
}

#[test]
fn without_a_seed_it_offers_a_demo_that_works() {
    let (server, lines) = start(&[]);
    let find = |label: &str| {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {label} in {lines:?}"))
    };
    let code = find("invite code:");
    let student = find("student token:");
    let invite_path = find("invite URL path:");
    assert!(lines.iter().any(|l| l.contains("curl -s -X POST")));
    let (status, _, body) = request(
        server.port,
        "POST",
        "/v1/redemptions",
        Some(&student),
        Some(&format!(r#"{{"code":"{code}"}}"#)),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = request(server.port, "GET", &invite_path, Some(&student), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["license"]["licenseId"], "lic-demo");
}
