//! Brute force and enumeration: the per-client-IP rate limit on login,
//! register and refresh, and the per-account lockout kept in the database.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use wristband::api::Credentials;
use wristband::config::Settings;

use crate::helpers::storage::audit_events;
use crate::helpers::{
    Client, PASSWORD, ResponseExt, TestApp, TestDatabase, assert_error, backend_test, base_settings,
};

const WRONG: &str = "not the password";

fn limited(per_minute: &str, trust_proxy: bool) -> Settings {
    Settings {
        rate_limit_per_minute: Some(per_minute.into()),
        trust_proxy: Some(trust_proxy.to_string()),
        ..base_settings()
    }
}

fn lockout(max_failures: &str, duration: &str) -> Settings {
    Settings {
        login_max_failures: Some(max_failures.into()),
        login_lockout: Some(duration.into()),
        ..base_settings()
    }
}

async fn login(client: &Client, email: &str, password: &str) -> Response {
    client
        .post("/auth/login")
        .json(&Credentials::new(email, password))
        .await
}

async fn login_from(client: &Client, forwarded_for: &str, email: &str) -> Response {
    client
        .post("/auth/login")
        .header("x-forwarded-for", forwarded_for)
        .json(&Credentials::new(email, WRONG))
        .await
}

/// Asserts 429 `too_many_requests` with a whole number of seconds in `Retry-After`.
async fn assert_too_many(response: Response) -> u64 {
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .expect("Retry-After is a whole number of seconds");
    assert!(retry_after >= 1);
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    retry_after
}

