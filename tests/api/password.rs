//! `POST /auth/password`: the caller keeps a session, every other one dies.

use reqwest::StatusCode;
use wristband::api::{PasswordChange, TokenResponse};

use crate::helpers::{PASSWORD, ResponseExt, TestApp, assert_error, backend_test};

const NEW_PASSWORD: &str = "a brand new passphrase";

backend_test!(password_change_keeps_the_caller_and_kills_the_rest);
async fn password_change_keeps_the_caller_and_kills_the_rest(app: TestApp) {
    let caller = app.login_as("liz@example.com").await;
    let other = app.login_as("liz@example.com").await;

    let change = PasswordChange::new(PASSWORD, NEW_PASSWORD);
    let response = caller.post("/auth/password").json(&change).await;
    assert_eq!(response.status(), StatusCode::OK);
    let new_refresh = response.refresh_cookie().expect("a new cookie");
    let tokens: TokenResponse = response.body().await;
    assert_eq!(tokens.token_type, "Bearer");

    // The caller continues with the new tokens; the old access token is stale.
    let renewed = caller
        .with_token(&tokens.access_token)
        .with_cookie(&new_refresh);
    assert_eq!(renewed.get("/auth/me").await.status(), StatusCode::OK);
    assert_eq!(
        caller.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    renewed.refresh().await;

    // Every other session is dead.
    assert_eq!(
        other.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    other.refresh_refused("revoked").await;

    // Only the new password logs in.
    let anon = app.anon();
    assert_eq!(
        anon.try_login("liz@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anon.try_login("liz@example.com", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

backend_test!(a_wrong_current_password_is_403_and_changes_nothing);
async fn a_wrong_current_password_is_403_and_changes_nothing(app: TestApp) {
    let caller = app.login_as("max@example.com").await;
    let other = app.login_as("max@example.com").await;
    let change = PasswordChange::new("not my password", NEW_PASSWORD);
    let response = caller.post("/auth/password").json(&change).await;
    assert!(response.refresh_cookie().is_none());
    assert_error(response, StatusCode::FORBIDDEN, "invalid_credentials").await;

    assert_eq!(caller.get("/auth/me").await.status(), StatusCode::OK);
    assert_eq!(other.get("/auth/me").await.status(), StatusCode::OK);
    let anon = app.anon();
    assert_eq!(
        anon.try_login("max@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        anon.try_login("max@example.com", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

backend_test!(the_new_password_must_pass_the_policy);
async fn the_new_password_must_pass_the_policy(app: TestApp) {
    let caller = app.new_user().await;
    for new_password in ["short", &"x".repeat(73)] {
        let change = PasswordChange::new(PASSWORD, new_password);
        let response = caller.post("/auth/password").json(&change).await;
        assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    }
    assert_eq!(caller.get("/auth/me").await.status(), StatusCode::OK);
}

backend_test!(password_change_needs_a_bearer_token);
async fn password_change_needs_a_bearer_token(app: TestApp) {
    let change = PasswordChange::new(PASSWORD, NEW_PASSWORD);
    let response = app.anon().post("/auth/password").json(&change).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
}
