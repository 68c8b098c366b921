//! `POST /auth/logout` and `/auth/logout-all`.

use reqwest::StatusCode;
use wristband::api::Session;

use crate::helpers::{ResponseExt, TestApp, assert_error, backend_test};

backend_test!(logout_with_the_cookie_alone_ends_that_session_only);
async fn logout_with_the_cookie_alone_ends_that_session_only(app: TestApp) {
    let laptop = app.login_as("jack@example.com").await;
    let phone = app.login_as("jack@example.com").await;
    let old_cookie = laptop.refresh_token();

    let response = laptop.without_token().logout().await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.refresh_cookie().as_deref(),
        Some(""),
        "cookie cleared"
    );

    // The laptop's access token dies on the very next request.
    assert_error(
        laptop.get("/auth/me").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    laptop
        .with_cookie(&old_cookie)
        .refresh_refused("revoked")
        .await;
    // The phone lives on.
    assert_eq!(phone.get("/auth/me").await.status(), StatusCode::OK);
    phone.refresh().await;
}

backend_test!(logout_with_the_bearer_alone_ends_its_session);
async fn logout_with_the_bearer_alone_ends_its_session(app: TestApp) {
    let user = app.new_user().await;
    assert_eq!(
        user.without_cookie().logout().await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // `user` still holds its cookie: only the copy sent the logout.
    user.refresh_refused("revoked").await;
}

backend_test!(logout_is_idempotent);
async fn logout_is_idempotent(app: TestApp) {
    let nothing = app.anon().logout().await;
    assert_eq!(nothing.status(), StatusCode::NO_CONTENT);
    assert_eq!(nothing.refresh_cookie().as_deref(), Some(""));
    let garbage = app.anon().with_cookie("garbage").with_token("not.a.jwt");
    assert_eq!(garbage.logout().await.status(), StatusCode::NO_CONTENT);
    let user = app.new_user().await;
    // The same cookie twice (each copy sends the user's cookie, no token).
    for _ in 0..2 {
        assert_eq!(
            user.without_token().logout().await.status(),
            StatusCode::NO_CONTENT
        );
    }
}

backend_test!(logout_all_kills_every_session_and_relogin_works_at_once);
async fn logout_all_kills_every_session_and_relogin_works_at_once(app: TestApp) {
    let a = app.login_as("kim@example.com").await;
    let b = app.login_as("kim@example.com").await;
    let bystander = app.new_user().await;
    let cookies = [a.refresh_token(), b.refresh_token()];

    let response = a.post("/auth/logout-all").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.refresh_cookie().as_deref(), Some(""));

    for (session, cookie) in [&a, &b].into_iter().zip(&cookies) {
        assert_eq!(
            session.get("/auth/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        session.with_cookie(cookie).refresh_refused("revoked").await;
    }
    // Another user is untouched.
    assert_eq!(bystander.get("/auth/me").await.status(), StatusCode::OK);

    // Logging in again works immediately, with the new version.
    let again = app.login_as("kim@example.com").await;
    assert_eq!(again.get("/auth/me").await.status(), StatusCode::OK);
    let sessions: Vec<Session> = again.get("/auth/sessions").await.body().await;
    assert_eq!(sessions.len(), 1);
}

backend_test!(logout_all_needs_a_bearer_token);
async fn logout_all_needs_a_bearer_token(app: TestApp) {
    let response = app.anon().post("/auth/logout-all").await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="wristband""#
    );
    assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
}
