//! Newtypes and records of the domain: parsed at the edge, valid inside.

mod code;
mod demand;
mod email;
mod ids;
mod model;
mod secret;

pub use code::InviteCode;
pub use demand::{
    DayAttempts, TURNED_AWAY_KEPT_DAYS, TurnedAway, TurnedAwayReason, TurnedAwayStudent,
    WAIT_BUCKETS, Waits, id_created_at, wait_bucket,
};
pub use email::{Email, domain_rule};
pub use ids::{CodeId, InvitationId, LicenseId, UserId};
pub use model::*;
pub use secret::{HashKey, HashKeys, InviteToken, SecretHash, random_id, time_ordered_id};
