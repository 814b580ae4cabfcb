//! Records as the store keeps them, and the shapes the API returns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CodeId, Email, InvitationId, LicenseId, SecretHash, UserId};
use crate::error::ApiError;

pub type Timestamp = DateTime<Utc>;

/// Seat counters per license and use counters per code are spread over this
/// many items, each on its own partition key, so one hot license or code
/// never funnels every claim through one item: claims that touch the same
/// shard within a transaction's hold time conflict, so a license tops out
/// near `COUNTER_SHARDS / w` (see `docs/capacity.md`, where the simulator
/// chose this figure). A claim reads none of them on its hot path (see
/// `service/claim_view.rs`).
///
/// Licenses and codes created before this was raised have
/// [`LEGACY_COUNTER_SHARDS`]: a shard that does not exist reads as absent
/// and refuses a claim like a full one, until `seatctl widen-counters`
/// gives them the rest.
pub const COUNTER_SHARDS: u16 = 64;

/// The shard count of licenses and codes created before [`COUNTER_SHARDS`]
/// was raised (and the range a claim that has read nothing picks from).
pub const LEGACY_COUNTER_SHARDS: u16 = 16;

/// Listings sharded by seat shard (the audit trail's partitions, a
/// license's members in its index) spread over this many partitions: seat
/// shard `i` lists on partition `i % LISTING_SHARDS`, so a listing stays 16
/// queries however many counter shards there are.
pub const LISTING_SHARDS: u16 = 16;

/// Splits `total` into `COUNTER_SHARDS` capacities that differ by at most one.
pub fn split_capacity(total: u32) -> Vec<u32> {
    let n = u32::from(COUNTER_SHARDS);
    (0..n)
        .map(|i| total / n + u32::from(i < total % n))
        .collect()
}

/// The signed-in user, as the API Gateway JWT authorizer described them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub email: Option<Email>,
    pub email_verified: bool,
    /// The token has an `email` claim at all, valid or not. Without one
    /// (a Cognito access token, say) the deployment sends the wrong token:
    /// `TOKEN_WITHOUT_EMAIL`, not `EMAIL_NOT_VERIFIED`.
    pub email_claimed: bool,
    /// The display name (`name` claim), shown to invitees as the inviter.
    pub name: Option<String>,
    /// The `https://` origin the request came in on (API Gateway's domain
    /// name), for links back to the portal when none is configured.
    pub site: Option<String>,
    /// Where the request came from (API Gateway's source address): an IPv4
    /// address, or the /64 network of an IPv6 one (what one host can
    /// choose from). The guessing limit counts per source too.
    pub source: Option<String>,
}

impl Caller {
    pub fn verified_email(&self) -> Result<&Email, ApiError> {
        match (&self.email, self.email_verified) {
            (Some(email), true) => Ok(email),
            _ if !self.email_claimed => Err(ApiError::TokenWithoutEmail),
            _ => Err(ApiError::EmailNotVerified),
        }
    }
}

/// A user named in a license: its owner or an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub sub: UserId,
    pub email: Email,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRecord {
    pub license_id: LicenseId,
    pub name: String,
    pub organization: String,
    pub product: String,
    pub seats_total: u32,
    pub expires_at: Option<Timestamp>,
    pub allowed_email_domains: Vec<String>,
    pub owner: Principal,
    pub admins: Vec<Principal>,
    pub created_at: Timestamp,
}

impl LicenseRecord {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn admits(&self, email: &Email) -> bool {
        self.allowed_email_domains.is_empty()
            || self
                .allowed_email_domains
                .iter()
                .any(|d| email.in_domain(d))
    }

    /// Why `email` cannot join this license now (expiry, email domains),
    /// seats aside. The claim and the invite preview ask the same question.
    pub fn refusal(&self, email: &Email, now: Timestamp) -> Option<ApiError> {
        if self.is_expired(now) {
            Some(ApiError::LicenseExpired)
        } else if !self.admits(email) {
            Some(ApiError::EmailDomainNotAllowed)
        } else {
            None
        }
    }

    pub fn role_of(&self, user_id: &UserId) -> Role {
        if self.owner.sub == *user_id {
            Role::Owner
        } else if self.admins.iter().any(|a| a.sub == *user_id) {
            Role::Admin
        } else {
            Role::Member
        }
    }

