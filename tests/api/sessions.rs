//! `/auth/sessions`: a user's own sessions, and the purge of ended ones.

use reqwest::StatusCode;
use serde_json::Value;
use wristband::api::Session;

use crate::helpers::storage::{audit_events, purge_sessions};
use crate::helpers::{ResponseExt, TestApp, assert_error, backend_test};

backend_test!(sessions_list_marks_the_current_one_and_shows_no_secrets);
async fn sessions_list_marks_the_current_one_and_shows_no_secrets(app: TestApp) {
    let first = app.login_as("nina@example.com").await;
    let second = app.login_as("nina@example.com").await;
    let response = second.get("/auth/sessions").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("wbr1.")
            && !text.contains(&second.refresh_token())
            && !text.contains("hash")
    );
    // Every field is on the wire, even when empty.
    let raw: Vec<Value> = serde_json::from_str(&text).unwrap();
    for session in &raw {
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
    }
    let sessions: Vec<Session> = serde_json::from_str(&text).unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    for session in &sessions {
        assert_eq!(session.ip.as_deref(), Some("127.0.0.1"));
    }
    // The first session sees itself as current.
    let mine = first.current_session().await;
    assert_ne!(mine.id, current[0].id);
}

backend_test!(deleting_one_of_my_sessions_kills_its_tokens);
async fn deleting_one_of_my_sessions_kills_its_tokens(app: TestApp) {
    let keep = app.login_as("olga@example.com").await;
    let lost = app.login_as("olga@example.com").await;
    let sessions: Vec<Session> = keep.get("/auth/sessions").await.body().await;
    let target = sessions.into_iter().find(|s| !s.current).unwrap().id;

    let response = keep.delete(&format!("/auth/sessions/{target}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        lost.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    lost.refresh_refused("revoked").await;
    assert_eq!(keep.get("/auth/me").await.status(), StatusCode::OK);
    let left: Vec<Session> = keep.get("/auth/sessions").await.body().await;
    assert_eq!(left.len(), 1);
}

backend_test!(other_users_sessions_are_404);
async fn other_users_sessions_are_404(app: TestApp) {
    let me = app.new_user().await;
    let them = app.new_user().await;
    let theirs: Vec<Session> = them.get("/auth/sessions").await.body().await;
    let id = &theirs[0].id;

    assert_error(
        me.delete(&format!("/auth/sessions/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        them.get("/auth/me").await.status(),
        StatusCode::OK,
        "untouched"
    );
    let random = uuid::Uuid::new_v4();
    assert_error(
        me.delete(&format!("/auth/sessions/{random}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        me.delete("/auth/sessions/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

backend_test!(the_purge_removes_ended_sessions_and_keeps_live_ones);
async fn the_purge_removes_ended_sessions_and_keeps_live_ones(app: TestApp) {
    let ended = app.login_as("sam@example.com").await;
    let live = app.login_as("sam@example.com").await;
    let ended_id = ended.current_session().await.id;
    let live_id = live.current_session().await.id;
    ended.without_token().logout().await;

    // As the periodic task does a day later: revoked before the cutoff goes.
    let ids = vec![ended_id.to_string(), live_id.to_string()];
    let (purged, kept) = purge_sessions(&app, ids).await;
    assert_eq!(purged, 1);
    assert!(!kept[0], "the ended session is gone");
    assert!(kept[1], "the live session is kept");
    assert_eq!(live.get("/auth/me").await.status(), StatusCode::OK);
}

backend_test!(logout_others_ends_every_other_session_and_keeps_mine);
async fn logout_others_ends_every_other_session_and_keeps_mine(app: TestApp) {
    let mine = app.login_as("pia@example.com").await;
    let phone = app.login_as("pia@example.com").await;
    let tablet = app.login_as("pia@example.com").await;
    let stranger = app.login_as("quentin@example.com").await;

    let response = mine.post("/auth/logout-others").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.body().await;
    assert_eq!(body, serde_json::json!({"revoked": 2}));

    // Mine lives on, token and cookie alike (no version bump).
    assert_eq!(mine.get("/auth/me").await.status(), StatusCode::OK);
    mine.refresh().await;
    for other in [&phone, &tablet] {
        assert_eq!(
            other.get("/auth/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        other.refresh_refused("revoked").await;
    }
    assert_eq!(stranger.get("/auth/me").await.status(), StatusCode::OK);
    let sessions: Vec<Session> = mine.get("/auth/sessions").await.body().await;
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].current);
    let events = audit_events(&app, &mine.user().id);
    assert_eq!(events[0], "other_sessions_revoked");
    // Nothing left to end.
    let again: Value = mine.post("/auth/logout-others").await.body().await;
    assert_eq!(again["revoked"], 0);
    let metrics = app.anon().get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"wristband_revocations_total{cause="other_sessions_revoked"} 2"#),
        "{metrics}"
    );
}

backend_test!(logout_others_needs_a_bearer_token);
async fn logout_others_needs_a_bearer_token(app: TestApp) {
    let mine = app.login_as("rosa@example.com").await;
    let response = mine.without_token().post("/auth/logout-others").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
}

backend_test!(sessions_name_their_devices);
async fn sessions_name_their_devices(app: TestApp) {
    let reader = app.login_as("sam@example.com").await;
    for agent in [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "curl/8.5.0",
    ] {
        let response = app
            .anon()
            .post("/auth/login")
            .header("user-agent", agent)
            .json(&wristband::api::Credentials::new(
                "sam@example.com",
                crate::helpers::PASSWORD,
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let sessions: Vec<Session> = reader.get("/auth/sessions").await.body().await;
    let mut devices: Vec<_> = sessions.iter().map(|s| s.device.as_str()).collect();
    devices.sort();
    // The test client's own agent, "wristband-tests", is no known browser.
    assert_eq!(
        devices,
        ["Chrome 131 on macOS", "Unknown device", "curl 8.5"]
    );
}
