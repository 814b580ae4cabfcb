//! The invitation sender (`service::delivery`) on both stores: every
//! address is mailed at most once whatever the queue does (duplicate
//! messages, two senders at once, retries after throttling, a sender that
//! stopped mid-send), and nothing that was not sent is shown as sent.

use std::collections::HashMap;
use std::sync::Arc;

use integration_tests::{Backend, TestApp, Throttling, email, on_both_stores, user};
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{
    Caller, DeliveryState, Email, InvitationStatus, InviteToken, LicenseId,
};
use seat_invitations::service::admin::{self, Delivery};
use seat_invitations::service::delivery::{self, MAX_ATTEMPTS, SENDING_LEASE_SECS, Settled};

on_both_stores!(
    a_retried_bulk_call_invites_and_mails_each_address_once,
    throttled_duplicated_and_concurrent_deliveries_mail_each_address_exactly_once,
    a_send_that_may_have_gone_out_is_unknown_and_never_repeated,
    an_invitation_revoked_while_queued_is_not_sent_and_its_quota_comes_back,
    a_sender_that_stopped_mid_send_leaves_unknown_after_its_lease,
    mail_that_cannot_be_queued_is_withdrawn_and_its_units_come_back,
    a_first_mail_stuck_in_the_queue_can_be_resent_and_is_then_not_sent_again,
    an_invitation_the_sender_has_claimed_can_still_be_revoked,
    a_deferred_send_is_queued_again_and_given_up_on_the_last_attempt,
);

fn owner() -> Caller {
    user("owner-1", "owner@demo.edu")
}

fn addresses(n: usize) -> Vec<Email> {
    (0..n)
        .map(|i| email(&format!("s{i:02}@demo.edu")))
        .collect()
}

