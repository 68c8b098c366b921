use reqwest::StatusCode;
use serde_json::json;

use crate::legacy::{
    PASSWORD, assert_error, base_settings, each_backend, each_backend_with, json_body,
};

#[actix_web::test]
async fn register_returns_the_user_with_a_normalised_email() {
    each_backend(|app| async move {
        // Arrange / Act
        let response = app.register("  Alice@Example.COM ", PASSWORD).await;
        // Assert
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body = json_body(response).await;
        let user = &body["user"];
        assert_eq!(user["email"], "alice@example.com");
        assert_eq!(user["role"], "user");
        assert_eq!(user["disabled"], false);
        assert!(uuid::Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
        assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(user.get("password_hash").is_none() && !body.to_string().contains("$2"));
    })
    .await;
}

#[actix_web::test]
async fn the_same_email_in_another_form_is_taken() {
    each_backend(|app| async move {
        assert_eq!(
            app.register("bob@example.com", PASSWORD).await.status(),
            StatusCode::CREATED
        );
        // Fullwidth "ｂｏｂ" folds to "bob" under NFKC.
        let response = app.register("ＢＯＢ@Example.com", PASSWORD).await;
        assert_error(response, StatusCode::CONFLICT, "email_taken").await;
    })
    .await;
}

#[actix_web::test]
async fn bad_emails_and_weak_passwords_are_refused() {
    each_backend(|app| async move {
        for email in [
            "not-an-email",
            "@example.com",
            "a@b",
            &format!("{}@example.com", "x".repeat(250)),
        ] {
            assert_error(
                app.register(email, PASSWORD).await,
                StatusCode::BAD_REQUEST,
                "invalid_email",
            )
            .await;
        }
        for password in ["short", &"a".repeat(73), &"é".repeat(37)] {
            let response = app.register("carol@example.com", password).await;
            assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
        }
        // 72 bytes is the bcrypt limit and still accepted.
        assert_eq!(
            app.register("carol@example.com", &"a".repeat(72))
                .await
                .status(),
            StatusCode::CREATED
        );
    })
    .await;
}

#[actix_web::test]
async fn bodies_must_be_small_json() {
    each_backend(|app| async move {
        let url = app.url("/auth/register");
        let form = app
            .client
            .post(&url)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_error(
            form,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
        let none = app
            .client
            .post(&url)
            .body(r#"{"email":"a@example.com","password":"12345678"}"#)
            .send()
            .await
            .unwrap();
        assert_error(
            none,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;

        let huge = json!({"email": "big@example.com", "password": "x".repeat(17 * 1024)});
        assert_error(
            app.post_json("/auth/register", &huge).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        )
        .await;

        let broken = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        let body = assert_error(broken, StatusCode::BAD_REQUEST, "invalid_request").await;
        let text = body.to_string().to_lowercase();
        assert!(
            !text.contains("eof") && !text.contains("line"),
            "no serde text leaks: {text}"
        );

        let wrong_type = app
            .post_json("/auth/register", &json!({"email": 5, "password": []}))
            .await;
        assert_error(wrong_type, StatusCode::BAD_REQUEST, "invalid_request").await;
    })
    .await;
}

#[actix_web::test]
async fn closed_registration_refuses_sign_ups() {
    let closed = || {
        let mut s = base_settings();
        s.registration = Some("closed".into());
        s
    };
    each_backend_with(closed, |app| async move {
        let response = app.register("dave@example.com", PASSWORD).await;
        assert_error(response, StatusCode::FORBIDDEN, "registration_closed").await;
    })
    .await;
}
