//! License administration on both stores: codes, invitations, seats and
//! the audit trail, and that only the owner and admins get in.

use std::sync::Arc;

use integration_tests::{Backend, RefusingOne, TestApp, email, token_in, user};
use seat_invitations::ApiError;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{
    Caller, CodeId, DeliveryState, Event, EventKind, InvitationId, InvitationStatus, LicenseId,
    Principal, Role, UserId,
};
use seat_invitations::mail::Outbox;
use seat_invitations::service::admin::{self, Delivery, NewCode};
use seat_invitations::service::{invites, me, redeem};
use seat_invitations::store::SeatsChange;

integration_tests::on_both_stores!(
    only_the_owner_and_admins_get_in,
    admins_list_their_licenses_with_roles,
    codes_are_shown_once_and_revocation_stops_them_at_once,
    open_links_come_with_their_url,
    email_invitations_are_sent_merged_and_skip_members,
    a_partial_mail_failure_is_reported_per_address,
    a_resent_invitation_replaces_the_old_url,
    a_resend_that_cannot_be_mailed_changes_nothing,
    declining_is_recorded_in_the_audit_trail,
    a_revoked_invitation_stops_working_at_once,
    freeing_a_seat_lets_the_next_user_in,
    the_seat_count_equals_the_seat_list_after_any_sequence,
    the_audit_trail_holds_one_event_per_change,
    seats_can_grow_but_never_below_those_in_use,
    demand_counts_the_students_turned_away_and_the_wait_for_a_seat,
);

/// A full license and a used-up code each count the students they turn
/// away once per window however often they retry, with every attempt on
/// its day; the seats short drop when one of them gets a seat; every
/// claim's wait since its code was created is counted; the window moves
/// with the days. Only the owner and admins see any of it.
async fn demand_counts_the_students_turned_away_and_the_wait_for_a_seat(backend: Backend) {
    let t = TestApp::new(backend).await;
    let full = t.license(2).await;
    let id = &full.license_id;
    let code = t.code(id, None).await;
    t.advance_secs(2 * 3600);
    let redeem_as = |name: &str| {
        let caller = user(name, &format!("{name}@demo.edu"));
        let app = t.app.clone();
        let code = code.formatted();
        async move { redeem::redeem(&app, &caller, &code).await }
    };
    for name in ["ann", "bob"] {
        redeem_as(name).await.expect("a seat");
    }
    for name in ["cy", "cy", "cy", "dee"] {
        assert_eq!(
            redeem_as(name).await.err(),
            Some(ApiError::NoSeatsAvailable)
        );
    }
    let view = admin::demand(&t.app, &owner(), id).await.expect("demand");
    assert_eq!(view.days.len(), 30);
    let today = view.days.last().expect("today");
    assert_eq!(today.date, t.now().date_naive());
    assert_eq!((today.attempts, today.by_reason.no_seats), (4, 4));
    assert_eq!(view.days.iter().map(|d| d.attempts).sum::<u32>(), 4);
    assert_eq!(
        (
            view.turned_away_last_7_days,
            view.turned_away_last_30_days,
            view.seats_short
        ),
        (2, 2, 2)
    );
    assert_eq!((view.seats_used, view.seats_total), (2, 2));
    assert_eq!(
        (view.time_to_seat.within_hour, view.time_to_seat.within_day),
        (0, 2),
        "both claims came 2 h after the code"
    );

    // Ann leaves and Cy gets her seat: one student short now.
    me::leave(&t.app, &user("ann", "ann@demo.edu"), id)
        .await
        .expect("left");
    redeem_as("cy").await.expect("the freed seat");
    let view = admin::demand(&t.app, &owner(), id).await.expect("demand");
    assert_eq!((view.turned_away_last_7_days, view.seats_short), (2, 1));

    // Eight days on, the refusals have left the 7-day window, not the 30-day one.
    t.advance_secs(8 * 86_400);
    let view = admin::demand(&t.app, &owner(), id).await.expect("demand");
    assert_eq!(
        (
            view.turned_away_last_7_days,
            view.turned_away_last_30_days,
            view.seats_short
        ),
        (0, 2, 0)
    );
    assert_eq!(view.days[30 - 1 - 8].attempts, 4);

    // A used-up code on a license with room is counted by its own reason.
    let roomy = t.license(5).await;
    let single = t.code(&roomy.license_id, Some(1)).await;
    let eve = user("eve", "eve@demo.edu");
    let fay = user("fay", "fay@demo.edu");
    redeem::redeem(&t.app, &eve, &single.formatted())
        .await
        .expect("the one use");
    assert_eq!(
        redeem::redeem(&t.app, &fay, &single.formatted())
            .await
            .err(),
        Some(ApiError::CodeUsedUp)
    );
    let view = admin::demand(&t.app, &owner(), &roomy.license_id)
        .await
        .expect("demand");
    let today = view.days.last().expect("today");
    assert_eq!(
        (today.by_reason.code_used_up, today.by_reason.no_seats),
        (1, 0)
    );
    assert_eq!(view.turned_away_last_7_days, 1);
    assert_eq!(view.time_to_seat.within_hour, 1);

    for outsider in [user("bob", "bob@demo.edu"), user("eve", "eve@demo.edu")] {
        assert_eq!(
            admin::demand(&t.app, &outsider, id).await.err(),
            Some(ApiError::LicenseNotFound)
        );
    }
}

