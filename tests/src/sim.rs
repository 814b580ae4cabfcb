//! A DynamoDB contention model that runs the real claim code: a store
//! adapter behind the same ports as the DynamoDB one, keeping its items in
//! memory ([`MemoryStore`] decides every condition) and adding what
//! DynamoDB does to a hot license, in virtual time (tokio's paused clock):
//!
//! - **Transactions hold their items** for a hold time `w` drawn from
//!   [`Model::hold`]; a transaction touching an item another one holds is
//!   cancelled (`TransactionConflict`, which the claim code sees as
//!   `Rejected(Contended)` and retries with its own backoff). Plain and
//!   batch reads are not blocked by transactions (DynamoDB's documented
//!   isolation for non-transactional reads); a plain write to a held item
//!   is refused (`TransactionConflict`) and retried as the SDK would.
//! - **Partitions** (one per partition key, or the keys hashed onto a
//!   number of physical partitions that share their budgets, which split
//!   for heat after a delay: [`Model::physical_partitions`],
//!   [`Model::split_after`]) get 3,000 read units or 1,000 write units a
//!   second, as a linear mix; the **table** gets its own mix
//!   (a new on-demand table: 12,000 RRU or 4,000 WRU; or what
//!   `WarmThroughput` sets). A request that would go over in the current
//!   second is throttled: a transaction as `Rejected(Contended)` (as the
//!   adapter reports it), a read retried as the SDK's standard retry does
//!   (3 attempts, exponential backoff with full jitter from 25 ms; an
//!   assumption), then `StoreError` unavailable.
//! - **Units** (assumptions: every item under 1 KB, every read under 4 KB):
//!   an eventually consistent read 0.5 RRU per item, strongly consistent 1;
//!   a transactional write 2 WRU per item, a cancelled transaction charged
//!   the same; a plain write 1 WRU; a committed seat's two index entries
//!   (`lsi1`, `gsi2`) 1 WRU each, counted in the units but not against a
//!   partition's budget.
//! - **Latency**: reads take [`Model::read_latency`]; a transaction takes
//!   its hold time.
//!
//! Items and partitions are named as the DynamoDB adapter names them
//! (`LIC#…`, `LIC#…#SEATS#i`, `CODE#…#USES#i`, `EVENTS#…#i`, `USER#…`,
//! `LIMIT#…`), so the model sees the same hot keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use seat_invitations::domain::{
    CodeId, CodeRecord, DeliveryState, Email, Event, InvitationId, InvitationRecord,
    InvitationStatus, LicenseId, LicenseRecord, SeatRecord, SecretHash, Suppression, Timestamp,
    TurnedAway, TurnedAwayReason, UserId, Waits,
};
use seat_invitations::error::{StoreError, StoreResult};
use seat_invitations::store::{
    Acquired, Audit, ClaimContext, ClaimError, ClaimPlan, ClaimVia, Claims, Codes, Demand,
    Directory, Invitations, LimitWindow, Limits, MemoryStore, Page, Paging, Rejection, Release,
    Revocation, SeatsChange, Suppressions, Transition,
};
use tokio::time::Instant;

/// A duration drawn per use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    Fixed(Duration),
    /// Uniform between the two.
    Uniform(Duration, Duration),
}

impl Dist {
    fn draw(&self, rng: &mut Rng) -> Duration {
        match *self {
            Dist::Fixed(d) => d,
            Dist::Uniform(lo, hi) => lo + (hi.saturating_sub(lo)).mul_f64(rng.unit()),
        }
    }
}

/// What the model assumes; every figure it reports is measured under these.
#[derive(Debug, Clone)]
pub struct Model {
    /// How long a transaction holds its items (`w`).
    pub hold: Dist,
    pub read_latency: Dist,
    /// A partition's budget a second: read units or write units, as a mix.
    pub partition_rru: f64,
    pub partition_wru: f64,
    /// The table's budget a second, as a mix.
    pub table_rru: f64,
    pub table_wru: f64,
    /// Validation only: every seat and use counter shard is one item (one
    /// partition), to check the model against one transacted counter.
    pub counters_as_one_item: bool,
    /// Physical partitions: `None` gives every partition key a partition
    /// of its own (the optimistic case); `Some(n)` hashes the keys onto
    /// `n` partitions, which share their budgets (a new on-demand table
    /// has about 4: 12,000 RRU / 3,000).
    pub physical_partitions: Option<u32>,
    /// Split for heat: a partition that throttled splits in two (its keys
    /// spread by one more bit of their hash, each half with a full
    /// partition's budget) this long after its first throttle since its
    /// last split. `None`: never.
    pub split_after: Option<Duration>,
    pub seed: u64,
}

