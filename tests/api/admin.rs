//! `/admin/*`: authorization, each route's happy path and 404, and the effect
//! on the target user's tokens.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::legacy::{
    PASSWORD, TestApp, admin_settings, assert_error, each_backend_with, json_body,
};

fn routes(user_id: &str, session_id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/admin/users".into()),
        (Method::POST, "/admin/users".into()),
        (Method::GET, format!("/admin/users/{user_id}")),
        (Method::PATCH, format!("/admin/users/{user_id}")),
        (Method::GET, format!("/admin/users/{user_id}/sessions")),
        (Method::DELETE, format!("/admin/users/{user_id}/sessions")),
        (Method::DELETE, format!("/admin/sessions/{session_id}")),
        (Method::GET, "/admin/audit".into()),
    ]
}

async fn session_ids(app: &TestApp, admin: &str, user_id: &str) -> Vec<String> {
    let sessions = json_body(
        app.get(&format!("/admin/users/{user_id}/sessions"), admin)
            .await,
    )
    .await;
    sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn every_admin_route_needs_an_admin() {
    each_backend_with(admin_settings, |app| async move {
        let user = app.new_user().await;
        let admin = app.admin().await;
        let session = session_ids(&app, &admin.access_token, &user.user_id)
            .await
            .remove(0);
        // Authorization is decided before the path or the body is looked at:
        // bad ids and bodies a handler would refuse with 400/404 still get
        // 401/403, every time.
        let bodies = [
            json!({"email": "x@example.com", "password": PASSWORD, "disabled": true}),
            json!({"unknown": 1}),
        ];
        let mut cases = routes(&user.user_id, &session);
        cases.extend(routes("not-a-uuid", "not-a-uuid"));
        for (method, path) in cases {
            for body in &bodies {
                let what = format!("{method} {path} {body}");
                let none = app.send(method.clone(), &path, None, Some(body)).await;
                assert_eq!(
                    none.status(),
                    StatusCode::UNAUTHORIZED,
                    "{what} without a token"
                );
                assert_eq!(json_body(none).await["error"], "missing_token", "{what}");
                let bad = app
                    .send(method.clone(), &path, Some("e30.e30.e30"), Some(body))
                    .await;
                assert_eq!(
                    json_body(bad).await["error"],
                    "invalid_token",
                    "{what} with a bad token"
                );
                // A fresh session each time: its liveness is not cached, so the
                // admin check is at its slowest against a failing path or body.
                let fresh = app.login_with(&user.email, PASSWORD).await;
                let forbidden = app
                    .send(method.clone(), &path, Some(&fresh.access_token), Some(body))
                    .await;
                assert_eq!(
                    forbidden.status(),
                    StatusCode::FORBIDDEN,
                    "{what} as a user"
                );
                assert_eq!(json_body(forbidden).await["error"], "forbidden", "{what}");
            }
        }
        // Nothing happened to the user.
        assert_eq!(app.me(&user.access_token).await.status(), StatusCode::OK);
    })
    .await;
}

#[actix_web::test]
async fn admins_create_users_even_with_registration_closed() {
    let closed = || {
        let mut s = admin_settings();
        s.registration = Some("closed".into());
        s
    };
    each_backend_with(closed, |app| async move {
        let admin = app.admin().await;
        assert_error(
            app.register("self@example.com", PASSWORD).await,
            StatusCode::FORBIDDEN,
            "registration_closed",
        )
        .await;

        let body = json!({"email": "Staff@Example.com", "password": PASSWORD, "role": "admin"});
        let response = app
            .post_bearer("/admin/users", &admin.access_token, Some(&body))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let user = json_body(response).await;
        assert_eq!(
            (user["email"].as_str(), user["role"].as_str()),
            (Some("staff@example.com"), Some("admin"))
        );
        assert_eq!(
            app.login("staff@example.com", PASSWORD).await.status(),
            StatusCode::OK
        );

        let plain = json!({"email": "plain@example.com", "password": PASSWORD});
        let response = app
            .post_bearer("/admin/users", &admin.access_token, Some(&plain))
            .await;
        assert_eq!(
            json_body(response).await["role"],
            "user",
            "role defaults to user"
        );

        let again = app
            .post_bearer("/admin/users", &admin.access_token, Some(&body))
            .await;
        assert_error(again, StatusCode::CONFLICT, "email_taken").await;
        let bad_role = json!({"email": "r@example.com", "password": PASSWORD, "role": "root"});
        let response = app
            .post_bearer("/admin/users", &admin.access_token, Some(&bad_role))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let weak = json!({"email": "w@example.com", "password": "short"});
        let response = app
            .post_bearer("/admin/users", &admin.access_token, Some(&weak))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    })
    .await;
}

#[actix_web::test]
async fn admins_find_users_by_email_with_paging() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        for name in ["findme_1", "findme_2", "findme_3", "other"] {
            app.register(&format!("{name}@example.com"), PASSWORD).await;
        }
        let list = json_body(
            app.get("/admin/users?email=FINDME", &admin.access_token)
                .await,
        )
        .await;
        assert_eq!(list["total"], 3);
        assert_eq!(list["users"].as_array().unwrap().len(), 3);

        let page = json_body(
            app.get(
                "/admin/users?email=findme&limit=1&offset=1",
                &admin.access_token,
            )
            .await,
        )
        .await;
        assert_eq!(page["total"], 3);
        assert_eq!(page["users"].as_array().unwrap().len(), 1);
        assert_eq!(page["users"][0]["email"], "findme_2@example.com");

        // LIKE wildcards in the filter are literal.
        let literal = json_body(app.get("/admin/users?email=%25", &admin.access_token).await).await;
        assert_eq!(literal["total"], 0);
        let everyone = json_body(app.get("/admin/users", &admin.access_token).await).await;
        assert_eq!(everyone["total"], 5, "four users and the admin");
        assert!(everyone.to_string().find("password").is_none());

        let response = app.get("/admin/users?limit=-1", &admin.access_token).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let response = app.get("/admin/users?limit=ten", &admin.access_token).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        // A NUL byte would be a database error on PostgreSQL: refused up front.
        let response = app
            .get("/admin/users?email=a%00b", &admin.access_token)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    })
    .await;
}

