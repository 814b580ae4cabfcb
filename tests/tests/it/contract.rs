//! The store contract: every member journey, run against both the embedded
//! store and DynamoDB (the emulator), which must behave identically.

use integration_tests::{Backend, RefusingMailer, TestApp, email, user};
use seat_invitations::ApiError;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{
    InvitationId, InvitationRecord, InvitationStatus, JoinedVia, LicenseId, SuppressionReason,
    Timestamp,
};
use seat_invitations::service::{admin, contact, invites, me, redeem};
use seat_invitations::store::{PagePosition, Paging};

integration_tests::on_both_stores!(
    redeeming_a_code_takes_one_seat_and_lists_it,
    redeeming_again_returns_the_same_seat,
    unknown_expired_and_revoked_codes_are_refused,
    a_full_license_and_a_used_up_code_are_refused,
    license_expiry_domains_and_verification_are_enforced,
    repeated_failures_lock_out_even_a_correct_code_until_the_window_ends,
    an_open_link_is_single_use,
    a_bound_invitation_is_only_for_its_address,
    expired_revoked_and_declined_invitations_cannot_be_accepted,
    code_and_invite_together_take_one_seat,
    preview_masks_the_invitee_and_never_shows_the_owner,
    leaving_frees_the_seat_for_the_next_user,
    my_invitations_pages_newest_first_and_lists_pending,
    contact_owner_is_for_members_and_invitees_and_is_limited,
    a_refused_email_is_not_counted_against_the_sender,
    two_hundred_users_racing_for_twenty_seats_get_exactly_twenty,
    one_user_redeeming_ten_times_at_once_holds_one_seat,
    forty_concurrent_wrong_guesses_get_exactly_ten_answers,
    many_accounts_from_one_source_share_its_allowance,
    a_code_with_max_uses_is_never_overused_under_concurrency,
    concurrent_code_and_invite_by_one_user_take_one_seat,
    suppressions_are_recorded_by_address_hash,
    invitations_are_listed_one_status_at_a_time_in_pages,
    members_are_looked_up_by_address,
    codes_are_listed_in_pages_with_their_uses,
    a_redemption_that_takes_a_seat_gives_its_guard_slots_back,
);

/// Every success gives back the slots it took (the account's inside the
/// claim transaction, the address's beside it): with room for two attempts
/// in flight, five successful redemptions in a row all go through.
async fn a_redemption_that_takes_a_seat_gives_its_guard_slots_back(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.limits.redeem_max_failures = 2;
    config.limits.redeem_max_failures_per_source = 2;
    let t = TestApp::with(backend, config, None).await;
    let mut ann = user("ann", "ann@demo.edu");
    ann.source = Some("203.0.113.7".into());
    for _ in 0..5 {
        let license = t.license(3).await;
        let code = t.code(&license.license_id, None).await;
        let claimed = redeem::redeem(&t.app, &ann, &code.formatted())
            .await
            .expect("claimed");
        assert!(!claimed.already_member);
    }
    // Failures still count: two wrong codes, then even a right one waits.
    for _ in 0..2 {
        assert_eq!(
            redeem::redeem(&t.app, &ann, "I-ZZZZ-ZZZZ-ZZZZ").await.err(),
            Some(ApiError::CodeNotFound)
        );
    }
    let license = t.license(3).await;
    let code = t.code(&license.license_id, None).await;
    assert!(matches!(
        redeem::redeem(&t.app, &ann, &code.formatted()).await,
        Err(ApiError::TooManyAttempts { .. })
    ));
}

async fn redeeming_a_code_takes_one_seat_and_lists_it(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let code = t.code(&license.license_id, None).await;
    let ann = user("ann", "Ann@Demo.edu ");

    let claimed = redeem::redeem(&t.app, &ann, &code.formatted().to_lowercase())
        .await
        .expect("redeemed");
    assert!(!claimed.already_member);
    assert_eq!(claimed.license.seats_used, 1);
    assert_eq!(claimed.seat.email, "ann@demo.edu");
    assert_eq!(claimed.seat.joined_via, JoinedVia::Code);
    assert_eq!(t.seats_used(&license.license_id).await, 1);

    let mine = t.mine(&ann).await;
    assert_eq!(mine.licenses.len(), 1);
    assert_eq!(mine.licenses[0].license.license_id, license.license_id);
    assert_eq!(mine.licenses[0].license.seats_used, 1);
    assert!(mine.next_cursor.is_none());
}

async fn redeeming_again_returns_the_same_seat(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let code = t.code(&license.license_id, Some(1)).await;
    let ann = user("ann", "ann@demo.edu");
    let first = redeem::redeem(&t.app, &ann, &code.formatted())
        .await
        .expect("first");
    // The code is used up now, but Ann's own repeat is still answered with her seat.
    let again = redeem::redeem(&t.app, &ann, &code.formatted())
        .await
        .expect("again");
    assert!(again.already_member);
    assert_eq!(again.seat, first.seat);
    assert_eq!(t.seats_used(&license.license_id).await, 1);
}