impl Model {
    /// DynamoDB's documented budgets on a brand-new on-demand table, with
    /// the hold time `w` fixed and reads taking 5 ms.
    pub fn new_table(w: Duration) -> Self {
        Self {
            hold: Dist::Fixed(w),
            read_latency: Dist::Fixed(Duration::from_millis(5)),
            partition_rru: 3_000.0,
            partition_wru: 1_000.0,
            table_rru: 12_000.0,
            table_wru: 4_000.0,
            counters_as_one_item: false,
            physical_partitions: None,
            split_after: None,
            seed: 7,
        }
    }

    /// A table warmed to `wru` write units (and three times that in reads).
    pub fn warm_table(w: Duration, wru: f64) -> Self {
        Self {
            table_rru: 3.0 * wru,
            table_wru: wru,
            ..Self::new_table(w)
        }
    }
}

/// What the model counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Transactions sent (claims attempted).
    pub transactions: u64,
    pub committed: u64,
    /// Cancelled: another transaction held an item.
    pub conflicts: u64,
    /// Cancelled: over a partition's or the table's budget.
    pub throttled_transactions: u64,
    /// Cancelled by a condition (full shard, already a member, ...).
    pub refused: u64,
    pub read_requests: u64,
    pub throttled_reads: u64,
    /// Plain writes refused because a transaction held their item.
    pub write_conflicts: u64,
    pub rru: f64,
    pub wru: f64,
    /// Throttled requests by what refused them: `table`, or a partition key.
    pub throttled_by: std::collections::BTreeMap<String, u64>,
}

/// A small deterministic generator (xorshift64*), seeded from the model.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Exponential with mean `mean`.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// FNV-1a, for hashing partition keys onto physical partitions.
fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Units used in the current second.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    second: u64,
    rru: f64,
    wru: f64,
}

impl Window {
    /// Takes `rru` and `wru` if the mix stays within `max_rru`/`max_wru`
    /// this second; false (nothing taken) otherwise.
    fn take(&mut self, second: u64, rru: f64, wru: f64, max_rru: f64, max_wru: f64) -> bool {
        if self.second != second {
            *self = Window {
                second,
                ..Window::default()
            };
        }
        if (self.rru + rru) / max_rru + (self.wru + wru) / max_wru > 1.0 {
            return false;
        }
        self.rru += rru;
        self.wru += wru;
        true
    }
}

/// Whether a request of `rru` read and `wru` write units fits a budget of
/// `max_rru` or `max_wru` a second (the documented linear mix), given what
/// the second has used.
pub fn fits_mix(
    used_rru: f64,
    used_wru: f64,
    rru: f64,
    wru: f64,
    max_rru: f64,
    max_wru: f64,
) -> bool {
    let mut w = Window {
        second: 0,
        rru: used_rru,
        wru: used_wru,
    };
    w.take(0, rru, wru, max_rru, max_wru)
}

struct State {
    /// Item -> until when a transaction holds it.
    held: HashMap<String, Instant>,
    partitions: HashMap<String, Window>,
    /// Physical partition -> how many times it has split.
    splits: HashMap<u64, u32>,
    /// Physical partition -> when its pending split happens.
    splitting: HashMap<u64, Instant>,
    table: Window,
    tally: Tally,
    rng: Rng,
}

/// The contention model over a [`MemoryStore`].
pub struct SimStore {
    inner: MemoryStore,
    model: Model,
    start: Instant,
    state: Mutex<State>,
}

/// A read of `rru` units on each of `partitions`.
struct Read<'a> {
    partitions: &'a [String],
    rru_each: f64,
}

