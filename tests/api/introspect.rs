//! `POST /auth/introspect` (RFC 7662): off without its secret, closed to
//! callers without it, and answered with the same liveness rule as every
//! authenticated request.

use reqwest::StatusCode;
use wristband::api::Introspection;
use wristband::config::Settings;

use crate::helpers::{Client, ResponseExt, TestApp, assert_error, backend_test, base_settings};

const SECRET: &str = "an-introspection-secret-for-tests";

fn with_introspection() -> Settings {
    Settings {
        introspection_secret: Some(SECRET.into()),
        ..base_settings()
    }
}

/// Asks about `token` as a resource server holding the secret.
async fn ask(app: &TestApp, token: &str) -> reqwest::Response {
    app.anon()
        .with_token(SECRET)
        .post("/auth/introspect")
        .form(&[("token", token)])
        .await
}

/// [`ask`], answered 200.
async fn introspect(app: &TestApp, token: &str) -> Introspection {
    let response = ask(app, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.body().await
}

backend_test!(introspection_is_off_without_its_secret);
async fn introspection_is_off_without_its_secret(app: TestApp) {
    let alice = app.new_user().await;
    let response = ask(&app, &alice.token()).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

backend_test!(
    a_caller_needs_the_introspection_secret,
    with_introspection()
);
async fn a_caller_needs_the_introspection_secret(app: TestApp) {
    let alice = app.new_user().await;
    let ask = |caller: Client| {
        let token = alice.token();
        async move {
            caller
                .post("/auth/introspect")
                .form(&[("token", token)])
                .await
        }
    };
    let missing = ask(app.anon()).await;
    assert_error(missing, StatusCode::UNAUTHORIZED, "missing_token").await;
    let wrong = ask(app.anon().with_token("an-introspection-secret-for-test")).await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // A user's own access token is not the secret.
    let own = ask(app.anon().with_token(&alice.token())).await;
    assert_error(own, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

backend_test!(a_live_token_is_active_with_its_claims, with_introspection());
async fn a_live_token_is_active_with_its_claims(app: TestApp) {
    let alice = app.new_user().await;
    let session = alice.current_session().await;
    let answer = introspect(&app, &alice.token()).await;
    assert!(answer.active);
    assert_eq!(answer.sub.as_ref(), Some(&alice.user().id));
    assert_eq!(answer.sid.as_ref(), Some(&session.id));
    assert_eq!(answer.role, Some(alice.user().role));
    assert_eq!(answer.iss.as_deref(), Some("wristband"));
    assert_eq!(answer.aud.as_deref(), Some("wristband"));
    assert_eq!(answer.token_type.as_deref(), Some("Bearer"));
    let (iat, exp) = (answer.iat.unwrap(), answer.exp.unwrap());
    assert!(exp > iat && iat > 1_700_000_000, "iat {iat}, exp {exp}");
}

backend_test!(
    a_revoked_token_is_inactive_on_the_next_call,
    with_introspection()
);
async fn a_revoked_token_is_inactive_on_the_next_call(app: TestApp) {
    let alice = app.new_user().await;
    let token = alice.token();
    assert!(introspect(&app, &token).await.active);
    assert_eq!(alice.logout().await.status(), StatusCode::NO_CONTENT);
    // No second of cache grace: the instance that revoked forgot at once.
    let answer = ask(&app, &token).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: serde_json::Value = answer.body().await;
    assert_eq!(body, serde_json::json!({"active": false}), "nothing else");
    for garbage in ["", "abc", "a.b.c"] {
        assert!(!introspect(&app, garbage).await.active, "{garbage:?}");
    }
}

backend_test!(introspection_takes_a_form, with_introspection());
async fn introspection_takes_a_form(app: TestApp) {
    let alice = app.new_user().await;
    let caller = app.anon().with_token(SECRET);
    let json = caller
        .post("/auth/introspect")
        .json(&serde_json::json!({"token": alice.token()}))
        .await;
    assert_error(
        json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let no_token = caller
        .post("/auth/introspect")
        .form(&[("token_type_hint", "access_token")])
        .await;
    assert_error(no_token, StatusCode::BAD_REQUEST, "invalid_request").await;
    let huge = "x".repeat(20 * 1024);
    let too_large = caller
        .post("/auth/introspect")
        .form(&[("token", huge.as_str())])
        .await;
    assert_error(
        too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
}
