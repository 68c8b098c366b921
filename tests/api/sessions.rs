use reqwest::StatusCode;

use crate::legacy::{assert_error, each_backend, json_body};

#[actix_web::test]
async fn sessions_list_marks_the_current_one_and_shows_no_secrets() {
    each_backend(|app| async move {
        let first = app.login_as("nina@example.com").await;
        let second = app.login_as("nina@example.com").await;
        let response = app.get("/auth/sessions", &second.access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("wbr1.") && !text.contains(&second.refresh) && !text.contains("hash")
        );
        let sessions: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(sessions.len(), 2);
        let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        for session in &sessions {
            for field in [
                "id",
                "created_at",
                "last_refreshed_at",
                "expires_at",
                "user_agent",
                "ip",
                "current",
            ] {
                assert!(session.get(field).is_some(), "{field} in {session}");
            }
            assert_eq!(session["ip"], "127.0.0.1");
        }
        // The first session sees itself as current.
        let from_first = json_body(app.get("/auth/sessions", &first.access_token).await).await;
        let mine = from_first
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap();
        assert_ne!(mine["id"], current[0]["id"]);
    })
    .await;
}

#[actix_web::test]
async fn deleting_one_of_my_sessions_kills_its_tokens() {
    each_backend(|app| async move {
        let keep = app.login_as("olga@example.com").await;
        let lost = app.login_as("olga@example.com").await;
        let sessions = json_body(app.get("/auth/sessions", &keep.access_token).await).await;
        let target = sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == false)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let response = app
            .delete(&format!("/auth/sessions/{target}"), &keep.access_token)
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            app.me(&lost.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        app.refresh_refused(Some(&lost.refresh), "revoked").await;
        assert_eq!(app.me(&keep.access_token).await.status(), StatusCode::OK);
        let left = json_body(app.get("/auth/sessions", &keep.access_token).await).await;
        assert_eq!(left.as_array().unwrap().len(), 1);
    })
    .await;
}

#[actix_web::test]
async fn other_users_sessions_are_404() {
    each_backend(|app| async move {
        let me = app.new_user().await;
        let them = app.new_user().await;
        let theirs = json_body(app.get("/auth/sessions", &them.access_token).await).await;
        let id = theirs[0]["id"].as_str().unwrap().to_owned();

        assert_error(
            app.delete(&format!("/auth/sessions/{id}"), &me.access_token)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(
            app.me(&them.access_token).await.status(),
            StatusCode::OK,
            "untouched"
        );
        let random = uuid::Uuid::new_v4();
        assert_error(
            app.delete(&format!("/auth/sessions/{random}"), &me.access_token)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_error(
            app.delete("/auth/sessions/not-a-uuid", &me.access_token)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    })
    .await;
}

#[actix_web::test]
async fn the_purge_removes_ended_sessions_and_keeps_live_ones() {
    use wristband::db::sessions::SessionRow;
    use wristband::db::{Database, DatabaseUrl, now};
    each_backend(|app| async move {
        let ended = app.login_as("sam@example.com").await;
        let live = app.login_as("sam@example.com").await;
        let ended_id = app.current_session_id(&ended.access_token).await;
        let live_id = app.current_session_id(&live.access_token).await;
        app.logout(Some(&ended.refresh), None).await;

        let url = DatabaseUrl::parse(&app.database_url).unwrap();
        let (purged, ended_row, live_row) = actix_web::web::block(move || {
            let db = Database::connect(&url, 1).unwrap();
            let mut conn = db.get().unwrap();
            // As the periodic task does a day later: revoked before the cutoff goes.
            let cutoff = now() + chrono::TimeDelta::seconds(1);
            let purged = SessionRow::purge(&mut conn, cutoff, chrono::TimeDelta::days(7)).unwrap();
            let ended_row = SessionRow::find(&mut conn, &ended_id).unwrap();
            let live_row = SessionRow::find(&mut conn, &live_id).unwrap();
            (purged, ended_row, live_row)
        })
        .await
        .unwrap();
        assert_eq!(purged, 1);
        assert!(ended_row.is_none());
        assert!(live_row.is_some());
        assert_eq!(app.me(&live.access_token).await.status(), StatusCode::OK);
    })
    .await;
}