fn owner() -> Caller {
    user("owner-1", "owner@demo.edu")
}

/// Every item of an admin listing, read page by page from the start.
async fn all_pages<T, F: Future<Output = admin::Listing<T>>>(
    mut page: impl FnMut(Option<String>) -> F,
) -> Vec<T> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let listing = page(cursor).await;
        items.extend(listing.items);
        match listing.next_cursor {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
}

async fn all_seats(t: &TestApp, license_id: &LicenseId) -> Vec<String> {
    let seats = all_pages(|cursor| async move {
        admin::list_seats(&t.app, &owner(), license_id, 3, cursor.as_deref())
            .await
            .expect("seats")
    })
    .await;
    seats.into_iter().map(|s| s.user_id.to_string()).collect()
}

/// The license's invitations with `status`, as its owner lists them.
async fn invitations_in(
    t: &TestApp,
    license_id: &LicenseId,
    status: InvitationStatus,
) -> admin::Listing<seat_invitations::domain::Invitation> {
    admin::list_invitations(&t.app, &owner(), license_id, Some(status), 10, None)
        .await
        .expect("invitations")
}

async fn all_events(t: &TestApp, license_id: &LicenseId) -> Vec<Event> {
    all_pages(|cursor| async move {
        admin::events(&t.app, &owner(), license_id, 4, cursor.as_deref())
            .await
            .expect("events")
    })
    .await
}

/// A license of five seats whose owner has invited bob by email (for
/// `days`, or the default): the license and the invitation.
async fn bob_invited(backend: Backend, days: Option<u32>) -> (TestApp, LicenseId, InvitationId) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    let outcome = admin::invite_emails(&t.app, &owner(), &id, &[email("bob@demo.edu")], days)
        .await
        .expect("invited");
    assert_eq!(t.deliver().await.sent, 1);
    let invitation_id = outcome[0].invitation_id.clone().expect("id");
    (t, id, invitation_id)
}

