//! Which store port methods each Lambda function's use cases call, read
//! off `service/` (a new call there means a new entry here): what its IAM
//! policy in `template.yaml` must allow, through
//! `store::dynamo::iam::actions_of`. The tests crate's template test reads
//! the template and checks every function's policy covers these.

use super::Function;

/// The port methods `function` may call.
pub fn store_methods(function: Function) -> &'static [&'static str] {
    match function {
        Function::RedeemCode => &[
            "limit_acquire",
            "limit_release",
            "code",
            "license",
            "claim_context",
            "claim",
            "invitation",
            "seat",
            "licenses_with_usage",
            "record_turned_away",
        ],
        Function::AcceptInvite => &[
            "invitation",
            "license",
            "claim_context",
            "claim",
            "seat",
            "close_invitation",
            "pending_invitations",
            "record_turned_away",
        ],
        Function::ListInvitations => &[
            "user_seats",
            "licenses_with_usage",
            "pending_invitations",
            "seat",
            "release_seat",
            "departed_at",
        ],
        Function::ContactOwner => &[
            "license",
            "seat",
            "pending_invitations",
            "limit_acquire",
            "limit_release",
            "code",
            "suppression",
        ],
        Function::LicenseAdmin => &[
            "license",
            "licenses_with_usage",
            "administered_licenses",
            "create_code",
            "license_codes",
            "code_by_id",
            "revoke_code",
            "license_seats",
            "seat",
            "release_seat",
            "events",
            "turned_away",
            "seat_waits",
            "seated_among",
        ],
        Function::InvitationAdmin => &[
            "license",
            "invitation",
            "create_invitation",
            "license_invitations",
            "license_invitations_by_status",
            "invitation_by_id",
            "close_invitation",
            "reissue_invitation",
            "members_among",
            "pending_invitations",
            "suppression",
            "limit_acquire",
            "limit_release",
        ],
        Function::All => &[],
    }
}

/// Functions that serve no route but are triggered by events (`functions/<name>`,
/// run through `crate::lambda::app`), with the port methods each may call.
pub const EVENT_FUNCTIONS: &[(&str, &[&str])] = &[
    // SES bounce and complaint events from SNS: `service::mail_events`.
    ("mail-events", &["suppress"]),
    // Queued invitation mail from SQS: `service::delivery`.
    (
        "invitation-sender",
        &[
            "invitation_by_id",
            "invitation",
            "license",
            "claim_delivery",
            "set_delivery",
            "close_invitation",
            "limit_release",
        ],
    ),
];

/// The event-triggered functions that send mail (need `ses:SendEmail`).
pub const EVENT_FUNCTIONS_SENDING_MAIL: &[&str] = &["invitation-sender"];

/// Whether `function` sends mail (needs `ses:SendEmail`).
pub fn sends_mail(function: Function) -> bool {
    matches!(function, Function::ContactOwner | Function::InvitationAdmin)
}