impl SimStore {
    pub fn new(model: Model) -> Arc<Self> {
        let rng = Rng::new(model.seed);
        Arc::new(Self {
            inner: MemoryStore::new(),
            model,
            start: Instant::now(),
            state: Mutex::new(State {
                held: HashMap::new(),
                partitions: HashMap::new(),
                splits: HashMap::new(),
                splitting: HashMap::new(),
                table: Window::default(),
                tally: Tally::default(),
                rng,
            }),
        })
    }

    pub fn tally(&self) -> Tally {
        self.lock().tally.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn second(&self) -> u64 {
        Instant::now().duration_since(self.start).as_secs()
    }

    /// Charges `rru`/`wru` per partition and on the table, all or nothing.
    fn charge(&self, state: &mut State, partitions: &[(String, f64, f64)]) -> bool {
        let second = self.second();
        let (m, total_r, total_w) = (
            &self.model,
            partitions.iter().map(|p| p.1).sum::<f64>(),
            partitions.iter().map(|p| p.2).sum::<f64>(),
        );
        let mut table = state.table;
        if !table.take(second, total_r, total_w, m.table_rru, m.table_wru) {
            *state.tally.throttled_by.entry("table".into()).or_default() += 1;
            return false;
        }
        // A partition read twice in one request (one item per shard, when
        // the shards are one item) is charged once per item.
        let mut per_partition: Vec<(String, f64, f64)> = Vec::with_capacity(partitions.len());
        for (key, r, w) in partitions {
            let key = &self.physical(state, key);
            match per_partition.iter_mut().find(|p| &p.0 == key) {
                Some(p) => {
                    p.1 += r;
                    p.2 += w;
                }
                None => per_partition.push((key.clone(), *r, *w)),
            }
        }
        let mut updated = Vec::with_capacity(per_partition.len());
        for (key, r, w) in per_partition {
            let mut window = state.partitions.get(&key).copied().unwrap_or_default();
            if !window.take(second, r, w, m.partition_rru, m.partition_wru) {
                self.heat(state, &key);
                *state.tally.throttled_by.entry(key).or_default() += 1;
                return false;
            }
            updated.push((key, window));
        }
        state.table = table;
        for (key, window) in updated {
            state.partitions.insert(key, window);
        }
        state.tally.rru += total_r;
        state.tally.wru += total_w;
        true
    }

    /// A read: latency, units, and the SDK's retries when throttled.
    async fn read(&self, what: Read<'_>) -> StoreResult<()> {
        let charges: Vec<(String, f64, f64)> = what
            .partitions
            .iter()
            .map(|p| (p.clone(), what.rru_each, 0.0))
            .collect();
        for attempt in 0..3u32 {
            let (served, wait) = self.try_read(&charges, attempt);
            tokio::time::sleep(wait).await;
            if served {
                return Ok(());
            }
        }
        Err(StoreError::unavailable(
            "simulated read",
            "ProvisionedThroughputExceededException",
        ))
    }

    /// A plain write (1 WRU) to `item`: refused while a transaction holds
    /// the item (DynamoDB cancels it with `TransactionConflict`) or when
    /// throttled, and retried as the SDK's standard retry does (3 attempts,
    /// full jitter from 25 ms; an assumption, as for reads).
    async fn plain_write(&self, item: &str) -> StoreResult<()> {
        for attempt in 0..3u32 {
            let (done, wait) = {
                let mut state = self.lock();
                let latency = self.model.read_latency.draw(&mut state.rng);
                let held = state
                    .held
                    .get(item)
                    .is_some_and(|until| *until > Instant::now());
                if held {
                    state.tally.write_conflicts += 1;
                }
                if !held && self.charge(&mut state, &[(item.to_owned(), 0.0, 1.0)]) {
                    (true, latency)
                } else {
                    let jitter = state.rng.next_u64() % ((25u64 << attempt) + 1);
                    (false, Duration::from_millis(jitter) + latency)
                }
            };
            tokio::time::sleep(wait).await;
            if done {
                return Ok(());
            }
        }
        Err(StoreError::unavailable(
            "simulated write",
            "refused three times",
        ))
    }

    /// One attempt of a read: served (after its latency), or throttled
    /// (after the SDK's backoff).
    fn try_read(&self, charges: &[(String, f64, f64)], attempt: u32) -> (bool, Duration) {
        let mut state = self.lock();
        state.tally.read_requests += 1;
        let latency = self.model.read_latency.draw(&mut state.rng);
        if self.charge(&mut state, charges) {
            return (true, latency);
        }
        state.tally.throttled_reads += 1;
        let ceiling = 25u64 << attempt;
        (
            false,
            Duration::from_millis(state.rng.next_u64() % (ceiling + 1)) + latency,
        )
    }

    /// A transaction's start: cancelled (throttled or in conflict), or its
    /// items held; and how long it takes either way.
    fn begin(&self, items: &[String], charges: &[(String, f64, f64)]) -> (bool, Duration) {
        let mut state = self.lock();
        state.tally.transactions += 1;
        let now = Instant::now();
        let hold = self.model.hold.draw(&mut state.rng);
        if !self.charge(&mut state, charges) {
            state.tally.throttled_transactions += 1;
            return (false, hold);
        }
        if items
            .iter()
            .any(|i| state.held.get(i).is_some_and(|until| *until > now))
        {
            state.tally.conflicts += 1;
            return (false, hold);
        }
        for item in items {
            state.held.insert(item.clone(), now + hold);
        }
        (true, hold)
    }

    /// The physical partition serving partition key `key` (itself, unless
    /// the model hashes keys onto partitions).
    fn physical(&self, state: &mut State, key: &str) -> String {
        let Some(n) = self.model.physical_partitions else {
            return key.to_owned();
        };
        let now = Instant::now();
        let due: Vec<u64> = state
            .splitting
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in due {
            state.splitting.remove(&p);
            *state.splits.entry(p).or_default() += 1;
        }
        let hash = fnv1a(key);
        let base = hash % u64::from(n.max(1));
        let level = state.splits.get(&base).copied().unwrap_or(0).min(16);
        let half = (hash / u64::from(n.max(1))) % (1u64 << level);
        format!("partition {base}.{half}/{level}")
    }

    /// A physical partition throttled: it splits `split_after` from now,
    /// unless a split is already coming.
    fn heat(&self, state: &mut State, physical: &str) {
        let (Some(after), Some(base)) = (
            self.model.split_after,
            physical
                .strip_prefix("partition ")
                .and_then(|p| p.split('.').next())
                .and_then(|p| p.parse::<u64>().ok()),
        ) else {
            return;
        };
        state
            .splitting
            .entry(base)
            .or_insert_with(|| Instant::now() + after);
    }

    fn counter_key(&self, prefix: &str, shard: u16) -> String {
        if self.model.counters_as_one_item {
            "COUNTERS".to_owned()
        } else {
            format!("{prefix}#{shard}")
        }
    }
}

#[async_trait]
impl Claims for SimStore {
    async fn claim_context(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        code_id: Option<&CodeId>,
        consistent: bool,
    ) -> StoreResult<ClaimContext> {
        // One BatchGetItem: the license, the caller's seat, the seat
        // counters and (for a code with a use limit) its use counters, each
        // item on its own.
        let mut partitions = vec![format!("LIC#{license_id}"), format!("USER#{user_id}")];
        for i in 0..seat_invitations::domain::COUNTER_SHARDS {
            partitions.push(self.counter_key(&format!("LIC#{license_id}#SEATS"), i));
            if let Some(code) = code_id {
                partitions.push(self.counter_key(&format!("CODE#{code}#USES"), i));
            }
        }
        self.read(Read {
            partitions: &partitions,
            rru_each: if consistent { 1.0 } else { 0.5 },
        })
        .await?;
        self.inner
            .claim_context(license_id, user_id, code_id, consistent)
            .await
    }