async fn unknown_expired_and_revoked_codes_are_refused(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let ann = user("ann", "ann@demo.edu");
    let expired = t
        .code_with(
            &license.license_id,
            None,
            Some(t.now() + chrono::TimeDelta::seconds(60)),
            false,
        )
        .await;
    let revoked = t.code_with(&license.license_id, None, None, true).await;
    assert_eq!(
        redeem::redeem(&t.app, &ann, "I-0000-0000-0000").await.err(),
        Some(ApiError::CodeNotFound)
    );
    assert_eq!(
        redeem::redeem(&t.app, &ann, "not a code").await.err(),
        Some(ApiError::CodeNotFound)
    );
    assert_eq!(
        redeem::redeem(&t.app, &ann, &revoked.formatted())
            .await
            .err(),
        Some(ApiError::CodeRevoked)
    );
    assert!(
        redeem::redeem(&t.app, &user("bob", "bob@demo.edu"), &expired.formatted())
            .await
            .is_ok()
    );
    t.advance_secs(61);
    assert_eq!(
        redeem::redeem(&t.app, &ann, &expired.formatted())
            .await
            .err(),
        Some(ApiError::CodeExpired)
    );
    // Bob, who joined before it expired, is answered with his seat.
    let bob_again = redeem::redeem(&t.app, &user("bob", "bob@demo.edu"), &expired.formatted())
        .await
        .expect("member");
    assert!(bob_again.already_member);
    assert_eq!(t.seats_used(&license.license_id).await, 1);
}

async fn a_full_license_and_a_used_up_code_are_refused(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(2).await;
    let code = t.code(&license.license_id, None).await;
    redeem::redeem(&t.app, &user("a", "a@demo.edu"), &code.formatted())
        .await
        .expect("a");
    redeem::redeem(&t.app, &user("b", "b@demo.edu"), &code.formatted())
        .await
        .expect("b");
    assert_eq!(
        redeem::redeem(&t.app, &user("c", "c@demo.edu"), &code.formatted())
            .await
            .err(),
        Some(ApiError::NoSeatsAvailable)
    );

    let roomy = t.license(10).await;
    let once = t.code(&roomy.license_id, Some(1)).await;
    redeem::redeem(&t.app, &user("a", "a@demo.edu"), &once.formatted())
        .await
        .expect("first use");
    assert_eq!(
        redeem::redeem(&t.app, &user("b", "b@demo.edu"), &once.formatted())
            .await
            .err(),
        Some(ApiError::CodeUsedUp)
    );
    assert_eq!(t.seats_used(&license.license_id).await, 2);
    assert_eq!(t.seats_used(&roomy.license_id).await, 1);
}

async fn license_expiry_domains_and_verification_are_enforced(backend: Backend) {
    let t = TestApp::new(backend).await;
    let mut expiring = t.license_builder(5);
    expiring.expires_at = Some(t.now() + chrono::TimeDelta::seconds(10));
    let expiring = t.create(expiring).await;
    let mut campus = t.license_builder(5);
    campus.allowed_email_domains = vec!["uni.edu".into()];
    let campus = t.create(campus).await;
    let expiring_code = t.code(&expiring.license_id, None).await;
    let campus_code = t.code(&campus.license_id, None).await;

    t.advance_secs(10);
    assert_eq!(
        redeem::redeem(&t.app, &user("a", "a@uni.edu"), &expiring_code.formatted())
            .await
            .err(),
        Some(ApiError::LicenseExpired)
    );
    assert_eq!(
        redeem::redeem(&t.app, &user("b", "b@gmail.com"), &campus_code.formatted())
            .await
            .err(),
        Some(ApiError::EmailDomainNotAllowed)
    );
    assert_eq!(
        redeem::redeem(
            &t.app,
            &user("c", "c@evil-uni.edu"),
            &campus_code.formatted()
        )
        .await
        .err(),
        Some(ApiError::EmailDomainNotAllowed)
    );
    assert!(
        redeem::redeem(&t.app, &user("d", "d@cs.uni.edu"), &campus_code.formatted())
            .await
            .is_ok()
    );
    let mut unverified = user("e", "e@uni.edu");
    unverified.email_verified = false;
    assert_eq!(
        redeem::redeem(&t.app, &unverified, &campus_code.formatted())
            .await
            .err(),
        Some(ApiError::EmailNotVerified)
    );
    assert_eq!(t.seats_used(&campus.license_id).await, 1);
    assert_eq!(t.seats_used(&expiring.license_id).await, 0);
}

