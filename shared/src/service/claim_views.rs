//! What this process last read of a license's counters, so that a claim on
//! a hot license reads nothing before its transaction (`claim.rs`, step 1).
//!
//! A view is a [`ClaimContext`] without anybody's seat: the license (its
//! rules never change once created), its seat counters and, for a code
//! with a use limit, the code's use counters. It serves claims for
//! [`VIEW_TTL`] after its read, updated meanwhile with what this process
//! learns: its own claims (a shard's `used` + 1) and shards its
//! transactions found full. It decides nothing: every claim's transaction
//! checks the seat is new and the shards have room, so a stale view costs a
//! refused attempt (then the claim picks again, or reads), never a seat too
//! many. Refusals ("no seats", "code used up") are only answered on a
//! strongly consistent read: this claim's, or a view that is one, as read,
//! within the last [`VIEW_TTL`] (so a crowd at a full license is told so
//! without a strongly consistent read of every shard each).
//!
//! A seat freed by this process drops its license's views at once; one
//! freed by another (a member leaving through another function) is seen
//! when the views age out, so "no seats" can be up to [`VIEW_TTL`] stale.
//!
//! Under load each container reads a hot license's counters about once per
//! `VIEW_TTL` instead of once per claim (`docs/capacity.md`, "Reads").

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::{CodeId, LicenseId};
use crate::store::ClaimContext;

/// How long a view serves claims after it was read.
pub const VIEW_TTL: Duration = Duration::from_secs(1);

/// Views kept at most (then all are dropped; they are only a saving).
const VIEWS_MAX: usize = 1_000;

/// A view is of a license, and of the code whose use counters it carries.
type ViewKey = (LicenseId, Option<CodeId>);

struct View {
    ctx: ClaimContext,
    read_at: Instant,
    /// A strongly consistent read, unchanged since.
    proven: bool,
}

#[derive(Default)]
pub struct ClaimViews {
    views: Mutex<HashMap<ViewKey, View>>,
    /// Seats freed by this process so far: a read begun before one is not
    /// kept (it may show the freed seat taken).
    freed: AtomicU64,
}

impl ClaimViews {
    /// The view of `license_id` (with `code_id`'s use counters), if one was
    /// read within [`VIEW_TTL`], and whether it is a strongly consistent
    /// read as read.
    pub(crate) fn get(
        &self,
        license_id: &LicenseId,
        code_id: Option<&CodeId>,
    ) -> Option<(ClaimContext, bool)> {
        let views = self.lock();
        let view = views.get(&(license_id.clone(), code_id.cloned()))?;
        (view.read_at.elapsed() < VIEW_TTL).then(|| (view.ctx.clone(), view.proven))
    }

    /// Whether a view of `license_id` (with `code_id`'s use counters) was
    /// read within [`VIEW_TTL`] (without copying it out).
    pub(crate) fn is_fresh(&self, license_id: &LicenseId, code_id: Option<&CodeId>) -> bool {
        self.lock()
            .get(&(license_id.clone(), code_id.cloned()))
            .is_some_and(|view| view.read_at.elapsed() < VIEW_TTL)
    }

    /// Where a read begins: [`Self::put`] keeps it only if this process
    /// has freed no seat since.
    pub(crate) fn epoch(&self) -> u64 {
        self.freed.load(Ordering::SeqCst)
    }

    /// Keeps what a claim has just read (never the caller's seat), begun
    /// at `epoch`; `consistent` if it was read strongly consistent.
    pub(crate) fn put(
        &self,
        license_id: &LicenseId,
        code_id: Option<&CodeId>,
        ctx: &ClaimContext,
        consistent: bool,
        epoch: u64,
    ) {
        if ctx.license.is_none() {
            return;
        }
        let mut views = self.lock();
        if self.epoch() != epoch {
            return;
        }
        if views.len() >= VIEWS_MAX {
            views.clear();
        }
        let view = View {
            ctx: ClaimContext {
                seat: None,
                ..ctx.clone()
            },
            read_at: Instant::now(),
            proven: consistent,
        };
        views.insert((license_id.clone(), code_id.cloned()), view);
    }

    /// Applies `change` to the view, if there is one (it keeps its age, and
    /// is no longer a read as read).
    pub(crate) fn update(
        &self,
        license_id: &LicenseId,
        code_id: Option<&CodeId>,
        change: impl FnOnce(&mut ClaimContext),
    ) {
        if let Some(view) = self.lock().get_mut(&(license_id.clone(), code_id.cloned())) {
            change(&mut view.ctx);
            view.proven = false;
        }
    }

    /// Drops every view of `license_id`: this process has just freed one
    /// of its seats. (Another process learns of it when its views age out,
    /// within [`VIEW_TTL`].)
    pub(crate) fn forget(&self, license_id: &LicenseId) {
        let mut views = self.lock();
        self.freed.fetch_add(1, Ordering::SeqCst);
        views.retain(|(license, _), _| license != license_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ViewKey, View>> {
        self.views.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Counter, Email, LicenseRecord, Principal};

    fn ctx() -> ClaimContext {
        let license = LicenseRecord {
            license_id: "l1".into(),
            name: "Campus".into(),
            organization: "Uni".into(),
            product: "P".into(),
            seats_total: 2,
            expires_at: None,
            allowed_email_domains: Vec::new(),
            owner: Principal {
                sub: "o".into(),
                email: Email::parse("owner@uni.example").expect("an address"),
            },
            admins: Vec::new(),
            created_at: chrono::Utc::now(),
        };
        ClaimContext {
            license: Some(license),
            seat: None,
            seat_counters: vec![Counter {
                index: 0,
                cap: Some(2),
                used: 0,
            }],
            use_counters: vec![],
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_view_serves_for_its_ttl_and_keeps_what_the_process_learns() {
        let views = ClaimViews::default();
        let id: LicenseId = "l1".into();
        assert!(views.get(&id, None).is_none());
        views.put(&id, None, &ctx(), true, views.epoch());
        assert!(views.get(&id, None).is_some_and(|(_, proven)| proven));
        assert!(views.is_fresh(&id, None));
        views.update(&id, None, |ctx| ctx.seat_counters[0].used += 1);
        let (view, proven) = views.get(&id, None).expect("a fresh view");
        assert_eq!(view.seat_counters[0].used, 1);
        assert!(!proven, "changed since it was read");
        assert!(views.get(&id, Some(&"code_1".into())).is_none());
        tokio::time::advance(VIEW_TTL).await;
        assert!(views.get(&id, None).is_none());
        assert!(!views.is_fresh(&id, None));
        views.put(&id, Some(&"code_1".into()), &ctx(), true, views.epoch());
        views.forget(&id);
        assert!(views.get(&id, Some(&"code_1".into())).is_none());
        // A read begun before a seat was freed is not kept.
        let before = views.epoch();
        views.forget(&id);
        views.put(&id, None, &ctx(), true, before);
        assert!(views.get(&id, None).is_none());
    }
}
