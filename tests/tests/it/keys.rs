//! Keyed hashes of codes and tokens: a key rotation keeps every code and
//! invite URL working, a key that is dropped stops them, and the unkeyed
//! hashes of earlier versions are migrated exactly.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{Backend, TestApp, dynamodb_client, dynamodb_endpoint, user};
use seat_invitations::ApiError;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{HashKey, HashKeys, InviteCode, InviteToken, random_id};
use seat_invitations::service::{invites, redeem};
use seat_invitations::store::DynamoStore;
use sha2::{Digest, Sha256};

integration_tests::on_both_stores!(a_rotation_keeps_old_codes_and_invite_urls_working);

fn config_with(keys: &HashKeys) -> Config {
    let mut config = Config::defaults(Profile::Local);
    config.hash_keys = keys.clone();
    config
}

async fn a_rotation_keeps_old_codes_and_invite_urls_working(backend: Backend) {
    let k1 = HashKeys::development()
        .rotated(HashKey::generate("k1").expect("key"), 1)
        .expect("k1");
    let before = TestApp::with(backend, config_with(&k1), None).await;
    let license = before.license(5).await;
    let old_code = before.code(&license.license_id, None).await;
    let old_token = before.invitation(&license.license_id, None).await;

    // k2 becomes current; k1 stays accepted.
    let k2 = k1
        .rotated(HashKey::generate("k2").expect("key"), 2)
        .expect("k2");
    let after = TestApp::on_store(backend, before.app.store.clone(), config_with(&k2), None);
    let new_code = after.code(&license.license_id, None).await;
    let stored = after
        .store()
        .code(&new_code.hash(&k2))
        .await
        .expect("read")
        .expect("the new code is stored under k2");
    assert_eq!(stored.code_hash.key_id(), Some("k2"));
    redeem::redeem(
        &after.app,
        &user("ann", "ann@demo.edu"),
        &old_code.formatted(),
    )
    .await
    .expect("a code made under the previous key still redeems");
    redeem::redeem(
        &after.app,
        &user("bob", "bob@demo.edu"),
        &new_code.formatted(),
    )
    .await
    .expect("a code made under the new key redeems");
    invites::preview(&after.app, &user("cy", "cy@demo.edu"), old_token.expose())
        .await
        .expect("an invite URL made under the previous key still opens");

    // Once k1 is dropped, what only it made is gone; k2's codes are not.
    let only_k2 = k2
        .rotated(HashKey::generate("k3").expect("key"), 2)
        .expect("k3");
    let dropped = TestApp::on_store(
        backend,
        before.app.store.clone(),
        config_with(&only_k2),
        None,
    );
    assert_eq!(
        redeem::redeem(
            &dropped.app,
            &user("dee", "dee@demo.edu"),
            &old_code.formatted()
        )
        .await
        .err(),
        Some(ApiError::CodeNotFound)
    );
    assert_eq!(
        invites::preview(&dropped.app, &user("cy", "cy@demo.edu"), old_token.expose())
            .await
            .err(),
        Some(ApiError::InviteNotFound)
    );
    assert!(
        redeem::redeem(
            &dropped.app,
            &user("bob", "bob@demo.edu"),
            &new_code.formatted()
        )
        .await
        .expect("k2 is still accepted")
        .already_member
    );
}

/// What versions before keyed hashes stored: SHA-256 of `kind:secret`.
fn unkeyed(kind: &str, secret: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{secret}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rewrites an item as an earlier version stored it: under its unkeyed hash.
async fn make_unkeyed(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    prefix: &str,
    attribute: &str,
    keyed: &str,
    legacy: &str,
) {
    let key = |pk: String| {
        let sk = if prefix == "CODE#" {
            "CODE"
        } else {
            "INVITATION"
        };
        [
            ("pk".to_owned(), AttributeValue::S(pk)),
            ("sk".to_owned(), AttributeValue::S(sk.into())),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
    };
    let item = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(format!("{prefix}{keyed}"))))
        .send()
        .await
        .expect("get")
        .item
        .expect("the keyed item");
    let mut old = item.clone();
    old.insert("pk".into(), AttributeValue::S(format!("{prefix}{legacy}")));
    old.insert(attribute.into(), AttributeValue::S(legacy.into()));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(old))
        .send()
        .await
        .expect("put legacy");
    client
        .delete_item()
        .table_name(table)
        .set_key(Some(key(format!("{prefix}{keyed}"))))
        .send()
        .await
        .expect("delete keyed");
}

