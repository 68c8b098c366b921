//! `POST /auth/register`: normalised emails, the password policy, body rules.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wristband::api::{Credentials, Registered};
use wristband::config::Settings;

use crate::helpers::{PASSWORD, ResponseExt, TestApp, assert_error, backend_test, base_settings};

backend_test!(register_returns_the_user_with_a_normalised_email);
async fn register_returns_the_user_with_a_normalised_email(app: TestApp) {
    // Arrange / Act
    let response = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new("  Alice@Example.COM ", PASSWORD))
        .await;
    // Assert
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.body().await;
    let Registered { user } = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(user.email, "alice@example.com");
    assert_eq!(user.role, "user");
    assert!(!user.disabled);
    assert!(uuid::Uuid::parse_str(&user.id.to_string()).is_ok());
    // The wire format: RFC 3339 in UTC, and no hash anywhere.
    assert!(body["user"]["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(body["user"].get("password_hash").is_none() && !body.to_string().contains("$2"));
}

backend_test!(the_same_email_in_another_form_is_taken);
async fn the_same_email_in_another_form_is_taken(app: TestApp) {
    let anon = app.anon();
    let response = anon
        .post("/auth/register")
        .json(&Credentials::new("bob@example.com", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // Fullwidth "ｂｏｂ" folds to "bob" under NFKC.
    let response = anon
        .post("/auth/register")
        .json(&Credentials::new("ＢＯＢ@Example.com", PASSWORD))
        .await;
    assert_error(response, StatusCode::CONFLICT, "email_taken").await;
}

backend_test!(bad_emails_and_weak_passwords_are_refused);
async fn bad_emails_and_weak_passwords_are_refused(app: TestApp) {
    let anon = app.anon();
    for email in [
        "not-an-email",
        "@example.com",
        "a@b",
        &format!("{}@example.com", "x".repeat(250)),
    ] {
        let response = anon
            .post("/auth/register")
            .json(&Credentials::new(email, PASSWORD))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_email").await;
    }
    for password in ["short", &"a".repeat(73), &"é".repeat(37)] {
        let response = anon
            .post("/auth/register")
            .json(&Credentials::new("carol@example.com", password))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    }
    // 72 bytes is the bcrypt limit and still accepted.
    let response = anon
        .post("/auth/register")
        .json(&Credentials::new("carol@example.com", "a".repeat(72)))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

backend_test!(bodies_must_be_small_json);
async fn bodies_must_be_small_json(app: TestApp) {
    let anon = app.anon();
    let form = anon
        .post("/auth/register")
        .header("content-type", "text/plain")
        .body("{}")
        .await;
    assert_error(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let none = anon
        .post("/auth/register")
        .body(r#"{"email":"a@example.com","password":"12345678"}"#)
        .await;
    assert_error(
        none,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let huge = Credentials::new("big@example.com", "x".repeat(17 * 1024));
    assert_error(
        anon.post("/auth/register").json(&huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    let broken = anon
        .post("/auth/register")
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .await;
    let body = assert_error(broken, StatusCode::BAD_REQUEST, "invalid_request").await;
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("eof") && !text.contains("line"),
        "no serde text leaks: {text}"
    );

    let wrong_type = anon
        .post("/auth/register")
        .json(&json!({"email": 5, "password": []}))
        .await;
    assert_error(wrong_type, StatusCode::BAD_REQUEST, "invalid_request").await;
}

fn closed() -> Settings {
    let mut s = base_settings();
    s.registration = Some("closed".into());
    s
}

backend_test!(closed_registration_refuses_sign_ups, closed());
async fn closed_registration_refuses_sign_ups(app: TestApp) {
    let response = app
        .anon()
        .post("/auth/register")
        .json(&Credentials::new("dave@example.com", PASSWORD))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "registration_closed").await;
}

backend_test!(invisible_and_bidirectional_characters_are_not_emails);
async fn invisible_and_bidirectional_characters_are_not_emails(app: TestApp) {
    let anon = app.anon();
    for invisible in [
        '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{202E}',
    ] {
        let email = format!("ali{invisible}ce@example.com");
        let response = anon
            .post("/auth/register")
            .json(&Credentials::new(email, PASSWORD))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_email").await;
    }
}

backend_test!(look_alikes_of_a_registered_email_are_not_new_accounts);
async fn look_alikes_of_a_registered_email_are_not_new_accounts(app: TestApp) {
    let anon = app.anon();
    let victim = anon
        .post("/auth/register")
        .json(&Credentials::new("victim@example.com", PASSWORD))
        .await;
    assert_eq!(victim.status(), StatusCode::CREATED);
    // Default-ignorable code points that are not Cf (variation selectors,
    // the grapheme joiner, Khmer and Mongolian marks, Hangul fillers) and
    // the blank Braille pattern: each renders as the victim's address.
    for invisible in [
        '\u{FE0F}',
        '\u{FE00}',
        '\u{034F}',
        '\u{3164}',
        '\u{115F}',
        '\u{1160}',
        '\u{FFA0}',
        '\u{2800}',
        '\u{17B4}',
        '\u{180B}',
        '\u{E0100}',
    ] {
        for email in [
            format!("victim@example.com{invisible}"),
            format!("vic{invisible}tim@example.com"),
        ] {
            let response = anon
                .post("/auth/register")
                .json(&Credentials::new(&email, PASSWORD))
                .await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "U+{:04X} in {email:?}",
                invisible as u32
            );
            assert_error(response, StatusCode::BAD_REQUEST, "invalid_email").await;
        }
    }
}
