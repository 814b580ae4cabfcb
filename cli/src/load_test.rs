//! `seatctl load-test`: the load-test kit. It replaces the capacity model's
//! assumptions (`docs/capacity.md`) with measurements on a real table.
//!
//! It creates one license and one code on the table, then runs open-loop
//! steps: at each rate, students arrive as a Poisson process for the
//! step's length whatever the others are doing, and each runs the real
//! `redeem` use case against the table, in a "container" of its own (an
//! idle one, or a new one with nothing cached when every one is busy, as
//! Lambda does). What it measures, per step:
//!
//! - claims a second, the share of `503`s, p50 and p99 of a redemption;
//! - transactions sent, and every cancellation reason DynamoDB gave
//!   (`TransactionConflict`, `ConditionalCheckFailed`, `ThrottlingError`,
//!   …), counted from the SDK's answers by an interceptor;
//! - throttling events, on the table or on an index (as DynamoDB's message
//!   names it), single requests and inside transactions;
//! - consumed capacity (`ReturnConsumedCapacity=INDEXES` on every
//!   request), per table and per index, read and write;
//! - the hold time `w`, fitted from the conflict share: each counter shard
//!   is a loss system with carried load `ρ = c·w/n` at `c` commits a second
//!   over `n` shards (the simulator's tests hold it to this), and a claim
//!   conflicts with probability `ρ` (an uncapped code: its seat and use
//!   shard have the same index) or `1 − (1 − ρ)²` (a use-limited code).
//!
//! It writes to the table it is pointed at: use a scratch stack.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::batch_get_item::{
    BatchGetItemError, BatchGetItemInput, BatchGetItemOutput,
};
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryError, QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{
    UpdateItemError, UpdateItemInput, UpdateItemOutput,
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use seat_invitations::App;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{
    COUNTER_SHARDS, Caller, Email, HashKeys, LicenseId, LicenseRecord, Principal,
};
use seat_invitations::error::ApiError;
use seat_invitations::mail::{LocalQueue, Outbox};
use seat_invitations::service::{admin, redeem};
use seat_invitations::store::{Directory, DynamoStore, Store};

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Arrivals a second, one step each, in order.
    pub rates: Vec<f64>,
    pub step: Duration,
    /// The license's seats (default: the arrivals every step expects, a
    /// fifth more and 100, so Poisson arrivals never run out).
    pub seats: Option<u32>,
    /// The code's use limit (none: uncapped, the usual campus code).
    pub max_uses: Option<u32>,
}

impl Plan {
    fn seats(&self) -> u32 {
        self.seats.unwrap_or_else(|| {
            let all: f64 = self.rates.iter().map(|r| r * self.step.as_secs_f64()).sum();
            (all * 1.2 + 100.0).ceil().clamp(1.0, f64::from(u32::MAX)) as u32
        })
    }
}

/// What the interceptor counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metered {
    /// Attempts sent, by operation (an SDK retry is one more).
    pub requests: BTreeMap<&'static str, u64>,
    /// Transactions answered (committed or cancelled).
    pub transactions: u64,
    pub committed: u64,
    /// Cancelled transactions with at least one `TransactionConflict`.
    pub conflicted: u64,
    /// Cancellation reasons, one count per item that had one.
    pub reasons: BTreeMap<String, u64>,
    /// Throttling events: `table` or `index`, then the operation.
    pub throttles: BTreeMap<String, u64>,
    /// Other errors by code.
    pub errors: BTreeMap<String, u64>,
    /// Consumed capacity units: `table` or the index's name, then `read`
    /// or `write`.
    pub consumed: BTreeMap<String, f64>,
}

/// The SDK interceptor that asks every request for its consumed capacity
/// and counts what comes back.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<Metered>>);

impl Meter {
    /// What was counted since the last call.
    pub fn take(&self) -> Metered {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Metered> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn consumed(&self, kind: &str, capacity: &[ConsumedCapacity]) {
        let mut m = self.lock();
        for c in capacity {
            let table = c.table.as_ref().and_then(|t| t.capacity_units);
            *m.consumed.entry(format!("table {kind}")).or_default() +=
                table.or(c.capacity_units).unwrap_or(0.0);
            let indexes = c
                .global_secondary_indexes
                .iter()
                .chain(c.local_secondary_indexes.iter())
                .flatten();
            for (name, units) in indexes {
                *m.consumed.entry(format!("{name} {kind}")).or_default() +=
                    units.capacity_units.unwrap_or(0.0);
            }
        }
    }

    fn failed(&self, op: &'static str, code: Option<&str>, message: Option<&str>) {
        let code = code.unwrap_or("unknown");
        let mut m = self.lock();
        if is_throttle(code) {
            *m.throttles
                .entry(format!("{} {op}", where_throttled(message)))
                .or_default() += 1;
        } else {
            *m.errors.entry(format!("{op} {code}")).or_default() += 1;
        }
    }
}

fn is_throttle(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "ThrottlingError"
            | "ProvisionedThroughputExceeded"
    )
}