backend_test!(
    the_rate_limit_covers_login_register_and_refresh,
    limited("4", false)
);
async fn the_rate_limit_covers_login_register_and_refresh(app: TestApp) {
    let anon = app.anon();
    let email = |i| format!("nobody-{i}@example.com");
    // One budget per client IP, shared by the three endpoints.
    assert_eq!(
        login(&anon, &email(1), WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let registered = anon
        .post("/auth/register")
        .json(&Credentials::new(email(2), PASSWORD))
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    anon.refresh_refused("missing").await;
    assert_eq!(
        login(&anon, &email(3), WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let retry_after = assert_too_many(login(&anon, &email(4), WRONG).await).await;
    assert!(
        retry_after <= 15,
        "the next request is due within a quarter minute"
    );
    assert_too_many(
        anon.post("/auth/register")
            .json(&Credentials::new(email(5), PASSWORD))
            .await,
    )
    .await;
    assert_too_many(anon.post("/auth/refresh").await).await;
    // Other endpoints are not limited.
    assert_eq!(anon.get("/healthz").await.status(), StatusCode::OK);
}

backend_test!(
    a_spoofed_forwarded_for_neither_resets_nor_dodges_the_limit,
    limited("3", false)
);
async fn a_spoofed_forwarded_for_neither_resets_nor_dodges_the_limit(app: TestApp) {
    let anon = app.anon();
    for i in 0..3 {
        let response = login_from(&anon, &format!("203.0.113.{i}"), "a@example.com").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    for spoofed in ["198.51.100.7", "198.51.100.8, 127.0.0.1", "garbage"] {
        assert_too_many(login_from(&anon, spoofed, "a@example.com").await).await;
    }
}

backend_test!(
    behind_a_trusted_proxy_the_forwarded_client_is_the_key,
    limited("2", true)
);
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_key(app: TestApp) {
    let anon = app.anon();
    for _ in 0..2 {
        let response = login_from(&anon, "198.51.100.1", "a@example.com").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_too_many(login_from(&anon, "198.51.100.1", "a@example.com").await).await;
    // The proxy appends the real client last; what the client wrote before is ignored.
    assert_too_many(login_from(&anon, "198.51.100.2, 198.51.100.1", "a@example.com").await).await;
    let other = login_from(&anon, "198.51.100.1, 198.51.100.2", "a@example.com").await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "another client");
}

backend_test!(
    the_account_locks_after_consecutive_failures,
    lockout("3", "3s")
);
async fn the_account_locks_after_consecutive_failures(app: TestApp) {
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let anon = app.anon();
    for _ in 0..3 {
        assert_eq!(
            login(&anon, &email, WRONG).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: the right password too.
    let retry_after = assert_too_many(login(&anon, &email, PASSWORD).await).await;
    assert!((1..=3).contains(&retry_after), "Retry-After {retry_after}");
    assert!(
        audit_events(&app, &alice.user().id).contains(&"login_locked".to_owned()),
        "the lock is audited"
    );
    // The lock does not touch existing sessions.
    assert_eq!(alice.get("/auth/me").await.status(), StatusCode::OK);
    actix_web::rt::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(300)).await;
    assert_eq!(
        login(&anon, &email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

backend_test!(a_success_resets_the_count, lockout("3", "5m"));
async fn a_success_resets_the_count(app: TestApp) {
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let anon = app.anon();
    // Two failures, a success, twice: the limit of three is never reached.
    for _ in 0..2 {
        for _ in 0..2 {
            let failed = login(&anon, &email, WRONG).await;
            assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
        }
        let succeeded = login(&anon, &email, PASSWORD).await;
        assert_eq!(succeeded.status(), StatusCode::OK);
    }
}

/// The parts of a response an attacker compares: status, body, and headers
/// other than the date.
async fn observable(response: Response) -> (StatusCode, Vec<(String, String)>, Value) {
    let status = response.status();
    let headers = |h: &HeaderMap| {
        let mut v: Vec<_> = h
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        v.sort();
        v
    };
    let headers = headers(response.headers());
    (status, headers, response.body().await)
}

backend_test!(known_and_unknown_emails_lock_alike, lockout("2", "5m"));
async fn known_and_unknown_emails_lock_alike(app: TestApp) {
    let known = app.new_user().await.user().email.clone();
    let unknown = "nobody-at-all@example.com";
    let anon = app.anon();
    for round in 0..2 {
        let a = observable(login(&anon, &known, WRONG).await).await;
        let b = observable(login(&anon, unknown, WRONG).await).await;
        assert_eq!(a.0, StatusCode::UNAUTHORIZED);
        assert_eq!(a, b, "failure {round}");
    }
    let a = observable(login(&anon, &known, PASSWORD).await).await;
    let b = observable(login(&anon, unknown, PASSWORD).await).await;
    assert_eq!(a.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.1, b.1, "same headers (Retry-After included) when locked");
    assert_eq!(a.2, b.2, "same body when locked");
}

fn slow_lockout() -> Settings {
    Settings {
        bcrypt_cost: Some("12".into()),
        ..lockout("1", "5m")
    }
}

backend_test!(a_locked_account_costs_no_hash, slow_lockout());
async fn a_locked_account_costs_no_hash(app: TestApp) {
    let anon = app.anon();
    let started = Instant::now();
    let failed = login(&anon, "target@example.com", WRONG).await;
    let one_hash = started.elapsed();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let started = Instant::now();
    assert_too_many(login(&anon, "target@example.com", WRONG).await).await;
    let locked = started.elapsed();
    assert!(
        locked * 4 < one_hash,
        "a refused attempt took {locked:?}, a bcrypt check {one_hash:?}"
    );
}

backend_test!(instances_on_one_database_share_the_count);
async fn instances_on_one_database_share_the_count(db: TestDatabase) {
    let (a, b) = (
        db.spawn(lockout("3", "5m")).await,
        db.spawn(lockout("3", "5m")).await,
    );
    let alice = a.new_user().await;
    let email = alice.user().email.clone();
    assert_eq!(
        login(&a.anon(), &email, WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&b.anon(), &email, WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&a.anon(), &email, WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_too_many(login(&b.anon(), &email, PASSWORD).await).await;
    assert_too_many(login(&a.anon(), &email, PASSWORD).await).await;
}

backend_test!(parallel_guesses_cannot_outrun_the_count, lockout("3", "5m"));
async fn parallel_guesses_cannot_outrun_the_count(app: TestApp) {
    let email = app.new_user().await.user().email.clone();
    let anon = app.anon();
    let guesses = (0..12).map(|_| login(&anon, &email, WRONG));
    let statuses: Vec<_> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(Response::status)
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 3, "{checked} guesses were checked: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}
