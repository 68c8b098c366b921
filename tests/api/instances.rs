//! Several instances on one database: a generated secret is shared, and a
//! revocation on one is seen by the others within a second.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::legacy::{backends, base_settings, fresh_database, spawn_on};

#[actix_web::test]
async fn instances_share_the_generated_secret_and_see_revocations_within_a_second() {
    for backend in backends() {
        let (url, dir) = fresh_database(backend);
        let mut settings = base_settings();
        settings.jwt_secret = None;
        let a = spawn_on(url.clone(), dir.clone(), settings.clone()).await;
        let b = spawn_on(url, dir, settings).await;

        let user = a.new_user().await;
        // B accepts A's tokens: one generated key, kept in the database.
        assert_eq!(b.me(&user.access_token).await.status(), StatusCode::OK);
        let (_, refreshed) = b.refresh_ok(&user.refresh).await;

        assert_eq!(
            a.logout(Some(&refreshed), None).await.status(),
            StatusCode::NO_CONTENT
        );
        // A refuses at once; B within its one-second cache.
        assert_eq!(
            a.me(&user.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let revoked_at = Instant::now();
        loop {
            let status = b.me(&user.access_token).await.status();
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK);
            assert!(
                revoked_at.elapsed() < Duration::from_millis(1500),
                "{backend:?}: B still accepts after 1.5 s"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[actix_web::test]
async fn a_token_minted_after_a_password_change_works_at_once_on_other_instances() {
    for backend in backends() {
        let (url, dir) = fresh_database(backend);
        let a = spawn_on(url.clone(), dir.clone(), base_settings()).await;
        let b = spawn_on(url, dir, base_settings()).await;
        let user = a.new_user().await;
        // B remembers the session at the old version.
        assert_eq!(b.me(&user.access_token).await.status(), StatusCode::OK);

        let body = serde_json::json!({"current_password": crate::legacy::PASSWORD, "new_password": "another fine password"});
        let response = a
            .post_bearer("/auth/password", &user.access_token, Some(&body))
            .await;
        let new_token = response.json::<serde_json::Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();

        assert_eq!(
            b.me(&new_token).await.status(),
            StatusCode::OK,
            "{backend:?}: the newer version is looked up"
        );
    }
}

#[actix_web::test]
async fn a_throw_away_server_runs_on_sqlite_memory() {
    let app = spawn_on("sqlite::memory:".into(), None, base_settings()).await;
    let user = app.new_user().await;
    let (access, next) = app.refresh_ok(&user.refresh).await;
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    let parallel = futures_util::future::join_all((0..10).map(|_| app.refresh(Some(&next)))).await;
    assert!(
        parallel.iter().all(|r| r.status() == StatusCode::OK),
        "no lock errors on the shared in-memory database"
    );
    assert_eq!(
        app.logout(Some(&next), None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
}
