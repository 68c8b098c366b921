//! `POST /auth/refresh`: rotation, the grace window, reuse detection, expiry.

use std::time::Duration;

use reqwest::StatusCode;
use wristband::api::TokenResponse;
use wristband::config::Settings;

use crate::helpers::storage::audit_events;
use crate::helpers::{ResponseExt, TestApp, backend_test, base_settings};

backend_test!(refresh_rotates_the_token);
async fn refresh_rotates_the_token(app: TestApp) {
    let user = app.new_user().await;
    let first = user.refresh_token();
    user.refresh().await;
    let next = user.refresh_token();
    assert_ne!(next, first, "a new refresh token");
    assert!(next.starts_with("wbr1."));
    assert_eq!(user.get("/auth/me").await.status(), StatusCode::OK);
    user.refresh().await;
    assert_ne!(user.refresh_token(), next);
}

backend_test!(the_predecessor_within_grace_gets_the_same_successor);
async fn the_predecessor_within_grace_gets_the_same_successor(app: TestApp) {
    let user = app.new_user().await;
    // A second tab (or a retry after a lost response) keeps the old token.
    let tab = user.clone();
    user.refresh().await;
    let successor = user.refresh_token();
    tab.refresh().await;
    assert_eq!(
        tab.refresh_token(),
        successor,
        "no new branch: every tab converges on one cookie"
    );
    assert_eq!(tab.get("/auth/me").await.status(), StatusCode::OK);
    // The successor is the one live token and still works.
    user.refresh().await;
    assert_ne!(user.refresh_token(), successor);
}

backend_test!(a_token_two_generations_old_is_reuse_and_kills_the_session);
async fn a_token_two_generations_old_is_reuse_and_kills_the_session(app: TestApp) {
    let user = app.new_user().await;
    let thief = user.clone();
    user.refresh().await;
    user.refresh().await;

    thief.refresh_refused("reused").await;

    // The whole session is gone: its live token and its access token.
    user.refresh_refused("revoked").await;
    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(audit_events(&app, &user.user().id).contains(&"refresh_reused".to_owned()));
}

fn short_grace() -> Settings {
    let mut s = base_settings();
    s.refresh_grace = Some("1s".into());
    s
}

backend_test!(
    the_predecessor_after_the_grace_window_is_reuse,
    short_grace()
);
async fn the_predecessor_after_the_grace_window_is_reuse(app: TestApp) {
    let user = app.new_user().await;
    let late_tab = user.clone();
    user.refresh().await;
    actix_web::rt::time::sleep(Duration::from_millis(1300)).await;
    late_tab.refresh_refused("reused").await;
    user.refresh_refused("revoked").await;
    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

backend_test!(missing_and_unknown_tokens_are_refused);
async fn missing_and_unknown_tokens_are_refused(app: TestApp) {
    let anon = app.anon();
    anon.refresh_refused("missing").await;
    anon.with_cookie("garbage").refresh_refused("unknown").await;
    // Well-formed but signed by another server.
    let foreign = wristband::tokens::RefreshKey::derive(b"some other server's secret material")
        .issue(&wristband::db::SessionId::new(), 1);
    anon.with_cookie(foreign.expose())
        .refresh_refused("unknown")
        .await;
}

fn short_idle() -> Settings {
    let mut s = base_settings();
    s.refresh_idle_ttl = Some("2s".into());
    s.refresh_grace = Some("1s".into());
    s
}

backend_test!(an_idle_session_expires, short_idle());
async fn an_idle_session_expires(app: TestApp) {
    let user = app.new_user().await;
    let response = user.post("/auth/refresh").await;
    let cookie = response.refresh_set_cookie().unwrap();
    assert!(
        cookie.contains("Max-Age=2") || cookie.contains("Max-Age=1"),
        "Max-Age follows the idle TTL: {cookie}"
    );
    let next = response.refresh_cookie().unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(2300)).await;
    user.with_cookie(&next).refresh_refused("expired").await;
}

backend_test!(twenty_parallel_refreshes_leave_one_live_successor);
async fn twenty_parallel_refreshes_leave_one_live_successor(app: TestApp) {
    let user = app.new_user().await;
    let original = user.clone();
    let tabs: Vec<_> = (0..20).map(|_| user.clone()).collect();
    let requests = tabs
        .iter()
        .map(|tab| tab.post("/auth/refresh").into_future());
    let responses = futures_util::future::join_all(requests).await;

    let mut cookies = Vec::new();
    for response in responses {
        assert!(
            !response.status().is_server_error(),
            "no 5xx: {}",
            response.status()
        );
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "every tab within grace is served"
        );
        cookies.push(response.refresh_cookie().unwrap());
        let _: TokenResponse = response.body().await;
    }
    cookies.dedup();
    assert_eq!(cookies.len(), 1, "all got the same successor");
    let successor = user.with_cookie(&cookies.remove(0));

    // Exactly one live successor: it rotates, and then the original is reuse.
    successor.refresh().await;
    original.refresh_refused("reused").await;
    successor.refresh_refused("revoked").await;
}

backend_test!(revoked_is_final);
async fn revoked_is_final(app: TestApp) {
    let user = app.new_user().await;
    let old = user.refresh_token();
    let response = user.without_token().logout().await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for _ in 0..2 {
        user.with_cookie(&old).refresh_refused("revoked").await;
    }
    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}