async fn only_the_owner_and_admins_get_in(backend: Backend) {
    let t = TestApp::new(backend).await;
    let mut record = t.license_builder(5);
    record.admins = vec![Principal {
        sub: "admin-2".into(),
        email: email("admin2@demo.edu"),
    }];
    let license = t.create(record).await;
    let id = &license.license_id;
    let code = t.code(id, None).await;
    let member = user("ann", "ann@demo.edu");
    redeem::redeem(&t.app, &member, &code.formatted())
        .await
        .expect("member");
    let admin2 = user("admin-2", "admin2@demo.edu");
    let seen = admin::get_license(&t.app, &admin2, id)
        .await
        .expect("an admin gets in");
    assert_eq!(seen.role, Role::Admin);
    // Who manages the license, the owner first: admins see each other.
    let admins = serde_json::to_value(&seen).expect("json")["admins"].clone();
    assert_eq!(
        admins,
        serde_json::json!([
            {"email": t.license_builder(5).owner.email.as_str(), "role": "owner"},
            {"email": "admin2@demo.edu", "role": "admin"}
        ])
    );
    assert_eq!(
        admin::get_license(&t.app, &owner(), id)
            .await
            .map(|l| l.license.seats_used)
            .ok(),
        Some(1)
    );

    for outsider in [member, user("eve", "eve@demo.edu")] {
        let refused =
            |r: Result<(), ApiError>| assert_eq!(r.err(), Some(ApiError::LicenseNotFound));
        refused(admin::get_license(&t.app, &outsider, id).await.map(|_| ()));
        refused(
            admin::create_code(&t.app, &outsider, id, NewCode::default())
                .await
                .map(|_| ()),
        );
        refused(
            admin::list_codes(&t.app, &outsider, id, 10, None)
                .await
                .map(|_| ()),
        );
        refused(admin::revoke_code(&t.app, &outsider, id, &"code_x".into()).await);
        refused(
            admin::create_link(&t.app, &outsider, id, None)
                .await
                .map(|_| ()),
        );
        refused(
            admin::invite_emails(&t.app, &outsider, id, &[email("x@demo.edu")], None)
                .await
                .map(|_| ()),
        );
        refused(
            admin::list_invitations(&t.app, &outsider, id, None, 10, None)
                .await
                .map(|_| ()),
        );
        refused(admin::revoke_invitation(&t.app, &outsider, id, &"inv_x".into()).await);
        refused(
            admin::resend_invitation(&t.app, &outsider, id, &"inv_x".into())
                .await
                .map(|_| ()),
        );
        refused(
            admin::list_seats(&t.app, &outsider, id, 10, None)
                .await
                .map(|_| ()),
        );
        refused(admin::remove_seat(&t.app, &outsider, id, &"ann".into()).await);
        refused(
            admin::events(&t.app, &outsider, id, 10, None)
                .await
                .map(|_| ()),
        );
    }
    assert_eq!(
        admin::get_license(&t.app, &owner(), &"lic-missing".into())
            .await
            .err(),
        Some(ApiError::LicenseNotFound)
    );
    assert!(t.outbox.messages().is_empty());
    assert_eq!(t.seats_used(id).await, 1);
}

async fn admins_list_their_licenses_with_roles(backend: Backend) {
    let t = TestApp::new(backend).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(t.license(5).await.license_id);
    }
    let mut administered = t.license_builder(5);
    administered.owner = Principal {
        sub: "someone-else".into(),
        email: email("else@demo.edu"),
    };
    administered.admins = vec![Principal {
        sub: "owner-1".into(),
        email: email("owner@demo.edu"),
    }];
    let administered = t.create(administered).await;
    t.license_builder(5); // not created: never listed
    let app = &t.app;
    let seen: Vec<_> = all_pages(|cursor| async move {
        admin::my_licenses(app, &owner(), 2, cursor.as_deref())
            .await
            .expect("page")
    })
    .await
    .into_iter()
    .map(|l| (l.license.license_id, l.role))
    .collect();
    assert_eq!(seen.len(), 4);
    assert!(seen.contains(&(administered.license_id.clone(), Role::Admin)));
    for id in ids {
        assert!(seen.contains(&(id, Role::Owner)));
    }
    let nothing = admin::my_licenses(&t.app, &user("ann", "ann@demo.edu"), 10, None)
        .await
        .expect("page");
    assert!(nothing.items.is_empty());
}

