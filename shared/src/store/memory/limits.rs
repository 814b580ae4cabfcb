//! [`Limits`] in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::Timestamp;
use crate::error::StoreError;
use crate::store::{Acquired, LimitWindow, Limits};

#[async_trait]
impl Limits for MemoryStore {
    async fn limit_window(&self, key: &str) -> Result<Option<LimitWindow>, StoreError> {
        Ok(self.lock().limits.get(key).copied())
    }

    async fn limit_hit(
        &self,
        key: &str,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<LimitWindow, StoreError> {
        let mut state = self.lock();
        let window = match state.limits.get(key) {
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
        Ok(window)
    }

    async fn limit_acquire(
        &self,
        key: &str,
        max: u32,
        window_secs: u64,
        now: Timestamp,
    ) -> Result<Acquired, StoreError> {
        let mut state = self.lock();
        let window = match state.limits.get(key) {
            Some(w) if w.is_open(window_secs, now) && w.count >= max => {
                return Ok(Acquired::Full(*w));
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
        Ok(Acquired::Counted(window))
    }

    async fn limit_release(&self, key: &str, window: LimitWindow) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(w) = state.limits.get_mut(key)
            && w.start == window.start
        {
            w.count = w.count.saturating_sub(1);
        }
        Ok(())
    }
}
