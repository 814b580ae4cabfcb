//! The emails the service writes, as text and HTML: the inviter's name but
//! never an address, every value HTML-escaped. Two small templates with one
//! escape function; a template engine would add a build step for little.

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
    let inviter = inviter.unwrap_or("Your license administrator");
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
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
    }
}
