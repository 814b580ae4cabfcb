//! Licenses and codes made with 16 counter shards, before `COUNTER_SHARDS`
//! was raised: their claims work on the shards they have, and
//! `widen_counters` gives them the rest without losing a seat or a use.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{TestApp, dynamodb_client, dynamodb_endpoint, new_table, user};
use seat_invitations::ApiError;
use seat_invitations::domain::{
    COUNTER_SHARDS, Event, EventKind, LEGACY_COUNTER_SHARDS, LicenseId,
};
use seat_invitations::service::redeem;
use seat_invitations::store::{Claims, Directory, DynamoStore, SeatsChange};

/// Cuts a sharded counter back to the 16 shards of the old layout, `total`
/// split over them as the old code split it.
async fn as_of_old(client: &aws_sdk_dynamodb::Client, table: &str, stem: &str, total: Option<u32>) {
    let old = u32::from(LEGACY_COUNTER_SHARDS);
    for i in 0..COUNTER_SHARDS {
        let key =
            |r: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder| {
                r.table_name(table)
                    .key("pk", AttributeValue::S(format!("{stem}#{i}")))
                    .key("sk", AttributeValue::S("COUNTER".into()))
            };
        if i < LEGACY_COUNTER_SHARDS {
            let mut update = key(client.update_item());
            update = match total {
                Some(total) => {
                    let cap = total / old + u32::from(u32::from(i) < total % old);
                    update
                        .update_expression("SET #cap = :cap")
                        .expression_attribute_values(":cap", AttributeValue::N(cap.to_string()))
                        .expression_attribute_names("#cap", "cap")
                }
                None => update
                    .update_expression("SET #used = #used")
                    .expression_attribute_names("#used", "used"),
            };
            update.send().await.expect("old cap");
        } else {
            client
                .delete_item()
                .table_name(table)
                .key("pk", AttributeValue::S(format!("{stem}#{i}")))
                .key("sk", AttributeValue::S("COUNTER".into()))
                .send()
                .await
                .expect("shard gone");
        }
    }
}

#[tokio::test]
async fn old_sixteen_shard_licenses_and_codes_claim_and_widen_without_losing_a_seat() {
    let client = dynamodb_client(&dynamodb_endpoint());
    let (store, table) = new_table(client.clone(), "widen").await;
    let t = TestApp::on_table(&store);
    let license = t.license(40).await;
    let id: LicenseId = license.license_id.clone();
    let open = t.code(&id, None).await;
    let capped = t.code(&id, Some(30)).await;
    let code_ids = t
        .store()
        .license_codes(
            &id,
            seat_invitations::store::Paging {
                after: None,
                limit: 10,
            },
        )
        .await
        .expect("codes")
        .items;
    as_of_old(&client, &table, &format!("LIC#{id}#SEATS"), Some(40)).await;
    for (code, _) in &code_ids {
        as_of_old(
            &client,
            &table,
            &format!("CODE#{}#USES", code.code_id),
            code.max_uses,
        )
        .await;
    }
    // Each student in a container of their own, so nothing is remembered.
    let redeem_as = |n: u32, code: String| {
        let app = t.app.another_container();
        async move {
            let student = user(&format!("s{n}"), &format!("s{n}@demo.edu"));
            redeem::redeem(&app, &student, &code).await
        }
    };
    let shard_of = |n: u32| {
        let (store, id) = (store.clone(), id.clone());
        async move {
            store
                .seat(&format!("s{n}").into(), &id)
                .await
                .expect("read")
                .expect("the seat")
                .shard
        }
    };
    // On the old layout: claims pick among the 16 shards there are.
    for n in 0..10 {
        let code = if n % 2 == 0 { &open } else { &capped };
        redeem_as(n, code.formatted())
            .await
            .expect("a seat on the old layout");
        assert!(shard_of(n).await < LEGACY_COUNTER_SHARDS);
    }

    // The operator changes the seats on the old layout: the 16 shards get
    // the new caps, the absent ones stay absent.
    let seats_to = |total: u32| {
        let (store, id) = (store.clone(), id.clone());
        async move {
            let event = Event::new(&id, EventKind::SeatsChanged, "operator", chrono::Utc::now());
            assert_eq!(
                store
                    .set_seats_total(&id, total, &event)
                    .await
                    .expect("seats"),
                SeatsChange::Changed
            );
        }
    };
    seats_to(45).await;
    let caps = |ctx: &seat_invitations::store::ClaimContext| {
        (
            ctx.seat_counters.len(),
            ctx.seat_counters.iter().filter_map(|c| c.cap).sum::<u32>(),
        )
    };
    let read = |store: DynamoStore, id: LicenseId| async move {
        store
            .claim_context(&id, &"nobody".into(), None, true)
            .await
            .expect("read")
    };
    assert_eq!(
        caps(&read(store.clone(), id.clone()).await),
        (usize::from(LEGACY_COUNTER_SHARDS), 45)
    );
    seats_to(40).await;

    let done = store.widen_counters().await.expect("widened");
    assert_eq!((done.codes, done.licenses), (2, 1));
    assert!(done.skipped.is_empty());
    let ctx = store
        .claim_context(&id, &"nobody".into(), None, true)
        .await
        .expect("read");
    assert_eq!(ctx.seat_counters.len(), usize::from(COUNTER_SHARDS));
    assert_eq!(ctx.seat_counters.iter().map(|c| c.used).sum::<u32>(), 10);
    assert_eq!(
        ctx.seat_counters.iter().filter_map(|c| c.cap).sum::<u32>(),
        40,
        "the same seats, spread over every shard"
    );
    let (capped_record, _) = code_ids
        .iter()
        .find(|(c, _)| c.max_uses.is_some())
        .expect("the capped code");
    let uses = store
        .claim_context(&id, &"nobody".into(), Some(&capped_record.code_id), true)
        .await
        .expect("read")
        .use_counters;
    assert_eq!(uses.len(), usize::from(COUNTER_SHARDS));
    assert_eq!(uses.iter().map(|c| c.used).sum::<u32>(), 5);
    assert_eq!(uses.iter().filter_map(|c| c.cap).sum::<u32>(), 30);
    assert_eq!(
        store.widen_counters().await.expect("again"),
        Default::default()
    );
    // Seats changed after widening spread over every shard.
    seats_to(48).await;
    assert_eq!(
        caps(&read(store.clone(), id.clone()).await),
        (usize::from(COUNTER_SHARDS), 48)
    );
    seats_to(40).await;

    // The rest fill every seat exactly, on any shard; then none is left.
    let mut wide = 0;
    for n in 10..40 {
        redeem_as(n, open.formatted())
            .await
            .expect("a seat after widening");
        wide += usize::from(shard_of(n).await >= LEGACY_COUNTER_SHARDS);
    }
    assert!(wide > 0, "claims use the new shards");
    assert_eq!(
        redeem_as(40, open.formatted()).await.err(),
        Some(ApiError::NoSeatsAvailable)
    );
}
