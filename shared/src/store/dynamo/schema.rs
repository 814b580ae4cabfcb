//! The table, as data: its key attributes, indexes and TTL attribute. The
//! adapter creates tables from it (`ensure_table`, for local use and
//! tests); `template.yaml` declares the production table, and a test can
//! compare the two through [`table_schema`].

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::DynamoStore;
use super::error::{build_err, classify};
use crate::error::StoreResult;

// Key attributes. Every key attribute is a string (`S`).
pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const GSI1PK: &str = "gsi1pk";
pub(super) const GSI1SK: &str = "gsi1sk";
pub(super) const GSI2PK: &str = "gsi2pk";
pub(super) const GSI2SK: &str = "gsi2sk";
pub(super) const GSI3PK: &str = "gsi3pk";
pub(super) const GSI3SK: &str = "gsi3sk";
pub(super) const LSI1SK: &str = "lsi1sk";

/// Pending invitations by email (sparse: only pending invitations to an
/// address carry `gsi1pk`).
pub const GSI_EMAIL: &str = "gsi1";
/// A license's codes, invitations and (sharded) seats.
pub const GSI_LICENSE: &str = "gsi2";
/// Point lookups and filtered listings of one license, each one partition
/// per question: its invitations by stored status (pending ones by expiry,
/// so "pending" and "expired" are key ranges) and its seats by email (is
/// this address a member?).
pub const GSI_LOOKUP: &str = "gsi3";
/// A user's seats by join time (sparse: only seats carry `lsi1sk`).
pub const LSI_JOINED: &str = "lsi1";
/// Unix seconds after which DynamoDB may delete the item (limit windows).
pub const TTL_ATTRIBUTE: &str = "ttl";

/// The table's key schema and indexes. Every index projects all attributes;
/// billing is on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub global_indexes: Vec<IndexSchema>,
    pub local_indexes: Vec<IndexSchema>,
    pub ttl_attribute: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSchema {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

pub fn table_schema() -> TableSchema {
    TableSchema {
        partition_key: PK,
        sort_key: SK,
        global_indexes: vec![
            IndexSchema {
                name: GSI_EMAIL,
                partition_key: GSI1PK,
                sort_key: GSI1SK,
            },
            IndexSchema {
                name: GSI_LICENSE,
                partition_key: GSI2PK,
                sort_key: GSI2SK,
            },
            IndexSchema {
                name: GSI_LOOKUP,
                partition_key: GSI3PK,
                sort_key: GSI3SK,
            },
        ],
        local_indexes: vec![IndexSchema {
            name: LSI_JOINED,
            partition_key: PK,
            sort_key: LSI1SK,
        }],
        ttl_attribute: TTL_ATTRIBUTE,
    }
}

impl TableSchema {
    /// Every attribute some key or index key is made of, each once.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.partition_key, self.sort_key];
        for index in self.global_indexes.iter().chain(&self.local_indexes) {
            for name in [index.partition_key, index.sort_key] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

fn key_element(name: &str, kind: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_err)
}

fn all_attributes() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

impl DynamoStore {
    /// Creates the table from [`table_schema`] if it is missing, waits until
    /// it is active and turns TTL on. For local use and tests; production
    /// tables come from SAM.
    pub async fn ensure_table(&self) -> StoreResult<()> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(err) => return Err(classify("DescribeTable", &err)),
        }
        let schema = table_schema();
        let mut create = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element(schema.partition_key, KeyType::Hash)?)
            .key_schema(key_element(schema.sort_key, KeyType::Range)?);
        for name in schema.key_attributes() {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_err)?,
            );
        }
        // Global and local indexes are built alike, by builders that share
        // no trait.
        macro_rules! index {
            ($kind:ident, $index:expr) => {
                $kind::builder()
                    .index_name($index.name)
                    .key_schema(key_element($index.partition_key, KeyType::Hash)?)
                    .key_schema(key_element($index.sort_key, KeyType::Range)?)
                    .projection(all_attributes())
                    .build()
                    .map_err(build_err)?
            };
        }
        for index in &schema.global_indexes {
            create = create.global_secondary_indexes(index!(GlobalSecondaryIndex, index));
        }
        for index in &schema.local_indexes {
            create = create.local_secondary_indexes(index!(LocalSecondaryIndex, index));
        }
        match create.send().await {
            Ok(_) => {}
            // Another process created it first.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(err) => return Err(classify("CreateTable", &err)),
        }
        self.wait_until_active().await?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(schema.ttl_attribute)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTimeToLive", &e))?;
        Ok(())
    }

    async fn wait_until_active(&self) -> StoreResult<()> {
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| classify("DescribeTable", &e))?;
            let active = described
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| s.as_str() == "ACTIVE");
            if active {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_every_key_attribute_once() {
        assert_eq!(
            table_schema().key_attributes(),
            [
                "pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "lsi1sk"
            ]
        );
    }
}
