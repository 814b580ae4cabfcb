//! [`Directory`] on DynamoDB: licenses with their seat counters, admin
//! entries, seats listed by user (lsi1) and by license (gsi2), and looked
//! up by license and email (gsi3).

use async_trait::async_trait;

use super::DynamoStore;
use super::error::Cancelled;
use super::items::{
    admin_from, admin_item, counters_in, event_item, license_from, license_item, n,
    seat_counter_item, seat_from,
};
use super::keys;
use super::query::{Query, SortKey};
use super::schema::{
    GSI_LICENSE, GSI_LOOKUP, GSI2PK, GSI2SK, GSI3PK, GSI3SK, LSI_JOINED, LSI1SK, PK,
};
use super::tx::{Attempt, Expr, RETRY, Tx, TxFailure};
use crate::domain::{
    COUNTER_SHARDS, Email, Event, LicenseId, LicenseRecord, SeatRecord, UserId, split_capacity,
};
use crate::error::{StoreError, StoreResult};
use crate::store::{Directory, Page, PagePosition, Paging, SeatsChange, resplit_capacity};

const SET_SEATS: &str = "TransactWriteItems set seats";

/// Membership lookups in flight at once, of up to 100 per call.
const LOOKUPS_IN_FLIGHT: usize = 16;

impl DynamoStore {
    /// One attempt at `set_seats_total`: read the counters (strongly
    /// consistent), write the new caps if no claim got in between.
    async fn try_set_seats(
        &self,
        license_id: &LicenseId,
        total: u32,
        event: &Event,
    ) -> StoreResult<Attempt<SeatsChange>> {
        let counters = self
            .counters_of(&[license_id], keys::seat_counter, true)
            .await?
            .remove(license_id)
            .unwrap_or_default();
        let Some(caps) = resplit_capacity(&counters, total) else {
            let used = counters.iter().map(|c| c.used).sum();
            return Ok(Attempt::Done(SeatsChange::BelowSeatsInUse(used)));
        };
        // A claim between the read and this write can only make a shard
        // fail `used <= cap`; then read again.
        let mut tx = Tx::new();
        for (counter, cap) in counters.iter().zip(&caps) {
            tx = set_cap(
                tx,
                &self.table,
                &keys::seat_counter(license_id, counter.index),
                *cap,
            );
        }
        // A license made with fewer shards: the others must still be absent
        // (`seatctl widen-counters` adds them with caps of its own).
        for index in (0..COUNTER_SHARDS).filter(|i| !counters.iter().any(|c| c.index == *i)) {
            tx = tx.check(
                &self.table,
                &keys::seat_counter(license_id, index),
                "attribute_not_exists(pk)",
                Expr::default(),
            );
        }
        tx = tx
            .update(
                &self.table,
                &keys::license(license_id),
                "SET seatsTotal = :total",
                "attribute_exists(pk)",
                Expr::default().value(":total", n(total)),
            )
            .create(&self.table, event_item(event)?);
        match self.transact(SET_SEATS, tx).await {
            Ok(()) => Ok(Attempt::Done(SeatsChange::Changed)),
            Err(TxFailure::Cancelled(c))
                if counter_raced(&c, usize::from(COUNTER_SHARDS)) || c.contended() =>
            {
                Ok(Attempt::again("seat counters changed meanwhile"))
            }
            Err(TxFailure::Cancelled(c)) => Err(c.unexpected(SET_SEATS)),
            Err(TxFailure::Store(err)) => Err(err),
        }
    }
}

/// `tx` and a write of a counter shard's new cap, which holds only while
/// the shard's `used` is at most the cap.
pub(super) fn set_cap(tx: Tx, table: &str, key: &keys::Key, cap: u32) -> Tx {
    tx.update(
        table,
        key,
        "SET #cap = :cap",
        "#used <= :cap",
        Expr::default()
            .name("#cap", "cap")
            .name("#used", "used")
            .value(":cap", n(cap)),
    )
}

/// Whether a seat counter's condition failed: a claim took a seat between
/// the read and the write (the transaction's first `shards` writes).
fn counter_raced(cancelled: &Cancelled, shards: usize) -> bool {
    (0..shards).any(|i| cancelled.failed(i))
}

#[async_trait]
impl Directory for DynamoStore {
    async fn license(&self, license_id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
        self.get("GetItem license", &keys::license(license_id), true)
            .await?
            .map(license_from)
            .transpose()
    }

