//! The DynamoDB adapter: one table, items converted with `serde_dynamo`,
//! every multi-item change a `TransactWriteItems`. SDK types stay in here.
//!
//! Where things are:
//!
//! - [`keys`]: every key and index key string (the table layout is there);
//! - [`items`]: one serde struct per stored item;
//! - [`schema`]: the table definition as data, and `ensure_table`;
//! - [`tx`]: the transaction builder and the one retry policy (and how it
//!   stacks with the SDK's retries);
//! - [`query`]: queries and paging; [`batch`]: reads by key;
//! - [`error`]: SDK errors as `StoreError`s, failed conditions;
//! - [`iam`]: the DynamoDB actions each port needs;
//! - `maintenance`: the gsi3 backfill (`seatctl backfill-lookup-keys`) and
//!   a bulk import for load tests;
//! - one file per port: `claims`, `codes`, `invitations`, `directory`,
//!   `audit`, `limits`, `suppressions`;
//! - [`rekey`]: operator tools for the hashing keys (census, migration).

mod audit;
mod batch;
mod claims;
mod codes;
mod demand;
mod directory;
mod error;
pub mod iam;
mod invitations;
mod items;
mod keys;
mod limits;
mod maintenance;
mod query;
mod rekey;
pub mod schema;
mod suppressions;
mod tx;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

pub use keys::turned_away_partition;
pub use maintenance::{Backfill, ShardRules, Widened};
pub use rekey::{HashCensus, Rekeyed};
pub use schema::{IndexSchema, TableSchema, table_schema};

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// An adapter on `client` as it is configured (tests pass clients with
    /// their own retry settings).
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    /// An adapter with a client built from the shared AWS configuration,
    /// with the SDK retry settings this adapter is designed around (see
    /// [`tx`]): what the application and the CLI use.
    pub fn from_sdk_config(aws: &aws_config::SdkConfig, table: &str) -> Self {
        Self::new(Client::from_conf(Self::client_config(aws).build()), table)
    }

    /// The client configuration [`Self::from_sdk_config`] builds, for a
    /// caller that adds to it (an interceptor, say) before building.
    pub fn client_config(aws: &aws_config::SdkConfig) -> aws_sdk_dynamodb::config::Builder {
        let mut config =
            aws_sdk_dynamodb::config::Builder::from(aws).retry_config(tx::sdk_retry_config());
        // DynamoDB answers in milliseconds; an emulator on a busy laptop
        // (one request at a time) may take seconds, and that is no reason
        // to give up on it.
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok();
        if !tx::is_local(endpoint.as_deref().or(aws.endpoint_url())) {
            config = config.timeout_config(tx::sdk_timeout_config());
        }
        config
    }
}
