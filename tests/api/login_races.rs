//! Races and windows around the password: a login that verified the old
//! password while it was changed, refresh tokens from before a change, and a
//! grace window longer than the idle lifetime.

use std::future::IntoFuture;
use std::time::Duration;

use reqwest::StatusCode;
use wristband::api::{PasswordChange, TokenResponse};
use wristband::config::Settings;

use crate::helpers::{PASSWORD, ResponseExt, TestApp, backend_test, base_settings};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn slow_bcrypt() -> Settings {
    Settings {
        bcrypt_cost: Some("10".into()),
        ..base_settings()
    }
}

backend_test!(
    a_login_that_verified_the_old_password_does_not_outlive_the_change,
    slow_bcrypt()
);
async fn a_login_that_verified_the_old_password_does_not_outlive_the_change(app: TestApp) {
    // The login starts at different moments of the change (which verifies,
    // hashes, then commits), so some runs read the old hash before the commit
    // and finish verifying it after.
    for offset_ms in (0..=240).step_by(30) {
        let owner = app.new_user().await;
        let email = owner.user().email.clone();
        let change = owner
            .post("/auth/password")
            .json(&PasswordChange::new(PASSWORD, NEW_PASSWORD));
        let anon = app.anon();
        let login = async {
            actix_web::rt::time::sleep(Duration::from_millis(offset_ms)).await;
            anon.try_login(&email, PASSWORD).await
        };
        let (changed, logged_in) = futures_util::future::join(change.into_future(), login).await;
        assert_eq!(changed.status(), StatusCode::OK, "offset {offset_ms} ms");
        if logged_in.status() == StatusCode::OK {
            // Verified the old password: whatever it got must already be dead.
            let tokens: TokenResponse = logged_in.body().await;
            let late = anon.with_token(&tokens.access_token);
            assert_eq!(
                late.get("/auth/me").await.status(),
                StatusCode::UNAUTHORIZED,
                "offset {offset_ms} ms: a login with the old password outlived the change"
            );
            late.refresh_refused("revoked").await;
        } else {
            assert_eq!(logged_in.status(), StatusCode::UNAUTHORIZED);
        }
    }
}

backend_test!(a_password_change_spends_the_earlier_refresh_tokens);
async fn a_password_change_spends_the_earlier_refresh_tokens(app: TestApp) {
    let alice = app.new_user().await;
    let before_change = alice.refresh_token();
    let response = alice
        .post("/auth/password")
        .json(&PasswordChange::new(PASSWORD, NEW_PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Within the grace window, yet no longer the predecessor of anything.
    alice
        .with_cookie(&before_change)
        .refresh_refused("reused")
        .await;
}

fn short_idle() -> Settings {
    Settings {
        refresh_idle_ttl: Some("2s".into()),
        ..base_settings()
    }
}

backend_test!(
    a_grace_window_longer_than_the_idle_ttl_is_bounded_by_the_session,
    short_idle()
);
async fn a_grace_window_longer_than_the_idle_ttl_is_bounded_by_the_session(app: TestApp) {
    // The default 10 s grace with a 2 s idle lifetime: the server starts.
    let alice = app.new_user().await;
    let first = alice.refresh_token();
    alice.refresh().await;
    // The predecessor is answered within grace…
    let tab = alice.with_cookie(&first);
    tab.refresh().await;
    // …until the session itself has ended.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    alice.with_cookie(&first).refresh_refused("expired").await;
    alice.refresh_refused("expired").await;
}