async fn repeated_failures_lock_out_even_a_correct_code_until_the_window_ends(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.limits.redeem_max_failures = 3;
    config.limits.redeem_window_secs = 600;
    let t = TestApp::with(backend, config, None).await;
    let license = t.license(5).await;
    let code = t.code(&license.license_id, None).await;
    let mallory = user("mallory", "m@demo.edu");
    for _ in 0..3 {
        assert_eq!(
            redeem::redeem(&t.app, &mallory, "I-ZZZZ-ZZZZ-ZZZZ")
                .await
                .err(),
            Some(ApiError::CodeNotFound)
        );
    }
    t.advance_secs(100);
    match redeem::redeem(&t.app, &mallory, &code.formatted()).await {
        Err(ApiError::TooManyAttempts { retry_after_secs }) => assert_eq!(retry_after_secs, 500),
        other => panic!("expected TOO_MANY_ATTEMPTS, got {other:?}"),
    }
    // Other users are not affected, and a full license is not a "failure".
    assert!(
        redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), &code.formatted())
            .await
            .is_ok()
    );
    t.advance_secs(500);
    assert!(
        redeem::redeem(&t.app, &mallory, &code.formatted())
            .await
            .is_ok()
    );
    assert_eq!(t.seats_used(&license.license_id).await, 2);
}

async fn an_open_link_is_single_use(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let token = t.invitation(&license.license_id, None).await;
    let ann = user("ann", "ann@demo.edu");
    let claimed = invites::accept(&t.app, &ann, token.expose())
        .await
        .expect("accepted");
    assert!(!claimed.already_member);
    assert_eq!(claimed.seat.joined_via, JoinedVia::Invite);
    // Following her own link again is not an error.
    let again = invites::accept(&t.app, &ann, token.expose())
        .await
        .expect("again");
    assert!(again.already_member);
    assert_eq!(
        invites::accept(&t.app, &user("bob", "bob@demo.edu"), token.expose())
            .await
            .err(),
        Some(ApiError::InviteAlreadyUsed)
    );
    assert_eq!(
        invites::accept(&t.app, &ann, "x".repeat(43).as_str())
            .await
            .err(),
        Some(ApiError::InviteNotFound)
    );
    assert_eq!(
        invites::accept(&t.app, &ann, "short").await.err(),
        Some(ApiError::InviteNotFound)
    );
    assert_eq!(t.seats_used(&license.license_id).await, 1);
}

async fn a_bound_invitation_is_only_for_its_address(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let token = t
        .invitation(&license.license_id, Some("bob@demo.edu"))
        .await;
    assert_eq!(
        invites::accept(&t.app, &user("eve", "eve@demo.edu"), token.expose())
            .await
            .err(),
        Some(ApiError::InviteEmailMismatch)
    );
    let mut unverified = user("bob2", "bob@demo.edu");
    unverified.email_verified = false;
    assert_eq!(
        invites::accept(&t.app, &unverified, token.expose())
            .await
            .err(),
        Some(ApiError::EmailNotVerified)
    );
    assert_eq!(
        invites::decline(&t.app, &user("eve", "eve@demo.edu"), token.expose())
            .await
            .err(),
        Some(ApiError::InviteEmailMismatch)
    );
    let claimed = invites::accept(&t.app, &user("bob", " BOB@demo.edu"), token.expose())
        .await
        .expect("bob");
    assert_eq!(claimed.seat.email, "bob@demo.edu");
    assert_eq!(t.seats_used(&license.license_id).await, 1);
}

async fn expired_revoked_and_declined_invitations_cannot_be_accepted(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let expiring = t
        .invitation_with(
            &license.license_id,
            None,
            Some(t.now() + chrono::TimeDelta::seconds(5)),
            InvitationStatus::Pending,
        )
        .await;
    let revoked = t
        .invitation_with(&license.license_id, None, None, InvitationStatus::Revoked)
        .await;
    let declinable = t
        .invitation(&license.license_id, Some("carl@demo.edu"))
        .await;
    let carl = user("carl", "carl@demo.edu");
    t.advance_secs(5);
    assert_eq!(
        invites::accept(&t.app, &carl, expiring.expose())
            .await
            .err(),
        Some(ApiError::InviteExpired)
    );
    assert_eq!(
        invites::accept(&t.app, &carl, revoked.expose()).await.err(),
        Some(ApiError::InviteRevoked)
    );
    let declined = invites::decline(&t.app, &carl, declinable.expose())
        .await
        .expect("declined");
    assert_eq!(declined.status, InvitationStatus::Declined);
    assert_eq!(declined.email.as_deref(), Some("carl@demo.edu"));
    assert_eq!(
        invites::decline(&t.app, &carl, declinable.expose())
            .await
            .err(),
        Some(ApiError::InviteAlreadyUsed)
    );
    assert_eq!(
        invites::accept(&t.app, &carl, declinable.expose())
            .await
            .err(),
        Some(ApiError::InviteAlreadyUsed)
    );
    let mine = t.mine(&carl).await;
    assert!(
        mine.pending.is_empty(),
        "a declined invitation is not pending"
    );
    assert_eq!(t.seats_used(&license.license_id).await, 0);
}

