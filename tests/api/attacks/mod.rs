//! The attack catalogue, as tests: hostile access tokens, request bodies and
//! refresh cookies sent through HTTP to a real server. Every case asserts the
//! exact status and error code, and every answer is checked for what must
//! never happen: a 5xx, or parser and library text in the body.
//!
//! - [`tokens`]: forged, altered and oversized access tokens, algorithm
//!   confusion, and where a Bearer token is read from; the tokens are signed
//!   by hand with [`forge`].
//! - [`bodies`]: bodies that are not one JSON object of unique, decodable
//!   members: content types, malformed JSON, encodings.
//! - [`sizes`]: bodies too large, compressed into bombs or nested too deep.
//! - [`fields`]: well-formed bodies whose field values are of the wrong type
//!   or content.
//! - [`cookies`]: hostile refresh cookies and `Cookie` headers.
//!
//! Here: reading answers ([`read`], [`Answer`]), requests with raw headers
//! and bodies ([`send_raw`]), base64url, and the endpoints with a JSON body
//! ([`Target`], [`targets`]).

mod bodies;
mod cookies;
mod fields;
mod forge;
mod sizes;
mod tokens;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Client, PASSWORD, TestApp};

// ---------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------

/// Text that would show a parser, library, database or panic speaking to the
/// client (compared lower-case).
const LEAKS: &[&str] = &[
    "serde",
    "expected",
    "line ",
    "column",
    "invalid type",
    "eof",
    "panicked",
    "utf8",
    "utf-8",
    "diesel",
    "sql",
    "jsonwebtoken",
    "base64",
    "backtrace",
    "called `",
];

/// A response, read whole: never a 5xx, and an error body never speaks for a
/// library.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

async fn read(response: reqwest::Response, what: &str) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    assert!(
        !status.is_server_error(),
        "{what}: answered {status}: {text}"
    );
    // Successful bodies carry random tokens, which may spell anything.
    if !status.is_success() {
        let lower = text.to_lowercase();
        for leak in LEAKS {
            assert!(!lower.contains(leak), "{what}: body leaks {leak:?}: {text}");
        }
    }
    Answer {
        status,
        headers,
        text,
    }
}

impl Answer {
    /// Asserts the documented error shape with `status` and `code`.
    fn error(&self, status: StatusCode, code: &str, what: &str) -> Value {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        let body: Value = serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", self.text));
        assert_eq!(body["error"], code, "{what}: {body}");
        assert!(
            body["error_description"].is_string(),
            "{what}: no description in {body}"
        );
        body
    }

    /// Asserts `401 invalid_token` with its challenge.
    fn invalid_token(&self, what: &str) {
        self.error(StatusCode::UNAUTHORIZED, "invalid_token", what);
        let challenge = self
            .headers
            .get("www-authenticate")
            .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"))
            .to_str()
            .unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{what}: challenge {challenge}"
        );
    }

    fn ok(&self, what: &str) {
        assert_eq!(self.status, StatusCode::OK, "{what}: {}", self.text);
    }
}

/// A request with nothing the helper client adds: raw headers (any bytes a
/// header value may hold) and a raw body.
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", app.address));
    for (name, value) in headers {
        let value = HeaderValue::from_bytes(value).expect("a header value");
        request = request.header(*name, value);
    }
    request.body(body).send().await.expect("request")
}

// ---------------------------------------------------------------------------
// base64url, of tokens and cookies
// ---------------------------------------------------------------------------

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

// ---------------------------------------------------------------------------
// Endpoints with a JSON body
// ---------------------------------------------------------------------------

struct Target {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
}

impl Target {
    async fn send(
        &self,
        app: &TestApp,
        content_type: Option<&str>,
        extra: &[(&str, &[u8])],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &[u8])> = extra.to_vec();
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer.as_bytes()));
        }
        if let Some(content_type) = content_type {
            headers.push(("content-type", content_type.as_bytes()));
        }
        send_raw(app, self.method.clone(), &self.path, &headers, body).await
    }

    /// Sends `body` as `content_type` and asserts the error.
    async fn refused(
        &self,
        app: &TestApp,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
        status: StatusCode,
        code: &str,
        what: &str,
    ) {
        let what = format!("{} {}: {what}", self.name, self.path);
        let response = self.send(app, content_type, &[], body.into()).await;
        read(response, &what).await.error(status, code, &what);
    }

    /// A body this endpoint accepts (a fresh email each time), so that a
    /// case built from it is refused for the one defect added.
    fn base(&self) -> String {
        let email = format!("base-{}@example.com", uuid::Uuid::new_v4().simple());
        match self.name {
            "login" | "register" | "admin create" => {
                json!({"email": email, "password": PASSWORD}).to_string()
            }
            "password change" => json!({
                "current_password": "not the password",
                "new_password": format!("{PASSWORD} 2"),
            })
            .to_string(),
            "admin update" => json!({"disabled": false}).to_string(),
            other => panic!("no base body for {other}"),
        }
    }

    /// Asserts what the base body gets: the request is read and handled.
    async fn control(&self, app: &TestApp) {
        let what = "control";
        let answer = self.json(app, self.base(), what).await;
        let what = format!("{} {}: {what}", self.name, self.path);
        match self.name {
            "login" => {
                answer.error(StatusCode::UNAUTHORIZED, "invalid_credentials", &what);
            }
            "password change" => {
                answer.error(StatusCode::FORBIDDEN, "invalid_credentials", &what);
            }
            "register" | "admin create" => {
                assert_eq!(
                    answer.status,
                    StatusCode::CREATED,
                    "{what}: {}",
                    answer.text
                );
            }
            _ => answer.ok(&what),
        }
    }

    async fn json(&self, app: &TestApp, body: impl Into<Vec<u8>>, what: &str) -> Answer {
        let what = format!("{} {}: {what}", self.name, self.path);
        read(self.send(app, Some(JSON), &[], body.into()).await, &what).await
    }
}

const JSON: &str = "application/json";

/// Every endpoint with a JSON body, for an admin and a user of `app`.
async fn targets(app: &TestApp) -> (Vec<Target>, Client, Client) {
    let admin = app.admin().await;
    let user = app.new_user().await;
    let targets = vec![
        Target {
            name: "login",
            method: Method::POST,
            path: "/auth/login".into(),
            token: None,
        },
        Target {
            name: "register",
            method: Method::POST,
            path: "/auth/register".into(),
            token: None,
        },
        Target {
            name: "password change",
            method: Method::POST,
            path: "/auth/password".into(),
            token: Some(user.token()),
        },
        Target {
            name: "admin update",
            method: Method::PATCH,
            path: format!("/admin/users/{}", user.user().id),
            token: Some(admin.token()),
        },
        Target {
            name: "admin create",
            method: Method::POST,
            path: "/admin/users".into(),
            token: Some(admin.token()),
        },
    ];
    (targets, admin, user)
}
