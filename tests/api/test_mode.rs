//! Test mode: off (404) unless configured; every response marked; a user
//! with a live session in one call; a clock that moves forward for token
//! expiry, idle and absolute session ends, and the lockout.

use reqwest::StatusCode;
use serde_json::json;
use wristband::api::{ClockState, User};
use wristband::config::Settings;

use crate::helpers::{PASSWORD, ResponseExt, TestApp, assert_error, backend_test, base_settings};

const MARK: &str = "wristband-test-mode";

fn test_mode() -> Settings {
    Settings {
        test_mode: Some("true".into()),
        ..base_settings()
    }
}

backend_test!(test_routes_are_404_without_test_mode);
async fn test_routes_are_404_without_test_mode(app: TestApp) {
    let anon = app.anon();
    let created = anon
        .post("/test/users")
        .json(&json!({"email": "mallory@example.com"}))
        .await;
    assert!(
        created.headers().get(MARK).is_none(),
        "production is unmarked"
    );
    assert_error(created, StatusCode::NOT_FOUND, "not_found").await;
    let moved = anon
        .post("/test/clock")
        .json(&json!({"advance": "8d"}))
        .await;
    assert_error(moved, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        anon.get("/test/clock").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // And nobody was created.
    let login = anon.try_login("mallory@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
}

backend_test!(every_response_is_marked_in_test_mode, test_mode());
async fn every_response_is_marked_in_test_mode(app: TestApp) {
    let anon = app.anon();
    for path in ["/healthz", "/auth/me", "/no/such/path", "/test/clock"] {
        let response = anon.get(path).await;
        // Refusals as well as successes carry every default header.
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        let mark = response.headers().get(MARK).cloned();
        assert_eq!(
            mark.as_ref().map(|v| v.as_bytes()),
            Some(b"1".as_slice()),
            "{path}: {}",
            response.status()
        );
    }
}

backend_test!(a_test_user_comes_with_a_live_session, test_mode());
async fn a_test_user_comes_with_a_live_session(app: TestApp) {
    let alice = app.test_user(json!({"email": " Alice@Example.com "})).await;
    let me: User = alice.get("/auth/me").await.body().await;
    assert_eq!(me.email, "alice@example.com");
    assert_eq!(me.id, alice.user().id);
    alice.refresh().await;
    assert_eq!(alice.get("/auth/me").await.status(), StatusCode::OK);

    let taken = app
        .anon()
        .post("/test/users")
        .json(&json!({"email": "alice@example.com"}))
        .await;
    assert_error(taken, StatusCode::CONFLICT, "email_taken").await;

    // With a password it can log in; with a role it has it.
    let admin = app
        .test_user(json!({"email": "root@example.com", "password": PASSWORD, "role": "admin"}))
        .await;
    assert_eq!(admin.get("/admin/users").await.status(), StatusCode::OK);
    app.login("root@example.com", PASSWORD).await;
    let weak = app
        .anon()
        .post("/test/users")
        .json(&json!({"email": "bob@example.com", "password": "short"}))
        .await;
    assert_error(weak, StatusCode::BAD_REQUEST, "weak_password").await;
    let bad_role = app
        .anon()
        .post("/test/users")
        .json(&json!({"email": "bob@example.com", "role": "root"}))
        .await;
    assert_error(bad_role, StatusCode::BAD_REQUEST, "invalid_request").await;
}

backend_test!(the_clock_moves_forward_only, test_mode());
async fn the_clock_moves_forward_only(app: TestApp) {
    let start: ClockState = app.anon().get("/test/clock").await.body().await;
    assert_eq!(start.offset_seconds, 0);
    let moved = app.advance_clock("15m").await;
    assert_eq!(moved.offset_seconds, 900);
    assert!((moved.now - start.now).num_seconds() >= 900);
    for refused in [
        json!({"advance": "-5m"}),
        json!({"advance": "banana"}),
        json!({"advance": "-1"}),
        json!({}),
    ] {
        let response = app.anon().post("/test/clock").json(&refused).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let after: ClockState = app.anon().get("/test/clock").await.body().await;
    assert_eq!(after.offset_seconds, 900, "refused advances change nothing");
}

backend_test!(expiry_is_tested_in_milliseconds_not_minutes, test_mode());
async fn expiry_is_tested_in_milliseconds_not_minutes(app: TestApp) {
    let alice = app.test_user(json!({"email": "alice@example.com"})).await;
    let bob = app.test_user(json!({"email": "bob@example.com"})).await;

    // The access token lives 10 minutes; the session goes on.
    app.advance_clock("10m").await;
    let expired = alice.get("/auth/me").await;
    assert_error(expired, StatusCode::UNAUTHORIZED, "invalid_token").await;
    alice.refresh().await;
    assert_eq!(alice.get("/auth/me").await.status(), StatusCode::OK);

    // Six days idle is within the 7-day idle TTL; bob never refreshed in
    // between, and after another two days his session has ended.
    app.advance_clock("6d").await;
    alice.refresh().await;
    app.advance_clock("2d").await;
    bob.refresh_refused("expired").await;
    alice.refresh().await;

    // Refreshing every 6 days does not outlive the 30-day absolute age.
    for _ in 0..3 {
        app.advance_clock("6d").await;
        alice.refresh().await;
    }
    app.advance_clock("6d").await;
    alice.refresh_refused("expired").await;
}

backend_test!(the_grace_window_follows_the_clock, test_mode());
async fn the_grace_window_follows_the_clock(app: TestApp) {
    let alice = app.test_user(json!({"email": "alice@example.com"})).await;
    let spent = alice.refresh_token();
    alice.refresh().await;
    alice.with_cookie(&spent).refresh().await;
    app.advance_clock("11s").await;
    alice.with_cookie(&spent).refresh_refused("reused").await;
}

backend_test!(the_lockout_ends_when_the_clock_passes_it, test_mode());
async fn the_lockout_ends_when_the_clock_passes_it(app: TestApp) {
    app.test_user(json!({"email": "alice@example.com", "password": PASSWORD}))
        .await;
    for _ in 0..5 {
        let response = app
            .anon()
            .try_login("alice@example.com", "wrong password!")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app.anon().try_login("alice@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    app.advance_clock("5m").await;
    app.login("alice@example.com", PASSWORD).await;
}

#[actix_web::test]
async fn test_mode_is_refused_when_what_is_bound_is_not_loopback() {
    // An embedder changing the validated configuration cannot slip past it.
    let settings = Settings {
        database_url: Some("sqlite::memory:".into()),
        ..test_mode()
    };
    let mut config = wristband::Config::from_settings(&settings).unwrap();
    config.network.bind = "0.0.0.0:0".into();
    let refused = wristband::Application::build(config).await;
    let error = refused.err().expect("refused").to_string();
    assert!(error.contains("WRISTBAND_TEST_MODE"), "{error}");
}