    async fn claim(&self, plan: &ClaimPlan) -> Result<(), ClaimError> {
        let seat = &plan.seat;
        let mut items = vec![
            format!("USER#{}/SEAT#{}", seat.user_id, seat.license_id),
            self.counter_key(&format!("LIC#{}#SEATS", seat.license_id), seat.shard),
        ];
        match &plan.via {
            ClaimVia::Code { code_id, use_shard } => {
                items.push(self.counter_key(&format!("CODE#{code_id}#USES"), *use_shard));
            }
            ClaimVia::Invite { token_hash } => items.push(format!("INV#{}", token_hash.as_str())),
        }
        if let Some((key, _)) = &plan.refund {
            items.push(format!("LIMIT#{key}"));
        }
        // The event is a new item on its shard's partition: load, no conflict.
        let mut charges: Vec<(String, f64, f64)> = items
            .iter()
            .map(|i| (i.split('/').next().unwrap_or(i).to_owned(), 0.0, 2.0))
            .collect();
        charges.push((
            format!(
                "EVENTS#{}#{}",
                seat.license_id,
                seat.shard % seat_invitations::domain::LISTING_SHARDS
            ),
            0.0,
            2.0,
        ));
        let (started, hold) = self.begin(&items, &charges);
        if !started {
            tokio::time::sleep(hold).await;
            return Err(ClaimError::Rejected(Rejection::Contended));
        }
        // The conditions, decided as DynamoDB decides them, on the items.
        let result = self.inner.claim(plan).await;
        tokio::time::sleep(hold).await;
        {
            let mut state = self.lock();
            match &result {
                Ok(()) => {
                    state.tally.committed += 1;
                    // The new seat's index entries: `lsi1` (beside the item)
                    // and `gsi2` `SEATS#<license>#<shard>`, 1 WRU each; a
                    // cancelled transaction writes none.
                    state.tally.wru += 2.0;
                }
                Err(_) => state.tally.refused += 1,
            }
        }
        result
    }

