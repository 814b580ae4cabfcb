//! What the license portal asks of the API, on both stores: the invite
//! preview that tells each viewer what Accept would answer (and changes
//! nothing), the license named in redemption errors the owner can help
//! with, and Contact Owner for someone who holds a code but could not join.

use integration_tests::events::{Event, error_code, read};
use integration_tests::{Backend, TestApp, user};
use seat_invitations::ApiError;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{Caller, InvitationStatus, JoinedVia};
use seat_invitations::http::{Function, handle};
use seat_invitations::service::{admin, contact, invites, redeem};

integration_tests::on_both_stores!(
    the_preview_tells_each_viewer_what_accept_would_answer,
    opening_an_invitation_changes_nothing,
    the_preview_names_the_inviter_but_never_an_address,
    the_preview_follows_the_invitation_through_its_life,
    a_redemption_the_owner_could_help_with_names_the_license,
    a_code_holder_who_could_not_join_may_write_to_the_owner,
    without_a_configured_portal_url_invite_urls_use_the_api_domain,
    my_invitations_accepts_and_declines_by_id_for_the_invitee_only,
);

fn blocker(preview: &invites::Preview) -> Option<&'static str> {
    preview.viewer.blocker
}

async fn the_preview_tells_each_viewer_what_accept_would_answer(backend: Backend) {
    let t = TestApp::new(backend).await;
    let mut builder = t.license_builder(1);
    builder.allowed_email_domains = vec!["uni.edu".into()];
    let license = t.create(builder).await;
    let for_bob = t.invitation(&license.license_id, Some("bob@uni.edu")).await;
    let open = t.invitation(&license.license_id, None).await;

    let bob = user("bob", "bob@uni.edu");
    let ready = invites::preview(&t.app, &bob, for_bob.expose())
        .await
        .expect("preview");
    assert_eq!(blocker(&ready), None);
    assert_eq!(ready.license.seats_total, 1);
    assert_eq!(ready.license.seats_used, 0);
    assert_eq!(ready.viewer.email.as_deref(), Some("bob@uni.edu"));
    assert!(!ready.viewer.member && !ready.viewer.accepted_this);

    let eve = user("eve", "eve@uni.edu");
    let wrong = invites::preview(&t.app, &eve, for_bob.expose())
        .await
        .expect("preview");
    assert_eq!(blocker(&wrong), Some("INVITE_EMAIL_MISMATCH"));
    assert_eq!(wrong.invitation.email.as_deref(), Some("b***@uni.edu"));

    let outsider = user("out", "out@gmail.example");
    let domain = invites::preview(&t.app, &outsider, open.expose())
        .await
        .expect("preview");
    assert_eq!(blocker(&domain), Some("EMAIL_DOMAIN_NOT_ALLOWED"));
    assert_eq!(
        domain.license.allowed_email_domains,
        vec!["uni.edu".to_owned()]
    );

    let unverified = Caller {
        email_verified: false,
        ..user("bob", "bob@uni.edu")
    };
    let preview = invites::preview(&t.app, &unverified, for_bob.expose())
        .await
        .expect("preview");
    assert_eq!(blocker(&preview), Some("EMAIL_NOT_VERIFIED"));
    // A token without any email claim (a Cognito access token) is the
    // deployment's mistake, and says so.
    let no_email_claim = Caller {
        email: None,
        email_verified: false,
        email_claimed: false,
        ..user("bob", "bob@uni.edu")
    };
    let preview = invites::preview(&t.app, &no_email_claim, for_bob.expose())
        .await
        .expect("preview");
    assert_eq!(blocker(&preview), Some("TOKEN_WITHOUT_EMAIL"));

    // Every blocker is what Accept then answers.
    assert_eq!(
        invites::accept(&t.app, &no_email_claim, for_bob.expose())
            .await
            .err(),
        Some(ApiError::TokenWithoutEmail)
    );
    assert_eq!(
        invites::accept(&t.app, &eve, for_bob.expose()).await.err(),
        Some(ApiError::InviteEmailMismatch)
    );
    assert_eq!(
        invites::accept(&t.app, &outsider, open.expose())
            .await
            .err(),
        Some(ApiError::EmailDomainNotAllowed)
    );

    // Bob takes the only seat: the open link now finds none for Carol.
    invites::accept(&t.app, &bob, for_bob.expose())
        .await
        .expect("bob joins");
    let carol = user("carol", "carol@uni.edu");
    let full = invites::preview(&t.app, &carol, open.expose())
        .await
        .expect("preview");
    assert_eq!(blocker(&full), Some("NO_SEATS_AVAILABLE"));
    assert_eq!(full.license.seats_used, 1);
    assert_eq!(
        invites::accept(&t.app, &carol, open.expose()).await.err(),
        Some(ApiError::NoSeatsAvailable)
    );

    // Bob sees his own accepted invitation as his, with no blocker.
    let his = invites::preview(&t.app, &bob, for_bob.expose())
        .await
        .expect("preview");
    assert_eq!(his.invitation.status, InvitationStatus::Accepted);
    assert!(his.viewer.member && his.viewer.accepted_this);
    assert_eq!(his.viewer.joined_via, Some(JoinedVia::Invite));
    assert_eq!(blocker(&his), None);
    // The open link is not how Bob joined, but Accept would give him his seat.
    let other = invites::preview(&t.app, &bob, open.expose())
        .await
        .expect("preview");
    assert!(other.viewer.member && !other.viewer.accepted_this);
    assert_eq!(blocker(&other), None);
    assert!(
        invites::accept(&t.app, &bob, open.expose())
            .await
            .expect("again")
            .already_member
    );
}

