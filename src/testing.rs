//! `wristband::testing` (cargo feature `testing`): a throw-away Wristband for
//! a Rust service's own integration tests.
//!
//! [`TestServer::start`] runs an ephemeral server (in-memory SQLite, a free
//! port on 127.0.0.1, a generated key, bcrypt cost 4) in test mode, on a
//! thread of its own, so it works under any async runtime. Its helpers speak
//! the same HTTP as any other language's suite (`POST /test/users`,
//! `POST /test/clock`): what they give you is what a client would get.
//!
//! ```no_run
//! # async fn example() -> Result<(), wristband::testing::TestError> {
//! use std::time::Duration;
//! use wristband::testing::TestServer;
//!
//! let wristband = TestServer::start().await?;
//! let alice = wristband.create_user("alice@example.com").await?;
//! // Call your service with `Authorization: Bearer {alice.access_token}`;
//! // it verifies through `wristband.jwks_url()` or introspection.
//! wristband.advance_clock(Duration::from_secs(15 * 60)).await?;
//! // Now alice's access token has expired; her refresh cookie still works.
//! let mails = wristband.mailbox(Some("alice@example.com")).await?;
//! // Test mode captures mail: click links by reading their tokens here.
//! # let _ = mails;
//! # Ok(()) }
//! ```
//!
//! The server stops when the `TestServer` is dropped.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use reqwest::StatusCode;

use crate::api::{ClockAdvance, ClockState, Mail, TestUserRequest, TokenResponse, User};
use crate::config::{Config, Settings};
use crate::startup::{Application, StartupError};

/// What went wrong starting the server or calling it.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The server did not start.
    #[error("the test server did not start: {0}")]
    Startup(#[from] StartupError),
    /// The configuration was refused.
    #[error("the test server's settings were refused: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The HTTP call failed.
    #[error("calling the test server failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with an error.
    #[error("the test server answered {status}: {body}")]
    Refused {
        /// The status.
        status: StatusCode,
        /// The error body.
        body: String,
    },
}

/// A user made by [`TestServer::create_user`], with a live session.
/// (No `Debug`: it holds tokens.)
pub struct TestUser {
    /// The user.
    pub user: User,
    /// A valid access token: send it as `Authorization: Bearer …`.
    pub access_token: String,
    /// The refresh cookie as a `Cookie` header value (`name=value`), for
    /// calling `/auth/refresh` or `/auth/logout` yourself.
    pub refresh_cookie: String,
    /// The password it logs in with.
    pub password: String,
}

/// A running test-mode Wristband; stopped when dropped.
pub struct TestServer {
    url: String,
    handle: ServerHandle,
    http: reqwest::Client,
}

impl TestServer {
    /// An ephemeral server in test mode with default settings.
    pub async fn start() -> Result<Self, TestError> {
        Self::start_with(Settings::default()).await
    }

    /// An ephemeral server in test mode with `settings` (for example
    /// `jwt_alg: Some("EdDSA".into())`, or a shorter `access_ttl`); the
    /// database, bind address, key and bcrypt cost are always the
    /// ephemeral ones.
    pub async fn start_with(settings: Settings) -> Result<Self, TestError> {
        let settings = Settings {
            test_mode: Some("true".into()),
            // Test suites share 127.0.0.1: no per-IP limit to trip over.
            rate_limit_per_minute: settings
                .rate_limit_per_minute
                .clone()
                .or(Some("1000000".into())),
            ..settings.ephemeral()
        };
        let mut config = Config::from_settings(&settings)?;
        config.operations.workers.get_or_insert(2);
        let (started, ready) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("wristband-test-server".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    match Application::build(config).await {
                        Ok(app) => {
                            let _ = started.send(Ok((app.url(), app.handle())));
                            let _ = app.run_until_stopped().await;
                        }
                        Err(e) => {
                            let _ = started.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| StartupError::because("cannot start the server thread", e))?;
        let (url, handle) = ready
            .await
            .map_err(|_| StartupError::new("the server thread ended before it started"))??;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { url, handle, http })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where services verifying tokens themselves fetch the public keys.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.url)
    }

    /// An HTTP client for the server (no cookie store, no redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A new user (role `user`) with a live session.
    pub async fn create_user(&self, email: &str) -> Result<TestUser, TestError> {
        self.create(email, "user").await
    }

    /// A new admin with a live session.
    pub async fn create_admin(&self, email: &str) -> Result<TestUser, TestError> {
        self.create(email, "admin").await
    }

    async fn create(&self, email: &str, role: &str) -> Result<TestUser, TestError> {
        let password = format!("test-password-{}", uuid::Uuid::new_v4().simple());
        let request = TestUserRequest {
            email: email.to_owned(),
            password: Some(password.as_str().into()),
            role: Some(role.to_owned()),
            email_verified: None,
        };
        let response = self
            .http
            .post(format!("{}/test/users", self.url))
            .json(&request)
            .send()
            .await?;
        let response = ok(response).await?;
        let refresh_cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().map(str::to_owned))
            .unwrap_or_default();
        let body: TokenResponse = response.json().await?;
        Ok(TestUser {
            user: body.user,
            access_token: body.access_token,
            refresh_cookie,
            password,
        })
    }

    /// Moves the server's clock forward by `by`: token expiry, idle and
    /// absolute session ends, grace and lockout all see the new time.
    pub async fn advance_clock(&self, by: Duration) -> Result<ClockState, TestError> {
        let body = ClockAdvance {
            advance: by.as_secs().to_string(),
        };
        let response = self
            .http
            .post(format!("{}/test/clock", self.url))
            .json(&body)
            .send()
            .await?;
        Ok(ok(response).await?.json().await?)
    }

    /// The mails written to `to` (every mail when `None`), newest first —
    /// test mode captures them instead of sending them. A link's token is
    /// in its fragment: `…#reset-password=TOKEN`, `#verify-email=`,
    /// `#confirm-email=`.
    pub async fn mailbox(&self, to: Option<&str>) -> Result<Vec<Mail>, TestError> {
        let mut request = self.http.get(format!("{}/test/mailbox", self.url));
        if let Some(to) = to {
            request = request.query(&[("to", to)]);
        }
        Ok(ok(request.send().await?).await?.json().await?)
    }

    /// The server's clock.
    pub async fn clock(&self) -> Result<ClockState, TestError> {
        let response = self
            .http
            .get(format!("{}/test/clock", self.url))
            .send()
            .await?;
        Ok(ok(response).await?.json().await?)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Sends the stop at once; the server's thread winds down by itself.
        drop(self.handle.stop(false));
    }
}

async fn ok(response: reqwest::Response) -> Result<reqwest::Response, TestError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(TestError::Refused {
        status,
        body: response.text().await.unwrap_or_default(),
    })
}
