//! The load-test kit against the DynamoDB emulator: a short, slow dry run
//! (the emulator serialises requests and reports no real capacity), to
//! show the kit drives the real claim code and its meter sees every
//! answer.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::{dynamodb_endpoint, emulator_sdk_config};
use seat_invitations::domain::{HashKeys, random_id};
use seatctl::load_test::{Meter, Plan, metered_store, run};

#[tokio::test]
async fn a_dry_run_claims_every_arrival_and_meters_every_request() {
    let _ = dynamodb_endpoint();
    let aws = emulator_sdk_config().await;
    let table = random_id("load");
    let meter = Meter::default();
    let store = metered_store(&aws, &table, &meter);
    store.ensure_table().await.expect("create test table");
    let plan = Plan {
        rates: vec![4.0, 8.0],
        step: Duration::from_secs(2),
        seats: None,
        max_uses: None,
    };
    let mut printed = Vec::new();
    let steps = run(
        Arc::new(store),
        &meter,
        HashKeys::development(),
        &plan,
        |step| {
            printed.push(step.render(false));
        },
    )
    .await
    .expect("the run");
    for line in &printed {
        println!("{line}");
    }
    assert_eq!(steps.len(), 2);
    for step in &steps {
        assert!(step.arrivals > 0, "{step:?}");
        assert_eq!(
            step.claimed, step.arrivals,
            "every student a seat: {step:?}"
        );
        assert_eq!(step.metered.committed, step.claimed, "one commit per claim");
        assert!(step.metered.transactions >= step.claimed);
        assert_eq!(
            step.metered.requests.get("GetItem").copied(),
            Some(step.arrivals),
            "each redemption reads its code once"
        );
        assert!(step.metered.consumed.keys().any(|k| k == "table write"));
        assert!(step.metered.errors.is_empty(), "{:?}", step.metered.errors);
        assert!(step.containers >= 1);
    }
}
