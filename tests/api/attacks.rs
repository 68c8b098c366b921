//! The attack catalogue, as tests: hostile access tokens, request bodies and
//! refresh cookies sent through HTTP to a real server. Every case asserts the
//! exact status and error code, and every answer is checked for what must
//! never happen: a 5xx, or parser and library text in the body.
//!
//! Forged access tokens are signed by hand (header, payload and signature
//! built here) from the claims of a real token, so each case differs from a
//! token the server accepts in one thing only; every token test first proves
//! the hand-signing right with an unaltered token that is accepted.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Sha256, Sha384, Sha512};
use wristband::api::Credentials;
use wristband::db::SessionId;
use wristband::tokens::RefreshKey;

use crate::helpers::{
    Client, PASSWORD, ResponseExt, SECRET, TestApp, admin_settings, backend_test,
};

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
// Hand-made access tokens
// ---------------------------------------------------------------------------

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

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
fn signed(algorithm: &str, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = b64(hmac(algorithm, input.as_bytes()));
    format!("{input}.{signature}")
}

/// `header.payload.` + `signature` as given.
fn with_signature(header: &str, payload: &str, signature: &str) -> String {
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
fn prepend(object: &str, key: &str, raw: &str) -> String {
    let inner = &object[1..object.len() - 1];
    let separator = if inner.is_empty() { "" } else { "," };
    format!("{{{}:{raw}{separator}{inner}}}", Value::from(key))
}

/// `{…, "key": raw}` of the object text `object`, whatever it holds already.
fn append(object: &str, key: &str, raw: &str) -> String {
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
struct Lab<'a> {
    app: &'a TestApp,
    user: Client,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl<'a> Lab<'a> {
    /// Logs a user in, and proves that a hand-signed copy of its token's
    /// header and claims is accepted.
    async fn new(app: &'a TestApp) -> Self {
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

    fn header_text(&self) -> String {
        Value::Object(self.header.clone()).to_string()
    }

    fn claims_text(&self) -> String {
        Value::Object(self.claims.clone()).to_string()
    }

    /// The header with `key` set to raw JSON (or removed).
    fn header_with(&self, key: &str, raw: Option<&str>) -> String {
        replaced(&self.header, key, raw)
    }

    /// The claims with `key` set to raw JSON (or removed).
    fn claims_with(&self, key: &str, raw: Option<&str>) -> String {
        replaced(&self.claims, key, raw)
    }

    /// `GET /auth/me` with `Authorization: Bearer token`.
    async fn get(&self, token: &str, what: &str) -> Answer {
        let response = self
            .app
            .anon()
            .get("/auth/me")
            .header("authorization", format!("Bearer {token}"))
            .await;
        read(response, what).await
    }

    /// Asserts `token` is refused with 401 `invalid_token`.
    async fn refused(&self, token: &str, what: &str) {
        self.get(token, what).await.invalid_token(what);
    }

    /// Asserts the claims `payload` (JSON text) are refused, signed right.
    async fn refused_claims(&self, payload: &str, what: &str) {
        let token = signed("HS256", &self.header_text(), payload);
        self.refused(&token, &format!("{what}: {payload}")).await;
    }

    /// Asserts the header `header` (JSON text) is refused, signed right.
    async fn refused_header(&self, header: &str, what: &str) {
        let token = signed("HS256", header, &self.claims_text());
        self.refused(&token, &format!("{what}: {header}")).await;
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---------------------------------------------------------------------------
// 1. Access tokens
// ---------------------------------------------------------------------------

backend_test!(algorithms_other_than_hs256_are_refused);
async fn algorithms_other_than_hs256_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let claims = lab.claims_text();
    // HMAC with the server's own secret: only the algorithm is wrong.
    for alg in ["HS384", "HS512"] {
        let header = lab.header_with("alg", Some(&Value::from(alg).to_string()));
        lab.refused(&signed(alg, &header, &claims), alg).await;
        // And the HS256 signature under a header that names another algorithm.
        lab.refused(
            &signed("HS256", &header, &claims),
            &format!("{alg} header, HS256 MAC"),
        )
        .await;
    }
    // Asymmetric algorithms: the key-confusion attack signs with the HMAC
    // secret; an arbitrary signature of the right shape is refused too.
    for alg in ["RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA"] {
        let header = lab.header_with("alg", Some(&Value::from(alg).to_string()));
        lab.refused(
            &signed("HS256", &header, &claims),
            &format!("{alg} with the secret"),
        )
        .await;
        let junk = b64([0x5a; 64]);
        lab.refused(
            &with_signature(&header, &claims, &junk),
            &format!("{alg} junk"),
        )
        .await;
    }
    // Spellings and types of HS256 that are not exactly "HS256".
    for raw in [
        r#""hs256""#,
        r#""Hs256""#,
        r#""HS256 ""#,
        r#"" HS256""#,
        r#""HS256\u0000""#,
        r#""HS-256""#,
        r#""""#,
        r#"["HS256"]"#,
        r#"{"name":"HS256"}"#,
        "null",
        "256",
        "true",
    ] {
        lab.refused_header(&lab.header_with("alg", Some(raw)), "alg spelling")
            .await;
    }
    lab.refused_header(&lab.header_with("alg", None), "no alg")
        .await;
}

backend_test!(alg_none_is_refused_in_any_case);
async fn alg_none_is_refused_in_any_case(app: TestApp) {
    let lab = Lab::new(&app).await;
    let claims = lab.claims_text();
    let real = lab.user.token();
    let real_signature = real.rsplit('.').next().unwrap().to_owned();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = lab.header_with("alg", Some(&Value::from(alg).to_string()));
        let valid_mac = signed("HS256", &header, &claims);
        let valid_mac = valid_mac.rsplit('.').next().unwrap();
        for signature in ["", "AAAA", valid_mac, &real_signature] {
            let token = with_signature(&header, &claims, signature);
            lab.refused(&token, &format!("alg {alg}, signature {signature:?}"))
                .await;
        }
        // Two parts only, as some libraries write unsigned tokens.
        let two = format!("{}.{}", b64(&header), b64(&claims));
        lab.refused(&two, &format!("alg {alg}, two parts")).await;
    }
}

backend_test!(key_headers_and_unknown_kids_are_refused);
async fn key_headers_and_unknown_kids_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let secret_jwk = json!({"kty": "oct", "k": b64(SECRET), "alg": "HS256"}).to_string();
    let attacker_jwk = json!({"kty": "oct", "k": b64("attacker key")}).to_string();
    let header = lab.header_text();
    for (key, raw) in [
        ("jwk", secret_jwk.as_str()),
        ("jwk", attacker_jwk.as_str()),
        ("jku", r#""https://evil.example/.well-known/jwks.json""#),
        ("jku", r#""http://127.0.0.1/keys""#),
        ("x5u", r#""https://evil.example/cert.pem""#),
        (
            "x5c",
            r#"["MIIBszCCAVmgAwIBAgIUQ0FBQUFBQUFBQUFBQUFBQUFBQUFBMAoGCCqGSM49BAMC"]"#,
        ),
        ("x5c", "[]"),
        ("crit", r#"["exp"]"#),
        ("crit", r#"["b64"]"#),
    ] {
        // Added to the otherwise valid header, signed with the right secret.
        let token = signed("HS256", &append(&header, key, raw), &lab.claims_text());
        // The library reads the header: the server's own policy refuses it.
        assert!(
            jsonwebtoken::decode_header(&token).is_ok(),
            "{key}: {raw} is a header the library reads"
        );
        lab.refused(&token, &format!("{key}: {raw}")).await;
    }
    for raw in [
        r#""0000000000000000""#,
        r#""""#,
        r#""../../../../dev/null""#,
        r#""' OR '1'='1""#,
        r#""\u0000""#,
        "null",
        "0",
        r#"["a"]"#,
    ] {
        lab.refused_header(&lab.header_with("kid", Some(raw)), "kid")
            .await;
    }
    lab.refused_header(&lab.header_with("kid", None), "no kid")
        .await;
    // The right kid in the wrong case.
    let kid = lab.header["kid"].as_str().unwrap().to_uppercase();
    lab.refused_header(
        &lab.header_with("kid", Some(&Value::from(kid).to_string())),
        "kid upper-case",
    )
    .await;
}

backend_test!(time_claims_of_the_wrong_type_or_range_are_refused);
async fn time_claims_of_the_wrong_type_or_range_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let far = (now() + 3600).to_string();
    let quoted_far = format!("\"{far}\"");
    let object_far = format!(r#"{{"$numberLong":"{far}"}}"#);
    let array_far = format!("[{far}]");
    let odd: Vec<&str> = vec![
        &quoted_far,
        r#""""#,
        r#""now""#,
        "null",
        "{}",
        &object_far,
        "[]",
        &array_far,
        "true",
        "false",
        "1e300",
        "-1e300",
        "1e400",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "-99999999999999999999999999",
    ];
    for claim in ["exp", "nbf", "iat"] {
        for raw in &odd {
            lab.refused_claims(&lab.claims_with(claim, Some(raw)), claim)
                .await;
        }
        lab.refused_claims(&lab.claims_with(claim, None), &format!("no {claim}"))
            .await;
    }
    // Fractional NumericDates that would be fine as integers.
    let n = now();
    for (claim, value) in [
        ("exp", format!("{}.5", n + 300)),
        ("nbf", format!("{}.5", n - 300)),
        ("iat", format!("{}.5", n - 300)),
    ] {
        lab.refused_claims(&lab.claims_with(claim, Some(&value)), "fraction")
            .await;
    }
    // Negative times.
    for (claim, value) in [("exp", "-1"), ("nbf", "-1"), ("exp", "0")] {
        lab.refused_claims(&lab.claims_with(claim, Some(value)), "negative")
            .await;
    }
}

backend_test!(expiry_and_not_before_are_strict);
async fn expiry_and_not_before_are_strict(app: TestApp) {
    let lab = Lab::new(&app).await;
    let n = now();
    // RFC 7519: the token is expired once now >= exp, so exp == now is refused
    // (if the second turns before the server looks, it is refused all the more).
    for (what, claim, value) in [
        ("expired a second ago", "exp", n - 1),
        ("expires this very second", "exp", n),
        ("expired long ago", "exp", n - 1_000_000_000),
        ("not valid for another minute", "nbf", n + 60),
        ("not valid for a century", "nbf", n + 3_155_760_000),
        ("not valid until the end of time", "nbf", i64::MAX),
    ] {
        let payload = lab.claims_with(claim, Some(&value.to_string()));
        lab.refused_claims(&payload, what).await;
    }
    // A control: a minute left is fine.
    let payload = lab.claims_with("exp", Some(&(n + 60).to_string()));
    let token = signed("HS256", &lab.header_text(), &payload);
    lab.get(&token, "a minute left").await.ok("a minute left");
}

backend_test!(duplicate_json_keys_are_refused);
async fn duplicate_json_keys_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let header = lab.header_text();
    let claims = lab.claims_text();
    // Each is signed with the server's secret: only the duplicate is wrong.
    // The duplicate goes first and last, for first-wins and last-wins parsers.
    for (key, raw) in [
        ("alg", r#""none""#),
        ("alg", r#""HS256""#),
        ("alg", r#""HS512""#),
        ("kid", r#""0000000000000000""#),
        ("typ", r#""JWT""#),
    ] {
        lab.refused_header(&prepend(&header, key, raw), "duplicate first")
            .await;
        lab.refused_header(&append(&header, key, raw), "duplicate last")
            .await;
    }
    let other_user = Value::from(uuid::Uuid::new_v4().to_string()).to_string();
    let own_user = lab.claims["sub"].to_string();
    let later = (now() + 1_000_000).to_string();
    let earlier = (now() - 1_000).to_string();
    let own_exp = lab.claims["exp"].to_string();
    for (key, raw) in [
        ("sub", other_user.as_str()),
        ("sub", own_user.as_str()),
        ("exp", later.as_str()),
        ("exp", earlier.as_str()),
        ("exp", own_exp.as_str()),
        ("sid", other_user.as_str()),
        ("ver", "1"),
        ("role", r#""admin""#),
        ("aud", r#""wristband""#),
    ] {
        lab.refused_claims(&prepend(&claims, key, raw), "duplicate first")
            .await;
        lab.refused_claims(&append(&claims, key, raw), "duplicate last")
            .await;
    }
}

backend_test!(huge_tokens_are_refused_quickly);
async fn huge_tokens_are_refused_quickly(app: TestApp) {
    let lab = Lab::new(&app).await;
    let real = lab.user.token();
    let parts: Vec<&str> = real.split('.').collect();
    // 64 KiB of token68 characters, as one run and as a JWS whose payload
    // carries a padding claim (with a signature that is not the right one).
    let padded = append(
        &lab.claims_text(),
        "pad",
        &Value::from("x".repeat(48 * 1024)).to_string(),
    );
    let huge_jws = format!("{}.{}.{}", parts[0], b64(&padded), parts[2]);
    assert!(huge_jws.len() >= 64 * 1024);
    let cases = [
        ("64 KiB run", "a".repeat(64 * 1024)),
        ("64 KiB of dots", ".".repeat(64 * 1024)),
        ("64 KiB JWS", huge_jws),
    ];
    for (what, token) in cases {
        let started = Instant::now();
        let answer = lab.get(&token, what).await;
        let took = started.elapsed();
        answer.invalid_token(what);
        assert!(took < Duration::from_secs(1), "{what} took {took:?}");
    }
    // Past actix-http's 128 KiB request-head buffer, the server answers 431
    // itself (with an empty body) before any handler runs.
    let started = Instant::now();
    let answer = lab.get(&"a".repeat(200 * 1024), "200 KiB").await;
    let took = started.elapsed();
    assert_eq!(
        answer.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "200 KiB: {}",
        answer.text
    );
    assert!(took < Duration::from_secs(1), "200 KiB took {took:?}");
}

/// The Bearer cap, in bytes (SECURITY.md, "Denial of service").
const MAX_TOKEN_BYTES: usize = 8192;

backend_test!(validly_signed_tokens_over_8_kib_are_refused);
async fn validly_signed_tokens_over_8_kib_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    // The user's own claims plus a padding claim, signed with the server's
    // key: nothing is wrong with these tokens but their length.
    let padded = |pad: usize| {
        let claims = append(
            &lab.claims_text(),
            "pad",
            &Value::from("x".repeat(pad)).to_string(),
        );
        signed("HS256", &lab.header_text(), &claims)
    };
    // base64url makes 4 characters of 3 bytes: search near the estimate.
    let estimate = (MAX_TOKEN_BYTES - padded(0).len()) * 3 / 4;
    let near: Vec<String> = (estimate - 8..estimate + 8).map(&padded).collect();
    let fits = near
        .iter()
        .filter(|t| t.len() <= MAX_TOKEN_BYTES)
        .max_by_key(|t| t.len())
        .unwrap();
    let over = near
        .iter()
        .filter(|t| t.len() > MAX_TOKEN_BYTES)
        .min_by_key(|t| t.len())
        .unwrap();
    assert!(fits.len() > MAX_TOKEN_BYTES - 4 && over.len() < MAX_TOKEN_BYTES + 4);
    lab.get(fits, "just under 8 KiB")
        .await
        .ok(&format!("{} bytes", fits.len()));
    lab.refused(over, &format!("{} bytes", over.len())).await;
    lab.refused(&padded(48 * 1024), "64 KiB, signed").await;
}

backend_test!(the_bearer_scheme_is_read_from_one_place_only);
async fn the_bearer_scheme_is_read_from_one_place_only(app: TestApp) {
    let lab = Lab::new(&app).await;
    let token = lab.user.token();
    let anon = app.anon();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = anon
            .get("/auth/me")
            .header("authorization", format!("{scheme} {token}"))
            .await;
        read(response, scheme).await.ok(scheme);
    }
    // Anywhere but the Authorization header, a token is not looked at.
    let query = anon.get(&format!("/auth/me?access_token={token}")).await;
    read(query, "query")
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_token", "query");
    let cookie = anon
        .get("/auth/me")
        .header("cookie", format!("access_token={token}"))
        .await;
    read(cookie, "cookie")
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_token", "cookie");
    let body = anon
        .get("/auth/me")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("access_token=x")
        .await;
    read(body, "form body")
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_token", "form body");
    for scheme in ["Basic", "Token", "JWT", "Bearer-", "Bearerx"] {
        let response = anon
            .get("/auth/me")
            .header("authorization", format!("{scheme} {token}"))
            .await;
        read(response, scheme)
            .await
            .error(StatusCode::UNAUTHORIZED, "missing_token", scheme);
    }
    // Two headers, even both valid, are a bad request.
    let two = anon
        .get("/auth/me")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .await;
    read(two, "two headers")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request", "two headers");
    // A Bearer header without a token, or with one that is not token68.
    let malformed: [&[u8]; 8] = [
        b"Bearer",
        b"Bearer ",
        b"Bearer \"abc.def.ghi\"",
        b"Bearer a.b.c d",
        b"Bearer a,b",
        b"Bearer \xff\xfe\xfd",
        b"Bearer eyJ\xc3\xa9.a.b",
        b"\xff\xfe Bearer",
    ];
    for value in malformed {
        let what = String::from_utf8_lossy(value);
        let response = send_raw(
            &app,
            Method::GET,
            "/auth/me",
            &[("authorization", value)],
            vec![],
        )
        .await;
        read(response, &what).await.invalid_token(&what);
    }
}

// ---------------------------------------------------------------------------
// 2. Request bodies
// ---------------------------------------------------------------------------

/// An endpoint that reads a JSON body, with the credentials it needs.
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

/// A minimal gzip stream of `size` spaces: one fixed-Huffman deflate block of
/// a literal and back-references of 258 bytes at distance 1, about 13 bits
/// each (a decompression bomb of ratio ~160).
fn gzip_of_spaces(size: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, count: u32) {
            let reversed = code.reverse_bits() >> (32 - count);
            self.put(reversed, count);
        }
    }
    assert!(
        size >= 1 && (size - 1).is_multiple_of(258),
        "1 + 258·k bytes"
    );
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // fixed Huffman
    bits.code(0x30 + u32::from(b' '), 8); // literal ' '
    for _ in 0..(size - 1) / 258 {
        bits.code(0b1100_0101, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
    }
    bits.code(0, 7); // end of block
    if bits.n > 0 {
        bits.put(0, 8 - bits.n);
    }
    let mut crc = !0u32;
    for _ in 0..size {
        crc ^= u32::from(b' ');
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut out = bits.out;
    out.extend_from_slice(&(!crc).to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}

backend_test!(
    bodies_that_are_not_json_objects_are_refused,
    admin_settings()
);
async fn bodies_that_are_not_json_objects_are_refused(app: TestApp) {
    let (targets, _admin, _user) = targets(&app).await;
    for target in &targets {
        use StatusCode as S;
        let unsupported = "unsupported_media_type";
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
            Some("json"),
            Some(""),
            None,
        ] {
            target
                .refused(
                    &app,
                    content_type,
                    target.base(),
                    S::UNSUPPORTED_MEDIA_TYPE,
                    unsupported,
                    &format!("{content_type:?}"),
                )
                .await;
        }
        target.control(&app).await;
        let base = target.base().into_bytes();
        // `base` with `defect` (an extra member) first: an unknown member
        // alone is skipped by login, register and password change. Invalid
        // text goes in member names, which are always decoded (in skipped
        // values it goes unnoticed: see the known issue at the end).
        let with = |defect: &[u8]| [b"{".as_slice(), defect, b",", &base[1..]].concat();
        let then = |before: &[u8], after: &[u8]| [before, &base, after].concat();
        let invalid: Vec<(&str, Vec<u8>)> = vec![
            ("not JSON", b"not json".to_vec()),
            ("empty", vec![]),
            ("whitespace", b"   \r\n\t ".to_vec()),
            ("null", b"null".to_vec()),
            ("array of nothing", b"[[]]".to_vec()),
            ("number", b"42".to_vec()),
            ("string", b"\"{}\"".to_vec()),
            ("boolean", b"true".to_vec()),
            ("truncated", base[..base.len() - 1].to_vec()),
            ("trailing garbage", then(b"", b" garbage")),
            ("two objects", then(b"", &base)),
            ("trailing comma", [&base[..base.len() - 1], b",}"].concat()),
            ("comment", then(b"/* */", b"")),
            ("byte order mark", then(b"\xef\xbb\xbf", b"")),
            (
                "single quotes",
                base.iter()
                    .map(|&b| if b == b'"' { b'\'' } else { b })
                    .collect(),
            ),
            ("NaN", with(b"\"x\":NaN")),
            ("Infinity", with(b"\"x\":Infinity")),
            ("invalid UTF-8 in a key", with(b"\"\xff\xfe\":1")),
            ("overlong UTF-8", with(b"\"\xc0\xaf\":1")),
            ("UTF-16 surrogate in UTF-8", with(b"\"\xed\xa0\x80\":1")),
            ("truncated UTF-8", with(b"\"\xe2\x82\":1")),
            ("lone surrogate escape", with(b"\"\\ud800\":1")),
            ("bad escape", with(b"\"x\":\"\\x41\"")),
            ("raw control character", with(b"\"x\":\"a\x01\"")),
            ("raw NUL", with(b"\"x\":\"a\x00\"")),
            ("UTF-16 body", b"\xff\xfe{\x00}\x00".to_vec()),
        ];
        for (what, body) in invalid {
            target
                .refused(
                    &app,
                    Some(JSON),
                    body,
                    S::BAD_REQUEST,
                    "invalid_request",
                    what,
                )
                .await;
        }
        // The media type is matched on type and subtype only.
        target
            .refused(
                &app,
                Some("application/json; charset=utf-16"),
                b"\xff\xfe{\x00}\x00".to_vec(),
                S::BAD_REQUEST,
                "invalid_request",
                "declared UTF-16",
            )
            .await;
    }
}

backend_test!(large_and_deep_bodies_are_refused, admin_settings());
async fn large_and_deep_bodies_are_refused(app: TestApp) {
    let (targets, _admin, _user) = targets(&app).await;
    let too_large = "payload_too_large";
    for target in &targets {
        use StatusCode as S;
        let big = format!(
            r#"{{"email":"x@example.com","password":"{}"}}"#,
            "x".repeat(16 * 1024)
        );
        target
            .refused(
                &app,
                Some(JSON),
                big,
                S::PAYLOAD_TOO_LARGE,
                too_large,
                "16 KiB + 1",
            )
            .await;
        let huge = vec![b' '; 1024 * 1024];
        target
            .refused(
                &app,
                Some(JSON),
                huge,
                S::PAYLOAD_TOO_LARGE,
                too_large,
                "1 MiB",
            )
            .await;
        // A gzip bomb: 6 KiB on the wire, 1 MiB once inflated.
        let bomb = gzip_of_spaces(1 + 258 * 4064);
        assert!(bomb.len() < 8 * 1024, "the bomb is small: {}", bomb.len());
        let what = format!("{} {}: gzip bomb", target.name, target.path);
        let response = target
            .send(&app, Some(JSON), &[("content-encoding", b"gzip")], bomb)
            .await;
        read(response, &what)
            .await
            .error(S::PAYLOAD_TOO_LARGE, too_large, &what);
        // Not gzip at all, though it says so.
        let what = format!("{} {}: false gzip", target.name, target.path);
        let response = target
            .send(
                &app,
                Some(JSON),
                &[("content-encoding", b"gzip")],
                target.base().into_bytes(),
            )
            .await;
        read(response, &what)
            .await
            .error(S::BAD_REQUEST, "invalid_request", &what);

        // Deep nesting: a 400, not a stack overflow.
        let arrays = "[".repeat(10_000);
        target
            .refused(
                &app,
                Some(JSON),
                arrays,
                S::BAD_REQUEST,
                "invalid_request",
                "10 000 open arrays",
            )
            .await;
        let balanced = format!("{}{}", "[".repeat(8_000), "]".repeat(8_000));
        target
            .refused(
                &app,
                Some(JSON),
                balanced,
                S::BAD_REQUEST,
                "invalid_request",
                "8 000 nested arrays",
            )
            .await;
        let objects = format!("{}1{}", r#"{"a":"#.repeat(2_000), "}".repeat(2_000));
        target
            .refused(
                &app,
                Some(JSON),
                objects,
                S::BAD_REQUEST,
                "invalid_request",
                "2 000 nested objects",
            )
            .await;
    }
    // Deep nesting inside a member no endpoint reads: the whole body is
    // parsed first, with a bounded depth, so it is a 400 everywhere (and no
    // stack overflow).
    let [login, register, password, update, create] = &targets[..] else {
        unreachable!()
    };
    let nested = |email: &str| {
        format!(
            r#"{{"x":{}{},"email":"{email}","password":"{PASSWORD}","current_password":"wrong password","new_password":"{PASSWORD} 2"}}"#,
            "[".repeat(7_000),
            "]".repeat(7_000)
        )
    };
    let fresh = || format!("nested-{}@example.com", uuid::Uuid::new_v4().simple());
    let what = "nested unknown field";
    for target in [login, register, password] {
        target.json(&app, nested(&fresh()), what).await.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            what,
        );
    }
    for target in [update, create] {
        target.json(&app, nested(&fresh()), what).await.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            what,
        );
    }
}

backend_test!(
    field_values_are_checked_by_type_and_content,
    admin_settings()
);
async fn field_values_are_checked_by_type_and_content(app: TestApp) {
    let (targets, _admin, user) = targets(&app).await;
    let [login, register, password, update, create] = &targets[..] else {
        unreachable!()
    };
    let bad = StatusCode::BAD_REQUEST;
    let invalid = "invalid_request";
    let pw = PASSWORD;

    // Wrong types and missing fields.
    for (target, bodies) in [
        (
            login,
            vec![
                r#"{"email":5,"password":"x"}"#.to_owned(),
                r#"{"email":"x@example.com","password":12345678}"#.to_owned(),
                r#"{"email":"x@example.com","password":null}"#.to_owned(),
                r#"{"email":["x@example.com"],"password":"x"}"#.to_owned(),
                r#"{"email":{"$ne":""},"password":{"$ne":""}}"#.to_owned(),
                r#"{"email":"x@example.com"}"#.to_owned(),
                "{}".to_owned(),
                format!(r#"{{"email":"a@example.com","email":"b@example.com","password":"{pw}"}}"#),
            ],
        ),
        (
            register,
            vec![
                r#"{"email":true,"password":"correct horse battery"}"#.to_owned(),
                r#"{"email":"x@example.com","password":["correct horse battery"]}"#.to_owned(),
                format!(r#"{{"email":"x@example.com","password":"{pw}","password":"short"}}"#),
            ],
        ),
        (
            password,
            vec![
                r#"{"current_password":1,"new_password":"correct horse battery"}"#.to_owned(),
                r#"{"current_password":"correct horse battery"}"#.to_owned(),
                format!(
                    r#"{{"current_password":"{pw}","new_password":"x","new_password":"{pw} 2"}}"#
                ),
            ],
        ),
        (
            update,
            vec![
                r#"{"disabled":"yes"}"#.to_owned(),
                r#"{"disabled":1}"#.to_owned(),
                r#"{"disabled":1e999}"#.to_owned(),
                r#"{"role":5}"#.to_owned(),
                r#"{"role":"root"}"#.to_owned(),
                r#"{"role":"ADMIN"}"#.to_owned(),
                r#"{"role":"admin\u0000"}"#.to_owned(),
                r#"{"role":" admin"}"#.to_owned(),
                r#"{"role":["admin"]}"#.to_owned(),
                r#"{"role":"user","role":"admin"}"#.to_owned(),
                r#"{"is_admin":true}"#.to_owned(),
                r#"{"email":"evil@example.com"}"#.to_owned(),
            ],
        ),
        (
            create,
            vec![
                format!(r#"{{"email":"new@example.com","password":"{pw}","role":"root"}}"#),
                format!(r#"{{"email":"new@example.com","password":"{pw}","role":1}}"#),
                format!(
                    r#"{{"email":"new@example.com","password":"{pw}","id":"00000000-0000-0000-0000-000000000000"}}"#
                ),
                format!(r#"{{"email":"new@example.com","password":"{pw}","extra":1e999999}}"#),
            ],
        ),
    ] {
        for body in bodies {
            target
                .refused(&app, Some(JSON), body.clone(), bad, invalid, &body)
                .await;
        }
    }

    // NUL and other control characters inside strings are well-formed JSON;
    // the email rules refuse them.
    for email in [
        "a\\u0000b@example.com",
        "alice@example.com\\u0000",
        "\\u0000",
        "a\\u202eb@example.com",
    ] {
        let body = format!(r#"{{"email":"{email}","password":"{pw}"}}"#);
        register
            .refused(&app, Some(JSON), body.clone(), bad, "invalid_email", &body)
            .await;
        let body = format!(r#"{{"email":"{email}","password":"{pw}"}}"#);
        login
            .refused(
                &app,
                Some(JSON),
                body.clone(),
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                &body,
            )
            .await;
    }
    // Invalid UTF-8 inside a value.
    for body in [
        b"{\"email\":\"\xff@example.com\",\"password\":\"correct horse battery\"}".to_vec(),
        b"{\"email\":\"a@example.com\",\"password\":\"correct horse \xc3\"}".to_vec(),
        b"{\"email\":\"\\ud800@example.com\",\"password\":\"correct horse battery\"}".to_vec(),
    ] {
        let what = String::from_utf8_lossy(&body).into_owned();
        for target in [login, register] {
            target
                .refused(&app, Some(JSON), body.clone(), bad, invalid, &what)
                .await;
        }
    }
    update
        .refused(
            &app,
            Some(JSON),
            b"{\"role\":\"adm\xffin\"}".to_vec(),
            bad,
            invalid,
            "invalid UTF-8 role",
        )
        .await;

    // A NUL is not allowed in a password: bcrypt reads a C string, so
    // all-NUL passwords of any length would match each other.
    let email = format!("nul-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new(email.as_str(), "\u{0}".repeat(8)))
        .await;
    read(registered, "register NUL").await.error(
        StatusCode::BAD_REQUEST,
        "weak_password",
        "register NUL",
    );
    let registered = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new(email.as_str(), PASSWORD))
        .await;
    assert_eq!(
        read(registered, "register").await.status,
        StatusCode::CREATED
    );
    for wrong in [
        "\u{0}".repeat(20),
        format!("{PASSWORD}\u{0}"),
        format!("{PASSWORD}\u{0}more"),
    ] {
        let response = app
            .anon()
            .post("/auth/login")
            .json(&Credentials::new(email.as_str(), wrong.as_str()))
            .await;
        read(response, &wrong).await.error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            &format!("{wrong:?}"),
        );
    }

    // Absurd numbers in members no endpoint reads: the whole body is parsed
    // first, and a number out of range is a malformed body.
    for number in ["1e999999", "-1e999999", &"9".repeat(8_000)] {
        let nobody = uuid::Uuid::new_v4().simple();
        let body = format!(r#"{{"email":"{nobody}@example.com","password":"{pw}","n":{number}}}"#);
        login.json(&app, body, "absurd number").await.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "absurd number",
        );
    }
    // In a known field they are a type error.
    update
        .refused(
            &app,
            Some(JSON),
            format!(r#"{{"disabled":{}}}"#, "9".repeat(8_000)),
            bad,
            invalid,
            "huge integer",
        )
        .await;
    // The user was never changed by any of it.
    let me = read(user.get("/auth/me").await, "me").await;
    me.ok("the user is untouched");
    let me: Value = serde_json::from_str(&me.text).unwrap();
    assert_eq!(
        (me["role"].as_str(), me["disabled"].as_bool()),
        (Some("user"), Some(false))
    );
}

// ---------------------------------------------------------------------------
// 3. Refresh cookies
// ---------------------------------------------------------------------------

/// `POST /auth/refresh` with the refresh cookie `value`: asserts 401
/// `invalid_grant` with `reason` and a cleared cookie.
async fn grant_refused(client: &Client, value: &str, reason: &str) {
    let what = format!(
        "refresh cookie {:?}",
        value.chars().take(80).collect::<String>()
    );
    let response = client.with_cookie(value).post("/auth/refresh").await;
    assert_eq!(
        response.refresh_cookie().as_deref(),
        Some(""),
        "{what}: cookie cleared"
    );
    let body = read(response, &what)
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_grant", &what);
    assert_eq!(body["reason"], reason, "{what}: {body}");
}

backend_test!(refresh_cookie_garbage_is_an_unknown_grant);
async fn refresh_cookie_garbage_is_an_unknown_grant(app: TestApp) {
    let user = app.new_user().await;
    let anon = app.anon();
    let real = user.refresh_token();
    let raw = unb64(real.strip_prefix("wbr1.").expect("a wbr1 token"));
    assert_eq!(raw.len(), 16 + 8 + 32);
    let session_id = SessionId::from(uuid::Uuid::from_slice(&raw[..16]).unwrap());
    let generation = i64::from_be_bytes(raw[16..24].try_into().unwrap());

    let encode = |bytes: &[u8]| format!("wbr1.{}", b64(bytes));
    let mut wrong_mac = raw.clone();
    wrong_mac[40] ^= 1;
    let mut zero_mac = raw.clone();
    zero_mac[24..].fill(0);
    let mut next_generation = raw.clone();
    next_generation[16..24].copy_from_slice(&(generation + 1).to_be_bytes());
    let foreign =
        RefreshKey::derive(b"another server's secret, 32 bytes+").issue(&session_id, generation);
    // The access-token key is not the refresh key.
    let raw_secret_key = RefreshKey::derive(b"").issue(&session_id, generation);
    let mut last_changed = real.clone();
    let last = last_changed.pop().unwrap();
    last_changed.push(if last == 'A' { 'B' } else { 'A' });

    grant_refused(&anon, "", "missing").await;
    let unknown: Vec<String> = vec![
        "garbage".into(),
        "wbr1.".into(),
        "wbr1".into(),
        "wbr2.".into(),
        "wbr1.!!!!".into(),
        "wbr1.not base64".into(),
        format!("WBR1.{}", &real[5..]),
        format!("wbr1.{}", URL_SAFE_NO_PAD.encode([0u8; 56])),
        encode(&wrong_mac),
        encode(&zero_mac),
        encode(&next_generation),
        encode(&raw[..55]),
        format!("{}AA", encode(&raw)),
        format!("{real}="),
        format!("{real}=="),
        real[..real.len() - 1].to_owned(),
        last_changed,
        format!(
            "wbr1.{}",
            base64::engine::general_purpose::STANDARD.encode(&raw)
        ),
        foreign.expose().to_owned(),
        raw_secret_key.expose().to_owned(),
        format!("wbr1.{}", "A".repeat(10 * 1024)),
        "x".repeat(10 * 1024),
        format!("{real}%00"),
        format!("%00{real}"),
        "wbr1.%00".into(),
        "wbr1.ñé€😀".into(),
        format!("{real}😀"),
        "wbr1.%C3%B1".into(),
        "\"wbr1.\"".into(),
    ];
    for value in &unknown {
        grant_refused(&anon, value, "unknown").await;
    }
    // Someone else's cookie jar with the user's token name is no help either.
    let other = app.new_user().await;
    grant_refused(&other, &encode(&wrong_mac), "unknown").await;

    // None of it touched the session: the real cookie still rotates.
    user.refresh().await;
    // A malformed cookie next to the refresh cookie does not hide it.
    for sibling in ["a=%FF", "a=\"x", "=", "b"] {
        let response = user.post("/auth/refresh").header("cookie", sibling).await;
        read(response, sibling).await.ok(sibling);
    }
}

backend_test!(malformed_cookie_headers_are_not_server_errors);
async fn malformed_cookie_headers_are_not_server_errors(app: TestApp) {
    let user = app.new_user().await;
    for header in [
        b"\xff\xfe".as_slice(),
        b"=",
        b";;;;",
        b"a",
        b"a=%ZZ",
        b"a=%FF",
        b"\"",
    ] {
        let what = String::from_utf8_lossy(header).into_owned();
        let response = send_raw(
            &app,
            Method::POST,
            "/auth/refresh",
            &[("cookie", header)],
            vec![],
        )
        .await;
        let body =
            read(response, &what)
                .await
                .error(StatusCode::UNAUTHORIZED, "invalid_grant", &what);
        assert_eq!(body["reason"], "missing", "{what}: {body}");
    }
    user.refresh().await;
    // A malformed cookie next to the refresh cookie does not hide it.
    for sibling in ["a=%FF", "a=\"x", "=", "b"] {
        let response = user.post("/auth/refresh").header("cookie", sibling).await;
        read(response, sibling).await.ok(sibling);
    }
}

// ---------------------------------------------------------------------------
// Bodies that are JSON but not a JSON object with unique, decodable members
// ---------------------------------------------------------------------------

backend_test!(array_bodies_are_refused, admin_settings());
/// serde's derived `Deserialize` would read a struct from a JSON array of its
/// fields in order (`["alice@example.com", "pw"]` as a login, `[null, true]`
/// disabling a user): bodies must be JSON objects.
async fn array_bodies_are_refused(app: TestApp) {
    let (targets, _admin, user) = targets(&app).await;
    let [login, _register, _password, update, _create] = &targets[..] else {
        unreachable!()
    };
    let email = &user.user().email;
    let positional = format!(r#"["{email}","{PASSWORD}"]"#);
    login
        .json(&app, positional, "positional login")
        .await
        .error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "positional login",
        );
    for body in ["[]", "[null,true]", "[null,true,1]", "[true]"] {
        update
            .json(&app, body, body)
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_request", body);
    }
    let me: Value = user.get("/auth/me").await.body().await;
    assert_eq!(me["disabled"], false, "{me}");
}

backend_test!(invalid_text_in_unread_members_is_refused, admin_settings());
/// serde_json skips a member a type does not read without decoding it, so
/// invalid UTF-8 or a lone surrogate there (not JSON, by RFC 8259) would go
/// unnoticed: the whole body is decoded first.
async fn invalid_text_in_unread_members_is_refused(app: TestApp) {
    let (targets, _admin, _user) = targets(&app).await;
    let defects: [&[u8]; 5] = [
        b"\"x\":\"\xff\xfe\"",
        b"\"x\":\"\xc0\xaf\"",
        b"\"x\":\"\xed\xa0\x80\"",
        b"\"x\":\"\xe2\x82\"",
        b"\"x\":\"\\ud800\"",
    ];
    for target in &targets {
        for defect in defects {
            let base = target.base().into_bytes();
            let body = [b"{".as_slice(), defect, b",", &base[1..]].concat();
            let what = format!("{} {}", target.name, String::from_utf8_lossy(defect));
            let answer = target.json(&app, body, &what).await;
            answer.error(StatusCode::BAD_REQUEST, "invalid_request", &what);
        }
    }
}