    async fn seat(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
    ) -> StoreResult<Option<SeatRecord>> {
        self.inner.seat(user_id, license_id).await
    }

    async fn release_seat(&self, seat: &SeatRecord, event: &Event) -> StoreResult<Release> {
        self.inner.release_seat(seat, event).await
    }

    async fn departed_at(
        &self,
        user_id: &UserId,
        license_id: &LicenseId,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        self.inner.departed_at(user_id, license_id, now).await
    }
}

#[async_trait]
impl Codes for SimStore {
    async fn code(&self, hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
        // GetItem, strongly consistent.
        self.read(Read {
            partitions: &[format!("CODE#{}", hash.as_str())],
            rru_each: 1.0,
        })
        .await?;
        self.inner.code(hash).await
    }

    async fn create_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<()> {
        self.inner.create_code(code, event).await
    }

    async fn license_codes(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<(CodeRecord, u32)>> {
        self.inner.license_codes(license_id, paging).await
    }

    async fn code_by_id(
        &self,
        license_id: &LicenseId,
        code_id: &CodeId,
    ) -> StoreResult<Option<CodeRecord>> {
        self.inner.code_by_id(license_id, code_id).await
    }

    async fn revoke_code(&self, code: &CodeRecord, event: &Event) -> StoreResult<Revocation> {
        self.inner.revoke_code(code, event).await
    }
}

#[async_trait]
impl Limits for SimStore {
    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> StoreResult<Acquired> {
        // One conditional UpdateItem.
        self.plain_write(&format!("LIMIT#{key}")).await?;
        self.inner.limit_acquire(key, max, window_secs, now).await
    }

    async fn limit_release(&self, key: &str, window: LimitWindow) -> StoreResult<()> {
        self.plain_write(&format!("LIMIT#{key}")).await?;
        self.inner.limit_release(key, window).await
    }
}

#[async_trait]
impl Demand for SimStore {
    async fn record_turned_away(
        &self,
        license_id: &LicenseId,
        user_id: &UserId,
        reason: TurnedAwayReason,
        at: Timestamp,
    ) -> StoreResult<()> {
        {
            // Two UpdateItems (the student's record, the day's count) on the
            // student's demand shard, as the DynamoDB adapter writes them.
            let partition =
                seat_invitations::store::dynamo::turned_away_partition(license_id, user_id);
            let mut state = self.lock();
            let _ = self.charge(&mut state, &[(partition, 0.0, 2.0)]);
        }
        self.inner
            .record_turned_away(license_id, user_id, reason, at)
            .await
    }

