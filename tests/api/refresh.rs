use std::time::Duration;

use reqwest::StatusCode;
use wristband::db::Database;
use wristband::db::DatabaseUrl;
use wristband::db::audit::AuditRow;

use crate::legacy::{
    TestApp, base_settings, each_backend, each_backend_with, json_body, refresh_cookie,
};

fn audit_events(app: &TestApp, user_id: &str) -> Vec<String> {
    let db = Database::connect(&DatabaseUrl::parse(&app.database_url).unwrap(), 1).unwrap();
    let mut conn = db.get().unwrap();
    AuditRow::list(&mut conn, Some(user_id), 100)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

#[actix_web::test]
async fn refresh_rotates_the_token() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let (access, next) = app.refresh_ok(&user.refresh).await;
        assert_ne!(next, user.refresh, "a new refresh token");
        assert!(next.starts_with("wbr1."));
        assert_eq!(app.me(&access).await.status(), StatusCode::OK);
        let (_, after) = app.refresh_ok(&next).await;
        assert_ne!(after, next);
    })
    .await;
}

#[actix_web::test]
async fn the_predecessor_within_grace_gets_the_same_successor() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let (_, successor) = app.refresh_ok(&user.refresh).await;
        // A second tab (or a retry after a lost response) presents the old token.
        let (access, again) = app.refresh_ok(&user.refresh).await;
        assert_eq!(
            again, successor,
            "no new branch: every tab converges on one cookie"
        );
        assert_eq!(app.me(&access).await.status(), StatusCode::OK);
        // The successor is the one live token and still works.
        let (_, third) = app.refresh_ok(&successor).await;
        assert_ne!(third, successor);
    })
    .await;
}

#[actix_web::test]
async fn a_token_two_generations_old_is_reuse_and_kills_the_session() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let (_, second) = app.refresh_ok(&user.refresh).await;
        let (access, third) = app.refresh_ok(&second).await;

        app.refresh_refused(Some(&user.refresh), "reused").await;

        // The whole session is gone: its live token and its access token.
        app.refresh_refused(Some(&third), "revoked").await;
        assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
        assert!(audit_events(&app, &user.user_id).contains(&"refresh_reused".to_owned()));
    })
    .await;
}

#[actix_web::test]
async fn the_predecessor_after_the_grace_window_is_reuse() {
    let short_grace = || {
        let mut s = base_settings();
        s.refresh_grace = Some("1s".into());
        s
    };
    each_backend_with(short_grace, |app| async move {
        let user = app.new_user().await;
        let (access, successor) = app.refresh_ok(&user.refresh).await;
        actix_web::rt::time::sleep(Duration::from_millis(1300)).await;
        app.refresh_refused(Some(&user.refresh), "reused").await;
        app.refresh_refused(Some(&successor), "revoked").await;
        assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[actix_web::test]
async fn missing_and_unknown_tokens_are_refused() {
    each_backend(|app| async move {
        app.refresh_refused(None, "missing").await;
        app.refresh_refused(Some("garbage"), "unknown").await;
        // Well-formed but signed by another server.
        let foreign = wristband::tokens::RefreshKey::derive(b"some other server's secret material")
            .issue(uuid::Uuid::new_v4(), 1);
        app.refresh_refused(Some(foreign.expose()), "unknown").await;
    })
    .await;
}

#[actix_web::test]
async fn an_idle_session_expires() {
    let short_idle = || {
        let mut s = base_settings();
        s.refresh_idle_ttl = Some("2s".into());
        s.refresh_grace = Some("1s".into());
        s
    };
    each_backend_with(short_idle, |app| async move {
        let user = app.new_user().await;
        let response = app.refresh(Some(&user.refresh)).await;
        let cookie = crate::legacy::set_cookie_header(response.headers()).unwrap();
        assert!(
            cookie.contains("Max-Age=2") || cookie.contains("Max-Age=1"),
            "Max-Age follows the idle TTL: {cookie}"
        );
        let next = refresh_cookie(response.headers()).unwrap();
        actix_web::rt::time::sleep(Duration::from_millis(2300)).await;
        app.refresh_refused(Some(&next), "expired").await;
    })
    .await;
}

#[actix_web::test]
async fn twenty_parallel_refreshes_leave_one_live_successor() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let requests = (0..20).map(|_| app.refresh(Some(&user.refresh)));
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
            cookies.push(refresh_cookie(response.headers()).unwrap());
            let _ = json_body(response).await;
        }
        cookies.dedup();
        assert_eq!(cookies.len(), 1, "all got the same successor");
        let successor = cookies.remove(0);

        // Exactly one live successor: it rotates, and then the original is reuse.
        let (_, next) = app.refresh_ok(&successor).await;
        app.refresh_refused(Some(&user.refresh), "reused").await;
        app.refresh_refused(Some(&next), "revoked").await;
    })
    .await;
}

#[actix_web::test]
async fn revoked_is_final() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        assert_eq!(
            app.logout(Some(&user.refresh), None).await.status(),
            StatusCode::NO_CONTENT
        );
        for _ in 0..2 {
            app.refresh_refused(Some(&user.refresh), "revoked").await;
        }
        assert_eq!(
            app.me(&user.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}
