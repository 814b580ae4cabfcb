//! [`Codes`] on DynamoDB: codes by hash (table) and by license (gsi2).

use async_trait::async_trait;

use super::DynamoStore;
use super::items::{code_from, code_item, counter_item, event_item};
use super::keys;
use super::query::{Query, SortKey};
use super::schema::{GSI_LICENSE, GSI2PK, GSI2SK};
use super::tx::{Expr, Guard, Tx};
use crate::domain::{COUNTER_SHARDS, CodeId, CodeRecord, Event, LicenseId, SecretHash};
use crate::error::StoreResult;
use crate::store::{Codes, Page, PagePosition, Paging, Revocation, use_caps};

fn codes_of(license_id: &LicenseId) -> Query {
    Query::index(GSI_LICENSE, (GSI2PK, GSI2SK), keys::codes_of(license_id))
}

#[async_trait]
impl Codes for DynamoStore {
    async fn code(&self, hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
        self.get("GetItem code", &keys::code(hash), true)
            .await?
            .map(code_from)
            .transpose()
    }

    async fn create_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<()> {
        let mut items = vec![code_item(code)?, event_item(event)?];
        for (i, cap) in (0..COUNTER_SHARDS).zip(use_caps(code.max_uses)) {
            items.push(counter_item(&keys::use_counter(&code.code_id, i), cap)?);
        }
        self.create_all(
            "TransactWriteItems create code",
            items,
            code.code_id.as_str(),
        )
        .await
    }

    /// The page's codes (one query), then the use counters of those codes
    /// in as few `BatchGetItem`s as 100 keys each allow: 64 counters per
    /// code on the page, exact (docs/capacity.md, "Admin routes").
    async fn license_codes(
        &self,
        license_id: &LicenseId,
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<(CodeRecord, u32)>> {
        let query = codes_of(license_id).below_or(after.map(PagePosition::as_str), SortKey::Any);
        let page = self
            .query_page("Query codes", query, limit, code_from, |c| {
                c.code_id.to_string()
            })
            .await?;
        let codes = page.items;
        let ids: Vec<&CodeId> = codes.iter().map(|c| &c.code_id).collect();
        let counters = self.counters_of(&ids, keys::use_counter, false).await?;
        let uses = |code: &CodeRecord| {
            counters
                .get(&code.code_id)
                .map_or(0, |shards| shards.iter().map(|c| c.used).sum())
        };
        Ok(Page {
            items: codes
                .iter()
                .map(|code| (code.clone(), uses(code)))
                .collect(),
            next: page.next,
        })
    }

    async fn code_by_id(
        &self,
        license_id: &LicenseId,
        code_id: &CodeId,
    ) -> StoreResult<Option<CodeRecord>> {
        let query = codes_of(license_id).sort_key(SortKey::Equals(code_id.to_string()));
        self.query("Query code", query, Some(1))
            .await?
            .into_iter()
            .next()
            .map(code_from)
            .transpose()
    }

    async fn revoke_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<Revocation> {
        let event = event_item(event)?;
        let revoked = self
            .transact_guarded("TransactWriteItems revoke code", Guard::AnyWrite, || {
                Tx::new()
                    .update(
                        &self.table,
                        &keys::code(&code.code_hash),
                        "SET revoked = :yes",
                        "attribute_exists(pk) AND revoked = :no",
                        Expr::default()
                            .value(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
                            .value(":no", aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
                    )
                    .create(&self.table, event.clone())
            })
            .await?;
        Ok(if revoked {
            Revocation::Revoked
        } else {
            Revocation::AlreadyRevoked
        })
    }
}
