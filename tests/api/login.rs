use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::legacy::{
    PASSWORD, assert_error, base_settings, each_backend, each_backend_with, json_body,
    set_cookie_header,
};

#[actix_web::test]
async fn login_returns_tokens_and_a_strict_refresh_cookie() {
    each_backend(|app| async move {
        app.register("erin@example.com", PASSWORD).await;
        let response = app.login("ERIN@example.com", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");

        let cookie = set_cookie_header(response.headers()).expect("refresh cookie");
        assert!(
            cookie.starts_with("__Host-wristband_refresh=wbr1."),
            "{cookie}"
        );
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(
                cookie.split("; ").any(|a| a == attribute),
                "{attribute} missing: {cookie}"
            );
        }
        assert!(
            !cookie.contains("Domain="),
            "__Host- cookies carry no Domain"
        );
        let max_age: i64 = cookie
            .split("; ")
            .find_map(|a| a.strip_prefix("Max-Age="))
            .expect("Max-Age")
            .parse()
            .unwrap();
        // The session has 7 days of idle life left (and 30 absolute).
        assert!(
            (7 * 86_400 - 5..=7 * 86_400).contains(&max_age),
            "Max-Age {max_age}"
        );

        let body = json_body(response).await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["user"]["email"], "erin@example.com");
        assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
        assert!(
            body.get("refresh_token").is_none(),
            "the refresh token travels only in the cookie"
        );
    })
    .await;
}

#[actix_web::test]
async fn insecure_cookie_mode_drops_prefix_and_secure() {
    let insecure = || {
        let mut s = base_settings();
        s.cookie_secure = Some("false".into());
        s
    };
    each_backend_with(insecure, |app| async move {
        app.register("frank@example.com", PASSWORD).await;
        let response = app.login("frank@example.com", PASSWORD).await;
        let cookie = set_cookie_header(response.headers()).expect("refresh cookie");
        assert!(cookie.starts_with("wristband_refresh=wbr1."), "{cookie}");
        assert!(
            !cookie.contains("Secure")
                && cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Strict")
        );
    })
    .await;
}

#[actix_web::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    each_backend(|app| async move {
        app.register("gina@example.com", PASSWORD).await;
        let unknown = app.login("nobody@example.com", PASSWORD).await;
        let wrong = app.login("gina@example.com", "wrong password").await;
        let malformed = app.login("not an email", PASSWORD).await;
        let too_long = app.login("gina@example.com", &"p".repeat(100)).await;
        let shape = |r: &reqwest::Response| {
            let mut headers: Vec<_> = r
                .headers()
                .iter()
                .filter(|(name, _)| name.as_str() != "date")
                .map(|(n, v)| format!("{n}: {v:?}"))
                .collect();
            headers.sort();
            (r.status(), headers)
        };
        let expected = shape(&wrong);
        assert_eq!(expected.0, StatusCode::UNAUTHORIZED);
        assert_eq!(shape(&unknown), expected);
        assert_eq!(shape(&malformed), expected);
        assert_eq!(shape(&too_long), expected);
        let bodies = [
            json_body(unknown).await,
            json_body(wrong).await,
            json_body(malformed).await,
        ];
        assert_eq!(bodies[0]["error"], "invalid_credentials");
        assert!(bodies.iter().all(|b| *b == bodies[0]));
    })
    .await;
}

#[actix_web::test]
async fn unknown_emails_pay_for_a_bcrypt_check_too() {
    // With a cost where bcrypt dominates, an unknown email must not answer much
    // faster than a wrong password: it is checked against a dummy hash.
    let costly = || {
        let mut s = base_settings();
        s.bcrypt_cost = Some("10".into());
        s
    };
    each_backend_with(costly, |app| async move {
        app.register("hank@example.com", PASSWORD).await;
        let time = async |email: &str| {
            let mut samples = Vec::new();
            for _ in 0..3 {
                let started = Instant::now();
                assert_eq!(
                    app.login(email, "wrong password").await.status(),
                    StatusCode::UNAUTHORIZED
                );
                samples.push(started.elapsed());
            }
            samples.sort();
            samples[1]
        };
        let wrong_password = time("hank@example.com").await;
        let unknown_email = time("nobody@example.com").await;
        assert!(
            wrong_password > Duration::from_millis(5),
            "cost 10 bcrypt takes time: {wrong_password:?}"
        );
        assert!(
            unknown_email * 2 > wrong_password,
            "unknown email {unknown_email:?} vs wrong password {wrong_password:?}"
        );
    })
    .await;
}

#[actix_web::test]
async fn each_login_opens_a_new_session_even_with_an_old_cookie() {
    each_backend(|app| async move {
        let first = app.login_as("ivy@example.com").await;
        let second = app
            .client
            .post(app.url("/auth/login"))
            .header("cookie", format!("{}={}", app.cookie_name(), first.refresh))
            .json(&serde_json::json!({"email": "ivy@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), StatusCode::OK);
        let token = json_body(second).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let sessions = json_body(app.get("/auth/sessions", &token).await).await;
        assert_eq!(sessions.as_array().unwrap().len(), 2);
        // The first session is untouched.
        assert_eq!(app.me(&first.access_token).await.status(), StatusCode::OK);
    })
    .await;
}

#[actix_web::test]
async fn login_failures_are_401_invalid_credentials() {
    each_backend(|app| async move {
        assert_error(
            app.login("nobody@example.com", PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    })
    .await;
}
