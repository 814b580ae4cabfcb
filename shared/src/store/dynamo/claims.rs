//! [`Claims`] on DynamoDB: the claim context in one `BatchGetItem`, the
//! claim in one `TransactWriteItems` (sent once, or again with the same
//! token while its outcome is unknown: the claim algorithm retries the
//! rest), releasing a seat in a guarded transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::DynamoStore;
use super::error::Cancelled;
use super::items::{
    SHARD_RULES, counters_in, departed_at_from, departure_item, event_item, leave_pending,
    license_from, n, seat_from, seat_item, value,
};
use super::keys;
use super::tx::{Expr, Guard, Tx, TxFailure};
use crate::domain::{
    COUNTER_SHARDS, CodeId, Event, InvitationStatus, LicenseId, SeatRecord, Timestamp, UserId,
};
use crate::error::StoreResult;
use crate::store::{
    ClaimContext, ClaimError, ClaimPlan, ClaimVia, Claims, DEPARTURE_MEMORY_SECS, Rejection,
    Release,
};

/// Where the guard refund sits in a claim's transaction: after the seat,
/// the seat counter, the code use or invitation, and the event.
const REFUND_INDEX: usize = 4;

/// Maps a cancelled claim (seat, seat counter, code use or invitation,
/// event) to the rejection the algorithm acts on, the third write aside. A
/// failed seat condition wins: a retried claim whose first attempt was
/// written must read as "already a member".
fn claim_rejection(cancelled: &Cancelled) -> Option<Rejection> {
    if cancelled.failed(0) {
        Some(Rejection::AlreadyMember)
    } else if cancelled.contended() {
        Some(Rejection::Contended)
    } else if cancelled.failed(1) {
        Some(Rejection::SeatShardFull)
    } else {
        None
    }
}

/// The rejection when the third write (code use or invitation) or the
/// guard refund failed.
fn via_rejection(cancelled: &Cancelled, via: &ClaimVia) -> Option<Rejection> {
    if cancelled.failed(2) {
        Some(match via {
            ClaimVia::Code { .. } => Rejection::UseShardFull,
            ClaimVia::Invite { .. } => Rejection::InvitationNotPending,
        })
    } else {
        cancelled
            .failed(REFUND_INDEX)
            .then_some(Rejection::RefundMoved)
    }
}

/// The seat counter's condition for a claim that has not read the license:
/// room, and the license's rules as the shard carries them (a shard without
/// them refuses): not expired at the seat's join time, and the seat's
/// address in an allowed domain (the address's domain or a parent of it is
/// listed), or no domain rule.
fn shard_with_rules(seat: &SeatRecord, increment: Expr) -> (String, Expr) {
    let mut expr = increment
        .name("#rules", "rules")
        .name("#expires", "expiresMs")
        .name("#domains", "domains")
        .value(":rules", n(SHARD_RULES))
        .value(":now", n(seat.joined_at.timestamp_millis()));
    let mut admitted = vec!["attribute_not_exists(#domains)".to_owned()];
    for (domain, placeholder) in seat
        .email
        .domains_admitting()
        .iter()
        .zip(DOMAIN_PLACEHOLDERS)
    {
        expr = expr.value(placeholder, AttributeValue::S((*domain).to_owned()));
        admitted.push(format!("contains(#domains, {placeholder})"));
    }
    let condition = format!(
        "attribute_exists(pk) AND #used < #cap AND #rules = :rules \
         AND (attribute_not_exists(#expires) OR #expires > :now) AND ({})",
        admitted.join(" OR ")
    );
    (condition, expr)
}

/// Placeholders for the domains of an address in a condition: an address
/// with more labels than this is checked against its first ones only,
/// which can only refuse (then the claim reads the license and decides).
const DOMAIN_PLACEHOLDERS: [&str; 8] = [":d0", ":d1", ":d2", ":d3", ":d4", ":d5", ":d6", ":d7"];

