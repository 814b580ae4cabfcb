//! `seatctl` against the DynamoDB emulator, as the back office runs it.

use std::process::{Command, Output};

use integration_tests::{Backend, TestApp, dynamodb_endpoint, user};
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::random_id;
use seat_invitations::service::redeem;
use seat_invitations::store::DynamoStore;

fn seatctl(table: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seatctl"))
        .args(args)
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("seatctl runs")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "seatctl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_back_office_creates_resizes_shows_and_seeds() {
    let table = random_id("cli").to_lowercase();
    ok(&seatctl(&table, &["create-table"]));
    ok(&seatctl(&table, &["create-table"])); // idempotent
    ok(&seatctl(
        &table,
        &[
            "create-license",
            "--id",
            "lic-uni",
            "--name",
            "Campus",
            "--organization",
            "Uni",
            "--product",
            "ATLAS.ti",
            "--seats",
            "2",
            "--owner",
            "owner-1:Owner@Uni.edu",
            "--admin",
            "admin-2:admin@uni.edu",
            "--domain",
            "uni.edu",
            "--expires",
            "2030-01-01T00:00:00Z",
        ],
    ));
    let duplicate = seatctl(
        &table,
        &[
            "create-license",
            "--id",
            "lic-uni",
            "--name",
            "x",
            "--organization",
            "x",
            "--product",
            "x",
            "--seats",
            "1",
            "--owner",
            "o:o@uni.edu",
        ],
    );
    assert!(!duplicate.status.success());
    assert!(
        !seatctl(
            &table,
            &[
                "create-license",
                "--id",
                "x",
                "--name",
                "x",
                "--organization",
                "x",
                "--product",
                "x",
                "--seats",
                "1",
                "--owner",
                "no-email"
            ]
        )
        .status
        .success()
    );

    // Two members join through the real use case on the same table.
    let client = integration_tests::dynamodb_client(&dynamodb_endpoint());
    let store = std::sync::Arc::new(DynamoStore::new(client, &table));
    let t = TestApp::on_store(
        Backend::DynamoDb,
        store,
        Config::defaults(Profile::Local),
        None,
    );
    let code = t.code(&"lic-uni".into(), None).await;
    redeem::redeem(&t.app, &user("a", "a@uni.edu"), &code.formatted())
        .await
        .expect("a");
    redeem::redeem(&t.app, &user("b", "b@cs.uni.edu"), &code.formatted())
        .await
        .expect("b");

    let shown: serde_json::Value =
        serde_json::from_str(&ok(&seatctl(&table, &["show", "--license", "lic-uni"])))
            .expect("json");
    assert_eq!(shown["license"]["seatsTotal"], 2);
    assert_eq!(shown["license"]["seatsUsed"], 2);
    assert_eq!(shown["license"]["allowedEmailDomains"][0], "uni.edu");
    assert_eq!(shown["owner"]["email"], "owner@uni.edu");
    assert_eq!(shown["codes"][0]["uses"], 2);

    let too_small = seatctl(
        &table,
        &["set-seats", "--license", "lic-uni", "--seats", "1"],
    );
    assert!(!too_small.status.success());
    assert!(String::from_utf8_lossy(&too_small.stderr).contains("2 seats in use"));
    ok(&seatctl(
        &table,
        &["set-seats", "--license", "lic-uni", "--seats", "3"],
    ));
    redeem::redeem(&t.app, &user("c", "c@uni.edu"), &code.formatted())
        .await
        .expect("c fits now");
    assert!(
        !seatctl(
            &table,
            &["set-seats", "--license", "lic-none", "--seats", "3"]
        )
        .status
        .success()
    );

    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed.json");
    ok(&seatctl(&table, &["load-seed", seed]));
    let demo: serde_json::Value =
        serde_json::from_str(&ok(&seatctl(&table, &["show", "--license", "lic-demo"])))
            .expect("json");
    assert_eq!(demo["license"]["seatsTotal"], 5);
    assert_eq!(demo["codes"][0]["last4"], "4HCD");
    redeem::redeem(&t.app, &user("d", "d@demo.edu"), "I-7KQ2-M9TX-4HCD")
        .await
        .expect("seeded code works");
}

/// `--stack` takes the table and the hashing-keys secret from the stack's
/// outputs: `seatctl --stack NAME` works on the stack's table without
/// anyone copying its generated name, and a missing stack says so.
#[tokio::test]
async fn the_stack_names_the_table_and_the_secret() {
    let endpoint = dynamodb_endpoint();
    let sdk = integration_tests::emulator_sdk_config().await;
    let table = random_id("stacktable").to_lowercase();
    let secret = integration_tests::emulator_hash_keys_secret(&sdk, "s1").await;
    let name = random_id("stack").to_lowercase().replace('_', "-");
    let template = serde_json::json!({
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {
            "TableName": {"Value": table},
            "HashKeysSecret": {"Value": secret},
        },
    });
    aws_sdk_cloudformation::Client::new(&sdk)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .send()
        .await
        .expect("stack");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_seatctl"))
            .args(args)
            .env_remove("TABLE_NAME")
            .env_remove("HASH_KEYS_SECRET_ID")
            .env_remove("HASH_KEYS")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .expect("seatctl runs")
    };
    assert!(ok(&run(&["--stack", &name, "create-table"])).contains(&table));
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed.json");
    let loaded = run(&["--stack", &name, "load-seed", seed]);
    ok(&loaded);
    assert!(
        String::from_utf8_lossy(&loaded.stderr).is_empty(),
        "the stack's secret was used, not the development key: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(&run(&["--stack", &name, "keys", "status"]))).expect("json");
    assert_eq!(status["codes"]["s1"], 1, "{status}");
    // --table still wins over the stack's output.
    let elsewhere = random_id("other").to_lowercase();
    assert!(
        ok(&run(&[
            "--stack",
            &name,
            "--table",
            &elsewhere,
            "create-table"
        ]))
        .contains(&elsewhere)
    );
    let missing = run(&["--stack", "no-such-stack", "show", "--license", "x"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no-such-stack: no such stack"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
