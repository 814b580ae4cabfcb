//! Typed identifiers: a license id, a user id, a code id and an invitation
//! id are each their own type, so two of them can never trade places in an
//! argument list (`seat(user_id, license_id)`) or a record.
//!
//! Each is a plain string underneath and serialises as one
//! (`#[serde(transparent)]`): stored items, key strings and API JSON are
//! what they were with `String`s. None dereferences to `str` (that would make
//! them interchangeable again): say `as_str()` where a string is meant.
//!
//! Constructing one validates nothing, on purpose: the checks stay where
//! they were, at the edges, before converting. A request path's ids are
//! untrusted and only ever looked up (the router refuses overlong
//! segments; an id that names nothing finds nothing); the caller's `sub`
//! claim is checked in `http::extract`; a new license's id in the seed
//! loader and `seatctl`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Timestamp, time_ordered_id};

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

typed_id! {
    /// A license, as its operator named it (`lic-…`).
    LicenseId
}

typed_id! {
    /// A user: the `sub` claim of their sign-in.
    UserId
}

typed_id! {
    /// An invite code's id (`code_…`, sorting by creation time); never the
    /// code itself, which is stored only as a hash.
    CodeId
}

typed_id! {
    /// An invitation's id (`inv_…`, sorting by creation time); never its
    /// token, which is stored only as a hash.
    InvitationId
}

impl CodeId {
    /// A fresh id for a code created `at`: listings sort by it.
    pub fn time_ordered(at: Timestamp) -> Self {
        Self(time_ordered_id("code", at))
    }
}

impl InvitationId {
    /// A fresh id for an invitation created `at`: listings sort by it.
    pub fn time_ordered(at: Timestamp) -> Self {
        Self(time_ordered_id("inv", at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_bare_strings() {
        let id = LicenseId::from("lic-1");
        assert_eq!(
            serde_json::to_string(&id).ok().as_deref(),
            Some("\"lic-1\"")
        );
        assert_eq!(
            serde_json::from_str::<LicenseId>("\"lic-1\"").ok(),
            Some(id)
        );
        assert_eq!(UserId::new("ann").to_string(), "ann");
        assert_eq!(CodeId::from("code_1"), "code_1");
    }

    #[test]
    fn fresh_ids_keep_their_prefixes_and_sort_by_time() {
        let early = chrono::DateTime::from_timestamp_millis(1_000).unwrap_or_default();
        let late = chrono::DateTime::from_timestamp_millis(1_001).unwrap_or_default();
        assert!(CodeId::time_ordered(early).as_str().starts_with("code_"));
        assert!(
            InvitationId::time_ordered(early)
                .as_str()
                .starts_with("inv_")
        );
        assert!(InvitationId::time_ordered(early) < InvitationId::time_ordered(late));
    }
}