/// A claim's transaction: the seat (absent), the seat counter (below its
/// cap), the code use (below its cap) or the invitation (pending), the
/// event, and the guard refund if any, in that order.
/// The seat counter attributes of the time-to-seat buckets
/// (`domain::WAIT_BUCKETS` order).
pub(super) const WAIT_ATTRIBUTES: [&str; crate::domain::WAIT_BUCKETS.len()] =
    ["wait0", "wait1", "wait2", "wait3", "wait4"];

fn claim_tx(table: &str, plan: &ClaimPlan) -> StoreResult<Tx> {
    plan.check()?;
    let seat = &plan.seat;
    let mut increment = Expr::default()
        .name("#used", "used")
        .name("#cap", "cap")
        .value(":one", n(1));
    // The seat's wait since its code or invitation was created, counted on
    // its shard (`Demand::seat_waits`): no item beyond those it writes anyway.
    let mut seat_update = "SET #used = #used + :one".to_owned();
    if let Some(bucket) = seat.wait_bucket() {
        seat_update.push_str(" ADD #wait :one");
        increment = increment.name("#wait", WAIT_ATTRIBUTES[bucket]);
    }
    let (seat_condition, seat_expr) = if plan.rules_unchecked {
        shard_with_rules(seat, increment.clone())
    } else {
        (
            "attribute_exists(pk) AND #used < #cap".to_owned(),
            increment.clone(),
        )
    };
    let mut tx = Tx::new().create(table, seat_item(seat)?).update(
        table,
        &keys::seat_counter(&seat.license_id, seat.shard),
        &seat_update,
        &seat_condition,
        seat_expr,
    );
    tx = match &plan.via {
        ClaimVia::Code { code_id, use_shard } => tx.update(
            table,
            &keys::use_counter(code_id, *use_shard),
            "SET #used = #used + :one",
            "attribute_exists(pk) AND (attribute_not_exists(#cap) OR #used < #cap)",
            Expr::default()
                .name("#used", "used")
                .name("#cap", "cap")
                .value(":one", n(1)),
        ),
        ClaimVia::Invite { token_hash } => {
            // The seat's `via_id` is the invitation's id (`ClaimPlan`).
            let (update, expr) = leave_pending(
                &seat.license_id,
                &seat.via_id.as_str().into(),
                InvitationStatus::Accepted,
            )?;
            tx.update(
                table,
                &keys::invitation(token_hash),
                &update,
                "#status = :pending",
                expr.value(":pending", value(&InvitationStatus::Pending)?),
            )
        }
    };
    tx = tx.create(table, event_item(&plan.event)?);
    if let Some((key, window)) = &plan.refund {
        let (update, condition, expr) = super::limits::give_back(window);
        tx = tx.update(table, &keys::limit(key), update, condition, expr);
    }
    Ok(tx.token(&plan.token))
}

impl DynamoStore {
    /// The items of a claim's `TransactWriteItems`, as [`Claims::claim`]
    /// sends them (for benchmarks and inspection).
    pub fn claim_writes(table: &str, plan: &ClaimPlan) -> StoreResult<Vec<TransactWriteItem>> {
        claim_tx(table, plan)?.into_writes()
    }
}

#[async_trait]
impl Claims for DynamoStore {
    async fn claim_context(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        code_id: Option<&CodeId>,
        consistent: bool,
    ) -> StoreResult<ClaimContext> {
        let seat_counters = |i| keys::seat_counter(license_id, i);
        let use_counters = |code_id, i| keys::use_counter(code_id, i);
        let mut request = vec![keys::license(license_id), keys::seat(user_id, license_id)];
        request.extend((0..COUNTER_SHARDS).map(seat_counters));
        if let Some(code_id) = code_id {
            request.extend((0..COUNTER_SHARDS).map(|i| use_counters(code_id, i)));
        }
        let mut found = self.batch_get(&request, consistent).await?;
        let Some(license) = found.remove(&keys::license(license_id)) else {
            return Ok(ClaimContext::default());
        };
        let seat = found
            .remove(&keys::seat(user_id, license_id))
            .map(seat_from)
            .transpose()?;
        let seat_counters = counters_in(&mut found, seat_counters)?;
        let use_counters = match code_id {
            Some(code_id) => counters_in(&mut found, |i| use_counters(code_id, i))?,
            None => Vec::new(),
        };
        Ok(ClaimContext {
            license: Some(license_from(license)?),
            seat,
            seat_counters,
            use_counters,
        })
    }

