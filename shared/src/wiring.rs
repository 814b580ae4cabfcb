//! Which adapters a configuration names, built once per process: the
//! embedded store or DynamoDB, the outbox or SES. The one place that knows
//! the concrete adapter types.

use std::sync::Arc;

use crate::app::{App, system_clock};
use crate::config::{Config, MailerKind, StoreKind, TlsRoots};
use crate::domain::HashKeys;
use crate::mail::{DeliveryQueue, LocalQueue, Mailer, Outbox, SesMailer, SqsQueue};
use crate::store::{DynamoStore, MemoryStore, Store};

/// The concrete adapters behind an [`App`], for callers that need more than
/// the ports (the devserver reads its outbox; tests inspect the store).
pub struct Parts {
    pub app: App,
    pub memory: Option<Arc<MemoryStore>>,
    pub outbox: Option<Arc<Outbox>>,
    /// The in-process delivery queue, when there is no SQS queue: whoever
    /// runs the process drains it (`service::delivery::drain`).
    pub local_queue: Option<Arc<LocalQueue>>,
}

/// Builds the adapters `config` names. AWS clients read the standard AWS
/// environment (region, credentials, `AWS_ENDPOINT_URL*`).
pub async fn build(mut config: Config) -> Result<Parts, String> {
    let needs_aws = config.store == StoreKind::DynamoDb
        || config.mailer == MailerKind::Ses
        || config.hash_keys_secret_id.is_some()
        || config.invitation_queue_url.is_some();
    let local = local_endpoints(|name| std::env::var(name).ok());
    let aws = if needs_aws {
        Some(aws_sdk_config(&local, config.tls_roots).await?)
    } else {
        None
    };
    if let (Some(secret_id), Some(aws)) = (&config.hash_keys_secret_id, &aws) {
        config.hash_keys = hash_keys(aws, secret_id).await?;
    } else if config.hash_keys.is_development() {
        tracing::warn!(
            "codes and tokens are hashed with the built-in development key; set HASH_KEYS or HASH_KEYS_SECRET_ID for real data"
        );
    }
    let (store, memory): (Arc<dyn Store>, _) = match (&config.store, &aws) {
        (StoreKind::DynamoDb, Some(aws)) => {
            let store = DynamoStore::from_sdk_config(aws, &config.table_name);
            if config.create_table {
                store
                    .ensure_table()
                    .await
                    .map_err(|e| explain(&local, &e.to_string()))?;
            } else if !local.is_empty() && config.check_table {
                check_table(aws, &config.table_name, &local).await?;
            }
            (Arc::new(store), None)
        }
        _ => {
            let memory = Arc::new(MemoryStore::new());
            (memory.clone(), Some(memory))
        }
    };
    let (mailer, outbox): (Arc<dyn Mailer>, _) = match (&config.mailer, &aws) {
        (MailerKind::Ses, Some(aws)) => (
            Arc::new(
                SesMailer::new(aws_sdk_ses::Client::from_conf(
                    aws_sdk_ses::config::Builder::from(aws)
                        .timeout_config(crate::mail::ses_timeout_config())
                        .retry_config(crate::mail::ses_retry_config(config.ses_max_attempts))
                        .build(),
                ))
                .with_configuration_set(config.ses_configuration_set.clone()),
            ),
            None,
        ),
        _ => {
            let outbox = Arc::new(match &config.outbox_file {
                Some(path) => Outbox::with_file(path),
                None => Outbox::default(),
            });
            (outbox.clone(), Some(outbox))
        }
    };
    let (queue, local_queue): (Arc<dyn DeliveryQueue>, _) =
        match (&config.invitation_queue_url, &aws) {
            (Some(url), Some(aws)) => (
                Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), url.clone())),
                None,
            ),
            _ => {
                let local = Arc::new(LocalQueue::default());
                (local.clone(), Some(local))
            }
        };
    Ok(Parts {
        app: App {
            store,
            mailer,
            queue,
            clock: system_clock(),
            config: Arc::new(config),
            known_codes: Arc::default(),
            claim_views: Arc::default(),
        },
        memory,
        outbox,
        local_queue,
    })
}

/// A Secrets Manager failure by its error code only: neither the secret
/// nor the service's message (which may quote it) is shown.
fn secret_error(
    what: String,
    err: &impl aws_sdk_secretsmanager::error::ProvideErrorMetadata,
) -> String {
    format!("{what} failed: {}", err.code().unwrap_or("no answer"))
}

/// The hashing keys, read once per process from Secrets Manager.
pub async fn hash_keys(aws: &aws_config::SdkConfig, secret_id: &str) -> Result<HashKeys, String> {
    let output = aws_sdk_secretsmanager::Client::new(aws)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| {
            secret_error(
                format!("reading the hashing keys from secret {secret_id}"),
                &err,
            )
        })?;
    let value = output
        .secret_string()
        .ok_or_else(|| format!("secret {secret_id} holds no string"))?;
    HashKeys::parse(value).map_err(|why| format!("secret {secret_id}: {why}"))
}

