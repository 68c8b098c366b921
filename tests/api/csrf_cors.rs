//! CSRF on the cookie endpoints (`/auth/refresh`, `/auth/logout`) and CORS
//! with credentials for the allowed origins only.

use reqwest::{Method, Response, StatusCode};
use wristband::config::Settings;

use crate::helpers::{Client, ResponseExt, TestApp, assert_error, backend_test, base_settings};

const ALLOWED: &str = "https://app.example.com";
const FOREIGN: &str = "https://evil.example";

/// No grace: a refresh that was wrongly carried out would make the next use of
/// the same cookie a reuse, so "nothing rotated" is visible.
fn strict() -> Settings {
    Settings {
        allowed_origins: Some(ALLOWED.into()),
        refresh_grace: Some("0s".into()),
        ..base_settings()
    }
}

async fn refresh_with(client: &Client, header: (&str, &str)) -> Response {
    client
        .post("/auth/refresh")
        .header(header.0, header.1)
        .await
}

backend_test!(foreign_origins_cannot_refresh, strict());
async fn foreign_origins_cannot_refresh(app: TestApp) {
    let alice = app.new_user().await;
    let cookie = alice.refresh_token();
    for header in [
        ("origin", FOREIGN),
        ("origin", "null"),
        ("origin", "http://127.0.0.1"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = refresh_with(&alice, header).await;
        assert!(
            response.refresh_set_cookie().is_none(),
            "{header:?}: no cookie change"
        );
        assert_error(response, StatusCode::FORBIDDEN, "invalid_origin").await;
    }
    assert_eq!(alice.refresh_token(), cookie);
    // Nothing was rotated: the same cookie is still the live one.
    alice.refresh().await;
}

backend_test!(own_and_allowed_origins_can_refresh, strict());
async fn own_and_allowed_origins_can_refresh(app: TestApp) {
    let alice = app.new_user().await;
    let own = app.address.clone();
    for header in [
        ("origin", own.as_str()),
        ("origin", ALLOWED),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-site", "same-site"),
    ] {
        let response = refresh_with(&alice, header).await;
        assert_eq!(response.status(), StatusCode::OK, "{header:?}");
    }
}

backend_test!(foreign_origins_cannot_log_out, strict());
async fn foreign_origins_cannot_log_out(app: TestApp) {
    let alice = app.new_user().await;
    let refused = alice.post("/auth/logout").header("origin", FOREIGN).await;
    assert_error(refused, StatusCode::FORBIDDEN, "invalid_origin").await;
    assert_eq!(
        alice.get("/auth/me").await.status(),
        StatusCode::OK,
        "not revoked"
    );
    let own = alice
        .post("/auth/logout")
        .header("origin", &app.address)
        .await;
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        alice.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

fn public() -> Settings {
    Settings {
        public_url: Some("https://auth.example.com".into()),
        ..base_settings()
    }
}

backend_test!(with_a_public_url_that_is_the_own_origin, public());
async fn with_a_public_url_that_is_the_own_origin(app: TestApp) {
    let alice = app.new_user().await;
    let host_derived = refresh_with(&alice, ("origin", &app.address)).await;
    assert_error(host_derived, StatusCode::FORBIDDEN, "invalid_origin").await;
    let public = refresh_with(&alice, ("origin", "https://auth.example.com")).await;
    assert_eq!(public.status(), StatusCode::OK);
}

async fn preflight(client: &Client, origin: &str) -> Response {
    client
        .request(Method::OPTIONS, "/auth/refresh")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .await
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

backend_test!(cors_answers_allowed_origins_with_credentials, strict());
async fn cors_answers_allowed_origins_with_credentials(app: TestApp) {
    let alice = app.new_user().await;
    let allowed = preflight(&app.anon(), ALLOWED).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");

    let me = alice.get("/auth/me").header("origin", ALLOWED).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        header(&me, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    assert_eq!(
        header(&me, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
}

backend_test!(cors_gives_foreign_origins_nothing, strict());
async fn cors_gives_foreign_origins_nothing(app: TestApp) {
    let alice = app.new_user().await;
    // Without `Access-Control-Allow-Origin` the browser hands the page nothing
    // (whatever else the response carries).
    let foreign = preflight(&app.anon(), FOREIGN).await;
    assert!(!foreign.status().is_server_error());
    assert_eq!(header(&foreign, "access-control-allow-origin"), None);
    let me = alice.get("/auth/me").header("origin", FOREIGN).await;
    assert_eq!(header(&me, "access-control-allow-origin"), None);
}

/// Asserts that CORS and the cookie endpoints' check both let `sent` in: the
/// preflight is answered with the browser's own spelling of the origin, and
/// a refresh from it is not refused as `invalid_origin`.
async fn cors_and_csrf_both_allow(app: &TestApp, sent: &str) {
    let alice = app.new_user().await;
    let allowed = preflight(&app.anon(), sent).await;
    assert!(
        allowed.status().is_success(),
        "{sent}: {}",
        allowed.status()
    );
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(sent),
        "CORS for {sent}"
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let refreshed = refresh_with(&alice, ("origin", sent)).await;
    assert_eq!(refreshed.status(), StatusCode::OK, "CSRF check for {sent}");
}

fn allowing(origin: &str) -> Settings {
    Settings {
        allowed_origins: Some(origin.into()),
        ..base_settings()
    }
}

backend_test!(
    an_origin_configured_in_mixed_case_matches_for_cors_and_csrf,
    allowing("https://App.Example.com")
);
async fn an_origin_configured_in_mixed_case_matches_for_cors_and_csrf(app: TestApp) {
    cors_and_csrf_both_allow(&app, "https://app.example.com").await;
}

backend_test!(
    an_origin_sent_in_mixed_case_matches_for_cors_and_csrf,
    allowing(ALLOWED)
);
async fn an_origin_sent_in_mixed_case_matches_for_cors_and_csrf(app: TestApp) {
    cors_and_csrf_both_allow(&app, "https://App.Example.com").await;
}