    /// The licenses and all their seat counters, in as few `BatchGetItem`s
    /// as 100 keys each allow.
    async fn licenses_with_usage(
        &self,
        license_ids: &[LicenseId],
    ) -> StoreResult<Vec<(LicenseRecord, u32)>> {
        let mut ids: Vec<&LicenseId> = license_ids.iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let request: Vec<keys::Key> = ids
            .iter()
            .flat_map(|id| {
                std::iter::once(keys::license(id))
                    .chain((0..COUNTER_SHARDS).map(|i| keys::seat_counter(id, i)))
            })
            .collect();
        let mut found = self.batch_get(&request, false).await?;
        let mut out = Vec::new();
        for id in license_ids {
            let Some(item) = found.get(&keys::license(id)) else {
                continue;
            };
            let license = license_from(item.clone())?;
            // A license listed twice: its counters were taken the first time.
            let used = match out
                .iter()
                .find(|(l, _): &&(LicenseRecord, u32)| l.license_id == *id)
            {
                Some((_, used)) => *used,
                None => counters_in(&mut found, |i| keys::seat_counter(id, i))?
                    .iter()
                    .map(|c| c.used)
                    .sum(),
            };
            out.push((license, used));
        }
        Ok(out)
    }

    async fn create_license(&self, license: &LicenseRecord) -> StoreResult<()> {
        let id = &license.license_id;
        let mut items = vec![license_item(license)?];
        for (i, cap) in (0..COUNTER_SHARDS).zip(split_capacity(license.seats_total)) {
            items.push(seat_counter_item(&keys::seat_counter(id, i), cap, license)?);
        }
        let mut subs: Vec<&UserId> = std::iter::once(&license.owner)
            .chain(&license.admins)
            .map(|p| &p.sub)
            .collect();
        subs.sort_unstable();
        subs.dedup();
        for sub in subs {
            items.push(admin_item(sub, id)?);
        }
        self.create_all("TransactWriteItems create license", items, id.as_str())
            .await
    }

    async fn administered_licenses(
        &self,
        user_id: &UserId,
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<LicenseId>> {
        let query = Query::table(keys::user(user_id))
            .sort_key(SortKey::BeginsWith(keys::ADMIN_PREFIX.to_owned()))
            .start_after(after.map(|a| keys::admin(user_id, &LicenseId::from(a.as_str())).item()))
            .oldest_first()
            .consistent();
        self.query_page(
            "Query admin entries",
            query,
            limit,
            admin_from,
            LicenseId::to_string,
        )
        .await
    }

    async fn user_seats(
        &self,
        user_id: &UserId,
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>> {
        // Only seats carry `lsi1sk`, so below a seat's sort key is only seats.
        let below = after.map(|a| keys::joined(a.as_str()));
        let query = Query::index(LSI_JOINED, (PK, LSI1SK), keys::user(user_id))
            .below_or(
                below.as_deref(),
                SortKey::BeginsWith(keys::SEAT_PREFIX.to_owned()),
            )
            .consistent();
        self.query_page("Query seats", query, limit, seat_from, |s| {
            keys::seat_of_user(s.joined_at, &s.license_id)
        })
        .await
    }

    /// One query of at most one item per address, on the address's own
    /// gsi3 partition, 16 at a time.
    async fn members_among(
        &self,
        license_id: &LicenseId,
        emails: &[Email],
    ) -> StoreResult<Vec<Email>> {
        let mut members = Vec::new();
        for chunk in emails.chunks(LOOKUPS_IN_FLIGHT) {
            let mut lookups = tokio::task::JoinSet::new();
            for email in chunk {
                let (store, license_id, email) = (self.clone(), license_id.clone(), email.clone());
                lookups.spawn(async move {
                    let query = Query::index(
                        GSI_LOOKUP,
                        (GSI3PK, GSI3SK),
                        keys::member(&license_id, &email),
                    );
                    let found = store.query("Query member", query, Some(1)).await?;
                    Ok::<_, StoreError>((!found.is_empty()).then_some(email))
                });
            }
            while let Some(done) = lookups.join_next().await {
                let found =
                    done.map_err(|e| StoreError::internal("Query member", e.to_string()))?;
                members.extend(found?);
            }
        }
        Ok(emails
            .iter()
            .filter(|e| members.contains(e))
            .cloned()
            .collect())
    }

    async fn license_seats(
        &self,
        license_id: &LicenseId,
        Paging { after, limit }: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>> {
        let shard = |i| {
            Query::index(GSI_LICENSE, (GSI2PK, GSI2SK), keys::seats_of(license_id, i))
                .below_or(after.map(PagePosition::as_str), SortKey::Any)
        };
        self.merged_page("Query seats", shard, limit, seat_from, |s| {
            keys::seat_in_license(s.joined_at, &s.user_id)
        })
        .await
    }

    async fn set_seats_total(
        &self,
        license_id: &LicenseId,
        total: u32,
        event: &Event,
    ) -> StoreResult<SeatsChange> {
        RETRY
            .run(SET_SEATS, || self.try_set_seats(license_id, total, event))
            .await
    }
}
