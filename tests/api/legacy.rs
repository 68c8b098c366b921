//! The helpers before `helpers/`, while the test files move over.
//!
//! `spawn_app`: a real Wristband on port 0 with a fresh database, and a client
//! with one method per endpoint.
//!
//! Every test runs once per backend through [`each_backend`]: SQLite (a fresh
//! file in a temporary directory) always, and PostgreSQL (a fresh database)
//! when `WRISTBAND_TEST_POSTGRES_URL` is set.

use std::future::Future;
use std::sync::Once;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use wristband::config::{Config, Settings};
use wristband::startup::Application;
use wristband::tokens::AccessTokens;

/// The signing secret of test servers, so tests can forge tokens with it.
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery";

/// Which database a test app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running test server.
pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    _dir: Option<std::sync::Arc<TempDir>>,
}

/// A logged-in user: their access token and refresh cookie value.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub email: String,
    pub user_id: String,
    pub access_token: String,
    pub refresh: String,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = env_logger::builder().is_test(true).try_init();
    });
}

fn postgres_base_url() -> Option<String> {
    std::env::var("WRISTBAND_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh PostgreSQL database next to the one `base` names.
fn fresh_postgres_database(base: &str) -> String {
    let name = format!("wristband_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn =
        PgConnection::establish(base).expect("WRISTBAND_TEST_POSTGRES_URL must be reachable");
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create test database");
    let (prefix, _) = base
        .split('?')
        .next()
        .unwrap_or(base)
        .rsplit_once('/')
        .expect("URL with a database path");
    format!("{prefix}/{name}")
}

/// Settings every test server starts from: port 0, fast bcrypt, a known secret.
pub fn base_settings() -> Settings {
    Settings {
        bind: Some("127.0.0.1:0".into()),
        bcrypt_cost: Some("4".into()),
        jwt_secret: Some(SECRET.into()),
        ..Default::default()
    }
}

/// The admin every [`admin_settings`] server creates at start-up.
pub const ADMIN_EMAIL: &str = "admin@example.com";

/// [`base_settings`] plus a start-up admin.
pub fn admin_settings() -> Settings {
    Settings {
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(PASSWORD.into()),
        ..base_settings()
    }
}

/// A database URL for `backend`, and the directory that holds it (SQLite).
pub fn fresh_database(backend: Backend) -> (String, Option<std::sync::Arc<TempDir>>) {
    match backend {
        Backend::Sqlite => {
            let dir = TempDir::new().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("wristband.db").display());
            (url, Some(std::sync::Arc::new(dir)))
        }
        Backend::Postgres => {
            let base =
                postgres_base_url().expect("postgres backend needs WRISTBAND_TEST_POSTGRES_URL");
            (fresh_postgres_database(&base), None)
        }
    }
}

/// Starts a server on an existing database (several instances may share one).
pub async fn spawn_on(
    database_url: String,
    dir: Option<std::sync::Arc<TempDir>>,
    settings: Settings,
) -> TestApp {
    init_logs();
    let mut full = settings.clone();
    full.database_url = Some(database_url.clone());
    let mut config = Config::from_settings(&full).expect("test configuration is valid");
    config.workers = Some(2);
    let app = Application::build(config)
        .await
        .expect("test server starts");
    let address = app.url();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        database_url,
        client: reqwest::Client::builder()
            .user_agent("wristband-tests")
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        settings,
        _dir: dir,
    }
}

/// Starts a server with `settings` on a fresh database of `backend`.
pub async fn spawn_app_with(backend: Backend, settings: Settings) -> TestApp {
    let (url, dir) = fresh_database(backend);
    spawn_on(url, dir, settings).await
}

/// The backends this run covers.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if postgres_base_url().is_some() {
        backends.push(Backend::Postgres);
    }
    backends
}

/// Runs `test` against a fresh app on every backend.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend_with(base_settings, test).await
}

/// Like [`each_backend`], with settings of the test's own.
pub async fn each_backend_with<S, F, Fut>(settings: S, test: F)
where
    S: Fn() -> Settings,
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        eprintln!("-- backend: {backend:?}");
        test(spawn_app_with(backend, settings()).await).await;
    }
}

/// The access-token signer the test servers use, to forge tokens in tests.
pub fn forger(settings: &Settings) -> AccessTokens {
    let config = Config::from_settings(&Settings {
        database_url: Some("sqlite::memory:".into()),
        ..settings.clone()
    })
    .expect("valid settings");
    AccessTokens::new(
        SECRET.as_bytes(),
        &config.issuer,
        &config.audience,
        config.access_ttl,
        config.clock_leeway,
    )
}