/// Whether DynamoDB's message puts a throttle on an index or the table.
fn where_throttled(message: Option<&str>) -> &'static str {
    if message.is_some_and(|m| m.to_ascii_lowercase().contains("index")) {
        "index"
    } else {
        "table"
    }
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "load-test meter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let indexes = Some(ReturnConsumedCapacity::Indexes);
        if let Some(i) = input.downcast_mut::<GetItemInput>() {
            i.return_consumed_capacity = indexes;
        } else if let Some(i) = input.downcast_mut::<BatchGetItemInput>() {
            i.return_consumed_capacity = indexes;
        } else if let Some(i) = input.downcast_mut::<QueryInput>() {
            i.return_consumed_capacity = indexes;
        } else if let Some(i) = input.downcast_mut::<UpdateItemInput>() {
            i.return_consumed_capacity = indexes;
        } else if let Some(i) = input.downcast_mut::<PutItemInput>() {
            i.return_consumed_capacity = indexes;
        } else if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
            i.return_consumed_capacity = indexes;
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match context.output_or_error() {
            Ok(output) => self.answered(output),
            Err(err) => match err.as_operation_error() {
                Some(err) => self.refused(err),
                None => self.failed("request", Some("no answer"), None),
            },
        }
        Ok(())
    }
}

impl Meter {
    fn count(&self, op: &'static str) {
        *self.lock().requests.entry(op).or_default() += 1;
    }

    fn answered(&self, output: &aws_smithy_runtime_api::client::interceptors::context::Output) {
        if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
            self.count("TransactWriteItems");
            {
                let mut m = self.lock();
                m.transactions += 1;
                m.committed += 1;
            }
            self.consumed("write", o.consumed_capacity());
        } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
            self.count("BatchGetItem");
            self.consumed("read", o.consumed_capacity());
        } else if let Some(o) = output.downcast_ref::<GetItemOutput>() {
            self.count("GetItem");
            self.consumed("read", o.consumed_capacity.as_slice());
        } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
            self.count("Query");
            self.consumed("read", o.consumed_capacity.as_slice());
        } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
            self.count("UpdateItem");
            self.consumed("write", o.consumed_capacity.as_slice());
        } else if let Some(o) = output.downcast_ref::<PutItemOutput>() {
            self.count("PutItem");
            self.consumed("write", o.consumed_capacity.as_slice());
        }
    }

    fn refused(&self, err: &aws_smithy_runtime_api::client::interceptors::context::Error) {
        if let Some(e) = err.downcast_ref::<TransactWriteItemsError>() {
            self.count("TransactWriteItems");
            if let TransactWriteItemsError::TransactionCanceledException(cancelled) = e {
                let mut m = self.lock();
                m.transactions += 1;
                let mut conflicted = false;
                for reason in cancelled.cancellation_reasons() {
                    let code = reason.code().unwrap_or("None");
                    if code == "None" {
                        continue;
                    }
                    conflicted |= code == "TransactionConflict";
                    *m.reasons.entry(code.to_owned()).or_default() += 1;
                    if is_throttle(code) {
                        let at = where_throttled(reason.message());
                        *m.throttles
                            .entry(format!("{at} TransactWriteItems"))
                            .or_default() += 1;
                    }
                }
                m.conflicted += u64::from(conflicted);
            } else {
                self.failed("TransactWriteItems", e.code(), e.message());
            }
            return;
        }
        macro_rules! single {
            ($($ty:ty => $op:literal),*) => {
                $(if let Some(e) = err.downcast_ref::<$ty>() {
                    self.count($op);
                    self.failed($op, e.code(), e.message());
                    return;
                })*
            };
        }
        single!(
            GetItemError => "GetItem",
            BatchGetItemError => "BatchGetItem",
            QueryError => "Query",
            UpdateItemError => "UpdateItem",
            PutItemError => "PutItem"
        );
        self.failed("request", Some("unrecognised"), None);
    }
}

