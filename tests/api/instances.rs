//! Several instances on one database: a generated secret is shared, and a
//! revocation on one is seen by the others within a second.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use wristband::api::{PasswordChange, TokenResponse};

use crate::helpers::{PASSWORD, ResponseExt, TestDatabase, backend_test, base_settings};

backend_test!(instances_share_the_generated_secret_and_see_revocations_within_a_second);
async fn instances_share_the_generated_secret_and_see_revocations_within_a_second(
    db: TestDatabase,
) {
    let mut settings = base_settings();
    settings.jwt_secret = None;
    let a = db.spawn(settings.clone()).await;
    let b = db.spawn(settings).await;

    let user = a.new_user().await;
    // B accepts A's tokens: one generated key, kept in the database.
    assert_eq!(user.on(&b).get("/auth/me").await.status(), StatusCode::OK);
    let refreshed = user.on(&b);
    refreshed.refresh().await;

    // Logging out on A with the cookie B rotated to (and no token).
    assert_eq!(
        refreshed.on(&a).without_token().logout().await.status(),
        StatusCode::NO_CONTENT
    );
    // A refuses at once; B within its one-second cache.
    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let revoked_at = Instant::now();
    loop {
        let status = user.on(&b).get("/auth/me").await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            revoked_at.elapsed() < Duration::from_millis(1500),
            "{:?}: B still accepts after 1.5 s",
            db.backend
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

backend_test!(a_token_minted_after_a_password_change_works_at_once_on_other_instances);
async fn a_token_minted_after_a_password_change_works_at_once_on_other_instances(db: TestDatabase) {
    let a = db.spawn(base_settings()).await;
    let b = db.spawn(base_settings()).await;
    let user = a.new_user().await;
    // B remembers the session at the old version.
    assert_eq!(user.on(&b).get("/auth/me").await.status(), StatusCode::OK);

    let change = PasswordChange::new(PASSWORD, "another fine password");
    let response = user.post("/auth/password").json(&change).await;
    let tokens: TokenResponse = response.body().await;

    assert_eq!(
        user.on(&b)
            .with_token(&tokens.access_token)
            .get("/auth/me")
            .await
            .status(),
        StatusCode::OK,
        "{:?}: the newer version is looked up",
        db.backend
    );
}

#[actix_web::test]
async fn a_throw_away_server_runs_on_sqlite_memory() {
    let app = TestDatabase::sqlite_memory().spawn(base_settings()).await;
    let user = app.new_user().await;
    user.refresh().await;
    assert_eq!(user.get("/auth/me").await.status(), StatusCode::OK);
    let tabs: Vec<_> = (0..10).map(|_| user.clone()).collect();
    let requests = tabs
        .iter()
        .map(|tab| tab.post("/auth/refresh").into_future());
    let parallel = futures_util::future::join_all(requests).await;
    assert!(
        parallel.iter().all(|r| r.status() == StatusCode::OK),
        "no lock errors on the shared in-memory database"
    );
    assert_eq!(
        user.without_token().logout().await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}
