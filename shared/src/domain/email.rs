//! Email addresses, normalised (trimmed, lower-cased) for every comparison.

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};

/// At most this many bytes in a whole address (RFC 5321's path limit less
/// the angle brackets) …
pub const MAX_LEN: usize = 254;
/// … and in its local part.
pub const MAX_LOCAL_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// An allowed-domain rule as it is compared: trimmed, without a leading
/// `@`, lowercase.
pub fn domain_rule(allowed: &str) -> String {
    allowed.trim().trim_start_matches('@').to_lowercase()
}

impl Email {
    /// A plain `local@domain.tld`, checked by the `email_address` crate's
    /// RFC 5322 grammar with display names and domain literals turned off,
    /// and stricter still: no quoted local part, no whitespace or control
    /// character anywhere, no non-ASCII character but letters and digits,
    /// domain labels of letters, digits and hyphens only, at most 64 bytes
    /// before the `@` and 254 in all. So `Name <a@b.example>`,
    /// `a@b.example>`, `g:a@b.example;`, `"a b"@b.example` and
    /// `a@[192.0.2.1]` are refused. Trimmed and lower-cased first.
    pub fn parse(raw: &str) -> Option<Self> {
        let normalized = raw.trim().to_lowercase();
        if normalized.len() > MAX_LEN
            || !normalized
                .chars()
                .all(|c| c.is_ascii_graphic() || c.is_alphanumeric())
        {
            return None;
        }
        let (local, domain) = normalized.rsplit_once('@')?;
        let domain_ok = domain
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.'));
        if local.len() > MAX_LOCAL_LEN || local.starts_with('"') || !domain_ok {
            return None;
        }
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal()
            .without_display_text();
        EmailAddress::parse_with_options(&normalized, options).ok()?;
        Some(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// The address's domain and each of its parent domains, longest first:
    /// exactly the (normalised, [`domain_rule`]) rules that admit it.
    pub fn domains_admitting(&self) -> Vec<&str> {
        let domain = self.domain();
        std::iter::once(domain)
            .chain(domain.match_indices('.').map(|(i, _)| &domain[i + 1..]))
            .filter(|d| !d.is_empty())
            .collect()
    }

    /// Whether the address is in `allowed` (the domain itself or a subdomain).
    pub fn in_domain(&self, allowed: &str) -> bool {
        let allowed = domain_rule(allowed);
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
            "Name<x@evil.example>",
            "Name <x@evil.example>",
            "<x@evil.example>",
            "x@evil.example>",
            "<x@evil.example",
            "g:a@evil.example;",
            "a@evil.example;",
            "a,b@evil.example",
            "a;b@evil.example",
            "a@evil.example,b@uni.edu",
            "\"a b\"@evil.example",
            "\"ab\"@evil.example",
            "a@[192.0.2.1]",
            "a@[ipv6:2001:db8::1]",
            "a\tb@uni.edu",
            "a@uni.edu\0",
            "a\0@uni.edu",
            "a\u{85}b@uni.edu",
            "a\u{200b}b@uni.edu",
            "a\u{202e}b@uni.edu",
            "a@uni\u{a0}.edu",
            "a@uni_x.edu",
            "a@-uni.edu",
            "a@uni-.edu",
            ".a@uni.edu",
            "a.@uni.edu",
            "a..b@uni.edu",
            "[a b]",
            "[a@evil.example b@uni.edu]",
            "[a@evil.example]",
            "12345",
            "true",
        ] {
            assert!(Email::parse(raw).is_none(), "{raw}");
        }
    }

    #[test]
    fn lengths_are_bounded() {
        let local = "a".repeat(MAX_LOCAL_LEN);
        assert!(Email::parse(&format!("{local}@uni.edu")).is_some());
        assert!(Email::parse(&format!("{local}a@uni.edu")).is_none());
        // 254 bytes in all is the most: 64 + 1 + labels of 63, 63 and 61.
        let label = "d".repeat(63);
        let domain = format!("{label}.{label}.{}", "e".repeat(61));
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), MAX_LEN);
        assert!(Email::parse(&longest).is_some());
        assert!(Email::parse(&format!("{local}@a{domain}")).is_none());
    }

    #[test]
    fn ordinary_addresses_are_accepted() {
        for raw in [
            "bob@uni.edu",
            "bob.smith+tag@cs.uni.edu",
            "o'brien@uni.edu",
            "a-b_c@uni-x.example",
            "x@a.b.c.d.example",
            "jürgen@uni.de",
            "ann@bücher.example",
            "1@2.example",
        ] {
            assert!(Email::parse(raw).is_some(), "{raw}");
        }
    }

    #[test]
    fn the_domains_admitting_an_address_are_exactly_those_in_domain_accepts() {
        let email = Email::parse("ann@cs.uni.edu").expect("valid");
        assert_eq!(email.domains_admitting(), ["cs.uni.edu", "uni.edu", "edu"]);
        for rule in [
            "cs.uni.edu",
            "uni.edu",
            "edu",
            "ni.edu",
            "s.uni.edu",
            "other.edu",
            "UNI.edu",
        ] {
            assert_eq!(
                email.in_domain(rule),
                email
                    .domains_admitting()
                    .contains(&domain_rule(rule).as_str()),
                "{rule}"
            );
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

/// Properties, over generated input (256 cases each; `PROPTEST_CASES`
/// raises it for a soak).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A plain address: dot-separated atoms of letters, digits and a few
    /// symbols, at an ASCII or IDN domain with a TLD, any case.
    fn address() -> impl Strategy<Value = String> {
        let atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}";
        let label = "[A-Za-z0-9äöüé]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?";
        (
            prop::collection::vec(atom, 1..4),
            prop::collection::vec(label, 2..4),
        )
            .prop_map(|(atoms, labels)| format!("{}@{}", atoms.join("."), labels.join(".")))
    }

    proptest! {
        #[test]
        fn valid_addresses_round_trip_normalised(
            raw in address(),
            before in "[ \t\n]{0,3}",
            after in "[ \t\n]{0,3}",
        ) {
            let email = Email::parse(&format!("{before}{raw}{after}"));
            let want = raw.to_lowercase();
            prop_assert_eq!(email.as_ref().map(Email::as_str), Some(want.as_str()));
            let email = email.expect("checked");
            let again = Email::parse(email.as_str());
            prop_assert_eq!(again.as_ref(), Some(&email));
            let via_serde: Email =
                serde_json::from_value(serde_json::json!(email.as_str())).expect("serde");
            prop_assert_eq!(via_serde, email);
        }

        #[test]
        fn a_hostile_character_inside_is_refused(
            raw in address(),
            at in any::<prop::sample::Index>(),
            bad in prop_oneof![
                prop::sample::select(vec!['<', '>', ';', ':', ',', '"', '[', ']', '(', ')', '\\']),
                any::<char>().prop_filter("whitespace or control", |c| {
                    c.is_whitespace() || c.is_control()
                }),
            ],
        ) {
            // Inside: after the first character, before the last.
            let chars: Vec<char> = raw.chars().collect();
            let i = 1 + at.index(chars.len() - 1);
            let hostile: String = chars[..i]
                .iter()
                .chain(std::iter::once(&bad))
                .chain(&chars[i..])
                .collect();
            prop_assert!(Email::parse(&hostile).is_none(), "{:?}", hostile);
        }

        #[test]
        fn a_display_name_is_refused(name in "[A-Za-z ]{0,10}", raw in address()) {
            let hostile = format!("{name}<{raw}>");
            prop_assert!(Email::parse(&hostile).is_none(), "{:?}", hostile);
        }

        #[test]
        fn parse_never_panics_and_holds_its_promises(raw in any::<String>()) {
            if let Some(email) = Email::parse(&raw) {
                let s = email.as_str();
                prop_assert!(s.len() <= MAX_LEN);
                prop_assert_eq!(s.matches('@').count(), 1);
                prop_assert!(s.split('@').next().is_some_and(|l| l.len() <= MAX_LOCAL_LEN));
                prop_assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()
                    || "<>;:,\"[]()\\".contains(c)));
                prop_assert_eq!(s, s.to_lowercase());
            }
        }
    }
}