#[actix_web::test]
async fn unknown_ids_are_404() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        let token = admin.access_token.as_str();
        let unknown = uuid::Uuid::new_v4();
        for (method, path) in routes(&unknown.to_string(), &unknown.to_string()) {
            if path == "/admin/users" || path == "/admin/audit" {
                continue;
            }
            let response = app
                .send(
                    method.clone(),
                    &path,
                    Some(token),
                    Some(&json!({"disabled": true})),
                )
                .await;
            assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
        assert_error(
            app.get("/admin/users/not-a-uuid", token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    })
    .await;
}

#[actix_web::test]
async fn get_user_shows_the_user() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        let user = app.new_user().await;
        let shown = json_body(
            app.get(
                &format!("/admin/users/{}", user.user_id),
                &admin.access_token,
            )
            .await,
        )
        .await;
        assert_eq!(shown["email"], user.email.as_str());
        assert_eq!(shown["disabled"], false);
    })
    .await;
}

#[actix_web::test]
async fn disabling_kills_sessions_and_login_fails_like_a_wrong_password() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        let user = app.new_user().await;
        let path = format!("/admin/users/{}", user.user_id);

        let response = app
            .patch_json(&path, &admin.access_token, &json!({"disabled": true}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_body(response).await["disabled"], true);

        assert_eq!(
            app.me(&user.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        app.refresh_refused(Some(&user.refresh), "revoked").await;
        let disabled = app.login(&user.email, PASSWORD).await;
        let wrong = app.login("nobody@example.com", PASSWORD).await;
        assert_eq!(disabled.status(), wrong.status());
        assert_eq!(json_body(disabled).await, json_body(wrong).await);

        let response = app
            .patch_json(&path, &admin.access_token, &json!({"disabled": false}))
            .await;
        assert_eq!(json_body(response).await["disabled"], false);
        assert_eq!(
            app.login(&user.email, PASSWORD).await.status(),
            StatusCode::OK
        );
        // The admin's own session is untouched throughout.
        assert_eq!(app.me(&admin.access_token).await.status(), StatusCode::OK);
    })
    .await;
}

