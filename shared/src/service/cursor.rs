//! Opaque page cursors, for every paged listing (admin listings and "My
//! Invitations"): base64url JSON of the listing's kind and the store's
//! [`PagePosition`]. A cursor of another listing, one this API did not
//! issue, or one longer than any it issues, is `INVALID_REQUEST`; so is a
//! position longer than [`PagePosition::MAX_BYTES`], which would not fit
//! in a DynamoDB key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::store::PagePosition;

/// The longest cursor [`encode`] makes: base64 of the JSON of a kind and a
/// position of `MAX_BYTES`, every byte of it escaped (`\u0000`, 6 bytes).
/// Anything longer is refused before it is decoded.
pub const MAX_LEN: usize = (64 + 6 * PagePosition::MAX_BYTES).div_ceil(3) * 4;

pub fn encode(kind: &str, position: &PagePosition) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!({"k": kind, "p": position.as_str()}).to_string())
}

pub fn decode(kind: &str, raw: &str) -> Result<PagePosition, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        k: String,
        p: String,
    }
    let invalid = || ApiError::invalid("cursor is not one this API issued for this listing");
    if raw.len() > MAX_LEN {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
    let parsed: Raw = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if parsed.k != kind || parsed.p.is_empty() || parsed.p.len() > PagePosition::MAX_BYTES {
        return Err(invalid());
    }
    Ok(PagePosition::new(parsed.p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_only_for_their_listing() {
        let raw = encode("seats", &PagePosition::new("2026-01-01T00:00:00.000Z#u1"));
        assert_eq!(
            decode("seats", &raw)
                .ok()
                .as_ref()
                .map(PagePosition::as_str),
            Some("2026-01-01T00:00:00.000Z#u1")
        );
        assert!(decode("events", &raw).is_err());
        assert!(decode("seats", "garbage").is_err());
    }
}

/// Properties, over generated input (256 cases each; `PROPTEST_CASES`
/// raises it for a soak).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// The kind of every listing that pages with a cursor (admin seats,
    /// events, licenses and invitations; "My Invitations").
    const KINDS: [&str; 5] = ["seats", "events", "licenses", "invitations", "my-licenses"];

    /// Any position a store may hand out: 1 to `MAX_BYTES` bytes of any
    /// characters, control characters and quotes included.
    fn position() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9TZ:.#a-z_-]{1,80}",
            prop::collection::vec(any::<char>(), 1..200).prop_map(String::from_iter),
        ]
        .prop_map(|s| {
            let mut end = s.len().min(PagePosition::MAX_BYTES);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_owned()
        })
        .prop_filter("a position is never empty", |s| !s.is_empty())
    }

    fn refusal(result: Result<PagePosition, ApiError>) -> Option<(&'static str, String)> {
        result.err().map(|e| (e.code(), e.to_string()))
    }

    fn stable() -> Option<(&'static str, String)> {
        refusal(decode("seats", "!"))
    }

    proptest! {
        #[test]
        fn cursors_round_trip_for_their_listing(
            kind in prop::sample::select(KINDS.to_vec()),
            raw in position(),
        ) {
            let cursor = encode(kind, &PagePosition::new(raw.clone()));
            prop_assert!(cursor.len() <= MAX_LEN);
            let back = decode(kind, &cursor).expect("its own cursor");
            prop_assert_eq!(back.as_str(), raw.as_str());
        }

        #[test]
        fn a_cursor_of_another_listing_is_refused(
            (issued, used) in (0..KINDS.len(), 1..KINDS.len())
                .prop_map(|(i, d)| (KINDS[i], KINDS[(i + d) % KINDS.len()])),
            raw in position(),
        ) {
            let cursor = encode(issued, &PagePosition::new(raw));
            prop_assert_eq!(refusal(decode(used, &cursor)), stable());
        }

        #[test]
        fn arbitrary_strings_never_panic_and_are_refused_alike(
            kind in prop::sample::select(KINDS.to_vec()),
            raw in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,64}"],
        ) {
            match decode(kind, &raw) {
                Ok(position) => {
                    // Only a well-formed cursor of this listing decodes.
                    prop_assert!(!position.as_str().is_empty());
                    prop_assert!(position.as_str().len() <= PagePosition::MAX_BYTES);
                    prop_assert_eq!(decode(kind, &encode(kind, &position)).ok(), Some(position));
                }
                Err(err) => prop_assert_eq!(Some((err.code(), err.to_string())), stable()),
            }
        }

        #[test]
        fn an_overlong_position_is_refused(
            kind in prop::sample::select(KINDS.to_vec()),
            len in PagePosition::MAX_BYTES + 1..4 * PagePosition::MAX_BYTES,
        ) {
            let cursor = encode(kind, &PagePosition::new("a".repeat(len)));
            prop_assert_eq!(refusal(decode(kind, &cursor)), stable());
        }

        #[test]
        fn an_overlong_cursor_is_refused_before_decoding(
            kind in prop::sample::select(KINDS.to_vec()),
            extra in 1..1_000usize,
        ) {
            let raw = "A".repeat(MAX_LEN + extra);
            prop_assert_eq!(refusal(decode(kind, &raw)), stable());
        }
    }

    #[test]
    fn the_longest_position_fits_even_fully_escaped() {
        let worst = "\0".repeat(PagePosition::MAX_BYTES);
        let cursor = encode("invitations", &PagePosition::new(worst.clone()));
        assert!(cursor.len() <= MAX_LEN, "{} > {MAX_LEN}", cursor.len());
        assert_eq!(
            decode("invitations", &cursor)
                .ok()
                .map(|p| p.as_str().to_owned()),
            Some(worst)
        );
        assert_eq!(stable().map(|(code, _)| code), Some("INVALID_REQUEST"));
    }
}
