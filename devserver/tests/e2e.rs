//! The devserver binary as a newcomer runs it: started with a seed file on
//! a free port, a token minted with `devserver token`, then plain HTTP.

mod common;

use std::process::Command;

use common::{BIN, request, start, token};

#[test]
fn a_seeded_server_serves_the_member_journey() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed.json");
    let (server, _) = start(&[("SEED_FILE", seed)]);
    let port = server.port;
    let ann = token(port, "ann", "Ann@Demo.edu");

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

    let bob = token(port, "bob", "bob@demo.edu");
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
        .env("PORT", port.to_string())
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
    let ann = token(port, "ann", "ann@demo.edu");
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
    let code = find("invite code:")
        .split_whitespace()
        .next()
        .expect("code")
        .to_owned();
    let student = find("student token:");
    let invite_url = find("invite URL:");
    let base = format!("http://127.0.0.1:{}", server.port);
    assert_eq!(find("license portal:"), format!("{base}/"));
    let token = invite_url
        .strip_prefix(&format!("{base}/invite/"))
        .expect("an invite URL of this devserver");
    // The invite URL is a page a person can open; the page asks the API.
    let (status, head, _) = request(server.port, "GET", &format!("/invite/{token}"), None, None);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    let invite_path = format!("/v1/invites/{token}");
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

    // Invitation emails carry invite URLs that open this devserver's portal.
    let owner = find("owner token:");
    let (status, _, body) = request(
        server.port,
        "POST",
        "/v1/licenses/lic-demo/invitations",
        Some(&owner),
        Some(r#"{"emails":["bob@demo.edu"]}"#),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["invitations"][0]["delivery"], "queued");
    // The devserver's sender mails it a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let outbox = loop {
        let (_, _, outbox) = request(server.port, "GET", "/_dev/outbox", None, None);
        if outbox["messages"].as_array().is_some_and(|m| !m.is_empty()) {
            break outbox;
        }
        assert!(std::time::Instant::now() < deadline, "no invitation mail");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = outbox["messages"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("{base}/invite/")), "{text}");
}

#[test]
fn no_spelling_of_an_invite_path_logs_its_token() {
    let (server, _) = start(&[("RUST_LOG", "info")]);
    let token = "secret-invite-token-0123456789abcdefghijklmn";
    let paths = [
        format!("/v1/invites/{token}"),
        format!("//v1/invites/{token}"),
        format!("/v1//invites/{token}"),
        format!("/v1/invites//{token}/accept"),
        format!("/prod/v1/invites/{token}/"),
        format!("/v1/Invites/{token}"),
        format!("/invite/{token}"),
        format!("//invite/{token}"),
    ];
    for path in &paths {
        let (status, _, _) = request(server.port, "GET", path, None, None);
        assert!(status > 0, "{path}");
    }
    let logged = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains(" INFO request ") || l.contains(" INFO portal "))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while logged(&server.output()) < paths.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines = server.output();
    assert_eq!(logged(&lines), paths.len(), "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains(token)), "{lines:#?}");
    let by_route = lines
        .iter()
        .filter(|l| l.contains("path=/v1/invites/{token}"))
        .count();
    assert_eq!(by_route, 5, "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("path=/invite/{token}")));
}
