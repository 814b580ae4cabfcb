//! Pages of listings, and the opaque position a listing continues from.

/// Where a listing continues. The store that returned it makes it and reads
/// it back; to everyone else it is opaque (services only pass it through
/// the cursor codec). Any string is a valid position: a forged one pages
/// from wherever it sorts, never reading outside the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePosition(String);

impl PagePosition {
    /// The longest position a cursor may carry back. A position becomes
    /// (part of) a DynamoDB sort key or start key, which may hold at most
    /// 1,024 bytes: this much, behind the longest prefix and user id, still
    /// fits (`store/dynamo/keys.rs` tests it).
    pub const MAX_BYTES: usize = 512;

    pub(crate) fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which page of a listing to read: up to `limit` items, from the start or
/// after `after`.
#[derive(Debug, Clone, Copy)]
pub struct Paging<'a> {
    pub after: Option<&'a PagePosition>,
    pub limit: usize,
}

impl<'a> Paging<'a> {
    pub fn new(after: Option<&'a PagePosition>, limit: usize) -> Self {
        Self { after, limit }
    }
}

/// One page of a listing and, when there is more, where it continues.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PagePosition>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items in listing order: the one extra
    /// item only tells that a next page exists, which continues after the
    /// last item kept (at `position` of it).
    pub(crate) fn from_lookahead(
        mut items: Vec<T>,
        limit: usize,
        position: impl Fn(&T) -> String,
    ) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more
            .then(|| items.last().map(|last| PagePosition::new(position(last))))
            .flatten();
        Self { items, next }
    }
}
