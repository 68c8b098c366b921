//! Hand-made access tokens. Forged access tokens are signed by hand (header,
//! payload and signature built here) from the claims of a real token, so each
//! case differs from a token the server accepts in one thing only; every
//! token test first proves the hand-signing right with an unaltered token
//! that is accepted ([`Lab::new`]).

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha384, Sha512};

use super::{Answer, b64, read, unb64};
use crate::helpers::{Client, SECRET, TestApp};

/// The HMAC of `input` under the server's secret.
fn hmac(algorithm: &str, input: &[u8]) -> Vec<u8> {
    let key = SECRET.as_bytes();
    match algorithm {
        "HS256" => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
        "HS384" => {
            let mut mac = Hmac::<Sha384>::new_from_slice(key).unwrap();
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
        "HS512" => {
            let mut mac = Hmac::<Sha512>::new_from_slice(key).unwrap();
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
        other => panic!("no HMAC {other}"),
    }
}

/// `header.payload.signature` of the JSON texts given, signed with the
/// server's secret under HMAC `algorithm` (whatever the header says).
pub(super) fn signed(algorithm: &str, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = b64(hmac(algorithm, input.as_bytes()));
    format!("{input}.{signature}")
}

/// `header.payload.` + `signature` as given.
pub(super) fn with_signature(header: &str, payload: &str, signature: &str) -> String {
    format!("{}.{}.{signature}", b64(header), b64(payload))
}

/// The JSON text of `map` with `key` set to the raw JSON `raw` (written
/// first), or removed when `raw` is `None`.
fn replaced(map: &Map<String, Value>, key: &str, raw: Option<&str>) -> String {
    let mut rest = map.clone();
    rest.remove(key);
    let rest = Value::Object(rest).to_string();
    match raw {
        None => rest,
        Some(raw) => prepend(&rest, key, raw),
    }
}

/// `{"key": raw, …}` of the object text `object`, whatever it holds already.
pub(super) fn prepend(object: &str, key: &str, raw: &str) -> String {
    let inner = &object[1..object.len() - 1];
    let separator = if inner.is_empty() { "" } else { "," };
    format!("{{{}:{raw}{separator}{inner}}}", Value::from(key))
}

/// `{…, "key": raw}` of the object text `object`, whatever it holds already.
pub(super) fn append(object: &str, key: &str, raw: &str) -> String {
    let inner = &object[1..object.len() - 1];
    let separator = if inner.is_empty() { "" } else { "," };
    format!("{{{inner}{separator}{}:{raw}}}", Value::from(key))
}

fn object_of(part: &str) -> Map<String, Value> {
    match serde_json::from_slice(&unb64(part)).expect("JSON") {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A user with a real token, and the header and claims of that token as the
/// base every forgery changes in one place.
pub(super) struct Lab<'a> {
    app: &'a TestApp,
    pub(super) user: Client,
    pub(super) header: Map<String, Value>,
    pub(super) claims: Map<String, Value>,
}

impl<'a> Lab<'a> {
    /// Logs a user in, and proves that a hand-signed copy of its token's
    /// header and claims is accepted.
    pub(super) async fn new(app: &'a TestApp) -> Self {
        let user = app.new_user().await;
        let token = user.token();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWS: {token}");
        let lab = Self {
            app,
            header: object_of(parts[0]),
            claims: object_of(parts[1]),
            user,
        };
        assert_eq!(lab.header["alg"], "HS256");
        // The server's own token is accepted, and so is the one signed here.
        lab.get(&token, "the real token").await.ok("the real token");
        let control = signed("HS256", &lab.header_text(), &lab.claims_text());
        lab.get(&control, "control").await.ok("a hand-signed copy");
        lab
    }

    pub(super) fn header_text(&self) -> String {
        Value::Object(self.header.clone()).to_string()
    }

    pub(super) fn claims_text(&self) -> String {
        Value::Object(self.claims.clone()).to_string()
    }

    /// The header with `key` set to raw JSON (or removed).
    pub(super) fn header_with(&self, key: &str, raw: Option<&str>) -> String {
        replaced(&self.header, key, raw)
    }

    /// The claims with `key` set to raw JSON (or removed).
    pub(super) fn claims_with(&self, key: &str, raw: Option<&str>) -> String {
        replaced(&self.claims, key, raw)
    }

    /// `GET /auth/me` with `Authorization: Bearer token`.
    pub(super) async fn get(&self, token: &str, what: &str) -> Answer {
        let response = self
            .app
            .anon()
            .get("/auth/me")
            .header("authorization", format!("Bearer {token}"))
            .await;
        read(response, what).await
    }

    /// Asserts `token` is refused with 401 `invalid_token`.
    pub(super) async fn refused(&self, token: &str, what: &str) {
        self.get(token, what).await.invalid_token(what);
    }

    /// Asserts the claims `payload` (JSON text) are refused, signed right.
    pub(super) async fn refused_claims(&self, payload: &str, what: &str) {
        let token = signed("HS256", &self.header_text(), payload);
        self.refused(&token, &format!("{what}: {payload}")).await;
    }

    /// Asserts the header `header` (JSON text) is refused, signed right.
    pub(super) async fn refused_header(&self, header: &str, what: &str) {
        let token = signed("HS256", header, &self.claims_text());
        self.refused(&token, &format!("{what}: {header}")).await;
    }
}

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