async fn code_and_invite_together_take_one_seat(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let code = t.code(&license.license_id, None).await;
    let token = t
        .invitation(&license.license_id, Some("ann@demo.edu"))
        .await;
    let ann = user("ann", "ann@demo.edu");
    redeem::redeem(&t.app, &ann, &code.formatted())
        .await
        .expect("code");
    let via_invite = invites::accept(&t.app, &ann, token.expose())
        .await
        .expect("invite");
    assert!(via_invite.already_member);
    assert_eq!(via_invite.seat.joined_via, JoinedVia::Code);
    assert_eq!(t.seats_used(&license.license_id).await, 1);
    let mine = t.mine(&ann).await;
    assert!(
        mine.pending.is_empty(),
        "no pending invitation for a license Ann holds"
    );
    assert_eq!(mine.licenses.len(), 1);
}

async fn preview_masks_the_invitee_and_never_shows_the_owner(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let token = t.invitation(&license.license_id, Some("bob@uni.edu")).await;
    let stranger = invites::preview(&t.app, &user("eve", "eve@demo.edu"), token.expose())
        .await
        .expect("preview");
    assert_eq!(stranger.invitation.email.as_deref(), Some("b***@uni.edu"));
    assert_eq!(stranger.invitation.status, InvitationStatus::Pending);
    let invitee = invites::preview(&t.app, &user("bob", "bob@uni.edu"), token.expose())
        .await
        .expect("preview");
    assert_eq!(invitee.invitation.email.as_deref(), Some("bob@uni.edu"));
    let owner = invites::preview(&t.app, &user("owner-1", "owner@demo.edu"), token.expose())
        .await
        .expect("preview");
    assert_eq!(owner.invitation.email.as_deref(), Some("bob@uni.edu"));
    let json = serde_json::to_string(&stranger).expect("json");
    assert!(!json.contains("owner@demo.edu"));
    assert_eq!(
        invites::preview(&t.app, &user("eve", "eve@demo.edu"), &"A".repeat(43))
            .await
            .err(),
        Some(ApiError::InviteNotFound)
    );
}

async fn leaving_frees_the_seat_for_the_next_user(backend: Backend) {
    let t = TestApp::new(backend).await;
    let (license_id, code) = t.one_seat_taken_by_ann().await;
    let ann = user("ann", "ann@demo.edu");
    let bob = user("bob", "bob@demo.edu");
    me::leave(&t.app, &ann, &license_id).await.expect("left");
    // A repeat (say, after a lost answer) answers the same for a day.
    me::leave(&t.app, &ann, &license_id)
        .await
        .expect("a repeated leave is not a 404");
    t.advance_secs(24 * 3600 + 1);
    assert_eq!(
        me::leave(&t.app, &ann, &license_id).await.err(),
        Some(ApiError::LicenseNotFound)
    );
    assert_eq!(
        me::leave(&t.app, &bob, &"lic-nope".into()).await.err(),
        Some(ApiError::LicenseNotFound)
    );
    assert_eq!(t.seats_used(&license_id).await, 0);
    assert!(t.mine(&ann).await.licenses.is_empty());
    redeem::redeem(&t.app, &bob, &code)
        .await
        .expect("bob gets the freed seat");
    assert_eq!(t.seats_used(&license_id).await, 1);
}

async fn my_invitations_pages_newest_first_and_lists_pending(backend: Backend) {
    let t = TestApp::new(backend).await;
    let ann = user("ann", "ann@demo.edu");
    let mut joined = Vec::new();
    for _ in 0..5 {
        let license = t.license(3).await;
        let code = t.code(&license.license_id, None).await;
        redeem::redeem(&t.app, &ann, &code.formatted())
            .await
            .expect("joined");
        joined.push(license.license_id);
        t.advance_secs(1);
    }
    let invited = t.license(3).await;
    t.invitation(&invited.license_id, Some("ann@demo.edu"))
        .await;
    t.invitation(&invited.license_id, Some("someone-else@demo.edu"))
        .await;

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = me::my_invitations(&t.app, &ann, 2, cursor.as_ref())
            .await
            .expect("page");
        pages += 1;
        if pages == 1 {
            assert_eq!(page.pending.len(), 1);
            assert_eq!(page.pending[0].license.license_id, invited.license_id);
            assert_eq!(
                page.pending[0].invitation.email.as_deref(),
                Some("ann@demo.edu")
            );
        } else {
            assert!(page.pending.is_empty());
        }
        seen.extend(page.licenses.iter().map(|l| l.license.license_id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(me::decode_cursor(&next).expect("our cursor")),
            None => break,
        }
    }
    joined.reverse();
    assert_eq!(seen, joined);
    assert_eq!(pages, 3);
}

