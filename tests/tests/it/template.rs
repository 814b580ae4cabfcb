//! One source of truth per fact, held by reading `template.yaml`: the
//! routes each function serves are the router's (and the portal's), the
//! table is `schema.rs`'s, and each function's IAM policy allows what its
//! use cases call on the store.

use std::collections::BTreeSet;

use seat_invitations::http::permissions::{
    EVENT_FUNCTIONS, EVENT_FUNCTIONS_SENDING_MAIL, sends_mail, store_methods,
};
use seat_invitations::http::{Function, routes};
use seat_invitations::store::dynamo::iam::{Access, actions_of, leading_keys_of};
use seat_invitations::store::dynamo::table_schema;
use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml parses")
}

fn resources(template: &Value) -> &serde_norway::Mapping {
    template["Resources"].as_mapping().expect("Resources")
}

/// The function resources with their binary name.
fn functions(template: &Value) -> Vec<(String, &Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .filter_map(|(_, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str()?;
            Some((binary.to_owned(), r))
        })
        .collect()
}

fn function_named<'a>(template: &'a Value, binary: &str) -> &'a Value {
    functions(template)
        .into_iter()
        .find(|(b, _)| b == binary)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no function with binary {binary} in template.yaml"))
}

/// `(method, path)` of every HttpApi event of a function.
fn events(function: &Value) -> BTreeSet<(String, String)> {
    function["Properties"]["Events"]
        .as_mapping()
        .map(|events| {
            events
                .values()
                .filter(|e| e["Type"].as_str() == Some("HttpApi"))
                .map(|e| {
                    let p = &e["Properties"];
                    (
                        p["Method"].as_str().expect("Method").to_ascii_uppercase(),
                        p["Path"].as_str().expect("Path").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_route_the_router_knows_is_on_its_function_and_nothing_else() {
    let template = template();
    let lambdas: BTreeSet<String> = functions(&template).into_iter().map(|(b, _)| b).collect();
    let mut expected: std::collections::BTreeMap<String, BTreeSet<(String, String)>> =
        Default::default();
    for (method, path, function) in routes() {
        expected
            .entry(function.to_owned())
            .or_default()
            .insert((method.as_str().to_owned(), path.to_owned()));
    }
    for page in portal::PAGE_ROUTES {
        expected
            .entry("portal".to_owned())
            .or_default()
            .insert(("GET".to_owned(), (*page).to_owned()));
    }
    expected
        .entry("portal".to_owned())
        .or_default()
        .insert(("GET".to_owned(), "/assets/{proxy+}".to_owned()));
    // Event-triggered functions serve no route.
    for (binary, _) in EVENT_FUNCTIONS {
        expected.entry((*binary).to_owned()).or_default();
    }
    let declared: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(
        lambdas, declared,
        "functions in template.yaml vs the router"
    );
    for (binary, routes) in &expected {
        let function = function_named(&template, binary);
        assert_eq!(&events(function), routes, "routes of {binary}");
    }
}

#[test]
fn the_portal_pages_are_public_and_every_api_route_keeps_the_authorizer() {
    let template = template();
    let auth = &template["Resources"]["HttpApi"]["Properties"]["Auth"];
    assert_eq!(auth["DefaultAuthorizer"].as_str(), Some("JwtAuthorizer"));
    for (binary, function) in functions(&template) {
        for event in function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.values())
        {
            let authorizer = event["Properties"]["Auth"]["Authorizer"].as_str();
            let path = event["Properties"]["Path"].as_str().unwrap_or("");
            if binary == "portal" {
                assert_eq!(authorizer, Some("NONE"), "portal route {path} is public");
            } else {
                assert_eq!(
                    authorizer, None,
                    "{binary} {path} keeps the default authorizer"
                );
            }
        }
    }
}

#[test]
fn the_table_is_the_one_schema_rs_describes() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    let schema = table_schema();
    let keys = |key_schema: &Value| -> (String, String) {
        let list = key_schema.as_sequence().expect("KeySchema");
        let of = |kind: &str| {
            list.iter()
                .find(|k| k["KeyType"].as_str() == Some(kind))
                .and_then(|k| k["AttributeName"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        (of("HASH"), of("RANGE"))
    };
    assert_eq!(
        keys(&table["KeySchema"]),
        (schema.partition_key.to_owned(), schema.sort_key.to_owned())
    );
    let indexes = |list: &Value| -> BTreeSet<(String, String, String)> {
        list.as_sequence()
            .into_iter()
            .flatten()
            .map(|index| {
                assert_eq!(index["Projection"]["ProjectionType"].as_str(), Some("ALL"));
                let (pk, sk) = keys(&index["KeySchema"]);
                (
                    index["IndexName"].as_str().unwrap_or_default().to_owned(),
                    pk,
                    sk,
                )
            })
            .collect()
    };
    let from_schema = |list: &[seat_invitations::store::dynamo::IndexSchema]| -> BTreeSet<_> {
        list.iter()
            .map(|i| {
                (
                    i.name.to_owned(),
                    i.partition_key.to_owned(),
                    i.sort_key.to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        indexes(&table["GlobalSecondaryIndexes"]),
        from_schema(&schema.global_indexes)
    );
    assert_eq!(
        indexes(&table["LocalSecondaryIndexes"]),
        from_schema(&schema.local_indexes)
    );
    let attributes: BTreeSet<String> = table["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| a["AttributeName"].as_str().unwrap_or_default().to_owned())
        .collect();
    let key_attributes: BTreeSet<String> = schema
        .key_attributes()
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(attributes, key_attributes);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(schema.ttl_attribute)
    );
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
}

/// What a policy statement's resource names: the table, one of its
/// indexes, an SES identity, or something else.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Table,
    Index(String),
    Other(String),
}

fn target(resource: &Value) -> Target {
    let text = match resource {
        Value::Tagged(tagged) => match &tagged.value {
            Value::String(s) => s.clone(),
            Value::Sequence(parts) => parts
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            other => format!("{other:?}"),
        },
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    };
    if text == "Table.Arn" || text == "${Table.Arn}" {
        Target::Table
    } else if let Some(index) = text.strip_prefix("${Table.Arn}/index/") {
        Target::Index(index.to_owned())
    } else {
        Target::Other(text)
    }
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

/// Every `(action, target)` a function's policies allow.
fn grants(function: &Value) -> Vec<(String, Target)> {
    let mut all = Vec::new();
    for policy in as_list(&function["Properties"]["Policies"]) {
        for statement in as_list(&policy["Statement"]) {
            if statement["Effect"].as_str() != Some("Allow") {
                continue;
            }
            for action in as_list(&statement["Action"]) {
                for resource in as_list(&statement["Resource"]) {
                    all.push((
                        action.as_str().unwrap_or_default().to_owned(),
                        target(resource),
                    ));
                }
            }
        }
    }
    all
}

fn allows(grants: &[(String, Target)], access: &Access) -> bool {
    let wanted = match access.index {
        None => Target::Table,
        Some(index) => Target::Index(index.to_owned()),
    };
    grants
        .iter()
        .any(|(action, target)| action == access.action && *target == wanted)
}

/// `binary`'s policy allows every action of `methods`, nothing else on the
/// table, and `ses:SendEmail` exactly when it `mails`.
fn check_policy(template: &Value, binary: &str, methods: &[&str], mails: bool) {
    let granted = grants(function_named(template, binary));
    let needed = actions_of(methods);
    for access in &needed {
        assert!(
            allows(&granted, access),
            "{binary} needs {} on {}",
            access.action,
            access
                .index
                .map_or("the table".to_owned(), |i| format!("index {i}"))
        );
    }
    let sends = granted.iter().any(|(action, _)| action == "ses:SendEmail");
    assert_eq!(sends, mails, "{binary} and ses:SendEmail");
    // Nothing beyond: every DynamoDB grant is one some method needs.
    for (action, target) in &granted {
        if !action.starts_with("dynamodb:") {
            continue;
        }
        let used = needed.iter().any(|a| {
            a.action == action
                && match (&a.index, target) {
                    (None, Target::Table) => true,
                    (Some(i), Target::Index(t)) => i == t,
                    _ => false,
                }
        });
        assert!(
            used,
            "{binary} is granted {action} on {target:?}, which nothing it runs calls"
        );
    }
}

#[test]
fn every_functions_policy_allows_what_its_use_cases_call() {
    let template = template();
    for function in Function::LAMBDAS {
        check_policy(
            &template,
            function.name(),
            store_methods(function),
            sends_mail(function),
        );
    }
    for (binary, methods) in EVENT_FUNCTIONS {
        check_policy(
            &template,
            binary,
            methods,
            EVENT_FUNCTIONS_SENDING_MAIL.contains(binary),
        );
    }
    let portal = grants(function_named(&template, "portal"));
    assert!(
        portal.is_empty(),
        "the portal function needs no permissions: {portal:?}"
    );
}

/// Every function that reads the table: the HTTP ones and the event ones.
fn every_function_with_its_methods() -> Vec<(&'static str, &'static [&'static str])> {
    Function::LAMBDAS
        .iter()
        .map(|f| (f.name(), store_methods(*f)))
        .chain(EVENT_FUNCTIONS.iter().copied())
        .collect()
}

/// Each statement on the table itself is limited, with
/// `dynamodb:LeadingKeys`, to the partition-key prefixes its function's
/// store methods touch (`iam::leading_keys_of`); nothing else in the
/// table is reachable with that function's role.
#[test]
fn every_functions_table_statements_are_limited_to_its_key_prefixes() {
    let template = template();
    for (binary, methods) in every_function_with_its_methods() {
        let wanted: Vec<String> = leading_keys_of(methods)
            .iter()
            .map(|prefix| format!("{prefix}*"))
            .collect();
        let mut table_statements = 0;
        for policy in as_list(&function_named(&template, binary)["Properties"]["Policies"]) {
            for statement in as_list(&policy["Statement"]) {
                let on_table = as_list(&statement["Resource"])
                    .iter()
                    .any(|r| target(r) == Target::Table);
                if !on_table {
                    continue;
                }
                table_statements += 1;
                let granted: Vec<String> = as_list(
                    &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                )
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
                let mut sorted = granted.clone();
                sorted.sort();
                assert_eq!(sorted, wanted, "{binary}: dynamodb:LeadingKeys");
            }
        }
        assert!(
            table_statements > 0,
            "{binary} has no statement on the table"
        );
    }
}

/// Every function reads the hashing keys once at start, from the secret
/// the stack generates, and may read nothing else there.
#[test]
fn every_function_may_read_the_hashing_keys_secret_and_nothing_more() {
    let template = template();
    let secret = &template["Resources"]["HashKeysSecret"];
    assert_eq!(secret["Type"].as_str(), Some("AWS::SecretsManager::Secret"));
    assert!(
        secret["Properties"]["GenerateSecretString"].is_mapping(),
        "the key is generated by the stack, never written in the template"
    );
    for (binary, _) in every_function_with_its_methods() {
        let reads: Vec<Target> = grants(function_named(&template, binary))
            .into_iter()
            .filter(|(action, _)| action.starts_with("secretsmanager:"))
            .map(|(action, target)| {
                assert_eq!(action, "secretsmanager:GetSecretValue", "{binary}");
                target
            })
            .collect();
        assert_eq!(
            reads,
            vec![Target::Other("HashKeysSecret".into())],
            "{binary} reads exactly the hashing keys secret"
        );
    }
}

#[test]
fn mail_goes_through_the_configuration_set_that_suppresses_bounces_and_complaints() {
    let template = template();
    let resources = resources(&template);
    let set = &template["Resources"]["MailConfigurationSet"];
    assert_eq!(set["Type"].as_str(), Some("AWS::SES::ConfigurationSet"));
    let reasons: Vec<&str> = set["Properties"]["SuppressionOptions"]["SuppressedReasons"]
        .as_sequence()
        .expect("SuppressedReasons")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(reasons, ["BOUNCE", "COMPLAINT"]);
    let destination = resources
        .values()
        .find(|r| r["Type"].as_str() == Some("AWS::SES::ConfigurationSetEventDestination"))
        .expect("an event destination");
    let types: Vec<&str> = destination["Properties"]["EventDestination"]["MatchingEventTypes"]
        .as_sequence()
        .expect("MatchingEventTypes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(types, ["bounce", "complaint"]);
    // The topic it publishes to triggers mail-events.
    let topic = |v: &Value| format!("{v:?}");
    let published =
        topic(&destination["Properties"]["EventDestination"]["SnsDestination"]["TopicARN"]);
    let subscribed: Vec<String> = function_named(&template, "mail-events")["Properties"]["Events"]
        .as_mapping()
        .expect("Events")
        .values()
        .filter(|e| e["Type"].as_str() == Some("SNS"))
        .map(|e| topic(&e["Properties"]["Topic"]))
        .collect();
    assert_eq!(subscribed, [published]);
    // Every function that mails is told the configuration set's name.
    let globals = format!(
        "{:?}",
        template["Globals"]["Function"]["Environment"]["Variables"]
    );
    assert_eq!(
        globals.matches("SES_CONFIGURATION_SET").count(),
        2,
        "both environment maps name the configuration set"
    );
    for variable in [
        "INVITATION_MAIL_QUOTA",
        "INVITATION_MAIL_WINDOW_SECS",
        "RESEND_COOLDOWN_SECS",
    ] {
        assert_eq!(globals.matches(variable).count(), 2, "{variable}");
    }
}