    async fn turned_away(
        &self,
        license_id: &LicenseId,
        since: Timestamp,
    ) -> StoreResult<TurnedAway> {
        self.inner.turned_away(license_id, since).await
    }

    async fn seat_waits(&self, license_id: &LicenseId) -> StoreResult<Waits> {
        self.inner.seat_waits(license_id).await
    }

    async fn seated_among(
        &self,
        license_id: &LicenseId,
        users: &[UserId],
    ) -> StoreResult<std::collections::HashSet<UserId>> {
        self.inner.seated_among(license_id, users).await
    }
}

// ---- the rest: as the memory store, no model ----------------------------

#[async_trait]
impl Invitations for SimStore {
    async fn invitation(&self, hash: &SecretHash) -> StoreResult<Option<InvitationRecord>> {
        self.inner.invitation(hash).await
    }

    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<()> {
        self.inner.create_invitation(invitation, event).await
    }

    async fn pending_invitations(&self, email: &Email) -> StoreResult<Vec<InvitationRecord>> {
        self.inner.pending_invitations(email).await
    }

    async fn license_invitations(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>> {
        self.inner.license_invitations(license_id, paging).await
    }

    async fn license_invitations_by_status(
        &self,
        license_id: &LicenseId,
        status: InvitationStatus,
        now: Timestamp,
        paging: Paging<'_>,
    ) -> StoreResult<Page<InvitationRecord>> {
        self.inner
            .license_invitations_by_status(license_id, status, now, paging)
            .await
    }

    async fn invitation_by_id(
        &self,
        license_id: &LicenseId,
        invitation_id: &InvitationId,
    ) -> StoreResult<Option<InvitationRecord>> {
        self.inner.invitation_by_id(license_id, invitation_id).await
    }

    async fn close_invitation(
        &self,
        invitation: &InvitationRecord,
        status: InvitationStatus,
        event: &Event,
    ) -> StoreResult<Transition> {
        self.inner.close_invitation(invitation, status, event).await
    }

    async fn reissue_invitation(
        &self,
        old: &InvitationRecord,
        fresh: &InvitationRecord,
        event: &Event,
    ) -> StoreResult<Transition> {
        self.inner.reissue_invitation(old, fresh, event).await
    }

    async fn claim_delivery(
        &self,
        queued: &InvitationRecord,
        fresh: &InvitationRecord,
    ) -> StoreResult<Transition> {
        self.inner.claim_delivery(queued, fresh).await
    }

    async fn set_delivery(
        &self,
        invitation: &InvitationRecord,
        from: DeliveryState,
        to: DeliveryState,
        at: Timestamp,
    ) -> StoreResult<Transition> {
        self.inner.set_delivery(invitation, from, to, at).await
    }
}

#[async_trait]
impl Directory for SimStore {
    async fn license(&self, license_id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
        self.inner.license(license_id).await
    }

    async fn licenses_with_usage(
        &self,
        license_ids: &[LicenseId],
    ) -> StoreResult<Vec<(LicenseRecord, u32)>> {
        self.inner.licenses_with_usage(license_ids).await
    }

    async fn create_license(&self, license: &LicenseRecord) -> StoreResult<()> {
        self.inner.create_license(license).await
    }