async fn contact_owner_is_for_members_and_invitees_and_is_limited(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.limits.contact_max_messages = 2;
    config.limits.contact_window_secs = 3_600;
    let t = TestApp::with(backend, config, None).await;
    let license = t.license(5).await;
    let code = t.code(&license.license_id, None).await;
    let ann = user("ann", "ann@demo.edu");
    redeem::redeem(&t.app, &ann, &code.formatted())
        .await
        .expect("member");
    t.invitation(&license.license_id, Some("ivy@demo.edu"))
        .await;
    let ivy = user("ivy", "ivy@demo.edu");
    let eve = user("eve", "eve@demo.edu");

    assert_eq!(
        contact::contact_owner(&t.app, &eve, &license.license_id, "Hi", "Let me in", None)
            .await
            .err(),
        Some(ApiError::LicenseNotFound)
    );
    assert_eq!(
        contact::contact_owner(&t.app, &ann, &"lic-unknown".into(), "Hi", "Hello", None)
            .await
            .err(),
        Some(ApiError::LicenseNotFound)
    );
    contact::contact_owner(
        &t.app,
        &ivy,
        &license.license_id,
        "Question",
        "Before I join",
        None,
    )
    .await
    .expect("invitee");
    contact::contact_owner(
        &t.app,
        &ann,
        &license.license_id,
        "Renewal",
        "Line 1\nLine 2",
        None,
    )
    .await
    .expect("1");
    contact::contact_owner(&t.app, &ann, &license.license_id, "Renewal", "Again", None)
        .await
        .expect("2");
    match contact::contact_owner(&t.app, &ann, &license.license_id, "Renewal", "Third", None).await
    {
        Err(ApiError::TooManyMessages { retry_after_secs }) => assert_eq!(retry_after_secs, 3_600),
        other => panic!("expected TOO_MANY_MESSAGES, got {other:?}"),
    }
    t.advance_secs(3_600);
    contact::contact_owner(
        &t.app,
        &ann,
        &license.license_id,
        "Renewal",
        "New window",
        None,
    )
    .await
    .expect("3");

    let sent = t.outbox.messages();
    assert_eq!(sent.len(), 4);
    let first = &sent[1];
    assert_eq!(first.to, vec!["owner@demo.edu".to_owned()]);
    assert_eq!(first.reply_to, vec!["ann@demo.edu".to_owned()]);
    assert!(first.subject.contains("Renewal"));
    assert!(first.text.contains("Line 1\nLine 2"));
}

async fn a_refused_email_is_not_counted_against_the_sender(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.limits.contact_max_messages = 1;
    let refusing = TestApp::with(
        backend,
        config.clone(),
        Some(std::sync::Arc::new(RefusingMailer)),
    )
    .await;
    let license = refusing.license(5).await;
    let code = refusing.code(&license.license_id, None).await;
    let ann = user("ann", "ann@demo.edu");
    redeem::redeem(&refusing.app, &ann, &code.formatted())
        .await
        .expect("member");
    for _ in 0..3 {
        assert!(matches!(
            contact::contact_owner(
                &refusing.app,
                &ann,
                &license.license_id,
                "Hi",
                "Hello",
                None
            )
            .await,
            Err(ApiError::ServiceUnavailable { .. })
        ));
    }
    // Same store, a working mailer: the one allowed message still goes out.
    let working = TestApp::on_store(backend, refusing.app.store.clone(), config, None);
    contact::contact_owner(&working.app, &ann, &license.license_id, "Hi", "Hello", None)
        .await
        .expect("sent");
    assert!(matches!(
        contact::contact_owner(&working.app, &ann, &license.license_id, "Hi", "Hello", None).await,
        Err(ApiError::TooManyMessages { .. })
    ));
}

async fn two_hundred_users_racing_for_twenty_seats_get_exactly_twenty(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(20).await;
    let code = t.code(&license.license_id, None).await.formatted();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = t.app.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            redeem::redeem(
                &app,
                &user(&format!("student-{i}"), &format!("s{i}@demo.edu")),
                &code,
            )
            .await
        }));
    }
    let (mut granted, mut full) = (Vec::new(), 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(claimed) => {
                assert!(!claimed.already_member);
                granted.push(claimed.seat.user_id.to_string());
            }
            Err(ApiError::NoSeatsAvailable) => full += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(granted.len(), 20);
    assert_eq!(full, 180);
    assert_eq!(t.seats_used(&license.license_id).await, 20);
    let mut holders = 0;
    for i in 0..200 {
        if t.store()
            .seat(&format!("student-{i}").into(), &license.license_id)
            .await
            .expect("read")
            .is_some()
        {
            holders += 1;
            assert!(granted.contains(&format!("student-{i}")));
        }
    }
    assert_eq!(
        holders, 20,
        "seat items match the counters: no partial state"
    );
}

