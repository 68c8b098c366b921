//! [`TestApp`]: a real Wristband on port 0 over a [`TestDatabase`], and the
//! [`Client`]s that talk to it: anonymous, a new user, a given user, the admin.

use reqwest::StatusCode;
use wristband::api::Credentials;
use wristband::clock::Clock;
use wristband::config::{Config, Settings};
use wristband::cookies::RefreshCookie;
use wristband::startup::Application;
use wristband::tokens::{AccessTokens, Keyring};

use super::{ADMIN_EMAIL, Client, PASSWORD, SECRET, TestDatabase};

/// A running test server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// What it was started with.
    pub settings: Settings,
    /// Where its data lives.
    pub database: TestDatabase,
    http: reqwest::Client,
    cookie: RefreshCookie,
}

impl TestApp {
    /// Starts a server with `settings` on `database`; see [`TestDatabase::spawn`].
    pub(super) async fn start(database: TestDatabase, settings: Settings) -> Self {
        let mut full = settings.clone();
        full.database_url = Some(database.url.clone());
        let mut config = Config::from_settings(&full).expect("test configuration is valid");
        config.operations.workers = Some(2);
        let cookie = RefreshCookie::new(config.network.cookie_secure);
        let app = Application::build(config)
            .await
            .expect("test server starts");
        let address = app.url();
        actix_web::rt::spawn(app.run_until_stopped());
        Self {
            address,
            settings,
            database,
            http: reqwest::Client::builder()
                .user_agent("wristband-tests")
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie,
        }
    }

    /// A client with no token and no cookie.
    pub fn anon(&self) -> Client {
        Client::anonymous(self.http.clone(), self.address.clone(), self.cookie.name())
    }

    /// Logs in an existing user with `password`: asserts 200 and a refresh cookie.
    pub async fn login(&self, email: &str, password: &str) -> Client {
        let client = self.anon();
        let response = client.try_login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login");
        assert!(client.has_refresh_token(), "login sets the refresh cookie");
        client.signed_in(response).await
    }

    /// Registers `email` with [`PASSWORD`] (if new) and logs in.
    pub async fn login_as(&self, email: &str) -> Client {
        let registered = self
            .anon()
            .post("/auth/register")
            .json(&Credentials::new(email, PASSWORD))
            .await;
        assert!(
            registered.status() == StatusCode::CREATED
                || registered.status() == StatusCode::CONFLICT,
            "register: {}",
            registered.status()
        );
        self.login(email, PASSWORD).await
    }

    /// A new user, logged in once.
    pub async fn new_user(&self) -> Client {
        self.login_as(&format!(
            "user-{}@example.com",
            uuid::Uuid::new_v4().simple()
        ))
        .await
    }

    /// The start-up admin of [`super::admin_settings`], logged in.
    pub async fn admin(&self) -> Client {
        self.login(ADMIN_EMAIL, PASSWORD).await
    }

    /// `POST /test/users` (test mode), answered 201: the client carries the
    /// new user's token and refresh cookie.
    pub async fn test_user(&self, body: serde_json::Value) -> Client {
        let client = self.anon();
        let response = client.post("/test/users").json(&body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "POST /test/users");
        assert!(super::ResponseExt::refresh_cookie(&response).is_some_and(|c| !c.is_empty()));
        client.signed_in(response).await
    }

    /// Test mode's mailbox for `to`, newest first.
    pub async fn mailbox(&self, to: &str) -> Vec<wristband::api::Mail> {
        let response = self.anon().get(&format!("/test/mailbox?to={to}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        super::ResponseExt::body(response).await
    }

    /// Moves test mode's clock forward by `by` (`30s`, `1h`): asserts 200.
    pub async fn advance_clock(&self, by: &str) -> wristband::api::ClockState {
        let response = self
            .anon()
            .post("/test/clock")
            .json(&serde_json::json!({ "advance": by }))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "advance {by}");
        super::ResponseExt::body(response).await
    }

    /// The access-token signer this server uses, to forge tokens in tests.
    pub fn forger(&self) -> AccessTokens {
        let config = Config::from_settings(&Settings {
            database_url: Some("sqlite::memory:".into()),
            ..self.settings.clone()
        })
        .expect("valid settings");
        AccessTokens::new(
            Keyring::configured(SECRET.as_bytes(), &[]),
            &config.keys.issuer,
            &config.keys.audience,
            config.keys.access_ttl,
            config.keys.clock_leeway,
            Clock::system(),
        )
    }
}