async fn codes_are_shown_once_and_revocation_stops_them_at_once(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(10).await.license_id;
    let created = admin::create_code(
        &t.app,
        &owner(),
        &id,
        NewCode {
            max_uses: Some(3),
            expires_at: Some(t.now() + chrono::TimeDelta::days(30)),
            note: Some("  Lecture hall A  ".into()),
        },
    )
    .await
    .expect("created");
    assert!(
        created.code.starts_with("I-") && created.code.len() == 16,
        "{}",
        created.code
    );
    assert_eq!(created.note.as_deref(), Some("Lecture hall A"));
    redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), &created.code)
        .await
        .expect("redeemed");

    let codes = admin::list_codes(&t.app, &owner(), &id, 10, None)
        .await
        .expect("codes")
        .items;
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].last4, &created.code[created.code.len() - 4..]);
    assert_eq!(codes[0].uses, 1);
    assert_eq!(codes[0].max_uses, Some(3));
    assert!(
        !serde_json::to_string(&codes)
            .expect("json")
            .contains(&created.code[2..])
    );

    admin::revoke_code(&t.app, &owner(), &id, &created.code_id)
        .await
        .expect("revoked");
    admin::revoke_code(&t.app, &owner(), &id, &created.code_id)
        .await
        .expect("again: no error");
    assert_eq!(
        redeem::redeem(&t.app, &user("bob", "bob@demo.edu"), &created.code)
            .await
            .err(),
        Some(ApiError::CodeRevoked)
    );
    assert!(
        admin::list_codes(&t.app, &owner(), &id, 10, None)
            .await
            .expect("codes")
            .items[0]
            .revoked
    );
    assert_eq!(
        admin::revoke_code(&t.app, &owner(), &id, &"code_unknown".into())
            .await
            .err(),
        Some(ApiError::CodeNotFound)
    );
    let no_uses = NewCode {
        max_uses: Some(0),
        ..NewCode::default()
    };
    let expired = NewCode {
        expires_at: Some(t.now()),
        ..NewCode::default()
    };
    for invalid in [no_uses, expired] {
        assert!(matches!(
            admin::create_code(&t.app, &owner(), &id, invalid).await,
            Err(ApiError::InvalidRequest(_))
        ));
    }
}

async fn open_links_come_with_their_url(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.portal_base_url = "https://portal.example".into();
    let t = TestApp::with(backend, config, None).await;
    let id = t.license(3).await.license_id;
    let link = admin::create_link(&t.app, &owner(), &id, Some(7))
        .await
        .expect("link");
    assert!(link.url.starts_with("https://portal.example/invite/"));
    assert_eq!(link.invitation.email, None);
    assert_eq!(
        link.invitation.expires_at,
        Some(t.now() + chrono::TimeDelta::days(7))
    );
    let token = link.url.rsplit('/').next().expect("token");
    let claimed = invites::accept(&t.app, &user("ann", "ann@demo.edu"), token)
        .await
        .expect("accepted");
    assert!(!claimed.already_member);
    let accepted = invitations_in(&t, &id, InvitationStatus::Accepted).await;
    assert_eq!(accepted.items.len(), 1);
}

async fn email_invitations_are_sent_merged_and_skip_members(backend: Backend) {
    let t = TestApp::new(backend).await;
    let mut record = t.license_builder(5);
    record.name = "Lab <Beta> & Co".into();
    let id = t.create(record).await.license_id;
    let code = t.code(&id, None).await;
    redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), &code.formatted())
        .await
        .expect("member");

    let raw = vec![
        " Bob@Demo.edu ".to_owned(),
        "bob@demo.edu".to_owned(),
        "ann@demo.edu".to_owned(),
        "cy@demo.edu".to_owned(),
    ];
    let bad = vec!["bob@demo.edu".to_owned(), "not-an-address".to_owned()];
    assert!(matches!(
        admin::parse_emails(&bad),
        Err(ApiError::InvalidRequest(_))
    ));
    let emails = admin::parse_emails(&raw).expect("valid");
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &emails, Some(10))
        .await
        .expect("invited");
    let deliveries: Vec<(String, Delivery)> = outcomes
        .iter()
        .map(|o| (o.email.clone(), o.delivery))
        .collect();
    assert_eq!(
        deliveries,
        vec![
            ("bob@demo.edu".to_owned(), Delivery::Queued),
            ("ann@demo.edu".to_owned(), Delivery::AlreadyMember),
            ("cy@demo.edu".to_owned(), Delivery::Queued),
        ]
    );
    assert!(
        t.outbox.messages().is_empty(),
        "the sender mails, not the call"
    );
    assert_eq!(t.deliver().await.sent, 2);
    let sent = t.outbox.messages();
    assert_eq!(sent.len(), 2);
    let to_bob = &sent[0];
    assert_eq!(to_bob.to, vec!["bob@demo.edu".to_owned()]);
    assert!(to_bob.text.contains("User owner-1 invited you"));
    assert!(
        !to_bob.text.contains("owner@demo.edu")
            && !to_bob
                .html
                .as_deref()
                .unwrap_or("")
                .contains("owner@demo.edu")
    );
    let html = to_bob.html.as_deref().expect("html part");
    assert!(html.contains("Lab &lt;Beta&gt; &amp; Co") && !html.contains("<Beta>"));
    assert!(to_bob.text.contains("It expires on"));

    // Bob sees it pending, and his URL works for him only.
    let bob = user("bob", "bob@demo.edu");
    let mine = t.mine(&bob).await;
    assert_eq!(mine.pending.len(), 1);
    let token = token_in(to_bob);
    assert_eq!(
        invites::accept(&t.app, &user("eve", "eve@demo.edu"), &token)
            .await
            .err(),
        Some(ApiError::InviteEmailMismatch)
    );
    invites::accept(&t.app, &bob, &token)
        .await
        .expect("bob joins");
    let pending = invitations_in(&t, &id, InvitationStatus::Pending).await;
    assert_eq!(pending.items.len(), 1);
    assert_eq!(pending.items[0].email.as_deref(), Some("cy@demo.edu"));
    t.advance_secs(11 * 86_400);
    let expired = invitations_in(&t, &id, InvitationStatus::Expired).await;
    assert_eq!(expired.items.len(), 1);
}

