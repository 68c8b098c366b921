use reqwest::StatusCode;
use serde_json::json;

use crate::legacy::{PASSWORD, assert_error, each_backend, json_body, refresh_cookie};

const NEW_PASSWORD: &str = "a brand new passphrase";

#[actix_web::test]
async fn password_change_keeps_the_caller_and_kills_the_rest() {
    each_backend(|app| async move {
        let caller = app.login_as("liz@example.com").await;
        let other = app.login_as("liz@example.com").await;

        let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        let response = app
            .post_bearer("/auth/password", &caller.access_token, Some(&body))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let new_refresh = refresh_cookie(response.headers()).expect("a new cookie");
        let tokens = json_body(response).await;
        let new_access = tokens["access_token"].as_str().unwrap();
        assert_eq!(tokens["token_type"], "Bearer");

        // The caller continues with the new tokens; the old access token is stale.
        assert_eq!(app.me(new_access).await.status(), StatusCode::OK);
        assert_eq!(
            app.me(&caller.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        app.refresh_ok(&new_refresh).await;

        // Every other session is dead.
        assert_eq!(
            app.me(&other.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        app.refresh_refused(Some(&other.refresh), "revoked").await;

        // Only the new password logs in.
        assert_eq!(
            app.login("liz@example.com", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.login("liz@example.com", NEW_PASSWORD).await.status(),
            StatusCode::OK
        );
    })
    .await;
}

#[actix_web::test]
async fn a_wrong_current_password_is_403_and_changes_nothing() {
    each_backend(|app| async move {
        let caller = app.login_as("max@example.com").await;
        let other = app.login_as("max@example.com").await;
        let body = json!({"current_password": "not my password", "new_password": NEW_PASSWORD});
        let response = app
            .post_bearer("/auth/password", &caller.access_token, Some(&body))
            .await;
        assert!(refresh_cookie(response.headers()).is_none());
        assert_error(response, StatusCode::FORBIDDEN, "invalid_credentials").await;

        assert_eq!(app.me(&caller.access_token).await.status(), StatusCode::OK);
        assert_eq!(app.me(&other.access_token).await.status(), StatusCode::OK);
        assert_eq!(
            app.login("max@example.com", PASSWORD).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.login("max@example.com", NEW_PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

#[actix_web::test]
async fn the_new_password_must_pass_the_policy() {
    each_backend(|app| async move {
        let caller = app.new_user().await;
        for new_password in ["short", &"x".repeat(73)] {
            let body = json!({"current_password": PASSWORD, "new_password": new_password});
            let response = app
                .post_bearer("/auth/password", &caller.access_token, Some(&body))
                .await;
            assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
        }
        assert_eq!(app.me(&caller.access_token).await.status(), StatusCode::OK);
    })
    .await;
}

#[actix_web::test]
async fn password_change_needs_a_bearer_token() {
    each_backend(|app| async move {
        let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        let response = app.post_json("/auth/password", &body).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
    })
    .await;
}