/// Writes `keys` as the secret's new value (`seatctl keys rotate`).
pub async fn put_hash_keys(
    aws: &aws_config::SdkConfig,
    secret_id: &str,
    keys: &HashKeys,
) -> Result<(), String> {
    aws_sdk_secretsmanager::Client::new(aws)
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(keys.to_json())
        .send()
        .await
        .map(|_| ())
        .map_err(|err| secret_error(format!("writing secret {secret_id}"), &err))
}

/// `AWS_ENDPOINT_URL*` values that point at this machine (an emulator).
fn local_endpoints(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SES",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    ]
    .iter()
    .filter_map(|name| var(name))
    .filter(|url| {
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(url)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        matches!(
            host,
            "127.0.0.1" | "localhost" | "[::1]" | "host.docker.internal"
        )
    })
    .collect()
}

/// Amazon Trust Services' root certificates (PEM), see [`TlsRoots::Amazon`].
const AMAZON_ROOTS: &[u8] = include_bytes!("aws-roots.pem");

/// The HTTP client of every AWS client: rustls on ring, trusting `roots`.
pub fn http_client_trusting(
    roots: TlsRoots,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = match roots {
        TlsRoots::System => tls::TrustStore::default(),
        TlsRoots::Amazon => tls::TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_ROOTS),
    };
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context),
        // Building a context only stores what it is given; should that
        // change, the default context trusts the system's roots.
        Err(_) => builder,
    }
    .build_https()
}

/// The HTTP client trusting the system's roots (`seatctl`, tests).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    http_client_trusting(TlsRoots::System)
}

/// The AWS SDK configuration from the standard environment, as `seatctl`
/// uses it.
pub async fn aws_sdk_config_from_env() -> aws_config::SdkConfig {
    aws_config::from_env()
        .http_client(http_client())
        .load()
        .await
}

/// The AWS SDK configuration. Against a local emulator, region and
/// credentials must come from the environment: a local run never falls
/// through to the instance metadata service, and says what is missing.
async fn aws_sdk_config(
    local: &[String],
    roots: TlsRoots,
) -> Result<aws_config::SdkConfig, String> {
    if local.is_empty() {
        return Ok(aws_config::from_env()
            .http_client(http_client_trusting(roots))
            .load()
            .await);
    }
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") {
        return Err(format!(
            "{} is a local endpoint: set AWS_REGION too (the emulator keeps regions apart; the docs use us-east-1)",
            local[0]
        ));
    }
    let env_keys = set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY");
    if !env_keys && !set("AWS_PROFILE") {
        return Err(format!(
            "{} is a local endpoint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values, e.g. test and test)",
            local[0]
        ));
    }
    let mut loader = aws_config::from_env()
        .http_client(http_client_trusting(roots))
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    if !set("AWS_PROFILE") {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    Ok(loader.load().await)
}

/// A store error at start, with what to do about a local endpoint that
/// does not answer.
fn explain(local: &[String], error: &str) -> String {
    if local.is_empty() || !error.contains("dispatch failure") {
        return error.to_owned();
    }
    format!(
        "{error}: nothing answers at {}. Start the DynamoDB emulator first, in another \
         terminal: ./scripts/emulator.sh (it serves on port 5000; docs/local-sam.md)",
        local.join(", ")
    )
}

/// Against a local emulator, a missing table is named at start with the
/// two ways to create it (in AWS the template creates it).
async fn check_table(
    aws: &aws_config::SdkConfig,
    table: &str,
    local: &[String],
) -> Result<(), String> {
    let client = aws_sdk_dynamodb::Client::new(aws);
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Err(format!(
                "the table {table:?} does not exist at {}: set CREATE_TABLE=true, or run `cargo run --bin seatctl -- create-table`",
                local.join(", ")
            ))
        }
        Err(err) => Err(explain(local, &format!("DescribeTable: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_roots_are_the_five_amazon_trust_services_certificates() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_ROOTS)
            .collect::<Result<_, _>>()
            .expect("every block parses");
        assert_eq!(certs.len(), 5);
        // And rustls takes each as a trust anchor.
        let mut store = rustls::RootCertStore::empty();
        let (valid, invalid) = store.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }

    #[test]
    fn only_endpoints_on_this_machine_are_local() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            local_endpoints(vars(&[(
                "AWS_ENDPOINT_URL_DYNAMODB",
                "http://127.0.0.1:5000"
            )])),
            vec!["http://127.0.0.1:5000".to_owned()]
        );
        assert!(
            local_endpoints(vars(&[(
                "AWS_ENDPOINT_URL",
                "https://dynamodb.eu-central-1.amazonaws.com"
            )]))
            .is_empty()
        );
        assert!(local_endpoints(vars(&[])).is_empty());
    }
}
