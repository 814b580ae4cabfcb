//! Use cases: one module per member journey. They speak domain types only
//! and reach storage and mail through the ports on [`crate::App`].

pub mod admin;
mod claim;
pub mod claim_views;
pub mod contact;
pub mod cursor;
pub mod delivery;
pub mod invites;
pub mod mail_events;
mod mail_guard;
pub mod me;
pub mod provision;
pub mod redeem;

pub use claim::{Claimed, Refusal};