    async fn administered_licenses(
        &self,
        user_id: &UserId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<LicenseId>> {
        self.inner.administered_licenses(user_id, paging).await
    }

    async fn user_seats(
        &self,
        user_id: &UserId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>> {
        self.inner.user_seats(user_id, paging).await
    }

    async fn members_among(
        &self,
        license_id: &LicenseId,
        emails: &[Email],
    ) -> StoreResult<Vec<Email>> {
        self.inner.members_among(license_id, emails).await
    }

    async fn license_seats(
        &self,
        license_id: &LicenseId,
        paging: Paging<'_>,
    ) -> StoreResult<Page<SeatRecord>> {
        self.inner.license_seats(license_id, paging).await
    }

    async fn set_seats_total(
        &self,
        license_id: &LicenseId,
        total: u32,
        event: &Event,
    ) -> StoreResult<SeatsChange> {
        self.inner.set_seats_total(license_id, total, event).await
    }
}

#[async_trait]
impl Audit for SimStore {
    async fn events(&self, license_id: &LicenseId, paging: Paging<'_>) -> StoreResult<Page<Event>> {
        self.inner.events(license_id, paging).await
    }
}

#[async_trait]
impl Suppressions for SimStore {
    async fn suppression(&self, address: &SecretHash) -> StoreResult<Option<Suppression>> {
        self.inner.suppression(address).await
    }

    async fn suppress(&self, suppression: &Suppression) -> StoreResult<()> {
        self.inner.suppress(suppression).await
    }
}

// ---- scenarios -----------------------------------------------------------

/// Arrivals a second, by virtual time since the start.
#[derive(Debug, Clone, Copy)]
pub enum Arrivals {
    Constant(f64),
    /// From `from` to `to` a second, linearly over `over` seconds, then `to`.
    Ramp {
        from: f64,
        to: f64,
        over: f64,
    },
}

impl Arrivals {
    fn at(&self, t: f64) -> f64 {
        match *self {
            Arrivals::Constant(rate) => rate,
            Arrivals::Ramp { from, to, over } => from + (to - from) * (t / over).min(1.0),
        }
    }

    fn peak(&self) -> f64 {
        match *self {
            Arrivals::Constant(rate) => rate,
            Arrivals::Ramp { from, to, .. } => from.max(to),
        }
    }
}

/// Students redeeming one code of one license, open loop: each arrives at
/// its time (a Poisson process at the scenario's rate) whatever the others
/// are doing, and runs the real `redeem` use case.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub model: Model,
    pub arrivals: Arrivals,
    pub duration: Duration,
    pub seats: u32,
    /// The code's `maxUses` (none: uncapped).
    pub max_uses: Option<u32>,
}

/// What the students got, and what the model counted.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub arrivals: u64,
    pub claimed: u64,
    pub no_seats: u64,
    /// `503` answers.
    pub unavailable: u64,
    /// Of those, the ones that said `outcome: unknown` (a write of theirs
    /// may have landed); the others promise nothing changed.
    pub unknown: u64,
    pub other: u64,
    /// Seats the license's counters say are taken at the end.
    pub seats_used: u32,
    /// Virtual seconds from the first arrival to the last answer.
    pub seconds: f64,
    /// Each redemption's time, arrival to answer, in ms.
    pub latencies_ms: Vec<f64>,
    /// Containers that served the requests (most at once).
    pub containers: usize,
    pub tally: Tally,
}

impl Report {
    pub fn claims_per_sec(&self) -> f64 {
        self.claimed as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }
    /// Transactions sent per seat taken.
    pub fn attempts_per_claim(&self) -> f64 {
        self.tally.transactions as f64 / (self.claimed.max(1)) as f64
    }
    pub fn unavailable_rate(&self) -> f64 {
        self.unavailable as f64 / (self.arrivals.max(1)) as f64
    }
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[i.min(sorted.len() - 1)]
    }
    /// The three places that throttled most, if any did.
    pub fn throttles(&self) -> String {
        let mut by: Vec<(&String, &u64)> = self.tally.throttled_by.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1));
        if by.is_empty() {
            return String::new();
        }
        let top: Vec<String> = by.iter().take(3).map(|(k, n)| format!("{k} {n}")).collect();
        format!("; throttled by {}", top.join(", "))
    }

    pub fn summary(&self) -> String {
        format!(
            "{} arrivals in {:.1} s: {} claimed ({:.0}/s), {} no seats, {} 503 ({:.1} %, {} unknown), {} other; \
             {:.2} transactions per claim, {} conflicts, {} throttled transactions, {} throttled reads; \
             p50 {:.0} ms, p99 {:.0} ms; {:.1} RRU and {:.1} WRU per claim; {} containers; {} seats used",
            self.arrivals,
            self.seconds,
            self.claimed,
            self.claims_per_sec(),
            self.no_seats,
            self.unavailable,
            100.0 * self.unavailable_rate(),
            self.unknown,
            self.other,
            self.attempts_per_claim(),
            self.tally.conflicts,
            self.tally.throttled_transactions,
            self.tally.throttled_reads,
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.tally.rru / self.claimed.max(1) as f64,
            self.tally.wru / self.claimed.max(1) as f64,
            self.containers,
            self.seats_used,
        ) + &self.throttles()
    }
}