/// As many redemptions in flight at once as the guessing guard allows one
/// account (`REDEEM_MAX_FAILURES`, 10): all answer with the one seat.
async fn one_user_redeeming_ten_times_at_once_holds_one_seat(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(20).await;
    let code = t.code(&license.license_id, None).await.formatted();
    let mut tasks = Vec::new();
    for _ in 0..t.app.config.limits.redeem_max_failures {
        let app = t.app.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            redeem::redeem(&app, &user("ann", "ann@demo.edu"), &code).await
        }));
    }
    let mut created = 0;
    let mut seats = std::collections::HashSet::new();
    for task in tasks {
        let claimed = task
            .await
            .expect("task")
            .expect("every attempt answers with the seat");
        if !claimed.already_member {
            created += 1;
        }
        seats.insert(claimed.seat.joined_at);
    }
    assert_eq!(created, 1);
    assert_eq!(seats.len(), 1, "every answer names the same seat");
    assert_eq!(t.seats_used(&license.license_id).await, 1);
}

/// The guessing limit holds under concurrency: of 40 wrong guesses sent at
/// once by one account, exactly `REDEEM_MAX_FAILURES` (10) are evaluated
/// and answered `CODE_NOT_FOUND`; the other 30 are refused before their
/// code is looked at. Then even a correct code is refused.
async fn forty_concurrent_wrong_guesses_get_exactly_ten_answers(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(5).await;
    let code = t.code(&license.license_id, None).await.formatted();
    let mallory = user("mallory", "m@demo.edu");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = t.app.clone();
        let mallory = mallory.clone();
        tasks.push(tokio::spawn(async move {
            let guess = format!("I-ZZZZ-ZZZZ-{:04}", i);
            redeem::redeem(&app, &mallory, &guess).await.err()
        }));
    }
    let (mut not_found, mut too_many) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Some(ApiError::CodeNotFound) => not_found += 1,
            Some(ApiError::TooManyAttempts { retry_after_secs }) => {
                assert!(retry_after_secs > 0);
                too_many += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((not_found, too_many), (10, 30));
    assert!(matches!(
        redeem::redeem(&t.app, &mallory, &code).await,
        Err(ApiError::TooManyAttempts { .. })
    ));
    assert_eq!(t.seats_used(&license.license_id).await, 0);
}

/// Accounts behind one source address share its allowance, so many
/// throwaway accounts do not multiply the guesses; a success from that
/// source costs it nothing.
async fn many_accounts_from_one_source_share_its_allowance(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.limits.redeem_max_failures = 3;
    config.limits.redeem_max_failures_per_source = 5;
    let t = TestApp::with(backend, config, None).await;
    let license = t.license(5).await;
    let code = t.code(&license.license_id, None).await.formatted();
    let from = |sub: &str| seat_invitations::domain::Caller {
        source: Some("198.51.100.7".into()),
        ..user(sub, &format!("{sub}@demo.edu"))
    };
    let student = from("student");
    redeem::redeem(&t.app, &student, &code)
        .await
        .expect("a correct code from the source");
    let mut answers = Vec::new();
    for i in 0..4 {
        for attempt in 0..2 {
            let guess = format!("I-ZZZZ-ZZZZ-{i}{attempt}00");
            answers.push(
                redeem::redeem(&t.app, &from(&format!("bot{i}")), &guess)
                    .await
                    .err(),
            );
        }
    }
    let not_found = answers
        .iter()
        .filter(|a| **a == Some(ApiError::CodeNotFound))
        .count();
    assert_eq!(not_found, 5, "{answers:?}");
    assert_eq!(answers.len() - not_found, 3);
    // Another address is not affected.
    let elsewhere = seat_invitations::domain::Caller {
        source: Some("203.0.113.9".into()),
        ..user("bot9", "bot9@demo.edu")
    };
    assert_eq!(
        redeem::redeem(&t.app, &elsewhere, "I-ZZZZ-ZZZZ-9999")
            .await
            .err(),
        Some(ApiError::CodeNotFound)
    );
}

async fn a_code_with_max_uses_is_never_overused_under_concurrency(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(50).await;
    let code = t.code(&license.license_id, Some(10)).await.formatted();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let app = t.app.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            redeem::redeem(
                &app,
                &user(&format!("u{i}"), &format!("u{i}@demo.edu")),
                &code,
            )
            .await
        }));
    }
    let (mut ok, mut used_up) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => ok += 1,
            Err(ApiError::CodeUsedUp) => used_up += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, used_up), (10, 50));
    assert_eq!(t.seats_used(&license.license_id).await, 10);
}