    async fn claim(&self, plan: &ClaimPlan) -> Result<(), ClaimError> {
        let tx = claim_tx(&self.table, plan)?;
        match self.transact("TransactWriteItems claim", tx).await {
            Ok(()) => Ok(()),
            Err(TxFailure::Cancelled(cancelled)) => {
                match claim_rejection(&cancelled).or_else(|| via_rejection(&cancelled, &plan.via)) {
                    Some(rejection) => Err(ClaimError::Rejected(rejection)),
                    None => Err(cancelled.unexpected("TransactWriteItems claim").into()),
                }
            }
            Err(TxFailure::Store(err)) => Err(err.into()),
        }
    }

    async fn seat(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
    ) -> StoreResult<Option<SeatRecord>> {
        self.get("GetItem seat", &keys::seat(user_id, license_id), true)
            .await?
            .map(seat_from)
            .transpose()
    }

    async fn release_seat(&self, seat: &SeatRecord, event: &Event) -> StoreResult<Release> {
        let departure = departure_item(&seat.user_id, &seat.license_id, event.at)?;
        let event = event_item(event)?;
        let released = self
            .transact_guarded("TransactWriteItems release", Guard::FirstWrite, || {
                Tx::new()
                    .token(crate::domain::random_id("rel"))
                    .delete(
                        &self.table,
                        &keys::seat(&seat.user_id, &seat.license_id),
                        "attribute_exists(pk) AND #shard = :shard",
                        Expr::default()
                            .name("#shard", "shard")
                            .value(":shard", n(seat.shard)),
                    )
                    .update(
                        &self.table,
                        &keys::seat_counter(&seat.license_id, seat.shard),
                        "SET #used = #used - :one",
                        "#used > :zero",
                        Expr::default()
                            .name("#used", "used")
                            .value(":one", n(1))
                            .value(":zero", n(0)),
                    )
                    .create(&self.table, event.clone())
                    .put(&self.table, departure.clone())
            })
            .await?;
        Ok(if released {
            Release::Released
        } else {
            Release::AlreadyGone
        })
    }

    async fn departed_at(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        // TTL deletes late (within days), so the time is checked here.
        let item = self
            .get(
                "GetItem departure",
                &keys::departure(user_id, license_id),
                true,
            )
            .await?;
        Ok(item
            .map(departed_at_from)
            .transpose()?
            .filter(|at| (now - *at).num_seconds() < DEPARTURE_MEMORY_SECS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Cancelled {
        Cancelled {
            reasons: list.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn a_failed_seat_condition_reads_as_already_member() {
        assert_eq!(
            claim_rejection(&codes(&[
                "ConditionalCheckFailed",
                "ConditionalCheckFailed",
                "None"
            ])),
            Some(Rejection::AlreadyMember)
        );
    }

    #[test]
    fn conflicts_are_contention_and_full_shards_are_reported() {
        assert_eq!(
            claim_rejection(&codes(&["None", "TransactionConflict", "None"])),
            Some(Rejection::Contended)
        );
        assert_eq!(
            claim_rejection(&codes(&["None", "ConditionalCheckFailed", "None"])),
            Some(Rejection::SeatShardFull)
        );
        assert_eq!(
            claim_rejection(&codes(&["None", "None", "ConditionalCheckFailed"])),
            None
        );
    }

    #[test]
    fn a_failed_third_write_names_what_was_claimed_through() {
        let third = codes(&["None", "None", "ConditionalCheckFailed"]);
        assert_eq!(
            via_rejection(
                &third,
                &ClaimVia::Code {
                    code_id: "code_1".into(),
                    use_shard: 0
                }
            ),
            Some(Rejection::UseShardFull)
        );
        let invite = ClaimVia::Invite {
            token_hash: crate::domain::SecretHash::from_stored("ab".into()),
        };
        assert_eq!(
            via_rejection(&third, &invite),
            Some(Rejection::InvitationNotPending)
        );
    }
}
