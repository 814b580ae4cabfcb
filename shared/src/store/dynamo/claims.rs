//! [`Claims`] on DynamoDB: the claim context in one `BatchGetItem`, the
//! claim in one `TransactWriteItems` (sent once: the claim algorithm
//! retries), releasing a seat in a guarded transaction.

use async_trait::async_trait;

use super::DynamoStore;
use super::error::Cancelled;
use super::items::{
    counter_from, event_item, leave_pending, license_from, n, seat_from, seat_item, value,
};
use super::keys;
use super::tx::{Expr, Guard, Tx, TxFailure};
use crate::domain::{
    COUNTER_SHARDS, CodeId, Event, InvitationStatus, LicenseId, SeatRecord, UserId,
};
use crate::error::StoreResult;
use crate::store::{ClaimContext, ClaimError, ClaimPlan, ClaimVia, Claims, Rejection, Release};

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

/// The rejection when the third write (code use or invitation) failed.
fn via_rejection(cancelled: &Cancelled, via: &ClaimVia) -> Option<Rejection> {
    cancelled.failed(2).then_some(match via {
        ClaimVia::Code { .. } => Rejection::UseShardFull,
        ClaimVia::Invite { .. } => Rejection::InvitationNotPending,
    })
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
        let mut counters = |key: &dyn Fn(u16) -> keys::Key| {
            (0..COUNTER_SHARDS)
                .map(|i| counter_from(i, found.remove(&key(i))))
                .collect::<Result<Vec<_>, _>>()
        };
        let seat_counters = counters(&seat_counters)?;
        let use_counters = match code_id {
            Some(code_id) => counters(&|i| use_counters(code_id, i))?,
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
        plan.check()?;
        let seat = &plan.seat;
        let table = &self.table;
        let increment = Expr::default()
            .name("#used", "used")
            .name("#cap", "cap")
            .value(":one", n(1));
        let mut tx = Tx::new().create(table, seat_item(seat)?).update(
            table,
            &keys::seat_counter(&seat.license_id, seat.shard),
            "SET #used = #used + :one",
            "attribute_exists(pk) AND #used < #cap",
            increment.clone(),
        );
        tx = match &plan.via {
            ClaimVia::Code { code_id, use_shard } => tx.update(
                table,
                &keys::use_counter(code_id, *use_shard),
                "SET #used = #used + :one",
                "attribute_exists(pk) AND (attribute_not_exists(#cap) OR #used < #cap)",
                increment,
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
        let event = event_item(event)?;
        let released = self
            .transact_guarded("TransactWriteItems release", Guard::FirstWrite, || {
                Tx::new()
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
            })
            .await?;
        Ok(if released {
            Release::Released
        } else {
            Release::AlreadyGone
        })
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
