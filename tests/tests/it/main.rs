//! The integration tests, one test binary (one link of the AWS SDK), one
//! module per feature: the store contract and the admin journeys on both
//! stores, handlers fed real API Gateway events, SDK-level fault injection,
//! the SES emulator, what the portal asks of the API, and the template.

mod admin;
mod contract;
mod delivery;
mod dynamo_faults;
mod handlers;
mod keys;
mod listing_cost;
mod mail_guard;
mod portal_api;
mod ses;
mod sim;
mod template;
mod widen;
