//! The emails the service writes, as text and HTML: the inviter's name but
//! never an address, every value HTML-escaped. Two small templates with one
//! escape function; a template engine would add a build step for little.
//!
//! The inviter's name comes from their sign-in token (`name` claim), which
//! they choose: [`inviter_name`] makes it safe for a subject line before
//! any part of the mail shows it.

use super::OutgoingEmail;
use crate::domain::{InvitationRecord, LicenseRecord};

/// The invitee's email for `invitation` of `license`, with its invite `url`.
/// `inviter`: the inviter's display name, if their sign-in gave one.
pub fn invitation_email(
    sender: &str,
    inviter: Option<&str>,
    license: &LicenseRecord,
    invitation: &InvitationRecord,
    url: &str,
) -> OutgoingEmail {
    let inviter = inviter
        .and_then(inviter_name)
        .unwrap_or_else(|| DEFAULT_INVITER.to_owned());
    let inviter = inviter.as_str();
    let expiry = invitation.expires_at.map_or_else(
        || "It does not expire.".to_owned(),
        |at| format!("It expires on {}.", at.format("%B %-d, %Y")),
    );
    let to = invitation.email.as_ref().map(|e| e.as_str().to_owned());
    OutgoingEmail {
        from: sender.to_owned(),
        to: to.into_iter().collect(),
        reply_to: Vec::new(),
        subject: format!(
            "{inviter} invited you to {} ({})",
            license.name, license.organization
        ),
        text: format!(
            "{inviter} invited you to join the license \"{name}\" of {organization} for {product}.\n\n\
             Open this link and sign in to accept:\n{url}\n\n{expiry}\n\n\
             If you did not expect this invitation, ignore this email.\n",
            name = license.name,
            organization = license.organization,
            product = license.product,
        ),
        html: Some(format!(
            "<p>{inviter} invited you to join the license <strong>{name}</strong> of {organization} for {product}.</p>\
             <p><a href=\"{url}\">Accept the invitation</a></p><p>{expiry}</p>\
             <p>If you did not expect this invitation, ignore this email.</p>",
            inviter = escape_html(inviter),
            name = escape_html(&license.name),
            organization = escape_html(&license.organization),
            product = escape_html(&license.product),
            url = escape_html(url),
            expiry = escape_html(&expiry),
        )),
    }
}

/// Who the invitation is from when the inviter's name is missing or unusable.
pub const DEFAULT_INVITER: &str = "Your license administrator";

/// The longest inviter name a mail shows, in characters (ellipsis included).
pub const INVITER_NAME_MAX_CHARS: usize = 64;

/// Invisible characters that reorder or hide text (bidirectional
/// overrides, zero-width characters, soft hyphen): dropped.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Whether a word of a name reads like an address or a link: an `@`, a
/// scheme (`://`), or a host name (`evil.example`, `www.x`). A mail that
/// says "paypal.com invited you" is a phishing aid, so such a name is not
/// shown at all.
fn looks_like_address(word: &str) -> bool {
    let lower = word.to_lowercase();
    if lower.contains('@') || lower.contains("://") || lower.starts_with("www.") {
        return true;
    }
    // A host: labels joined by dots, the last one at least two letters.
    let trimmed = lower.trim_matches(|c: char| !c.is_alphanumeric());
    let labels: Vec<&str> = trimmed.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty())
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
}

