//! Mail that cannot be turned into a weapon, on both stores: the
//! per-license invitation-mail quota, the resend cooldown, and addresses
//! suppressed after a bounce or complaint; and the same through the HTTP
//! edge (statuses, `Retry-After`, per-address outcomes).

use std::sync::Arc;

use integration_tests::events::{Event, read};
use integration_tests::{Backend, RefusingOne, TestApp, email, user};
use seat_invitations::ApiError;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{
    Caller, Email, InvitationStatus, LicenseId, Suppression, SuppressionReason,
};
use seat_invitations::http::{Function, handle};
use seat_invitations::mail::Outbox;
use seat_invitations::service::admin::{self, Delivery};
use seat_invitations::service::{contact, mail_events, redeem};

integration_tests::on_both_stores!(
    fifteen_resends_within_the_cooldown_send_one_mail,
    a_bulk_invite_over_the_quota_mails_exactly_the_quota_and_reports_the_rest,
    resends_count_against_the_quota_too,
    a_mail_that_is_not_sent_gives_its_quota_and_cooldown_back,
    concurrent_bulk_invites_never_exceed_the_quota,
    a_suppressed_invitee_is_neither_invited_nor_mailed,
    a_suppressed_owner_is_not_contacted,
    a_bounce_event_stops_mail_to_its_recipients,
);

fn owner() -> Caller {
    user("owner-1", "owner@demo.edu")
}

fn with_limits(quota: u32, cooldown_secs: u64) -> Config {
    let mut config = Config::defaults(Profile::Local);
    config.limits.invitation_mail_quota = quota;
    config.limits.resend_cooldown_secs = cooldown_secs;
    config
}

fn addresses(n: usize, tag: &str) -> Vec<Email> {
    (0..n)
        .map(|i| email(&format!("{tag}{i}@demo.edu")))
        .collect()
}

pub(crate) async fn suppress(t: &TestApp, address: &str, reason: SuppressionReason) {
    t.store()
        .suppress(&Suppression {
            address: email(address).hash(),
            reason,
            at: t.now(),
        })
        .await
        .expect("suppressed");
}

async fn pending(t: &TestApp, license_id: &LicenseId) -> usize {
    admin::list_invitations(
        &t.app,
        &owner(),
        license_id,
        Some(InvitationStatus::Pending),
        100,
        None,
    )
    .await
    .expect("listing")
    .items
    .len()
}

async fn fifteen_resends_within_the_cooldown_send_one_mail(backend: Backend) {
    let t = TestApp::with(backend, with_limits(500, 600), None).await;
    let id = t.license(5).await.license_id;
    let outcome = admin::invite_emails(&t.app, &owner(), &id, &[email("bob@demo.edu")], None)
        .await
        .expect("invited");
    let invitation_id = outcome[0].invitation_id.clone().expect("an invitation");
    t.deliver().await;
    assert_eq!(t.outbox.messages().len(), 1, "the invitation itself");
    let mut sent = 0;
    let mut too_soon = Vec::new();
    for _ in 0..15 {
        match admin::resend_invitation(&t.app, &owner(), &id, &invitation_id).await {
            Ok(_) => sent += 1,
            Err(ApiError::ResendTooSoon { retry_after_secs }) => too_soon.push(retry_after_secs),
            Err(other) => panic!("unexpected {other:?}"),
        }
        t.advance_secs(1);
    }
    assert_eq!((sent, too_soon.len()), (1, 14));
    assert_eq!(
        too_soon[0], 599,
        "Retry-After counts down to the end of the cooldown"
    );
    assert_eq!(t.outbox.messages().len(), 2, "one resend mail, not 15");
    t.advance_secs(600);
    admin::resend_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("after the cooldown");
    assert_eq!(t.outbox.messages().len(), 3);
}