async fn a_partial_mail_failure_is_reported_per_address(backend: Backend) {
    let outbox = Arc::new(Outbox::default());
    let mailer = Arc::new(RefusingOne {
        refuse: "bad@demo.edu".into(),
        outbox: outbox.clone(),
    });
    let t = TestApp::with(backend, Config::defaults(Profile::Local), Some(mailer)).await;
    let id = t.license(5).await.license_id;
    let emails = admin::parse_emails(&[
        "a@demo.edu".into(),
        "bad@demo.edu".into(),
        "c@demo.edu".into(),
    ])
    .expect("valid");
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &emails, None)
        .await
        .expect("invited");
    assert!(
        outcomes
            .iter()
            .all(|o| (o.delivery, o.status) == (Delivery::Queued, Some(InvitationStatus::Pending)))
    );
    let drained = t.deliver().await;
    assert_eq!((drained.sent, drained.not_sent), (2, 1));
    assert_eq!(outbox.messages().len(), 2);
    let pending = invitations_in(&t, &id, InvitationStatus::Pending).await;
    // Same expiry, ids of the same millisecond: any order.
    let mut sent: Vec<_> = pending
        .items
        .iter()
        .map(|i| (i.email.as_deref().unwrap_or(""), i.delivery))
        .collect();
    sent.sort_by_key(|(email, _)| *email);
    assert_eq!(
        sent,
        [
            ("a@demo.edu", Some(DeliveryState::Sent)),
            ("c@demo.edu", Some(DeliveryState::Sent)),
        ],
        "nothing recorded as sent that was not"
    );
    let revoked = invitations_in(&t, &id, InvitationStatus::Revoked).await;
    assert_eq!(revoked.items.len(), 1);
    assert_eq!(revoked.items[0].email.as_deref(), Some("bad@demo.edu"));
    assert_eq!(revoked.items[0].delivery, Some(DeliveryState::Failed));
    let mine = t.mine(&user("bad", "bad@demo.edu")).await;
    assert!(mine.pending.is_empty());
}

async fn a_resent_invitation_replaces_the_old_url(backend: Backend) {
    let (t, id, invitation_id) = bob_invited(backend, Some(3)).await;
    let old_token = token_in(&t.outbox.messages()[0]);
    t.advance_secs(2 * 86_400);
    let resent = admin::resend_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("resent");
    assert_eq!(resent.invitation_id, invitation_id);
    assert_eq!(
        resent.expires_at,
        Some(t.now() + chrono::TimeDelta::days(3)),
        "expiry restarted"
    );
    let new_token = token_in(&t.outbox.messages()[1]);
    assert_ne!(old_token, new_token);
    let bob = user("bob", "bob@demo.edu");
    assert_eq!(
        invites::accept(&t.app, &bob, &old_token).await.err(),
        Some(ApiError::InviteNotFound)
    );
    t.advance_secs(2 * 86_400); // past the first expiry, within the new one
    invites::accept(&t.app, &bob, &new_token)
        .await
        .expect("the new URL works");
    assert_eq!(
        admin::resend_invitation(&t.app, &owner(), &id, &invitation_id)
            .await
            .err(),
        Some(ApiError::InviteAlreadyUsed)
    );
}

