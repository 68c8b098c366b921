use reqwest::StatusCode;

use crate::legacy::{assert_error, each_backend, json_body, refresh_cookie};

#[actix_web::test]
async fn logout_with_the_cookie_alone_ends_that_session_only() {
    each_backend(|app| async move {
        let laptop = app.login_as("jack@example.com").await;
        let phone = app.login_as("jack@example.com").await;

        let response = app.logout(Some(&laptop.refresh), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            refresh_cookie(response.headers()).as_deref(),
            Some(""),
            "cookie cleared"
        );

        // The laptop's access token dies on the very next request.
        assert_error(
            app.me(&laptop.access_token).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
        app.refresh_refused(Some(&laptop.refresh), "revoked").await;
        // The phone lives on.
        assert_eq!(app.me(&phone.access_token).await.status(), StatusCode::OK);
        app.refresh_ok(&phone.refresh).await;
    })
    .await;
}

#[actix_web::test]
async fn logout_with_the_bearer_alone_ends_its_session() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        assert_eq!(
            app.logout(None, Some(&user.access_token)).await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.me(&user.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        app.refresh_refused(Some(&user.refresh), "revoked").await;
    })
    .await;
}

#[actix_web::test]
async fn logout_is_idempotent() {
    each_backend(|app| async move {
        let nothing = app.logout(None, None).await;
        assert_eq!(nothing.status(), StatusCode::NO_CONTENT);
        assert_eq!(refresh_cookie(nothing.headers()).as_deref(), Some(""));
        assert_eq!(
            app.logout(Some("garbage"), Some("not.a.jwt"))
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        let user = app.new_user().await;
        assert_eq!(
            app.logout(Some(&user.refresh), None).await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.logout(Some(&user.refresh), None).await.status(),
            StatusCode::NO_CONTENT
        );
    })
    .await;
}

#[actix_web::test]
async fn logout_all_kills_every_session_and_relogin_works_at_once() {
    each_backend(|app| async move {
        let a = app.login_as("kim@example.com").await;
        let b = app.login_as("kim@example.com").await;
        let bystander = app.new_user().await;

        let response = app
            .post_bearer("/auth/logout-all", &a.access_token, None)
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(refresh_cookie(response.headers()).as_deref(), Some(""));

        for session in [&a, &b] {
            assert_eq!(
                app.me(&session.access_token).await.status(),
                StatusCode::UNAUTHORIZED
            );
            app.refresh_refused(Some(&session.refresh), "revoked").await;
        }
        // Another user is untouched.
        assert_eq!(
            app.me(&bystander.access_token).await.status(),
            StatusCode::OK
        );

        // Logging in again works immediately, with the new version.
        let again = app.login_as("kim@example.com").await;
        assert_eq!(app.me(&again.access_token).await.status(), StatusCode::OK);
        let sessions = json_body(app.get("/auth/sessions", &again.access_token).await).await;
        assert_eq!(sessions.as_array().unwrap().len(), 1);
    })
    .await;
}

#[actix_web::test]
async fn logout_all_needs_a_bearer_token() {
    each_backend(|app| async move {
        let response = app
            .client
            .post(app.url("/auth/logout-all"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="wristband""#
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
    })
    .await;
}
