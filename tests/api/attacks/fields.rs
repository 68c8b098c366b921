//! Well-formed JSON bodies whose field values are of the wrong type or
//! content: nothing is changed, and each is refused with its own error.

use reqwest::StatusCode;
use serde_json::Value;
use wristband::api::Credentials;

use super::{JSON, read, targets};
use crate::helpers::{PASSWORD, TestApp, admin_settings, backend_test};

backend_test!(
    field_values_are_checked_by_type_and_content,
    admin_settings()
);
async fn field_values_are_checked_by_type_and_content(app: TestApp) {
    let (targets, _admin, user) = targets(&app).await;
    let [login, register, password, update, create] = &targets[..] else {
        unreachable!()
    };
    let bad = StatusCode::BAD_REQUEST;
    let invalid = "invalid_request";
    let pw = PASSWORD;

    // Wrong types and missing fields.
    for (target, bodies) in [
        (
            login,
            vec![
                r#"{"email":5,"password":"x"}"#.to_owned(),
                r#"{"email":"x@example.com","password":12345678}"#.to_owned(),
                r#"{"email":"x@example.com","password":null}"#.to_owned(),
                r#"{"email":["x@example.com"],"password":"x"}"#.to_owned(),
                r#"{"email":{"$ne":""},"password":{"$ne":""}}"#.to_owned(),
                r#"{"email":"x@example.com"}"#.to_owned(),
                "{}".to_owned(),
                format!(r#"{{"email":"a@example.com","email":"b@example.com","password":"{pw}"}}"#),
            ],
        ),
        (
            register,
            vec![
                r#"{"email":true,"password":"correct horse battery"}"#.to_owned(),
                r#"{"email":"x@example.com","password":["correct horse battery"]}"#.to_owned(),
                format!(r#"{{"email":"x@example.com","password":"{pw}","password":"short"}}"#),
            ],
        ),
        (
            password,
            vec![
                r#"{"current_password":1,"new_password":"correct horse battery"}"#.to_owned(),
                r#"{"current_password":"correct horse battery"}"#.to_owned(),
                format!(
                    r#"{{"current_password":"{pw}","new_password":"x","new_password":"{pw} 2"}}"#
                ),
            ],
        ),
        (
            update,
            vec![
                r#"{"disabled":"yes"}"#.to_owned(),
                r#"{"disabled":1}"#.to_owned(),
                r#"{"disabled":1e999}"#.to_owned(),
                r#"{"role":5}"#.to_owned(),
                r#"{"role":"root"}"#.to_owned(),
                r#"{"role":"ADMIN"}"#.to_owned(),
                r#"{"role":"admin\u0000"}"#.to_owned(),
                r#"{"role":" admin"}"#.to_owned(),
                r#"{"role":["admin"]}"#.to_owned(),
                r#"{"role":"user","role":"admin"}"#.to_owned(),
                r#"{"is_admin":true}"#.to_owned(),
                r#"{"email":"evil@example.com"}"#.to_owned(),
            ],
        ),
        (
            create,
            vec![
                format!(r#"{{"email":"new@example.com","password":"{pw}","role":"root"}}"#),
                format!(r#"{{"email":"new@example.com","password":"{pw}","role":1}}"#),
                format!(
                    r#"{{"email":"new@example.com","password":"{pw}","id":"00000000-0000-0000-0000-000000000000"}}"#
                ),
                format!(r#"{{"email":"new@example.com","password":"{pw}","extra":1e999999}}"#),
            ],
        ),
    ] {
        for body in bodies {
            target
                .refused(&app, Some(JSON), body.clone(), bad, invalid, &body)
                .await;
        }
    }

    // NUL and other control characters inside strings are well-formed JSON;
    // the email rules refuse them.
    for email in [
        "a\\u0000b@example.com",
        "alice@example.com\\u0000",
        "\\u0000",
        "a\\u202eb@example.com",
    ] {
        let body = format!(r#"{{"email":"{email}","password":"{pw}"}}"#);
        register
            .refused(&app, Some(JSON), body.clone(), bad, "invalid_email", &body)
            .await;
        let body = format!(r#"{{"email":"{email}","password":"{pw}"}}"#);
        login
            .refused(
                &app,
                Some(JSON),
                body.clone(),
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                &body,
            )
            .await;
    }
    // Invalid UTF-8 inside a value.
    for body in [
        b"{\"email\":\"\xff@example.com\",\"password\":\"correct horse battery\"}".to_vec(),
        b"{\"email\":\"a@example.com\",\"password\":\"correct horse \xc3\"}".to_vec(),
        b"{\"email\":\"\\ud800@example.com\",\"password\":\"correct horse battery\"}".to_vec(),
    ] {
        let what = String::from_utf8_lossy(&body).into_owned();
        for target in [login, register] {
            target
                .refused(&app, Some(JSON), body.clone(), bad, invalid, &what)
                .await;
        }
    }
    update
        .refused(
            &app,
            Some(JSON),
            b"{\"role\":\"adm\xffin\"}".to_vec(),
            bad,
            invalid,
            "invalid UTF-8 role",
        )
        .await;

    // A NUL is not allowed in a password: bcrypt reads a C string, so
    // all-NUL passwords of any length would match each other.
    let email = format!("nul-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new(email.as_str(), "\u{0}".repeat(8)))
        .await;
    read(registered, "register NUL").await.error(
        StatusCode::BAD_REQUEST,
        "weak_password",
        "register NUL",
    );
    let registered = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new(email.as_str(), PASSWORD))
        .await;
    assert_eq!(
        read(registered, "register").await.status,
        StatusCode::CREATED
    );
    for wrong in [
        "\u{0}".repeat(20),
        format!("{PASSWORD}\u{0}"),
        format!("{PASSWORD}\u{0}more"),
    ] {
        let response = app.anon().try_login(&email, &wrong).await;
        read(response, &wrong).await.error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            &format!("{wrong:?}"),
        );
    }

    // Absurd numbers in members no endpoint reads: the whole body is parsed
    // first, and a number out of range is a malformed body.
    for number in ["1e999999", "-1e999999", &"9".repeat(8_000)] {
        let nobody = uuid::Uuid::new_v4().simple();
        let body = format!(r#"{{"email":"{nobody}@example.com","password":"{pw}","n":{number}}}"#);
        login.json(&app, body, "absurd number").await.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "absurd number",
        );
    }
    // In a known field they are a type error.
    update
        .refused(
            &app,
            Some(JSON),
            format!(r#"{{"disabled":{}}}"#, "9".repeat(8_000)),
            bad,
            invalid,
            "huge integer",
        )
        .await;
    // The user was never changed by any of it.
    let me = read(user.get("/auth/me").await, "me").await;
    me.ok("the user is untouched");
    let me: Value = serde_json::from_str(&me.text).unwrap();
    assert_eq!(
        (me["role"].as_str(), me["disabled"].as_bool()),
        (Some("user"), Some(false))
    );
}