/// Every invitation of the license: address -> (status, delivery).
async fn by_address(
    t: &TestApp,
    license_id: &LicenseId,
) -> HashMap<String, (InvitationStatus, Option<DeliveryState>)> {
    let mut all = HashMap::new();
    let mut cursor = None;
    loop {
        let page =
            admin::list_invitations(&t.app, &owner(), license_id, None, 100, cursor.as_deref())
                .await
                .expect("listing");
        for i in page.items {
            all.insert(i.email.unwrap_or_default(), (i.status, i.delivery));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

async fn a_retried_bulk_call_invites_and_mails_each_address_once(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(50).await.license_id;
    let first = admin::invite_emails(&t.app, &owner(), &id, &addresses(5), None)
        .await
        .expect("invited");
    assert!(first.iter().all(|o| o.delivery == Delivery::Queued));
    // The client's retry, before the sender ran and after it.
    let again = admin::invite_emails(&t.app, &owner(), &id, &addresses(5), None)
        .await
        .expect("answered");
    assert!(
        again.iter().all(|o| o.delivery == Delivery::AlreadyInvited),
        "{again:?}"
    );
    assert_eq!(t.deliver().await.sent, 5);
    let third = admin::invite_emails(&t.app, &owner(), &id, &addresses(5), None)
        .await
        .expect("answered");
    assert!(third.iter().all(|o| o.delivery == Delivery::AlreadyInvited));
    assert_eq!(
        third[0].invitation_id, first[0].invitation_id,
        "names the earlier invitation"
    );
    assert_eq!(t.deliver().await, delivery::Drained::default());
    assert_eq!(t.outbox.messages().len(), 5, "one mail per address");
    let all = by_address(&t, &id).await;
    assert_eq!(all.len(), 5, "one invitation per address");
    assert!(
        all.values()
            .all(|v| *v == (InvitationStatus::Pending, Some(DeliveryState::Sent)))
    );
}

/// SES lets one send in three through; every job is in the queue twice
/// (SQS delivers at least once), and two senders drain it at the same
/// time. Each address ends with exactly one mail and `sent`, or, if it
/// ran out of attempts, no mail and `failed` (withdrawn).
async fn throttled_duplicated_and_concurrent_deliveries_mail_each_address_exactly_once(
    backend: Backend,
) {
    let throttling = Arc::new(Throttling::new(3));
    let outbox = throttling.outbox.clone();
    let t = TestApp::with(
        backend,
        Config::defaults(Profile::Local),
        Some(throttling.clone()),
    )
    .await;
    let id = t.license(100).await.license_id;
    let n = 30;
    admin::invite_emails(&t.app, &owner(), &id, &addresses(n), None)
        .await
        .expect("invited");
    for (job, attempt) in t.queue.take_all() {
        t.queue.put_back(job.clone(), attempt);
        t.queue.put_back(job, attempt);
    }
    let no_wait = |_: &delivery::Later, _| std::time::Duration::ZERO;
    let (a, b) = tokio::join!(
        delivery::drain(&t.app, &t.queue, no_wait),
        delivery::drain(&t.app, &t.queue, no_wait)
    );
    let mut mails: HashMap<String, usize> = HashMap::new();
    for m in outbox.messages() {
        *mails.entry(m.to.join(",")).or_default() += 1;
    }
    let all = by_address(&t, &id).await;
    let mut sent = 0;
    let mut failed = 0;
    for address in addresses(n) {
        let address = address.as_str().to_owned();
        match all.get(&address) {
            Some((InvitationStatus::Pending, Some(DeliveryState::Sent))) => {
                assert_eq!(mails.get(&address), Some(&1), "{address}");
                sent += 1;
            }
            Some((InvitationStatus::Revoked, Some(DeliveryState::Failed))) => {
                assert_eq!(mails.get(&address), None, "{address}");
                failed += 1;
            }
            other => panic!("{address}: {other:?}"),
        }
    }
    println!(
        "{n} addresses, every job queued twice, two senders, SES passing 1 send in 3: \
         {sent} sent once each, {failed} given up after {MAX_ATTEMPTS} attempts, \
         {} send attempts, {} throttled, {} retries",
        throttling
            .attempts
            .load(std::sync::atomic::Ordering::SeqCst),
        throttling
            .attempts
            .load(std::sync::atomic::Ordering::SeqCst)
            - sent as u64,
        a.retried + b.retried
    );
    assert_eq!(sent + failed, n);
    assert_eq!(outbox.messages().len(), sent, "no address mailed twice");
    assert!(sent > n / 2, "most get through: {sent}");
    assert_eq!(a.sent + b.sent, sent);
}

/// The mail service gave no answer: the mail may have gone out. It is
/// recorded `unknown` and never sent again; its invitation stays pending.
async fn a_send_that_may_have_gone_out_is_unknown_and_never_repeated(backend: Backend) {
    struct NoAnswer;
    #[async_trait::async_trait]
    impl seat_invitations::mail::Mailer for NoAnswer {
        async fn send(
            &self,
            _: &seat_invitations::mail::OutgoingEmail,
        ) -> Result<String, seat_invitations::error::MailError> {
            Err(seat_invitations::error::MailError::outcome_unknown(
                "SES SendEmail",
                "no service response",
            ))
        }
    }
    let t = TestApp::with(
        backend,
        Config::defaults(Profile::Local),
        Some(Arc::new(NoAnswer)),
    )
    .await;
    let id = t.license(5).await.license_id;
    admin::invite_emails(&t.app, &owner(), &id, &addresses(1), None)
        .await
        .expect("invited");
    let jobs = t.queue.take_all();
    let (job, _) = jobs[0].clone();
    assert_eq!(
        delivery::deliver(&t.app, &job, 1).await,
        Ok(Settled::Unknown)
    );
    assert_eq!(
        delivery::deliver(&t.app, &job, 2).await,
        Ok(Settled::Nothing)
    );
    let all = by_address(&t, &id).await;
    assert_eq!(
        all["s00@demo.edu"],
        (InvitationStatus::Pending, Some(DeliveryState::Unknown))
    );
}

async fn an_invitation_revoked_while_queued_is_not_sent_and_its_quota_comes_back(backend: Backend) {
    let mut config = Config::defaults(Profile::Local);
    config.limits.invitation_mail_quota = 1;
    let t = TestApp::with(backend, config, None).await;
    let id = t.license(5).await.license_id;
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &addresses(1), None)
        .await
        .expect("invited");
    let invitation_id = outcomes[0].invitation_id.clone().expect("id");
    admin::revoke_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("revoked");
    let drained = t.deliver().await;
    assert_eq!((drained.sent, drained.not_sent), (0, 1));
    assert!(t.outbox.messages().is_empty());
    let all = by_address(&t, &id).await;
    assert_eq!(
        all["s00@demo.edu"],
        (InvitationStatus::Revoked, Some(DeliveryState::NotSent))
    );
    // The one unit of the quota, and the address, are free again.
    let again = admin::invite_emails(&t.app, &owner(), &id, &addresses(1), None)
        .await
        .expect("invited again");
    assert_eq!(again[0].delivery, Delivery::Queued);
    assert_eq!(t.deliver().await.sent, 1);
}

/// A sender that claimed an invitation and then stopped (its Lambda timed
/// out mid-send): the next delivery of the message waits out the lease,
/// then records `unknown`, and nobody mails it.
async fn a_sender_that_stopped_mid_send_leaves_unknown_after_its_lease(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    admin::invite_emails(&t.app, &owner(), &id, &addresses(1), None)
        .await
        .expect("invited");
    let (job, _) = t.queue.take_all()[0].clone();
    let queued = t
        .store()
        .invitation_by_id(&id, &job.invitation_id)
        .await
        .expect("read")
        .expect("there");
    let token = InviteToken::generate();
    let held = seat_invitations::domain::InvitationRecord {
        token_hash: token.hash(&t.app.config.hash_keys),
        delivery: Some(DeliveryState::Sending),
        delivery_at: Some(t.now()),
        ..queued.clone()
    };
    assert_eq!(
        t.store()
            .claim_delivery(&queued, &held)
            .await
            .expect("claim"),
        seat_invitations::store::Transition::Done
    );
    // A second claim of the same queued invitation loses.
    assert_eq!(
        t.store()
            .claim_delivery(&queued, &held)
            .await
            .expect("claim"),
        seat_invitations::store::Transition::NotPending
    );
    assert_eq!(
        delivery::deliver(&t.app, &job, 2).await,
        Err(delivery::Later::Held)
    );
    t.advance_secs(SENDING_LEASE_SECS + 1);
    assert_eq!(
        delivery::deliver(&t.app, &job, 3).await,
        Ok(Settled::Unknown)
    );
    assert!(t.outbox.messages().is_empty());
    assert_eq!(
        by_address(&t, &id).await["s00@demo.edu"].1,
        Some(DeliveryState::Unknown)
    );
}

/// The SQS adapter against the emulator: 23 jobs go out in three batches
/// and come back as the sender function receives them.
#[tokio::test]
async fn the_sqs_queue_carries_every_job() {
    use seat_invitations::mail::{DeliveryJob, DeliveryQueue, SqsQueue};
    let sdk = integration_tests::emulator_sdk_config().await;
    let client = aws_sdk_sqs::Client::new(&sdk);
    let name = seat_invitations::domain::random_id("jobs");
    let url = client
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    let jobs: Vec<DeliveryJob> = (0..23)
        .map(|i| DeliveryJob {
            license_id: "lic-1".into(),
            invitation_id: format!("inv_{i:02}").as_str().into(),
            site: Some("https://portal.example".into()),
            quota_window_start: Some(1_788_249_600),
            address_window_start: None,
        })
        .collect();
    SqsQueue::new(client.clone(), &url)
        .enqueue(&jobs)
        .await
        .expect("queued");
    let mut received = Vec::new();
    for _ in 0..10 {
        let out = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for m in out.messages() {
            let job: DeliveryJob = serde_json::from_str(m.body().expect("body")).expect("a job");
            received.push(job);
        }
        if received.len() >= jobs.len() {
            break;
        }
    }
    received.sort_by(|a, b| a.invitation_id.as_str().cmp(b.invitation_id.as_str()));
    assert_eq!(received, jobs);
}

/// The queue refuses the batch: the invitations are withdrawn (`failed`,
/// revoked), their quota units and address slots come back, nothing is
/// mailed.
async fn mail_that_cannot_be_queued_is_withdrawn_and_its_units_come_back(backend: Backend) {
    struct Refusing;
    #[async_trait::async_trait]
    impl seat_invitations::mail::DeliveryQueue for Refusing {
        async fn enqueue(
            &self,
            jobs: &[seat_invitations::mail::DeliveryJob],
        ) -> Result<(), seat_invitations::mail::EnqueueError> {
            Err(seat_invitations::mail::EnqueueError {
                failed: jobs.to_vec(),
                cause: seat_invitations::error::MailError::unavailable(
                    "SQS SendMessageBatch",
                    "AccessDenied",
                ),
            })
        }
    }
    let mut config = Config::defaults(Profile::Local);
    config.limits.invitation_mail_quota = 2;
    let mut t = TestApp::with(backend, config, None).await;
    let id = t.license(5).await.license_id;
    let working = t.app.queue.clone();
    t.app.queue = Arc::new(Refusing);
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &addresses(2), None)
        .await
        .expect("answered");
    assert!(
        outcomes
            .iter()
            .all(|o| (o.delivery, o.status) == (Delivery::Failed, Some(InvitationStatus::Revoked))),
        "{outcomes:?}"
    );
    let all = by_address(&t, &id).await;
    assert!(
        all.values()
            .all(|v| *v == (InvitationStatus::Revoked, Some(DeliveryState::NotSent)))
    );
    // Both quota units and both addresses are free again.
    t.app.queue = working;
    let again = admin::invite_emails(&t.app, &owner(), &id, &addresses(2), None)
        .await
        .expect("invited");
    assert!(again.iter().all(|o| o.delivery == Delivery::Queued));
    assert_eq!(t.deliver().await.sent, 2);
}

/// A first mail the sender never settled (its message dead-lettered): the
/// resend waits while it may still be on its way, then takes over; the late
/// message then finds the invitation sent and mails nothing.
async fn a_first_mail_stuck_in_the_queue_can_be_resent_and_is_then_not_sent_again(
    backend: Backend,
) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    let outcomes = admin::invite_emails(&t.app, &owner(), &id, &addresses(1), None)
        .await
        .expect("invited");
    let invitation_id = outcomes[0].invitation_id.clone().expect("id");
    assert!(matches!(
        admin::resend_invitation(&t.app, &owner(), &id, &invitation_id).await,
        Err(seat_invitations::ApiError::ResendTooSoon {
            retry_after_secs: 60
        })
    ));
    t.advance_secs(3_601);
    let resent = admin::resend_invitation(&t.app, &owner(), &id, &invitation_id)
        .await
        .expect("taken over");
    assert_eq!(resent.delivery, Some(DeliveryState::Sent));
    assert_eq!(t.deliver().await, delivery::Drained::default());
    assert_eq!(t.outbox.messages().len(), 1, "the resend's mail only");
}

