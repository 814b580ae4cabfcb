//! The storage ports: what the use cases need from a database, in domain
//! terms, one trait per capability ([`Claims`], [`Codes`], [`Invitations`],
//! [`Directory`], [`Audit`], [`Demand`], [`Limits`], [`Suppressions`]; see `ports.rs`). [`Store`] is all of
//! them, what the application holds. Two adapters implement every port,
//! [`MemoryStore`] (embedded default) and [`DynamoStore`]; the contract
//! tests in `tests/` hold both to the same behaviour.

pub mod dynamo;
mod memory;
mod page;
mod ports;

pub use dynamo::{DynamoStore, HashCensus, IndexSchema, Rekeyed, TableSchema, table_schema};
pub use memory::MemoryStore;
pub use page::{Page, PagePosition, Paging};
pub use ports::{
    Acquired, Audit, ClaimContext, ClaimError, ClaimPlan, ClaimVia, Claims, Codes,
    DEPARTURE_MEMORY_SECS, Demand, Directory, Invitations, LimitWindow, Limits, Rejection, Release,
    Revocation, SeatsChange, Suppressions, Transition,
};

use crate::domain::Counter;

/// Every capability: what `App.store` holds.
pub trait Store:
    Claims + Codes + Invitations + Directory + Audit + Demand + Limits + Suppressions
{
}

impl<T: Claims + Codes + Invitations + Directory + Audit + Demand + Limits + Suppressions> Store
    for T
{
}

/// New caps for the seat counters: at least each shard's `used`, summing to
/// `total`, the rest spread evenly. `None` when `total` is below the seats in use.
pub fn resplit_capacity(counters: &[Counter], total: u32) -> Option<Vec<u32>> {
    let used: u32 = counters.iter().map(|c| c.used).sum();
    let spare = total.checked_sub(used)?;
    let n = u32::try_from(counters.len()).ok().filter(|n| *n > 0)?;
    Some(
        counters
            .iter()
            .zip(0u32..)
            .map(|(c, i)| c.used + spare / n + u32::from(i < spare % n))
            .collect(),
    )
}

/// The caps of a code's use counters: split `max_uses`, or unlimited.
pub(crate) fn use_caps(max_uses: Option<u32>) -> Vec<Option<u32>> {
    match max_uses {
        Some(max) => crate::domain::split_capacity(max)
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None; usize::from(crate::domain::COUNTER_SHARDS)],
    }
}
