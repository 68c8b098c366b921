//! Integration tests: a real Wristband on port 0, a fresh database per test,
//! driven through HTTP. One file per area.

mod access_tokens;
mod admin;
mod admin_bootstrap;
mod admin_sessions;
mod binary;
mod health;
mod helpers;
mod instances;
mod legacy;
mod login;
mod logout;
mod password;
mod refresh;
mod register;
mod sessions;