/// The sender has claimed the invitation (it is under a new token, being
/// sent): an admin's revoke by id still finds and revokes it. (The race
/// where the revoke read it before the claim moved it retries under the
/// new token; the emulator's index never lags, so it is not staged here.)
async fn an_invitation_the_sender_has_claimed_can_still_be_revoked(backend: Backend) {
    let t = TestApp::new(backend).await;
    let id = t.license(5).await.license_id;
    admin::invite_emails(&t.app, &owner(), &id, &addresses(1), None)
        .await
        .expect("invited");
    let (job, _) = t.queue.take_all()[0].clone();
    let queued = t
        .store()
        .invitation_by_id(&id, &job.invitation_id)
        .await
        .expect("read")
        .expect("there");
    let claimed = seat_invitations::domain::InvitationRecord {
        token_hash: InviteToken::generate().hash(&t.app.config.hash_keys),
        delivery: Some(DeliveryState::Sending),
        delivery_at: Some(t.now()),
        ..queued.clone()
    };
    assert_eq!(
        t.store()
            .claim_delivery(&queued, &claimed)
            .await
            .expect("claim"),
        seat_invitations::store::Transition::Done
    );
    admin::revoke_invitation(&t.app, &owner(), &id, &job.invitation_id)
        .await
        .expect("revoked, not 409");
    assert_eq!(
        by_address(&t, &id).await["s00@demo.edu"].0,
        InvitationStatus::Revoked
    );
}

