//! `/admin/*`: authorization, each route's happy path and 404, and the effect
//! on the target user's tokens.

use std::fmt::Display;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wristband::api::{Credentials, NewUserRequest, Session, User, UserList, UserPatch};
use wristband::config::Settings;

use crate::helpers::{
    ADMIN_EMAIL, Client, PASSWORD, ResponseExt, TestApp, admin_settings, assert_error, backend_test,
};

fn routes(user_id: impl Display, session_id: impl Display) -> Vec<(Method, String)> {
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

fn disabled(disabled: bool) -> UserPatch {
    UserPatch {
        disabled: Some(disabled),
        ..Default::default()
    }
}

fn role(role: &str) -> UserPatch {
    UserPatch {
        role: Some(role.into()),
        ..Default::default()
    }
}

backend_test!(every_admin_route_needs_an_admin, admin_settings());
async fn every_admin_route_needs_an_admin(app: TestApp) {
    let user = app.new_user().await;
    let admin = app.admin().await;
    let path = format!("/admin/users/{}/sessions", user.user().id);
    let sessions: Vec<Session> = admin.get(&path).await.body().await;
    let session = &sessions[0];
    // Authorization is decided before the path or the body is looked at:
    // bad ids and bodies a handler would refuse with 400/404 still get
    // 401/403, every time.
    let bodies = [
        json!({"email": "x@example.com", "password": PASSWORD, "disabled": true}),
        json!({"unknown": 1}),
    ];
    let mut cases = routes(&user.user().id, &session.id);
    cases.extend(routes("not-a-uuid", "not-a-uuid"));
    let anon = app.anon();
    let forged = app.anon().with_token("e30.e30.e30");
    for (method, path) in cases {
        for body in &bodies {
            let what = format!("{method} {path} {body}");
            let none = anon.request(method.clone(), &path).json(body).await;
            assert_eq!(
                none.status(),
                StatusCode::UNAUTHORIZED,
                "{what} without a token"
            );
            let error: Value = none.body().await;
            assert_eq!(error["error"], "missing_token", "{what}");
            let bad = forged.request(method.clone(), &path).json(body).await;
            let error: Value = bad.body().await;
            assert_eq!(error["error"], "invalid_token", "{what} with a bad token");
            // A fresh session each time: its liveness is not cached, so the
            // admin check is at its slowest against a failing path or body.
            let fresh = app.login(&user.user().email, PASSWORD).await;
            let forbidden = fresh.request(method.clone(), &path).json(body).await;
            assert_eq!(
                forbidden.status(),
                StatusCode::FORBIDDEN,
                "{what} as a user"
            );
            let error: Value = forbidden.body().await;
            assert_eq!(error["error"], "forbidden", "{what}");
        }
    }
    // Nothing happened to the user.
    assert_eq!(user.get("/auth/me").await.status(), StatusCode::OK);
}

fn closed() -> Settings {
    let mut s = admin_settings();
    s.registration = Some("closed".into());
    s
}

backend_test!(admins_create_users_even_with_registration_closed, closed());
async fn admins_create_users_even_with_registration_closed(app: TestApp) {
    let admin = app.admin().await;
    let response = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new("self@example.com", PASSWORD))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "registration_closed").await;

    let body = NewUserRequest::new("Staff@Example.com", PASSWORD, Some("admin"));
    let response = admin.post("/admin/users").json(&body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: User = response.body().await;
    assert_eq!(
        (user.email.as_str(), user.role.as_str()),
        ("staff@example.com", "admin")
    );
    assert_eq!(
        app.anon()
            .try_login("staff@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    let plain = NewUserRequest::new("plain@example.com", PASSWORD, None);
    let created: User = admin.post("/admin/users").json(&plain).await.body().await;
    assert_eq!(created.role, "user", "role defaults to user");

    let again = admin.post("/admin/users").json(&body).await;
    assert_error(again, StatusCode::CONFLICT, "email_taken").await;
    let bad_role = NewUserRequest::new("r@example.com", PASSWORD, Some("root"));
    let response = admin.post("/admin/users").json(&bad_role).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let weak = NewUserRequest::new("w@example.com", "short", None);
    let response = admin.post("/admin/users").json(&weak).await;
    assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
}

backend_test!(admins_find_users_by_email_with_paging, admin_settings());
async fn admins_find_users_by_email_with_paging(app: TestApp) {
    let admin = app.admin().await;
    let anon = app.anon();
    for name in ["findme_1", "findme_2", "findme_3", "other"] {
        let credentials = Credentials::new(format!("{name}@example.com"), PASSWORD);
        anon.post("/auth/register").json(&credentials).await;
    }
    let list: UserList = admin.get("/admin/users?email=FINDME").await.body().await;
    assert_eq!(list.total, 3);
    assert_eq!(list.users.len(), 3);

    let page: UserList = admin
        .get("/admin/users?email=findme&limit=1&offset=1")
        .await
        .body()
        .await;
    assert_eq!(page.total, 3);
    assert_eq!(page.users.len(), 1);
    assert_eq!(page.users[0].email, "findme_2@example.com");

    // LIKE wildcards in the filter are literal.
    let literal: UserList = admin.get("/admin/users?email=%25").await.body().await;
    assert_eq!(literal.total, 0);
    let text = admin.get("/admin/users").await.text().await.unwrap();
    let everyone: UserList = serde_json::from_str(&text).unwrap();
    assert_eq!(everyone.total, 5, "four users and the admin");
    assert!(!text.contains("password"));

    let response = admin.get("/admin/users?limit=-1").await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = admin.get("/admin/users?limit=ten").await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // A NUL byte would be a database error on PostgreSQL: refused up front.
    let response = admin.get("/admin/users?email=a%00b").await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

backend_test!(unknown_ids_are_404, admin_settings());
async fn unknown_ids_are_404(app: TestApp) {
    let admin = app.admin().await;
    let unknown = uuid::Uuid::new_v4();
    for (method, path) in routes(unknown, unknown) {
        if path == "/admin/users" || path == "/admin/audit" {
            continue;
        }
        let response = admin.request(method, &path).json(&disabled(true)).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_error(
        admin.get("/admin/users/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

backend_test!(get_user_shows_the_user, admin_settings());
async fn get_user_shows_the_user(app: TestApp) {
    let admin = app.admin().await;
    let user = app.new_user().await;
    let path = format!("/admin/users/{}", user.user().id);
    let shown: User = admin.get(&path).await.body().await;
    assert_eq!(shown.email, user.user().email);
    assert!(!shown.disabled);
}

backend_test!(
    disabling_kills_sessions_and_login_fails_like_a_wrong_password,
    admin_settings()
);
async fn disabling_kills_sessions_and_login_fails_like_a_wrong_password(app: TestApp) {
    let admin = app.admin().await;
    let user = app.new_user().await;
    let path = format!("/admin/users/{}", user.user().id);

    let response = admin.patch(&path).json(&disabled(true)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: User = response.body().await;
    assert!(updated.disabled);

    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    user.refresh_refused("revoked").await;
    let anon = app.anon();
    let refused = anon.try_login(&user.user().email, PASSWORD).await;
    let wrong = anon.try_login("nobody@example.com", PASSWORD).await;
    assert_eq!(refused.status(), wrong.status());
    assert_eq!(refused.body::<Value>().await, wrong.body::<Value>().await);

    let updated: User = admin.patch(&path).json(&disabled(false)).await.body().await;
    assert!(!updated.disabled);
    assert_eq!(
        app.anon()
            .try_login(&user.user().email, PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    // The admin's own session is untouched throughout.
    assert_eq!(admin.get("/auth/me").await.status(), StatusCode::OK);
}

backend_test!(promotion_and_demotion_take_effect_at_once, admin_settings());
async fn promotion_and_demotion_take_effect_at_once(app: TestApp) {
    let admin = app.admin().await;
    let user = app.new_user().await;
    let path = format!("/admin/users/{}", user.user().id);

    let promoted: User = admin.patch(&path).json(&role("admin")).await.body().await;
    assert_eq!(promoted.role, "admin");
    // The role change revoked the old session; a new login is an admin.
    assert_eq!(
        user.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let as_admin = app.login_as(&user.user().email).await;
    assert_eq!(as_admin.get("/admin/users").await.status(), StatusCode::OK);

    let demoted: User = admin.patch(&path).json(&role("user")).await.body().await;
    assert_eq!(demoted.role, "user");
    // The demoted admin's token is refused on the very next request.
    let response = as_admin.get("/admin/users").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let again = app.login_as(&user.user().email).await;
    assert_error(
        again.get("/admin/users").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // No change, no revocation; bad values are refused.
    let same = admin.patch(&path).json(&role("user")).await;
    assert_eq!(same.status(), StatusCode::OK);
    assert_eq!(again.get("/auth/me").await.status(), StatusCode::OK);
    let bad = admin.patch(&path).json(&role("superuser")).await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;
    let typo = admin.patch(&path).json(&json!({"disable": true})).await;
    assert_error(typo, StatusCode::BAD_REQUEST, "invalid_request").await;
}

/// The enabled admins among all users, as an admin's list shows them.
async fn enabled_admins(admin: &Client) -> Vec<User> {
    let list: UserList = admin.get("/admin/users?limit=200").await.body().await;
    list.users
        .into_iter()
        .filter(|u| u.role == "admin" && !u.disabled)
        .collect()
}

backend_test!(
    the_last_admin_cannot_demote_or_disable_themself,
    admin_settings()
);
async fn the_last_admin_cannot_demote_or_disable_themself(app: TestApp) {
    let admin = app.admin().await;
    let path = format!("/admin/users/{}", admin.user().id);
    let both = UserPatch {
        role: Some("user".into()),
        disabled: Some(true),
    };
    for (what, patch) in [
        ("demote", role("user")),
        ("disable", disabled(true)),
        ("both", both),
    ] {
        let response = admin.patch(&path).json(&patch).await;
        let body = assert_error(response, StatusCode::CONFLICT, "last_admin").await;
        assert_eq!(
            body["error_description"], "The change would leave no enabled admin.",
            "{what}"
        );
        // Nothing changed, nothing was revoked: the same token still acts
        // as an admin, and the account is as it was.
        let me: User = admin.get(&path).await.body().await;
        assert_eq!((me.role.as_str(), me.disabled), ("admin", false), "{what}");
    }
    assert_eq!(enabled_admins(&admin).await.len(), 1);
    // Changes that keep an admin still go through.
    let same = admin.patch(&path).json(&role("admin")).await;
    assert_eq!(same.status(), StatusCode::OK);
}

backend_test!(one_of_two_admins_can_be_demoted, admin_settings());
async fn one_of_two_admins_can_be_demoted(app: TestApp) {
    let admin = app.admin().await;
    let other = app.new_user().await;
    let other_path = format!("/admin/users/{}", other.user().id);
    let promoted: User = admin
        .patch(&other_path)
        .json(&role("admin"))
        .await
        .body()
        .await;
    assert_eq!(promoted.role, "admin");
    // Two admins: either may go, the first by the other's hand.
    let demoted = admin.patch(&other_path).json(&role("user")).await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(demoted.body::<User>().await.role, "user");

    admin.patch(&other_path).json(&role("admin")).await;
    let other = app.login(&other.user().email, PASSWORD).await;
    let own_path = format!("/admin/users/{}", other.user().id);
    let resigned = other.patch(&own_path).json(&role("user")).await;
    assert_eq!(
        resigned.status(),
        StatusCode::OK,
        "the second admin steps down"
    );
    // Now the first is the last one again.
    let admin_path = format!("/admin/users/{}", admin.user().id);
    let refused = admin.patch(&admin_path).json(&disabled(true)).await;
    assert_error(refused, StatusCode::CONFLICT, "last_admin").await;
}

backend_test!(
    two_admins_demoting_each_other_at_once_leave_one,
    admin_settings()
);
async fn two_admins_demoting_each_other_at_once_leave_one(app: TestApp) {
    let first = app.admin().await;
    let second = app.new_user().await;
    let second_email = second.user().email.clone();
    let path = |user: &User| format!("/admin/users/{}", user.id);
    let promote = first.patch(&path(second.user())).json(&role("admin")).await;
    assert_eq!(promote.status(), StatusCode::OK);
    for round in 0..8 {
        // A role change revokes the target's sessions: log both in afresh.
        let a = app.login(ADMIN_EMAIL, PASSWORD).await;
        let b = app.login(&second_email, PASSWORD).await;
        let (a_to_b, b_to_a) = futures_util::future::join(
            a.patch(&path(b.user())).json(&role("user")).into_future(),
            b.patch(&path(a.user())).json(&role("user")).into_future(),
        )
        .await;
        let statuses = [a_to_b.status(), b_to_a.status()];
        assert!(
            statuses.contains(&StatusCode::OK),
            "round {round}: one demotion goes through: {statuses:?}"
        );
        assert!(
            statuses.iter().any(|s| *s != StatusCode::OK),
            "round {round}: both demotions went through"
        );
        for response in [a_to_b, b_to_a] {
            match response.status() {
                StatusCode::OK => {}
                // Refused by the count, or already demoted when it arrived.
                StatusCode::CONFLICT => {
                    assert_error(response, StatusCode::CONFLICT, "last_admin").await;
                }
                status => {
                    assert!(
                        status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
                        "round {round}: {status}"
                    );
                }
            }
        }
        // Exactly one admin is left; it makes the other admin again.
        let a = app.login(ADMIN_EMAIL, PASSWORD).await;
        let b = app.login(&second_email, PASSWORD).await;
        let survivor = if a.get("/admin/users").await.status() == StatusCode::OK {
            a
        } else {
            b
        };
        let admins = enabled_admins(&survivor).await;
        assert_eq!(admins.len(), 1, "round {round}: {admins:?}");
        assert_eq!(admins[0].id, survivor.user().id);
        let others: UserList = survivor.get("/admin/users").await.body().await;
        let other = others
            .users
            .iter()
            .find(|u| u.id != survivor.user().id)
            .unwrap();
        let restored = survivor.patch(&path(other)).json(&role("admin")).await;
        assert_eq!(restored.status(), StatusCode::OK, "round {round}");
    }
}
