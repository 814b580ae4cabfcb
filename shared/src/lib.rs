//! The domain crate of the seat-invitation service: domain types, use cases,
//! storage and mail ports with their adapters, and the HTTP edge shared by
//! every Lambda function and the local server.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod lambda;
pub mod mail;
pub mod metrics;
pub mod seed;
pub mod service;
pub mod store;
pub mod wiring;

pub use app::App;
pub use error::ApiError;
