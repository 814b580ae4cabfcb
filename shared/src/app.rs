//! The application context every handler borrows: store, mailer, clock and
//! configuration, built once per process (Lambda init or devserver start)
//! by [`crate::wiring`].

use std::sync::Arc;

use chrono::{DurationRound, TimeDelta, Utc};

use crate::config::Config;
use crate::domain::Timestamp;
use crate::mail::Mailer;
use crate::service::redeem::KnownCodes;
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
    pub clock: Clock,
    pub config: Arc<Config>,
    /// Which license each code seen by this process belongs to (immutable).
    pub known_codes: Arc<KnownCodes>,
}

impl App {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}
