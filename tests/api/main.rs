//! Integration tests: a real Wristband on port 0, a fresh database per test,
//! driven through HTTP. One file per area; the shared pieces are in `helpers`.
//!
//! Every test runs on each backend as two tests, `…::sqlite` and
//! `…::postgres` (see `helpers::backends`); the PostgreSQL ones run when
//! `WRISTBAND_TEST_POSTGRES_URL` is set.

mod access_tokens;
mod admin;
mod admin_bootstrap;
mod admin_sessions;
mod attacks;
mod binary;
mod brute_force;
mod common_passwords;
mod csrf_cors;
mod health;
mod helpers;
mod instances;
mod introspect;
mod keys;
mod login;
mod login_races;
mod logout;
mod mail;
mod mfa;
mod openapi;
mod operations;
mod outage;
mod passkeys;
mod password;
mod refresh;
mod register;
mod sessions;
mod shutdown;
mod test_mode;
