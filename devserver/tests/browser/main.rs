//! The license portal in a real browser (Debian's Chromium over WebDriver)
//! against the devserver: sign-in through the development provider, every
//! state of Activate Product, the invite URL and My Invitations, on a
//! laptop and a phone screen, screenshot by screenshot, with axe-core.
//! The journeys where the store matters run on DynamoDB (the emulator) too.

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod manage;

use harness::{Store, browser, devserver};
use serde_json::{Value, json};

pub(crate) const GOOD: &str = "I-7KQ2-M9TX-4HCD";
const USED_UP: &str = "I-2222-3333-4444";
pub(crate) const FULL: &str = "I-5555-6666-7777";
const DOMAIN: &str = "I-8888-9999-AAAA";
const OLD: &str = "I-BBBB-CCCC-DDDD";

const BOB_INVITE: &str = "bob-invite-token-0123456789abcdefghijklmnopqrstu";
const CAROL_INVITE: &str = "carol-invite-token-0123456789abcdefghijklmnopqrs";
const ANN_INVITE: &str = "ann-invite-token-0123456789abcdefghijklmnopqrstu";
const EXPIRED_INVITE: &str = "expired-invite-token-0123456789abcdefghijklmnop";
const REVOKED_INVITE: &str = "revoked-invite-token-0123456789abcdefghijklmnop";
const OPEN_LINK: &str = "open-link-token-0123456789abcdefghijklmnopqrstuvw";
const OPEN_LINK_2: &str = "open-link-two-0123456789abcdefghijklmnopqrstuvwxy";
const FULL_LINK: &str = "full-link-token-0123456789abcdefghijklmnopqrstuvw";
const DOMAIN_LINK: &str = "domain-link-token-0123456789abcdefghijklmnopqrstu";
const OLD_LINK: &str = "old-link-token-0123456789abcdefghijklmnopqrstuvwx";

/// Five licenses: a campus license with every kind of invitation, a lab
/// license whose single-use code is taken, a full one, a domain-restricted
/// one and an expired one.
pub(crate) fn seed() -> Value {
    let owner = json!({"sub": "owner-1", "email": "owner@demo.edu"});
    json!({"licenses": [
        {
            "licenseId": "lic-campus", "name": "ATLAS.ti Campus", "organization": "Demo University",
            "product": "ATLAS.ti", "seatsTotal": 5, "expiresAt": "2027-09-30T23:59:59Z",
            "owner": owner,
            "admins": [{"sub": "admin-1", "email": "dana@demo.edu"}],
            "codes": [{"code": GOOD}],
            "invitations": [
                {"token": BOB_INVITE, "email": "bob@demo.edu", "invitedBy": "Dana Admin"},
                {"token": CAROL_INVITE, "email": "carol@demo.edu", "invitedBy": "Dana Admin"},
                {"token": ANN_INVITE, "email": "ann@uni.edu", "invitedBy": "Dana Admin"},
                {"token": EXPIRED_INVITE, "email": "bob@demo.edu", "expiresAt": "2026-01-31T12:00:00Z"},
                {"token": REVOKED_INVITE, "email": "bob@demo.edu", "revoked": true},
                {"token": OPEN_LINK},
                {"token": OPEN_LINK_2}
            ]
        },
        {
            "licenseId": "lic-lab", "name": "MAXQDA Lab", "organization": "Demo University",
            "product": "MAXQDA", "seatsTotal": 3, "owner": owner,
            "codes": [{"code": USED_UP, "maxUses": 1}]
        },
        {
            "licenseId": "lic-full", "name": "Stata Lab", "organization": "Demo University",
            "product": "Stata", "seatsTotal": 0, "owner": owner,
            "codes": [{"code": FULL}],
            "invitations": [{"token": FULL_LINK}]
        },
        {
            "licenseId": "lic-uni", "name": "NVivo Faculty", "organization": "Uni Example",
            "product": "NVivo", "seatsTotal": 10, "allowedEmailDomains": ["uni.edu"], "owner": owner,
            "codes": [{"code": DOMAIN}],
            "invitations": [{"token": DOMAIN_LINK}]
        },
        {
            "licenseId": "lic-old", "name": "SPSS 2025", "organization": "Demo University",
            "product": "SPSS", "seatsTotal": 10, "expiresAt": "2026-06-30T23:59:59Z", "owner": owner,
            "codes": [{"code": OLD}],
            "invitations": [{"token": OLD_LINK}]
        }
    ]})
}