/// The value of the refresh cookie a response sets (`Some("")` when cleared).
pub fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    set_cookie_header(headers).map(|c| {
        let pair = c.split(';').next().unwrap_or_default();
        pair.split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    })
}

/// The whole `Set-Cookie` header of the refresh cookie.
pub fn set_cookie_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-wristband_refresh=") || c.starts_with("wristband_refresh="))
        .map(str::to_owned)
}

/// The JSON body of a response.
pub async fn json_body(response: Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts the SPEC's error shape and code, and returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let body = json_body(response).await;
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"].is_string(),
        "description in {body}"
    );
    body
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The cookie name this app uses.
    pub fn cookie_name(&self) -> &'static str {
        let secure = self.settings.cookie_secure.as_deref() != Some("false");
        if secure {
            "__Host-wristband_refresh"
        } else {
            "wristband_refresh"
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/register",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// `POST /auth/refresh` with `refresh` as the cookie (none if `None`).
    pub async fn refresh(&self, refresh: Option<&str>) -> Response {
        let mut request = self.client.post(self.url("/auth/refresh"));
        if let Some(token) = refresh {
            request = request.header("cookie", format!("{}={token}", self.cookie_name()));
        }
        request.send().await.expect("request")
    }

    pub async fn logout(&self, refresh: Option<&str>, bearer: Option<&str>) -> Response {
        let mut request = self.client.post(self.url("/auth/logout"));
        if let Some(token) = refresh {
            request = request.header("cookie", format!("{}={token}", self.cookie_name()));
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request")
    }

    pub async fn me(&self, bearer: &str) -> Response {
        self.get("/auth/me", bearer).await
    }

    pub async fn post_bearer(&self, path: &str, bearer: &str, body: Option<&Value>) -> Response {
        let mut request = self.client.post(self.url(path)).bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    /// Any method, with an optional Bearer token and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    pub async fn patch_json(&self, path: &str, bearer: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PATCH, path, Some(bearer), Some(body))
            .await
    }

    /// Logs in as the start-up admin of [`admin_settings`].
    pub async fn admin(&self) -> LoggedIn {
        self.login_with(ADMIN_EMAIL, PASSWORD).await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request")
    }

    /// Registers `email` (if new) and logs in.
    pub async fn login_as(&self, email: &str) -> LoggedIn {
        let registered = self.register(email, PASSWORD).await;
        assert!(
            registered.status() == StatusCode::CREATED
                || registered.status() == StatusCode::CONFLICT,
            "register: {}",
            registered.status()
        );
        self.login_with(email, PASSWORD).await
    }

    /// Logs in an existing user with `password`.
    pub async fn login_with(&self, email: &str, password: &str) -> LoggedIn {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login");
        let refresh = refresh_cookie(response.headers()).expect("login sets the refresh cookie");
        let body = json_body(response).await;
        LoggedIn {
            email: email.to_owned(),
            user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
            access_token: body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh,
        }
    }

    /// The id of the session an access token belongs to.
    pub async fn current_session_id(&self, access_token: &str) -> String {
        let sessions = json_body(self.get("/auth/sessions", access_token).await).await;
        let current = sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .expect("a current session");
        current["id"].as_str().unwrap().to_owned()
    }

    /// A new user, logged in once.
    pub async fn new_user(&self) -> LoggedIn {
        self.login_as(&format!(
            "user-{}@example.com",
            uuid::Uuid::new_v4().simple()
        ))
        .await
    }

    /// Refreshes and asserts success; returns (access token, new refresh cookie).
    pub async fn refresh_ok(&self, refresh: &str) -> (String, String) {
        let response = self.refresh(Some(refresh)).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        let cookie = refresh_cookie(response.headers()).expect("refresh sets a cookie");
        let body = json_body(response).await;
        (
            body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            cookie,
        )
    }

    /// Refreshes and asserts `invalid_grant` with `reason` and a cleared cookie.
    pub async fn refresh_refused(&self, refresh: Option<&str>, reason: &str) {
        let response = self.refresh(refresh).await;
        assert_eq!(
            refresh_cookie(response.headers()).as_deref(),
            Some(""),
            "cookie cleared on {reason}"
        );
        let body = assert_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
        assert_eq!(body["reason"], reason, "reason in {body}");
    }
}
