//! What every test file uses: the settings test servers start from, the documented
//! error assertion, and re-exports of the pieces below.
//!
//! - [`backends`]: [`backend_test!`] runs a test once per backend, each run a
//!   `#[test]` of its own; [`TestDatabase`] is a fresh database of a backend.
//! - [`app`]: [`TestApp`], a real Wristband on port 0, which hands out clients.
//! - [`client`]: [`Client`], a client that carries its own access token and
//!   refresh cookie, and [`ResponseExt`] to read responses.
//! - [`storage`]: the only direct database access of the tests.
//!
//! ```ignore
//! backend_test!(me_shows_the_user);
//! async fn me_shows_the_user(app: TestApp) {
//!     let alice = app.new_user().await;
//!     let me: User = alice.get("/auth/me").await.body().await;
//!     assert_eq!(me.id, alice.user().id);
//!     alice.refresh().await; // sends its cookie, keeps the new token and cookie
//!     assert_error(app.anon().get("/auth/me").await, StatusCode::UNAUTHORIZED, "missing_token").await;
//! }
//! ```

pub mod app;
pub mod backends;
pub mod client;
pub mod storage;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use wristband::config::Settings;

pub use app::TestApp;
pub(crate) use backends::backend_test;
pub use backends::{Backend, TestDatabase};
pub use client::{Client, ResponseExt};

/// The signing secret of test servers, so tests can forge tokens with it.
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery";
/// The admin every [`admin_settings`] server creates at start-up.
pub const ADMIN_EMAIL: &str = "admin@example.com";

/// Settings every test server starts from: port 0, fast bcrypt, a known secret.
pub fn base_settings() -> Settings {
    Settings {
        bind: Some("127.0.0.1:0".into()),
        bcrypt_cost: Some("4".into()),
        jwt_secret: Some(SECRET.into()),
        // Every test client shares 127.0.0.1: the rate-limit tests set their own.
        rate_limit_per_minute: Some("1000000".into()),
        ..Default::default()
    }
}

/// [`base_settings`] plus a start-up admin ([`ADMIN_EMAIL`], [`PASSWORD`]).
pub fn admin_settings() -> Settings {
    Settings {
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(PASSWORD.into()),
        ..base_settings()
    }
}

/// Asserts the documented error shape and code, and returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let body: Value = response.body().await;
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"].is_string(),
        "description in {body}"
    );
    body
}
