//! What one admin request reads, counted on the emulator for a large
//! license: every DynamoDB request the adapter sends goes through an SDK
//! interceptor that counts it, the items it returned and the capacity the
//! emulator reports (`ReturnConsumedCapacity: TOTAL` is set on each; moto
//! reports a fixed figure per request, not a measurement). The bounds are
//! absolute: they hold for 1,000 seats (always run) and for 10,000 (run with
//! `cargo test -p integration-tests --test it -- --ignored listing_cost`,
//! the emulator environment set as for every test: moto takes many minutes
//! over it). Also: the migration that gives older items their gsi3 keys.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use integration_tests::{TestApp, dynamodb_endpoint, email, user};
use seat_invitations::domain::{
    Caller, InvitationId, InvitationRecord, InvitationStatus, JoinedVia, LicenseId, SeatRecord,
    SecretHash,
};
use seat_invitations::service::admin::{self, Delivery, NewCode};
use seat_invitations::store::DynamoStore;

/// What the requests of one admin call read.
#[derive(Debug, Clone, Default, PartialEq)]
struct Tally {
    /// Requests by operation.
    requests: BTreeMap<&'static str, u32>,
    /// Items returned by reads (Query, GetItem, BatchGetItem).
    items: u64,
    /// Items a Query evaluated (its `ScannedCount`).
    scanned: u64,
    /// Capacity units as the emulator reports them.
    capacity: f64,
}

impl Tally {
    fn total_requests(&self) -> u32 {
        self.requests.values().sum()
    }

    fn reads(&self) -> u32 {
        ["Query", "GetItem", "BatchGetItem"]
            .iter()
            .filter_map(|op| self.requests.get(op))
            .sum()
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ops: Vec<String> = self
            .requests
            .iter()
            .map(|(op, n)| format!("{n} {op}"))
            .collect();
        write!(
            f,
            "{} requests ({}), {} items returned, {} scanned by queries, {} capacity units (moto)",
            self.total_requests(),
            ops.join(", "),
            self.items,
            self.scanned,
            self.capacity
        )
    }
}

/// Counts every request of the client it is installed on.
#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<Tally>>);

impl Counter {
    /// What was counted since the last call.
    fn take(&self) -> Tally {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn add(&self, op: &'static str, items: u64, scanned: u64, capacity: f64) {
        let mut tally = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *tally.requests.entry(op).or_default() += 1;
        tally.items += items;
        tally.scanned += scanned;
        tally.capacity += capacity;
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "listing cost counter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let total = Some(ReturnConsumedCapacity::Total);
        if let Some(i) = input.downcast_mut::<QueryInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<GetItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<BatchGetItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
            i.return_consumed_capacity = total;
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            self.add("failed", 0, 0, 0.0);
            return Ok(());
        };
        let units = |c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>| {
            c.and_then(|c| c.capacity_units).unwrap_or(0.0)
        };
        if let Some(o) = output.downcast_ref::<QueryOutput>() {
            let scanned = u64::try_from(o.scanned_count).unwrap_or(0);
            self.add(
                "Query",
                count(o.items().len()),
                scanned,
                units(o.consumed_capacity()),
            );
        } else if let Some(o) = output.downcast_ref::<GetItemOutput>() {
            self.add(
                "GetItem",
                u64::from(o.item.is_some()),
                0,
                units(o.consumed_capacity()),
            );
        } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
            let items = o
                .responses
                .as_ref()
                .map_or(0, |r| r.values().map(Vec::len).sum());
            let capacity = o.consumed_capacity().iter().map(|c| units(Some(c))).sum();
            self.add("BatchGetItem", count(items), 0, capacity);
        } else if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
            let capacity = o.consumed_capacity().iter().map(|c| units(Some(c))).sum();
            self.add("TransactWriteItems", 0, 0, capacity);
        } else {
            self.add("other", 0, 0, 0.0);
        }
        Ok(())
    }
}

/// An app on a fresh emulator table whose client counts its requests.
async fn counted_app() -> (TestApp, DynamoStore, Counter, String) {
    let counter = Counter::default();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .http_client(seat_invitations::wiring::http_client())
        .endpoint_url(dynamodb_endpoint())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .interceptor(counter.clone())
        .build();
    let (store, table) =
        integration_tests::new_table(aws_sdk_dynamodb::Client::from_conf(config), "cost").await;
    let t = TestApp::on_table(&store);
    (t, store, counter, table)
}

fn owner() -> Caller {
    user("owner-1", "owner@demo.edu")
}

const PAGE: usize = 20;

