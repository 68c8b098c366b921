//! [`Client`]: an HTTP client of one test app that carries its own
//! credentials, like a browser tab of a single-page app: the access token it
//! holds (if any) and a jar of one cookie, the refresh cookie.
//!
//! Every request is `client.get(path)` (or `post`, `patch`, `delete`,
//! `request(method, path)`), optionally `.json(&body)` / `.header(..)` /
//! `.body(..)`, then `.await`. The client sends its token as `Authorization:
//! Bearer` and its cookie as `Cookie`, and its jar follows every `Set-Cookie`
//! of the refresh cookie it receives (emptied when the server clears it).
//! Odd requests start from a client with other credentials: `with_token`,
//! `without_token`, `with_cookie`, `without_cookie` (and `on`, another
//! instance) return an independent copy, so presenting an old token is
//! `client.with_cookie(&old).refresh_refused("reused")`.
//!
//! The endpoints with client-side state have methods: `try_login(email,
//! password)` (keeps the cookies, returns the answer), `refresh()` (asserts
//! success, keeps the new token), `refresh_refused(reason)`, `logout()`,
//! `current_session()`. Bodies are the crate's `wristband::api` types;
//! `serde_json::json!` only for deliberately odd ones.
//!
//! [`ResponseExt`] reads responses: the body as a crate type, and the refresh
//! cookie a response sets.

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wristband::api::{Credentials, Session, TokenResponse, User};
use wristband::cookies::{DeviceCookie, RefreshCookie};

use super::{TestApp, assert_error};

/// A client of one test app with its own access token and refresh cookie.
/// Clones are independent: each has its own token and jar from then on.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    address: String,
    cookie_name: &'static str,
    user: Option<User>,
    token: RefCell<Option<String>>,
    cookie: RefCell<Option<String>>,
    /// The device cookie: what makes this client a known device of the
    /// account it last logged into.
    device: RefCell<Option<String>>,
}

impl Client {
    /// No user, no token, an empty jar.
    pub(super) fn anonymous(
        http: reqwest::Client,
        address: String,
        cookie_name: &'static str,
    ) -> Self {
        Self {
            http,
            address,
            cookie_name,
            user: None,
            token: RefCell::new(None),
            cookie: RefCell::new(None),
            device: RefCell::new(None),
        }
    }

    /// This client holding the token and user of a login response (its cookie
    /// is in the jar already).
    pub async fn signed_in(mut self, response: Response) -> Self {
        let tokens: TokenResponse = response.body().await;
        self.token = RefCell::new(Some(tokens.access_token));
        self.user = Some(tokens.user);
        self
    }

    /// The user this client logged in as.
    pub fn user(&self) -> &User {
        self.user.as_ref().expect("an anonymous client has no user")
    }

    /// The access token it holds.
    pub fn token(&self) -> String {
        self.token.borrow().clone().expect("no access token")
    }

    /// The refresh token in its jar.
    pub fn refresh_token(&self) -> String {
        self.cookie.borrow().clone().expect("no refresh cookie")
    }

    /// Whether its jar holds a refresh token.
    pub fn has_refresh_token(&self) -> bool {
        self.cookie.borrow().is_some()
    }

    /// A copy that sends `token` as its Bearer token.
    pub fn with_token(&self, token: &str) -> Self {
        let copy = self.clone();
        copy.token.replace(Some(token.to_owned()));
        copy
    }

    /// A copy that sends no Authorization header.
    pub fn without_token(&self) -> Self {
        let copy = self.clone();
        copy.token.replace(None);
        copy
    }

    /// A copy whose jar holds `value` as the refresh cookie.
    pub fn with_cookie(&self, value: &str) -> Self {
        let copy = self.clone();
        copy.cookie.replace(Some(value.to_owned()));
        copy
    }

    /// The device cookie in its jar, if any.
    pub fn device_cookie(&self) -> Option<String> {
        self.device.borrow().clone()
    }

    /// A copy whose jar holds `value` as the device cookie (`None`: none).
    pub fn with_device(&self, value: Option<&str>) -> Self {
        let copy = self.clone();
        copy.device.replace(value.map(str::to_owned));
        copy
    }

    /// A copy with an empty jar.
    pub fn without_cookie(&self) -> Self {
        let copy = self.clone();
        copy.cookie.replace(None);
        copy
    }

    /// A copy that talks to `app`, another instance, with the same credentials.
    pub fn on(&self, app: &TestApp) -> Self {
        let there = app.anon();
        Self {
            address: there.address,
            cookie_name: there.cookie_name,
            ..self.clone()
        }
    }

