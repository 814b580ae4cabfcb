//! The seat-claim algorithm, shared by code redemption and invite
//! acceptance. Read this file top to bottom to know how a seat is taken.
//!
//! 1. Know the license, the caller's seat on it, and its seat counter
//!    shards (plus the use counters of a code with a use limit). On a hot
//!    license this process has read them within the last second
//!    (`claim_views.rs`): then nothing is read (the caller's seat is
//!    checked by the transaction). Otherwise one round trip reads them —
//!    for a code this container has seen before, in the same round trip as
//!    the code itself; for a code it has not, beside a first attempt that
//!    claims at once, the license's rules checked on the shard's copy.
//! 2. Already a member? Answer with that seat: never a second one. A seat
//!    this very claim wrote (its `claim_id`, found after an answer was
//!    lost) is answered as claimed (`201`), not as "already a member".
//! 3. Check the license (expiry, email domains), pick a seat counter shard
//!    with free capacity (weighted by what it has free) and, for a code
//!    with a use limit, a use counter shard the same way; an uncapped code
//!    counts on the use shard with the seat's index.
//! 4. Apply the claim atomically (one DynamoDB transaction: seat item with
//!    `attribute_not_exists`, counter `used < cap`, code use or invitation
//!    status). The per-user seat item is what makes retries, duplicates and
//!    code-plus-invite races take at most one seat.
//! 5. On a full shard, note it full and pick again from what is known, a
//!    few times; then, or when nothing known has room, read with strong
//!    consistency; only a strongly consistent read showing every shard
//!    full answers "no seats". On contention or throttling, back off with
//!    full jitter, a bounded number of times, then answer `503`; after a
//!    conflict, pick again from what was known (the transaction's
//!    conditions guard anything that moved) rather than reading again.
//! 6. An unknown outcome (the transaction's answer was lost) is first
//!    resolved by the store, which sends the same transaction again with
//!    the same idempotency token; if it stays unknown, the next consistent
//!    read settles it (our `claim_id` on the seat, or no seat). A `503`
//!    says `outcome: unknown` whenever a write of this claim may have
//!    landed unseen, and `unchanged` only when none can have.

use std::time::Duration;

use crate::App;
use crate::domain::{
    Caller, CodeId, CodeRecord, Counter, Email, Event, EventKind, InvitationRecord,
    InvitationStatus, LEGACY_COUNTER_SHARDS, License, LicenseId, LicenseRecord, LicenseSummary,
    Seat, SeatRecord, TurnedAwayReason, random_id,
};
use crate::error::{ApiError, Outcome, StoreError};
use crate::metrics;
use crate::store::{ClaimContext, ClaimError, ClaimPlan, ClaimVia, LimitWindow, Rejection};

/// Attempts in all; each full shard found costs one, and every refusal
/// means another claim made progress, so this bound is never the limit
/// for a correct answer under honest contention.
const MAX_ATTEMPTS: u32 = 40;
/// Retries after `TransactionConflict` or throttling before answering 503.
const MAX_CONTENTION_RETRIES: u32 = 6;
const BACKOFF_BASE_MS: u64 = 10;
const BACKOFF_CAP_MS: u64 = 400;
/// Full shards found from one read or view before reading again.
const MAX_FULL_PICKS: u32 = 4;

/// What the caller is joining through.
pub(crate) enum Through<'a> {
    Code(&'a CodeRecord),
    Invitation(&'a InvitationRecord),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub license: License,
    pub seat: Seat,
    pub already_member: bool,
}

/// Why a claim was refused, with the license when the refusal is one its
/// owner could help with (no seats, code used up, license expired): the
/// claim has just read it, so nobody needs to read it again to say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: ApiError,
    pub license: Option<LicenseSummary>,
}