/// Runs `scenario` in virtual time: call it inside a runtime with tokio's
/// clock paused (`#[tokio::test(start_paused = true)]`).
pub async fn run(scenario: &Scenario) -> Report {
    use seat_invitations::config::{Config, Profile};
    use seat_invitations::error::ApiError;
    use seat_invitations::service::redeem;

    let store = SimStore::new(scenario.model.clone());
    let t = crate::TestApp::on_store(
        crate::Backend::Memory,
        store.clone(),
        Config::defaults(Profile::Local),
        None,
    );
    let license = t.license(scenario.seats).await;
    let code = t
        .code(&license.license_id, scenario.max_uses)
        .await
        .formatted();
    let before = store.tally();
    let mut rng = Rng::new(scenario.model.seed ^ 0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let horizon = scenario.duration.as_secs_f64();
    let mut at = 0.0;
    let mut tasks = Vec::new();
    // Containers, as Lambda runs them: a request goes to an idle one, or
    // to a new one (nothing cached; its cold start is not modelled) when
    // every one is busy.
    let template = t.app.clone();
    let idle: Arc<Mutex<Vec<seat_invitations::App>>> = Arc::default();
    let containers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // A Poisson process whose rate changes with time, by thinning: draw at
    // the peak rate, keep each arrival with probability rate(t) / peak.
    let peak = scenario.arrivals.peak().max(1e-3);
    loop {
        at += rng.exponential(1.0 / peak);
        if at > horizon {
            break;
        }
        if rng.unit() * peak > scenario.arrivals.at(at) {
            continue;
        }
        tokio::time::sleep_until(start + Duration::from_secs_f64(at)).await;
        let i = tasks.len();
        let (template, idle, containers, code) = (
            template.clone(),
            idle.clone(),
            containers.clone(),
            code.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let student = crate::user(&format!("s{i}"), &format!("s{i}@uni.example"));
            let arrived = Instant::now();
            let taken = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let app = taken.unwrap_or_else(|| {
                containers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                template.another_container()
            });
            let result = redeem::redeem(&app, &student, &code).await;
            let took = arrived.elapsed();
            idle.lock().unwrap_or_else(|p| p.into_inner()).push(app);
            (result, took)
        }));
    }
    let mut report = Report {
        arrivals: tasks.len() as u64,
        ..Report::default()
    };
    for task in tasks {
        let Ok((result, took)) = task.await else {
            report.other += 1;
            continue;
        };
        report.latencies_ms.push(took.as_secs_f64() * 1000.0);
        match result {
            Ok(claimed) if !claimed.already_member => report.claimed += 1,
            Err(ApiError::NoSeatsAvailable) => report.no_seats += 1,
            Err(ApiError::ServiceUnavailable { outcome, .. }) => {
                report.unavailable += 1;
                if outcome == seat_invitations::error::Outcome::Unknown {
                    report.unknown += 1;
                }
            }
            _ => report.other += 1,
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.containers = containers.load(std::sync::atomic::Ordering::Relaxed);
    report.seats_used = store
        .inner
        .claim_context(&license.license_id, &"nobody".into(), None, true)
        .await
        .map(|ctx| ctx.seat_counters.iter().map(|c| c.used).sum())
        .unwrap_or(0);
    let after = store.tally();
    report.tally = Tally {
        transactions: after.transactions - before.transactions,
        committed: after.committed - before.committed,
        conflicts: after.conflicts - before.conflicts,
        throttled_transactions: after.throttled_transactions - before.throttled_transactions,
        refused: after.refused - before.refused,
        read_requests: after.read_requests - before.read_requests,
        throttled_reads: after.throttled_reads - before.throttled_reads,
        write_conflicts: after.write_conflicts - before.write_conflicts,
        rru: after.rru - before.rru,
        wru: after.wru - before.wru,
        throttled_by: after
            .throttled_by
            .iter()
            .map(|(k, n)| {
                (
                    k.clone(),
                    n - before.throttled_by.get(k).copied().unwrap_or(0),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect(),
    };
    report
}