/// The most any one listing page may read: the license (authorization)
/// and one query of a page and its look-ahead item (+1 for the cursor's
/// own item on the pending range).
fn assert_one_page(what: &str, tally: &Tally) {
    assert!(
        tally.total_requests() <= 2 && tally.requests.get("Query") == Some(&1),
        "{what}: {tally}"
    );
    assert!(tally.items <= count(PAGE) + 3, "{what}: {tally}");
    assert!(tally.scanned <= count(PAGE) + 2, "{what}: {tally}");
}

/// Seeds `seats` seats and as many invitations (a quarter each pending,
/// expired, accepted, revoked), then measures each admin read. Returns
/// the tallies by name, for the report.
async fn measure(seats: usize) -> Vec<(String, Tally)> {
    let (t, store, counter, _) = counted_app().await;
    let license_id: LicenseId = t
        .license(u32::try_from(seats).expect("seats"))
        .await
        .license_id;
    let now = t.now();
    let seat_records: Vec<SeatRecord> = (0..seats)
        .map(|i| SeatRecord {
            license_id: license_id.clone(),
            user_id: format!("user-{i:05}").into(),
            email: email(&format!("user-{i:05}@demo.edu")),
            joined_at: now - chrono::TimeDelta::seconds(i64::try_from(i).unwrap_or(0)),
            joined_via: JoinedVia::Code,
            via_id: "code_seed".into(),
            shard: u16::try_from(i % 16).unwrap_or(0),
            claim_id: None,
        })
        .collect();
    let invitations: Vec<InvitationRecord> = (0..seats)
        .map(|i| {
            let created = now - chrono::TimeDelta::minutes(i64::try_from(i).unwrap_or(0));
            let (status, days) = match i % 4 {
                0 => (
                    InvitationStatus::Pending,
                    1 + i64::try_from(i % 30).unwrap_or(0),
                ),
                1 => (InvitationStatus::Pending, -1),
                2 => (InvitationStatus::Accepted, 14),
                _ => (InvitationStatus::Revoked, 14),
            };
            InvitationRecord {
                invitation_id: InvitationId::time_ordered(created),
                token_hash: SecretHash::from_stored(format!("seed-token-{i}")),
                license_id: license_id.clone(),
                email: Some(email(&format!("invitee-{i:05}@demo.edu"))),
                status,
                expires_at: Some(now + chrono::TimeDelta::days(days)),
                created_at: created,
                valid_days: Some(14),
                invited_by: None,
                delivery: None,
                delivery_at: None,
            }
        })
        .collect();
    let started = Instant::now();
    let batches = store
        .import_unchecked(&seat_records, &invitations)
        .await
        .expect("seeded");
    eprintln!(
        "seeded {seats} seats and {seats} invitations in {batches} BatchWriteItem requests: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    counter.take();
    let mut report = Vec::new();

    // The status-filtered invitation list: pages 1 to 50 of "pending" (as
    // many as there are, 12 on the smaller license).
    let last = (seats / 4 / PAGE).min(50);
    let mut cursor: Option<String> = None;
    for page in 1..=last {
        let listing = admin::list_invitations(
            &t.app,
            &owner(),
            &license_id,
            Some(InvitationStatus::Pending),
            PAGE,
            cursor.as_deref(),
        )
        .await
        .expect("pending invitations");
        let tally = counter.take();
        assert_eq!(listing.items.len(), PAGE, "page {page} is full");
        assert!(
            listing
                .items
                .iter()
                .all(|i| i.status == InvitationStatus::Pending)
        );
        assert_one_page(&format!("pending invitations, page {page}"), &tally);
        if page == 1 || page == last {
            record(
                &mut report,
                (format!("invitations?status=pending, page {page}"), tally),
            );
        }
        cursor = listing.next_cursor;
    }
    for status in [InvitationStatus::Expired, InvitationStatus::Accepted] {
        let listing =
            admin::list_invitations(&t.app, &owner(), &license_id, Some(status), PAGE, None)
                .await
                .expect("invitations");
        let tally = counter.take();
        assert_eq!(listing.items.len(), PAGE);
        assert!(listing.items.iter().all(|i| i.status == status));
        assert_one_page(&format!("{status:?} invitations"), &tally);
        record(
            &mut report,
            (format!("invitations?status={status:?}, page 1"), tally),
        );
    }

    // Inviting: one new address, one member, then ten addresses.
    let one = admin::invite_emails(
        &t.app,
        &owner(),
        &license_id,
        &[email("new-1@demo.edu")],
        None,
    )
    .await
    .expect("invited");
    assert_eq!(one[0].delivery, Delivery::Queued);
    let tally = counter.take();
    assert!(
        // The license, the address's suppression record, its member lookup,
        // its pending invitations (none).
        tally.reads() <= 4 && tally.items <= 2,
        "invite one: {tally}"
    );
    assert_eq!(tally.requests.get("TransactWriteItems"), Some(&1));
    record(&mut report, ("invite 1 new address".to_owned(), tally));
    let member = admin::invite_emails(
        &t.app,
        &owner(),
        &license_id,
        &[email("user-00042@demo.edu")],
        None,
    )
    .await
    .expect("member");
    assert_eq!(member[0].delivery, Delivery::AlreadyMember);
    let tally = counter.take();
    assert!(
        tally.reads() <= 3 && tally.items <= 2,
        "invite a member: {tally}"
    );
    record(
        &mut report,
        ("invite 1 member (alreadyMember)".to_owned(), tally),
    );
    let ten: Vec<_> = (0..10)
        .map(|i| email(&format!("ten-{i}@demo.edu")))
        .collect();
    admin::invite_emails(&t.app, &owner(), &license_id, &ten, None)
        .await
        .expect("invited ten");
    let tally = counter.take();
    assert!(
        // The license, then per address a suppression record, a member
        // lookup and its pending invitations: 1 + 3n, whatever the
        // license's size.
        tally.reads() <= 31 && tally.items <= 11,
        "invite ten: {tally}"
    );
    record(&mut report, ("invite 10 new addresses".to_owned(), tally));

    // The code list: 30 codes, two pages of 20.
    for _ in 0..30 {
        admin::create_code(&t.app, &owner(), &license_id, NewCode::default())
            .await
            .expect("code");
    }
    counter.take();
    let first = admin::list_codes(&t.app, &owner(), &license_id, PAGE, None)
        .await
        .expect("codes");
    let tally = counter.take();
    assert_eq!(first.items.len(), PAGE);
    // License + one query + the page's counters (`COUNTER_SHARDS` each),
    // 100 keys a batch.
    let shards = usize::from(seat_invitations::domain::COUNTER_SHARDS);
    let batches = u32::try_from((shards * PAGE).div_ceil(100)).unwrap_or(u32::MAX);
    assert!(tally.total_requests() <= 2 + batches, "codes: {tally}");
    assert!(
        tally.items <= count(2 + PAGE + shards * PAGE),
        "codes: {tally}"
    );
    record(&mut report, ("codes, page 1 (20 codes)".to_owned(), tally));
    let second = admin::list_codes(
        &t.app,
        &owner(),
        &license_id,
        PAGE,
        first.next_cursor.as_deref(),
    )
    .await
    .expect("codes");
    assert_eq!(second.items.len(), 10);
    record(
        &mut report,
        ("codes, page 2 (10 codes)".to_owned(), counter.take()),
    );

    // For comparison: the seat list merges its 16 shards.
    admin::list_seats(&t.app, &owner(), &license_id, PAGE, None)
        .await
        .expect("seats");
    record(
        &mut report,
        ("seats, page 1 (unchanged)".to_owned(), counter.take()),
    );

    eprintln!("admin reads on a license of {seats} seats and {seats} invitations:");
    for (what, tally) in &report {
        eprintln!("  {what}: {tally}");
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_reads_are_one_page_on_a_thousand_seat_license() {
    measure(1_000).await;
}

/// The same on 10,000 seats and 10,000 invitations. Seeding them takes
/// moto about 15 s; the invitation pages and invite calls then measure as
/// on 1,000, but moto deep-copies the table's items for every index query
/// and runs out of memory at the code list (give it a memory cap, e.g.
/// `prlimit --as=9000000000`). Run it with `--ignored` (see the module doc).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "20,000 items on moto: many minutes; run with --ignored"]
async fn admin_reads_are_one_page_on_a_ten_thousand_seat_license() {
    measure(10_000).await;
}

/// Invitations and seats written before gsi3 existed: invisible to the
/// status list and the member check until `backfill_lookup_keys` runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_backfill_gives_older_items_their_lookup_keys() {
    let (t, store, _, table) = counted_app().await;
    let license_id = t.license(5).await.license_id;
    let code = t.code(&license_id, None).await.formatted();
    seat_invitations::service::redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), &code)
        .await
        .expect("member");
    let token = t.invitation(&license_id, Some("bob@demo.edu")).await;
    // As the previous version wrote them: no gsi3 keys.
    let raw = integration_tests::dynamodb_client(&dynamodb_endpoint());
    for (pk, sk) in [
        ("USER#ann".to_owned(), format!("SEAT#{license_id}")),
        (
            format!("INV#{}", token.hash(&t.app.config.hash_keys).as_str()),
            "INVITATION".to_owned(),
        ),
    ] {
        raw.update_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("REMOVE gsi3pk, gsi3sk")
            .send()
            .await
            .expect("stripped");
    }
    let pending = || async {
        admin::list_invitations(
            &t.app,
            &owner(),
            &license_id,
            Some(InvitationStatus::Pending),
            10,
            None,
        )
        .await
        .expect("listed")
        .items
        .len()
    };
    let members = || async {
        t.store()
            .members_among(&license_id, &[email("ann@demo.edu")])
            .await
            .expect("looked up")
            .len()
    };
    assert_eq!((pending().await, members().await), (0, 0));

    let done = store.backfill_lookup_keys().await.expect("backfilled");
    assert_eq!((done.invitations, done.seats, done.skipped), (1, 1, 0));
    assert_eq!((pending().await, members().await), (1, 1));
    let again = store.backfill_lookup_keys().await.expect("idempotent");
    assert_eq!((again.invitations, again.seats), (0, 0));
}

