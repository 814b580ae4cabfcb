//! Secrets that are stored only as hashes, and random identifiers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// How a secret (code or token) is stored: `{key id}.{hex}` where the hex
/// is HMAC-SHA256, under a key held outside the table, of the SHA-256 of
/// `{kind}:{normalised secret}`. A copy of the table alone therefore tells
/// nothing about any code (hashing all 2^60 codes offline needs the key),
/// the kind prefix keeps a code from ever being looked up as a token, and
/// the key id says which key made it, so keys can be rotated.
///
/// The inner SHA-256 is what earlier versions stored unkeyed (a bare
/// 64-digit hex string): such a hash is re-keyed exactly, without the
/// secret, by [`HashKeys::rekey_legacy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretHash(String);

impl SecretHash {
    /// Rebuilds a hash read back from storage.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An unkeyed SHA-256 of `kind:value`, for values that are not secrets
    /// (an email address, which the table holds in plain elsewhere) but are
    /// still better not repeated as keys.
    pub(crate) fn of(kind: &str, normalized: &str) -> Self {
        Self(hex(&digest(kind, normalized)))
    }

    /// The id of the key that made this hash; `None` for an unkeyed hash
    /// of an earlier version.
    pub fn key_id(&self) -> Option<&str> {
        self.0.split_once('.').map(|(id, _)| id)
    }
}

fn digest(kind: &str, normalized: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update(b":");
    hasher.update(normalized.as_bytes());
    hasher.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// One hashing key: an id (stored in every hash it makes) and at least
/// 32 secret bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct HashKey {
    id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashKey({}, <redacted>)", self.id)
    }
}

impl HashKey {
    pub const MIN_SECRET_BYTES: usize = 32;

    pub fn new(id: &str, secret: Vec<u8>) -> Result<Self, String> {
        let id_ok = (1..=16).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(format!(
                "key id {id:?} must be 1 to 16 letters, digits, '-' or '_'"
            ));
        }
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(format!(
                "key {id:?} has {} bytes; at least {} are needed",
                secret.len(),
                Self::MIN_SECRET_BYTES
            ));
        }
        Ok(Self {
            id: id.to_owned(),
            secret,
        })
    }

    /// A new random key: 64 URL-safe characters (384 bits) from the OS
    /// CSPRNG.
    pub fn generate(id: &str) -> Result<Self, String> {
        let mut bytes = [0u8; 48];
        fill_random(&mut bytes);
        Self::new(id, URL_SAFE_NO_PAD.encode(bytes).into_bytes())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, inner: &[u8]) -> SecretHash {
        use hmac::Mac;
        // HMAC takes a key of any length; `new_from_slice` cannot fail.
        let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts any key length");
        mac.update(inner);
        SecretHash(format!("{}.{}", self.id, hex(&mac.finalize().into_bytes())))
    }
}

/// The keys secrets are hashed with: the current one makes every new hash;
/// every key listed is accepted when a code or token is looked up, so a
/// rotation never breaks codes already handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashKeys {
    keys: Vec<HashKey>,
}

impl HashKeys {
    /// The id of the built-in development key. Its secret is public (it
    /// is in this source file): for local runs and tests only; a deployed
    /// function refuses to start without a real key.
    pub const DEVELOPMENT_ID: &str = "dev";
    const DEVELOPMENT_SECRET: &[u8; 32] = b"development-only-not-a-secret-00";

    pub fn development() -> Self {
        Self {
            keys: vec![HashKey {
                id: Self::DEVELOPMENT_ID.into(),
                secret: Self::DEVELOPMENT_SECRET.to_vec(),
            }],
        }
    }

    pub fn is_development(&self) -> bool {
        self.current().secret == Self::DEVELOPMENT_SECRET
    }

    /// The keys as stored in the secret (and in `HASH_KEYS`): a JSON object
    /// of key ids to secrets, with `current` naming the key new hashes use,
    /// e.g. `{"current":"k2","k2":"…","k1":"…"}`. Every other key listed
    /// is accepted on lookup. A secret is at least 32 characters (the stack
    /// generates 64 random letters and digits).
    pub fn parse(json: &str) -> Result<Self, String> {
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(json)
            .map_err(|_| "the keys must be a JSON object of strings".to_owned())?;
        let current = map
            .get("current")
            .ok_or_else(|| "\"current\" must name the key new hashes use".to_owned())?;
        let secret_of = |id: &str| {
            map.get(id)
                .ok_or_else(|| format!("\"current\" names {id:?}, which is not listed"))
        };
        let mut keys = vec![HashKey::new(
            current,
            secret_of(current)?.as_bytes().to_vec(),
        )?];
        for (id, secret) in &map {
            if id != "current" && id != current {
                keys.push(HashKey::new(id, secret.as_bytes().to_vec())?);
            }
        }
        Ok(Self { keys })
    }