/// SES paused sending (or the deployment's set-up refused the send): not
/// sent, queued again, and given up as `failed` on the last attempt.
async fn a_deferred_send_is_queued_again_and_given_up_on_the_last_attempt(backend: Backend) {
    struct Paused;
    #[async_trait::async_trait]
    impl seat_invitations::mail::Mailer for Paused {
        async fn send(
            &self,
            _: &seat_invitations::mail::OutgoingEmail,
        ) -> Result<String, seat_invitations::error::MailError> {
            Err(seat_invitations::error::MailError::Deferred {
                operation: "SES SendEmail",
                code: "AccountSendingPausedException".into(),
            })
        }
    }
    let t = TestApp::with(
        backend,
        Config::defaults(Profile::Local),
        Some(Arc::new(Paused)),
    )
    .await;
    let id = t.license(5).await.license_id;
    admin::invite_emails(&t.app, &owner(), &id, &addresses(1), None)
        .await
        .expect("invited");
    let (job, _) = t.queue.take_all()[0].clone();
    for attempt in 1..MAX_ATTEMPTS {
        assert!(
            matches!(
                delivery::deliver(&t.app, &job, attempt).await,
                Err(delivery::Later::Unavailable(_))
            ),
            "attempt {attempt}"
        );
        assert_eq!(
            by_address(&t, &id).await["s00@demo.edu"].1,
            Some(DeliveryState::Queued)
        );
    }
    assert_eq!(
        delivery::deliver(&t.app, &job, MAX_ATTEMPTS).await,
        Ok(Settled::NotSent(DeliveryState::Failed))
    );
    assert_eq!(
        by_address(&t, &id).await["s00@demo.edu"],
        (InvitationStatus::Revoked, Some(DeliveryState::Failed))
    );
}