async fn concurrent_code_and_invite_by_one_user_take_one_seat(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license = t.license(10).await;
    let code = t.code(&license.license_id, None).await.formatted();
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(
            t.invitation(&license.license_id, Some("ann@demo.edu"))
                .await,
        );
    }
    let mut tasks = Vec::new();
    for token in tokens {
        let app = t.app.clone();
        tasks.push(tokio::spawn(async move {
            invites::accept(&app, &user("ann", "ann@demo.edu"), token.expose()).await
        }));
        let app = t.app.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            redeem::redeem(&app, &user("ann", "ann@demo.edu"), &code).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let claimed = task.await.expect("task").expect("answered with the seat");
        created += usize::from(!claimed.already_member);
    }
    assert_eq!(created, 1);
    assert_eq!(t.seats_used(&license.license_id).await, 1);
}

async fn suppressions_are_recorded_by_address_hash(backend: Backend) {
    let t = TestApp::new(backend).await;
    let bob = email("Bob@Demo.edu").hash();
    assert_eq!(t.store().suppression(&bob).await.expect("read"), None);
    crate::mail_guard::suppress(&t, "bob@demo.edu", SuppressionReason::Bounce).await;
    let found = t.store().suppression(&bob).await.expect("read");
    assert_eq!(
        found.map(|s| (s.address, s.reason, s.at)),
        Some((bob.clone(), SuppressionReason::Bounce, t.now()))
    );
    // A later report replaces the earlier one; other addresses are untouched.
    t.advance_secs(60);
    crate::mail_guard::suppress(&t, "bob@demo.edu", SuppressionReason::Complaint).await;
    let found = t.store().suppression(&bob).await.expect("read");
    assert_eq!(
        found.map(|s| (s.reason, s.at)),
        Some((SuppressionReason::Complaint, t.now()))
    );
    let ann = email("ann@demo.edu").hash();
    assert_eq!(t.store().suppression(&ann).await.expect("read"), None);
}