async fn a_bulk_invite_over_the_quota_mails_exactly_the_quota_and_reports_the_rest(
    backend: Backend,
) {
    let t = TestApp::with(backend, with_limits(3, 600), None).await;
    let id = t.license(50).await.license_id;
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &addresses(5, "s"), None)
        .await
        .expect("partly invited");
    let deliveries: Vec<Delivery> = outcomes.iter().map(|o| o.delivery).collect();
    assert_eq!(
        deliveries,
        [
            Delivery::Queued,
            Delivery::Queued,
            Delivery::Queued,
            Delivery::QuotaExceeded,
            Delivery::QuotaExceeded
        ]
    );
    for refused in &outcomes[3..] {
        assert_eq!(refused.invitation_id, None, "not invited");
        assert_eq!(refused.retry_after, Some(86_400));
    }
    t.deliver().await;
    assert_eq!(t.outbox.messages().len(), 3, "exactly the quota");
    assert_eq!(
        pending(&t, &id).await,
        3,
        "nothing recorded beyond the quota"
    );
    // Nothing left: the next call is refused as a whole.
    t.advance_secs(3_600);
    assert_eq!(
        admin::invite_emails(&t.app, &owner(), &id, &addresses(2, "n"), None)
            .await
            .err(),
        Some(ApiError::InvitationQuotaExceeded {
            retry_after_secs: 82_800
        })
    );
    // Open links send no mail and are not limited by it.
    admin::create_link(&t.app, &owner(), &id, None)
        .await
        .expect("an open link");
    t.advance_secs(82_800);
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &addresses(1, "n"), None)
        .await
        .expect("a new window");
    assert_eq!(outcomes[0].delivery, Delivery::Queued);
}

async fn resends_count_against_the_quota_too(backend: Backend) {
    let t = TestApp::with(backend, with_limits(2, 60), None).await;
    let id = t.license(5).await.license_id;
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &addresses(2, "r"), None)
        .await
        .expect("invited");
    t.deliver().await;
    let invitation_id = outcomes[0].invitation_id.clone().expect("an invitation");
    assert!(matches!(
        admin::resend_invitation(&t.app, &owner(), &id, &invitation_id).await,
        Err(ApiError::InvitationQuotaExceeded { .. })
    ));
    assert_eq!(t.outbox.messages().len(), 2);
    // The refused resend did not use up its cooldown: once the quota
    // allows, it goes through at once.
    t.advance_secs(86_400);
    admin::resend_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("resent");
    assert_eq!(t.outbox.messages().len(), 3);
}

async fn a_mail_that_is_not_sent_gives_its_quota_and_cooldown_back(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    let refusing = Arc::new(RefusingOne {
        refuse: "bad@demo.edu".into(),
        outbox: Arc::new(Outbox::default()),
    });
    let sent = refusing.outbox.clone();
    let broken = TestApp::on_store(
        backend,
        t.app.store.clone(),
        with_limits(1, 600),
        Some(refusing),
    );
    let outcomes = admin::invite_emails(
        &broken.app,
        &owner(),
        &id,
        &[email("bad@demo.edu"), email("good@demo.edu")],
        None,
    )
    .await
    .expect("invited");
    let deliveries: Vec<Delivery> = outcomes.iter().map(|o| o.delivery).collect();
    assert_eq!(deliveries, [Delivery::Queued, Delivery::QuotaExceeded]);
    // The sender's refused mail gives the one unit back...
    assert_eq!(broken.deliver().await.not_sent, 1);
    assert!(sent.messages().is_empty());
    // ...so the next call can use it, and the address may be invited again.
    let outcomes = admin::invite_emails(
        &broken.app,
        &owner(),
        &id,
        &[email("good@demo.edu"), email("bad@demo.edu")],
        None,
    )
    .await
    .expect("invited");
    let deliveries: Vec<Delivery> = outcomes.iter().map(|o| o.delivery).collect();
    assert_eq!(deliveries, [Delivery::Queued, Delivery::QuotaExceeded]);
    assert_eq!(broken.deliver().await.sent, 1);
    assert_eq!(
        sent.messages().len(),
        1,
        "the one unit went to the mail that was sent"
    );

    // A resend the mail service refuses takes neither the cooldown nor the quota.
    let mut config = with_limits(1, 600);
    config.limits.invitation_mail_window_secs = 60;
    let refusing = Arc::new(RefusingOne {
        refuse: "good@demo.edu".into(),
        outbox: Arc::new(Outbox::default()),
    });
    let refused = TestApp::on_store(backend, t.app.store.clone(), config.clone(), Some(refusing));
    let good = outcomes[0].invitation_id.clone().expect("an invitation");
    // A new quota window opens later on the shared store's clock.
    refused.advance_secs(120);
    assert!(matches!(
        admin::resend_invitation(&refused.app, &owner(), &id, &good).await,
        Err(ApiError::ServiceUnavailable { .. })
    ));
    let working = TestApp::on_store(backend, t.app.store.clone(), config, None);
    working.advance_secs(120);
    admin::resend_invitation(&working.app, &owner(), &id, &good)
        .await
        .expect("neither cooldown nor quota was used by the refused resend");
    assert_eq!(working.outbox.messages().len(), 1);
}

