//! The application context every handler borrows: store, mailer, clock and
//! configuration, built once per process (Lambda init or devserver start)
//! by [`crate::wiring`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DurationRound, TimeDelta, Utc};

use crate::config::Config;
use crate::domain::{CodeId, CodeRecord, LicenseId, SecretHash, Timestamp};
use crate::mail::{DeliveryQueue, Mailer};
use crate::service::claim_views::ClaimViews;
use crate::store::Store;

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Wall-clock time, truncated to milliseconds (what timestamps carry).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let now = Utc::now();
        now.duration_trunc(TimeDelta::milliseconds(1))
            .unwrap_or(now)
    })
}

#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    /// Where invitation mail waits for the sender (`service::delivery`).
    pub queue: Arc<dyn DeliveryQueue>,
    pub clock: Clock,
    pub config: Arc<Config>,
    /// Which license each code seen by this process belongs to (immutable).
    pub known_codes: Arc<KnownCodes>,
    /// What this process last read of hot licenses' counters.
    pub claim_views: Arc<ClaimViews>,
}

impl App {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The same app as another process would hold it: the same store,
    /// mailer and configuration, nothing remembered yet (a new Lambda
    /// container, in the simulator and the load-test kit).
    pub fn another_container(&self) -> Self {
        Self {
            known_codes: Arc::default(),
            claim_views: Arc::default(),
            ..self.clone()
        }
    }
}

const KNOWN_CODES_MAX: usize = 10_000;

/// A code this process has seen: its license, its id, and whether it has a
/// use limit (then a claim reads its use counters).
pub(crate) type KnownCode = (LicenseId, CodeId, bool);

/// Which license and code id a code hash belongs to, and whether the code
/// has a use limit. That never changes once a code exists, so remembering
/// it is always safe; everything that can change (revocation, expiry,
/// counters, seats) is still read fresh, or kept a second at most
/// (`service::claim_views`).
#[derive(Default)]
pub struct KnownCodes {
    codes: Mutex<HashMap<SecretHash, KnownCode>>,
}

impl KnownCodes {
    pub(crate) fn get(&self, hash: &SecretHash) -> Option<KnownCode> {
        self.lock().get(hash).cloned()
    }

    pub(crate) fn remember(&self, record: &CodeRecord) {
        let mut codes = self.lock();
        if codes.len() >= KNOWN_CODES_MAX {
            codes.clear();
        }
        codes.insert(
            record.code_hash.clone(),
            (
                record.license_id.clone(),
                record.code_id.clone(),
                record.max_uses.is_some(),
            ),
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SecretHash, KnownCode>> {
        self.codes.lock().unwrap_or_else(|p| p.into_inner())
    }
}
