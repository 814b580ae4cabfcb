//! Use cases: one module per member journey. They speak domain types only
//! and reach storage and mail through the ports on [`crate::App`].

mod claim;
pub mod contact;
pub mod invites;
pub mod me;
pub mod redeem;

pub use claim::Claimed;