#[tokio::test]
async fn the_migration_moves_unkeyed_hashes_to_the_current_key_exactly() {
    let keys = HashKeys::development()
        .rotated(HashKey::generate("k1").expect("key"), 1)
        .expect("k1");
    let endpoint = dynamodb_endpoint();
    let table = random_id("keys");
    let operator = DynamoStore::new(dynamodb_client(&endpoint), &table);
    operator.ensure_table().await.expect("table");
    let store = Arc::new(DynamoStore::new(dynamodb_client(&endpoint), &table));
    let t = TestApp::on_store(Backend::DynamoDb, store, config_with(&keys), None);
    let license = t.license(5).await;
    let code: InviteCode = t.code(&license.license_id, None).await;
    let token: InviteToken = t.invitation(&license.license_id, None).await;
    let canonical = code.formatted().replace('-', "")[1..].to_owned();
    let client = dynamodb_client(&endpoint);
    make_unkeyed(
        &client,
        &table,
        "CODE#",
        "codeHash",
        code.hash(&keys).as_str(),
        &unkeyed("code", &canonical),
    )
    .await;
    make_unkeyed(
        &client,
        &table,
        "INV#",
        "tokenHash",
        token.hash(&keys).as_str(),
        &unkeyed("token", token.expose()),
    )
    .await;
    let census = operator.hash_census().await.expect("census");
    assert_eq!(census.codes.get("unkeyed"), Some(&1));
    assert_eq!(census.invitations.get("unkeyed"), Some(&1));
    assert_eq!(
        redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), &code.formatted())
            .await
            .err(),
        Some(ApiError::CodeNotFound),
        "an unkeyed hash is not looked up"
    );

    let done = operator.rekey_legacy_hashes(&keys).await.expect("migrate");
    assert_eq!((done.codes, done.invitations, done.skipped), (1, 1, 0));
    let census = operator.hash_census().await.expect("census");
    assert_eq!(census.codes.get("k1"), Some(&1));
    assert_eq!(census.invitations.get("k1"), Some(&1));
    assert!(!census.codes.contains_key("unkeyed"));
    let again = operator.rekey_legacy_hashes(&keys).await.expect("again");
    assert_eq!((again.codes, again.invitations), (0, 0), "idempotent");

    // Exactly the item's key changed: both secrets work again.
    redeem::redeem(&t.app, &user("ann", "ann@demo.edu"), &code.formatted())
        .await
        .expect("the migrated code redeems");
    invites::preview(&t.app, &user("bob", "bob@demo.edu"), token.expose())
        .await
        .expect("the migrated invite URL opens");
}

/// What reading the keys adds to a cold start, measured once for the notes
/// (`cargo test -p integration-tests keys::measure -- --ignored
/// --nocapture`, with the emulator at `TEST_DYNAMODB_ENDPOINT`, which also
/// serves Secrets Manager): a new Secrets Manager client and one
/// GetSecretValue, then parsing the keys and the first HMAC, 15 times each.
#[tokio::test]
#[ignore = "a measurement, run by hand"]
async fn measure_key_init_cost() {
    let endpoint = dynamodb_endpoint();
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(seat_invitations::wiring::http_client())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    let name = random_id("keys");
    let keys = HashKeys::development()
        .rotated(HashKey::generate("k1").expect("key"), 1)
        .expect("k1");
    aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name(&name)
        .secret_string(keys.to_json())
        .send()
        .await
        .expect("create secret");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut fetch = Vec::new();
    let mut hash = Vec::new();
    for _ in 0..15 {
        let t0 = std::time::Instant::now();
        let read = seat_invitations::wiring::hash_keys(&aws, &name)
            .await
            .expect("read");
        fetch.push(t0.elapsed().as_secs_f64() * 1e3);
        let t1 = std::time::Instant::now();
        let parsed = HashKeys::parse(&read.to_json()).expect("parse");
        let code = InviteCode::generate();
        std::hint::black_box(code.hash(&parsed));
        hash.push(t1.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "key init: new client + GetSecretValue median {:.2} ms (min {:.2}); parse + first HMAC median {:.1} us",
        median(fetch.clone()),
        fetch.iter().copied().fold(f64::INFINITY, f64::min),
        median(hash)
    );
}
