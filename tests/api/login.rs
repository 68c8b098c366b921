//! `POST /auth/login`: the tokens, the cookie, and failures that all look alike.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use wristband::api::{Credentials, Session, TokenResponse};
use wristband::config::Settings;
use wristband::cookies::RefreshCookie;

use crate::helpers::storage::stored_hash_cost;
use crate::helpers::{
    PASSWORD, ResponseExt, TestApp, TestDatabase, assert_error, backend_test, base_settings,
};

backend_test!(login_returns_tokens_and_a_strict_refresh_cookie);
async fn login_returns_tokens_and_a_strict_refresh_cookie(app: TestApp) {
    let anon = app.anon();
    anon.post("/auth/register")
        .json(&Credentials::new("erin@example.com", PASSWORD))
        .await;
    let response = anon.try_login("ERIN@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");

    // The documented cookie, spelled out.
    let cookie = response.refresh_set_cookie().expect("refresh cookie");
    assert!(
        cookie.starts_with("__Host-wristband_refresh=wbr1."),
        "{cookie}"
    );
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing: {cookie}"
        );
    }
    assert!(
        !cookie.contains("Domain="),
        "__Host- cookies carry no Domain"
    );
    let max_age: i64 = cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .expect("Max-Age")
        .parse()
        .unwrap();
    // The session has 7 days of idle life left (and 30 absolute).
    assert!(
        (7 * 86_400 - 5..=7 * 86_400).contains(&max_age),
        "Max-Age {max_age}"
    );

    let body: Value = response.body().await;
    assert!(
        body.get("refresh_token").is_none(),
        "the refresh token travels only in the cookie"
    );
    let tokens: TokenResponse = serde_json::from_value(body).unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.user.email, "erin@example.com");
    assert_eq!(tokens.access_token.split('.').count(), 3);
}

fn insecure() -> Settings {
    let mut s = base_settings();
    s.cookie_secure = Some("false".into());
    s
}

backend_test!(insecure_cookie_mode_drops_prefix_and_secure, insecure());
async fn insecure_cookie_mode_drops_prefix_and_secure(app: TestApp) {
    let anon = app.anon();
    anon.post("/auth/register")
        .json(&Credentials::new("frank@example.com", PASSWORD))
        .await;
    let response = anon.try_login("frank@example.com", PASSWORD).await;
    let cookie = response.refresh_set_cookie().expect("refresh cookie");
    let name = RefreshCookie::new(false).name();
    assert!(cookie.starts_with(&format!("{name}=wbr1.")), "{cookie}");
    assert!(
        !cookie.contains("Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
    );
}

backend_test!(unknown_email_and_wrong_password_look_the_same);
async fn unknown_email_and_wrong_password_look_the_same(app: TestApp) {
    let anon = app.anon();
    anon.post("/auth/register")
        .json(&Credentials::new("gina@example.com", PASSWORD))
        .await;
    let unknown = anon.try_login("nobody@example.com", PASSWORD).await;
    let wrong = anon.try_login("gina@example.com", "wrong password").await;
    let malformed = anon.try_login("not an email", PASSWORD).await;
    let too_long = anon.try_login("gina@example.com", &"p".repeat(100)).await;
    let shape = |r: &reqwest::Response| {
        let mut headers: Vec<_> = r
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str() != "date")
            .map(|(n, v)| format!("{n}: {v:?}"))
            .collect();
        headers.sort();
        (r.status(), headers)
    };
    let expected = shape(&wrong);
    assert_eq!(expected.0, StatusCode::UNAUTHORIZED);
    assert_eq!(shape(&unknown), expected);
    assert_eq!(shape(&malformed), expected);
    assert_eq!(shape(&too_long), expected);
    let bodies: [Value; 3] = [
        unknown.body().await,
        wrong.body().await,
        malformed.body().await,
    ];
    assert_eq!(bodies[0]["error"], "invalid_credentials");
    assert!(bodies.iter().all(|b| *b == bodies[0]));
}

