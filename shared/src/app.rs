//! The application context every handler borrows: store, mailer, clock and
//! configuration, built once per process (Lambda init or devserver start).

use std::sync::Arc;

use chrono::{DurationRound, TimeDelta, Utc};

use crate::config::{Config, MailerKind, StoreKind};
use crate::domain::Timestamp;
use crate::mail::{Mailer, Outbox, SesMailer};
use crate::service::redeem::KnownCodes;
use crate::store::{DynamoStore, MemoryStore, Store};

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Wall-clock time, truncated to milliseconds (what timestamps carry).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let now = Utc::now();
        now.duration_trunc(TimeDelta::milliseconds(1))
            .unwrap_or(now)
    })
}

#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Clock,
    pub config: Arc<Config>,
    /// Which license each code seen by this process belongs to (immutable).
    pub known_codes: Arc<KnownCodes>,
}

/// The concrete adapters behind an [`App`], for callers that need more than
/// the ports (the devserver reads its outbox; tests inspect the store).
pub struct Parts {
    pub app: App,
    pub memory: Option<Arc<MemoryStore>>,
    pub outbox: Option<Arc<Outbox>>,
}

impl App {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Builds the adapters `config` names. AWS clients read the standard
    /// AWS environment (region, credentials, `AWS_ENDPOINT_URL*`).
    pub async fn build(config: Config) -> Result<Parts, String> {
        let needs_aws = config.store == StoreKind::DynamoDb || config.mailer == MailerKind::Ses;
        let aws = if needs_aws {
            Some(aws_config::load_from_env().await)
        } else {
            None
        };
        let (store, memory): (Arc<dyn Store>, _) = match (&config.store, &aws) {
            (StoreKind::DynamoDb, Some(aws)) => {
                let store = DynamoStore::from_sdk_config(aws, &config.table_name);
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
                known_codes: Arc::default(),
            },
            memory,
            outbox,
        })
    }
}
