//! [`Limits`] in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::Timestamp;
use crate::error::StoreResult;
use crate::store::{Acquired, LimitWindow, Limits};

impl MemoryStore {
    /// Counts one event in the open window of `key`, or opens a new one;
    /// nothing when the open window already holds `max`.
    fn count_in_window(&self, key: &str, max: u32, window_secs: u64, now: Timestamp) -> Acquired {
        let mut state = self.lock();
        let window = match state.limits.get(key) {
            Some(w) if w.is_open(window_secs, now) && w.count >= max => {
                return Acquired::Full(*w);
            }
            Some(w) if w.is_open(window_secs, now) => LimitWindow {
                start: w.start,
                count: w.count + 1,
            },
            _ => LimitWindow {
                start: now.timestamp(),
                count: 1,
            },
        };
        state.limits.insert(key.to_owned(), window);
        Acquired::Counted(window)
    }
}

#[async_trait]
impl Limits for MemoryStore {
    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> StoreResult<Acquired> {
        Ok(self.count_in_window(key, max, window_secs, now))
    }

    async fn limit_release(&self, key: &str, window: LimitWindow) -> StoreResult<()> {
        let mut state = self.lock();
        if let Some(w) = state.limits.get_mut(key)
            && w.start == window.start
        {
            w.count = w.count.saturating_sub(1);
        }
        Ok(())
    }
}
