//! Secrets that are stored only as hashes, and random identifiers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// SHA-256 of a normalised secret (code or token), hex-encoded, prefixed
/// by the kind so a code can never be looked up as a token or vice versa.
/// 60-bit codes and 256-bit tokens are not guessable offline from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretHash(String);

impl SecretHash {
    pub(crate) fn of(kind: &str, normalized: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_bytes());
        hasher.update(b":");
        hasher.update(normalized.as_bytes());
        let digest = hasher.finalize();
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Rebuilds a hash read back from storage.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret of an invite URL: at least 43 URL-safe characters
/// (256 random bits when we generate it).
#[derive(Clone, PartialEq, Eq)]
pub struct InviteToken(String);

impl std::fmt::Debug for InviteToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteToken(<redacted>)")
    }
}

impl InviteToken {
    pub const MIN_LEN: usize = 43;
    pub const MAX_LEN: usize = 128;

    /// Accepts a token from a URL path; `None` when it cannot be one of ours.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (Self::MIN_LEN..=Self::MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of("token", &self.0)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

pub(crate) fn fill_random(buf: &mut [u8]) {
    // The OS CSPRNG failing is not recoverable; every secret depends on it.
    getrandom::fill(buf).expect("operating system random source failed");
}

/// An identifier that sorts by creation time: `inv_0192f3a4b5c6_3fJ…`
/// (12 hex digits of Unix milliseconds, then 72 random bits). Listings page
/// by it, and a lookup by id needs no extra index.
pub fn time_ordered_id(prefix: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let mut bytes = [0u8; 9];
    fill_random(&mut bytes);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    format!("{prefix}_{millis:012x}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random identifier such as `inv_3fJ…`: 96 random bits, URL-safe.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    fill_random(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_carry_256_bits_and_parse_back() {
        let token = InviteToken::generate();
        assert_eq!(token.expose().len(), 43);
        assert_eq!(InviteToken::parse(token.expose()), Some(token.clone()));
        assert_ne!(token, InviteToken::generate());
    }

    #[test]
    fn short_or_odd_tokens_are_rejected() {
        assert!(InviteToken::parse("abc").is_none());
        assert!(InviteToken::parse(&"a".repeat(42)).is_none());
        assert!(InviteToken::parse(&format!("{}/", "a".repeat(43))).is_none());
        assert!(InviteToken::parse(&"a".repeat(129)).is_none());
    }

    #[test]
    fn hashes_differ_by_kind_and_hide_the_secret() {
        let a = SecretHash::of("code", "ABC");
        let b = SecretHash::of("token", "ABC");
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(!a.as_str().contains("ABC"));
    }

    #[test]
    fn time_ordered_ids_sort_by_time() {
        let early = chrono::DateTime::from_timestamp_millis(1_000).unwrap_or_default();
        let late = chrono::DateTime::from_timestamp_millis(1_001).unwrap_or_default();
        assert!(time_ordered_id("e", early) < time_ordered_id("e", late));
        assert_ne!(time_ordered_id("e", early), time_ordered_id("e", early));
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let token = InviteToken::generate();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
