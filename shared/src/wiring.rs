//! Which adapters a configuration names, built once per process: the
//! embedded store or DynamoDB, the outbox or SES. The one place that knows
//! the concrete adapter types.

use std::sync::Arc;

use crate::app::{App, system_clock};
use crate::config::{Config, MailerKind, StoreKind};
use crate::mail::{Mailer, Outbox, SesMailer};
use crate::store::{DynamoStore, MemoryStore, Store};

/// The concrete adapters behind an [`App`], for callers that need more than
/// the ports (the devserver reads its outbox; tests inspect the store).
pub struct Parts {
    pub app: App,
    pub memory: Option<Arc<MemoryStore>>,
    pub outbox: Option<Arc<Outbox>>,
}

/// Builds the adapters `config` names. AWS clients read the standard AWS
/// environment (region, credentials, `AWS_ENDPOINT_URL*`).
pub async fn build(config: Config) -> Result<Parts, String> {
    let needs_aws = config.store == StoreKind::DynamoDb || config.mailer == MailerKind::Ses;
    let aws = if needs_aws {
        Some(aws_config::load_from_env().await)
    } else {
        None
    };
    let (store, memory): (Arc<dyn Store>, _) = match (&config.store, &aws) {
        (StoreKind::DynamoDb, Some(aws)) => {
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_name);
            if config.create_table {
                store.ensure_table().await.map_err(|e| e.to_string())?;
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
            Arc::new(SesMailer::new(aws_sdk_ses::Client::new(aws))),
            None,
        ),
        _ => {
            let outbox = Arc::new(Outbox::default());
            (outbox.clone(), Some(outbox))
        }
    };
    Ok(Parts {
        app: App {
            store,
            mailer,
            clock: system_clock(),
            config: Arc::new(config),
            code_routes: Arc::default(),
        },
        memory,
        outbox,
    })
}