fn costly() -> Settings {
    let mut s = base_settings();
    s.bcrypt_cost = Some("10".into());
    s
}

// With a cost where bcrypt dominates, an unknown email must not answer much
// faster than a wrong password: it is checked against a dummy hash.
backend_test!(unknown_emails_pay_for_a_bcrypt_check_too, costly());
async fn unknown_emails_pay_for_a_bcrypt_check_too(app: TestApp) {
    let anon = app.anon();
    anon.post("/auth/register")
        .json(&Credentials::new("hank@example.com", PASSWORD))
        .await;
    // Interleaved, and the fastest of each: noise from a busy machine only
    // adds time, so the minimum is the closest to each path's own cost.
    let time = async |email: &str| {
        let started = Instant::now();
        let response = anon.try_login(email, "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        started.elapsed()
    };
    let (mut wrong_password, mut unknown_email) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        wrong_password = wrong_password.min(time("hank@example.com").await);
        unknown_email = unknown_email.min(time("nobody@example.com").await);
    }
    assert!(
        wrong_password > Duration::from_millis(5),
        "cost 10 bcrypt takes time: {wrong_password:?}"
    );
    assert!(
        unknown_email * 2 > wrong_password,
        "unknown email {unknown_email:?} vs wrong password {wrong_password:?}"
    );
}

backend_test!(each_login_opens_a_new_session_even_with_an_old_cookie);
async fn each_login_opens_a_new_session_even_with_an_old_cookie(app: TestApp) {
    let first = app.login_as("ivy@example.com").await;
    // The same browser logs in again: its old cookie goes along, no token.
    let second = first
        .without_token()
        .try_login("ivy@example.com", PASSWORD)
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    let tokens: TokenResponse = second.body().await;
    let sessions: Vec<Session> = app
        .anon()
        .with_token(&tokens.access_token)
        .get("/auth/sessions")
        .await
        .body()
        .await;
    assert_eq!(sessions.len(), 2);
    // The first session is untouched.
    assert_eq!(first.get("/auth/me").await.status(), StatusCode::OK);
}

backend_test!(login_failures_are_401_invalid_credentials);
async fn login_failures_are_401_invalid_credentials(app: TestApp) {
    let response = app.anon().try_login("nobody@example.com", PASSWORD).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

fn with_cost(cost: &str) -> Settings {
    Settings {
        bcrypt_cost: Some(cost.into()),
        ..base_settings()
    }
}

/// How long the slower half of `rounds` logins of `email` with a wrong password took.
async fn wrong_password_time(app: &TestApp, email: &str, rounds: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let response = app.anon().try_login(email, "not the password").await;
        times.push(started.elapsed());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    times.sort();
    times[rounds / 2]
}

backend_test!(after_the_cost_is_raised_timing_tells_no_account_apart);
async fn after_the_cost_is_raised_timing_tells_no_account_apart(db: TestDatabase) {
    // An account made at cost 4, then the servers move to cost 10.
    let before = db.spawn(with_cost("4")).await;
    let email = before.new_user().await.user().email.clone();
    let after = Settings {
        login_max_failures: Some("100".into()),
        ..with_cost("10")
    };
    let after = db.spawn(after).await;
    let existing = wrong_password_time(&after, &email, 5).await;
    let unknown = wrong_password_time(&after, "nobody@example.com", 5).await;
    assert!(
        existing * 2 > unknown,
        "a wrong password took {existing:?} for an account with a cheaper hash, \
         {unknown:?} for an unknown email"
    );
    // A successful login moves the hash to the configured cost.
    assert_eq!(stored_hash_cost(&after, &email), Some(4));
    after.login(&email, PASSWORD).await;
    assert_eq!(stored_hash_cost(&after, &email), Some(10));
    // And the rehash logs nobody out, nor changes the password.
    before.login(&email, PASSWORD).await;
}