/// The inviter's display name as a subject line may carry it: control
/// characters (CR and LF included) become spaces, invisible ones go,
/// whitespace collapses to single spaces, and at most
/// [`INVITER_NAME_MAX_CHARS`] characters remain (cut on a character
/// boundary, ending in `…`). `None` when nothing is left, or when the name
/// looks like an address or a link (the mail then says
/// [`DEFAULT_INVITER`]).
pub fn inviter_name(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    if words.is_empty() || words.iter().any(|w| looks_like_address(w)) {
        return None;
    }
    let name = words.join(" ");
    if name.chars().count() <= INVITER_NAME_MAX_CHARS {
        return Some(name);
    }
    let cut: String = name.chars().take(INVITER_NAME_MAX_CHARS - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_line_breaks_never_reach_the_subject() {
        assert_eq!(
            inviter_name("Ann\r\nBcc: victim@x.example").as_deref(),
            None,
            "an injected header with an address is dropped as a whole"
        );
        assert_eq!(
            inviter_name("Ann\r\nSmith\t\u{7}Jr").as_deref(),
            Some("Ann Smith Jr")
        );
        assert_eq!(
            inviter_name("  Ann \u{202E}evil\u{200B}  Smith ").as_deref(),
            Some("Ann evil Smith")
        );
        assert_eq!(inviter_name(" \r\n\t ").as_deref(), None);
        assert_eq!(inviter_name("\u{200B}").as_deref(), None);
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = "é".repeat(100);
        let shown = inviter_name(&name).expect("a name");
        assert_eq!(shown.chars().count(), INVITER_NAME_MAX_CHARS);
        assert!(shown.ends_with('…'));
        assert!(shown.starts_with("éé"));
        let exact = "a".repeat(INVITER_NAME_MAX_CHARS);
        assert_eq!(inviter_name(&exact).as_deref(), Some(exact.as_str()));
        // A space before the cut is not kept in front of the ellipsis.
        let spaced = format!("{} tail", "b".repeat(INVITER_NAME_MAX_CHARS - 2));
        let shown = inviter_name(&spaced).expect("a name");
        assert!(shown.ends_with("b…"), "{shown}");
    }

    #[test]
    fn names_that_look_like_addresses_or_links_are_not_shown() {
        for raw in [
            "support@bank.example",
            "Visit https://evil.example now",
            "www.evil",
            "paypal.com",
            "Security Team (accounts.google.com)",
        ] {
            assert_eq!(inviter_name(raw), None, "{raw}");
        }
        for raw in [
            "J. R. Smith",
            "Dr. Ann Lee",
            "Ann (IT dept.)",
            "Ann Lee 2.0",
        ] {
            assert!(inviter_name(raw).is_some(), "{raw}");
        }
    }

    #[test]
    fn the_invitation_subject_carries_the_sanitised_name() {
        use crate::domain::{Email, InvitationStatus, Principal};
        let at = chrono::DateTime::parse_from_rfc3339("2026-09-01T08:00:00Z")
            .expect("a time")
            .to_utc();
        let license = LicenseRecord {
            license_id: "l1".into(),
            name: "Campus".into(),
            organization: "Uni".into(),
            product: "ATLAS.ti".into(),
            seats_total: 5,
            expires_at: None,
            allowed_email_domains: Vec::new(),
            owner: Principal {
                sub: "o".into(),
                email: Email::parse("owner@uni.example").expect("an address"),
            },
            admins: Vec::new(),
            created_at: at,
        };
        let invitation = InvitationRecord {
            invitation_id: "inv_1".into(),
            token_hash: crate::domain::SecretHash::from_stored("ab".into()),
            license_id: "l1".into(),
            email: Email::parse("bob@uni.example"),
            status: InvitationStatus::Pending,
            expires_at: None,
            created_at: at,
            valid_days: None,
            invited_by: None,
            delivery: None,
            delivery_at: None,
        };
        let mail = |name| invitation_email("s@x.example", name, &license, &invitation, "u");
        let injected = mail(Some("Eve\r\nSubject: <b>win</b>"));
        assert_eq!(
            injected.subject,
            "Eve Subject: <b>win</b> invited you to Campus (Uni)"
        );
        assert!(!injected.text.contains('\r'));
        assert!(
            injected
                .html
                .as_deref()
                .is_some_and(|h| h.contains("Eve Subject: &lt;b&gt;win&lt;/b&gt;"))
        );
        assert_eq!(
            mail(Some("it@bank.example")).subject,
            "Your license administrator invited you to Campus (Uni)"
        );
        assert_eq!(
            mail(None).subject,
            "Your license administrator invited you to Campus (Uni)"
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
    }
}
