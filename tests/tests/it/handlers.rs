//! Real API Gateway HTTP API (v2) events, with JWT authorizer claims,
//! through `lambda_http` and each function's handler. Bad input of any
//! kind gets a 4xx with an error code, never a 5xx.

use integration_tests::events::{Event, error_code, read};
use integration_tests::{Backend, TestApp};
use seat_invitations::http::{Function, handle};
use seat_invitations::service::admin;

async fn call(
    t: &TestApp,
    function: Function,
    event: Event,
) -> (u16, serde_json::Value, Option<String>) {
    let response = handle(&t.app, function, event.request()).await;
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body) = read(&response);
    (status, body, retry_after)
}

async fn demo() -> (TestApp, String, String) {
    let t = TestApp::new(Backend::Memory).await;
    let license = t.license(3).await;
    let code = t.code(&license.license_id, None).await;
    (t, license.license_id.into_string(), code.formatted())
}

fn redeem_event(body: &str) -> Event {
    Event::signed_in("POST", "/v1/redemptions", "ann", "ann@demo.edu").body(body)
}

/// Ann redeems `code` through the redeem-code function.
async fn redeem(t: &TestApp, code: &str) -> (u16, serde_json::Value, Option<String>) {
    call(
        t,
        Function::RedeemCode,
        redeem_event(&format!(r#"{{"code":"{code}"}}"#)),
    )
    .await
}

#[tokio::test]
async fn a_redemption_event_with_jwt_claims_claims_a_seat() {
    let (t, license_id, code) = demo().await;
    let (status, body, _) = redeem(&t, &code).await;
    assert_eq!(status, 201);
    assert_eq!(body["alreadyMember"], false);
    assert_eq!(body["license"]["licenseId"], license_id.as_str());
    assert_eq!(body["license"]["seatsUsed"], 1);
    assert_eq!(body["seat"]["userId"], "ann");
    assert_eq!(body["seat"]["joinedVia"], "code");
    let (status, body, _) = redeem(&t, &code).await;
    assert_eq!(status, 200);
    assert_eq!(body["alreadyMember"], true);
}

#[tokio::test]
async fn a_base64_encoded_body_is_read_like_any_other() {
    let (t, _, code) = demo().await;
    let event = Event::signed_in("POST", "/v1/redemptions", "ann", "ann@demo.edu")
        .base64_body(format!(r#"{{"code":"{code}"}}"#).as_bytes());
    assert_eq!(call(&t, Function::RedeemCode, event).await.0, 201);
}

#[tokio::test]
async fn no_identity_is_401() {
    let (t, _, code) = demo().await;
    let anonymous =
        Event::anonymous("POST", "/v1/redemptions").body(&format!(r#"{{"code":"{code}"}}"#));
    let (status, body, _) = call(&t, Function::RedeemCode, anonymous).await;
    assert_eq!((status, error_code(&body)), (401, "UNAUTHENTICATED"));
    let no_sub = redeem_event(&format!(r#"{{"code":"{code}"}}"#)).without_claim("sub");
    assert_eq!(call(&t, Function::RedeemCode, no_sub).await.0, 401);
    let blank_sub = redeem_event(&format!(r#"{{"code":"{code}"}}"#)).claim("sub", "  ");
    assert_eq!(call(&t, Function::RedeemCode, blank_sub).await.0, 401);
}

#[tokio::test]
async fn email_verified_arrives_as_a_string_and_false_is_refused() {
    let (t, _, code) = demo().await;
    let event = redeem_event(&format!(r#"{{"code":"{code}"}}"#)).claim("email_verified", "false");
    let (status, body, _) = call(&t, Function::RedeemCode, event).await;
    assert_eq!((status, error_code(&body)), (403, "EMAIL_NOT_VERIFIED"));
    let not_an_address = redeem_event(&format!(r#"{{"code":"{code}"}}"#)).claim("email", "[a b]");
    let (status, body, _) = call(&t, Function::RedeemCode, not_an_address).await;
    assert_eq!((status, error_code(&body)), (403, "EMAIL_NOT_VERIFIED"));
    let no_email = redeem_event(&format!(r#"{{"code":"{code}"}}"#)).without_claim("email");
    let (status, body, _) = call(&t, Function::RedeemCode, no_email).await;
    assert_eq!((status, error_code(&body)), (403, "TOKEN_WITHOUT_EMAIL"));
}

/// The portal sends Cognito's ID token (the template's `PORTAL_API_TOKEN`
/// is `id_token` with a created user pool): it carries `email` and
/// `email_verified`, and every route works with it.
#[tokio::test]
async fn a_cognito_id_token_redeems_lists_and_writes_to_the_owner() {
    let (t, license_id, code) = demo().await;
    let id_token =
        |method: &str, path: &str| Event::cognito_id_token(method, path, "ann-sub", "Ann@Demo.edu");
    let redeem = id_token("POST", "/v1/redemptions").body(&format!(r#"{{"code":"{code}"}}"#));
    let (status, body, _) = call(&t, Function::RedeemCode, redeem).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["seat"]["userId"], "ann-sub");
    assert_eq!(body["seat"]["email"], "ann@demo.edu");
    let (status, body, _) = call(
        &t,
        Function::ListInvitations,
        id_token("GET", "/v1/me/invitations"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["licenses"][0]["licenseId"], license_id.as_str());
    let contact = id_token("POST", &format!("/v1/licenses/{license_id}/contact-owner"))
        .body(r#"{"subject":"Hello","message":"Thanks"}"#);
    let (status, body, _) = call(&t, Function::ContactOwner, contact).await;
    assert_eq!(status, 202, "{body}");
}

/// A Cognito access token passes API Gateway's authorizer (its
/// `client_id` counts as the audience) but carries no email: whatever
/// needs the caller's address answers `403 TOKEN_WITHOUT_EMAIL`, which
/// names the token, not the user, as the problem; what needs only the
/// user id works.
#[tokio::test]
async fn a_cognito_access_token_is_refused_where_an_email_is_needed_and_says_why() {
    let (t, license_id, code) = demo().await;
    let access = |method: &str, path: &str| Event::cognito_access_token(method, path, "ann-sub");
    let redeem = access("POST", "/v1/redemptions").body(&format!(r#"{{"code":"{code}"}}"#));
    let (status, body, _) = call(&t, Function::RedeemCode, redeem).await;
    assert_eq!((status, error_code(&body)), (403, "TOKEN_WITHOUT_EMAIL"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ID token")),
        "{body}"
    );
    assert_eq!(t.seats_used(&license_id.as_str().into()).await, 0);

    let token = t.invitation(&license_id.as_str().into(), None).await;
    let preview = access("GET", &format!("/v1/invites/{}", token.expose()));
    let (status, body, _) = call(&t, Function::AcceptInvite, preview).await;
    assert_eq!(status, 200);
    assert_eq!(body["viewer"]["blocker"], "TOKEN_WITHOUT_EMAIL");
    let accept = access("POST", &format!("/v1/invites/{}/accept", token.expose()));
    let (status, body, _) = call(&t, Function::AcceptInvite, accept).await;
    assert_eq!((status, error_code(&body)), (403, "TOKEN_WITHOUT_EMAIL"));

    // My Invitations needs only the user id: no pending invitations are
    // found without an address, but the call succeeds.
    let (status, body, _) = call(
        &t,
        Function::ListInvitations,
        access("GET", "/v1/me/invitations"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["licenses"], serde_json::json!([]));

    // The owner's admin routes go by `sub` alone.
    let owner =
        Event::cognito_access_token("GET", &format!("/v1/licenses/{license_id}"), "owner-1");
    assert_eq!(call(&t, Function::LicenseAdmin, owner).await.0, 200);
}

#[tokio::test]
async fn bad_bodies_are_invalid_requests() {
    let (t, _, _) = demo().await;
    let huge = format!(r#"{{"code":"{}"}}"#, "A".repeat(70_000));
    for body in [
        "",
        "   ",
        "nope",
        "[1,2]",
        "\"I-7KQ2-M9TX-4HCD\"",
        "{}",
        r#"{"code":12}"#,
        r#"{"code":null}"#,
        "{\"code\":",
        huge.as_str(),
    ] {
        let (status, response, _) = call(&t, Function::RedeemCode, redeem_event(body)).await;
        assert_eq!(
            (status, error_code(&response)),
            (400, "INVALID_REQUEST"),
            "body {:.40}",
            body
        );
        assert!(
            response["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let binary = Event::signed_in("POST", "/v1/redemptions", "ann", "ann@demo.edu")
        .base64_body(&[0xff, 0xfe, 0x00]);
    assert_eq!(call(&t, Function::RedeemCode, binary).await.0, 400);
}

#[tokio::test]
async fn malformed_codes_are_code_not_found() {
    let (t, _, _) = demo().await;
    for code in [
        "",
        "I-",
        "💥",
        "I-7KQ2-M9TX-4HCU",
        "x".repeat(10_000).as_str(),
    ] {
        let body = serde_json::json!({ "code": code }).to_string();
        let (status, response, _) = call(&t, Function::RedeemCode, redeem_event(&body)).await;
        assert_eq!((status, error_code(&response)), (404, "CODE_NOT_FOUND"));
    }
}

#[tokio::test]
async fn failed_redemptions_end_in_429_with_retry_after() {
    let (t, _, _) = demo().await;
    for _ in 0..10 {
        assert_eq!(redeem(&t, "I-0000-0000-0000").await.0, 404);
    }
    let (status, body, retry_after) = redeem(&t, "I-0000-0000-0000").await;
    assert_eq!((status, error_code(&body)), (429, "TOO_MANY_ATTEMPTS"));
    assert_eq!(retry_after.as_deref(), Some("900"));
}

#[tokio::test]
async fn unknown_routes_methods_and_foreign_routes_are_4xx() {
    let (t, _, _) = demo().await;
    let cases = [
        (
            Function::RedeemCode,
            "GET",
            "/v1/redemptions",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Function::RedeemCode,
            "POST",
            "/v1/nothing",
            404,
            "ROUTE_NOT_FOUND",
        ),
        (Function::RedeemCode, "POST", "/", 404, "ROUTE_NOT_FOUND"),
        (
            Function::RedeemCode,
            "GET",
            "/v1/me/invitations",
            404,
            "ROUTE_NOT_FOUND",
        ),
        (
            Function::ListInvitations,
            "POST",
            "/v1/redemptions",
            404,
            "ROUTE_NOT_FOUND",
        ),
        (
            Function::AcceptInvite,
            "PUT",
            "/v1/invites/abc/accept",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Function::ContactOwner,
            "GET",
            "/v1/licenses/x/contact-owner",
            405,
            "METHOD_NOT_ALLOWED",
        ),
    ];
    for (function, method, path, want_status, want_code) in cases {
        let event = Event::signed_in(method, path, "ann", "ann@demo.edu");
        let (status, body, _) = call(&t, function, event).await;
        assert_eq!(
            (status, error_code(&body)),
            (want_status, want_code),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_405_names_the_methods_of_the_path_in_allow() {
    let (t, _, _) = demo().await;
    for (method, path, allow) in [
        ("GET", "/v1/redemptions", Some("POST")),
        ("TRACE", "/v1/invites/abc", Some("GET")),
        ("PUT", "/v1/licenses/x/codes", Some("GET, POST")),
        ("DELETE", "/v1/licenses/x/invitations", Some("GET, POST")),
        ("POST", "/v1/licenses/x/seats/ann", Some("DELETE")),
        ("GET", "/v1/nothing", None),
    ] {
        let event = Event::anonymous(method, path);
        let response = handle(&t.app, Function::All, event.request()).await;
        let header = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok());
        assert_eq!(header, allow, "{method} {path}");
        let want = if allow.is_some() { 405 } else { 404 };
        assert_eq!(response.status().as_u16(), want, "{method} {path}");
    }
}

#[tokio::test]
async fn a_path_segment_over_200_bytes_is_route_not_found() {
    let (t, _, _) = demo().await;
    let long = "x".repeat(201);
    for path in [
        format!("/v1/invites/{long}"),
        format!("/v1/licenses/{long}/codes"),
        format!("/v1/licenses/lic/seats/{long}"),
    ] {
        let event = Event::signed_in("GET", &path, "owner-1", "owner@demo.edu");
        let (status, body, _) = call(&t, Function::All, event).await;
        assert_eq!((status, error_code(&body)), (404, "ROUTE_NOT_FOUND"));
    }
}

#[tokio::test]
async fn a_stage_prefix_in_the_path_is_ignored() {
    let (t, _, code) = demo().await;
    let event = Event::signed_in("POST", "/prod/v1/redemptions", "ann", "ann@demo.edu")
        .body(&format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(call(&t, Function::RedeemCode, event).await.0, 201);
}

#[tokio::test]
async fn invite_routes_answer_through_the_accept_invite_function() {
    let t = TestApp::new(Backend::Memory).await;
    let license = t.license(3).await;
    let token = t
        .invitation(&license.license_id, Some("bob@demo.edu"))
        .await;
    let path = format!("/v1/invites/{}", token.expose());
    let invite_call = async |method: &str, path: &str, who: &str| {
        let event = Event::signed_in(method, path, who, &format!("{who}@demo.edu"));
        call(&t, Function::AcceptInvite, event).await
    };
    let (status, body, _) = invite_call("GET", &path, "eve").await;
    assert_eq!(status, 200);
    assert_eq!(body["invitation"]["email"], "b***@demo.edu");
    assert_eq!(body["license"]["name"], "ATLAS.ti Campus");
    assert!(!body.to_string().contains("owner@demo.edu"));
    let (status, body, _) = invite_call("POST", &format!("{path}/accept"), "eve").await;
    assert_eq!((status, error_code(&body)), (403, "INVITE_EMAIL_MISMATCH"));
    let (status, body, _) = invite_call("POST", &format!("{path}/accept"), "bob").await;
    assert_eq!(status, 201);
    assert_eq!(body["seat"]["joinedVia"], "invite");
    let (status, body, _) = invite_call("POST", &format!("{path}/decline"), "bob").await;
    assert_eq!((status, error_code(&body)), (409, "INVITE_ALREADY_USED"));
    for bad in [
        "/v1/invites/short",
        "/v1/invites/%00%00/accept",
        "/v1/invites/../../etc/passwd",
    ] {
        let (status, _, _) = invite_call("GET", bad, "bob").await;
        assert!((400..500).contains(&status), "{bad}: {status}");
    }
}

#[tokio::test]
async fn my_invitations_validates_limit_and_cursor() {
    let (t, _, code) = demo().await;
    redeem(&t, &code).await;
    let list = |query: &str| {
        Event::signed_in(
            "GET",
            &format!("/v1/me/invitations{query}"),
            "ann",
            "ann@demo.edu",
        )
    };
    let (status, body, _) = call(&t, Function::ListInvitations, list("")).await;
    assert_eq!(status, 200);
    assert_eq!(body["licenses"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["licenses"][0]["role"], "member");
    assert!(body["nextCursor"].is_null());
    assert!(body["pending"].is_array());
    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=abc",
        "?limit=-1",
        "?cursor=garbage",
        "?cursor=eyJ2IjoxfQ",
    ] {
        let (status, body, _) = call(&t, Function::ListInvitations, list(query)).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "INVALID_REQUEST"),
            "{query}"
        );
    }
    assert_eq!(
        call(&t, Function::ListInvitations, list("?limit=100"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn leaving_answers_204_and_204_again_but_404_to_a_stranger() {
    let (t, license_id, code) = demo().await;
    redeem(&t, &code).await;
    let leave = || {
        Event::signed_in(
            "DELETE",
            &format!("/v1/me/licenses/{license_id}"),
            "ann",
            "ann@demo.edu",
        )
    };
    let response = handle(&t.app, Function::ListInvitations, leave().request()).await;
    assert_eq!(response.status().as_u16(), 204);
    // A repeat, as after a lost answer, is not told "no such license".
    let response = handle(&t.app, Function::ListInvitations, leave().request()).await;
    assert_eq!(response.status().as_u16(), 204);
    let stranger = Event::signed_in(
        "DELETE",
        &format!("/v1/me/licenses/{license_id}"),
        "bob",
        "bob@demo.edu",
    );
    let (status, body, _) = call(&t, Function::ListInvitations, stranger).await;
    assert_eq!((status, error_code(&body)), (404, "LICENSE_NOT_FOUND"));
}

#[tokio::test]
async fn contact_owner_validates_and_hides_the_owner() {
    let (t, license_id, code) = demo().await;
    redeem(&t, &code).await;
    let path = format!("/v1/licenses/{license_id}/contact-owner");
    let send = |body: &str| Event::signed_in("POST", &path, "ann", "ann@demo.edu").body(body);
    let long_subject = serde_json::json!({"subject": "s".repeat(151), "message": "m"}).to_string();
    let long_message =
        serde_json::json!({"subject": "s", "message": "m".repeat(5_001)}).to_string();
    for body in [
        r#"{}"#,
        r#"{"subject":"Hi"}"#,
        r#"{"subject":"","message":"m"}"#,
        r#"{"subject":"a\nb","message":"m"}"#,
        long_subject.as_str(),
        long_message.as_str(),
        r#"{"subject":1,"message":"m"}"#,
    ] {
        let (status, response, _) = call(&t, Function::ContactOwner, send(body)).await;
        assert_eq!(
            (status, error_code(&response)),
            (400, "INVALID_REQUEST"),
            "{:.60}",
            body
        );
    }
    let (status, body, _) = call(
        &t,
        Function::ContactOwner,
        send(r#"{"subject":"Hi","message":"Hello"}"#),
    )
    .await;
    assert_eq!(status, 202);
    assert!(body["messageId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(!body.to_string().contains("owner@demo.edu"));
    let stranger = Event::signed_in("POST", &path, "eve", "eve@demo.edu")
        .body(r#"{"subject":"Hi","message":"Hello"}"#);
    let (status, body, _) = call(&t, Function::ContactOwner, stranger).await;
    assert_eq!((status, error_code(&body)), (404, "LICENSE_NOT_FOUND"));
}

async fn arbitrary_input_never_causes_a_5xx(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license_id = t.license(3).await.license_id;
    let bodies = [
        "",
        "{",
        "null",
        "[]",
        "{\"code\":{}}",
        "{\"code\":\"\\u0000\"}",
        "{\"emails\":[\"\\u0000@x.y\"]}",
        "\u{feff}{}",
        "{\"a\":1e999}",
    ];
    let long = "L".repeat(190);
    let huge = "H".repeat(3_000);
    let ids = [
        license_id.as_str(),
        "%23x",
        "LIC%23x#SEATS#0",
        "ü-é",
        long.as_str(),
        huge.as_str(),
    ];
    let mut paths = vec![
        "/v1/redemptions".to_owned(),
        "/v1/me/invitations?limit=1&cursor=%00".to_owned(),
        "/v1/licenses".to_owned(),
    ];
    for id in ids {
        paths.extend([
            format!("/v1/invites/{id}"),
            format!("/v1/invites/{id}/accept"),
            format!("/v1/me/licenses/{id}"),
            format!("/v1/licenses/{id}"),
            format!("/v1/licenses/{id}/contact-owner"),
            format!("/v1/licenses/{id}/codes"),
            format!("/v1/licenses/{id}/codes/{id}"),
            format!("/v1/licenses/{id}/invitations"),
            format!("/v1/licenses/{id}/invitations/{id}/resend"),
            format!("/v1/licenses/{id}/seats/{id}"),
            format!("/v1/licenses/{id}/events?cursor={id}"),
        ]);
    }
    for (sub, email) in [
        ("ann", "ann@demo.edu"),
        ("owner-1", "owner@demo.edu"),
        (long.as_str(), "x@demo.edu"),
    ] {
        for method in ["GET", "POST", "DELETE"] {
            for path in &paths {
                for body in bodies {
                    let event = Event::signed_in(method, path, sub, email).body(body);
                    let (status, response, _) = call(&t, Function::All, event).await;
                    assert!(
                        (200..500).contains(&status),
                        "{sub} {method} {path:.80} {body:?}: {status} {response}"
                    );
                    if status >= 400 {
                        assert!(
                            !error_code(&response).is_empty(),
                            "{method} {path:.80}: no error code"
                        );
                    }
                }
            }
        }
    }
}

integration_tests::on_both_stores!(arbitrary_input_never_causes_a_5xx);

fn admin_routes(license_id: &str) -> Vec<(Function, &'static str, String, Option<&'static str>)> {
    let l = license_id;
    vec![
        (
            Function::LicenseAdmin,
            "GET",
            format!("/v1/licenses/{l}"),
            None,
        ),
        (
            Function::LicenseAdmin,
            "POST",
            format!("/v1/licenses/{l}/codes"),
            Some("{}"),
        ),
        (
            Function::LicenseAdmin,
            "GET",
            format!("/v1/licenses/{l}/codes"),
            None,
        ),
        (
            Function::LicenseAdmin,
            "DELETE",
            format!("/v1/licenses/{l}/codes/code_x"),
            None,
        ),
        (
            Function::InvitationAdmin,
            "POST",
            format!("/v1/licenses/{l}/invitations"),
            Some(r#"{"emails":["x@demo.edu"]}"#),
        ),
        (
            Function::InvitationAdmin,
            "POST",
            format!("/v1/licenses/{l}/invitations"),
            None,
        ),
        (
            Function::InvitationAdmin,
            "GET",
            format!("/v1/licenses/{l}/invitations?status=pending"),
            None,
        ),
        (
            Function::InvitationAdmin,
            "DELETE",
            format!("/v1/licenses/{l}/invitations/inv_x"),
            None,
        ),
        (
            Function::InvitationAdmin,
            "POST",
            format!("/v1/licenses/{l}/invitations/inv_x/resend"),
            None,
        ),
        (
            Function::LicenseAdmin,
            "GET",
            format!("/v1/licenses/{l}/seats"),
            None,
        ),
        (
            Function::LicenseAdmin,
            "DELETE",
            format!("/v1/licenses/{l}/seats/ann"),
            None,
        ),
        (
            Function::LicenseAdmin,
            "GET",
            format!("/v1/licenses/{l}/events"),
            None,
        ),
    ]
}

#[tokio::test]
async fn every_admin_route_refuses_members_and_strangers_with_404() {
    let (t, license_id, code) = demo().await;
    redeem(&t, &code).await;
    for (function, method, path, body) in admin_routes(&license_id) {
        for (sub, email) in [("ann", "ann@demo.edu"), ("eve", "eve@demo.edu")] {
            let mut event = Event::signed_in(method, &path, sub, email);
            if let Some(body) = body {
                event = event.body(body);
            }
            let (status, response, _) = call(&t, function, event).await;
            assert_eq!(
                (status, error_code(&response)),
                (404, "LICENSE_NOT_FOUND"),
                "{sub}: {method} {path}"
            );
        }
    }
    assert!(t.outbox.messages().is_empty());
    let (status, body, _) = call(
        &t,
        Function::LicenseAdmin,
        Event::signed_in("GET", "/v1/licenses", "ann", "ann@demo.edu"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["licenses"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn admin_routes_answer_the_owner_through_their_functions() {
    let (t, license_id, _) = demo().await;
    let owner =
        |method: &str, path: &str| Event::signed_in(method, path, "owner-1", "owner@demo.edu");
    let l = &license_id;
    let (status, body, _) = call(
        &t,
        Function::LicenseAdmin,
        owner("POST", &format!("/v1/licenses/{l}/codes")).body(r#"{"maxUses":5,"note":"Hall A"}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let full_code = body["code"].as_str().unwrap_or_default().to_owned();
    let (status, body, _) = call(
        &t,
        Function::LicenseAdmin,
        owner("GET", &format!("/v1/licenses/{l}/codes")),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        !body.to_string().contains(&full_code[2..]),
        "listings never show the full code"
    );
    let (status, body, _) = call(
        &t,
        Function::InvitationAdmin,
        owner("POST", &format!("/v1/licenses/{l}/invitations"))
            .body(r#"{"emails":["bob@demo.edu"],"expiresInDays":7}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["invitations"][0]["delivery"], "queued");
    let (status, body, _) = call(
        &t,
        Function::InvitationAdmin,
        owner("POST", &format!("/v1/licenses/{l}/invitations")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["url"].as_str().is_some_and(|u| u.contains("/invite/")));
    let (status, body, _) = call(
        &t,
        Function::LicenseAdmin,
        owner("GET", &format!("/v1/licenses/{l}/events?limit=2")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["events"].as_array().map(Vec::len), Some(2));
    assert!(body["nextCursor"].is_string());
    let (status, body, _) = call(&t, Function::LicenseAdmin, owner("GET", "/v1/licenses")).await;
    assert_eq!(
        (status, body["licenses"][0]["role"].as_str()),
        (200, Some("owner"))
    );
    // The other admin function does not serve these routes.
    let (status, _, _) = call(
        &t,
        Function::InvitationAdmin,
        owner("GET", &format!("/v1/licenses/{l}/codes")),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_admin_input_is_invalid_request() {
    let (t, license_id, _) = demo().await;
    let l = &license_id;
    let owner =
        |method: &str, path: String| Event::signed_in(method, &path, "owner-1", "owner@demo.edu");
    let too_many = serde_json::json!({"emails": (0..101).map(|i| format!("u{i}@demo.edu")).collect::<Vec<_>>()}).to_string();
    let cases = [
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"maxUses":0}"#),
        ),
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"maxUses":-3}"#),
        ),
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"maxUses":99999999999}"#),
        ),
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"expiresAt":"yesterday"}"#),
        ),
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes"))
                .body(r#"{"expiresAt":"2001-01-01T00:00:00Z"}"#),
        ),
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"surprise":1}"#),
        ),
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body("[]"),
        ),
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations"))
                .body(r#"{"emails":["ok@demo.edu","nope"]}"#),
        ),
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations")).body(&too_many),
        ),
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations")).body(r#"{"emails":"a@b.edu"}"#),
        ),
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations")).body(r#"{"expiresInDays":0}"#),
        ),
        (
            Function::InvitationAdmin,
            owner("GET", format!("/v1/licenses/{l}/invitations?status=lost")),
        ),
        (
            Function::LicenseAdmin,
            owner("GET", format!("/v1/licenses/{l}/seats?cursor=abc")),
        ),
        (
            Function::LicenseAdmin,
            owner("GET", format!("/v1/licenses/{l}/events?limit=0")),
        ),
        // Not integers, though numbers.
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"maxUses":2.5}"#),
        ),
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations")).body(r#"{"expiresInDays":7.5}"#),
        ),
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations")).body(r#"{"expiresInDays":1e3}"#),
        ),
        (
            Function::LicenseAdmin,
            owner("GET", format!("/v1/licenses/{l}/seats?limit=2.5")),
        ),
        (
            Function::LicenseAdmin,
            owner("GET", format!("/v1/licenses/{l}/seats?limit=2.")),
        ),
        // A body that is there must be JSON: whitespace is not (only no
        // body at all reads as `{}`).
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations")).body("\r"),
        ),
        (
            Function::InvitationAdmin,
            owner("POST", format!("/v1/licenses/{l}/invitations")).body(" \n\t"),
        ),
        (
            Function::LicenseAdmin,
            owner("POST", format!("/v1/licenses/{l}/codes")).body("\r\n"),
        ),
    ];
    for (function, event) in cases {
        let (status, body, _) = call(&t, function, event).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "INVALID_REQUEST"),
            "{body}"
        );
    }
    assert!(
        t.outbox.messages().is_empty(),
        "nothing sent for a refused call"
    );
    let owner_1 = integration_tests::user("owner-1", "owner@demo.edu");
    let license_id = seat_invitations::domain::LicenseId::from(l.as_str());
    let invitations = admin::list_invitations(&t.app, &owner_1, &license_id, None, 10, None).await;
    assert!(
        invitations.is_ok_and(|page| page.items.is_empty()),
        "no invitation or link created"
    );
}

#[tokio::test]
async fn integral_numbers_are_integers_however_they_are_written() {
    let (t, license_id, _) = demo().await;
    let l = &license_id;
    let owner =
        |method: &str, path: String| Event::signed_in(method, &path, "owner-1", "owner@demo.edu");
    let (status, body, _) = call(
        &t,
        Function::InvitationAdmin,
        owner("POST", format!("/v1/licenses/{l}/invitations")).body(r#"{"expiresInDays":248.0}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let expires = body["invitation"]["expiresAt"].as_str().unwrap_or_default();
    let created = body["invitation"]["createdAt"].as_str().unwrap_or_default();
    let days = |s: &str| chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp() / 86_400);
    assert_eq!(
        days(expires)
            .ok()
            .zip(days(created).ok())
            .map(|(e, c)| e - c),
        Some(248)
    );
    let (status, body, _) = call(
        &t,
        Function::LicenseAdmin,
        owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"maxUses":3e1}"#),
    )
    .await;
    assert_eq!(
        (status, &body["maxUses"]),
        (201, &serde_json::json!(30)),
        "{body}"
    );
    // Beyond any range: refused by the range check, not misread.
    let (status, body, _) = call(
        &t,
        Function::LicenseAdmin,
        owner("POST", format!("/v1/licenses/{l}/codes")).body(r#"{"maxUses":1e300}"#),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "INVALID_REQUEST"));
    // No body at all still reads as `{}`: an open link, a plain code.
    let (status, body, _) = call(
        &t,
        Function::InvitationAdmin,
        owner("POST", format!("/v1/licenses/{l}/invitations")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = call(
        &t,
        Function::LicenseAdmin,
        owner("POST", format!("/v1/licenses/{l}/codes")).body(""),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body, _) = call(
        &t,
        Function::LicenseAdmin,
        owner("GET", format!("/v1/licenses/{l}/events?limit=2.0")),
    )
    .await;
    assert_eq!(
        (status, body["events"].as_array().map(Vec::len)),
        (200, Some(2))
    );
}