/// A call to the devserver's API as `sub`/`email` (for setting a scene).
pub(crate) fn api(
    port: u16,
    method: &str,
    path: &str,
    who: (&str, &str),
    body: Option<&str>,
) -> (u16, Value) {
    let token = common::token(port, who.0, who.1);
    let (status, _, body) = common::request(port, method, path, Some(&token), body);
    (status, body)
}

pub(crate) fn outbox(port: u16) -> Vec<Value> {
    let (_, _, body) = common::request(port, "GET", "/_dev/outbox", None, None);
    body["messages"].as_array().cloned().unwrap_or_default()
}

pub(crate) async fn activate(b: &mut harness::Browser, code: &str) {
    b.open("/activate").await;
    b.wait_state("activate", "ready").await;
    b.fill("#code", code).await;
    b.click("#activate-submit").await;
}

/// Activate Product with `code` is refused with `error`.
async fn refused(b: &mut harness::Browser, code: &str, error: &str) {
    activate(b, code).await;
    b.wait_state("activate", "failed").await;
    assert_eq!(
        b.attr("#activate-error", "data-error").await.as_deref(),
        Some(error)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activate_product_success_and_every_refusal() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[("REDEEM_MAX_FAILURES", "3")]);
    // Someone used up the single-use code before.
    let (status, _) = api(
        server.port,
        "POST",
        "/v1/redemptions",
        ("zed", "zed@demo.edu"),
        Some(&format!(r#"{{"code":"{USED_UP}"}}"#)),
    );
    assert_eq!(status, 201);
    let mut b = browser(&server, "activate", false).await;

    b.open("/activate").await;
    b.wait_state("activate", "signed-out").await;
    b.shot("signed-out").await;
    b.axe().await;
    b.click("main #sign-in").await;
    b.wait_for("#sign-in-submit").await;
    b.shot("dev-sign-in-form").await;
    b.sign_in_form("ann@demo.edu", true, None).await;
    b.wait_state("activate", "ready").await;
    assert!(b.text("#whoami").await.contains("ann@demo.edu"));
    b.shot("ready").await;
    b.axe().await;

    // As forgiving as the API: lower case, spaces, no dashes, O for 0.
    b.fill("#code", " i 7kq2 m9tx 4hcd ").await;
    b.click("#activate-submit").await;
    b.wait_state("activate", "success").await;
    assert!(b.text("main").await.contains("ATLAS.ti Campus"));
    b.shot("success").await;
    b.axe().await;

    refused(&mut b, FULL, "NO_SEATS_AVAILABLE").await;
    b.shot("no-seats").await;

    refused(&mut b, DOMAIN, "EMAIL_DOMAIN_NOT_ALLOWED").await;
    b.shot("domain-not-allowed").await;

    refused(&mut b, OLD, "LICENSE_EXPIRED").await;
    b.shot("license-expired").await;

    // Used up: the owner can help, and the page offers to write to them.
    refused(&mut b, USED_UP, "CODE_USED_UP").await;
    b.shot("used-up").await;
    b.axe().await;
    b.click("#contact-owner").await;
    b.wait_for("#contact-form").await;
    let subject = b.value("#contact-subject").await;
    assert!(
        subject.contains("MAXQDA Lab"),
        "the subject names the license: {subject:?}"
    );
    let message = b.value("#contact-message").await;
    assert!(!message.trim().is_empty(), "the situation is described");
    b.shot("contact-owner-prefilled").await;
    b.click("#contact-send").await;
    b.wait_for(r#"#contact-status[data-result="sent"]"#).await;
    b.shot("contact-owner-sent").await;
    let mail = outbox(server.port);
    let to_owner = mail
        .iter()
        .find(|m| m["to"][0] == "owner@demo.edu")
        .expect("mail to the owner");
    assert_eq!(to_owner["replyTo"][0], "ann@demo.edu");

    // Failures so far: used up (1). Two unknown codes reach the limit of 3.
    for _ in 0..2 {
        refused(&mut b, "I-ZZZZ-ZZZZ-ZZZZ", "CODE_NOT_FOUND").await;
    }
    b.shot("code-not-found").await;
    refused(&mut b, GOOD, "TOO_MANY_ATTEMPTS").await;
    let text = b.text("#activate-error").await;
    assert!(text.contains("Try again after"), "{text}");
    b.shot("too-many-attempts").await;
    b.only_first_party_requests().await;
    b.close().await;
}

async fn invite_round_trip(store: Store) {
    let (server, _seed) = devserver(&seed(), store, &[]);
    let name = match store {
        Store::Memory => "invite-memory",
        Store::DynamoDb => "invite-dynamodb",
    };
    let mut b = browser(&server, name, false).await;

    // Opened signed out: nothing about the license, and nothing changes.
    b.open(&format!("/invite/{BOB_INVITE}")).await;
    b.wait_state("invite", "signed-out").await;
    assert!(!b.text("main").await.contains("ATLAS.ti Campus"));
    b.shot("signed-out").await;
    b.axe().await;
    b.click("main #sign-in").await;
    b.sign_in_form("bob@demo.edu", true, None).await;

    // Back on the same invitation after sign-in, with the token intact.
    b.wait_state("invite", "ready").await;
    b.assert_path_ends_with(BOB_INVITE).await;
    let text = b.text("main").await;
    for expected in ["ATLAS.ti Campus", "Demo University", "Dana Admin", "0 of 5"] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert!(!text.contains("owner@demo.edu"));
    b.shot("ready").await;
    b.axe().await;
    b.only_first_party_requests().await;

    // Opening the URL again and again changes nothing: only Accept joins.
    for _ in 0..2 {
        b.open(&format!("/invite/{BOB_INVITE}")).await;
        b.wait_state("invite", "ready").await;
    }
    let (status, license) = api(
        server.port,
        "GET",
        "/v1/licenses/lic-campus",
        ("owner-1", "owner@demo.edu"),
        None,
    );
    assert_eq!(status, 200, "{license}");
    assert_eq!(license["seatsUsed"].as_u64(), Some(0), "{license}");

    b.click("#accept").await;
    b.wait_state("invite", "accepted").await;
    let text = b.text("main").await;
    assert!(
        text.contains("Open ATLAS.ti and sign in as bob@demo.edu"),
        "{text}"
    );
    b.shot("accepted").await;
    b.axe().await;

    b.click("#nav-home").await;
    b.wait_state("home", "list").await;
    assert_eq!(
        b.count(r#".license-card[data-license-id="lic-campus"]"#)
            .await,
        1
    );
    b.shot("my-invitations").await;
    b.axe().await;

    // The URL again: accepted by you.
    b.open(&format!("/invite/{BOB_INVITE}")).await;
    b.wait_state("invite", "accepted-by-you").await;
    b.shot("accepted-by-you").await;
    let (_, license) = api(
        server.port,
        "GET",
        "/v1/licenses/lic-campus",
        ("owner-1", "owner@demo.edu"),
        None,
    );
    assert_eq!(license["seatsUsed"].as_u64(), Some(1), "{license}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_url_signed_out_sign_in_and_accept_memory() {
    invite_round_trip(Store::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_url_signed_out_sign_in_and_accept_dynamodb() {
    invite_round_trip(Store::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_url_wrong_account_then_switch() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let mut b = browser(&server, "invite-switch", false).await;
    b.sign_in_as("eve@demo.edu").await;
    b.open(&format!("/invite/{BOB_INVITE}")).await;
    b.wait_state("invite", "wrong-account").await;
    let text = b.text("main").await;
    assert!(text.contains("eve@demo.edu"), "{text}");
    assert!(text.contains("b***@demo.edu"), "{text}");
    b.shot("wrong-account").await;
    b.axe().await;
    b.click("#switch-account").await;
    b.sign_in_form("bob@demo.edu", true, None).await;
    b.wait_state("invite", "ready").await;
    assert!(b.text("#whoami").await.contains("bob@demo.edu"));
    b.shot("switched").await;

    // Decline, with a confirmation.
    b.click("#decline").await;
    b.wait_for("dialog#confirm[open]").await;
    b.shot("decline-confirm").await;
    b.click("#confirm-yes").await;
    b.wait_state("invite", "declined").await;
    b.shot("declined").await;
    b.axe().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_url_every_closed_state() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let port = server.port;
    // The scene: Zed took the open link.
    let (status, _) = api(
        port,
        "POST",
        &format!("/v1/invites/{OPEN_LINK}/accept"),
        ("zed", "zed@demo.edu"),
        None,
    );
    assert_eq!(status, 201);
    let (status, _) = api(
        port,
        "POST",
        "/v1/redemptions",
        ("ann", "ann@demo.edu"),
        Some(&format!(r#"{{"code":"{GOOD}"}}"#)),
    );
    assert_eq!(status, 201);
    let mut b = browser(&server, "invite-states", false).await;

    b.sign_in_as("bob@demo.edu").await;
    for (token, state) in [
        (EXPIRED_INVITE, "expired"),
        (REVOKED_INVITE, "revoked"),
        (OPEN_LINK, "used"),
        ("A".repeat(43).as_str(), "not-found"),
        ("nonsense", "not-found"),
        (FULL_LINK, "no-seats"),
        (DOMAIN_LINK, "domain-not-allowed"),
        (OLD_LINK, "license-expired"),
    ] {
        b.open(&format!("/invite/{token}")).await;
        b.wait_state("invite", state).await;
        b.shot(state).await;
        b.axe().await;
    }
    let expired = b.text("main").await;
    assert!(!expired.is_empty());
    b.open(&format!("/invite/{EXPIRED_INVITE}")).await;
    b.wait_state("invite", "expired").await;
    let text = b.text("main").await;
    assert!(
        text.contains("31 January 2026"),
        "the expiry date is shown: {text}"
    );

    // Ann joins with the code: any open link then says she is a member.
    b.sign_in_as("ann@demo.edu").await;
    activate(&mut b, GOOD).await;
    b.wait_state("activate", "success").await;
    b.open(&format!("/invite/{OPEN_LINK_2}")).await;
    b.wait_state("invite", "member").await;
    b.shot("member").await;

    // An unverified address cannot accept.
    b.open("/").await;
    b.client
        .execute("localStorage.clear(); return true;", vec![])
        .await
        .expect("clear");
    b.open(&format!("/invite/{CAROL_INVITE}")).await;
    b.wait_state("invite", "signed-out").await;
    b.click("main #sign-in").await;
    b.sign_in_form("carol@demo.edu", false, None).await;
    b.wait_state("invite", "email-not-verified").await;
    b.shot("email-not-verified").await;
    b.axe().await;
    b.close().await;
}

/// A portal configured to send the access token, against a provider whose
/// access tokens carry no email (Cognito's shape, which the development
/// sign-in copies): the invite page and Activate Product say that the
/// sign-in passed no address on, not that the user must verify theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_sending_access_tokens_says_the_sign_in_passed_no_email() {
    let (server, _seed) = devserver(
        &seed(),
        Store::Memory,
        &[("PORTAL_API_TOKEN", "access_token")],
    );
    let mut b = browser(&server, "token-without-email", true).await;
    b.open(&format!("/invite/{BOB_INVITE}")).await;
    b.wait_state("invite", "signed-out").await;
    b.click("main #sign-in").await;
    b.sign_in_form("bob@demo.edu", true, None).await;
    b.wait_state("invite", "token-without-email").await;
    b.shot("invite").await;
    b.fits_the_screen().await;
    b.axe().await;
    assert!(b.count("main #sign-in-again").await == 1);
    refused(&mut b, GOOD, "TOKEN_WITHOUT_EMAIL").await;
    assert!(
        b.text("#activate-error")
            .await
            .contains("did not pass your email address on"),
        "{}",
        b.text("#activate-error").await
    );
    assert!(b.count("#activate-error #sign-in-again").await == 1);
    b.shot("activate").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_url_session_expired_mid_flow_returns_to_the_same_step() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let mut b = browser(&server, "invite-session", false).await;
    b.open(&format!("/invite/{BOB_INVITE}")).await;
    b.wait_state("invite", "signed-out").await;
    b.click("main #sign-in").await;
    b.sign_in_form("bob@demo.edu", true, Some(2)).await;
    b.wait_state("invite", "ready").await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    // The session ended while the page was open: Accept asks to sign in
    // again and comes back to the same invitation, nothing accepted yet.
    b.click("#accept").await;
    b.wait_for("#sign-in-submit").await;
    b.shot("sign-in-again").await;
    b.sign_in_form("bob@demo.edu", true, None).await;
    b.wait_state("invite", "ready").await;
    b.assert_path_ends_with(BOB_INVITE).await;
    b.shot("back-on-the-invitation").await;
    b.click("#accept").await;
    b.wait_state("invite", "accepted").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_invitations_list_contact_owner_limit_and_leave() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[("CONTACT_MAX_MESSAGES", "1")]);
    let mut b = browser(&server, "home", false).await;

    b.sign_in_as("newbie@demo.edu").await;
    b.wait_state("home", "empty").await;
    b.shot("empty").await;
    b.axe().await;

    b.sign_in_as("ann@uni.edu").await;
    b.wait_state("home", "list").await;
    // Ann joins two licenses through the portal.
    activate(&mut b, GOOD).await;
    b.wait_state("activate", "success").await;
    activate(&mut b, DOMAIN).await;
    b.wait_state("activate", "success").await;
    b.click("#nav-home").await;
    b.wait_state("home", "list").await;
    assert_eq!(b.count(".license-card").await, 2);
    assert_eq!(
        b.count(".pending-card").await,
        0,
        "no pending: Ann is a member of lic-campus"
    );
    let text = b.text("main").await;
    for expected in [
        "ATLAS.ti Campus",
        "NVivo Faculty",
        "1 of 5",
        "Joined with a code",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    b.shot("list").await;
    b.axe().await;

    // Contact Owner, then its limit.
    b.click(r#".license-card[data-license-id="lic-uni"] button.contact-owner"#)
        .await;
    b.wait_for("#contact-form").await;
    b.fill("#contact-subject", "More seats next term").await;
    b.fill("#contact-message", "Our lab grows to 14 people in January.")
        .await;
    b.shot("contact-form").await;
    b.axe().await;
    b.click("#contact-send").await;
    b.wait_for(r#"#contact-status[data-result="sent"]"#).await;
    b.shot("contact-sent").await;
    let mail = outbox(server.port);
    let sent = mail.last().expect("a message");
    assert_eq!(sent["replyTo"][0], "ann@uni.edu");
    assert!(!b.text("main").await.contains("owner@demo.edu"));

    b.open("/").await;
    b.wait_state("home", "list").await;
    b.click(r#".license-card[data-license-id="lic-uni"] button.contact-owner"#)
        .await;
    b.fill("#contact-subject", "Again").await;
    b.fill("#contact-message", "One more question.").await;
    b.click("#contact-send").await;
    b.wait_for(r#"#contact-status[data-result="limited"]"#)
        .await;
    b.shot("contact-limited").await;

    // Leave, with a confirmation; the card goes.
    b.open("/").await;
    b.wait_state("home", "list").await;
    b.click(r#".license-card[data-license-id="lic-uni"] button.leave"#)
        .await;
    b.wait_for("dialog#confirm[open]").await;
    b.shot("leave-confirm").await;
    b.click("#confirm-yes").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.count(r#".license-card[data-license-id="lic-uni"]"#).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the card stays after leaving"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.shot("after-leave").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_invitations_accept_a_pending_invitation_in_place() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let mut b = browser(&server, "home-pending", false).await;
    b.sign_in_as("carol@demo.edu").await;
    b.wait_state("home", "list").await;
    assert_eq!(b.count(".pending-card").await, 1);
    b.shot("pending").await;
    b.axe().await;
    b.click(".pending-card button.accept").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b
        .count(r#".license-card[data-license-id="lic-campus"]"#)
        .await
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no license card after accepting"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(b.count(".pending-card").await, 0);
    b.shot("accepted").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_every_page_fits_the_screen() {
    let (server, _seed) = devserver(&seed(), Store::Memory, &[]);
    let mut b = browser(&server, "phone", true).await;
    b.open(&format!("/invite/{BOB_INVITE}")).await;
    b.wait_state("invite", "signed-out").await;
    b.fits_the_screen().await;
    b.shot("invite-signed-out").await;
    b.click("main #sign-in").await;
    b.wait_for("#sign-in-submit").await;
    b.shot("sign-in").await;
    b.sign_in_form("bob@demo.edu", true, None).await;
    b.wait_state("invite", "ready").await;
    b.fits_the_screen().await;
    b.shot("invite-ready").await;
    b.axe().await;
    b.click("#accept").await;
    b.wait_state("invite", "accepted").await;
    b.fits_the_screen().await;
    b.shot("invite-accepted").await;
    b.open("/activate").await;
    b.wait_state("activate", "ready").await;
    b.fits_the_screen().await;
    b.shot("activate").await;
    b.fill("#code", "I-ZZZZ-ZZZZ-ZZZZ").await;
    b.click("#activate-submit").await;
    b.wait_state("activate", "failed").await;
    b.fits_the_screen().await;
    b.shot("activate-failed").await;
    b.open("/").await;
    b.wait_state("home", "list").await;
    b.fits_the_screen().await;
    b.shot("my-invitations").await;
    b.axe().await;
    b.click(".license-card button.contact-owner").await;
    b.wait_for("#contact-form").await;
    b.fits_the_screen().await;
    b.shot("contact-owner").await;
    b.close().await;
}
