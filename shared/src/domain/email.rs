//! Email addresses, normalised (trimmed, lower-cased) for every comparison.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// A pragmatic check (one `@`, a dotted domain, no spaces or controls),
    /// not RFC 5322: the sign-in provider has verified the address already.
    pub fn parse(raw: &str) -> Option<Self> {
        let normalized = raw.trim().to_lowercase();
        if normalized.len() > 254
            || normalized
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        let (local, domain) = normalized.split_once('@')?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        (!local.is_empty() && local.len() <= 64 && domain_ok).then_some(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// Whether the address is in `allowed` (the domain itself or a subdomain).
    pub fn in_domain(&self, allowed: &str) -> bool {
        let allowed = allowed.trim().trim_start_matches('@').to_lowercase();
        let domain = self.domain();
        !allowed.is_empty()
            && (domain == allowed
                || domain
                    .strip_suffix(allowed.as_str())
                    .is_some_and(|rest| rest.ends_with('.')))
    }

    /// SHA-256 of the normalised address (prefixed `email:`): how a
    /// suppressed address is recorded, so the store keeps no address for it.
    pub fn hash(&self) -> super::SecretHash {
        super::SecretHash::of("email", &self.0)
    }

    /// `b***@uni.edu`: what other users may see of an invitee's address.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value).ok_or_else(|| "not a valid email address".to_owned())
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_case_folded() {
        let email = Email::parse("  Bob.Smith@Uni.EDU ").expect("valid");
        assert_eq!(email.as_str(), "bob.smith@uni.edu");
        assert_eq!(email.domain(), "uni.edu");
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        for raw in [
            "",
            "bob",
            "bob@",
            "@uni.edu",
            "bob@uni",
            "bo b@uni.edu",
            "a@b@c.edu",
            "bob@.edu",
            "bob@uni..edu",
        ] {
            assert!(Email::parse(raw).is_none(), "{raw}");
        }
    }

    #[test]
    fn domain_rule_accepts_subdomains_only_at_a_dot() {
        let email = Email::parse("ann@cs.uni.edu").expect("valid");
        assert!(email.in_domain("uni.edu"));
        assert!(email.in_domain("CS.Uni.edu"));
        assert!(email.in_domain("@uni.edu"));
        assert!(!email.in_domain("ni.edu"));
        assert!(!email.in_domain("other.edu"));
        assert!(!email.in_domain(""));
    }

    #[test]
    fn the_hash_is_of_the_normalised_address() {
        let a = Email::parse(" Bob@Uni.edu").expect("valid");
        let b = Email::parse("bob@uni.edu").expect("valid");
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.hash().as_str().len(), 64);
        assert!(!a.hash().as_str().contains("bob"));
        assert_ne!(a.hash(), Email::parse("ann@uni.edu").expect("valid").hash());
    }

    #[test]
    fn masking_keeps_only_the_first_letter() {
        assert_eq!(
            Email::parse("bob@uni.edu").expect("valid").masked(),
            "b***@uni.edu"
        );
    }
}
