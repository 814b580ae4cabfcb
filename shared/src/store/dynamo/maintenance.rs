//! Operator work on the table that no port covers and no Lambda function
//! runs (`seatctl` and the tests call these; they need `Scan`,
//! `UpdateItem` and `BatchWriteItem`, see [`super::iam::MAINTENANCE_ACTIONS`]):
//!
//! - [`DynamoStore::backfill_lookup_keys`]: gives invitations and seats
//!   written before gsi3 existed their gsi3 keys (the migration to the
//!   layout where admin listings read one page);
//! - [`DynamoStore::import_unchecked`]: writes seats and invitations in
//!   bulk, 25 per `BatchWriteItem`, without counters, events or conditions
//!   (for load tests on an emulator or a scratch table).

use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use super::DynamoStore;
use super::error::{build_err, classify};
use super::items::{
    invitation_from, invitation_item, invitation_lookup_keys, seat_from, seat_item,
    seat_lookup_keys, value,
};
use super::keys::{self, Key};
use super::schema::{GSI3PK, SK};
use super::tx::{Attempt, Expr, RETRY};
use crate::domain::{InvitationRecord, SeatRecord};
use crate::error::StoreResult;

/// The most writes one `BatchWriteItem` may carry.
const BATCH_WRITE_MAX: usize = 25;

/// What [`DynamoStore::backfill_lookup_keys`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    /// Items read by the scan (every item of the table).
    pub scanned: usize,
    pub invitations: usize,
    pub seats: usize,
    /// Items that changed or went away between the scan and the update (a
    /// change by the current code writes the keys itself).
    pub skipped: usize,
}

/// The invitations' and seats' sort keys, as the scan filters them.
const INVITATION_SK: &str = "INVITATION";

impl DynamoStore {
    /// Sets the gsi3 keys on every invitation and seat that lacks them;
    /// idempotent, safe to run while the service runs (each update is
    /// conditional on the item being as it was read), and to run again.
    /// Run it once after deploying the version that writes gsi3 keys:
    /// until then, older invitations are missing from the status-filtered
    /// invitation list and older seats from the "already a member" check.
    pub async fn backfill_lookup_keys(&self) -> StoreResult<Backfill> {
        let mut done = Backfill::default();
        let filter = |scan: ScanFluentBuilder| {
            scan.filter_expression(
                "attribute_not_exists(#gsi3pk) AND (#sk = :inv OR begins_with(#sk, :seat))",
            )
            .expression_attribute_names("#gsi3pk", GSI3PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":inv", AttributeValue::S(INVITATION_SK.into()))
            .expression_attribute_values(":seat", AttributeValue::S(keys::SEAT_PREFIX.to_owned()))
        };
        self.scan_pages("Scan backfill", filter, async |output| {
            done.scanned += usize::try_from(output.scanned_count).unwrap_or(0);
            for item in output.items.unwrap_or_default() {
                let Some(key) = Key::of(&item) else { continue };
                let updated = if key.sk == INVITATION_SK {
                    let invitation = invitation_from(item)?;
                    let keys = invitation_lookup_keys(&invitation);
                    let status = Expr::default()
                        .name("#status", "status")
                        .value(":status", value(&invitation.status)?);
                    let set = self
                        .set_lookup_keys(&key, keys, "#status = :status", status)
                        .await?;
                    done.invitations += usize::from(set);
                    set
                } else {
                    let seat = seat_from(item)?;
                    let set = self
                        .set_lookup_keys(&key, seat_lookup_keys(&seat), "", Expr::default())
                        .await?;
                    done.seats += usize::from(set);
                    set
                };
                done.skipped += usize::from(!updated);
            }
            Ok(())
        })
        .await?;
        Ok(done)
    }

    /// Sets gsi3 keys on an item that still exists without them and meets
    /// `condition` (with `expr`); `false` if it did not.
    async fn set_lookup_keys(
        &self,
        key: &Key,
        lookup: [(&'static str, String); 2],
        condition: &str,
        expr: Expr,
    ) -> StoreResult<bool> {
        let [(pk_name, pk), (sk_name, sk)] = lookup;
        let mut full = "attribute_exists(pk) AND attribute_not_exists(#gsi3pk)".to_owned();
        if !condition.is_empty() {
            full.push_str(" AND ");
            full.push_str(condition);
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .update_expression("SET #gsi3pk = :gsi3pk, #gsi3sk = :gsi3sk")
            .condition_expression(full)
            .expression_attribute_names("#gsi3pk", pk_name)
            .expression_attribute_names("#gsi3sk", sk_name)
            .expression_attribute_values(":gsi3pk", AttributeValue::S(pk))
            .expression_attribute_values(":gsi3sk", AttributeValue::S(sk));
        for (placeholder, name) in expr.names() {
            update = update.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in expr.values() {
            update = update.expression_attribute_values(*placeholder, value.clone());
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(classify("UpdateItem backfill", &err)),
        }
    }

    /// Puts seats and invitations as they are, 25 per `BatchWriteItem`
    /// (unprocessed items retried under the one retry policy): no counters,
    /// no events, no conditions. Returns the number of requests sent.
    pub async fn import_unchecked(
        &self,
        seats: &[SeatRecord],
        invitations: &[InvitationRecord],
    ) -> StoreResult<usize> {
        let mut items = Vec::with_capacity(seats.len() + invitations.len());
        for seat in seats {
            items.push(seat_item(seat)?);
        }
        for invitation in invitations {
            items.push(invitation_item(invitation)?);
        }
        let mut requests = 0;
        for chunk in items.chunks(BATCH_WRITE_MAX) {
            let writes = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(build_err)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            requests = RETRY
                .run_with(
                    "BatchWriteItem",
                    (writes, requests),
                    |(writes, requests)| async move {
                        let output = self
                            .client
                            .batch_write_item()
                            .request_items(&self.table, writes)
                            .send()
                            .await
                            .map_err(|e| classify("BatchWriteItem", &e))?;
                        let left = output
                            .unprocessed_items
                            .unwrap_or_default()
                            .remove(&self.table)
                            .unwrap_or_default();
                        Ok(if left.is_empty() {
                            Attempt::Done(requests + 1)
                        } else {
                            Attempt::Again((left, requests + 1), "items left unprocessed")
                        })
                    },
                )
                .await?;
        }
        Ok(requests)
    }
}
