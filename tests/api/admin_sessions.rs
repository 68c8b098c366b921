//! `/admin/*` on sessions: listing and revoking a user's sessions, and the
//! audit trail of who did what from where.

use reqwest::StatusCode;
use wristband::api::{AuditEvent, PasswordChange, Session, TokenResponse, User, UserPatch};

use crate::helpers::{
    Client, PASSWORD, ResponseExt, TestApp, admin_settings, assert_error, backend_test,
};

/// The sessions of `user`, as `admin` sees them.
async fn sessions_of(admin: &Client, user: &User) -> Vec<Session> {
    let path = format!("/admin/users/{}/sessions", user.id);
    admin.get(&path).await.body().await
}

backend_test!(
    admins_see_and_revoke_all_sessions_of_a_user,
    admin_settings()
);
async fn admins_see_and_revoke_all_sessions_of_a_user(app: TestApp) {
    let admin = app.admin().await;
    let laptop = app.login_as("pat@example.com").await;
    let phone = app.login_as("pat@example.com").await;
    let path = format!("/admin/users/{}/sessions", laptop.user().id);

    let response = admin.get(&path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains("wbr1.") && !text.contains(&laptop.refresh_token()));
    let sessions: Vec<Session> = serde_json::from_str(&text).unwrap();
    assert_eq!(sessions.len(), 2);
    for s in &sessions {
        assert_eq!(
            (s.ip.as_deref(), s.user_agent.as_deref(), s.current),
            (Some("127.0.0.1"), Some("wristband-tests"), false)
        );
    }

    assert_eq!(admin.delete(&path).await.status(), StatusCode::NO_CONTENT);
    for device in [&laptop, &phone] {
        assert_eq!(
            device.get("/auth/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        device.refresh_refused("revoked").await;
    }
    assert!(sessions_of(&admin, laptop.user()).await.is_empty());
    // The admin's own session is untouched, and the user can log in again.
    assert_eq!(admin.get("/auth/me").await.status(), StatusCode::OK);
    assert_eq!(
        app.anon()
            .try_login("pat@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

backend_test!(admins_revoke_one_session, admin_settings());
async fn admins_revoke_one_session(app: TestApp) {
    let admin = app.admin().await;
    let first = app.login_as("quinn@example.com").await;
    let second = app.login_as("quinn@example.com").await;
    // Sessions are listed newest first: the second login is the first entry.
    let sessions = sessions_of(&admin, first.user()).await;
    let response = admin
        .delete(&format!("/admin/sessions/{}", sessions[1].id))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        first.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    first.refresh_refused("revoked").await;
    assert_eq!(second.get("/auth/me").await.status(), StatusCode::OK);
    second.refresh().await;
}

backend_test!(
    the_audit_trail_records_who_did_what_from_where,
    admin_settings()
);
async fn the_audit_trail_records_who_did_what_from_where(app: TestApp) {
    let admin = app.admin().await;
    let user = app.login_as("rita@example.com").await;
    let other = app.login_as("rita@example.com").await;
    app.anon()
        .try_login("rita@example.com", "wrong password")
        .await
        .status();
    // Reuse: rotate twice, present the first token.
    let first = other.clone();
    other.refresh().await;
    other.refresh().await;
    first.refresh_refused("reused").await;
    let change = PasswordChange::new(PASSWORD, "another good password");
    let changed = user.post("/auth/password").json(&change).await;
    let tokens: TokenResponse = changed.body().await;
    let renewed = user.with_token(&tokens.access_token);
    let third = app.login("rita@example.com", "another good password").await;
    let fourth = app.login("rita@example.com", "another good password").await;
    let third_id = third.current_session().await.id;
    assert_eq!(
        renewed
            .delete(&format!("/auth/sessions/{third_id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    fourth.without_token().logout().await;
    renewed.post("/auth/logout-all").await;
    let target = format!("/admin/users/{}", user.user().id);
    let disable = UserPatch {
        disabled: Some(true),
        ..Default::default()
    };
    admin.patch(&target).json(&disable).await;
    admin.delete(&format!("{target}/sessions")).await;

    let response = admin
        .get(&format!("/admin/audit?user_id={}", user.user().id))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let events: Vec<AuditEvent> = response.body().await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    for expected in [
        "user_created",
        "login_succeeded",
        "login_failed",
        "refresh_reused",
        "password_changed",
        "session_revoked",
        "logout",
        "logout_all",
        "user_updated",
        "user_sessions_revoked",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        events
            .iter()
            .all(|e| e.user_id.as_ref() == Some(&user.user().id))
    );
    assert!(events.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let admin_acts: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.event == "user_updated" || e.event == "user_sessions_revoked")
        .collect();
    assert!(
        admin_acts
            .iter()
            .all(|e| e.actor_id.as_ref() == Some(&admin.user().id))
    );
    assert!(
        events
            .iter()
            .all(|e| e.ip.as_deref() == Some("127.0.0.1") && e.user_agent.is_some())
    );
    let reused = events.iter().find(|e| e.event == "refresh_reused").unwrap();
    assert!(reused.session_id.is_some());

    let limited: Vec<AuditEvent> = admin.get("/admin/audit?limit=2").await.body().await;
    assert_eq!(limited.len(), 2);
    let response = admin.get("/admin/audit?user_id=nope").await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}