async fn a_revoked_invitation_stops_working_at_once(backend: Backend) {
    let (t, id, invitation_id) = bob_invited(backend, None).await;
    let token = token_in(&t.outbox.messages()[0]);
    admin::revoke_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("revoked");
    admin::revoke_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("again: no error");
    let bob = user("bob", "bob@demo.edu");
    assert_eq!(
        invites::accept(&t.app, &bob, &token).await.err(),
        Some(ApiError::InviteRevoked)
    );
    assert!(t.mine(&bob).await.pending.is_empty());
    assert_eq!(
        admin::revoke_invitation(&t.app, &owner(), &id, &"inv_unknown".into())
            .await
            .err(),
        Some(ApiError::InviteNotFound)
    );
    let revoked = invitations_in(&t, &id, InvitationStatus::Revoked).await;
    assert_eq!(revoked.items.len(), 1);
}

async fn freeing_a_seat_lets_the_next_user_in(backend: Backend) {
    let t = TestApp::new(backend).await;
    let (id, code) = t.one_seat_taken_by_ann().await;
    let ann = user("ann", "ann@demo.edu");
    let bob = user("bob", "bob@demo.edu");
    admin::remove_seat(&t.app, &owner(), &id, &"ann".into())
        .await
        .expect("freed");
    assert_eq!(
        admin::remove_seat(&t.app, &owner(), &id, &"ann".into())
            .await
            .err(),
        Some(ApiError::SeatNotFound)
    );
    assert!(t.mine(&ann).await.licenses.is_empty());
    redeem::redeem(&t.app, &bob, &code)
        .await
        .expect("bob takes the freed seat");
    assert_eq!(all_seats(&t, &id).await, vec!["bob".to_owned()]);
}

async fn the_seat_count_equals_the_seat_list_after_any_sequence(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(6).await.license_id;
    let code = t.code(&id, None).await.formatted();
    // A fixed pseudo-random walk of joins, leaves and removals.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for step in 0..40 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let who = format!("u{}", (state >> 33) % 9);
        let caller = user(&who, &format!("{who}@demo.edu"));
        match (state >> 40) % 3 {
            0 => {
                let _ = redeem::redeem(&t.app, &caller, &code).await;
            }
            1 => {
                let _ = me::leave(&t.app, &caller, &id).await;
            }
            _ => {
                let _ = admin::remove_seat(&t.app, &owner(), &id, &who.as_str().into()).await;
            }
        }
        t.advance_secs(1);
        let listed = all_seats(&t, &id).await;
        assert_eq!(
            listed.len() as u32,
            t.seats_used(&id).await,
            "after step {step}"
        );
        assert!(listed.len() <= 6);
    }
}

