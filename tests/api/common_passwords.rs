//! The breached-password blocklist (NIST SP 800-63B §5.1.1.2): the bundled
//! list of common passwords on register, admin-created users and password
//! change, and the optional range API (`WRISTBAND_PWNED_PASSWORDS_URL`),
//! driven through a stub range server that records what it was asked.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use sha1::{Digest, Sha1};
use wristband::api::{Credentials, NewUserRequest, PasswordChange};
use wristband::auth::blocklist::RANGE_TIMEOUT;
use wristband::config::Settings;

use crate::helpers::{
    PASSWORD, TestApp, TestDatabase, admin_settings, assert_error, backend_test, base_settings,
};

/// On the bundled list, in the list's case and in others.
const COMMON: [&str; 5] = [
    "password1",
    "qwertyuiop",
    "Password123",
    "QWERTYUIOP",
    "pAsSwOrD1",
];
/// Not on the bundled list; the stub range API lists it as breached.
const BREACHED: &str = "a breached but uncommon passphrase";

/// A refusal of `password` as common, and nothing else.
async fn assert_common(response: reqwest::Response, password: &str) {
    let body = assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    let why = body["error_description"].as_str().unwrap_or_default();
    assert!(why.contains("most common passwords"), "{password}: {why}");
}

backend_test!(common_passwords_are_refused_at_registration_in_any_case);
async fn common_passwords_are_refused_at_registration_in_any_case(app: TestApp) {
    let anon = app.anon();
    for password in COMMON {
        let response = anon
            .post("/auth/register")
            .json(&Credentials::new("carol@example.com", password))
            .await;
        assert_common(response, password).await;
    }
    // Nothing was created: the address is still free.
    let response = anon
        .post("/auth/register")
        .json(&Credentials::new("carol@example.com", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

backend_test!(common_passwords_are_refused_as_a_new_password);
async fn common_passwords_are_refused_as_a_new_password(app: TestApp) {
    let caller = app.login_as("dora@example.com").await;
    for password in COMMON {
        let change = PasswordChange::new(PASSWORD, password);
        let response = caller.post("/auth/password").json(&change).await;
        assert_common(response, password).await;
    }
    // The old password still logs in, and the session lives on.
    assert_eq!(caller.get("/auth/me").await.status(), StatusCode::OK);
    app.login("dora@example.com", PASSWORD).await;
}

backend_test!(
    admins_cannot_create_users_with_common_passwords,
    admin_settings()
);
async fn admins_cannot_create_users_with_common_passwords(app: TestApp) {
    let admin = app.admin().await;
    for password in COMMON {
        let body = NewUserRequest::new("staff@example.com", password, None);
        let response = admin.post("/admin/users").json(&body).await;
        assert_common(response, password).await;
    }
    let body = NewUserRequest::new("staff@example.com", PASSWORD, None);
    let response = admin.post("/admin/users").json(&body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// What the stub range API answers.
#[derive(Clone)]
enum Answer {
    /// 200 with these `SUFFIX:COUNT` lines, whatever the prefix.
    Lines(String),
    /// 503, no body.
    Unavailable,
    /// Nothing for a minute (then it would list [`BREACHED`] and [`PASSWORD`]).
    Stall,
}

/// One request the stub received.
#[derive(Debug, Clone)]
struct Seen {
    /// Path and query.
    target: String,
    /// Every header, `name: value` a line.
    headers: String,
    /// The `Add-Padding` header.
    padding: Option<String>,
}

/// A range API on 127.0.0.1 that records every request.
struct RangeStub {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RangeStub {
    fn start(answer: Answer) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!("http://{}/range", listener.local_addr().expect("bound"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let server = HttpServer::new(move || {
            let (answer, record) = (answer.clone(), record.clone());
            App::new().default_service(web::to(move |request: HttpRequest| {
                let (answer, record) = (answer.clone(), record.clone());
                async move { stub_answer(request, answer, record).await }
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("the stub listens")
        .run();
        actix_web::rt::spawn(server);
        Self { url, seen }
    }

    fn settings(&self) -> Settings {
        Settings {
            pwned_passwords_url: Some(self.url.clone()),
            ..base_settings()
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

async fn stub_answer(
    request: HttpRequest,
    answer: Answer,
    record: Arc<Mutex<Vec<Seen>>>,
) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", value.to_str().unwrap_or("?")))
        .collect();
    let padding = request
        .headers()
        .get("add-padding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    record.lock().expect("not poisoned").push(Seen {
        target: request.uri().to_string(),
        headers,
        padding,
    });
    match answer {
        Answer::Lines(lines) => HttpResponse::Ok().body(lines),
        Answer::Unavailable => HttpResponse::ServiceUnavailable().finish(),
        Answer::Stall => {
            actix_web::rt::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::Ok().body(listing())
        }
    }
}

/// The SHA-1 of `password` in upper-case hex, split after 5 digits.
fn prefix_and_suffix(password: &str) -> (String, String) {
    let hash = format!("{:X}", Sha1::digest(password.as_bytes()));
    let (prefix, suffix) = hash.split_at(5);
    (prefix.to_owned(), suffix.to_owned())
}

/// A padded answer, CRLF-ended as Have I Been Pwned's: [`BREACHED`] counted
/// (in lower case), [`PASSWORD`] only as a padding line (count 0).
fn listing() -> String {
    let (_, breached) = prefix_and_suffix(BREACHED);
    let (_, clean) = prefix_and_suffix(PASSWORD);
    format!(
        "0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n{}:42\r\n{clean}:0\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n",
        breached.to_lowercase()
    )
}

/// Registers `email` with `password` and says how long it took.
async fn register(app: &TestApp, email: &str, password: &str) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let response = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new(email, password))
        .await;
    (response, started.elapsed())
}

backend_test!(breached_passwords_are_refused_and_only_the_prefix_leaves);
async fn breached_passwords_are_refused_and_only_the_prefix_leaves(db: TestDatabase) {
    let stub = RangeStub::start(Answer::Lines(listing()));
    let app = db.spawn(stub.settings()).await;

    let (response, _) = register(&app, "eve@example.com", BREACHED).await;
    let body = assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("known data breach")
    );
    let (response, _) = register(&app, "eve@example.com", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "listed with count 0 only"
    );

    let seen = stub.seen();
    assert_eq!(seen.len(), 2, "one range query per password: {seen:?}");
    for (request, password) in seen.iter().zip([BREACHED, PASSWORD]) {
        let (prefix, suffix) = prefix_and_suffix(password);
        assert_eq!(request.target, format!("/range/{prefix}"));
        assert_eq!(request.padding.as_deref(), Some("true"));
        let sent = format!("{}\n{}", request.target, request.headers).to_uppercase();
        assert!(
            !sent.contains(&suffix),
            "the rest of the hash stays here: {sent}"
        );
        assert!(!sent.contains(&password.to_uppercase()), "{sent}");
    }
}

backend_test!(a_breached_new_password_is_refused_on_change);
async fn a_breached_new_password_is_refused_on_change(db: TestDatabase) {
    let stub = RangeStub::start(Answer::Lines(listing()));
    let app = db.spawn(stub.settings()).await;
    let caller = app.login_as("finn@example.com").await;

    let change = PasswordChange::new(PASSWORD, BREACHED);
    let response = caller.post("/auth/password").json(&change).await;
    assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    let (prefix, _) = prefix_and_suffix(BREACHED);
    let asked = stub
        .seen()
        .iter()
        .any(|s| s.target == format!("/range/{prefix}"));
    assert!(asked, "the new password was looked up");
    assert_eq!(caller.get("/auth/me").await.status(), StatusCode::OK);
    app.login("finn@example.com", PASSWORD).await;
}

backend_test!(an_unreachable_range_api_lets_registration_through);
async fn an_unreachable_range_api_lets_registration_through(db: TestDatabase) {
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let settings = Settings {
        pwned_passwords_url: Some(format!("http://{closed}/range")),
        ..base_settings()
    };
    let app = db.spawn(settings).await;

    let (response, took) = register(&app, "gus@example.com", BREACHED).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(
        took < RANGE_TIMEOUT,
        "refused at once, not waited for: {took:?}"
    );
    // The bundled list needs no network.
    let (response, _) = register(&app, "hal@example.com", "Password123").await;
    assert_common(response, "Password123").await;
}

backend_test!(a_stalled_range_api_is_given_up_within_the_bound);
async fn a_stalled_range_api_is_given_up_within_the_bound(db: TestDatabase) {
    let stub = RangeStub::start(Answer::Stall);
    let app = db.spawn(stub.settings()).await;

    let (response, took) = register(&app, "ida@example.com", BREACHED).await;
    assert_eq!(response.status(), StatusCode::CREATED, "accepted unchecked");
    assert_eq!(stub.seen().len(), 1, "the API was asked");
    assert!(took >= RANGE_TIMEOUT, "it waited for the API: {took:?}");
    assert!(
        took < RANGE_TIMEOUT + Duration::from_secs(3),
        "bounded: {took:?}"
    );
}

backend_test!(a_failing_range_api_lets_registration_through);
async fn a_failing_range_api_lets_registration_through(db: TestDatabase) {
    let stub = RangeStub::start(Answer::Unavailable);
    let app = db.spawn(stub.settings()).await;

    let (response, _) = register(&app, "jo@example.com", BREACHED).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(stub.seen().len(), 1, "the API was asked");
}