    pub fn view(&self, seats_used: u32) -> License {
        License {
            license_id: self.license_id.clone(),
            name: self.name.clone(),
            organization: self.organization.clone(),
            product: self.product.clone(),
            seats_total: self.seats_total,
            seats_used,
            expires_at: self.expires_at,
            allowed_email_domains: self.allowed_email_domains.clone(),
        }
    }

    pub fn summary(&self) -> LicenseSummary {
        LicenseSummary {
            license_id: self.license_id.clone(),
            name: self.name.clone(),
            organization: self.organization.clone(),
            product: self.product.clone(),
            expires_at: self.expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub code_id: CodeId,
    pub code_hash: SecretHash,
    pub license_id: LicenseId,
    pub last4: String,
    pub max_uses: Option<u32>,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

/// Where an email invitation's mail is. The API records the invitation
/// `Queued`; the sender takes it (`Sending`, with the URL's token made
/// then) and records what SES answered. Only `Sent` means SES accepted the
/// mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryState {
    /// Recorded; waiting for the sender.
    Queued,
    /// Taken by the sender, which is handing it to SES.
    Sending,
    /// SES accepted the mail.
    Sent,
    /// SES refused it, or it could not be sent before the sender gave up:
    /// not sent, and the invitation was withdrawn.
    Failed,
    /// Withdrawn (revoked, or expired) before its turn: not sent.
    NotSent,
    /// The sender stopped between handing the mail to SES and hearing
    /// back: it may or may not have gone out, and it is not sent again.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    pub invitation_id: InvitationId,
    pub token_hash: SecretHash,
    pub license_id: LicenseId,
    /// `None` for an open, single-use link.
    pub email: Option<Email>,
    /// As stored: never `Expired`, which is derived from `expires_at`.
    pub status: InvitationStatus,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Days the link stays valid from when it was (re)issued; a resend
    /// restarts the expiry with this. `None`: as `expires_at` says.
    pub valid_days: Option<u32>,
    /// The inviter's display name (never an address), shown to the invitee.
    pub invited_by: Option<String>,
    /// Its mail, for an email invitation sent through the queue; `None`
    /// for open links (and for invitations mailed before the queue).
    pub delivery: Option<DeliveryState>,
    /// When `delivery` last changed.
    pub delivery_at: Option<Timestamp>,
}

impl InvitationRecord {
    pub fn status_at(&self, now: Timestamp) -> InvitationStatus {
        match self.status {
            InvitationStatus::Pending if self.expires_at.is_some_and(|at| at <= now) => {
                InvitationStatus::Expired
            }
            other => other,
        }
    }

    /// Why `email` cannot accept this invitation now, membership aside:
    /// its status, then the address it is bound to.
    pub fn refusal(&self, email: &Email, now: Timestamp) -> Option<ApiError> {
        match self.status_at(now) {
            InvitationStatus::Pending => {}
            InvitationStatus::Expired => return Some(ApiError::InviteExpired),
            InvitationStatus::Revoked => return Some(ApiError::InviteRevoked),
            InvitationStatus::Accepted | InvitationStatus::Declined => {
                return Some(ApiError::InviteAlreadyUsed);
            }
        }
        self.email
            .as_ref()
            .is_some_and(|bound| bound != email)
            .then_some(ApiError::InviteEmailMismatch)
    }

    /// The API shape; the invitee's address is shown in full only to
    /// `viewer_email` when it is the invitee's own (or when `full` is set).
    pub fn view(&self, now: Timestamp, viewer_email: Option<&Email>, full: bool) -> Invitation {
        let email = self.email.as_ref().map(|email| {
            if full || viewer_email == Some(email) {
                email.as_str().to_owned()
            } else {
                email.masked()
            }
        });
        Invitation {
            invitation_id: self.invitation_id.clone(),
            license_id: self.license_id.clone(),
            status: self.status_at(now),
            delivery: if full { self.delivery } else { None },
            email,
            expires_at: self.expires_at,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinedVia {
    Code,
    Invite,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRecord {
    pub license_id: LicenseId,
    pub user_id: UserId,
    pub email: Email,
    pub joined_at: Timestamp,
    pub joined_via: JoinedVia,
    /// The code id or invitation id the seat was claimed through.
    pub via_id: String,
    /// Which seat-counter shard counts this seat.
    pub shard: u16,
    /// The id of the claim that wrote this seat (`None` on seats older than
    /// the field): a claim whose answer was lost recognises its own seat by
    /// it, and answers `201`, not `alreadyMember`.
    pub claim_id: Option<String>,
}

impl SeatRecord {
    pub fn view(&self) -> Seat {
        Seat {
            license_id: self.license_id.clone(),
            user_id: self.user_id.clone(),
            email: self.email.as_str().to_owned(),
            joined_at: self.joined_at,
            joined_via: self.joined_via,
        }
    }
}

/// One shard of a sharded counter. `cap: None` counts without a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub index: u16,
    pub cap: Option<u32>,
    pub used: u32,
}

impl Counter {
    pub fn free(&self) -> u32 {
        self.cap
            .map_or(u32::MAX, |cap| cap.saturating_sub(self.used))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    SeatClaimed,
    /// The member left.
    SeatReleased,
    /// An admin freed the member's seat.
    SeatRemoved,
    CodeCreated,
    CodeRevoked,
    InvitationCreated,
    InvitationRevoked,
    /// The invitee declined.
    InvitationDeclined,
    InvitationResent,
    /// The invitation email could not be sent; the invitation was withdrawn.
    InvitationUndeliverable,
    SeatsChanged,
}

/// Why the mail provider says an address must not be mailed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SuppressionReason {
    /// A permanent bounce: the address does not exist or refuses mail.
    Bounce,
    /// The recipient reported a mail as spam.
    Complaint,
}

/// An address no mail is sent to, known only by its hash
/// ([`Email::hash`]): the latest report wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub address: SecretHash,
    pub reason: SuppressionReason,
    pub at: Timestamp,
}

/// One entry of a license's audit trail, written in the same transaction as
/// the change it records. `shard` spreads a hot license's events over
/// partitions (a claim uses its seat shard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event_id: String,
    pub license_id: LicenseId,
    pub at: Timestamp,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Who did it: a user id, or `operator` for the back office.
    pub actor: String,
    /// The member concerned, for seat events.
    pub user_id: Option<UserId>,
    pub code_id: Option<CodeId>,
    pub invitation_id: Option<InvitationId>,
    /// Free text: seat counts for `seatsChanged`, the reason for withdrawals.
    pub detail: Option<String>,
    #[serde(skip)]
    pub shard: u16,
}

impl Event {
    pub fn new(license_id: &LicenseId, kind: EventKind, actor: &str, at: Timestamp) -> Self {
        Self {
            event_id: super::time_ordered_id("evt", at),
            license_id: license_id.clone(),
            at,
            kind,
            actor: actor.to_owned(),
            user_id: None,
            code_id: None,
            invitation_id: None,
            detail: None,
            shard: 0,
        }
    }

    /// An event that `caller` (the actor) caused.
    pub fn by(caller: &Caller, license_id: &LicenseId, kind: EventKind, at: Timestamp) -> Self {
        Self::new(license_id, kind, caller.user_id.as_str(), at)
    }
}

// ---- API shapes -----------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub license_id: LicenseId,
    pub name: String,
    pub organization: String,
    pub product: String,
    pub seats_total: u32,
    pub seats_used: u32,
    pub expires_at: Option<Timestamp>,
    pub allowed_email_domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseSummary {
    pub license_id: LicenseId,
    pub name: String,
    pub organization: String,
    pub product: String,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seat {
    pub license_id: LicenseId,
    pub user_id: UserId,
    pub email: String,
    pub joined_at: Timestamp,
    pub joined_via: JoinedVia,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub invitation_id: InvitationId,
    pub license_id: LicenseId,
    pub status: InvitationStatus,
    /// Its mail (admins only; `null` for open links and for others).
    pub delivery: Option<DeliveryState>,
    pub email: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MyLicense {
    #[serde(flatten)]
    pub license: License,
    pub joined_at: Timestamp,
    pub joined_via: JoinedVia,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    pub license: LicenseSummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_split_is_exact_and_even() {
        for total in [0, 1, 5, 16, 17, 20, 1000, 100_003] {
            let caps = split_capacity(total);
            assert_eq!(caps.len(), usize::from(COUNTER_SHARDS));
            assert_eq!(caps.iter().sum::<u32>(), total);
            let (min, max) = (caps.iter().min(), caps.iter().max());
            assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1));
        }
    }
}