/// Every invitation of `status` at `now`, two to a page.
async fn all_in_status(
    t: &TestApp,
    license_id: &LicenseId,
    status: InvitationStatus,
    now: Timestamp,
) -> Vec<InvitationRecord> {
    let (mut all, mut after): (Vec<InvitationRecord>, Option<PagePosition>) = (Vec::new(), None);
    loop {
        let page = t
            .store()
            .license_invitations_by_status(license_id, status, now, Paging::new(after.as_ref(), 2))
            .await
            .expect("a page");
        assert!(page.items.len() <= 2);
        all.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

fn ids(list: &[InvitationRecord]) -> Vec<InvitationId> {
    let mut ids: Vec<InvitationId> = list.iter().map(|i| i.invitation_id.clone()).collect();
    ids.sort();
    ids
}

async fn invitations_are_listed_one_status_at_a_time_in_pages(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license_id = t.license(5).await.license_id;
    let other = t.license(5).await.license_id;
    let owner = user("owner-1", "owner@demo.edu");
    let in_days = |d: i64| Some(t.now() + chrono::TimeDelta::days(d));
    let mut tokens = Vec::new();
    // Pending: three with an expiry, one without; two about to expire.
    for (days, to) in [(3, "a@demo.edu"), (9, "b@demo.edu"), (5, "c@demo.edu")] {
        tokens.push(
            t.invitation_with(
                &license_id,
                Some(to),
                in_days(days),
                InvitationStatus::Pending,
            )
            .await,
        );
    }
    t.invitation(&license_id, None).await;
    for secs in [10, 20] {
        t.invitation_with(
            &license_id,
            None,
            Some(t.now() + chrono::TimeDelta::seconds(secs)),
            InvitationStatus::Pending,
        )
        .await;
    }
    t.invitation_with(&license_id, None, None, InvitationStatus::Revoked)
        .await;
    t.invitation(&other, None).await;
    // One accepted through a claim, one revoked and one declined by their
    // transitions: each moves to its status's listing.
    invites::accept(&t.app, &user("ann", "a@demo.edu"), tokens[0].expose())
        .await
        .expect("accepted");
    invites::decline(&t.app, &user("bob", "b@demo.edu"), tokens[1].expose())
        .await
        .expect("declined");
    let c = t
        .store()
        .invitation(&tokens[2].hash(&t.app.config.hash_keys))
        .await
        .expect("read")
        .expect("c");
    admin::revoke_invitation(&t.app, &owner, &license_id, &c.invitation_id)
        .await
        .expect("revoked");
    t.advance_secs(20);
    let now = t.now();

    let pending = all_in_status(&t, &license_id, InvitationStatus::Pending, now).await;
    assert_eq!(
        pending.len(),
        1,
        "only the link without expiry: {pending:?}"
    );
    assert_eq!(pending[0].expires_at, None);
    let expired = all_in_status(&t, &license_id, InvitationStatus::Expired, now).await;
    assert_eq!(expired.len(), 2);
    assert!(
        expired[0].expires_at > expired[1].expires_at,
        "latest expiry first"
    );
    assert!(
        expired
            .iter()
            .all(|i| i.status_at(now) == InvitationStatus::Expired)
    );
    assert_eq!(
        all_in_status(&t, &license_id, InvitationStatus::Accepted, now)
            .await
            .len(),
        1
    );
    assert_eq!(
        ids(&all_in_status(&t, &license_id, InvitationStatus::Declined, now).await),
        ids(&[t
            .store()
            .invitation(&tokens[1].hash(&t.app.config.hash_keys))
            .await
            .expect("read")
            .expect("b")])
    );
    let revoked = all_in_status(&t, &license_id, InvitationStatus::Revoked, now).await;
    assert_eq!(revoked.len(), 2);
    assert!(
        revoked[0].invitation_id > revoked[1].invitation_id,
        "newest first"
    );
    assert!(revoked.iter().any(|i| i.invitation_id == c.invitation_id));

    // Before the clock moved, the two short ones were pending, by expiry.
    let earlier = now - chrono::TimeDelta::seconds(20);
    let then = all_in_status(&t, &license_id, InvitationStatus::Pending, earlier).await;
    let expiries: Vec<Option<Timestamp>> = then.iter().map(|i| i.expires_at).collect();
    assert_eq!(expiries.len(), 3);
    assert_eq!(expiries[0], None, "never-expiring links first");
    assert!(expiries[1] > expiries[2]);
    assert!(
        all_in_status(&t, &license_id, InvitationStatus::Expired, earlier)
            .await
            .is_empty()
    );

    // The admin listing pages through the same, with cursors of its own.
    let first = admin::list_invitations(
        &t.app,
        &owner,
        &license_id,
        Some(InvitationStatus::Revoked),
        1,
        None,
    )
    .await
    .expect("page 1");
    assert_eq!(first.items.len(), 1);
    let cursor = first.next_cursor.expect("a second page");
    let second = admin::list_invitations(
        &t.app,
        &owner,
        &license_id,
        Some(InvitationStatus::Revoked),
        1,
        Some(&cursor),
    )
    .await
    .expect("page 2");
    assert_eq!(second.items.len(), 1);
    assert_ne!(second.items[0].invitation_id, first.items[0].invitation_id);
    assert!(matches!(
        admin::list_invitations(
            &t.app,
            &owner,
            &license_id,
            Some(InvitationStatus::Pending),
            1,
            Some(&cursor)
        )
        .await,
        Err(ApiError::InvalidRequest(_))
    ));
}

async fn members_are_looked_up_by_address(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license_id = t.license(5).await.license_id;
    let other = t.license(5).await.license_id;
    let code = t.code(&license_id, None).await.formatted();
    let elsewhere = t.code(&other, None).await.formatted();
    for (sub, address) in [("ann", "ann@demo.edu"), ("bob", "Bob@Demo.edu")] {
        redeem::redeem(&t.app, &user(sub, address), &code)
            .await
            .expect("member");
    }
    redeem::redeem(&t.app, &user("cat", "cat@demo.edu"), &elsewhere)
        .await
        .expect("member elsewhere");
    let asked: Vec<_> = [
        "cat@demo.edu",
        "bob@demo.edu",
        "dan@demo.edu",
        "ann@demo.edu",
    ]
    .into_iter()
    .map(integration_tests::email)
    .collect();
    let members = t
        .store()
        .members_among(&license_id, &asked)
        .await
        .expect("looked up");
    assert_eq!(
        members,
        vec![
            integration_tests::email("bob@demo.edu"),
            integration_tests::email("ann@demo.edu")
        ]
    );
    // Leaving ends membership.
    me::leave(&t.app, &user("ann", "ann@demo.edu"), &license_id)
        .await
        .expect("left");
    assert_eq!(
        t.store()
            .members_among(&license_id, &asked)
            .await
            .expect("looked up"),
        vec![integration_tests::email("bob@demo.edu")]
    );
}

async fn codes_are_listed_in_pages_with_their_uses(backend: Backend) {
    let t = TestApp::new(backend).await;
    let license_id = t.license(50).await.license_id;
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(t.code(&license_id, Some(10)).await.formatted());
        t.advance_secs(1);
    }
    for (i, sub) in ["ann", "bob", "cat"].into_iter().enumerate() {
        redeem::redeem(
            &t.app,
            &user(sub, &format!("{sub}@demo.edu")),
            &codes[i % 2],
        )
        .await
        .expect("redeemed");
    }
    let (mut seen, mut after) = (Vec::new(), None::<PagePosition>);
    loop {
        let page = t
            .store()
            .license_codes(&license_id, Paging::new(after.as_ref(), 2))
            .await
            .expect("a page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(
        seen.windows(2).all(|w| w[0].0.code_id > w[1].0.code_id),
        "newest first"
    );
    let uses: Vec<u32> = seen.iter().rev().map(|(_, uses)| *uses).collect();
    assert_eq!(uses, [2, 1, 0, 0, 0]);
}