async fn concurrent_bulk_invites_never_exceed_the_quota(backend: Backend) {
    let t = Arc::new(TestApp::with(backend, with_limits(12, 600), None).await);
    let id = t.license(100).await.license_id;
    let calls = (0..6).map(|i| {
        let t = t.clone();
        let id = id.clone();
        tokio::spawn(async move {
            admin::invite_emails(
                &t.app,
                &owner(),
                &id,
                &addresses(4, &format!("c{i}x")),
                None,
            )
            .await
        })
    });
    let mut sent = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.expect("joined") {
            Ok(outcomes) => {
                for o in outcomes {
                    match o.delivery {
                        Delivery::Queued => sent += 1,
                        Delivery::QuotaExceeded => refused += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
            Err(ApiError::InvitationQuotaExceeded { .. }) => refused += 4,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((sent, refused), (12, 12));
    assert_eq!(t.deliver().await.sent, 12);
    assert_eq!(t.outbox.messages().len(), 12);
    assert_eq!(pending(&t, &id).await, 12);
}

async fn a_suppressed_invitee_is_neither_invited_nor_mailed(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    // Bob's invitation predates the bounce.
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &[email("bob@demo.edu")], None)
        .await
        .expect("invited");
    t.deliver().await;
    let bobs = outcomes[0].invitation_id.clone().expect("an invitation");
    suppress(&t, "bob@demo.edu", SuppressionReason::Bounce).await;
    let outcomes = admin::invite_emails(
        &t.app,
        &owner(),
        &id,
        &[email("BOB@demo.edu"), email("cy@demo.edu")],
        None,
    )
    .await
    .expect("invited");
    assert_eq!(outcomes[0].delivery, Delivery::Suppressed);
    assert_eq!(outcomes[0].invitation_id, None);
    assert_eq!(outcomes[1].delivery, Delivery::Queued);
    t.deliver().await;
    let to: Vec<String> = t.outbox.messages().iter().map(|m| m.to.join(",")).collect();
    assert_eq!(
        to,
        ["bob@demo.edu", "cy@demo.edu"],
        "bob only before the bounce"
    );
    assert_eq!(
        admin::resend_invitation(&t.app, &owner(), &id, &bobs)
            .await
            .err(),
        Some(ApiError::RecipientSuppressed)
    );
    assert_eq!(t.outbox.messages().len(), 2);
    // Only suppressed addresses: nothing is invited, but that is no quota error.
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &[email("bob@demo.edu")], None)
        .await
        .expect("answered");
    assert_eq!(outcomes[0].delivery, Delivery::Suppressed);
}

async fn a_suppressed_owner_is_not_contacted(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.limits.contact_max_messages = 1;
    let t = TestApp::with(backend, config, None).await;
    let license = t.license(3).await;
    let code = t.code(&license.license_id, None).await;
    let ann = user("ann", "ann@demo.edu");
    redeem::redeem(&t.app, &ann, &code.formatted())
        .await
        .expect("member");
    suppress(&t, "owner@demo.edu", SuppressionReason::Complaint).await;
    for _ in 0..2 {
        assert_eq!(
            contact::contact_owner(&t.app, &ann, &license.license_id, "Hi", "Hello", None)
                .await
                .err(),
            Some(ApiError::OwnerUnreachable)
        );
    }
    assert!(t.outbox.messages().is_empty());
    // The member's one message of the window is still there to take.
    let slot = t
        .store()
        .limit_acquire(
            &format!("contact#ann#{}", license.license_id),
            1,
            t.app.config.limits.contact_window_secs,
            t.now(),
        )
        .await
        .expect("acquire");
    assert!(
        matches!(slot, seat_invitations::store::Acquired::Counted(_)),
        "nothing counted against the member"
    );
}

async fn a_bounce_event_stops_mail_to_its_recipients(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    let bounce = r#"{"eventType":"Bounce","bounce":{"bounceType":"Permanent",
        "bouncedRecipients":[{"emailAddress":"Gone@Demo.edu"}]},"mail":{"messageId":"m"}}"#;
    let transient = r#"{"eventType":"Bounce","bounce":{"bounceType":"Transient",
        "bouncedRecipients":[{"emailAddress":"full@demo.edu"}]}}"#;
    assert_eq!(mail_events::record(&t.app, bounce).await, Ok(1));
    assert_eq!(mail_events::record(&t.app, transient).await, Ok(0));
    assert_eq!(mail_events::record(&t.app, "not json").await, Ok(0));
    let stored = t
        .store()
        .suppression(&email("gone@demo.edu").hash())
        .await
        .expect("read");
    assert_eq!(stored.map(|s| s.reason), Some(SuppressionReason::Bounce));
    let outcomes = admin::invite_emails(
        &t.app,
        &owner(),
        &id,
        &[email("gone@demo.edu"), email("full@demo.edu")],
        None,
    )
    .await
    .expect("answered");
    let deliveries: Vec<Delivery> = outcomes.iter().map(|o| o.delivery).collect();
    assert_eq!(deliveries, [Delivery::Suppressed, Delivery::Queued]);
}

