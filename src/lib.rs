//! Wristband: a self-hosted authentication server. Short-lived JWT access
//! tokens, rotating refresh tokens in an HttpOnly cookie, and a per-user token
//! version plus a session table so revocation takes effect at once.
//!
//! The binary (`src/main.rs`) parses the command line and calls into this
//! library; integration tests build the same [`startup::Application`].

pub mod accounts;
pub mod api;
pub mod at_rest;
pub mod auth;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod db;
pub mod devices;
pub mod error;
pub mod http;
pub mod logging;
pub mod mac;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod passkeys;
#[cfg(test)]
mod proptest_support;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
pub mod users;

pub use config::Config;
pub use startup::Application;