/// One step's figures.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub rate: f64,
    pub arrivals: u64,
    pub claimed: u64,
    pub no_seats: u64,
    pub unavailable: u64,
    /// Other answers, by error code.
    pub other: BTreeMap<String, u64>,
    /// From the first arrival to the last answer.
    pub seconds: f64,
    pub latencies_ms: Vec<f64>,
    /// The most containers busy at once.
    pub containers: usize,
    pub metered: Metered,
}

impl Step {
    pub fn claims_per_sec(&self) -> f64 {
        self.claimed as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let Some(last) = sorted.len().checked_sub(1) else {
            return 0.0;
        };
        sorted[((p / 100.0) * last as f64).round() as usize]
    }

    /// The share of transactions cancelled by a conflict.
    pub fn conflict_share(&self) -> f64 {
        self.metered.conflicted as f64 / self.metered.transactions.max(1) as f64
    }

    /// The hold time `w` the conflict share implies (see the module doc),
    /// in ms; none without commits or conflicts.
    pub fn fitted_hold_ms(&self, capped: bool) -> Option<f64> {
        let commits = self.metered.committed as f64 / self.seconds.max(f64::MIN_POSITIVE);
        let c = self.conflict_share();
        if commits <= 0.0 || c <= 0.0 {
            return None;
        }
        let rho = if capped { 1.0 - (1.0 - c).sqrt() } else { c };
        Some(1000.0 * rho * f64::from(COUNTER_SHARDS) / commits)
    }

    /// Consumed units per claim: (read, write), over the table and its
    /// indexes.
    pub fn units_per_claim(&self) -> (f64, f64) {
        let sum = |kind: &str| -> f64 {
            self.metered
                .consumed
                .iter()
                .filter(|(k, _)| k.ends_with(kind))
                .map(|(_, v)| v)
                .sum()
        };
        let n = self.claimed.max(1) as f64;
        (sum(" read") / n, sum(" write") / n)
    }

    /// One line of the step's figures, for people.
    pub fn render(&self, capped: bool) -> String {
        let (rru, wru) = self.units_per_claim();
        let mut out = format!(
            "{:.0}/s offered: {} arrivals, {} claimed ({:.0}/s), {} no seats, {} 503 ({:.2} %), other {:?}; \
             p50 {:.0} ms, p99 {:.0} ms; {} containers; {} transactions, {:.1} % conflicted, w ≈ {}; \
             {:.1} RCU and {:.1} WCU per claim",
            self.rate,
            self.arrivals,
            self.claimed,
            self.claims_per_sec(),
            self.no_seats,
            self.unavailable,
            100.0 * self.unavailable as f64 / self.arrivals.max(1) as f64,
            self.other,
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.containers,
            self.metered.transactions,
            100.0 * self.conflict_share(),
            self.fitted_hold_ms(capped)
                .map_or("n/a".to_owned(), |w| format!("{w:.1} ms")),
            rru,
            wru,
        );
        let _ = write!(
            out,
            "\n    cancellation reasons {:?}\n    throttles {:?}\n    consumed {:?}\n    requests {:?}\n    errors {:?}",
            self.metered.reasons,
            self.metered.throttles,
            self.metered
                .consumed
                .iter()
                .map(|(k, v)| format!("{k} {v:.1}"))
                .collect::<Vec<_>>(),
            self.metered.requests,
            self.metered.errors,
        );
        out
    }
}

/// A store client on `aws` that `meter` counts.
pub fn metered_store(aws: &aws_config::SdkConfig, table: &str, meter: &Meter) -> DynamoStore {
    let config = DynamoStore::client_config(aws)
        .interceptor(meter.clone())
        .build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table)
}