/// Seat counters written before they carried the license's rules: a code
/// new to a container still claims (the shard refuses the first attempt,
/// the claim reads the license), and the backfill gives them the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_backfill_copies_license_rules_to_older_seat_counters() {
    let (t, store, _, table) = counted_app().await;
    let mut license = t.license_builder(20);
    license.allowed_email_domains = vec!["@Demo.edu".into()];
    let license_id = t.create(license).await.license_id;
    let code = t.code(&license_id, None).await.formatted();
    let raw = integration_tests::dynamodb_client(&dynamodb_endpoint());
    // Each redemption in a container that has not seen the code yet.
    let cold = || t.app.another_container();
    let redeem = |who: seat_invitations::domain::Caller| {
        let app = cold();
        let code = code.clone();
        async move { seat_invitations::service::redeem::redeem(&app, &who, &code).await }
    };
    let shard = |i: u16| {
        raw.get_item()
            .table_name(&table)
            .key(
                "pk",
                AttributeValue::S(format!("LIC#{license_id}#SEATS#{i}")),
            )
            .key("sk", AttributeValue::S("COUNTER".into()))
            .consistent_read(true)
            .send()
    };
    // As the previous version wrote them: no rules.
    for i in 0..16 {
        raw.update_item()
            .table_name(&table)
            .key(
                "pk",
                AttributeValue::S(format!("LIC#{license_id}#SEATS#{i}")),
            )
            .key("sk", AttributeValue::S("COUNTER".into()))
            .update_expression("REMOVE #rules, domains")
            .expression_attribute_names("#rules", "rules")
            .send()
            .await
            .expect("stripped");
    }
    let claimed = redeem(user("ann", "ann@cs.demo.edu"))
        .await
        .expect("claimed through the license read");
    assert_eq!(claimed.license.seats_used, 1);
    assert_eq!(
        redeem(user("eve", "eve@other.edu")).await.err(),
        Some(seat_invitations::ApiError::EmailDomainNotAllowed)
    );

    let done = store.copy_rules_to_seat_shards().await.expect("copied");
    assert!(done.licenses >= 1);
    assert_eq!(done.shards, 16);
    let item = shard(3).await.expect("read").item.expect("shard");
    assert_eq!(item.get("rules"), Some(&AttributeValue::N("1".into())));
    assert_eq!(
        item.get("domains"),
        Some(&AttributeValue::L(vec![AttributeValue::S(
            "demo.edu".into()
        )]))
    );
    assert!(item.contains_key("used"), "the count is untouched");
    let again = store.copy_rules_to_seat_shards().await.expect("idempotent");
    assert_eq!(again.shards, 0);
    // With the copy, the domain rule holds inside the transaction too.
    let bob = redeem(user("bob", "bob@demo.edu"))
        .await
        .expect("bob claims");
    assert_eq!(bob.license.seats_used, 2);
    assert_eq!(
        redeem(user("mal", "mal@evil.edu")).await.err(),
        Some(seat_invitations::ApiError::EmailDomainNotAllowed)
    );
}

/// Keeps one measurement for the report and prints it at once, so a run
/// that stops early (the emulator running out of memory) still shows what
/// it measured.
fn record<T: std::fmt::Display>(report: &mut Vec<(String, T)>, entry: (String, T)) {
    eprintln!("  measured {}: {}", entry.0, entry.1);
    report.push(entry);
}