async fn opening_an_invitation_changes_nothing(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(3).await;
    let token = t.invitation(&license.license_id, Some("bob@uni.edu")).await;
    let bob = user("bob", "bob@uni.edu");
    for _ in 0..3 {
        invites::preview(&t.app, &bob, token.expose())
            .await
            .expect("preview");
    }
    assert_eq!(t.seats_used(&license.license_id).await, 0);
    let after = invites::preview(&t.app, &bob, token.expose())
        .await
        .expect("preview");
    assert_eq!(after.invitation.status, InvitationStatus::Pending);
    assert!(!after.viewer.member);
    assert_eq!(
        t.store()
            .seat(&"bob".into(), &license.license_id)
            .await
            .expect("read")
            .map(|s| s.user_id),
        None
    );
}

async fn the_preview_names_the_inviter_but_never_an_address(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(3).await;
    let owner = user("owner-1", "owner@demo.edu");
    let link = admin::create_link(&t.app, &owner, &license.license_id, Some(7))
        .await
        .expect("link");
    let token = link.url.rsplit('/').next().expect("token").to_owned();
    let preview = invites::preview(&t.app, &user("ann", "ann@demo.edu"), &token)
        .await
        .expect("preview");
    assert_eq!(preview.invited_by.as_deref(), Some("User owner-1"));
    let json = serde_json::to_string(&preview).expect("json");
    assert!(!json.contains("owner@demo.edu"), "{json}");
    assert!(
        json.contains(r#""viewer":{"email":"ann@demo.edu""#),
        "{json}"
    );
}

async fn the_preview_follows_the_invitation_through_its_life(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(3).await;
    let bob = user("bob", "bob@uni.edu");
    let expired = t
        .invitation_with(
            &license.license_id,
            Some("bob@uni.edu"),
            Some(t.now() - chrono::TimeDelta::days(1)),
            InvitationStatus::Pending,
        )
        .await;
    let preview = invites::preview(&t.app, &bob, expired.expose())
        .await
        .expect("preview");
    assert_eq!(preview.invitation.status, InvitationStatus::Expired);
    assert_eq!(blocker(&preview), Some("INVITE_EXPIRED"));

    let revoked = t
        .invitation_with(
            &license.license_id,
            Some("bob@uni.edu"),
            None,
            InvitationStatus::Revoked,
        )
        .await;
    let preview = invites::preview(&t.app, &bob, revoked.expose())
        .await
        .expect("preview");
    assert_eq!(blocker(&preview), Some("INVITE_REVOKED"));

    let declined = t.invitation(&license.license_id, Some("bob@uni.edu")).await;
    invites::decline(&t.app, &bob, declined.expose())
        .await
        .expect("declined");
    let preview = invites::preview(&t.app, &bob, declined.expose())
        .await
        .expect("preview");
    assert_eq!(preview.invitation.status, InvitationStatus::Declined);
    assert_eq!(blocker(&preview), Some("INVITE_ALREADY_USED"));

    // Used by someone else: Ann took the open link.
    let open = t.invitation(&license.license_id, None).await;
    invites::accept(&t.app, &user("ann", "ann@demo.edu"), open.expose())
        .await
        .expect("ann joins");
    let preview = invites::preview(&t.app, &bob, open.expose())
        .await
        .expect("preview");
    assert_eq!(preview.invitation.status, InvitationStatus::Accepted);
    assert!(!preview.viewer.accepted_this);
    assert_eq!(blocker(&preview), Some("INVITE_ALREADY_USED"));

    // A member through a code sees any open invitation as "already a member".
    let code = t.code(&license.license_id, None).await;
    redeem::redeem(&t.app, &bob, &code.formatted())
        .await
        .expect("bob joins");
    let fresh = t.invitation(&license.license_id, None).await;
    let preview = invites::preview(&t.app, &bob, fresh.expose())
        .await
        .expect("preview");
    assert!(preview.viewer.member);
    assert_eq!(preview.viewer.joined_via, Some(JoinedVia::Code));
    assert_eq!(blocker(&preview), None);

    let unknown = invites::preview(&t.app, &bob, &"A".repeat(43)).await.err();
    assert_eq!(unknown, Some(ApiError::InviteNotFound));
    let malformed = invites::preview(&t.app, &bob, "not-a-token").await.err();
    assert_eq!(malformed, Some(ApiError::InviteNotFound));
}

async fn call(t: &TestApp, event: Event) -> (u16, serde_json::Value) {
    read(&handle(&t.app, Function::All, event.request()).await)
}

async fn a_redemption_the_owner_could_help_with_names_the_license(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(1).await;
    let code = t.code(&license.license_id, None).await;
    let body = format!(r#"{{"code":"{}"}}"#, code.formatted());
    let ann = Event::signed_in("POST", "/v1/redemptions", "ann", "ann@demo.edu").body(&body);
    assert_eq!(call(&t, ann).await.0, 201);
    let bob = Event::signed_in("POST", "/v1/redemptions", "bob", "bob@demo.edu").body(&body);
    let (status, body) = call(&t, bob).await;
    assert_eq!((status, error_code(&body)), (409, "NO_SEATS_AVAILABLE"));
    assert_eq!(
        body["error"]["license"]["licenseId"],
        license.license_id.as_str()
    );
    assert_eq!(body["error"]["license"]["name"], "ATLAS.ti Campus");
    assert!(!body.to_string().contains("owner@demo.edu"));

    // A code that does not exist names nothing.
    let guess = Event::signed_in("POST", "/v1/redemptions", "bob", "bob@demo.edu")
        .body(r#"{"code":"I-AAAA-BBBB-CCCC"}"#);
    let (status, body) = call(&t, guess).await;
    assert_eq!((status, error_code(&body)), (404, "CODE_NOT_FOUND"));
    assert!(body["error"].get("license").is_none());
}

async fn a_code_holder_who_could_not_join_may_write_to_the_owner(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(0).await;
    let code = t.code(&license.license_id, None).await;
    let other = t.license(1).await;
    let other_code = t.code(&other.license_id, None).await;
    let bob = user("bob", "bob@demo.edu");
    assert_eq!(
        redeem::redeem(&t.app, &bob, &code.formatted()).await.err(),
        Some(ApiError::NoSeatsAvailable)
    );
    let id = &license.license_id;
    // Without the code, or with another license's code: no such license.
    for proof in [
        None,
        Some(other_code.formatted()),
        Some("I-0000-0000-0000".into()),
    ] {
        assert_eq!(
            contact::contact_owner(&t.app, &bob, id, "Seats", "Please", proof.as_deref())
                .await
                .err(),
            Some(ApiError::LicenseNotFound)
        );
    }
    contact::contact_owner(
        &t.app,
        &bob,
        id,
        "Seats",
        "Please add seats",
        Some(&code.formatted()),
    )
    .await
    .expect("sent");
    let sent = t.outbox.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, vec!["owner@demo.edu".to_owned()]);
    assert_eq!(sent[0].reply_to, vec!["bob@demo.edu".to_owned()]);

    // Wrong codes count toward the failed-redemption limit: no guessing here.
    let mut last = None;
    for _ in 0..12 {
        last = contact::contact_owner(&t.app, &bob, id, "S", "M", Some("I-1111-2222-3333"))
            .await
            .err();
    }
    assert!(
        matches!(last, Some(ApiError::TooManyAttempts { .. })),
        "{last:?}"
    );
}

async fn without_a_configured_portal_url_invite_urls_use_the_api_domain(backend: Backend) {
    // As deployed with `PortalBaseUrl` left empty: the portal is served on
    // the API's own domain, which only the request knows.
    let t = TestApp::with(backend, Config::defaults(Profile::Lambda), None).await;
    assert_eq!(t.app.config.portal_base_url, "");
    let license = t.license(3).await;
    let path = format!("/v1/licenses/{}/invitations", license.license_id);
    let event = Event::signed_in("POST", &path, "owner-1", "owner@demo.edu").body("{}");
    let (status, body) = call(&t, event).await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().expect("url");
    assert!(
        url.starts_with("https://id.execute-api.us-east-1.amazonaws.com/invite/"),
        "{url}"
    );
    let hostile = Event::signed_in("POST", &path, "owner-1", "owner@demo.edu")
        .body("{}")
        .domain_name("evil.example:444");
    let (status, body) = call(&t, hostile).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        !body["url"].as_str().expect("url").contains("evil"),
        "{body}"
    );
    // Mailed invitations too: the sender builds the URL from the domain
    // the admin's request came in on, carried in the queued job.
    let mailed = Event::signed_in("POST", &path, "owner-1", "owner@demo.edu")
        .body(r#"{"emails":["bob@demo.edu"]}"#);
    let (status, body) = call(&t, mailed).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(t.deliver().await.sent, 1);
    let text = &t.outbox.messages()[0].text;
    assert!(
        text.contains("https://id.execute-api.us-east-1.amazonaws.com/invite/"),
        "{text}"
    );
}

async fn my_invitations_accepts_and_declines_by_id_for_the_invitee_only(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(3).await;
    t.invitation(&license.license_id, Some("bob@uni.edu")).await;
    t.invitation(&license.license_id, Some("carol@uni.edu"))
        .await;
    let pending_id = |who: &Caller| {
        let app = &t.app;
        let who = who.clone();
        async move {
            let mine = seat_invitations::service::me::my_invitations(app, &who, 50, None)
                .await
                .expect("listed");
            mine.pending[0].invitation.invitation_id.clone()
        }
    };
    let bob = user("bob", "bob@uni.edu");
    let carol = user("carol", "carol@uni.edu");
    let bobs = pending_id(&bob).await;
    let carols = pending_id(&carol).await;
    // Nobody accepts or declines another person's invitation by its id.
    assert_eq!(
        invites::accept_mine(&t.app, &carol, &bobs).await.err(),
        Some(ApiError::InviteNotFound)
    );
    assert_eq!(
        invites::decline_mine(&t.app, &bob, &carols).await.err(),
        Some(ApiError::InviteNotFound)
    );
    let unverified = Caller {
        email_verified: false,
        ..bob.clone()
    };
    assert_eq!(
        invites::accept_mine(&t.app, &unverified, &bobs).await.err(),
        Some(ApiError::EmailNotVerified)
    );
    let claimed = invites::accept_mine(&t.app, &bob, &bobs)
        .await
        .expect("accepted");
    assert!(!claimed.already_member);
    assert_eq!(claimed.seat.joined_via, JoinedVia::Invite);
    assert_eq!(t.seats_used(&license.license_id).await, 1);
    let declined = invites::decline_mine(&t.app, &carol, &carols)
        .await
        .expect("declined");
    assert_eq!(declined.status, InvitationStatus::Declined);
    assert_eq!(t.seats_used(&license.license_id).await, 1);
    // Neither is pending any more.
    assert_eq!(
        invites::accept_mine(&t.app, &carol, &carols).await.err(),
        Some(ApiError::InviteNotFound)
    );

    let path = format!("/v1/me/invitations/{bobs}/accept");
    let again = Event::signed_in("POST", &path, "bob", "bob@uni.edu");
    let (status, body) = call(&t, again).await;
    assert_eq!((status, error_code(&body)), (404, "INVITE_NOT_FOUND"));
}