#[actix_web::test]
async fn promotion_and_demotion_take_effect_at_once() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        let user = app.new_user().await;
        let path = format!("/admin/users/{}", user.user_id);

        let promoted = app
            .patch_json(&path, &admin.access_token, &json!({"role": "admin"}))
            .await;
        assert_eq!(json_body(promoted).await["role"], "admin");
        // The role change revoked the old session; a new login is an admin.
        assert_eq!(
            app.me(&user.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let as_admin = app.login_as(&user.email).await;
        assert_eq!(
            app.get("/admin/users", &as_admin.access_token)
                .await
                .status(),
            StatusCode::OK
        );

        let demoted = app
            .patch_json(&path, &admin.access_token, &json!({"role": "user"}))
            .await;
        assert_eq!(json_body(demoted).await["role"], "user");
        // The demoted admin's token is refused on the very next request.
        let response = app.get("/admin/users", &as_admin.access_token).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let again = app.login_as(&user.email).await;
        assert_error(
            app.get("/admin/users", &again.access_token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;

        // No change, no revocation; bad values are refused.
        let same = app
            .patch_json(&path, &admin.access_token, &json!({"role": "user"}))
            .await;
        assert_eq!(same.status(), StatusCode::OK);
        assert_eq!(app.me(&again.access_token).await.status(), StatusCode::OK);
        let bad = app
            .patch_json(&path, &admin.access_token, &json!({"role": "superuser"}))
            .await;
        assert_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;
        let typo = app
            .patch_json(&path, &admin.access_token, &json!({"disable": true}))
            .await;
        assert_error(typo, StatusCode::BAD_REQUEST, "invalid_request").await;
    })
    .await;
}

#[actix_web::test]
async fn admins_see_and_revoke_all_sessions_of_a_user() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        let laptop = app.login_as("pat@example.com").await;
        let phone = app.login_as("pat@example.com").await;
        let path = format!("/admin/users/{}/sessions", laptop.user_id);

        let response = app.get(&path, &admin.access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        assert!(!text.contains("wbr1.") && !text.contains(&laptop.refresh));
        let sessions: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(sessions.len(), 2);
        for s in &sessions {
            assert_eq!(
                (&s["ip"], &s["user_agent"], &s["current"]),
                (
                    &json!("127.0.0.1"),
                    &json!("wristband-tests"),
                    &json!(false)
                )
            );
        }

        assert_eq!(
            app.delete(&path, &admin.access_token).await.status(),
            StatusCode::NO_CONTENT
        );
        for device in [&laptop, &phone] {
            assert_eq!(
                app.me(&device.access_token).await.status(),
                StatusCode::UNAUTHORIZED
            );
            app.refresh_refused(Some(&device.refresh), "revoked").await;
        }
        assert!(
            session_ids(&app, &admin.access_token, &laptop.user_id)
                .await
                .is_empty()
        );
        // The admin's own session is untouched, and the user can log in again.
        assert_eq!(app.me(&admin.access_token).await.status(), StatusCode::OK);
        assert_eq!(
            app.login("pat@example.com", PASSWORD).await.status(),
            StatusCode::OK
        );
    })
    .await;
}

#[actix_web::test]
async fn admins_revoke_one_session() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        let first = app.login_as("quinn@example.com").await;
        let second = app.login_as("quinn@example.com").await;
        // Sessions are listed newest first: the second login is the first entry.
        let ids = session_ids(&app, &admin.access_token, &first.user_id).await;
        let response = app
            .delete(&format!("/admin/sessions/{}", ids[1]), &admin.access_token)
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);

        assert_eq!(
            app.me(&first.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        app.refresh_refused(Some(&first.refresh), "revoked").await;
        assert_eq!(app.me(&second.access_token).await.status(), StatusCode::OK);
        app.refresh_ok(&second.refresh).await;
    })
    .await;
}

#[actix_web::test]
async fn the_audit_trail_records_who_did_what_from_where() {
    each_backend_with(admin_settings, |app| async move {
        let admin = app.admin().await;
        let user = app.login_as("rita@example.com").await;
        let other = app.login_as("rita@example.com").await;
        app.login("rita@example.com", "wrong password").await;
        // Reuse: rotate twice, present the first token.
        let (_, second) = app.refresh_ok(&other.refresh).await;
        app.refresh_ok(&second).await;
        app.refresh_refused(Some(&other.refresh), "reused").await;
        let body = json!({"current_password": PASSWORD, "new_password": "another good password"});
        let changed = app
            .post_bearer("/auth/password", &user.access_token, Some(&body))
            .await;
        let access = json_body(changed).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let third = app
            .login_with("rita@example.com", "another good password")
            .await;
        let fourth = app
            .login_with("rita@example.com", "another good password")
            .await;
        let third_id = app.current_session_id(&third.access_token).await;
        assert_eq!(
            app.delete(&format!("/auth/sessions/{third_id}"), &access)
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        app.logout(Some(&fourth.refresh), None).await;
        app.post_bearer("/auth/logout-all", &access, None).await;
        let target = format!("/admin/users/{}", user.user_id);
        app.patch_json(&target, &admin.access_token, &json!({"disabled": true}))
            .await;
        app.delete(&format!("{target}/sessions"), &admin.access_token)
            .await;

        let response = app
            .get(
                &format!("/admin/audit?user_id={}", user.user_id),
                &admin.access_token,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let events: Vec<Value> = response.json().await.unwrap();
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
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
        assert!(events.iter().all(|e| e["user_id"] == user.user_id.as_str()));
        assert!(
            events
                .windows(2)
                .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
            "newest first"
        );
        let admin_acts: Vec<&Value> = events
            .iter()
            .filter(|e| e["event"] == "user_updated" || e["event"] == "user_sessions_revoked")
            .collect();
        assert!(
            admin_acts
                .iter()
                .all(|e| e["actor_id"] == admin.user_id.as_str())
        );
        assert!(
            events
                .iter()
                .all(|e| e["ip"] == "127.0.0.1" && e["user_agent"].is_string())
        );
        let reused = events
            .iter()
            .find(|e| e["event"] == "refresh_reused")
            .unwrap();
        assert!(reused["session_id"].is_string());

        let limited: Vec<Value> = app
            .get("/admin/audit?limit=2", &admin.access_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(limited.len(), 2);
        let response = app
            .get("/admin/audit?user_id=nope", &admin.access_token)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    })
    .await;
}
