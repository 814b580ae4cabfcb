//! Queries, and the one way a listing is paged: read one item more than
//! the page holds; if it comes back, there is a next page, continuing after
//! the last item kept ([`Page::from_lookahead`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use super::error::classify;
use super::schema::{PK, SK};
use super::{DynamoStore, Item};
use crate::domain::LISTING_SHARDS;
use crate::error::StoreResult;
use crate::store::Page;

/// A condition on the sort key of a query.
pub(super) enum SortKey {
    Any,
    BeginsWith(String),
    /// Strictly below: the rest of a newest-first listing.
    Below(String),
    /// Strictly above.
    Above(String),
    /// From the first to the second, both included.
    Between(String, String),
    Equals(String),
}

/// One partition of the table or of an index.
pub(super) struct Query {
    index: Option<&'static str>,
    pk: (&'static str, String),
    sk: (&'static str, SortKey),
    newest_first: bool,
    consistent: bool,
    start: Option<Item>,
}

impl Query {
    /// Partition `pk` of the table, newest first, eventually consistent.
    pub fn table(pk: String) -> Self {
        Self {
            index: None,
            pk: (PK, pk),
            sk: (SK, SortKey::Any),
            newest_first: true,
            consistent: false,
            start: None,
        }
    }

    /// Partition `pk` of index `name`, newest first, eventually consistent.
    pub fn index(name: &'static str, keys: (&'static str, &'static str), pk: String) -> Self {
        Self {
            index: Some(name),
            pk: (keys.0, pk),
            sk: (keys.1, SortKey::Any),
            ..Self::table(String::new())
        }
    }

    pub fn sort_key(mut self, condition: SortKey) -> Self {
        self.sk.1 = condition;
        self
    }

    /// Below `position` when there is one, else `otherwise`.
    pub fn below_or(self, position: Option<&str>, otherwise: SortKey) -> Self {
        match position {
            Some(p) => self.sort_key(SortKey::Below(p.to_owned())),
            None => self.sort_key(otherwise),
        }
    }

    pub fn oldest_first(mut self) -> Self {
        self.newest_first = false;
        self
    }

    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    /// Continue after the item with this key (`ExclusiveStartKey`).
    pub fn start_after(mut self, key: Option<Item>) -> Self {
        self.start = key;
        self
    }

    fn key_condition(&self) -> (String, HashMap<String, AttributeValue>) {
        let (pk_name, pk) = &self.pk;
        let (sk_name, sk) = &self.sk;
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(pk.clone()))]);
        let mut with = |value: &String| {
            values.insert(":sk".to_owned(), AttributeValue::S(value.clone()));
        };
        let condition = match sk {
            SortKey::Any => format!("{pk_name} = :pk"),
            SortKey::BeginsWith(prefix) => {
                with(prefix);
                format!("{pk_name} = :pk AND begins_with({sk_name}, :sk)")
            }
            SortKey::Below(below) => {
                with(below);
                format!("{pk_name} = :pk AND {sk_name} < :sk")
            }
            SortKey::Above(above) => {
                with(above);
                format!("{pk_name} = :pk AND {sk_name} > :sk")
            }
            SortKey::Equals(exact) => {
                with(exact);
                format!("{pk_name} = :pk AND {sk_name} = :sk")
            }
            SortKey::Between(low, high) => {
                values.insert(":lo".to_owned(), AttributeValue::S(low.clone()));
                values.insert(":hi".to_owned(), AttributeValue::S(high.clone()));
                format!("{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi")
            }
        };
        (condition, values)
    }
}

impl DynamoStore {
    /// The query's items in its order, at most `limit` (all with `None`),
    /// following `LastEvaluatedKey` across DynamoDB's 1 MB pages.
    pub(super) async fn query(
        &self,
        op: &'static str,
        query: Query,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let (condition, values) = query.key_condition();
        let mut items = Vec::new();
        let mut start = query.start;
        loop {
            let wanted = limit.map(|l| i32::try_from(l - items.len()).unwrap_or(i32::MAX));
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(query.index.map(str::to_owned))
                .key_condition_expression(&condition)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!query.newest_first)
                .consistent_read(query.consistent)
                .set_limit(wanted)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify(op, &e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if limit.is_none_or(|l| items.len() < l) => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// One page of a listing: `limit` items and the position after the last.
    pub(super) async fn query_page<T>(
        &self,
        op: &'static str,
        query: Query,
        limit: usize,
        decode: impl Fn(Item) -> StoreResult<T>,
        position: impl Fn(&T) -> String,
    ) -> StoreResult<Page<T>> {
        let items = self
            .query(op, query, Some(limit + 1))
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_lookahead(items, limit, position))
    }

    /// One newest-first page of a listing sharded over `LISTING_SHARDS`
    /// partitions (`shard` gives each one's query): each shard's first
    /// `limit + 1` items hold the listing's first `limit + 1`, which are
    /// merged by `position` (the sort key).
    pub(super) async fn merged_page<T>(
        &self,
        op: &'static str,
        shard: impl Fn(u16) -> Query,
        limit: usize,
        decode: impl Fn(Item) -> StoreResult<T>,
        position: impl Fn(&T) -> String,
    ) -> StoreResult<Page<T>> {
        let mut all = Vec::new();
        for i in 0..LISTING_SHARDS {
            for item in self.query(op, shard(i), Some(limit + 1)).await? {
                let item = decode(item)?;
                all.push((position(&item), item));
            }
        }
        all.sort_by(|a, b| b.0.cmp(&a.0));
        let page = Page::from_lookahead(all, limit, |(p, _)| p.clone());
        Ok(Page {
            items: page.items.into_iter().map(|(_, item)| item).collect(),
            next: page.next,
        })
    }
}

impl DynamoStore {
    /// Every page of a Scan of the table that `filter` narrows, handed to
    /// `page` in order (operator tools only: a Scan reads the whole table).
    pub(super) async fn scan_pages(
        &self,
        op: &'static str,
        filter: impl Fn(ScanFluentBuilder) -> ScanFluentBuilder,
        mut page: impl AsyncFnMut(ScanOutput) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut start: Option<Item> = None;
        loop {
            let output = filter(self.client.scan().table_name(&self.table))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify(op, &e))?;
            let next = output.last_evaluated_key.clone();
            page(output).await?;
            match next {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(()),
            }
        }
    }
}