    /// A request with this client's token and cookie; `.await` sends it.
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        let mut builder = self.http.request(method, format!("{}{path}", self.address));
        if let Some(token) = self.token.borrow().as_deref() {
            builder = builder.bearer_auth(token);
        }
        let cookies: Vec<String> = [
            (self.cookie_name, self.cookie.borrow().clone()),
            (
                device_cookie_name(self.cookie_name),
                self.device.borrow().clone(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some(format!("{name}={}", value?)))
        .collect();
        if !cookies.is_empty() {
            builder = builder.header(COOKIE, cookies.join("; "));
        }
        TestRequest {
            client: self,
            builder,
        }
    }

    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, path)
    }

    /// `POST /auth/login` with `email` and `password` as plain [`Credentials`];
    /// keeps the cookies the answer sets (not its token: see
    /// [`Client::signed_in`]), and returns the answer unread.
    pub async fn try_login(&self, email: &str, password: &str) -> Response {
        self.post("/auth/login")
            .json(&Credentials::new(email, password))
            .await
    }

    /// `POST /auth/refresh` with its cookie; asserts 200 and a new cookie, and
    /// keeps the new access token.
    pub async fn refresh(&self) -> TokenResponse {
        let response = self.post("/auth/refresh").await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        response.refresh_cookie().expect("refresh sets a cookie");
        let tokens: TokenResponse = response.body().await;
        self.token.replace(Some(tokens.access_token.clone()));
        tokens
    }

    /// `POST /auth/refresh` with its cookie; asserts `invalid_grant` with
    /// `reason` and a cleared cookie.
    pub async fn refresh_refused(&self, reason: &str) {
        let response = self.post("/auth/refresh").await;
        assert_eq!(
            response.refresh_cookie().as_deref(),
            Some(""),
            "cookie cleared on {reason}"
        );
        let body = assert_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
        assert_eq!(body["reason"], reason, "reason in {body}");
    }

    /// `POST /auth/logout` with its cookie and token, whichever it holds.
    pub async fn logout(&self) -> Response {
        self.post("/auth/logout").await
    }

    /// The session its access token belongs to, from `GET /auth/sessions`.
    pub async fn current_session(&self) -> Session {
        let sessions: Vec<Session> = self.get("/auth/sessions").await.body().await;
        sessions
            .into_iter()
            .find(|s| s.current)
            .expect("a current session")
    }

    /// Follows the `Set-Cookie` of the refresh and device cookies in
    /// `headers`, if any.
    fn keep_cookie(&self, headers: &HeaderMap) {
        if let Some((_, value)) = set_cookie(headers, &[self.cookie_name]) {
            self.cookie.replace(Some(value).filter(|v| !v.is_empty()));
        }
        let device = device_cookie_name(self.cookie_name);
        if let Some((_, value)) = set_cookie(headers, &[device]) {
            self.device.replace(Some(value).filter(|v| !v.is_empty()));
        }
    }
}

/// A request being built by a [`Client`]; `.await` sends it.
#[must_use = "a request is sent when awaited"]
pub struct TestRequest<'a> {
    client: &'a Client,
    builder: RequestBuilder,
}

impl TestRequest<'_> {
    /// A JSON body: a crate type, or a `serde_json::Value` for odd ones.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.builder = self.builder.form(body);
        self
    }

    /// A raw body (set the content type with [`TestRequest::header`]).
    pub fn body(mut self, body: &'static str) -> Self {
        self.builder = self.builder.body(body);
        self
    }

    /// One more header (added to any of the same name).
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Self {
        self.builder = self.builder.header(name, value.as_ref());
        self
    }

    /// HTTP Basic credentials.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.builder = self.builder.basic_auth(user, Some(password));
        self
    }
}

impl<'a> IntoFuture for TestRequest<'a> {
    type Output = Response;
    type IntoFuture = Pin<Box<dyn Future<Output = Response> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let response = self.builder.send().await.expect("request");
            self.client.keep_cookie(response.headers());
            response
        })
    }
}

/// The first `Set-Cookie` in `headers` of a cookie named one of `names`:
/// the whole header and the value.
fn set_cookie(headers: &HeaderMap, names: &[&str]) -> Option<(String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|header| {
            let pair = header.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=')?;
            names
                .contains(&name)
                .then(|| (header.to_owned(), value.to_owned()))
        })
}

/// Reading a response.
pub trait ResponseExt {
    /// The body as `T`; panics with the text when it is not.
    fn body<T: DeserializeOwned>(self) -> impl Future<Output = T>;
    /// The whole `Set-Cookie` header of the refresh cookie.
    fn refresh_set_cookie(&self) -> Option<String>;
    /// The value the refresh cookie is set to (`Some("")` when cleared).
    fn refresh_cookie(&self) -> Option<String>;
}

/// The device cookie's name beside the refresh cookie `refresh_name`.
fn device_cookie_name(refresh_name: &str) -> &'static str {
    DeviceCookie::new(refresh_name.starts_with("__Host-")).name()
}

/// Either name the refresh cookie may have.
fn cookie_names() -> [&'static str; 2] {
    [
        RefreshCookie::new(true).name(),
        RefreshCookie::new(false).name(),
    ]
}

impl ResponseExt for Response {
    async fn body<T: DeserializeOwned>(self) -> T {
        let text = self.text().await.expect("body");
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not a {}: {e}: {text}", std::any::type_name::<T>()))
    }

    fn refresh_set_cookie(&self) -> Option<String> {
        set_cookie(self.headers(), &cookie_names()).map(|(header, _)| header)
    }

    fn refresh_cookie(&self) -> Option<String> {
        set_cookie(self.headers(), &cookie_names()).map(|(_, value)| value)
    }
}