impl Refusal {
    fn about(error: ApiError, license: &LicenseRecord) -> Self {
        Self {
            error,
            license: Some(license.summary()),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            license: None,
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

/// A guessing-guard slot: its limit key and the window it was counted in.
pub(crate) type GuardSlot = (String, LimitWindow);

/// Claims a seat for `caller` through `through` (see the module doc).
/// `refund` is a guard slot to give back inside the claim's transaction;
/// it is taken (set to `None`) once a transaction carrying it committed,
/// or once its window turned out to have moved on.
pub(crate) async fn claim_seat(
    app: &App,
    caller: &Caller,
    email: &Email,
    license_id: &LicenseId,
    through: Through<'_>,
    mut prefetched: Option<ClaimContext>,
    refund: &mut Option<GuardSlot>,
) -> Result<Claimed, Refusal> {
    let user_id = &caller.user_id;
    // The use counters a claim reads: those of a code with a use limit.
    let counted = match &through {
        Through::Code(code) if code.max_uses.is_some() => Some(&code.code_id),
        _ => None,
    };
    let views = &app.claim_views;
    // Before any read of this claim (a prefetched one began earlier, but is
    // never kept as proven).
    let epoch = views.epoch();
    let started = std::time::Instant::now();
    let mut claim = Claim {
        app,
        user_id,
        email,
        through: &through,
        claim_id: random_id("clm"),
        plans: 0,
        uncertain: false,
        consistent: false,
        contention: 0,
        legacy_uses: false,
    };
    // What this process read of the license within the last second serves
    // instead of a read; a read made for this claim renews it.
    // Whether the context at hand is a strongly consistent read, as read:
    // only that may answer "no seats" or "code used up".
    let mut proven = false;
    // A view says nothing of the caller's seat (the transaction checks it).
    let mut seat_unknown = false;
    match &prefetched {
        Some(ctx) => views.put(license_id, counted, ctx, false, epoch),
        None => {
            if let Some((view, consistent)) = views.get(license_id, counted) {
                (prefetched, proven, seat_unknown) = (Some(view), consistent, true);
            }
        }
    }
    // A code whose license this container has not read yet: claim at once,
    // the license's rules checked in the transaction on the seat shard's
    // copy of them, and read the claim context alongside, for the answer
    // (or for the next attempt). Two round trips with the code lookup.
    if let (Through::Code(code), None) = (&through, &prefetched) {
        let shard = random_shard();
        let use_shard = if code.max_uses.is_none() {
            shard
        } else {
            random_shard()
        };
        let via = ClaimVia::Code {
            code_id: code.code_id.clone(),
            use_shard,
        };
        let plan = claim.plan(license_id, shard, via, refund, true);
        let (result, ctx) = tokio::join!(
            app.store.claim(&plan),
            app.store.claim_context(license_id, user_id, counted, false)
        );
        if let Ok(ctx) = &ctx {
            views.put(license_id, counted, ctx, false, epoch);
        }
        match result {
            Ok(()) => {
                refund.take_if(|_| plan.refund.is_some());
                let ctx = match ctx {
                    Ok(ctx) if ctx.license.is_some() => ctx,
                    // Read again, now that the seat is there.
                    _ => app
                        .store
                        .claim_context(license_id, user_id, counted, true)
                        .await
                        // The seat is ours, but there is nothing to show.
                        .map_err(|_| unavailable(true))?,
                };
                return Ok(claim.claimed(ctx, &plan, counted)?);
            }
            Err(err) => {
                // What was read alongside serves the next attempt, unless
                // it may predate the seat that refused us (a duplicate's,
                // or ours if an answer was lost) or a write of ours.
                let stale = matches!(err, ClaimError::Rejected(Rejection::AlreadyMember));
                claim.failed(err, refund, license_id).await?;
                prefetched = ctx.ok().filter(|_| !stale && !claim.uncertain);
            }
        }
    }
    let mut full_picks = 0;
    for _ in 0..MAX_ATTEMPTS {
        // The request must end with our answer, not the function's timeout
        // (the arithmetic is in `store/dynamo/tx.rs`, "Timeouts").
        if app
            .config
            .claim_budget
            .is_some_and(|budget| started.elapsed() > budget)
        {
            tracing::warn!(license_id = license_id.as_str(), "claim ran out of time");
            return Err(unavailable(claim.uncertain).into());
        }
        let mut ctx = match prefetched.take() {
            // Read speculatively alongside the code (see redeem.rs), kept
            // from the last attempt, or this process's recent view.
            Some(ctx) => ctx,
            None => {
                let epoch = views.epoch();
                let ctx = app
                    .store
                    .claim_context(license_id, user_id, counted, claim.consistent)
                    .await
                    .map_err(|err| settled(err.into(), claim.uncertain))?;
                views.put(license_id, counted, &ctx, claim.consistent, epoch);
                (proven, full_picks, seat_unknown) = (claim.consistent, 0, false);
                ctx
            }
        };
        let Some(license) = &ctx.license else {
            return Err(match through {
                Through::Code(_) => ApiError::CodeNotFound,
                Through::Invitation(_) => ApiError::InviteNotFound,
            }
            .into());
        };
        if let Some(seat) = &ctx.seat {
            let ours = seat.claim_id.as_deref() == Some(claim.claim_id.as_str());
            if ours {
                // Our transaction committed and its answer was lost; the
                // refund it carried was applied with it.
                refund.take();
                metrics::count(metrics::SEATS_CLAIMED, 1);
                tracing::info!(license_id = %license.license_id, user_id = user_id.as_str(), "seat claimed (answer recovered)");
            }
            return Ok(Claimed {
                license: license.view(seats_used(&ctx)),
                seat: seat.view(),
                already_member: !ours,
            });
        }
        if seat_unknown
            && (license.refusal(email, app.now()).is_some()
                || (proven && !has_room(&ctx, &through)))
        {
            // About to refuse on a view: a member is answered with their
            // seat instead (one read of it), as a read would have shown.
            seat_unknown = false;
            if let Some(seat) = app
                .store
                .seat(user_id, license_id)
                .await
                .map_err(|err| settled(err.into(), claim.uncertain))?
            {
                ctx.seat = Some(seat);
                prefetched = Some(ctx);
                continue;
            }
        }
        if let Some(refusal) = license.refusal(email, app.now()) {
            return Err(Refusal::about(refusal, license));
        }
        let Some(shard) = pick_shard(&ctx.seat_counters) else {
            if proven {
                turned_away(app, user_id, license, TurnedAwayReason::NoSeats).await;
                return Err(Refusal::about(ApiError::NoSeatsAvailable, license));
            }
            claim.consistent = true;
            continue;
        };
        let via = match &through {
            Through::Code(code) => {
                let use_shard = if code.max_uses.is_some() {
                    pick_shard(&ctx.use_counters)
                } else if claim.legacy_uses {
                    Some(shard % LEGACY_COUNTER_SHARDS)
                } else {
                    // Unlimited codes count on the shard with the seat's
                    // index, so two claims only ever collide on one pair
                    // of items.
                    Some(shard)
                };
                let Some(use_shard) = use_shard else {
                    if proven {
                        turned_away(app, user_id, license, TurnedAwayReason::CodeUsedUp).await;
                        return Err(Refusal::about(ApiError::CodeUsedUp, license));
                    }
                    claim.consistent = true;
                    continue;
                };
                ClaimVia::Code {
                    code_id: code.code_id.clone(),
                    use_shard,
                }
            }
            Through::Invitation(invitation) => ClaimVia::Invite {
                token_hash: invitation.token_hash.clone(),
            },
        };
        let plan = claim.plan(license_id, shard, via, refund, false);
        match app.store.claim(&plan).await {
            Ok(()) => {
                refund.take_if(|_| plan.refund.is_some());
                return Ok(claim.claimed(ctx, &plan, counted)?);
            }
            // A full shard refutes only itself: note it, here and in this
            // process's view, and pick again from the rest, a few times.
            Err(ClaimError::Rejected(
                full @ (Rejection::SeatShardFull | Rejection::UseShardFull),
            )) if full_picks < MAX_FULL_PICKS => {
                full_picks += 1;
                proven = false;
                if full == Rejection::UseShardFull && counted.is_none() {
                    // An uncapped code made before counters were widened
                    // has use shards 0..16 only.
                    claim.legacy_uses = true;
                } else {
                    let note = |ctx: &mut ClaimContext| note_full(ctx, &plan, full);
                    note(&mut ctx);
                    views.update(license_id, counted, note);
                }
                prefetched = Some(ctx);
            }
            Err(err) => {
                let contended = matches!(err, ClaimError::Rejected(Rejection::Contended));
                claim.failed(err, refund, license_id).await?;
                // Another transaction held one of our items: nothing we read
                // is refuted (the membership, the rules and every counter's
                // cap are still true, and the transaction's conditions guard
                // what may have moved), so the next attempt picks again from
                // it instead of reading all the counters again.
                if contended && !claim.uncertain {
                    prefetched = Some(ctx);
                }
            }
        }
    }
    tracing::warn!(license_id = license_id.as_str(), "claim attempts exhausted");
    Err(unavailable(claim.uncertain).into())
}

/// Whether `ctx` shows room for a claim through `through`: a seat shard
/// with room and, for a code with a use limit, a use shard with room.
fn has_room(ctx: &ClaimContext, through: &Through<'_>) -> bool {
    let capped = matches!(through, Through::Code(code) if code.max_uses.is_some());
    let room = |counters: &[Counter]| counters.iter().any(|c| c.free() > 0);
    room(&ctx.seat_counters) && (!capped || room(&ctx.use_counters))
}

/// Notes in `ctx` the shard that `plan`'s transaction found full.
fn note_full(ctx: &mut ClaimContext, plan: &ClaimPlan, full: Rejection) {
    let (counters, index) = match (&plan.via, full) {
        (ClaimVia::Code { use_shard, .. }, Rejection::UseShardFull) => {
            (&mut ctx.use_counters, *use_shard)
        }
        _ => (&mut ctx.seat_counters, plan.seat.shard),
    };
    for counter in counters.iter_mut().filter(|c| c.index == index) {
        counter.used = counter.cap.unwrap_or(counter.used).max(counter.used);
    }
    // A shard the context did not know of (none, for a view) stays unknown.
}

/// Counts `plan`'s committed seat (and code use) in `ctx`.
fn count_claim(ctx: &mut ClaimContext, plan: &ClaimPlan) {
    let bump = |counters: &mut Vec<Counter>, index: u16| {
        counters
            .iter_mut()
            .filter(|c| c.index == index)
            .for_each(|c| c.used += 1);
    };
    bump(&mut ctx.seat_counters, plan.seat.shard);
    if let ClaimVia::Code { use_shard, .. } = &plan.via {
        bump(&mut ctx.use_counters, *use_shard);
    }
}

/// One claim in progress: who claims, through what, and what its failed
/// attempts have taught it.
struct Claim<'a> {
    app: &'a App,
    user_id: &'a crate::domain::UserId,
    email: &'a Email,
    through: &'a Through<'a>,
    /// On the seat it writes, and the stem of its transactions' tokens.
    claim_id: String,
    /// Plans made so far (each has its own token).
    plans: u32,
    /// A transaction of this claim may have committed unseen.
    uncertain: bool,
    /// Read strongly consistently from now on.
    consistent: bool,
    /// Contended or unavailable attempts so far.
    contention: u32,
    /// The code's use shards are the 16 of a code made before counters
    /// were widened (one of the others turned out absent).
    legacy_uses: bool,
}

impl Claim<'_> {
    /// The next plan: the seat on `shard`, claimed through `via`, with the
    /// refund if one is still due and a token of its own.
    fn plan(
        &mut self,
        license_id: &LicenseId,
        shard: u16,
        via: ClaimVia,
        refund: &Option<GuardSlot>,
        rules_unchecked: bool,
    ) -> ClaimPlan {
        let now = self.app.now();
        let seat = SeatRecord {
            license_id: license_id.clone(),
            user_id: self.user_id.clone(),
            email: self.email.clone(),
            joined_at: now,
            joined_via: via.kind(),
            via_id: match self.through {
                Through::Code(code) => code.code_id.to_string(),
                Through::Invitation(inv) => inv.invitation_id.to_string(),
            },
            shard,
            claim_id: Some(self.claim_id.clone()),
        };
        let mut event = Event::new(
            license_id,
            EventKind::SeatClaimed,
            self.user_id.as_str(),
            now,
        );
        event.user_id = Some(self.user_id.clone());
        event.shard = shard;
        match self.through {
            Through::Code(code) => event.code_id = Some(code.code_id.clone()),
            Through::Invitation(inv) => event.invitation_id = Some(inv.invitation_id.clone()),
        }
        self.plans += 1;
        ClaimPlan {
            seat,
            via,
            event,
            refund: refund.clone(),
            token: format!("{}-{}", self.claim_id, self.plans),
            rules_unchecked,
        }
    }

    /// The answer to a claim whose `plan` committed, with the license as
    /// `ctx` shows it. A context read before the seat was written (the
    /// normal path: a view, or the first attempt's read) is counted on: our
    /// seat is added to its shard, there and in this process's view.
    fn claimed(
        &self,
        mut ctx: ClaimContext,
        plan: &ClaimPlan,
        counted: Option<&CodeId>,
    ) -> Result<Claimed, ApiError> {
        if ctx.seat.is_none() {
            ctx.seat = Some(plan.seat.clone());
            count_claim(&mut ctx, plan);
            self.app
                .claim_views
                .update(&plan.seat.license_id, counted, |view| {
                    count_claim(view, plan)
                });
        }
        let license = ctx.license.as_ref().ok_or(ApiError::Internal)?;
        metrics::count(metrics::SEATS_CLAIMED, 1);
        tracing::info!(license_id = %license.license_id, user_id = self.user_id.as_str(), shard = plan.seat.shard, via = ?plan.seat.joined_via, "seat claimed");
        Ok(Claimed {
            license: license.view(seats_used(&ctx)),
            seat: plan.seat.view(),
            already_member: false,
        })
    }

    /// Learns from a failed attempt, or ends the claim with its answer.
    async fn failed(
        &mut self,
        err: ClaimError,
        refund: &mut Option<GuardSlot>,
        license_id: &LicenseId,
    ) -> Result<(), Refusal> {
        match err {
            // The next read shows the seat (or, if it was freed meanwhile,
            // a fresh attempt is right).
            ClaimError::Rejected(
                Rejection::AlreadyMember | Rejection::SeatShardFull | Rejection::UseShardFull,
            ) => self.consistent = true,
            // Nothing to give back any more: go again without the refund.
            ClaimError::Rejected(Rejection::RefundMoved) => *refund = None,
            ClaimError::Rejected(Rejection::InvitationNotPending) => {
                let gone = invitation_gone(self.app, self.through).await;
                return Err(settled(gone, self.uncertain).into());
            }
            ClaimError::Rejected(Rejection::Contended)
            | ClaimError::Store(StoreError::Unavailable { .. }) => {
                if let ClaimError::Store(err) = &err {
                    self.uncertain |= err.outcome_is_unknown();
                }
                self.contention += 1;
                metrics::count(metrics::CONFLICTS_RETRIED, 1);
                // Read our own write back, whatever replica answers.
                self.consistent |= self.uncertain;
                if self.contention > MAX_CONTENTION_RETRIES {
                    tracing::warn!(
                        license_id = license_id.as_str(),
                        uncertain = self.uncertain,
                        "claim gave up after contention retries"
                    );
                    return Err(unavailable(self.uncertain).into());
                }
                tokio::time::sleep(backoff(self.contention)).await;
            }
            ClaimError::Store(other) => return Err(settled(other.into(), self.uncertain).into()),
        }
        Ok(())
    }
}

/// Notes a refusal that more seats, or more uses of the code, would have
/// avoided, for the license's demand view. Not being able to loses a
/// figure, not the answer.
async fn turned_away(
    app: &App,
    user_id: &crate::domain::UserId,
    license: &LicenseRecord,
    reason: TurnedAwayReason,
) {
    metrics::count(metrics::TURNED_AWAY, 1);
    if let Err(err) = app
        .store
        .record_turned_away(&license.license_id, user_id, reason, app.now())
        .await
    {
        tracing::warn!(error = %err, license_id = %license.license_id, "refusal not recorded for the demand view");
    }
}

/// Seats in use as `ctx` counts them, never over the total (the seat
/// and its counter are read as two items, each as of its own moment).
fn seats_used(ctx: &ClaimContext) -> u32 {
    let counted: u32 = ctx.seat_counters.iter().map(|c| c.used).sum();
    ctx.license
        .as_ref()
        .map_or(counted, |l| counted.min(l.seats_total))
}

/// A shard for a claim that has read nothing: one every license and code
/// has, old or new.
fn random_shard() -> u16 {
    u16::try_from(random_u64() % u64::from(LEGACY_COUNTER_SHARDS)).unwrap_or(0)
}

/// A 503 after this claim's writes: `unknown` when one of them may have
/// landed unseen.
fn unavailable(uncertain: bool) -> ApiError {
    ApiError::unavailable_with(if uncertain {
        Outcome::Unknown
    } else {
        Outcome::Unchanged
    })
}

/// `err`, except that a 503 cannot promise "nothing changed" once a write
/// of this claim may have landed unseen. Refusals stand: each was decided
/// on a strongly consistent read that would have shown our seat.
fn settled(err: ApiError, uncertain: bool) -> ApiError {
    match err {
        ApiError::ServiceUnavailable { .. } if uncertain => unavailable(true),
        err => err,
    }
}

/// The invitation changed under us: say what it became.
async fn invitation_gone(app: &App, through: &Through<'_>) -> ApiError {
    let Through::Invitation(invitation) = through else {
        return ApiError::Internal;
    };
    match app.store.invitation(&invitation.token_hash).await {
        Ok(Some(current)) if current.status == InvitationStatus::Revoked => ApiError::InviteRevoked,
        Ok(Some(_)) => ApiError::InviteAlreadyUsed,
        Ok(None) => ApiError::InviteNotFound,
        Err(err) => err.into(),
    }
}

/// A shard with free capacity, chosen at random weighted by what it has
/// free, so concurrent claims spread over shards instead of colliding.
fn pick_shard(counters: &[Counter]) -> Option<u16> {
    let weights: Vec<u64> = counters
        .iter()
        .map(|c| u64::from(c.free().min(1 << 20)))
        .collect();
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut ticket = random_u64() % total;
    for (counter, weight) in counters.iter().zip(weights) {
        if ticket < weight {
            return Some(counter.index);
        }
        ticket -= weight;
    }
    None
}

/// Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)].
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_CAP_MS.min(BACKOFF_BASE_MS << attempt.min(10));
    Duration::from_millis(random_u64() % (ceiling + 1))
}

fn random_u64() -> u64 {
    // Jitter and shard choice need no secrecy, but getrandom is already here.
    getrandom::u64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(index: u16, cap: Option<u32>, used: u32) -> Counter {
        Counter { index, cap, used }
    }

    #[test]
    fn full_counters_are_never_picked() {
        let counters = [
            counter(0, Some(2), 2),
            counter(1, Some(3), 1),
            counter(2, Some(0), 0),
        ];
        for _ in 0..200 {
            assert_eq!(pick_shard(&counters), Some(1));
        }
    }

    #[test]
    fn no_capacity_means_no_pick() {
        assert_eq!(pick_shard(&[counter(0, Some(1), 1)]), None);
        assert_eq!(pick_shard(&[]), None);
    }

    #[test]
    fn uncapped_counters_are_all_candidates() {
        let counters: Vec<Counter> = (0..16).map(|i| counter(i, None, 1000)).collect();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            seen.extend(pick_shard(&counters));
        }
        assert_eq!(seen.len(), 16);
    }

    #[test]
    fn backoff_stays_under_its_cap() {
        for attempt in 0..20 {
            assert!(backoff(attempt) <= Duration::from_millis(BACKOFF_CAP_MS));
        }
    }
}
