//! Opaque page cursors, for every paged listing (admin listings and "My
//! Invitations"): base64url JSON of the listing's kind and the store's
//! [`PagePosition`]. A cursor of another listing, or one this API did not
//! issue, is `INVALID_REQUEST`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::store::PagePosition;

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
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
    let parsed: Raw = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if parsed.k != kind || parsed.p.is_empty() || parsed.p.len() > 512 {
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
