//! `wristband::testing` (the `testing` feature), used as another service's
//! integration suite would: a server per test, users with tokens in one
//! call, and a clock to move instead of sleeping.

use std::time::Duration;

use reqwest::StatusCode;
use wristband::config::Settings;
use wristband::testing::TestServer;

async fn me(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .http()
        .get(format!("{}/auth/me", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_test_server_mints_users_and_moves_time() {
    // Arrange
    let server = TestServer::start().await.unwrap();
    let alice = server.create_user("alice@example.com").await.unwrap();

    // Act / Assert: the token works, and the server says it is a test one.
    let response = me(&server, &alice.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["wristband-test-mode"], "1");

    // Ten minutes later the access token has expired; the cookie refreshes.
    let clock = server
        .advance_clock(Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(clock.offset_seconds, 600);
    let response = me(&server, &alice.access_token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let refreshed = server
        .http()
        .post(format!("{}/auth/refresh", server.url()))
        .header("cookie", &alice.refresh_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);

    // The password it was given logs in.
    let login = server
        .http()
        .post(format!("{}/auth/login", server.url()))
        .json(&serde_json::json!({"email": "alice@example.com", "password": alice.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn admins_and_users_differ_and_servers_keep_their_own_clocks() {
    let (one, two) = (
        TestServer::start().await.unwrap(),
        TestServer::start().await.unwrap(),
    );
    assert_ne!(one.url(), two.url());
    let root = one.create_admin("root@example.com").await.unwrap();
    let bob = one.create_user("bob@example.com").await.unwrap();
    let list = |token: String| {
        let request = one
            .http()
            .get(format!("{}/admin/users", one.url()))
            .bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(list(root.access_token.clone()).await, StatusCode::OK);
    assert_eq!(list(bob.access_token).await, StatusCode::FORBIDDEN);

    one.advance_clock(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(two.clock().await.unwrap().offset_seconds, 0);
    // The same email on another server: separate databases.
    two.create_admin("root@example.com").await.unwrap();
    let taken = one.create_user("root@example.com").await;
    assert!(matches!(
        taken,
        Err(wristband::testing::TestError::Refused {
            status: StatusCode::CONFLICT,
            ..
        })
    ));
}

#[tokio::test]
async fn an_eddsa_test_server_publishes_the_key_its_tokens_verify_with() {
    let server = TestServer::start_with(Settings {
        jwt_alg: Some("EdDSA".into()),
        ..Settings::default()
    })
    .await
    .unwrap();
    let alice = server.create_user("alice@example.com").await.unwrap();
    let set: jsonwebtoken::jwk::JwkSet = server
        .http()
        .get(server.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(&alice.access_token)
        .unwrap()
        .kid
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["wristband"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&alice.access_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], alice.user.id.to_string());
}