    /// The JSON form [`HashKeys::parse`] reads.
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("current".into(), self.current().id.clone().into());
        for key in &self.keys {
            map.insert(
                key.id.clone(),
                String::from_utf8_lossy(&key.secret).into_owned().into(),
            );
        }
        serde_json::Value::Object(map).to_string()
    }

    /// These keys with `key` as the new current one; the old current key
    /// stays accepted, and only the newest `keep` keys are kept.
    pub fn rotated(&self, key: HashKey, keep: usize) -> Result<Self, String> {
        if self.keys.iter().any(|k| k.id == key.id) {
            return Err(format!("key id {:?} is already listed", key.id));
        }
        let mut keys = vec![key];
        keys.extend(self.keys.iter().take(keep.max(1) - 1).cloned());
        Ok(Self { keys })
    }

    pub fn current(&self) -> &HashKey {
        &self.keys[0]
    }

    pub fn keys(&self) -> &[HashKey] {
        &self.keys
    }

    /// The hash a new secret is stored under (current key).
    pub(crate) fn hash(&self, kind: &str, normalized: &str) -> SecretHash {
        self.current().mac(&digest(kind, normalized))
    }

    /// Every hash a stored secret may have: the current key's first.
    pub(crate) fn candidates(&self, kind: &str, normalized: &str) -> Vec<SecretHash> {
        let inner = digest(kind, normalized);
        self.keys.iter().map(|key| key.mac(&inner)).collect()
    }

    /// The current key's hash for an unkeyed hash stored by an earlier
    /// version (64 hex digits); `None` for anything else.
    pub fn rekey_legacy(&self, legacy: &SecretHash) -> Option<SecretHash> {
        let raw = legacy.as_str();
        if raw.len() != 64 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut inner = [0u8; 32];
        for (i, byte) in inner.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&raw[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(self.current().mac(&inner))
    }
}

impl Default for HashKeys {
    fn default() -> Self {
        Self::development()
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

    pub fn hash(&self, keys: &HashKeys) -> SecretHash {
        keys.hash("token", &self.0)
    }

    /// Every hash this token may be stored under (see [`HashKeys`]).
    pub fn hashes(&self, keys: &HashKeys) -> Vec<SecretHash> {
        keys.candidates("token", &self.0)
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
    fn hashes_differ_by_kind_and_key_and_hide_the_secret() {
        let keys = HashKeys::development();
        let a = keys.hash("code", "ABC");
        let b = keys.hash("token", "ABC");
        assert_ne!(a, b);
        assert_eq!(a.key_id(), Some("dev"));
        assert_eq!(a.as_str().len(), "dev.".len() + 64);
        assert!(!a.as_str().contains("ABC"));
        let other = keys.rotated(HashKey::generate("k2").unwrap(), 1).unwrap();
        assert_ne!(other.hash("code", "ABC"), a);
    }

    #[test]
    fn a_rotation_accepts_the_previous_key_and_hashes_with_the_new_one() {
        let old = HashKey::generate("k1").unwrap();
        let new = HashKey::generate("k2").unwrap();
        let before = HashKeys::development().rotated(old, 1).unwrap();
        let after = before.rotated(new, 2).unwrap();
        assert_eq!(HashKeys::parse(&after.to_json()), Ok(after.clone()));
        let stored = before.hash("code", "ABC");
        let candidates = after.candidates("code", "ABC");
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[0], after.hash("code", "ABC"));
        assert_eq!(candidates[0].key_id(), Some("k2"));
        assert!(candidates.contains(&stored));
    }

    #[test]
    fn an_unkeyed_hash_of_an_earlier_version_is_rekeyed_exactly() {
        let keys = HashKeys::development()
            .rotated(HashKey::generate("k1").unwrap(), 1)
            .unwrap();
        let legacy = SecretHash::from_stored(hex(&digest("code", "ABC")));
        assert_eq!(legacy.key_id(), None);
        assert_eq!(keys.rekey_legacy(&legacy), Some(keys.hash("code", "ABC")));
        assert_eq!(keys.rekey_legacy(&keys.hash("code", "ABC")), None);
        assert_eq!(
            keys.rekey_legacy(&SecretHash::from_stored("zz".into())),
            None
        );
    }

    #[test]
    fn key_sets_are_checked() {
        assert!(HashKeys::parse("").is_err());
        assert!(HashKeys::parse("{}").is_err());
        assert!(
            HashKeys::parse(r#"{"current":"k1"}"#).is_err(),
            "not listed"
        );
        assert!(HashKeys::parse(r#"{"current":"k1","k1":"short"}"#).is_err());
        let long = "x".repeat(32);
        let ok = HashKeys::parse(&format!(
            r#"{{"current":"k1","k1":"{long}","k0":"{long}y"}}"#
        ))
        .unwrap();
        assert_eq!(ok.current().id(), "k1");
        assert_eq!(ok.keys().len(), 2);
        assert!(HashKeys::parse(&format!(r#"{{"current":"bad id","bad id":"{long}"}}"#)).is_err());
        assert!(!format!("{ok:?}").contains(&long));
        let rotated = ok.rotated(HashKey::generate("k2").unwrap(), 2).unwrap();
        assert_eq!(
            rotated.keys().iter().map(HashKey::id).collect::<Vec<_>>(),
            ["k2", "k1"]
        );
        assert!(
            rotated
                .rotated(HashKey::generate("k2").unwrap(), 2)
                .is_err()
        );
        assert!(HashKeys::development().is_development());
        assert!(!rotated.is_development());
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