async fn the_audit_trail_holds_one_event_per_change(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    let created = admin::create_code(&t.app, &owner(), &id, NewCode::default())
        .await
        .expect("code");
    t.advance_secs(1);
    let ann = user("ann", "ann@demo.edu");
    redeem::redeem(&t.app, &ann, &created.code)
        .await
        .expect("ann joins");
    redeem::redeem(&t.app, &ann, &created.code)
        .await
        .expect("repeat: no change");
    t.advance_secs(1);
    let outcome = admin::invite_emails(&t.app, &owner(), &id, &[email("bob@demo.edu")], None)
        .await
        .expect("invite");
    t.deliver().await;
    let invitation_id = outcome[0].invitation_id.clone().expect("id");
    t.advance_secs(1);
    admin::resend_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("resend");
    t.advance_secs(1);
    invites::accept(
        &t.app,
        &user("bob", "bob@demo.edu"),
        &token_in(&t.outbox.messages()[1]),
    )
    .await
    .expect("bob");
    t.advance_secs(1);
    me::leave(&t.app, &ann, &id).await.expect("ann leaves");
    t.advance_secs(1);
    admin::remove_seat(&t.app, &owner(), &id, &"bob".into())
        .await
        .expect("bob removed");
    t.advance_secs(1);
    admin::revoke_code(&t.app, &owner(), &id, &created.code_id)
        .await
        .expect("revoked");

    let events = all_events(&t, &id).await;
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::CodeRevoked,
            EventKind::SeatRemoved,
            EventKind::SeatReleased,
            EventKind::SeatClaimed,
            EventKind::InvitationResent,
            EventKind::InvitationCreated,
            EventKind::SeatClaimed,
            EventKind::CodeCreated,
        ],
        "newest first, one per change"
    );
    let claimed_by_ann = &events[6];
    assert_eq!(
        claimed_by_ann.user_id.as_ref().map(UserId::as_str),
        Some("ann")
    );
    assert_eq!(
        claimed_by_ann.code_id.as_ref().map(CodeId::as_str),
        Some(created.code_id.as_str())
    );
    assert_eq!(
        events[3].invitation_id.as_ref().map(InvitationId::as_str),
        Some(invitation_id.as_str())
    );
    assert_eq!(events[1].actor, "owner-1");
    assert_eq!(events[2].actor, "ann");
}

async fn seats_can_grow_but_never_below_those_in_use(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(2).await.license_id;
    let code = t.code(&id, None).await.formatted();
    redeem::redeem(&t.app, &user("a", "a@demo.edu"), &code)
        .await
        .expect("a");
    redeem::redeem(&t.app, &user("b", "b@demo.edu"), &code)
        .await
        .expect("b");
    let set_seats_total = async |total| {
        let event = Event::new(&id, EventKind::SeatsChanged, "operator", t.now());
        t.store()
            .set_seats_total(&id, total, &event)
            .await
            .expect("store")
    };
    assert_eq!(set_seats_total(1).await, SeatsChange::BelowSeatsInUse(2));
    assert_eq!(set_seats_total(40).await, SeatsChange::Changed, "grown");
    for i in 0..38 {
        redeem::redeem(
            &t.app,
            &user(&format!("n{i}"), &format!("n{i}@demo.edu")),
            &code,
        )
        .await
        .expect("room");
    }
    assert_eq!(
        redeem::redeem(&t.app, &user("late", "late@demo.edu"), &code)
            .await
            .err(),
        Some(ApiError::NoSeatsAvailable)
    );
    let license = admin::get_license(&t.app, &owner(), &id)
        .await
        .expect("license");
    assert_eq!(
        (license.license.seats_total, license.license.seats_used),
        (40, 40)
    );
    assert_eq!(set_seats_total(40).await, SeatsChange::Changed, "same size");
    assert_eq!(set_seats_total(39).await, SeatsChange::BelowSeatsInUse(40));
}

async fn a_resend_that_cannot_be_mailed_changes_nothing(backend: Backend) {
    let (t, id, invitation_id) = bob_invited(backend, None).await;
    let token = token_in(&t.outbox.messages()[0]);
    let refusing = Arc::new(RefusingOne {
        refuse: "bob@demo.edu".into(),
        outbox: Arc::new(Outbox::default()),
    });
    let broken = TestApp::on_store(
        backend,
        t.app.store.clone(),
        Config::defaults(Profile::Local),
        Some(refusing),
    );
    assert!(matches!(
        admin::resend_invitation(&broken.app, &owner(), &id, &invitation_id).await,
        Err(ApiError::ServiceUnavailable { .. })
    ));
    invites::accept(&t.app, &user("bob", "bob@demo.edu"), &token)
        .await
        .expect("the old URL still works");
}

async fn declining_is_recorded_in_the_audit_trail(backend: Backend) {
    let (t, id, _) = bob_invited(backend, None).await;
    t.advance_secs(1);
    let token = token_in(&t.outbox.messages()[0]);
    invites::decline(&t.app, &user("bob", "bob@demo.edu"), &token)
        .await
        .expect("declined");
    let events = all_events(&t, &id).await;
    assert_eq!(events[0].kind, EventKind::InvitationDeclined);
    assert_eq!(events[0].actor, "bob");
    assert_eq!(events.len(), 2);
}