#[tokio::test]
async fn the_edge_answers_429_with_retry_after_and_per_address_outcomes() {
    let t = TestApp::with(Backend::Memory, with_limits(2, 600), None).await;
    let l = t.license(5).await.license_id;
    suppress(&t, "sup@demo.edu", SuppressionReason::Bounce).await;
    let owner =
        |method: &str, path: &str| Event::signed_in(method, path, "owner-1", "owner@demo.edu");
    let app = &t.app;
    let call = |event: Event| async move {
        let response = handle(app, Function::InvitationAdmin, event.request()).await;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (status, body) = read(&response);
        (status, body, retry_after)
    };
    let (status, body, _) = call(
        owner("POST", &format!("/v1/licenses/{l}/invitations"))
            .body(r#"{"emails":["a@demo.edu","sup@demo.edu","b@demo.edu","c@demo.edu"]}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let deliveries: Vec<&str> = body["invitations"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| o["delivery"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        deliveries,
        ["queued", "suppressed", "queued", "quotaExceeded"]
    );
    assert_eq!(body["invitations"][0]["status"], "pending");
    assert_eq!(t.deliver().await.sent, 2);
    assert_eq!(body["invitations"][3]["retryAfter"], 86_400);
    assert!(body["invitations"][3]["invitationId"].is_null());
    assert!(body["invitations"][0].get("retryAfter").is_none());
    let invitation_id = body["invitations"][0]["invitationId"]
        .as_str()
        .expect("an id")
        .to_owned();

    let (status, body, retry_after) = call(
        owner("POST", &format!("/v1/licenses/{l}/invitations"))
            .body(r#"{"emails":["d@demo.edu"]}"#),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "INVITATION_QUOTA_EXCEEDED");
    assert_eq!(retry_after.as_deref(), Some("86400"));

    let resend = format!("/v1/licenses/{l}/invitations/{invitation_id}/resend");
    let (status, body, retry_after) = call(owner("POST", &resend)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "INVITATION_QUOTA_EXCEEDED");
    assert_eq!(retry_after.as_deref(), Some("86400"));

    t.advance_secs(86_400);
    let (status, body, _) = call(owner("POST", &resend)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, retry_after) = call(owner("POST", &resend)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "RESEND_TOO_SOON");
    assert_eq!(retry_after.as_deref(), Some("600"));
}

#[tokio::test]
async fn the_edge_answers_409_for_suppressed_recipients_and_owners() {
    let t = TestApp::new(Backend::Memory).await;
    let license = t.license(5).await;
    let l = license.license_id.clone();
    let code = t.code(&l, None).await;
    redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), &code.formatted())
        .await
        .expect("member");
    let outcomes = admin::invite_emails(&t.app, &owner(), &l, &[email("bob@demo.edu")], None)
        .await
        .expect("invited");
    let invitation_id = outcomes[0].invitation_id.clone().expect("an id");
    suppress(&t, "bob@demo.edu", SuppressionReason::Bounce).await;
    suppress(&t, "owner@demo.edu", SuppressionReason::Bounce).await;
    let response = handle(
        &t.app,
        Function::InvitationAdmin,
        Event::signed_in(
            "POST",
            &format!("/v1/licenses/{l}/invitations/{invitation_id}/resend"),
            "owner-1",
            "owner@demo.edu",
        )
        .request(),
    )
    .await;
    let (status, body) = read(&response);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "RECIPIENT_SUPPRESSED");
    let response = handle(
        &t.app,
        Function::ContactOwner,
        Event::signed_in(
            "POST",
            &format!("/v1/licenses/{l}/contact-owner"),
            "ann",
            "ann@demo.edu",
        )
        .body(r#"{"subject":"Hi","message":"Hello"}"#)
        .request(),
    )
    .await;
    let (status, body) = read(&response);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "OWNER_UNREACHABLE");
    assert!(
        !body.to_string().contains("owner@demo.edu"),
        "the owner's address is never shown"
    );
}