/// Runs `plan` on `store` (whose client `meter` counts), codes hashed with
/// `keys`; `report` gets each step as it ends.
pub async fn run(
    store: Arc<DynamoStore>,
    meter: &Meter,
    keys: HashKeys,
    plan: &Plan,
    mut report: impl FnMut(&Step),
) -> Result<Vec<Step>, String> {
    let mut config = Config::defaults(Profile::Lambda);
    config.hash_keys = keys;
    let template = App {
        store: store.clone() as Arc<dyn Store>,
        mailer: Arc::new(Outbox::default()),
        queue: Arc::new(LocalQueue::default()),
        clock: seat_invitations::app::system_clock(),
        config: Arc::new(config),
        known_codes: Arc::default(),
        claim_views: Arc::default(),
    };
    let run_id = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let owner = Principal {
        sub: format!("load-test-owner-{run_id}").as_str().into(),
        email: Email::parse("owner@loadtest.example").ok_or("owner address")?,
    };
    let license_id: LicenseId = format!("load-test-{run_id}").as_str().into();
    store
        .create_license(&LicenseRecord {
            license_id: license_id.clone(),
            name: format!("Load test {run_id}"),
            organization: "seatctl load-test".into(),
            product: "load test".into(),
            seats_total: plan.seats(),
            expires_at: None,
            allowed_email_domains: Vec::new(),
            owner: owner.clone(),
            admins: Vec::new(),
            created_at: chrono::Utc::now(),
        })
        .await
        .map_err(|e| format!("creating the license: {e}"))?;
    let owner_caller = caller(owner.sub.as_str(), "owner@loadtest.example");
    let code = admin::create_code(
        &template,
        &owner_caller,
        &license_id,
        admin::NewCode {
            max_uses: plan.max_uses,
            expires_at: None,
            note: Some("seatctl load-test".into()),
        },
    )
    .await
    .map_err(|e| format!("creating the code: {e}"))?
    .code;
    eprintln!(
        "license {license_id} ({} seats), one code{}: {} steps of {} s",
        plan.seats(),
        plan.max_uses
            .map_or(String::new(), |m| format!(" limited to {m} uses")),
        plan.rates.len(),
        plan.step.as_secs()
    );
    let idle: Arc<Mutex<Vec<App>>> = Arc::default();
    let mut steps = Vec::new();
    let mut student = 0u64;
    let mut rng = seat_invitations::domain::random_id("seed")
        .bytes()
        .fold(0x9E37_79B9_7F4A_7C15u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        });
    for &rate in &plan.rates {
        meter.take();
        // Containers busy now, and the most at once in this step.
        let busy = Arc::new(AtomicUsize::new(0));
        let containers = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut at = 0.0;
        let mut tasks = Vec::new();
        loop {
            at += exponential(&mut rng, 1.0 / rate.max(1e-3));
            if at > plan.step.as_secs_f64() {
                break;
            }
            tokio::time::sleep_until((start + Duration::from_secs_f64(at)).into()).await;
            student += 1;
            let (template, idle, busy, containers, code) = (
                template.clone(),
                idle.clone(),
                busy.clone(),
                containers.clone(),
                code.clone(),
            );
            let who = caller(
                &format!("load-{run_id}-{student}"),
                &format!("s{student}@loadtest.example"),
            );
            tasks.push(tokio::spawn(async move {
                let arrived = Instant::now();
                let taken = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let app = taken.unwrap_or_else(|| template.another_container());
                containers.fetch_max(busy.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                let result = redeem::redeem(&app, &who, &code).await;
                let took = arrived.elapsed();
                busy.fetch_sub(1, Ordering::SeqCst);
                idle.lock().unwrap_or_else(|p| p.into_inner()).push(app);
                (result, took)
            }));
        }
        let mut step = Step {
            rate,
            arrivals: tasks.len() as u64,
            ..Step::default()
        };
        for task in tasks {
            let Ok((result, took)) = task.await else {
                *step.other.entry("panicked".into()).or_default() += 1;
                continue;
            };
            step.latencies_ms.push(took.as_secs_f64() * 1000.0);
            match result {
                Ok(claimed) if !claimed.already_member => step.claimed += 1,
                Err(ApiError::NoSeatsAvailable) => step.no_seats += 1,
                Err(ApiError::ServiceUnavailable { .. }) => step.unavailable += 1,
                Ok(_) => *step.other.entry("alreadyMember".into()).or_default() += 1,
                Err(err) => *step.other.entry(err.code().to_owned()).or_default() += 1,
            }
        }
        step.seconds = start.elapsed().as_secs_f64();
        step.containers = containers.load(Ordering::SeqCst);
        step.metered = meter.take();
        report(&step);
        steps.push(step);
    }
    Ok(steps)
}

fn caller(sub: &str, address: &str) -> Caller {
    Caller {
        user_id: sub.into(),
        email: Email::parse(address),
        email_verified: true,
        email_claimed: true,
        name: None,
        site: None,
        source: None,
    }
}

/// An exponential draw with mean `mean` (xorshift64*; arrivals need no
/// secrecy).
fn exponential(state: &mut u64, mean: f64) -> f64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    let unit = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
    -mean * (1.0 - unit).ln()
}
